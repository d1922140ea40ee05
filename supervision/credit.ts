// Unit credit grades (A/B/C/D) for a period: a pure, documented scoring of a
// maintenance unit's scorecard (supervision/scorecard.ts) plus the counts
// other parts keep (hazards, supervision orders and cases, interviews).
//
// Every unit starts at 100 points; each factor deducts `points` per unit of
// its measure, at most `cap`; the score is 100 minus the deductions, and the
// grade is the first threshold the score reaches (A ≥ 90, B ≥ 75, C ≥ 60,
// else D by default). Each grade carries what every factor took, so a grade
// is explained by its own figures. The weights and thresholds are
// configurable (a JSON file named by CREDIT_SCORING, validated here).
//
// Insufficient data is not hidden: a unit with fewer elevators than
// `minElevators` is not graded (grade null); a unit whose first-inspection
// sample is below `minInspections` is graded without the pass-rate factor and
// marked `partial` — it can be on the black list (its other deductions alone
// reached D) but never on the red list (an honour needs the full record).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { issuesText } from '../common/errors.js';
import type { Scorecard } from './scorecard.js';

/** The hazards of a unit in a period (supervision/hazards.ts HazardBook.hazardCounts). */
export interface HazardCounts { found: number; open: number; overdue: number; rectified: number; major: number }
/** The supervision orders of a unit in a period (supervision/orders.ts SupervisionOrders.orderCounts). */
export interface OrderCounts { issued: number; overdue: number; cases: number }

/** Where the counts beyond the scorecard come from; each defaults to nothing (0), so grading works alone. */
export interface CreditSources {
  hazardCounts(unit: string, period: { from: string; to: string }): HazardCounts;
  orderCounts(unit: string, period: { from: string; to: string }): OrderCounts;
  /** interviews (约谈) of the unit held or summoned in the period (supervision/cases.ts) */
  interviews(unit: string, period: { from: string; to: string }): number;
}

export const NO_SOURCES: CreditSources = {
  hazardCounts: () => ({ found: 0, open: 0, overdue: 0, rectified: 0, major: 0 }),
  orderCounts: () => ({ issued: 0, overdue: 0, cases: 0 }),
  interviews: () => 0,
};

/** The counts of one unit beyond its scorecard. */
export interface CreditCounts { hazards: HazardCounts; orders: OrderCounts; interviews: number }

export const FACTORS = [
  'pass_rate', 'complaint_rate', 'overdue_maintenance', 'overdue_inspections', 'late_arrivals', 'dangerous_faults',
  'open_hazards', 'overdue_hazards', 'overdue_orders', 'cases', 'interviews',
] as const;
export type Factor = (typeof FACTORS)[number];

/** What each factor measures (the number its points multiply), in words for the README and the UI. */
export const FACTOR_MEASURE: Record<Factor, { zh: string; en: string }> = {
  pass_rate: { zh: '一次检验合格率低于目标的百分点', en: 'percentage points of first-inspection pass rate below the target' },
  complaint_rate: { zh: '每百台电梯投诉数', en: 'complaints per 100 elevators' },
  overdue_maintenance: { zh: '平均每台电梯维保超期天数', en: 'days overdue for routine maintenance per elevator' },
  overdue_inspections: { zh: '每百台电梯检验超期台次', en: 'overdue periodic inspections per 100 elevators' },
  late_arrivals: { zh: '困人救援到场超时次数', en: 'entrapment arrivals over the limit' },
  dangerous_faults: { zh: '每百台电梯危险故障数', en: 'dangerous faults per 100 elevators' },
  open_hazards: { zh: '期末未整改隐患数', en: 'hazards still open' },
  overdue_hazards: { zh: '逾期未整改隐患数', en: 'hazards past their rectification deadline' },
  overdue_orders: { zh: '逾期未办结监察指令书数', en: 'supervision orders past their deadline' },
  cases: { zh: '立案数', en: 'cases filed (立案)' },
  interviews: { zh: '约谈次数', en: 'interviews (约谈)' },
};

const weight = z.object({ points: z.number().min(0).max(100), cap: z.number().min(0).max(100) }).strict();
const weights = z.object(Object.fromEntries(FACTORS.map((f) => [f, weight])) as Record<Factor, typeof weight>).strict();

export const creditScoringSchema = z.object({
  /** the first-inspection pass rate every point below which costs (0.95 = 95 %) */
  passRateTarget: z.number().min(0).max(1),
  /** first periodic inspections needed for the pass rate to count */
  minInspections: z.number().int().min(1),
  /** elevators a unit needs to be graded at all */
  minElevators: z.number().int().min(1),
  /** the least score of each grade; D is everything below C */
  thresholds: z.object({ A: z.number(), B: z.number(), C: z.number() }).strict().refine((t) => t.A > t.B && t.B > t.C, { message: 'thresholds must fall: A > B > C' }),
  factors: weights,
}).strict();
export type CreditScoring = z.infer<typeof creditScoringSchema>;

export const DEFAULT_SCORING: CreditScoring = {
  passRateTarget: 0.95,
  minInspections: 5,
  minElevators: 5,
  thresholds: { A: 90, B: 75, C: 60 },
  factors: {
    pass_rate: { points: 1, cap: 25 },
    complaint_rate: { points: 2, cap: 15 },
    overdue_maintenance: { points: 0.25, cap: 15 },
    overdue_inspections: { points: 2, cap: 15 },
    late_arrivals: { points: 3, cap: 15 },
    dangerous_faults: { points: 0.5, cap: 10 },
    open_hazards: { points: 0.5, cap: 5 },
    overdue_hazards: { points: 2, cap: 10 },
    overdue_orders: { points: 3, cap: 15 },
    cases: { points: 5, cap: 15 },
    interviews: { points: 5, cap: 10 },
  },
};

/** A partial scoring (any field may be left out) over the defaults, validated; the error names the field. */
export function parseScoring(input: unknown, where = 'credit scoring'): CreditScoring {
  const over = z.object({
    passRateTarget: z.unknown().optional(), minInspections: z.unknown().optional(), minElevators: z.unknown().optional(),
    thresholds: z.record(z.string(), z.unknown()).optional(), factors: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  }).passthrough().safeParse(input);
  if (!over.success) throw new Error(`${where}: expected a JSON object like {"thresholds":{"A":90},"factors":{"complaint_rate":{"points":2,"cap":15}}}`);
  const o = over.data;
  const factors = { ...DEFAULT_SCORING.factors } as Record<string, unknown>;
  for (const [k, v] of Object.entries(o.factors ?? {})) factors[k] = { ...(DEFAULT_SCORING.factors[k as Factor] ?? {}), ...v };
  const merged = { ...DEFAULT_SCORING, ...o, thresholds: { ...DEFAULT_SCORING.thresholds, ...o.thresholds }, factors };
  const r = creditScoringSchema.safeParse(merged);
  if (!r.success) throw new Error(`${where}: ${issuesText(r.error)}`);
  return r.data;
}

/** The scoring named by CREDIT_SCORING (a JSON file path), or the defaults when unset. */
export function loadScoring(path: string | undefined): CreditScoring {
  if (!path) return DEFAULT_SCORING;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`CREDIT_SCORING: cannot read ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`CREDIT_SCORING: ${path} is not JSON: ${(err as Error).message}`);
  }
  return parseScoring(json, `CREDIT_SCORING ${path}`);
}

export type Grade = 'A' | 'B' | 'C' | 'D';

export interface FactorPoints {
  factor: Factor;
  /** the measure (see FACTOR_MEASURE), or null when the data is insufficient */
  value: number | null;
  /** points deducted: min(cap, value × points per unit), 2 decimals */
  points: number;
  perUnit: number;
  cap: number;
  capped: boolean;
  /** zh-CN, e.g. "每百台电梯投诉数 3.33 × 2 = 6.67 分" */
  text: string;
}

export interface UnitGrade {
  unit: string;
  name: string | null;
  elevators: number;
  /** 100 minus the deductions, 2 decimals; null when not graded */
  score: number | null;
  grade: Grade | null;
  /** the pass rate could not count (too few first inspections): graded without it, never red-listed */
  partial: boolean;
  /** why the unit is not graded or only partly: zh-CN sentences, empty when the data sufficed */
  insufficient: string[];
  factors: FactorPoints[];
  /** the inputs, kept so a published grade can be checked against what it was computed from */
  scorecard: Scorecard;
  counts: CreditCounts;
}

const r2 = (x: number) => Math.round(x * 100) / 100;
const per100 = (n: number, elevators: number) => (elevators > 0 ? (n / elevators) * 100 : 0);

/** The measure of every factor for one unit; null where the data does not allow it. */
export function measures(s: Scorecard, c: CreditCounts, sc: CreditScoring): Record<Factor, number | null> {
  const first = s.inspections.first;
  return {
    pass_rate: first >= sc.minInspections ? Math.max(0, (sc.passRateTarget - s.inspections.passed / first) * 100) : null,
    complaint_rate: per100(s.complaints.count, s.elevators),
    // days rather than episodes: a day late and two months late are not the same failure
    overdue_maintenance: s.elevators > 0 ? s.maintenance.overdueElevatorDays / s.elevators : 0,
    overdue_inspections: per100(s.overdueInspections.count, s.elevators),
    late_arrivals: s.entrapments.arrivalsOverLimit,
    dangerous_faults: per100(s.dangerousFaults, s.elevators),
    open_hazards: c.hazards.open,
    overdue_hazards: c.hazards.overdue,
    overdue_orders: c.orders.overdue,
    cases: c.orders.cases,
    interviews: c.interviews,
  };
}

export function gradeOf(score: number, t: CreditScoring['thresholds']): Grade {
  return score >= t.A ? 'A' : score >= t.B ? 'B' : score >= t.C ? 'C' : 'D';
}

/** One unit's grade, explained (pure). */
export function gradeUnit(s: Scorecard, counts: CreditCounts, sc: CreditScoring = DEFAULT_SCORING): UnitGrade {
  const m = measures(s, counts, sc);
  const factors = FACTORS.map((f): FactorPoints => {
    const { points: perUnit, cap } = sc.factors[f];
    const value = m[f];
    const raw = value === null ? 0 : value * perUnit;
    const points = r2(Math.min(cap, raw));
    const shown = value === null ? '样本不足' : String(r2(value));
    return { factor: f, value: value === null ? null : r2(value), points, perUnit, cap, capped: raw > cap, text: `${FACTOR_MEASURE[f].zh} ${shown} × ${perUnit} = ${points} 分${raw > cap ? `（封顶 ${cap}）` : ''}` };
  });
  const insufficient: string[] = [];
  const graded = s.elevators >= sc.minElevators;
  if (!graded) insufficient.push(`在册电梯 ${s.elevators} 台，少于评级所需的 ${sc.minElevators} 台，不评级`);
  const partial = graded && m.pass_rate === null;
  if (partial) insufficient.push(`首次定期检验 ${s.inspections.first} 台次，少于 ${sc.minInspections} 台次，合格率不计分，不列入守信名单`);
  const score = graded ? r2(100 - factors.reduce((a, f) => a + f.points, 0)) : null;
  return {
    unit: s.unit, name: s.name, elevators: s.elevators, score, grade: score === null ? null : gradeOf(score, sc.thresholds),
    partial, insufficient, factors, scorecard: s, counts,
  };
}

/** Every unit's grade for the period, the counts read from the sources (pure given pure sources). */
export function gradeUnits(cards: Scorecard[], period: { from: string; to: string }, sources: CreditSources = NO_SOURCES, sc: CreditScoring = DEFAULT_SCORING): UnitGrade[] {
  return cards.map((s) => gradeUnit(s, {
    hazards: sources.hazardCounts(s.unit, period), orders: sources.orderCounts(s.unit, period), interviews: sources.interviews(s.unit, period),
  }, sc));
}

/** The red list (守信, grade A with full data) and the black list (失信, grade D), best and worst first. */
export function redAndBlack(grades: UnitGrade[]): { red: UnitGrade[]; black: UnitGrade[] } {
  const by = (dir: 1 | -1) => (a: UnitGrade, b: UnitGrade) => dir * (a.score! - b.score!) || (a.unit < b.unit ? -1 : 1);
  return {
    red: grades.filter((g) => g.grade === 'A' && !g.partial).sort(by(-1)),
    black: grades.filter((g) => g.grade === 'D').sort(by(1)),
  };
}
