// Risk levels and double-random spot checks over HTTP. Reads for every
// signed-in user (an inspector sees their districts' elevators); draws for
// administrators and inspectors; a check's result by its own inspector (or an
// administrator); the published results (一公开) without sign-in.
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { actorOf, inScope } from '../common/access.js';
import type { Registry } from '../registry/registry.js';
import { RISK_LEVEL_ZH, RISK_LEVELS, type RiskLevels } from './risk.js';
import { SpotCheckError, type Candidate, type Inspector, type PublishedCheck, type SpotChecks } from './spot-checks.js';
import { contentDisposition } from './export-routes.js';
import { csv, tableXlsx, type Column } from './exports.js';
import { idParams } from './routes.js';

export interface SpotCheckRouteOptions {
  risk: RiskLevels;
  spotChecks: SpotChecks;
  registry: Registry;
  /** the inspectors who may be drawn (users are a higher layer's: the dashboard passes them) */
  inspectors: () => Inspector[];
}

/** Every elevator with its level, as draw candidates. */
export async function candidates(risk: RiskLevels, registry: Registry): Promise<Candidate[]> {
  return (await risk.current()).items.map((i) => ({
    code: i.code, unit: i.maintenanceUnit, unitName: registry.units.get(i.maintenanceUnit)?.name ?? null, district: i.district, address: i.address, level: i.level,
  }));
}

const RESULT_ZH = { passed: '合格', problems: '发现问题' } as const;
const PUBLIC_COLUMNS: Column<PublishedCheck>[] = [
  { header: '电梯注册代码', width: 22, format: 'text', value: (c) => c.code },
  { header: '地址', width: 40, format: 'text', value: (c) => c.address },
  { header: '维保单位', width: 30, format: 'text', value: (c) => c.unitName },
  { header: '检查日期', width: 14, format: 'text', value: (c) => c.checkedOn },
  { header: '检查结果', width: 12, format: 'text', value: (c) => RESULT_ZH[c.result] },
  { header: '抽查批次', width: 10, format: 'int', value: (c) => c.drawId },
];

const riskQuery = z.object({
  level: z.enum(RISK_LEVELS).optional(), district: z.string().min(1).max(64).optional(), unit: z.string().min(1).max(64).optional(),
  page: z.coerce.number().int().min(1).default(1), pageSize: z.coerce.number().int().min(1).max(500).default(50),
});
const publicQuery = z.object({ draw: z.coerce.number().int().positive().optional() });

export const riskRoutes: FastifyPluginAsync<SpotCheckRouteOptions> = async (app, opts) => {
  const { risk } = opts;
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get('/api/v1/risk', { schema: { summary: 'Elevators by risk level (highest score first), filterable; counts per level', querystring: riskQuery } }, async (req) =>
    ({ ...(await risk.list({ ...req.query, districts: req.principal.districts })), levelsZh: RISK_LEVEL_ZH }));
  r.get('/api/v1/risk/scoring', { schema: { summary: 'The risk scoring: weights, age points, thresholds, period' } }, async () => risk.config);
  r.get('/api/v1/risk/districts', { schema: { summary: 'Elevators per district and risk level (the district map)' } }, async (req) =>
    Object.fromEntries(Object.entries(await risk.byDistrict()).filter(([d]) => inScope(req.principal, d))));
  r.get('/api/v1/risk/levels', {
    schema: { summary: 'Levels and scores of these elevators (a page of the equipment list)', querystring: z.object({ codes: z.string().max(20_000).transform((v) => v.split(',').filter(Boolean).slice(0, 500)) }) },
  }, async (req) => {
    const s = await risk.current();
    const levels: Record<string, { level: string; score: number }> = {};
    for (const code of req.query.codes) {
      const e = s.byCode.get(code);
      if (e && inScope(req.principal, e.district)) levels[code] = { level: e.level, score: e.score };
    }
    return { levels };
  });
  r.get('/api/v1/risk/:code', { schema: { summary: 'One elevator\'s risk level with the points of each factor', params: z.object({ code: z.string().min(1).max(32) }) } }, async (req, reply) => {
    const e = await risk.of(req.params.code); // RiskError 404 through the app's error handler
    return inScope(req.principal, e.district) ? e : reply.code(404).send({ error: `elevator ${req.params.code} is not registered` });
  });
};

export const spotCheckRoutes: FastifyPluginAsync<SpotCheckRouteOptions> = async (app, opts) => {
  const { spotChecks, risk, registry } = opts;
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post('/api/v1/spot-checks/draws', {
    schema: { summary: 'Draw N elevators or units weighted by risk level and assign inspectors at random (201: the draw with its seed)', body: z.record(z.string(), z.unknown()) },
  }, async (req, reply) => {
    const { by: _by, ...params } = req.body;
    const drawn = spotChecks.draw(params, { candidates: await candidates(risk, registry), inspectors: opts.inspectors(), by: actorOf(req, req.body.by) });
    (req as { auditDetails?: unknown }).auditDetails = { id: drawn.draw.id, seed: drawn.draw.seed };
    return reply.code(201).send(drawn);
  });
  r.get('/api/v1/spot-checks/draws', {
    schema: { querystring: z.object({ page: z.coerce.number().int().min(1).default(1), pageSize: z.coerce.number().int().min(1).max(100).default(20) }) },
  }, async (req) => spotChecks.draws(req.query));
  r.get('/api/v1/spot-checks/draws/:id', { schema: { params: idParams } }, async (req, reply) =>
    spotChecks.get(req.params.id) ?? reply.code(404).send({ error: `spot-check draw ${req.params.id} not found` }));
  r.post('/api/v1/spot-checks/:id/result', {
    schema: { summary: 'Record a check\'s result (its own inspector, or an administrator)', params: idParams, body: z.record(z.string(), z.unknown()) },
  }, async (req) => {
    if (req.principal.role === 'viewer') throw new SpotCheckError('a viewer may not record results', 403);
    return spotChecks.record(req.params.id, req.body, actorOf(req, req.body.by), req.principal.role === 'admin');
  });
};

/** The published results (一公开): no sign-in, only public fields. */
export const publicSpotCheckRoutes: FastifyPluginAsync<{ spotChecks: SpotChecks }> = async (app, opts) => {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get('/api/v1/public/spot-checks', { schema: { summary: 'Published spot-check results (no sign-in)', security: [], querystring: publicQuery } }, async (req) =>
    ({ items: opts.spotChecks.published({ drawId: req.query.draw }) }));
  r.get('/api/v1/public/spot-checks/export', {
    schema: { summary: 'Published spot-check results as CSV or XLSX (no sign-in)', security: [], querystring: publicQuery.extend({ format: z.enum(['csv', 'xlsx']).default('xlsx') }) },
  }, async (req, reply) => {
    const rows = opts.spotChecks.published({ drawId: req.query.draw, limit: 10_000 });
    const fmt = req.query.format;
    const body = fmt === 'csv' ? csv(PUBLIC_COLUMNS, rows) : await tableXlsx('抽查结果', '“双随机、一公开”电梯监督抽查结果', PUBLIC_COLUMNS, rows);
    const type = fmt === 'csv' ? 'text/csv; charset=utf-8' : 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
    return reply.type(type).header('content-disposition', contentDisposition('attachment', `电梯监督抽查结果.${fmt}`, `spot-checks.${fmt}`)).send(body);
  });
};
