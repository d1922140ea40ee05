// The scorecards and the quarterly trend from a small deterministic ledger,
// registry and rescue timings, on SQLite and on PostgreSQL: the same figures
// on both, computed in this thread and in the scorecard worker thread (which
// opens the same database again, read-only: the file or the postgres:// URL).
import { afterEach, describe, expect, it } from 'vitest';
import { RescueTimings } from '../../alerts/rescue-timings.js';
import { cstMidnight, DAY_MS, MINUTE_MS } from '../../domain/time.js';
import { Registry } from '../../registry/registry.js';
import type { Db } from '../../storage/db.js';
import { RecordLedger, type LedgerItem } from '../../storage/ledger.js';
import { computeScorecards, DEFAULT_SCORECARD, registryView, type Scorecard } from '../../supervision/scorecard.js';
import { scorecardsOffThread } from '../../supervision/scorecard-worker.js';
import { computeTrend } from '../../supervision/trend.js';
import { HazardStore } from '../../supervision/hazards.js';
import { BACKENDS, openTestDb } from '../db.js';

const at = (date: string, hours = 10) => cstMidnight(date) + hours * 3_600_000;
const P2025 = { from: cstMidnight('2025-01-01'), to: cstMidnight('2026-01-01') };

/** Three units (U3 without elevators), five elevators, a year of records around 2025 and four entrapments. */
function seed(db: Db): Registry {
  const registry = new Registry(db);
  for (const id of ['U1', 'U2', 'U3']) registry.units.put({ id, name: `${id} 维保公司` });
  const elevator = (code: string, unit: string, days?: number) =>
    registry.elevators.put({ code, address: '测试路1号', district: '大祥区', userUnit: '物业', maintenanceUnit: unit, ...(days ? { maintenanceIntervalDays: days } : {}) });
  elevator('A1', 'U1');
  elevator('A2', 'U1');
  elevator('A3', 'U1', 30);
  elevator('B1', 'U2');
  elevator('B2', 'U2');

  const ctxOf = (unit: string | undefined) => ({ district: '大祥区', unit });
  const maint = (id: string, ts: number, e: string, unit: string, kind = 'half_monthly'): LedgerItem =>
    ({ channel: 'maintenance', record: { id, ts, elevator: e, unit, kind, technician: '张三' }, code: null, ctx: ctxOf(unit) }) as LedgerItem;
  const insp = (id: string, ts: number, e: string, unit: string | undefined, attempt: number, result: 'pass' | 'fail', nextDue?: string): LedgerItem =>
    ({ channel: 'inspection', record: { id, ts, elevator: e, institution: '特检院', kind: 'periodic', attempt, result, ...(nextDue ? { nextDue } : {}) }, code: null, ctx: ctxOf(unit) }) as LedgerItem;
  const compl = (id: string, ts: number, unit: string | undefined): LedgerItem =>
    ({ channel: 'complaint', record: { id, ts, source: '12345', category: '困人', ...(unit ? { unit } : {}) }, code: null, ctx: ctxOf(undefined) }) as LedgerItem;
  const event = (id: string, ts: number, code: string, unit: string, type: string, state = 'raised'): LedgerItem =>
    ({ channel: 'event', record: { id, ts, type, state }, code, ctx: ctxOf(unit) }) as LedgerItem;

  new RecordLedger(db).add([
    // A1 (15 days): routine on 12-25 (before the period), 01-05, 01-15, then 03-01: one gap of 45 - 15 = 30 days,
    // and the tail from 03-16 10:00 to the year's end (290 d 14 h). A repair is a record, not routine.
    maint('m1', at('2024-12-25'), 'A1', 'U1'), maint('m2', at('2025-01-05'), 'A1', 'U1'), maint('m3', at('2025-01-15'), 'A1', 'U1'),
    maint('m4', at('2025-03-01'), 'A1', 'U1'), maint('m5', at('2025-06-01'), 'A1', 'U1', 'repair'),
    // A3 (30 days): 01-10 and 02-05, then the tail from 03-07 10:00 (299 d 14 h). B1 (15 days): one visit done by U1, the tail is U2's.
    maint('m6', at('2025-01-10'), 'A3', 'U1'), maint('m7', at('2025-02-05'), 'A3', 'U1'), maint('m8', at('2025-11-20'), 'B1', 'U1'),
    // U1: six first periodic inspections, four passed (one passed the wrong way first), one re-inspection; a 2024 one does not count.
    insp('i1', at('2025-03-01'), 'A1', 'U1', 1, 'pass', '2026-03-01'), insp('i2', at('2025-03-02'), 'A2', 'U1', 1, 'fail'),
    insp('i3', at('2025-03-20'), 'A2', 'U1', 2, 'pass', '2026-03-20'), insp('i4', at('2025-04-01'), 'A3', 'U1', 1, 'pass'),
    insp('i5', at('2025-05-01'), 'A1', 'U1', 1, 'pass'), insp('i6', at('2025-07-01'), 'A2', 'U1', 1, 'fail'), insp('i7', at('2025-08-01'), 'A3', 'U1', 1, 'pass'),
    // B1 passed in 2024 with a due date of 2025-02-01 and again only on 2025-03-03: overdue from 02-02, 29.5 days, one episode.
    insp('i8', at('2024-02-01'), 'B1', 'U2', 1, 'pass', '2025-02-01'), insp('i9', at('2025-03-03', 12), 'B1', 'U2', 1, 'pass'),
    // Complaints: two of U2's (one on 12-31 at 23:30 CST, still 2025), one of U1's, one with no unit anywhere, one in 2026.
    compl('c1', at('2025-02-01'), 'U2'), compl('c2', cstMidnight('2026-01-01') - 30 * MINUTE_MS, 'U2'), compl('c3', at('2025-09-09'), 'U1'),
    compl('c4', at('2025-09-10'), undefined), compl('c5', at('2026-01-01', 1), 'U2'),
    // Dangerous faults: U2 has two raised (a cleared one is no episode); entrapments are counted from the rescue timings.
    event('e1', at('2025-04-04'), 'B1', 'U2', 'overspeed'), event('e2', at('2025-04-05'), 'B2', 'U2', 'unintended_car_movement'),
    event('e3', at('2025-04-06'), 'B2', 'U2', 'overspeed', 'cleared'), event('e4', at('2025-04-07'), 'A1', 'U1', 'entrapment'),
    event('e5', at('2025-04-08'), 'A1', 'U1', 'door_close_fault'),
  ]);

  new RescueTimings(db);
  // The rescue timings as the alert engine keeps them, with chosen times: U1 arrived in 20 and
  // 35 minutes (one late), released after 40 and 50; U2 one without arrival; one in 2024.
  const timing = db.prepare('INSERT INTO rescue_timings (alert_id, elevator, unit, trapped_at, dispatched_at, arrived_at, released_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const t0 = at('2025-04-07');
  timing.run(1, 'A1', 'U1', t0, t0 + MINUTE_MS, t0 + 20 * MINUTE_MS, t0 + 40 * MINUTE_MS);
  timing.run(2, 'A2', 'U1', t0 + DAY_MS, null, t0 + DAY_MS + 35 * MINUTE_MS, t0 + DAY_MS + 50 * MINUTE_MS);
  timing.run(3, 'B1', 'U2', t0, null, null, null);
  timing.run(4, 'B1', 'U2', at('2024-06-01'), null, at('2024-06-01') + 5 * MINUTE_MS, null);

  // Hazards (default deadlines: general 30 days, major 7), counted open and overdue at the period's end:
  // U1: h1 overdue since 12-01, h2 major but due only 2026-01-04; U2: h3 rectified in time, h4 rectified after the period (overdue since 12-31).
  const hazards = new HazardStore(db);
  const found = (id: string, elevator: string, unit: string, level: 'general' | 'major', ts: number) =>
    hazards.insertFound({ id, elevator, site: null, unit, district: '大祥区', level, category: '门锁', description: null, source: 'self_inspection', sender: 'p', foundAt: ts });
  found('h1', 'A1', 'U1', 'general', at('2025-11-01'));
  found('h2', 'A2', 'U1', 'major', at('2025-12-28'));
  found('h3', 'B1', 'U2', 'general', at('2025-06-01'));
  found('h4', 'B2', 'U2', 'general', at('2025-12-01'));
  hazards.rectify('h3', { at: at('2025-06-10'), rectifyId: 'r3', by: 'p', evidence: [] });
  hazards.rectify('h4', { at: at('2026-02-01'), rectifyId: 'r4', by: 'p', evidence: [] });
  return registry;
}

const zeros = { records: 0, routine: 0, overdueEpisodes: 0, overdueElevatorDays: 0, elevatorsWithoutRecords: 0 };
const EXPECTED: Scorecard[] = [
  {
    unit: 'U1', name: 'U1 维保公司', elevators: 3,
    inspections: { first: 6, passed: 4, passRate: 4 / 6, insufficient: false, reinspections: 1 },
    complaints: { count: 1, rate: (1 / 3) * 100 },
    // A1: 30 + 290.58 days; A3: 299.58; A2 has no maintenance; B1's visit by U1 is U1's record.
    maintenance: { records: 7, routine: 6, overdueEpisodes: 3, overdueElevatorDays: 620.2, elevatorsWithoutRecords: 1 },
    overdueInspections: { count: 0, elevatorDays: 0 },
    entrapments: { count: 2, per100: (2 / 3) * 100, meanArrivalMin: 27.5, meanRescueMin: 45, arrivalsOverLimit: 1 },
    dangerousFaults: 0,
    hazards: { open: 2, overdue: 1 },
  },
  {
    unit: 'U2', name: 'U2 维保公司', elevators: 2,
    inspections: { first: 1, passed: 1, passRate: null, insufficient: true, reinspections: 0 },
    complaints: { count: 2, rate: 100 },
    // B1's tail from 12-05 10:00 (26 d 14 h); B2 has no maintenance.
    maintenance: { ...zeros, overdueEpisodes: 1, overdueElevatorDays: 26.6, elevatorsWithoutRecords: 1 },
    overdueInspections: { count: 1, elevatorDays: 29.5 },
    entrapments: { count: 1, per100: 50, meanArrivalMin: null, meanRescueMin: null, arrivalsOverLimit: 0 },
    dangerousFaults: 2,
    hazards: { open: 1, overdue: 1 },
  },
  {
    unit: 'U3', name: 'U3 维保公司', elevators: 0,
    inspections: { first: 0, passed: 0, passRate: null, insufficient: true, reinspections: 0 },
    complaints: { count: 0, rate: null },
    maintenance: zeros,
    overdueInspections: { count: 0, elevatorDays: 0 },
    entrapments: { count: 0, per100: null, meanArrivalMin: null, meanRescueMin: null, arrivalsOverLimit: 0 },
    dangerousFaults: 0,
    hazards: { open: 0, overdue: 0 },
  },
];

for (const backend of BACKENDS) {
  describe(`scorecards on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });

    it('gives the expected scorecards, in this thread and in the worker thread', async () => {
      const db = await openTestDb(backend, cleanups);
      const registry = seed(db);
      expect(computeScorecards({ ledger: new RecordLedger(db), timings: new RescueTimings(db), hazards: new HazardStore(db) }, registryView(registry), P2025)).toEqual(EXPECTED);
      expect(db.location).toBeTruthy();
      expect(await scorecardsOffThread(db, registry, P2025, DEFAULT_SCORECARD)).toEqual(EXPECTED);
    });

    it('gives the quarterly trend, quarters cut in China Standard Time', async () => {
      const db = await openTestDb(backend, cleanups);
      const registry = seed(db);
      const ledger = new RecordLedger(db);
      const t = computeTrend(ledger, registry, { quarters: 5, to: '2026-04-01' }, 2);
      expect(t.quarters).toEqual(['2025Q1', '2025Q2', '2025Q3', '2025Q4', '2026Q1']);
      const points = (unit: string) => t.items.find((i) => i.unit === unit)!.points.map((p) => [p.first, p.passed, p.complaints]);
      expect(points('U1')).toEqual([[2, 1, 0], [2, 2, 0], [2, 1, 1], [0, 0, 0], [0, 0, 0]]);
      // c2 (2025-12-31 23:30 CST, 15:30 UTC) is 2025Q4; c5 (2026-01-01 01:00 CST, still 2025 in UTC) is 2026Q1.
      expect(points('U2')).toEqual([[1, 1, 1], [0, 0, 0], [0, 0, 0], [0, 0, 1], [0, 0, 1]]);
      expect(t.items.map((i) => i.unit)).toEqual(['U1', 'U2', 'U3']);
      expect(computeTrend(ledger, registry, { unit: 'U2', quarters: 1, to: '2025-04-01' }, 1).items).toEqual([
        { unit: 'U2', name: 'U2 维保公司', points: [{ quarter: '2025Q1', first: 1, passed: 1, passRate: 1, complaints: 1, complaintRate: 50 }] },
      ]);
    });
  });
}
