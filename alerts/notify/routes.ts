// The notification log: who was told what, when, and how delivery went.
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NOTIFICATION_SORT, type Notifier } from './notifier.js';

export const notificationRoutes: FastifyPluginAsync<{ notifier: Notifier }> = async (app, opts) => {
  app.withTypeProvider<ZodTypeProvider>().get('/api/v1/notifications', {
    schema: {
      querystring: z.object({
        alertId: z.coerce.number().int().positive().optional(),
        status: z.enum(['pending', 'held', 'sent', 'failed', 'suppressed']).optional(),
        contact: z.string().optional(),
        page: z.coerce.number().int().min(1).default(1),
        pageSize: z.coerce.number().int().min(1).max(500).default(50),
        sort: z.enum(NOTIFICATION_SORT.values).default('-id').describe('id, createdAt, status, attempts, nextAt or sentAt; a leading - sorts descending (default -id: newest first)'),
      }),
    },
  }, async (req) => opts.notifier.list({ ...req.query, districts: req.principal?.districts ?? null }));
};
