// The public elevator code (一梯一码):
//   GET  /e/:code               the elevator's public page (no sign-in; ?lang=en for English)
//   POST /e/:code/complaint     the page's complaint form → a complaint record (no sign-in; rate-limited)
//   GET  /api/v1/public-labels/elevators/:code          printable QR label (admin, inspector)
//   GET  /api/v1/public-labels/buildings?address=…      a building's labels on one sheet (admin, inspector)
// The public paths are outside /api/v1, which the auth guard leaves alone; the
// labels are under it, so they need a principal like every other API.
//
// A complaint takes the normal ingest path: appended to the ingress log on
// se/v1/records/complaint, decoded and accepted by the pipeline like a hotline's.
// Its sender is the built-in `public` (as the admin token's is `admin`): the
// route itself is the right to send, and it sends one thing only, a complaint
// about this elevator with a category from a fixed list (no free text, nothing
// personal is collected).
import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { topics } from '../domain/channels.js';
import { complaintSchema } from '../domain/messages.js';
import { COMPLAINT_CATEGORIES, type ComplaintCategoryCode } from '../domain/complaint-categories.js';
import { cstDate } from '../domain/time.js';
import { inspectionOverdue } from '../alerts/rules/overdue.js';
import type { Scheduler } from '../alerts/scheduled.js';
import type { Registry } from '../registry/registry.js';
import type { Elevator } from '../registry/schemas.js';
import type { Metrics } from '../common/metrics.js';
import { inScope } from '../common/access.js';
import type { authenticator } from './auth.js';
import { decode } from '../ingest/decode.js';
import { HTTP_TRANSPORT, SpoolFullError, type IngressLog } from '../storage/spool.js';
import {
  categoryText, labelsTitle, notFoundTitle, qrSvg, renderErrorPage, renderLabels, renderPublicPage, sentText, type Lang, type PublicFacts,
} from './public-page.js';

/** The sender of complaints made on the public page (spool, ledger, dead letters). */
export const PUBLIC_SENDER = 'public';

export interface PublicRouteOptions {
  registry: Registry;
  scheduler: Pick<Scheduler, 'factsOf'>;
  spool: IngressLog;
  metrics: Metrics;
  auth: Pick<ReturnType<typeof authenticator>, 'requireRole'>;
  /** base of the URL a QR code encodes (PUBLIC_BASE_URL, else DASHBOARD_URL); unset: the address the label was asked on */
  baseUrl?: string | undefined;
  /** an elevator's risk level (supervision risk); none: the page shows — */
  riskOf?: (code: string) => { level: string } | null;
  /** complaints allowed per client address, and per elevator, in a window */
  limits: { perAddress: number; perElevator: number; windowMs: number };
  clock?: () => number;
}

const codeParams = z.object({ code: z.string().min(1).max(32) });
const langQuery = z.object({ lang: z.enum(['zh', 'en']).default('zh') });
/** Client addresses and elevators the limiter remembers at most (least recently seen forgotten first). */
const LIMIT_KEYS = 10_000;
const FORM_BYTES = 2048;

const html = (reply: FastifyReply, code: number, body: string) => reply.code(code).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);

export const publicRoutes: FastifyPluginAsync<PublicRouteOptions> = async (app, opts) => {
  const { registry, spool, metrics, limits } = opts;
  const clock = opts.clock ?? Date.now;
  const riskOf = opts.riskOf ?? (() => null);
  const r = app.withTypeProvider<ZodTypeProvider>();

  // A form post's fields; the body is tiny (one category), so anything larger is refused unread.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BYTES }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  await app.register(rateLimit, { global: false, cache: LIMIT_KEYS });
  const byAddress = app.createRateLimit({ max: limits.perAddress, timeWindow: limits.windowMs, keyGenerator: (req) => `pub|ip|${req.ip}` });
  const byElevator = app.createRateLimit({ max: limits.perElevator, timeWindow: limits.windowMs, keyGenerator: (req) => `pub|el|${(req.params as { code: string }).code}` });

  function facts(e: Elevator): PublicFacts {
    const now = clock();
    const f = opts.scheduler.factsOf(e.code, now);
    return {
      code: e.code, address: e.address, userUnit: e.userUnit,
      maintenanceUnitName: registry.units.get(e.maintenanceUnit)?.name ?? '—',
      lastRoutine: f.lastRoutineAt === null ? null : cstDate(f.lastRoutineAt),
      nextInspectionDue: e.nextInspectionDue ?? null,
      inspection: e.nextInspectionDue ? (inspectionOverdue(e, f, now).overdue ? 'overdue' : 'valid') : 'unknown',
      risk: riskOf(e.code)?.level ?? null,
    };
  }

  const notFound = (reply: FastifyReply, lang: Lang, code: string) =>
    html(reply, 404, renderErrorPage(lang, notFoundTitle(lang), lang === 'zh'
      ? `没有注册代码为 ${code} 的电梯。请核对标签上的代码，或拨打 96333 反映。`
      : `No elevator is registered with the code ${code}. Check the code on the label, or call 96333.`));

  r.get('/e/:code', { schema: { params: codeParams, querystring: langQuery.extend({ sent: z.string().max(8).optional() }), hide: true } }, async (req, reply) => {
    const e = registry.elevators.get(req.params.code);
    if (!e) return notFound(reply, req.query.lang, req.params.code);
    const sent = req.query.sent === '1';
    return html(reply, 200, renderPublicPage(facts(e), req.query.lang, sent ? { ok: true, text: sentText(req.query.lang) } : undefined));
  });

  r.post('/e/:code/complaint', { schema: { params: codeParams, querystring: langQuery, hide: true } }, async (req, reply) => {
    const lang = req.query.lang;
    const e = registry.elevators.get(req.params.code);
    if (!e) return notFound(reply, lang, req.params.code);
    const refuse = (status: number, zh: string, en: string) => html(reply, status, renderPublicPage(facts(e), lang, { ok: false, text: lang === 'zh' ? zh : en }));

    // The address's allowance first, so a flood from one address does not use up the elevator's.
    let limit = await byAddress(req);
    if (limit.isAllowed || !limit.isExceeded) limit = await byElevator(req);
    if (!limit.isAllowed && limit.isExceeded) {
      metrics.refusals.inc({ reason: 'public_rate_limited' });
      reply.header('retry-after', String(limit.ttlInSeconds));
      const minutes = Math.max(1, Math.ceil(limit.ttlInSeconds / 60));
      return refuse(429, `提交过于频繁，请 ${minutes} 分钟后再试；紧急情况请拨打 96333。`, `Too many reports; try again in ${minutes} min. In an emergency call 96333.`);
    }

    const category = (req.body as Record<string, unknown> | undefined)?.category;
    if (typeof category !== 'string' || !Object.hasOwn(COMPLAINT_CATEGORIES, category)) {
      return refuse(400, '请选择问题类型后再提交。', 'Choose the kind of problem, then send.');
    }
    const now = clock();
    const record = { id: `pub-${randomUUID()}`, ts: now, source: 'other', category: categoryText(category as ComplaintCategoryCode, 'zh'), elevator: e.code };
    const topic = topics.record('complaint');
    const payload = Buffer.from(JSON.stringify(record));
    // Checked as the pipeline will check it, so a refusal is told to the resident, not only to the dead letters.
    const d = decode(topic, payload, now, registry, PUBLIC_SENDER);
    if (!complaintSchema.safeParse(record).success || d.rejects.length) {
      req.log.error({ rejects: d.rejects }, 'public complaint refused by its own schema');
      return refuse(500, '提交失败，请稍后再试或拨打 96333。', 'Could not send; try again later or call 96333.');
    }
    try {
      await spool.appendAsync({ qos: HTTP_TRANSPORT, topic, sender: PUBLIC_SENDER, receivedAt: now, payload });
    } catch (err) {
      metrics.refusals.inc({ reason: err instanceof SpoolFullError ? 'spool_full' : 'spool_error' });
      reply.header('retry-after', '30');
      return refuse(503, '系统繁忙，请稍后再试；紧急情况请拨打 96333。', 'The service is busy; try again later. In an emergency call 96333.');
    }
    metrics.messagesIn.inc({ transport: 'http', channel: 'complaint' });
    // Post/redirect/get: reloading the page does not send the complaint again.
    return reply.code(303).header('location', `/e/${encodeURIComponent(e.code)}?lang=${lang}&sent=1`).send();
  });

  // Labels: admins and inspectors (inspectors within their districts).
  const labelBase = (req: FastifyRequest) => (opts.baseUrl ?? `${req.protocol}://${req.host}`).replace(/\/+$/, '');
  const labelOf = async (req: FastifyRequest, e: Elevator) => {
    const url = `${labelBase(req)}/e/${encodeURIComponent(e.code)}`;
    return { code: e.code, address: e.address, url, svg: await qrSvg(url) };
  };
  const staff = opts.auth.requireRole('admin', 'inspector');

  r.get('/api/v1/public-labels/elevators/:code', {
    onRequest: staff,
    schema: { summary: 'A printable QR label (HTML with SVG) for the elevator\'s public page', params: codeParams, querystring: langQuery },
  }, async (req, reply) => {
    const e = registry.elevators.get(req.params.code);
    if (!e || !inScope(req.principal, e.district)) return reply.code(404).send({ error: `elevator ${req.params.code} not found (or not in your districts)` });
    return html(reply, 200, renderLabels(`${labelsTitle(req.query.lang)} ${e.code}`, [await labelOf(req, e)], req.query.lang));
  });

  r.get('/api/v1/public-labels/buildings', {
    onRequest: staff,
    schema: { summary: 'Printable QR labels of every elevator at one address, on one sheet', querystring: langQuery.extend({ address: z.string().min(1).max(200) }) },
  }, async (req, reply) => {
    const address = req.query.address.trim();
    const elevators = [...registry.elevators.items.values()].filter((e) => e.address.trim() === address && inScope(req.principal, e.district)).sort((a, b) => a.code.localeCompare(b.code));
    if (!elevators.length) return reply.code(404).send({ error: `no elevator at the address ${JSON.stringify(address)} (or none in your districts); the address must match the registry exactly` });
    const labels = [];
    for (const e of elevators) labels.push(await labelOf(req, e));
    return html(reply, 200, renderLabels(`${labelsTitle(req.query.lang)} ${address}`, labels, req.query.lang));
  });
};
