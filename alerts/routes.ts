// Alert API: list (paginated, filtered), read, acknowledge, resolve by hand
// with a reason, add a note. Lists and reads are limited to the caller's
// districts (an alert outside them is 404 for an inspector); who acts is the
// signed-in user (only the admin token may name someone else in `by`).
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { actorOf as actor, alertInScope } from '../common/access.js';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HAZARD_OVERDUE_ALERT } from '../domain/alerts.js';
import { RULES } from './scheduled.js';
import { ALERT_SORT, AlertError, SEVERITIES, type AlertFilter, type AlertStore } from './store.js';

const idParams = z.object({ id: z.coerce.number().int().positive() });
const who = z.string().min(1).max(64).optional().describe('who acts; only honoured for the admin token (default "admin-token"), a signed-in user is always themselves');

/**
 * The daily overdue rules' alert types (定期检验超期, 维保超期). A city has hundreds on any morning, raised
 * together by one run: the alert page shows them apart (category=overdue) and, in the default view of
 * events, as one line per rule and day (GET /api/v1/alerts/groups), so they never bury an entrapment.
 */
export const OVERDUE_TYPES = [...Object.values(RULES).map((r) => r.alertType), HAZARD_OVERDUE_ALERT];
const category = z.enum(['event', 'overdue']).optional().describe('event: every alert but the overdue reminders (定期检验超期, 维保超期, 隐患逾期未整改); overdue: only those');
const byCategory = (c: 'event' | 'overdue' | undefined): Pick<AlertFilter, 'types' | 'notTypes'> => (c === 'overdue' ? { types: OVERDUE_TYPES } : c === 'event' ? { notTypes: OVERDUE_TYPES } : {});
const filterFields = {
  severity: z.enum(SEVERITIES).optional(),
  district: z.string().optional(),
  type: z.string().optional(),
  subject: z.string().optional(),
  unit: z.string().optional(),
  category,
};
/** At most this many alerts are acknowledged by one request (the answer says how many match still). */
const BULK_ACK_MAX = 5000;

export const alertRoutes: FastifyPluginAsync<{ alerts: AlertStore }> = async (app, opts) => {
  const { alerts } = opts;
  const r = app.withTypeProvider<ZodTypeProvider>();
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
        ...filterFields,
        page: z.coerce.number().int().min(1).default(1),
        pageSize: z.coerce.number().int().min(1).max(500).default(50),
        sort: z.enum(ALERT_SORT.values).default('-id').describe('id, firstAt, lastAt, severity, count, state or escalation; a leading - sorts descending (-severity: critical first)'),
      }),
    },
  }, async (req) => alerts.list({ ...req.query, ...byCategory(req.query.category), districts: req.principal?.districts ?? null })); // null for all but an inspector (principalOf); a district outside them simply matches nothing
  r.get('/api/v1/alerts/groups', {
    schema: {
      summary: 'Alerts counted per type and day opened (China Standard Time), newest day first',
      querystring: z.object({ state: z.enum(['open', 'acknowledged', 'resolved', 'active']).default('active'), ...filterFields }),
    },
  }, async (req) => ({ items: alerts.groups({ ...req.query, ...byCategory(req.query.category), districts: req.principal?.districts ?? null }) }));
  // Acknowledging a filtered set: every open alert the caller may see that matches, up to the newest one
  // the caller saw (upToId), so an alert raised while they decided is not acknowledged unseen. Each alert
  // gets its own transition (live frames, history); the audit log keeps one entry with the ids.
  r.post('/api/v1/alerts/ack', {
    schema: {
      summary: 'Acknowledge every open alert matching a filter (within the caller\'s districts)',
      body: z.object({ by: who, filter: z.object(filterFields).strict().default({}), upToId: z.number().int().positive().optional().describe('only alerts with an id up to this one (the newest the caller saw)') }),
    },
  }, async (req) => {
    const { filter, upToId } = req.body;
    const by = actor(req, req.body.by);
    const q = { ...filter, ...byCategory(filter.category), state: 'open' as const, districts: req.principal?.districts ?? null, maxId: upToId };
    const ids: number[] = [];
    let skipped = 0;
    while (ids.length < BULK_ACK_MAX) {
      const page = alerts.list({ ...q, sort: 'id', pageSize: Math.min(500, BULK_ACK_MAX - ids.length) });
      for (const a of page.items) {
        try {
          ids.push(alerts.acknowledge(a.id, by).alert.id);
        } catch (err) {
          if (!(err instanceof AlertError)) throw err;
          skipped++; // resolved or acknowledged by someone else in between
        }
      }
      if (page.items.length < page.pageSize || page.items.length === 0) break;
    }
    const remaining = alerts.list({ ...q, pageSize: 1 }).total;
    (req as { auditDetails?: unknown }).auditDetails = { acknowledged: ids.length, ids, remaining };
    return { acknowledged: ids.length, ids, skipped, remaining };
  });
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
};
