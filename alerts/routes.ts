// Alert API: list (paginated, filtered), read, acknowledge, resolve by hand
// with a reason, add a note. Lists and reads are limited to the caller's
// districts (an alert outside them is 404 for an inspector); who acts is the
// signed-in user (only the admin token may name someone else in `by`).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { actorOf as actor, alertInScope } from '../dashboard/auth.js';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ALERT_SORT, AlertError, SEVERITIES, type AlertStore } from './store.js';

const idParams = z.object({ id: z.coerce.number().int().positive() });
const who = z.string().min(1).max(64).optional().describe('who acts; only honoured for the admin token (default "admin-token"), a signed-in user is always themselves');

export async function alertRoutes(app: FastifyInstance, opts: { alerts: AlertStore }): Promise<void> {
  const { alerts } = opts;
  const r = app.withTypeProvider<ZodTypeProvider>();
  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof AlertError) return reply.code(err.status).send({ error: err.message });
    throw err;
  });
  /** The alert if it exists and is in the caller's scope; otherwise 404 (no hint that it exists). */
  const visible = (req: FastifyRequest, id: number) => {
    const a = alerts.get(id);
    if (!a || (req.principal && !alertInScope(req.principal, a))) throw new AlertError(`alert ${id} not found`, 404);
    return a;
  };
  r.get('/api/v1/alerts', {
    schema: {
      querystring: z.object({
        state: z.enum(['open', 'acknowledged', 'resolved', 'active']).optional(),
        severity: z.enum(SEVERITIES).optional(),
        district: z.string().optional(),
        type: z.string().optional(),
        subject: z.string().optional(),
        unit: z.string().optional(),
        page: z.coerce.number().int().min(1).default(1),
        pageSize: z.coerce.number().int().min(1).max(500).default(50),
        sort: z.enum(ALERT_SORT.values).default('-id').describe('id, firstAt, lastAt, severity, count, state or escalation; a leading - sorts descending (-severity: critical first)'),
      }),
    },
  }, async (req) => alerts.list({ ...req.query, districts: req.principal?.districts ?? null })); // null for all but an inspector (principalOf); a district outside them simply matches nothing
  r.get('/api/v1/alerts/:id', { schema: { params: idParams } }, async (req) => visible(req, req.params.id));
  r.post('/api/v1/alerts/:id/ack', { schema: { params: idParams, body: z.object({ by: who }).optional() } }, async (req) => {
    visible(req, req.params.id);
    return alerts.acknowledge(req.params.id, actor(req, req.body?.by)).alert;
  });
  r.post('/api/v1/alerts/:id/resolve', { schema: { params: idParams, body: z.object({ by: who, reason: z.string().min(1).max(500) }) } }, async (req) => {
    visible(req, req.params.id);
    return alerts.resolve(req.params.id, actor(req, req.body.by), req.body.reason).alert;
  });
  r.post('/api/v1/alerts/:id/notes', { schema: { params: idParams, body: z.object({ by: who, text: z.string().min(1).max(2000) }) } }, async (req) => {
    visible(req, req.params.id);
    return alerts.note(req.params.id, actor(req, req.body.by), req.body.text).alert;
  });
}
