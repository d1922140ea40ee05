// Downloads of the scorecards and interview lists (CSV, XLSX) and the
// printable interview notice of a listed unit, over HTTP.
import { createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { interviewListCsv, interviewListXlsx, NOTICE_PRINT_HANDLER, noticeHtml, periodText, scorecardsCsv, scorecardsXlsx, type NoticeOptions } from './exports.js';
import { findList, findListed, idParams, period, resolvePeriod } from './routes.js';
import type { Supervision } from './supervision.js';

export const format = z.enum(['csv', 'xlsx']).default('xlsx');
const scorecardQuery = period.and(z.object({ format }));

/**
 * The dashboard's policy forbids inline event handlers (script-src-attr
 * 'none'); the notice's print button has one. Allow exactly that handler by
 * its hash ('unsafe-hashes' lets a hash match an attribute), nothing else.
 */
const PRINT_HASH = `'sha256-${createHash('sha256').update(NOTICE_PRINT_HANDLER).digest('base64')}'`;
export function allowPrint(reply: FastifyReply): FastifyReply {
  const csp = reply.raw.getHeader('content-security-policy');
  if (typeof csp === 'string') reply.header('content-security-policy', csp.replace(/script-src-attr [^;]*/, `script-src-attr 'unsafe-hashes' ${PRINT_HASH}`));
  return reply;
}

const CONTENT_TYPE = { csv: 'text/csv; charset=utf-8', xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' } as const;

/** RFC 5987 / 8187 value: UTF-8, percent-encoded, only attr-chars left bare. */
const rfc5987 = (s: string) => encodeURIComponent(s).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** `attachment; filename="ascii"; filename*=UTF-8''<encoded>`: the Chinese name for browsers that read filename*, a plain one for the rest. */
export function contentDisposition(kind: 'attachment' | 'inline', name: string, asciiFallback: string): string {
  const ascii = asciiFallback.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${rfc5987(name)}`;
}

export function download(reply: FastifyReply, fmt: 'csv' | 'xlsx', body: string | Buffer, name: string, ascii: string) {
  return reply.type(CONTENT_TYPE[fmt]).header('content-disposition', contentDisposition('attachment', `${name}.${fmt}`, `${ascii}.${fmt}`)).send(body);
}

export const exportRoutes: FastifyPluginAsync<{ supervision: Supervision }> = async (app, opts) => {
  const { supervision } = opts;
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get('/api/v1/scorecards/export', { schema: { querystring: scorecardQuery } }, async (req, reply) => {
    const p = resolvePeriod(req.query);
    const cards = await supervision.scorecards(p);
    const fmt = req.query.format;
    const body = fmt === 'csv' ? scorecardsCsv(cards, p) : await scorecardsXlsx(cards, p);
    return download(reply, fmt, body, `维保单位评分卡_${periodText(p)}`, `scorecards_${periodText(p, '_')}`);
  });

  r.get('/api/v1/interview-lists/:id/export', { schema: { params: idParams, querystring: z.object({ format }) } }, async (req, reply) => {
    const f = findList(supervision, req.params.id);
    if ('error' in f) return reply.code(404).send(f);
    const l = f.list;
    const fmt = req.query.format;
    const p = { from: l.periodFrom, to: l.periodTo };
    const body = fmt === 'csv' ? interviewListCsv(l) : await interviewListXlsx(l);
    return download(reply, fmt, body, `约谈名单_${periodText(p)}_第${l.version}版`, `interview-list-${l.id}_${periodText(p, '_')}_v${l.version}`);
  });

  r.get('/api/v1/interview-lists/:id/units/:unit/notice', {
    schema: { params: idParams.extend({ unit: z.string().min(1).max(64) }), querystring: z.object({ authority: z.string().min(1).max(100).optional() }) },
  }, async (req, reply) => {
    const f = findListed(supervision, req.params.id, req.params.unit);
    if ('error' in f) return reply.code(404).send(f);
    const { list: l, listed } = f;
    const evidence = await supervision.evidence(listed.unit, { from: l.periodFrom, to: l.periodTo });
    // Once the unit's case is scheduled, the notice carries its time, place and attendees.
    const c = supervision.cases.list({ unit: listed.unit, periodFrom: l.periodFrom, periodTo: l.periodTo, pageSize: 1 }).items[0];
    const d = (c?.details ?? {}) as { scheduledAt?: string; place?: string; attendees?: string[] };
    const options: NoticeOptions = { scheduledAt: d.scheduledAt, place: d.place, attendees: d.attendees, authority: req.query.authority };
    return allowPrint(reply).type('text/html; charset=utf-8')
      .header('content-disposition', contentDisposition('inline', `约谈通知书_${listed.name ?? listed.unit}.html`, `notice_${l.id}_${listed.unit}.html`))
      .send(noticeHtml(l, listed, evidence, options));
  });
};
