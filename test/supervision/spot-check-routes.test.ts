// Risk levels and spot checks through the real service's HTTP API: inspectors
// from the accounts as the pool, the draw by an inspector, results only by
// the assigned inspector, viewers read, the audit log, and the published
// results without sign-in (JSON, CSV, XLSX) with nothing beyond the public fields.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import { api, startTestService, type TestService } from '../helpers.js';

let s: TestService;
const PW = 'correct horse battery';
const bearer = (t: string) => ({ authorization: `Bearer ${t}`, 'content-type': 'application/json' });
const tokens: Record<string, string> = {};

beforeAll(async () => {
  s = await startTestService();
  const put = async (entity: string, body: unknown) => expect((await api(s, 'POST', `/api/v1/${entity}`, body)).status).toBe(201);
  await put('units', { id: 'U1', name: '安达电梯维保' });
  for (let i = 0; i < 6; i++) await put('elevators', { code: `R${i}`, address: `测试路 ${i} 号`, district: i < 3 ? '北塔区' : '大祥区', userUnit: '物业', maintenanceUnit: 'U1', installedOn: i === 0 ? '2000-01-01' : '2024-01-01' });
  for (const [username, role, districts] of [['zhang', 'inspector', ['北塔区']], ['wang', 'inspector', ['大祥区']], ['li', 'inspector', ['北塔区', '大祥区']], ['guest', 'viewer', undefined]] as const) {
    expect((await api(s, 'POST', '/api/v1/users', { username, role, password: PW, ...(districts ? { districts } : {}) })).status).toBe(201);
    tokens[username] = (await api(s, 'POST', '/api/v1/session', { username, password: PW, bearer: true }, { 'content-type': 'application/json' })).body.token;
  }
});
afterAll(async () => {
  await s?.cleanup();
});

describe('risk and spot-check API', () => {
  it('lists risk levels with factors, filtered by level and district, scoped to an inspector\'s districts', async () => {
    const all = (await api(s, 'GET', '/api/v1/risk')).body;
    expect(all.total).toBe(6);
    expect(all.items[0]).toMatchObject({ code: 'R0', level: 'general', score: 10, factors: [{ factor: 'age', points: 10 }] }); // 26 years: 10 points (the cap)
    expect((await api(s, 'GET', '/api/v1/risk?district=大祥区')).body.counts).toEqual({ high: 0, elevated: 0, general: 0, low: 3 });
    expect((await api(s, 'GET', '/api/v1/risk?level=high')).body.total).toBe(0);
    expect((await api(s, 'GET', '/api/v1/risk/R0')).body).toMatchObject({ code: 'R0', inputs: { ageYears: 26 } });
    expect((await api(s, 'GET', '/api/v1/risk', undefined, bearer(tokens.wang!))).body.total).toBe(3); // wang: 大祥区 only
    expect((await api(s, 'GET', '/api/v1/risk/R0', undefined, bearer(tokens.wang!))).status).toBe(404);
    expect((await api(s, 'GET', '/api/v1/risk/districts')).body).toEqual({ 北塔区: { high: 0, elevated: 0, general: 1, low: 2 }, 大祥区: { high: 0, elevated: 0, general: 0, low: 3 } });
    expect((await api(s, 'GET', '/api/v1/risk/scoring')).body.weights.entrapments).toBe(3);
  });

  it('draws by an inspector (audited with its seed), results only by the assigned inspector, published without sign-in', async () => {
    expect((await api(s, 'POST', '/api/v1/spot-checks/draws', { n: 2, from: '2026-01-01', to: '2026-07-01' }, bearer(tokens.guest!))).status).toBe(403);
    const bad = await api(s, 'POST', '/api/v1/spot-checks/draws', { n: 0, from: '2026-01-01', to: '2026-07-01' }, bearer(tokens.zhang!));
    expect(bad).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^n: /) } });
    const r = await api(s, 'POST', '/api/v1/spot-checks/draws', { n: 4, from: '2026-01-01', to: '2026-07-01', seed: 42 }, bearer(tokens.zhang!));
    expect(r.status).toBe(201);
    expect(r.body.draw).toMatchObject({ seed: 42, n: 4, drawnBy: 'zhang' });
    expect(r.body.draw.params.inspectors.map((i: { username: string }) => i.username).sort()).toEqual(['li', 'wang', 'zhang']);
    const checks = r.body.checks as { id: number; code: string; district: string; inspector: string }[];
    expect(checks).toHaveLength(4);
    for (const c of checks) expect(({ zhang: ['北塔区'], wang: ['大祥区'], li: ['北塔区', '大祥区'] } as Record<string, string[]>)[c.inspector]).toContain(c.district);
    const audit = (await api(s, 'GET', '/api/v1/audit?pageSize=50')).body.items as { action: string; actor: string; target: string; details: Record<string, unknown> }[];
    expect(audit.find((e) => e.action === 'spot-check.draw')).toMatchObject({ target: `spot-check-draw:${r.body.draw.id}`, details: { n: 4, seed: 42, id: r.body.draw.id } });

    const [c] = checks;
    const other = Object.keys(tokens).find((u) => u !== c!.inspector && u !== 'guest')!;
    const refused = await api(s, 'POST', `/api/v1/spot-checks/${c!.id}/result`, { result: 'passed', checkedOn: '2026-02-01' }, bearer(tokens[other]!));
    expect(refused).toMatchObject({ status: 403, body: { error: expect.stringContaining(`assigned to ${c!.inspector}`) } });
    const ok = await api(s, 'POST', `/api/v1/spot-checks/${c!.id}/result`, { result: 'problems', problems: '安全钳动作试验不合格', checkedOn: '2026-02-01' }, bearer(tokens[c!.inspector]!));
    expect(ok).toMatchObject({ status: 200, body: { result: 'problems', recordedBy: c!.inspector } });
    expect((await api(s, 'GET', `/api/v1/spot-checks/draws/${r.body.draw.id}`, undefined, bearer(tokens.guest!))).body.checks[0].result).toBe('problems');
    const results = (await api(s, 'GET', `/api/v1/audit?target=spot-check:${c!.id}`)).body.items as { action: string; actor: string }[];
    expect(results.map((e) => `${e.action}:${e.actor}`)).toEqual([`spot-check.result:${c!.inspector}`]); // the refused attempt is not a change

    const pub = await fetch(`${s.httpUrl}/api/v1/public/spot-checks`);
    expect(pub.status).toBe(200);
    const items = ((await pub.json()) as { items: Record<string, unknown>[] }).items;
    expect(items).toEqual([{ drawId: r.body.draw.id, periodFrom: '2026-01-01', periodTo: '2026-07-01', code: c!.code, address: expect.any(String), unitName: '安达电梯维保', checkedOn: '2026-02-01', result: 'problems' }]);
    const csvBytes = Buffer.from(await (await fetch(`${s.httpUrl}/api/v1/public/spot-checks/export?format=csv`)).arrayBuffer());
    expect(new TextDecoder('utf-8', { ignoreBOM: true }).decode(csvBytes)).toBe(`\uFEFF电梯注册代码,地址,维保单位,检查日期,检查结果,抽查批次\r\n${c!.code},${items[0]!.address},安达电梯维保,2026-02-01,发现问题,${r.body.draw.id}\r\n`);
    const x = await fetch(`${s.httpUrl}/api/v1/public/spot-checks/export`);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(Buffer.from(await x.arrayBuffer()) as never);
    expect(wb.worksheets[0]!.getRow(3).getCell(1).value).toBe(c!.code);
    // The API document says which need no sign-in.
    const doc = (await (await fetch(`${s.httpUrl}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, { security?: unknown[]; tags?: string[] }>> };
    expect(doc.paths['/api/v1/public/spot-checks']!.get).toMatchObject({ security: [], tags: ['supervision'] });
    expect(doc.paths['/api/v1/spot-checks/draws']!.post!.security).toBeUndefined();
    // The rest of the API still needs a sign-in.
    expect((await fetch(`${s.httpUrl}/api/v1/spot-checks/draws`)).status).toBe(401);
  });
});
