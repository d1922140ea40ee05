// Supervision orders and enforcement cases over HTTP.
//
// Who may do what (the roles of common/access.ts; there is no account role for
// a unit's staff):
//   - read (list, one order, print, export): any signed-in user;
//   - open, send back, close, escalate, and every case step: inspectors and admins;
//   - reply: the maintenance unit itself, through its `maintenance_unit`
//     partner's HTTP Basic credentials (the ones it uses for record ingest),
//     and only to its own orders; or an inspector or admin entering a reply
//     received on paper (a user unit has no credentials here), which records
//     who entered it and on whose behalf.
// The actor is always the request's principal (a signed-in user is themselves),
// never a name the body claims.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf, type Caller, type Principal } from '../common/access.js';
import type { Registry } from '../registry/registry.js';
import { allowPrint, contentDisposition, download } from './export-routes.js';
import { CASE_ACTIONS, CASE_STEP_SCHEMAS, OPEN_SCHEMA, ORDER_ACTIONS, ORDER_STATES, ORDER_STEP_SCHEMAS, type CaseAction, type OrderAction } from './order-rules.js';
import { orderHtml, ordersCsv, ordersXlsx } from './order-print.js';
import { ORDER_SORT, type SupervisionOrders } from './orders.js';
import { idParams } from './routes.js';
import { cstDate } from '../domain/time.js';

type Hook = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export interface OrderRoutesOptions {
  orders: SupervisionOrders;
  registry: Registry;
  auth: {
    /** onRequest: any signed-in principal */
    readers: Hook;
    /** onRequest: inspectors and admins */
    actors: Hook;
    /** a gateway's or partner's HTTP Basic credentials */
    caller(req: FastifyRequest): Caller | null;
  };
}

/** The reply route: the one an unsigned-in partner may call (dashboard/auth.ts lets it through to this route's own check). */
export const ORDER_REPLY_ROUTE = '/api/v1/supervision-orders/:id/reply';
export const isPartnerReply = (method: string, url: string, authorization: string | undefined) =>
  method === 'POST' && url === ORDER_REPLY_ROUTE && !!authorization?.startsWith('Basic ');

const listQuery = z.object({
  state: z.enum(ORDER_STATES).optional(),
  unit: z.string().min(1).max(200).optional(),
  overdue: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(200).default(50),
  sort: z.enum(ORDER_SORT.values).default('-id').describe('id, dueOn, issuedAt, unit or state; a leading - sorts descending (default -id: newest first)'),
});

export const orderRoutes: FastifyPluginAsync<OrderRoutesOptions> = async (app, opts) => {
  const { orders, registry, auth } = opts;
  const r = app.withTypeProvider<ZodTypeProvider>();
  // The step schemas themselves (so the OpenAPI document shows them); `by` comes from the principal.
  const optionalBy = { by: z.string().min(1).max(64).optional().describe('only the admin token may name someone; a signed-in user is always themselves') };
  const notFound = (reply: FastifyReply, id: number) => reply.code(404).send({ error: `supervision order ${id} not found` });

  r.get('/api/v1/supervision-orders', { onRequest: auth.readers, schema: { summary: 'Supervision orders, newest first, with counts by state', querystring: listQuery } }, async (req) =>
    ({ ...orders.list(req.query), counts: orders.countsByState() }));

  r.post('/api/v1/supervision-orders', { onRequest: auth.actors, schema: { summary: 'Open a supervision order (安全监察指令书) against a maintenance or user unit', body: OPEN_SCHEMA.extend(optionalBy) } }, async (req, reply) => {
    const o = orders.open({ ...req.body, by: actorOf(req, req.body.by) });
    (req as { auditTarget?: string }).auditTarget = `supervision-order:${o.id}`;
    return reply.code(201).send(orders.detail(o.id));
  });

  r.get('/api/v1/supervision-orders/export', {
    onRequest: auth.readers,
    schema: { summary: 'The order list as CSV or XLSX (the list filters apply)', querystring: listQuery.omit({ page: true, pageSize: true }).extend({ format: z.enum(['csv', 'xlsx']).default('xlsx') }) },
  }, async (req, reply) => {
    const { format, ...q } = req.query;
    const items = orders.list({ ...q, pageSize: 1000 }).items;
    const today = cstDate(Date.now());
    return download(reply, format, format === 'csv' ? ordersCsv(items) : await ordersXlsx(items), `安全监察指令书_${today}`, `supervision-orders_${today}`);
  });

  r.get('/api/v1/supervision-orders/:id', { onRequest: auth.readers, schema: { summary: 'One order with its steps, its case and the actions allowed now', params: idParams } }, async (req, reply) =>
    orders.detail(req.params.id) ?? notFound(reply, req.params.id));

  r.get('/api/v1/supervision-orders/:id/print', {
    onRequest: auth.readers, schema: { summary: 'The printable order (HTML, print stylesheet)', params: idParams, querystring: z.object({ authority: z.string().min(1).max(100).optional() }) },
  }, async (req, reply) => {
    const d = orders.detail(req.params.id);
    if (!d) return notFound(reply, req.params.id);
    return allowPrint(reply).type('text/html; charset=utf-8')
      .header('content-disposition', contentDisposition('inline', `安全监察指令书_${d.number}.html`, `supervision-order-${d.id}.html`))
      .send(orderHtml(d, d.steps, d.case, { authority: req.query.authority }));
  });

  // The unit's reply: its partner credentials, or an inspector entering it.
  const replyGate: Hook = async (req, reply) => {
    if (!req.headers.authorization?.startsWith('Basic ')) return auth.actors(req, reply);
    const c = auth.caller(req);
    const partner = c?.kind === 'principal' ? registry.partners.get(c.id) : undefined;
    if (!partner || partner.kind !== 'maintenance_unit' || !partner.unit) {
      return reply.code(c ? 403 : 401).send({ error: c ? `${c.kind === 'principal' ? c.id : 'this caller'} is not a maintenance unit's partner; only the unit itself or an inspector replies to an order` : 'unknown partner id or secret' });
    }
    // The audit log names the partner as the actor.
    req.principal = { kind: 'token', username: `partner:${partner.id}`, displayName: partner.name, role: 'viewer', districts: [] } satisfies Principal;
    (req as { partnerUnit?: string }).partnerUnit = partner.unit;
  };

  for (const action of ORDER_ACTIONS) {
    r.post(`/api/v1/supervision-orders/:id/${action}`, {
      onRequest: action === 'reply' ? replyGate : auth.actors,
      schema: { summary: `Order step: ${action}`, params: idParams, body: ORDER_STEP_SCHEMAS[action].extend(optionalBy) },
    }, async (req, reply) => {
      const partnerUnit = (req as { partnerUnit?: string }).partnerUnit;
      let input: Record<string, unknown> = { ...req.body, by: actorOf(req, req.body.by) };
      if (partnerUnit !== undefined) {
        input.by = req.principal.username; // a partner never names someone else
        const o = orders.get(req.params.id);
        if (!o) return notFound(reply, req.params.id);
        if (o.unitKind !== 'maintenance' || o.unit !== partnerUnit) return reply.code(403).send({ error: `order ${o.id} is not addressed to unit ${partnerUnit}` });
        input = { ...input, onBehalfOf: undefined };
      }
      orders.act(req.params.id, action as OrderAction, input);
      return orders.detail(req.params.id);
    });
  }

  for (const action of CASE_ACTIONS) {
    r.post(`/api/v1/enforcement-cases/:id/${action}`, { onRequest: auth.actors, schema: { summary: `Enforcement case step: ${action}`, params: idParams, body: CASE_STEP_SCHEMAS[action].extend(optionalBy) } }, async (req) => {
      const c = orders.actCase(req.params.id, action as CaseAction, { ...req.body, by: actorOf(req, req.body.by) });
      return orders.detail(c.orderId);
    });
  }
};
