// Registry over HTTP: CRUD, pagination, bulk import with a per-row error
// report, secrets shown once, persistence across a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, api, startTestService, testEnv, type TestService } from '../helpers.js';

let s: TestService;
const env = testEnv();

beforeAll(async () => {
  s = await startTestService({}, env);
});
afterAll(async () => s?.cleanup());

describe('registry API', () => {
  it('needs the admin token', async () => {
    const r = await api(s, 'GET', '/api/v1/units', undefined, {});
    expect(r.status).toBe(401);
    expect(r.body.error).toMatch(/admin token/);
  });

  it('creates, reads, updates, deletes and refuses bad input with a reason', async () => {
    expect((await api(s, 'POST', '/api/v1/units', { id: 'MU1', name: '一号维保' })).status).toBe(201);
    expect((await api(s, 'POST', '/api/v1/units', { id: 'MU1', name: 'again' })).status).toBe(409);
    const bad = await api(s, 'POST', '/api/v1/elevators', { code: 'E 1', address: 'x', district: 'd', userUnit: 'u', maintenanceUnit: 'MU9' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/code/);
    const noUnit = await api(s, 'POST', '/api/v1/elevators', { code: 'E1', address: 'x', district: 'd', userUnit: 'u', maintenanceUnit: 'MU9' });
    expect(noUnit.body.error).toMatch(/unknown maintenance unit MU9/);
    expect((await api(s, 'POST', '/api/v1/elevators', { code: 'E1', address: 'x', district: '大祥区', userUnit: 'u', maintenanceUnit: 'MU1' })).status).toBe(201);
    const patched = await api(s, 'PATCH', '/api/v1/elevators/E1', { nextInspectionDue: '2027-05-01', maintenanceIntervalDays: 30 });
    expect(patched.body).toMatchObject({ code: 'E1', nextInspectionDue: '2027-05-01', maintenanceIntervalDays: 30 });
    expect((await api(s, 'GET', '/api/v1/elevators/E1')).body.maintenanceIntervalDays).toBe(30);
    expect((await api(s, 'DELETE', '/api/v1/elevators/E1')).status).toBe(204);
    expect((await api(s, 'GET', '/api/v1/elevators/E1')).status).toBe(404);
  });

  it('imports CSV: good rows land, bad rows are reported by row number', async () => {
    const rows = ['code,address,district,userUnit,maintenanceUnit,nextInspectionDue'];
    for (let i = 1; i <= 120; i++) rows.push(`C${String(i).padStart(4, '0')},解放路${i}号,${i % 2 ? '双清区' : '北塔区'},物业,MU1,2027-01-15`);
    rows.push('BAD CODE,x,双清区,物业,MU1,');
    rows.push('C9999,x,双清区,物业,MU404,');
    rows.push('0042,数字代码,双清区,物业,MU1,not-a-date');
    const r = await api(s, 'POST', '/api/v1/elevators/import', rows.join('\n'), { ...admin, 'content-type': 'text/csv' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ total: 123, imported: 120, failed: 3 });
    expect(r.body.errors.map((e: { row: number }) => e.row)).toEqual([122, 123, 124]);
    expect(r.body.errors[1].error).toMatch(/MU404/);
  });

  it('imports NDJSON, reporting unparsable lines', async () => {
    const body = [JSON.stringify({ code: 'N1', address: 'a', district: '北塔区', userUnit: 'u', maintenanceUnit: 'MU1' }), '{oops', JSON.stringify({ code: 'N2', address: 'a', district: '北塔区', userUnit: 'u', maintenanceUnit: 'MU1' })].join('\n');
    const r = await api(s, 'POST', '/api/v1/elevators/import', body, { ...admin, 'content-type': 'application/x-ndjson' });
    expect(r.body).toMatchObject({ total: 3, imported: 2, failed: 1 });
    expect(r.body.errors[0]).toMatchObject({ row: 2 });
  });

  it('lists with pagination and filters', async () => {
    const p1 = await api(s, 'GET', '/api/v1/elevators?pageSize=50&district=双清区');
    expect(p1.body.total).toBe(60);
    expect(p1.body.items).toHaveLength(50);
    const p2 = await api(s, 'GET', '/api/v1/elevators?pageSize=50&page=2&district=双清区');
    expect(p2.body.items).toHaveLength(10);
    expect(new Set([...p1.body.items, ...p2.body.items].map((e: { code: string }) => e.code)).size).toBe(60);
    expect((await api(s, 'GET', '/api/v1/elevators?pageSize=9999')).status).toBe(400);
  });

  it('shows a secret once and never returns it again', async () => {
    await api(s, 'POST', '/api/v1/gateways', { id: 'GW9', elevators: ['C0001', 'C0002'] });
    const issued = await api(s, 'POST', '/api/v1/gateways/GW9/secret');
    expect(issued.body.secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const gw = await api(s, 'GET', '/api/v1/gateways/GW9');
    expect(JSON.stringify(gw.body)).not.toContain(issued.body.secret);
    expect((await api(s, 'POST', '/api/v1/gateways', { id: 'GW8', elevators: ['NOPE'] })).body.error).toMatch(/not registered: NOPE/);
  });

  it('persists across a restart', async () => {
    await s.stop();
    s = await startTestService({}, env);
    expect((await api(s, 'GET', '/api/v1/elevators?pageSize=1')).body.total).toBe(122);
    expect(s.registry.principal('GW9')).toMatchObject({ kind: 'gateway' });
  });
});
