// Scorecards and the interview list on a deterministic city whose per-unit
// outcomes are known in advance, through the real pipeline (HTTP ingest →
// spool → InfluxDB) and the real API, with the state on SQLite and on PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failedCriteria, DEFAULT_CRITERIA } from '../../supervision/interview.js';
import type { Scorecard } from '../../supervision/scorecard.js';
import { databaseUrl, BACKENDS } from '../db.js';
import { api, startTestService, type TestService } from '../helpers.js';
import { D, day, seedInterviewCity, UNITS, type InterviewCity } from './city.js';

for (const backend of BACKENDS) {
  describe(`on ${backend}`, () => {
    let s: TestService;
    let city: InterviewCity;

    const cleanups: (() => unknown)[] = [];
    beforeAll(async () => {
      s = await startTestService({ DATABASE_URL: await databaseUrl(backend, cleanups) });
      city = await seedInterviewCity(s);
    });
    afterAll(async () => {
      await s?.cleanup();
      for (const c of cleanups.splice(0)) await c();
    });

    const card = (cards: Scorecard[], unit: string) => cards.find((c) => c.unit === unit)!;

    describe('scorecards', () => {
      it('counts first periodic inspections, pass rates, complaints and overdue maintenance in the period', async () => {
        const r = await api(s, 'GET', '/api/v1/scorecards?from=2025-01-01&to=2026-01-01');
        expect(r.status).toBe(200);
        const cards = r.body.items as Scorecard[];
        expect(card(cards, 'U_LOW').inspections).toEqual({ first: 10, passed: 6, passRate: 0.6, insufficient: false, reinspections: 0 });
        expect(card(cards, 'U_EXACT').inspections).toMatchObject({ first: 10, passed: 7, passRate: 0.7 });
        expect(card(cards, 'U_FEW').inspections).toMatchObject({ first: 4, passRate: null, insufficient: true });
        expect(card(cards, 'U_NONE').inspections).toMatchObject({ first: 0, passRate: null, insufficient: true });
        expect(card(cards, 'U_REIN').inspections).toMatchObject({ first: 10, passed: 6, passRate: 0.6, reinspections: 4 });
        expect(card(cards, 'U_FALLBACK').inspections).toMatchObject({ first: 5, passed: 2, passRate: 0.4 });
        expect(card(cards, 'U_CEXACT').complaints).toEqual({ count: 1, rate: 5 });
        expect(card(cards, 'U_COMPL')).toMatchObject({ elevators: 10, complaints: { count: 1, rate: 10 } });
        expect(card(cards, 'U_MAINT').maintenance).toEqual({ records: 6, routine: 5, overdueEpisodes: 2, overdueElevatorDays: 315, elevatorsWithoutRecords: 0 });
        expect(card(cards, 'U_LOW').maintenance.elevatorsWithoutRecords).toBe(10);
      });

      it('is identical when computed again', async () => {
        const a = await api(s, 'GET', '/api/v1/scorecards?from=2025-01-01&to=2026-01-01');
        const b = await api(s, 'GET', '/api/v1/scorecards?from=2025-01-01&to=2026-01-01');
        expect(b.body).toEqual(a.body);
      });
    });

    describe('interview list', () => {
      it('lists exactly the expected units with the expected reasons, ranked', async () => {
        const r = await api(s, 'POST', '/api/v1/interview-lists', { from: '2025-01-01', to: '2026-01-01' });
        expect(r.status).toBe(201);
        const listed = Object.fromEntries(r.body.units.map((u: { unit: string; reasons: { criterion: string }[] }) => [u.unit, u.reasons.map((x) => x.criterion)]));
        const expected = Object.fromEntries(Object.entries(UNITS).filter(([, u]) => u.expect.length).map(([k, u]) => [k, [...u.expect]]));
        expect(listed).toEqual(expected);
        expect(r.body.units[0].unit).toBe('U_BOTH'); // two failed criteria rank first
        expect(r.body.units.map((u: { rank: number }) => u.rank)).toEqual([1, 2, 3, 4, 5, 6]);
        expect(r.body.units.find((u: { unit: string }) => u.unit === 'U_LOW').reasons[0].text).toContain('定期检验一次合格率 60.0%（6/10）低于 70.0%');
        expect(r.body).toMatchObject({ periodFrom: '2025-01-01', periodTo: '2026-01-01', version: 1, trigger: 'api' });
      });

      it('drills down to the records behind a unit', async () => {
        const list = (await api(s, 'GET', '/api/v1/interview-lists')).body.items[0];
        const ev = await api(s, 'GET', `/api/v1/interview-lists/${list.id}/units/U_FALLBACK/evidence`);
        expect(ev.status).toBe(200);
        expect(ev.body.failedInspections.map((i: { elevator: string }) => i.elevator).sort()).toEqual(['U_FALLBACK-E2', 'U_FALLBACK-E3', 'U_FALLBACK-E4']);
        expect(ev.body.failedInspections.every((i: { unit_source: string }) => i.unit_source === 'registry')).toBe(true);
        expect((await api(s, 'GET', `/api/v1/interview-lists/${list.id}/units/U_EXACT/evidence`)).status).toBe(404);
      });

      it('is a frozen snapshot: late records change only a new version', async () => {
        const first = (await api(s, 'GET', '/api/v1/interview-lists')).body.items[0];
        const before = (await api(s, 'GET', `/api/v1/interview-lists/${first.id}`)).body;
        // Three late failing first inspections for U_EXACT (7/13 = 54 %) arrive after the list was generated.
        await city.post('INST', 'inspection', [0, 1, 2].map((i) => ({ id: `late-${i}`, ts: day('2025-11-01') + i * D, elevator: `U_EXACT-E${i}`, institution: '邵阳特检院', unit: 'U_EXACT', kind: 'periodic', attempt: 1, result: 'fail' })));
        await city.settle();
        expect((await api(s, 'GET', `/api/v1/interview-lists/${first.id}`)).body).toEqual(before);
        const v2 = (await api(s, 'POST', '/api/v1/interview-lists', { from: '2025-01-01', to: '2026-01-01' })).body;
        expect(v2.version).toBe(2);
        expect(v2.units.map((u: { unit: string }) => u.unit)).toContain('U_EXACT');
      });

      it('defaults to the previous calendar year and refuses a bad period with a reason', async () => {
        const r = await api(s, 'GET', '/api/v1/scorecards');
        expect(r.body.period.to.slice(5)).toBe('01-01');
        const bad = await api(s, 'GET', '/api/v1/scorecards?from=2026-01-01&to=2025-01-01');
        expect(bad.status).toBe(400);
      });

      it('sorts the lists by a whitelisted key (default -id, newest first); anything else is 400', async () => {
        const versions = async (q: string) => (await api(s, 'GET', `/api/v1/interview-lists?from=2025-01-01${q}`)).body.items.map((l: { version: number }) => l.version);
        expect(await versions('')).toEqual([2, 1]);
        expect(await versions('&sort=version')).toEqual([1, 2]);
        expect(await versions('&sort=generatedAt')).toEqual([1, 2]);
        expect(await versions('&sort=-id')).toEqual([2, 1]);
        for (const bad of ['units', 'generated_at', 'id DESC']) {
          expect((await api(s, 'GET', `/api/v1/interview-lists?sort=${encodeURIComponent(bad)}`)).status).toBe(400);
        }
      });
    });
  });
}

describe('criteria (pure)', () => {
  const base: Scorecard = {
    unit: 'X', name: null, elevators: 100, inspections: { first: 5, passed: 3, passRate: 0.6, insufficient: false, reinspections: 0 }, complaints: { count: 4, rate: 4 },
    maintenance: { records: 0, routine: 0, overdueEpisodes: 0, overdueElevatorDays: 0, elevatorsWithoutRecords: 0 },
    overdueInspections: { count: 0, elevatorDays: 0 },
    entrapments: { count: 0, per100: 0, meanArrivalMin: null, meanRescueMin: null, arrivalsOverLimit: 0 }, dangerousFaults: 0, hazards: { open: 0, overdue: 0 },
  };
  it('applies the any/all policy', () => {
    expect(failedCriteria(base, DEFAULT_CRITERIA).listed).toBe(true);
    expect(failedCriteria(base, { ...DEFAULT_CRITERIA, policy: 'all' }).listed).toBe(false);
    expect(failedCriteria({ ...base, complaints: { count: 5, rate: 5 } }, { ...DEFAULT_CRITERIA, policy: 'all' }).listed).toBe(true);
    expect(failedCriteria({ ...base, inspections: { ...base.inspections, first: 4, passed: 0 } }, DEFAULT_CRITERIA).listed).toBe(false);
  });
});
