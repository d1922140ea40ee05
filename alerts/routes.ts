// Alert API: list (paginated, filtered), read, acknowledge, resolve by hand
// with a reason, add a note. Until user accounts exist (issue 5) the caller
// names who acts in the body.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AlertError, SEVERITIES, type AlertStore } from './store.js';

const idParams = z.object({ id: z.coerce.number().int().positive() });
const who = z.string().min(1).max(64);

export async function alertRoutes(app: FastifyInstance, opts: { alerts: AlertStore }): Promise<void> {
  const { alerts } = opts;
  const r = app.withTypeProvider<ZodTypeProvider>();
  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof AlertError) return reply.code(err.status).send({ error: err.message });
    throw err;
  });
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
      }),
    },
  }, async (req) => alerts.list(req.query));
  r.get('/api/v1/alerts/:id', { schema: { params: idParams } }, async (req) => {
    const a = alerts.get(req.params.id);
    if (!a) throw new AlertError(`alert ${req.params.id} not found`, 404);
    return a;
  });
  r.post('/api/v1/alerts/:id/ack', { schema: { params: idParams, body: z.object({ by: who }) } }, async (req) => alerts.acknowledge(req.params.id, req.body.by).alert);
  r.post('/api/v1/alerts/:id/resolve', { schema: { params: idParams, body: z.object({ by: who, reason: z.string().min(1).max(500) }) } }, async (req) =>
    alerts.resolve(req.params.id, req.body.by, req.body.reason).alert);
  r.post('/api/v1/alerts/:id/notes', { schema: { params: idParams, body: z.object({ by: who, text: z.string().min(1).max(2000) }) } }, async (req) =>
    alerts.note(req.params.id, req.body.by, req.body.text).alert);
}
