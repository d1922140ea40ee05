// Unit flags: a maintenance unit whose rolling twelve-month first periodic-
// inspection pass rate falls below the threshold (with the minimum sample),
// or whose complaints per 100 elevators reach theirs, carries one
// `unit_rates` alert until it recovers. The same criteria as the interview
// list (supervision/interview.ts), decided on the exact rates — rounding is
// for display only — so a flag agrees with a list generated for the same
// twelve months. Pure: figures and the active alert in, an action out.
import { shownBeside } from '../../domain/figures.js';
import { cstDate, cstMidnight, DAY_MS } from '../../domain/time.js';

export const UNIT_RATES_ALERT = 'unit_rates';

export interface UnitRateCriteria {
  /** a first-inspection pass rate strictly below this fails (0.7: exactly 70 % does not) */
  passRateBelow: number;
  /** first periodic inspections needed for the pass rate to count */
  minInspections: number;
  /** complaints per 100 elevators at or above this fail */
  complaintRateAtLeast: number;
  /** any: one failed criterion flags the unit; all: every criterion must fail (as the interview list) */
  policy: 'any' | 'all';
}

/** A unit's figures over the window: its scorecard's counts and the registry's elevators of the unit. */
export interface UnitRateFigures {
  first: number;
  passed: number;
  complaints: number;
  elevators: number;
}

export type Criterion = 'pass_rate' | 'complaint_rate';

export interface Finding {
  criterion: Criterion;
  /** the exact rate (pass rate as a fraction, complaints per 100 elevators) */
  value: number;
  threshold: number;
}

/** Exact rates: the pass rate (null below the minimum sample) and complaints per 100 elevators (null without elevators). */
export function unitRates(f: UnitRateFigures, c: UnitRateCriteria): { passRate: number | null; complaintRate: number | null } {
  return {
    passRate: f.first >= c.minInspections ? f.passed / f.first : null,
    // one rounding (an integer divided once), so 1 complaint over 20 elevators is exactly 5
    complaintRate: f.elevators > 0 ? (f.complaints * 100) / f.elevators : null,
  };
}

/** Which criteria the figures fail, and whether that flags the unit under the policy. */
export function unitFindings(f: UnitRateFigures, c: UnitRateCriteria): { findings: Finding[]; flagged: boolean } {
  const { passRate, complaintRate } = unitRates(f, c);
  const findings: Finding[] = [];
  if (passRate !== null && passRate < c.passRateBelow) findings.push({ criterion: 'pass_rate', value: passRate, threshold: c.passRateBelow });
  if (complaintRate !== null && complaintRate >= c.complaintRateAtLeast) findings.push({ criterion: 'complaint_rate', value: complaintRate, threshold: c.complaintRateAtLeast });
  return { findings, flagged: c.policy === 'any' ? findings.length > 0 : findings.length === 2 };
}

export type UnitRateAction =
  | { kind: 'none' }
  /** open a flag, or (`repeat`) tell the active one that the failed criteria changed */
  | { kind: 'raise'; repeat: boolean; findings: Finding[] }
  | { kind: 'resolve'; reason: string };

/**
 * The step for one unit: `active` is the criteria the unit's active flag was
 * last raised for, or null when it has none. A flag is raised once, repeated
 * only when the set of failed criteria changes (not on every record), and
 * resolved when the unit no longer meets the criteria.
 */
export function unitRateStep(active: readonly Criterion[] | null, f: UnitRateFigures, c: UnitRateCriteria): UnitRateAction {
  const { findings, flagged } = unitFindings(f, c);
  if (!flagged) {
    if (!active) return { kind: 'none' };
    const { passRate, complaintRate } = unitRates(f, c);
    const pass = passRate === null ? `pass rate: insufficient sample (${f.first} < ${c.minInspections})` : `pass rate ${pct(passRate)} (${f.passed}/${f.first})`;
    const compl = complaintRate === null ? 'no elevators' : `${complaintRate.toFixed(2)} complaints per 100 elevators`;
    return { kind: 'resolve', reason: `rates recovered: ${pass}, ${compl}` };
  }
  const now = findings.map((x) => x.criterion);
  if (active && now.length === active.length && now.every((x) => active.includes(x))) return { kind: 'none' };
  return { kind: 'raise', repeat: active !== null, findings };
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/** A failed criterion in Chinese with its figures, for notifications (rounded for display only, never to read as its threshold: as the interview list words it). */
export function findingZh(f: Finding, g: UnitRateFigures): string {
  return f.criterion === 'pass_rate'
    ? `定期检验一次合格率 ${shownBeside(f.value * 100, f.threshold * 100, 1)}%（${g.passed}/${g.first}）低于 ${(f.threshold * 100).toFixed(1)}%`
    : `投诉率 ${shownBeside(f.value, f.threshold, 2)} 起/百台（${g.complaints} 起，${g.elevators} 台）不低于 ${f.threshold}`;
}

/**
 * The rolling twelve months as of `now`: from 00:00 CST on the same day a year
 * before tomorrow up to 00:00 CST tomorrow (exclusive), so today's records
 * count and each day one day ages out. (A 29 February a year back is 1 March.)
 */
export function rollingWindow(now: number): { from: number; to: number; fromDate: string; toDate: string } {
  const toDate = cstDate(cstMidnight(cstDate(now)) + DAY_MS);
  const [y, m, d] = toDate.split('-').map(Number) as [number, number, number];
  const fromDate = new Date(Date.UTC(y - 1, m - 1, d)).toISOString().slice(0, 10);
  return { from: cstMidnight(fromDate), to: cstMidnight(toDate), fromDate, toDate };
}
