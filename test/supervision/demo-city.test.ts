// The simulated city's interview list matches what its generated records say:
// the generator's per-unit pass rates and complaints, counted independently
// from the records it produced, against the service's list through the API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cstMidnight } from '../../domain/time.js';
import { backfillRecords, postRecords } from '../../simulators/backfill.js';
import { generateCity, registerCity } from '../../simulators/city.js';
import { api, startTestService, waitFor, type TestService } from '../helpers.js';

let s: TestService;
const city = generateCity({ seed: 11, elevators: 600, units: 12, gasSites: 0 });
const period = { from: '2025-01-01', to: '2026-01-01' };
const from = cstMidnight(period.from);
const to = cstMidnight(period.to);

beforeAll(async () => {
  s = await startTestService();
  registerCity(s.registry, city);
  const p = await postRecords(s.httpUrl, s.adminToken, backfillRecords(city, { seed: 11, from: from - 30 * 86_400_000, to: to + 30 * 86_400_000 }));
  expect(p.rejected).toBe(0);
  await waitFor(async () => s.spool.depthCount, (n) => n === 0, 60_000);
}, 120_000);
afterAll(async () => {
  await s?.cleanup();
});

describe('the demo city', () => {
  it('gets the interview list its generated records call for', async () => {
    const unitOf = new Map(city.elevators.map((e) => [e.code, e.maintenanceUnit]));
    const elevators = new Map<string, number>();
    for (const e of city.elevators) elevators.set(e.maintenanceUnit, (elevators.get(e.maintenanceUnit) ?? 0) + 1);
    const first = new Map<string, { n: number; pass: number }>();
    const complaints = new Map<string, number>();
    for (const { topic, payload } of backfillRecords(city, { seed: 11, from: from - 30 * 86_400_000, to: to + 30 * 86_400_000 })) {
      const r = payload as { ts: number; unit?: string; elevator?: string; kind?: string; attempt?: number; result?: string };
      if (r.ts < from || r.ts >= to) continue;
      const unit = r.unit ?? unitOf.get(r.elevator!)!;
      if (topic.endsWith('/inspection') && r.kind === 'periodic' && r.attempt === 1) {
        const f = first.get(unit) ?? { n: 0, pass: 0 };
        f.n++;
        if (r.result === 'pass') f.pass++;
        first.set(unit, f);
      } else if (topic.endsWith('/complaint')) complaints.set(unit, (complaints.get(unit) ?? 0) + 1);
    }
    const expected = city.units.map((u) => {
      const f = first.get(u.id) ?? { n: 0, pass: 0 };
      const reasons: string[] = [];
      if (f.n >= 5 && f.pass / f.n < 0.7) reasons.push('pass_rate');
      if (((complaints.get(u.id) ?? 0) / elevators.get(u.id)!) * 100 >= 5) reasons.push('complaint_rate');
      return [u.id, reasons] as const;
    }).filter(([, r]) => r.length);

    const list = (await api(s, 'POST', '/api/v1/interview-lists', period)).body;
    const got = list.units.map((u: { unit: string; reasons: { criterion: string }[] }) => [u.unit, u.reasons.map((r) => r.criterion)]);
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(expected));
    expect(expected.length).toBeGreaterThan(0); // the generated city has units to summon …
    expect(expected.length).toBeLessThan(city.units.length); // … and units that do fine

    const cards = (await api(s, 'GET', `/api/v1/scorecards?from=${period.from}&to=${period.to}`)).body.items as { unit: string; inspections: { first: number; passed: number } }[];
    for (const u of city.units) expect(cards.find((c) => c.unit === u.id)!.inspections).toMatchObject({ first: first.get(u.id)?.n ?? 0, passed: first.get(u.id)?.pass ?? 0 });
  });
});
