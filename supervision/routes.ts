// Scorecards and interview lists over HTTP.
import type { FastifyPluginAsync } from 'fastify';
import { actorOf as actor, alertInScope } from '../common/access.js';
import { complaintCategoryCode } from '../domain/complaint-categories.js';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CASE_SORT, CASE_STATES, STEP_SCHEMAS, type Step } from './cases.js';
import { LIST_SORT, previousYear, type InterviewList, type ListedUnit } from './interview.js';
import type { AlertStore } from '../alerts/store.js';
import type { Supervision } from './supervision.js';

/** A period query or body: both dates optional, defaulting to the previous calendar year. */
export const period = z.object({ from: z.iso.date().optional(), to: z.iso.date().optional() }).refine((p) => !p.from || !p.to || p.from < p.to, { message: 'from must be before to' });
export const resolvePeriod = (p: { from?: string | undefined; to?: string | undefined }) => {
  const d = previousYear();
  return { from: p.from ?? d.from, to: p.to ?? d.to };
};
export const idParams = z.object({ id: z.coerce.number().int().positive() });

/** The interview list `id`, or the 404 body naming it. */
export function findList(supervision: Supervision, id: number): { list: InterviewList } | { error: string } {
  const list = supervision.lists.get(id);
  return list ? { list } : { error: `interview list ${id} not found` };
}

/** The interview list `id` and its entry of `unit`, or the 404 body saying which is missing. */
export function findListed(supervision: Supervision, id: number, unit: string): { list: InterviewList; listed: ListedUnit } | { error: string } {
  const f = findList(supervision, id);
  if ('error' in f) return f;
  const listed = f.list.units.find((u) => u.unit === unit);
  return listed ? { list: f.list, listed } : { error: `unit ${unit} is not on interview list ${id}` };
}

export const supervisionRoutes: FastifyPluginAsync<{ supervision: Supervision; alerts: AlertStore }> = async (app, opts) => {
  const { supervision, alerts } = opts;
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get('/api/v1/scorecards', { schema: { querystring: period } }, async (req) => {
    const p = resolvePeriod(req.query);
    return { period: p, criteria: supervision.criteria, items: await supervision.scorecards(p) };
  });
  r.get('/api/v1/scorecards/trend', {
    schema: {
      querystring: z.object({
        unit: z.string().min(1).max(64).optional(),
        quarters: z.coerce.number().int().min(1).max(20).default(8),
        /** exclusive: the last quarter is the one holding the day before; default the current quarter */
        to: z.iso.date().optional(),
      }),
    },
  }, async (req) => supervision.trend(req.query)); // an unknown unit: UnknownUnitError, 404 through the app's error handler
  r.post('/api/v1/interview-lists', { schema: { body: period.optional() } }, async (req, reply) => reply.code(201).send(await supervision.generate(resolvePeriod(req.body ?? {}), 'api')));
  r.get('/api/v1/interview-lists', {
    schema: { querystring: z.object({
      from: z.iso.date().optional(), page: z.coerce.number().int().min(1).default(1), pageSize: z.coerce.number().int().min(1).max(100).default(20),
      sort: z.enum(LIST_SORT.values).default('-id').describe('id, periodFrom, version or generatedAt; a leading - sorts descending (default -id: newest first)'),
    }) },
  }, async (req) => supervision.lists.list(req.query));
  r.get('/api/v1/interview-lists/:id', { schema: { params: idParams } }, async (req, reply) => {
    const f = findList(supervision, req.params.id);
    return 'error' in f ? reply.code(404).send(f) : f.list;
  });
  r.get('/api/v1/interview-lists/:id/units/:unit/evidence', { schema: { params: idParams.extend({ unit: z.string().min(1).max(64) }) } }, async (req, reply) => {
    const f = findListed(supervision, req.params.id, req.params.unit);
    if ('error' in f) return reply.code(404).send(f);
    const ev = await supervision.evidence(f.listed.unit, { from: f.list.periodFrom, to: f.list.periodTo });
    // categoryCode: the common categories as codes, which a screen names in its language (domain/complaint-categories.ts)
    return { ...f.listed, ...ev, complaints: ev.complaints.map((c) => ({ ...c, categoryCode: complaintCategoryCode(c.category) })) };
  });
  r.get('/api/v1/interview-lists/:id/flags', { schema: { summary: 'Unit flags of the listed units: the active one, else the newest resolved (since, until)', params: idParams } }, async (req, reply) => {
    const f = findList(supervision, req.params.id);
    return 'error' in f ? reply.code(404).send(f) : { items: supervision.flagsOf(f.list.units.map((u) => u.unit)) };
  });
  // A unit flag (alert) → the interview case of its unit, opened if needed.
  r.post('/api/v1/alerts/:id/interview-case', { schema: { summary: 'Open (or find) the interview case of the unit a unit flag is about: 201 created, 200 existing, 409 no longer listed', params: idParams, body: z.object({ by: z.string().min(1).max(64).optional() }).optional() } }, async (req, reply) => {
    const a = alerts.get(req.params.id);
    // Units serve many districts: a unit's alert is city-wide, in every inspector's scope (the one rule, domain/alerts.ts isCityWide).
    if (!a || (req.principal && !alertInScope(req.principal, a))) return reply.code(404).send({ error: `alert ${req.params.id} not found` });
    const r = await supervision.caseFromFlag(a, actor(req, req.body?.by));
    return reply.code(r.created ? 201 : 200).send(r);
  });

  r.post('/api/v1/interview-lists/:id/cases', { schema: { params: idParams, body: z.object({ by: z.string().min(1).max(64).optional() }).optional() } }, async (req, reply) => {
    const f = findList(supervision, req.params.id);
    if ('error' in f) return reply.code(404).send(f);
    const items = supervision.cases.openFor(f.list, actor(req, req.body?.by));
    return reply.code(201).send({ items, total: items.length });
  });
  r.get('/api/v1/interview-cases', {
    schema: {
      querystring: z.object({
        state: z.enum(CASE_STATES).optional(), unit: z.string().optional(), periodFrom: z.iso.date().optional(), periodTo: z.iso.date().optional(),
        page: z.coerce.number().int().min(1).default(1), pageSize: z.coerce.number().int().min(1).max(500).default(50),
        sort: z.enum(CASE_SORT.values).default('id').describe('id, unit, state, periodFrom or createdAt; a leading - sorts descending (default id: oldest first)'),
      }),
    },
  }, async (req) => supervision.cases.list(req.query));
  r.get('/api/v1/interview-cases/:id', { schema: { params: idParams } }, async (req, reply) => supervision.cases.get(req.params.id) ?? reply.code(404).send({ error: `interview case ${req.params.id} not found` }));
  // One route per step, each documenting its own body (STEP_SCHEMAS, with `by`
  // optional: it defaults to the caller). The body is validated by the case
  // itself after it is found and its state checked, so a step out of order is
  // 409 and a missing field 400 naming the field ("scheduledAt: …").
  const STEPS = Object.keys(STEP_SCHEMAS) as Step[];
  for (const step of STEPS) {
    r.post(`/api/v1/interview-cases/:id/${step}`, {
      schema: { summary: `Move a case to ${step}`, params: idParams, documentedBody: (STEP_SCHEMAS[step] as z.ZodObject).partial({ by: true } as never) },
    }, async (req) => {
      const body = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
      return supervision.cases.advance(req.params.id, step, { ...body, by: actor(req, body.by) }); // CaseError: its status through the app's error handler
    });
  }
  // Any other step: say which there are.
  r.post('/api/v1/interview-cases/:id/:step', { schema: { hide: true, params: idParams.extend({ step: z.string() }) } }, async (req, reply) =>
    reply.code(400).send({ error: `unknown step ${req.params.step}; the steps are ${STEPS.join(', ')}` }));
};
