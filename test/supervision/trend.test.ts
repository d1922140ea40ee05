// The quarterly trend of the maintenance units (GET /api/v1/scorecards/trend)
// on the deterministic interview city: exact counts per CST calendar quarter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Trend, UnitTrend } from '../../supervision/trend.js';
import { api, startTestService, type TestService } from '../helpers.js';
import { seedInterviewCity } from './city.js';

let s: TestService;

beforeAll(async () => {
  s = await startTestService();
  await seedInterviewCity(s);
});
afterAll(async () => {
  await s?.cleanup();
});

const zero = (quarter: string, complaintRate: number | null = 0) => ({ quarter, first: 0, passed: 0, passRate: null, complaints: 0, complaintRate });
const unit = (t: Trend, u: string) => t.items.find((i) => i.unit === u) as UnitTrend;

describe('scorecard trend', () => {
  it("gives every unit every quarter of 2025, with the year's counts in their quarters", async () => {
    const r = await api(s, 'GET', '/api/v1/scorecards/trend?to=2026-01-01&quarters=4');
    expect(r.status).toBe(200);
    const t = r.body as Trend;
    expect(t.quarters).toEqual(['2025Q1', '2025Q2', '2025Q3', '2025Q4']);
    for (const i of t.items) expect(i.points.map((p) => p.quarter)).toEqual(t.quarters);
    expect(t.items.map((i) => i.unit)).toEqual(expect.arrayContaining(['U_LOW', 'U_COMPL', 'U_NONE', 'U_MAINT']));
    // U_LOW: ten first inspections on 2025-03-01..03-10, six passed.
    expect(unit(t, 'U_LOW')).toEqual({
      unit: 'U_LOW', name: 'U_LOW 电梯维保有限公司',
      points: [{ quarter: '2025Q1', first: 10, passed: 6, passRate: 0.6, complaints: 0, complaintRate: 0 }, zero('2025Q2'), zero('2025Q3'), zero('2025Q4')],
    });
    // U_COMPL: nine of ten passed in Q1; its one complaint (2025-06-01) in Q2, per 100 of its 10 elevators.
    expect(unit(t, 'U_COMPL').points).toEqual([
      { quarter: '2025Q1', first: 10, passed: 9, passRate: 0.9, complaints: 0, complaintRate: 0 },
      { quarter: '2025Q2', first: 0, passed: 0, passRate: null, complaints: 1, complaintRate: 10 },
      zero('2025Q3'), zero('2025Q4'),
    ]);
    // below the minimum sample: no rate; re-inspections (Q2) are not first inspections; records without a unit count for the registry's
    expect(unit(t, 'U_FEW').points[0]).toMatchObject({ first: 4, passed: 0, passRate: null });
    expect(unit(t, 'U_REIN').points.map((p) => p.first)).toEqual([10, 0, 0, 0]);
    expect(unit(t, 'U_FALLBACK').points[0]).toMatchObject({ first: 5, passed: 2, passRate: 0.4 });
    expect(unit(t, 'U_NONE').points).toEqual([zero('2025Q1'), zero('2025Q2'), zero('2025Q3'), zero('2025Q4')]);
  });

  it('cuts quarters in China Standard Time and filters by unit', async () => {
    const r = await api(s, 'GET', '/api/v1/scorecards/trend?unit=U_LOW&to=2026-03-15&quarters=6');
    expect(r.status).toBe(200);
    expect(r.body.quarters).toEqual(['2024Q4', '2025Q1', '2025Q2', '2025Q3', '2025Q4', '2026Q1']);
    expect(r.body.items).toHaveLength(1);
    // 2024-12-31 23:00 CST is 2024Q4; 2026-01-01 01:00 CST (still 2025 in UTC) is 2026Q1
    expect(r.body.items[0].points.map((p: { first: number }) => p.first)).toEqual([1, 10, 0, 0, 0, 1]);
  });

  it('defaults to eight quarters ending with the current one', async () => {
    const r = await api(s, 'GET', '/api/v1/scorecards/trend?unit=U_LOW');
    expect(r.status).toBe(200);
    const now = new Date(Date.now() + 8 * 3_600_000);
    expect(r.body.quarters).toHaveLength(8);
    expect(r.body.quarters[7]).toBe(`${now.getUTCFullYear()}Q${Math.floor(now.getUTCMonth() / 3) + 1}`);
  });

  it('answers 400 for a bad parameter and 404 for an unknown unit', async () => {
    for (const q of ['quarters=0', 'quarters=21', 'quarters=abc', 'to=2025-13-01', 'unit=']) {
      const r = await api(s, 'GET', `/api/v1/scorecards/trend?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error, q).toBe('invalid request');
      expect(r.body.issues.join(' '), q).toMatch(/quarters|to|unit/);
    }
    const r = await api(s, 'GET', '/api/v1/scorecards/trend?unit=NOPE');
    expect(r.status).toBe(404);
    expect(r.body.error).toContain('NOPE');
  });
});
