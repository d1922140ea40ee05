// The simulated city as the demo backfills it (recent status and gas
// readings, then a year of records, faults and entrapments) through the real
// pipeline: its interview list matches what its generated records say — the
// generator's per-unit pass rates and complaints, counted independently from
// the records it produced — and names a fifth to a third of the units; every
// scorecard column has figures for most units; the charts have history at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cstMidnight, DAY_MS, HOUR_MS } from '../../domain/time.js';
import { generateCity, registerCity } from '../../simulators/city.js';
import { postHistory, postYear } from '../../simulators/demo.js';
import { seedDemoCredit } from '../../simulators/demo-credit.js';
import { expectedList } from '../simulators/expected-list.js';
import { databaseUrl, BACKENDS } from '../db.js';
import { api, startTestService, waitFor, type TestService } from '../helpers.js';

for (const backend of BACKENDS) {
  describe(`on ${backend}`, () => {
    let s: TestService;
    const SEED = 4;
    const city = generateCity({ seed: SEED, elevators: 600, units: 12, gasSites: 3, today: '2026-03-01' });
    const period = { from: '2025-01-01', to: '2026-01-01' };
    const backfill = { from: cstMidnight(period.from) - 30 * DAY_MS, to: cstMidnight(period.to) + 30 * DAY_MS };
    const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
    let historyTo = 0;

    const cleanups: (() => unknown)[] = [];
    beforeAll(async () => {
      s = await startTestService({ DATABASE_URL: await databaseUrl(backend, cleanups) });
      registerCity(s.registry, city);
      historyTo = Date.now();
      // In the demo's order: the recent history, then the year.
      expect((await postHistory(s.httpUrl, s.adminToken, city, { seed: SEED, from: historyTo - 24 * HOUR_MS, to: historyTo, statusBudget: 12_000 }, quiet)).rejected).toBe(0);
      expect(await postYear(s.httpUrl, s.adminToken, city, { seed: SEED, ...backfill }, quiet)).toBe(0);
      await waitFor(async () => s.spool.depthCount, (n) => n === 0, 120_000);
    }, 240_000);
    afterAll(async () => {
      await s?.cleanup();
      for (const c of cleanups.splice(0)) await c();
    });

    describe('the demo city', () => {
      it('gets the interview list its generated records call for, naming a fifth to a third of its units', async () => {
        const { first, listed } = expectedList(city, SEED, period, backfill);
        const list = (await api(s, 'POST', '/api/v1/interview-lists', period)).body;
        const got = list.units.map((u: { unit: string; reasons: { criterion: string }[] }) => [u.unit, u.reasons.map((r) => r.criterion)]);
        expect(Object.fromEntries(got)).toEqual(Object.fromEntries(listed));
        expect(list.units.length / city.units.length).toBeGreaterThanOrEqual(1 / 5);
        expect(list.units.length / city.units.length).toBeLessThanOrEqual(1 / 3);

        const cards = (await api(s, 'GET', `/api/v1/scorecards?from=${period.from}&to=${period.to}`)).body.items as { unit: string; inspections: { first: number; passed: number } }[];
        for (const u of city.units) expect(cards.find((c) => c.unit === u.id)!.inspections).toMatchObject({ first: first.get(u.id)?.n ?? 0, passed: first.get(u.id)?.pass ?? 0 });
      });

      it('publishes red and black lists whose grades span the scale (seedDemoCredit)', async () => {
        const p = (await seedDemoCredit(s, quiet, period))!;
        expect(p).toMatchObject({ version: 1, periodFrom: period.from, periodTo: period.to, publishedBy: 'demo', trigger: 'demo' });
        expect(p.grades).toHaveLength(city.units.length);
        // Every unit of the demo has enough elevators and first inspections to be graded in full.
        expect(p.grades.filter((g) => g.grade === null || g.partial)).toEqual([]);
        expect(new Set(p.grades.map((g) => g.grade)).size).toBeGreaterThanOrEqual(3);
        expect(p.red.length).toBeGreaterThan(0);
        expect(p.black.length).toBeGreaterThan(0);
      });

      it('has figures in every scorecard column for most units: entrapments with arrival times, dangerous faults, overdue inspections', async () => {
        type Card = { unit: string; entrapments: { count: number; meanArrivalMin: number | null; arrivalsOverLimit: number }; dangerousFaults: number; overdueInspections: { count: number; elevatorDays: number } };
        const cards = (await api(s, 'GET', `/api/v1/scorecards?from=${period.from}&to=${period.to}`)).body.items as Card[];
        expect(cards.length).toBe(city.units.length);
        const share = (f: (c: Card) => boolean) => cards.filter(f).length / cards.length;
        expect(share((c) => c.entrapments.count > 0)).toBeGreaterThanOrEqual(0.5);
        expect(share((c) => c.entrapments.meanArrivalMin !== null)).toBeGreaterThanOrEqual(0.5);
        expect(share((c) => c.dangerousFaults > 0)).toBeGreaterThanOrEqual(0.5);
        expect(share((c) => c.overdueInspections.count > 0)).toBeGreaterThanOrEqual(0.5);
        // Every counted entrapment got its arrival time: mostly 5–25 min after trapping, now and then more than 30.
        for (const c of cards.filter((x) => x.entrapments.count > 0)) {
          expect(c.entrapments.meanArrivalMin).toBeGreaterThan(4);
          expect(c.entrapments.meanArrivalMin).toBeLessThan(60);
        }
        expect(cards.reduce((n, c) => n + c.entrapments.arrivalsOverLimit, 0)).toBeGreaterThan(0);
      });

      it('has elevator status and gas readings in InfluxDB for the last day right after the backfill', async () => {
        const q = `from=${historyTo - 24 * HOUR_MS}&to=${historyTo + 60_000}`;
        const e = (await api(s, 'GET', `/api/v1/equipment/elevators/${city.elevators[0]!.code}/series?${q}`)).body as { points: { t: number; samples: number; runCount: number }[] };
        expect(e.points.reduce((n, p) => n + p.samples, 0)).toBe(20); // 12,000 status messages over 600 elevators
        expect(e.points.at(-1)!.t - e.points[0]!.t).toBeGreaterThan(20 * HOUR_MS);
        const g = (await api(s, 'GET', `/api/v1/equipment/gas-sites/${city.gasSites[0]!.code}/series?${q}`)).body as { detectors: { points: unknown[] }[] };
        expect(g.detectors.length).toBe(city.gasSites[0]!.detectors.length);
        for (const d of g.detectors) expect(d.points.length).toBeGreaterThan(50); // every 15 min
      });
    });
  });
}

