// Registry HTTP API: create, read, update, delete and list (paginated) every
// entity; bulk import from CSV or NDJSON with a per-row error report; issue a
// gateway's or partner's secret (shown once).
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ENTITIES, type EntityName } from './schemas.js';
import { RegistryError, type Registry } from './registry.js';
import { parseRows, type ImportFormat } from './import.js';
import { inScope } from '../common/access.js';

const listQuery = z.object({
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(500).default(50),
  q: z.string().optional(),
}).catchall(z.string());

const keyParams = z.object({ key: z.string().min(1).max(64) });

/** A PATCH body: every field optional, and without defaults (a field left out is kept, not reset). */
const patchBody = (schema: z.ZodObject) =>
  z.object(Object.fromEntries(Object.entries(schema.shape).map(([k, v]) => [k, (v instanceof z.ZodDefault ? v.unwrap() : v).optional()])));

export const registryRoutes: FastifyPluginAsync<{ registry: Registry }> = async (app, opts) => {
  const { registry } = opts;
  const r = app.withTypeProvider<ZodTypeProvider>();
  app.addContentTypeParser(['text/csv', 'application/x-ndjson', 'text/plain'], { parseAs: 'string', bodyLimit: 64 * 1024 * 1024 }, (_req, body, done) => done(null, body));

  // Reads: elevators and gas sites are filtered to the caller's districts (an
  // inspector sees only theirs); writes need the admin role (checked by the caller's onRequest hook, before the body is read).
  const districted = new Set<EntityName>(['elevators', 'gas-sites']);
  for (const name of Object.keys(ENTITIES) as EntityName[]) {
    const col = registry.collection(name);
    const base = `/api/v1/${name}`;
    r.get(base, { schema: { querystring: listQuery } }, async (req) => {
      const { page, pageSize, q, ...rest } = req.query;
      const filter = Object.fromEntries(ENTITIES[name].filters.map((f) => [f, rest[f]]));
      const p = req.principal;
      const where = p && districted.has(name) && p.districts !== null ? (it: Record<string, unknown>) => inScope(p, it.district as string | undefined) : undefined;
      return col.list({ page, pageSize, q, filter, where });
    });
    r.get(`${base}/:key`, { schema: { params: keyParams } }, async (req) => {
      const item = col.get(req.params.key);
      if (!item || (districted.has(name) && req.principal && !inScope(req.principal, (item as { district?: string }).district))) throw new RegistryError(`${name} ${req.params.key} not found`, 404);
      return item;
    });
    // Writes validate the body in the registry (col.put), which answers 400
    // with every bad field named ("code: …; district: …") and checks what a
    // schema cannot (unknown maintenance unit, unregistered codes); the zod
    // schemas are named here for the OpenAPI document (documentedBody).
    const { schema, key } = ENTITIES[name] as { schema: z.ZodObject; key: string };
    r.post(base, { schema: { summary: `Create one of ${name}`, documentedBody: schema } }, async (req, reply) => reply.code(201).send(col.put(req.body, 'create')));
    r.put(`${base}/:key`, { schema: { summary: `Create or replace one of ${name} (the key is taken from the path)`, params: keyParams, documentedBody: schema.partial({ [key]: true } as never) } }, async (req) => {
      const body = { ...(req.body as object), [key]: req.params.key };
      return col.put(body);
    });
    r.patch(`${base}/:key`, { schema: { summary: `Change some fields of one of ${name}`, params: keyParams, documentedBody: patchBody(schema) } }, async (req) => col.patch(req.params.key, req.body as Record<string, unknown>));
    r.delete(`${base}/:key`, { schema: { params: keyParams } }, async (req, reply) => {
      col.remove(req.params.key);
      return reply.code(204).send();
    });
    const importBody = z.string().describe(`CSV with a header row naming the columns (${Object.keys(schema.shape).join(', ')}), or NDJSON: one JSON object per line. Each row is validated like a single create or replace; bad rows are reported by row number.`);
    r.post(`${base}/import`, { schema: { summary: `Import ${name} from CSV or NDJSON`, consumes: ['text/csv', 'application/x-ndjson'], documentedBody: importBody } }, async (req, reply) => {
      const ct = String(req.headers['content-type'] ?? '');
      const format: ImportFormat = ct.includes('csv') ? 'csv' : 'ndjson';
      if (typeof req.body !== 'string') return reply.code(415).send({ error: 'send the file as text/csv or application/x-ndjson' });
      const { rows, errors: parseErrors } = parseRows(req.body, format);
      const errors = [...parseErrors, ...col.putMany(rows)].sort((a, b) => a.row - b.row);
      return { total: rows.length + parseErrors.length, imported: rows.length - (errors.length - parseErrors.length), failed: errors.length, errors: errors.slice(0, 1000) };
    });
  }

  for (const name of ['gateways', 'partners'] as const) {
    r.post(`/api/v1/${name}/:key/secret`, { schema: { params: keyParams } }, async (req) => {
      if (!registry.collection(name).get(req.params.key)) throw new RegistryError(`${name} ${req.params.key} not found`, 404);
      const secret = registry.issueSecret(req.params.key);
      return { id: req.params.key, secret, note: 'Store this secret now: it is shown only once. Issuing again replaces it.' };
    });
  }
};
