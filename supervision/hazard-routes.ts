// The hazard book over HTTP (read-only: hazards change only through their
// records, `se/v1/records/hazard`). An inspector sees the hazards of their
// districts; everyone else all of them.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { inScope } from '../common/access.js';
import { codeSchema, HAZARD_LEVELS } from '../domain/messages.js';
import { HAZARD_SORT, type HazardBook } from './hazards.js';
import { periodMs } from './interview.js';
import { period, resolvePeriod } from './routes.js';

/** The caller's districts as a list filter: null = all. */
const districtsOf = (req: FastifyRequest): string[] | null => (req.principal && req.principal.role === 'inspector' ? req.principal.districts : null);

const paging = {
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(500).default(50),
};

export const hazardRoutes: FastifyPluginAsync<{ hazards: HazardBook }> = async (app, { hazards }) => {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get('/api/v1/hazards', {
    schema: {
      summary: 'Hazards (protocol v1.1 records/hazard), filtered and paged; state open (not rectified, overdue ones included), overdue (open past the deadline) or rectified',
      querystring: z.object({
        unit: z.string().min(1).max(64).optional(), elevator: codeSchema.optional(), site: codeSchema.optional(),
        state: z.enum(['open', 'overdue', 'rectified']).optional(), level: z.enum(HAZARD_LEVELS).optional(), ...paging,
        sort: z.enum(HAZARD_SORT.values).default('-foundAt').describe('foundAt, rectifiedAt, unit or level; a leading - sorts descending (default -foundAt: newest first)'),
      }),
    },
  }, async (req) => hazards.list({ ...req.query, districts: districtsOf(req) }));

  r.get('/api/v1/hazards/unmatched', {
    schema: { summary: 'Rectified records that name no hazard in the book, or one of other equipment or another unit, with the reason', querystring: z.object(paging) },
  }, async (req) => hazards.store.unmatched({ ...req.query, districts: districtsOf(req) }));

  r.get('/api/v1/hazards/by-unit/:unit', {
    schema: {
      summary: 'A unit\'s hazard counts over a period (found, major and rectified in it; open and overdue at its end) and its open hazards now',
      params: z.object({ unit: z.string().min(1).max(64) }), querystring: period,
    },
  }, async (req) => {
    const p = resolvePeriod(req.query);
    return { unit: req.params.unit, period: p, counts: hazards.hazardCounts(req.params.unit, periodMs(p.from, p.to)), open: hazards.openHazards(req.params.unit) };
  });

  r.get('/api/v1/hazards/by-elevator/:code', {
    schema: { summary: 'An elevator\'s hazards, newest first, and how many are open', params: z.object({ code: codeSchema }), querystring: z.object(paging) },
  }, async (req) => {
    const scope = { elevator: req.params.code, districts: districtsOf(req) }; // an inspector counts only what they may see
    return { elevator: req.params.code, open: hazards.list({ ...scope, state: 'open', pageSize: 1 }).total, ...hazards.list({ ...req.query, ...scope }) };
  });

  r.get('/api/v1/hazards/:id', { schema: { params: z.object({ id: z.string().min(1).max(64) }) } }, async (req, reply) => {
    const h = hazards.get(req.params.id);
    return h && (!req.principal || inScope(req.principal, h.district)) ? h : reply.code(404).send({ error: `hazard ${req.params.id} not found` });
  });
};
