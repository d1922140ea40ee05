// Scheduled-rule API: the rules with their schedule and last run, the run
// log, and running a rule now.
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isRule, RULE_NAMES, type Scheduler } from './scheduled.js';

export const ruleRoutes: FastifyPluginAsync<{ scheduler: Scheduler }> = async (app, opts) => {
  const { scheduler } = opts;
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get('/api/v1/rules', async () => ({ items: scheduler.rules() }));
  r.get('/api/v1/rules/runs', {
    schema: {
      querystring: z.object({
        rule: z.enum(RULE_NAMES).optional(),
        page: z.coerce.number().int().min(1).default(1),
        pageSize: z.coerce.number().int().min(1).max(500).default(50),
      }),
    },
  }, async (req) => scheduler.runs(req.query));
  r.post('/api/v1/rules/:rule/run', { schema: { params: z.object({ rule: z.string() }) } }, async (req, reply) => {
    const { rule } = req.params;
    if (!isRule(rule)) return reply.code(404).send({ error: `no rule ${rule}; the rules are ${RULE_NAMES.join(', ')}` });
    const run = await scheduler.run(rule, 'api');
    if (run.error) return reply.code(500).send({ error: `${rule} failed: ${run.error}`, run });
    return run;
  });
};
