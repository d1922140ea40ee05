// Unit credit grades and the red and black lists over HTTP: the grades of a
// period computed now (each explained), publishing a frozen version
// (inspectors and administrators; the app's scope checks the role), the
// publications and one version, a unit's grade history, and the exports.
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf } from '../common/access.js';
import { CREDIT_LIST_SORT } from './credit-lists.js';
import { CREDIT_LIST_KINDS, creditCsv, creditXlsx, KIND_ZH } from './credit-exports.js';
import { FACTOR_MEASURE, redAndBlack } from './credit.js';
import { download, format } from './export-routes.js';
import { periodText } from './exports.js';
import { idParams, period, resolvePeriod } from './routes.js';
import type { Supervision } from './supervision.js';

export const creditRoutes: FastifyPluginAsync<{ supervision: Supervision }> = async (app, opts) => {
  const book = opts.supervision.credit;
  const r = app.withTypeProvider<ZodTypeProvider>();
  const notFound = (id: number) => ({ error: `credit list ${id} not found; GET /api/v1/credit-lists lists the published ones` });

  r.get('/api/v1/credit/grades', { schema: { summary: 'Every unit\'s credit grade for the period, computed now, with the points each factor took', querystring: period } }, async (req) => {
    const p = resolvePeriod(req.query);
    const items = await book.grades(p);
    const { red, black } = redAndBlack(items);
    return { period: p, scoring: book.scoring, measures: FACTOR_MEASURE, items, red: red.map((g) => g.unit), black: black.map((g) => g.unit) };
  });
  r.get('/api/v1/credit/units/:unit/history', { schema: { summary: 'A unit\'s published grade per period (the newest version of each)', params: z.object({ unit: z.string().min(1).max(64) }) } },
    async (req) => ({ unit: req.params.unit, items: book.history(req.params.unit) }));
  r.post('/api/v1/credit-lists', { schema: { summary: 'Publish the red and black lists of a period: grades now, frozen as the next version', body: period.optional() } }, async (req, reply) =>
    reply.code(201).send(await book.publish(resolvePeriod(req.body ?? {}), actorOf(req, undefined), 'api')));
  r.get('/api/v1/credit-lists', {
    schema: { querystring: z.object({
      from: z.iso.date().optional(), page: z.coerce.number().int().min(1).default(1), pageSize: z.coerce.number().int().min(1).max(100).default(20),
      sort: z.enum(CREDIT_LIST_SORT.values).default('-id').describe('id, periodFrom, version or publishedAt; a leading - sorts descending (default -id: newest first)'),
    }) },
  }, async (req) => book.list(req.query));
  r.get('/api/v1/credit-lists/:id', { schema: { params: idParams } }, async (req, reply) => book.get(req.params.id) ?? reply.code(404).send(notFound(req.params.id)));
  r.get('/api/v1/credit-lists/:id/export', {
    schema: { summary: 'A publication as XLSX (red, black, all grades, the scoring) or CSV (one list)', params: idParams, querystring: z.object({ format, list: z.enum(CREDIT_LIST_KINDS).default('all') }) },
  }, async (req, reply) => {
    const p = book.get(req.params.id);
    if (!p) return reply.code(404).send(notFound(req.params.id));
    const { format: fmt, list } = req.query;
    const when = periodText({ from: p.periodFrom, to: p.periodTo });
    const body = fmt === 'csv' ? creditCsv(p, list) : await creditXlsx(p);
    const name = fmt === 'csv' ? KIND_ZH[list] : '信用等级与红黑名单';
    return download(reply, fmt, body, `${name}_${when}_第${p.version}版`, `credit-list-${p.id}${fmt === 'csv' ? `-${list}` : ''}_${periodText({ from: p.periodFrom, to: p.periodTo }, '_')}_v${p.version}`);
  });
};
