// Read APIs for the dashboard UI (README "Dashboard read APIs"; shapes in
// dashboard/views.ts). Every list and item is filtered to the caller's
// districts: an item outside them is 404, like an unknown one.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { codeSchema } from '../domain/messages.js';
import { inScope } from '../common/access.js';
import { DAY_MS } from '../domain/time.js';
import { ELEVATOR_SORTS, GAS_SITE_SORTS, parseRange, RATE_HISTORY_MS, RATE_SAMPLE_MS, type Scope, type Views } from './views.js';

const page = z.coerce.number().int().min(1).default(1);
const pageSize = z.coerce.number().int().min(1).max(500).default(50);
const flag = z.enum(['true', 'false']).transform((v) => v === 'true').optional();
const onlineFilter = z.enum(['true', 'false', 'never']).optional();
const sortOf = (fields: readonly string[], dflt: string) =>
  z.string().default(dflt).refine((s) => fields.includes(s.replace(/^-/, '')), { message: `sort must be one of ${fields.join(', ')} (prefix - for descending)` });
const range = { from: z.string().optional(), to: z.string().optional() };
/** The query of an equipment list: the filters every list has, its own, paging and a sort of `sorts` (default code). */
const listQuery = <S extends z.ZodRawShape>(sorts: readonly string[], own: S) =>
  z.object({ district: z.string().optional(), ...own, q: z.string().max(200).optional(), online: onlineFilter, alerts: flag, page, pageSize, sort: sortOf(sorts, 'code') });
const codeParams = z.object({ code: codeSchema });

const scopeOf = (req: FastifyRequest): Scope => {
  const p = req.principal;
  return (district) => inScope(p, district);
};

export const viewRoutes: FastifyPluginAsync<{ views: Views; liveClients?: () => number | null }> = async (app, opts) => {
  const { views } = opts;
  const r = app.withTypeProvider<ZodTypeProvider>();
  // A ViewError carries its statusCode: the app's error handler answers {error: message}.
  r.get('/api/v1/overview', { schema: { summary: 'Overview: equipment online and alerts per district, today\'s entrapments, the interview list' } }, async (req) => views.overview(scopeOf(req)));

  r.get('/api/v1/equipment/elevators', {
    schema: {
      summary: 'Elevators with their current state (filter, search, sort, paginate)',
      querystring: listQuery(ELEVATOR_SORTS, { unit: z.string().optional(), serviceMode: z.string().optional(), overdue: z.enum(['maintenance', 'inspection', 'any']).optional() }),
    },
  }, async (req) => views.elevators(scopeOf(req), req.query));

  r.get('/api/v1/equipment/elevators/:code', { schema: { summary: 'One elevator: state, overdue flags, open alerts, events, maintenance and inspection history', params: codeParams } }, async (req) => views.elevator(scopeOf(req), req.params.code));

  r.get('/api/v1/equipment/elevators/:code/series', { schema: { summary: 'Floor, run count, door cycles and trips, downsampled to at most ~500 points', params: codeParams, querystring: z.object(range) } }, async (req) =>
    views.elevatorSeries(scopeOf(req), req.params.code, parseRange(req.query, DAY_MS)));

  r.get('/api/v1/equipment/gas-sites', {
    schema: {
      summary: 'Gas sites with their online state, detectors and highest %LEL',
      querystring: listQuery(GAS_SITE_SORTS, { kind: z.string().optional() }),
    },
  }, async (req) => views.gasSites(scopeOf(req), req.query));

  r.get('/api/v1/equipment/gas-sites/:code', { schema: { summary: 'One gas site: detectors with their latest %LEL, open alerts', params: codeParams } }, async (req) => views.gasSite(scopeOf(req), req.params.code));

  r.get('/api/v1/equipment/gas-sites/:code/series', { schema: { summary: '%LEL per detector, downsampled', params: codeParams, querystring: z.object(range) } }, async (req) =>
    views.gasSeries(scopeOf(req), req.params.code, parseRange(req.query, DAY_MS)));

  r.get('/api/v1/equipment/gas-sites/:code/fillings', {
    schema: { summary: 'Cylinder fillings, newest first; violations=true for the illegal ones', params: codeParams, querystring: z.object({ violations: flag, ...range, page, pageSize }) },
  }, async (req) => views.fillings(scopeOf(req), req.params.code, { ...parseRange(req.query, 30 * DAY_MS), violations: req.query.violations ?? false, page: req.query.page, pageSize: req.query.pageSize }));

  r.get('/api/v1/ingest/health', { schema: { summary: 'Ingest health: rates, dead letters by reason, spool, InfluxDB, rule runs (dead-letter excerpts for administrators only)' } }, async (req) => {
    const h = await views.ingestHealth(opts.liveClients?.() ?? null);
    if (req.principal?.role === 'admin') return h;
    // Dead letters carry raw payloads, topics and senders of every district: counts only for everyone else.
    return { ...h, deadLetters: { ...h.deadLetters, byReason: h.deadLetters.byReason.map((x) => ({ ...x, latest: null })), recent: [] } };
  });

  r.get('/api/v1/ingest/rates', {
    schema: {
      summary: 'Ingest rates of the last hour, sampled by the server every 5 s (minute averages), oldest first',
      querystring: z.object({ since: z.coerce.number().int().min(0).optional().describe('only points after this time (epoch ms), to append to what a client has') }),
    },
  }, async (req) => ({ sampleMs: RATE_SAMPLE_MS, windowMs: RATE_HISTORY_MS, points: views.rateHistory.since(req.query.since) }));
};
