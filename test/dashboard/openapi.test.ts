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
    for (const p of ['/api/v1/alerts', '/api/v1/alerts/{id}/ack', '/api/v1/session', '/api/v1/users', '/api/v1/audit', '/api/v1/elevators', '/api/v1/interview-cases/{id}/published', '/api/v1/interview-cases/{id}/scheduled', '/api/v1/interview-cases/{id}/closed', '/api/v1/scorecards']) expect(Object.keys(doc.paths)).toContain(p);
    expect(doc.paths['/api/v1/alerts']!.get!.tags).toEqual(['alerts']);
    expect(doc.paths['/api/v1/elevators']!.post!.tags).toEqual(['registry']);
    expect(doc.paths['/api/v1/scorecards']!.get!.tags).toEqual(['supervision']);
    expect(doc.paths['/api/v1/audit']!.get!.parameters!.map((p) => p.name)).toEqual(expect.arrayContaining(['actor', 'action', 'target', 'page', 'pageSize']));
    const login = doc.paths['/api/v1/session']!.post!.requestBody!.content['application/json']!.schema;
    expect(login.required).toEqual(expect.arrayContaining(['username', 'password']));
    // bodies the handlers validate themselves are still described from their zod schemas
    const json = (path: string, method: string) => doc.paths[path]![method]!.requestBody!.content['application/json']!.schema;
    const create = json('/api/v1/elevators', 'post');
    expect(Object.keys(create.properties!)).toEqual(expect.arrayContaining(['code', 'address', 'district', 'userUnit', 'maintenanceUnit', 'nextInspectionDue', 'maintenanceIntervalDays']));
    expect(create.required).toEqual(expect.arrayContaining(['code', 'maintenanceUnit']));
    const replace = json('/api/v1/elevators/{key}', 'put');
    expect(Object.keys(replace.properties!)).toContain('address');
    expect(replace.required ?? []).not.toContain('code'); // the key comes from the path
    const patch = json('/api/v1/elevators/{key}', 'patch');
    expect(Object.keys(patch.properties!)).toEqual(expect.arrayContaining(['address', 'maintenanceIntervalDays']));
    expect(patch.required ?? []).toEqual([]);
    expect(patch.properties!.maintenanceIntervalDays).not.toHaveProperty('default'); // a field left out is kept, not reset
    expect(Object.keys(doc.paths['/api/v1/elevators/import']!.post!.requestBody!.content)).toEqual(expect.arrayContaining(['text/csv', 'application/x-ndjson']));
    const scheduled = json('/api/v1/interview-cases/{id}/scheduled', 'post');
    expect(Object.keys(scheduled.properties!)).toEqual(expect.arrayContaining(['by', 'scheduledAt', 'place', 'attendees']));
    expect(scheduled.required).toEqual(expect.arrayContaining(['scheduledAt', 'place', 'attendees']));
    expect(scheduled.required).not.toContain('by'); // defaults to the signed-in user
    expect(Object.keys(json('/api/v1/interview-cases/{id}/closed', 'post').properties!)).toContain('conclusion');
    // protocol v1.1: the hazard records and the hazard book
    expect(doc.paths['/api/v1/hazards']!.get!.tags).toEqual(['supervision']);
    expect(doc.paths['/api/v1/hazards']!.get!.parameters!.map((p) => p.name)).toEqual(expect.arrayContaining(['state', 'level', 'unit', 'elevator', 'page']));
    for (const p of ['/api/v1/hazards/{id}', '/api/v1/hazards/by-unit/{unit}', '/api/v1/hazards/by-elevator/{code}', '/api/v1/hazards/unmatched']) expect(Object.keys(doc.paths)).toContain(p);
    expect((doc.paths['/api/v1/ingest/{*}']!.post as { description?: string }).description).toMatch(/se\/v1\/records\/hazard.*v1\.1 added se\/v1\/records\/hazard/);
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
