// The credit test city with a known answer: scorecards and other parts' counts
// for one unit per grade, one with too few first inspections and one too small
// to grade, and the grade and factor points each must get (see README "Unit credit grades").
import type { CreditSources } from '../../supervision/credit.js';
import type { Scorecard } from '../../supervision/scorecard.js';

/** A scorecard with these figures (the rest zero). */
export function card(unit: string, elevators: number, first: number, passed: number, o: { complaints?: number; overdueDays?: number; overdueInsp?: number; late?: number; dangerous?: number } = {}): Scorecard {
  return {
    unit, name: `${unit} 维保公司`, elevators,
    inspections: { first, passed, passRate: first >= 5 ? passed / first : null, insufficient: first < 5, reinspections: 0 },
    complaints: { count: o.complaints ?? 0, rate: elevators ? ((o.complaints ?? 0) / elevators) * 100 : null },
    maintenance: { records: 0, routine: 0, overdueEpisodes: o.overdueDays ? 1 : 0, overdueElevatorDays: o.overdueDays ?? 0, elevatorsWithoutRecords: 0 },
    overdueInspections: { count: o.overdueInsp ?? 0, elevatorDays: 0 },
    entrapments: { count: o.late ?? 0, per100: 0, meanArrivalMin: null, meanRescueMin: null, arrivalsOverLimit: o.late ?? 0 },
    dangerousFaults: o.dangerous ?? 0,
    hazards: { open: 0, overdue: 0 }, // credit counts hazards from the hazard book (CreditSources), not from here
  };
}

export const PERIOD = { from: '2025-01-01', to: '2026-01-01' };

/** The test city: one unit per grade, one with too few first inspections, one too small to grade. */
export const CITY: Scorecard[] = [
  card('U_A', 20, 20, 19, { overdueDays: 400 }),
  card('U_B', 10, 10, 9, { late: 2, dangerous: 3 }),
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
  ['U_A', 95, 'A', false, { overdue_maintenance: 5 }], // 400 overdue elevator-days over 20 elevators = 20 days each × 0.25
  ['U_B', 79, 'B', false, { pass_rate: 5, late_arrivals: 6, dangerous_faults: 10 }], // 95 % − 90 %; 2 × 3; 30 per 100 × 0.5 = 15, capped at 10
  ['U_C', 70, 'C', false, { pass_rate: 15, complaint_rate: 15 }], // 10 per 100 × 2 = 20, capped at 15
  ['U_D', 43.5, 'D', false, { pass_rate: 25, overdue_inspections: 15, open_hazards: 1.5, overdue_hazards: 2, overdue_orders: 3, cases: 5, interviews: 5 }],
  ['U_P', 100, 'A', true, {}], // 3 first inspections: the pass rate does not count; graded but never red-listed
  ['U_S', null, null, false, {}], // 3 elevators: not graded
];
