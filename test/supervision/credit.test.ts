// Unit credit grades: a test city with a known answer (every unit's grade and
// the points each factor took), configurable weights and thresholds changing
// the result as the README says, and insufficient data marked, not hidden.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SCORING, gradeUnits, loadScoring, parseScoring, redAndBlack, type CreditSources, type UnitGrade } from '../../supervision/credit.js';
import type { Scorecard } from '../../supervision/scorecard.js';

/** A scorecard with these figures (the rest zero). */
export function card(unit: string, elevators: number, first: number, passed: number, o: { complaints?: number; overdueMaint?: number; overdueInsp?: number; late?: number; dangerous?: number } = {}): Scorecard {
  return {
    unit, name: `${unit} 维保公司`, elevators,
    inspections: { first, passed, passRate: first >= 5 ? passed / first : null, insufficient: first < 5, reinspections: 0 },
    complaints: { count: o.complaints ?? 0, rate: elevators ? ((o.complaints ?? 0) / elevators) * 100 : null },
    maintenance: { records: 0, routine: 0, overdueEpisodes: o.overdueMaint ?? 0, overdueElevatorDays: 0, elevatorsWithoutRecords: 0 },
    overdueInspections: { count: o.overdueInsp ?? 0, elevatorDays: 0 },
    entrapments: { count: o.late ?? 0, per100: 0, meanArrivalMin: null, meanRescueMin: null, arrivalsOverLimit: o.late ?? 0 },
    dangerousFaults: o.dangerous ?? 0,
  };
}

export const PERIOD = { from: '2025-01-01', to: '2026-01-01' };

/** The test city: one unit per grade, one with too few first inspections, one too small to grade. */
export const CITY: Scorecard[] = [
  card('U_A', 20, 20, 19, { overdueMaint: 1 }),
  card('U_B', 10, 10, 9, { late: 2, dangerous: 1 }),
  card('U_C', 10, 10, 8, { complaints: 1 }),
  card('U_D', 10, 10, 5, { overdueInsp: 2 }),
  card('U_P', 6, 3, 3),
  card('U_S', 3, 3, 3),
];

/** Hazards, orders and interviews kept by other parts: only U_D has any. */
export const CITY_SOURCES: CreditSources = {
  hazardCounts: (u) => (u === 'U_D' ? { found: 5, open: 3, overdue: 1, rectified: 2, major: 0 } : { found: 0, open: 0, overdue: 0, rectified: 0, major: 0 }),
  orderCounts: (u) => (u === 'U_D' ? { issued: 2, overdue: 1, cases: 1 } : { issued: 0, overdue: 0, cases: 0 }),
  interviews: (u) => (u === 'U_D' ? 1 : 0),
};

/** The known answer: [unit, score, grade, partial, {factor: points} (only the non-zero ones)]. */
export const EXPECTED: [string, number | null, string | null, boolean, Record<string, number>][] = [
  ['U_A', 95, 'A', false, { overdue_maintenance: 5 }], // 1 episode per 20 elevators = 5 per 100 × 1
  ['U_B', 79, 'B', false, { pass_rate: 5, late_arrivals: 6, dangerous_faults: 10 }], // 95 % − 90 %; 2 × 3; 10 per 100 × 1 = 10 (the cap)
  ['U_C', 70, 'C', false, { pass_rate: 15, complaint_rate: 15 }], // 10 per 100 × 2 = 20, capped at 15
  ['U_D', 43.5, 'D', false, { pass_rate: 25, overdue_inspections: 15, open_hazards: 1.5, overdue_hazards: 2, overdue_orders: 3, cases: 5, interviews: 5 }],
  ['U_P', 100, 'A', true, {}], // 3 first inspections: the pass rate does not count; graded but never red-listed
  ['U_S', null, null, false, {}], // 3 elevators: not graded
];

const nonZero = (g: UnitGrade) => Object.fromEntries(g.factors.filter((f) => f.points !== 0).map((f) => [f.factor, f.points]));

describe('unit credit grades', () => {
  it("grades the test city to the known answer, every factor's points explained", () => {
    const grades = gradeUnits(CITY, PERIOD, CITY_SOURCES);
    expect(grades.map((g) => [g.unit, g.score, g.grade, g.partial, nonZero(g)])).toEqual(EXPECTED);
    const c = grades.find((g) => g.unit === 'U_C')!.factors.find((f) => f.factor === 'complaint_rate')!;
    expect(c).toMatchObject({ value: 10, perUnit: 2, cap: 15, points: 15, capped: true, text: '每百台电梯投诉数 10 × 2 = 15 分（封顶 15）' });
    const p = grades.find((g) => g.unit === 'U_P')!;
    expect(p.factors.find((f) => f.factor === 'pass_rate')).toMatchObject({ value: null, points: 0 });
    expect(p.insufficient).toEqual(['首次定期检验 3 台次，少于 5 台次，合格率不计分，不列入守信名单']);
    expect(grades.find((g) => g.unit === 'U_S')!.insufficient[0]).toContain('不评级');
    expect(grades.find((g) => g.unit === 'U_D')!.counts).toEqual({ hazards: CITY_SOURCES.hazardCounts('U_D', PERIOD), orders: { issued: 2, overdue: 1, cases: 1 }, interviews: 1 });
    // Red: A with the full record (U_P is A but partial); black: D.
    const { red, black } = redAndBlack(grades);
    expect([red.map((g) => g.unit), black.map((g) => g.unit)]).toEqual([['U_A'], ['U_D']]);
  });

  it('without other parts wired, their factors take nothing', () => {
    const d = gradeUnits(CITY, PERIOD).find((g) => g.unit === 'U_D')!;
    expect([d.score, d.grade, nonZero(d)]).toEqual([60, 'C', { pass_rate: 25, overdue_inspections: 15 }]);
  });

  it('weights and thresholds from a CREDIT_SCORING file change the result as documented', () => {
    const dir = mkdtempSync(join(tmpdir(), 'credit-'));
    const file = join(dir, 'scoring.json');
    writeFileSync(file, JSON.stringify({ thresholds: { A: 96 }, factors: { complaint_rate: { points: 1 }, late_arrivals: { cap: 3 } } }));
    const sc = loadScoring(file);
    expect(sc.factors.complaint_rate).toEqual({ points: 1, cap: 15 }); // the cap kept from the defaults
    expect(sc.thresholds).toEqual({ A: 96, B: 75, C: 60 });
    const grades = gradeUnits(CITY, PERIOD, CITY_SOURCES, sc);
    expect(grades.map((g) => [g.unit, g.score, g.grade])).toEqual([
      ['U_A', 95, 'B'], // 95 no longer reaches A
      ['U_B', 82, 'B'], // late arrivals capped at 3
      ['U_C', 75, 'B'], // complaints 10 × 1
      ['U_D', 43.5, 'D'], ['U_P', 100, 'A'], ['U_S', null, null],
    ]);
    expect(loadScoring(undefined)).toBe(DEFAULT_SCORING);
  });

  it('refuses a bad scoring with a message naming the field', () => {
    expect(() => parseScoring({ factors: { complaint_rate: { points: -1 } } })).toThrow(/factors\.complaint_rate\.points/);
    expect(() => parseScoring({ factors: { typo: { points: 1, cap: 2 } } })).toThrow(/typo/);
    expect(() => parseScoring({ thresholds: { A: 70, B: 75 } })).toThrow(/thresholds must fall/);
    expect(() => parseScoring([1])).toThrow(/expected a JSON object/);
    const dir = mkdtempSync(join(tmpdir(), 'credit-'));
    writeFileSync(join(dir, 'bad.json'), '{ nope');
    expect(() => loadScoring(join(dir, 'bad.json'))).toThrow(/is not JSON/);
    expect(() => loadScoring(join(dir, 'missing.json'))).toThrow(/cannot read/);
  });
});
