// The OpenAPI document is generated from the routes' zod schemas and served
// at /api/openapi.json; Swagger UI at /api/docs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from '../helpers.js';

let s: TestService;
beforeAll(async () => {
  s = await startTestService();
}, 60_000);
afterAll(async () => {
  await s?.cleanup();
});

describe('OpenAPI', () => {
  it('serves a valid OpenAPI 3 document listing the API, tagged by area, with zod-derived parameters', async () => {
    const r = await fetch(`${s.httpUrl}/api/openapi.json`);
    expect(r.status).toBe(200);
    const doc = JSON.parse(await r.text()) as { openapi: string; paths: Record<string, Record<string, { tags?: string[]; parameters?: { name: string; in: string }[]; requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown>; required?: string[] } }> } }>> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const p of ['/api/v1/alerts', '/api/v1/alerts/{id}/ack', '/api/v1/session', '/api/v1/users', '/api/v1/audit', '/api/v1/elevators', '/api/v1/interview-cases/{id}/{step}', '/api/v1/scorecards']) expect(Object.keys(doc.paths)).toContain(p);
    expect(doc.paths['/api/v1/alerts']!.get!.tags).toEqual(['alerts']);
    expect(doc.paths['/api/v1/elevators']!.post!.tags).toEqual(['registry']);
    expect(doc.paths['/api/v1/scorecards']!.get!.tags).toEqual(['supervision']);
    expect(doc.paths['/api/v1/audit']!.get!.parameters!.map((p) => p.name)).toEqual(expect.arrayContaining(['actor', 'action', 'target', 'page', 'pageSize']));
    const login = doc.paths['/api/v1/session']!.post!.requestBody!.content['application/json']!.schema;
    expect(login.required).toEqual(expect.arrayContaining(['username', 'password']));
    // every operation has a tag; the UI and docs assets are not in the document
    for (const [path, ops] of Object.entries(doc.paths)) {
      expect(path.startsWith('/api/docs')).toBe(false);
      for (const op of Object.values(ops)) expect(op.tags?.length, path).toBeGreaterThan(0);
    }
  });

  it('serves Swagger UI at /api/docs without signing in', async () => {
    const r = await fetch(`${s.httpUrl}/api/docs/`);
    expect(r.status).toBe(200);
    expect(await r.text()).toMatch(/swagger/i);
  });
});
