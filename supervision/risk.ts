// Elevator risk levels (高 / 较高 / 一般 / 低): where inspectors should go
// first. Each elevator's score is the sum of points its factors take (age,
// faults and entrapments, failed inspections, complaints over the period,
// overdue maintenance and inspection, open hazards), with configurable
// weights; the level is the first threshold the score reaches. Every level
// comes with the points of each factor, so nobody has to trust a number.
//
// The scoring is pure (scoreElevator); RiskLevels reads the figures of every
// elevator with one query per owner and factor (never one per elevator) and
// scores them in slices that yield to the event loop, so a province of
// 500,000 elevators does not stall the service.
import { z } from 'zod';
import type { Registry } from '../registry/registry.js';
import type { RecordLedger } from '../storage/ledger.js';
import type { AlertStore } from '../alerts/store.js';
import { cstDate, daysBetween, DAY_MS } from '../domain/time.js';
import { AppError, issuesText } from '../common/errors.js';

export const RISK_LEVELS = ['high', 'elevated', 'general', 'low'] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];
export const RISK_LEVEL_ZH: Record<RiskLevel, string> = { high: '高', elevated: '较高', general: '一般', low: '低' };

export const RISK_FACTORS = ['age', 'faults', 'entrapments', 'failedInspections', 'maintenanceOverdue', 'inspectionOverdue', 'openHazards', 'complaints'] as const;
export type RiskFactor = (typeof RISK_FACTORS)[number];

const points = z.number().min(0).max(1000);
/**
 * The scoring, validated. Per-count factors take `weight × count` points; age
 * takes `perYear` for every full year beyond `freeYears`, at most `max`; an
 * overdue flag takes its weight once. Thresholds: the lowest score of each
 * level, descending (high ≥ elevated ≥ general; below general is low).
 */
export const riskConfigSchema = z.object({
  periodDays: z.number().int().min(1).max(3660).default(365),
  age: z.object({ freeYears: z.number().int().min(0).max(100).default(10), perYear: points.default(1), max: points.default(10) }).prefault({}),
  weights: z.object({
    faults: points.default(1), entrapments: points.default(3), failedInspections: points.default(5), maintenanceOverdue: points.default(4),
    inspectionOverdue: points.default(6), openHazards: points.default(4), complaints: points.default(2),
  }).prefault({}),
  thresholds: z.object({ high: points.default(20), elevated: points.default(12), general: points.default(5) }).prefault({}),
}).refine((c) => c.thresholds.high >= c.thresholds.elevated && c.thresholds.elevated >= c.thresholds.general, {
  message: 'thresholds must descend: high ≥ elevated ≥ general', path: ['thresholds'],
});
export type RiskConfig = z.infer<typeof riskConfigSchema>;
export const DEFAULT_RISK: RiskConfig = riskConfigSchema.parse({});

/** RISK_SCORING (JSON, any part of the scoring) → the full scoring, or an error naming the bad field. */
export function parseRiskConfig(json: string | undefined): RiskConfig {
  if (!json) return DEFAULT_RISK;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error('RISK_SCORING must be JSON, e.g. {"weights":{"entrapments":5},"thresholds":{"high":25}}');
  }
  const r = riskConfigSchema.safeParse(raw);
  if (!r.success) throw new Error(`RISK_SCORING: ${issuesText(r.error, 'value')}`);
  return r.data;
}

/** One elevator's figures for the period. */
export interface RiskInputs {
  /** full years since installation (registry installedOn), null when unknown */
  ageYears: number | null;
  faults: number;
  entrapments: number;
  failedInspections: number;
  maintenanceOverdue: boolean;
  inspectionOverdue: boolean;
  openHazards: number;
  complaints: number;
}

export interface FactorScore {
  factor: RiskFactor;
  /** the figure (a count, years, or 1/0 for an overdue flag; null: unknown) */
  value: number | null;
  points: number;
}

export interface RiskScore {
  level: RiskLevel;
  score: number;
  /** the factors that took points, largest first (all of them in `inputs`) */
  factors: FactorScore[];
}

/** The score and level of one elevator: pure. */
export function scoreElevator(x: RiskInputs, c: RiskConfig = DEFAULT_RISK): RiskScore {
  const w = c.weights;
  const agePoints = x.ageYears === null ? 0 : Math.min(c.age.max, Math.max(0, x.ageYears - c.age.freeYears) * c.age.perYear);
  const all: FactorScore[] = [
    { factor: 'age', value: x.ageYears, points: agePoints },
    { factor: 'faults', value: x.faults, points: x.faults * w.faults },
    { factor: 'entrapments', value: x.entrapments, points: x.entrapments * w.entrapments },
    { factor: 'failedInspections', value: x.failedInspections, points: x.failedInspections * w.failedInspections },
    { factor: 'maintenanceOverdue', value: x.maintenanceOverdue ? 1 : 0, points: x.maintenanceOverdue ? w.maintenanceOverdue : 0 },
    { factor: 'inspectionOverdue', value: x.inspectionOverdue ? 1 : 0, points: x.inspectionOverdue ? w.inspectionOverdue : 0 },
    { factor: 'openHazards', value: x.openHazards, points: x.openHazards * w.openHazards },
    { factor: 'complaints', value: x.complaints, points: x.complaints * w.complaints },
  ];
  const score = all.reduce((s, f) => s + f.points, 0);
  const t = c.thresholds;
  const level: RiskLevel = score >= t.high ? 'high' : score >= t.elevated ? 'elevated' : score >= t.general ? 'general' : 'low';
  return { level, score, factors: all.filter((f) => f.points > 0).sort((a, b) => b.points - a.points) };
}

/** Full years from `installedOn` (YYYY-MM-DD) to `today`. */
export const ageYears = (installedOn: string | undefined, today: string): number | null =>
  installedOn ? Math.max(0, Math.floor(daysBetween(installedOn, today) / 365.25)) : null;

/** One elevator's level with what it is about and its figures. */
export interface ElevatorRisk extends RiskScore {
  code: string;
  district: string;
  address: string;
  maintenanceUnit: string;
  inputs: RiskInputs;
}

export interface RiskSnapshot {
  computedAt: number;
  period: { from: number; to: number };
  /** milliseconds the computation took (queries and scoring) */
  tookMs: number;
  items: ElevatorRisk[];
  byCode: Map<string, ElevatorRisk>;
}

/** Open hazards per elevator (supervision/hazards.ts HazardBook); default none. */
export interface HazardCounts {
  openByElevator(code: string): number;
  /** all at once, when the owner has it: one query instead of one per elevator */
  openCountsByElevator?(): Map<string, number>;
}

export interface RiskOptions {
  registry: Registry;
  ledger: RecordLedger;
  alerts: AlertStore;
  hazards?: HazardCounts;
  config?: RiskConfig;
  clock?: () => number;
  /** how long a computed snapshot serves reads (default 60 s) */
  maxAgeMs?: number;
  /** elevators scored between two yields to the event loop */
  sliceSize?: number;
}

export class RiskError extends AppError {
  constructor(message: string, statusCode: 400 | 404) {
    super(message, statusCode);
  }
}

/** Elevators per page of the ledger's counts: a page reads in tens of milliseconds on SQLite. */
const LEDGER_PAGE = 20_000;
const yieldNow = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Risk levels of every registered elevator, computed on demand and kept for a minute. */
export class RiskLevels {
  readonly config: RiskConfig;
  private readonly clock: () => number;
  private snapshot: RiskSnapshot | null = null;
  private running: Promise<RiskSnapshot> | null = null;

  constructor(private readonly opts: RiskOptions) {
    this.config = opts.config ?? DEFAULT_RISK;
    this.clock = opts.clock ?? Date.now;
  }

  /** The current snapshot: the cached one while fresh, else one computation shared by every caller waiting. */
  async current(): Promise<RiskSnapshot> {
    const s = this.snapshot;
    if (s && this.clock() - s.computedAt < (this.opts.maxAgeMs ?? 60_000)) return s;
    this.running ??= this.compute().finally(() => (this.running = null));
    return this.running;
  }

  /**
   * The level as last computed, without waiting (the public page): null until a first computation; a stale
   * snapshot starts a new one in the background and is answered meanwhile.
   */
  known(code: string): { level: RiskLevel } | null {
    const s = this.snapshot;
    if (!s || this.clock() - s.computedAt >= (this.opts.maxAgeMs ?? 60_000)) void this.current().catch(() => undefined);
    const r = s?.byCode.get(code);
    return r ? { level: r.level } : null;
  }

  /** Forget the snapshot (after a change that should show at once). */
  invalidate(): void {
    this.snapshot = null;
  }

  async compute(): Promise<RiskSnapshot> {
    const t0 = performance.now();
    const now = this.clock();
    const from = now - this.config.periodDays * DAY_MS;
    const { registry, ledger, alerts, hazards } = this.opts;
    // One query per owner and factor, for every elevator at once.
    const counts = new Map<string, { faults: number; entrapments: number; failedInspections: number; complaints: number }>();
    for (let after: string | null = null; ;) {
      const page = ledger.riskCountsByElevator(from, now, after, LEDGER_PAGE);
      for (const { elevator, ...c } of page) counts.set(elevator, c);
      await yieldNow();
      if (page.length < LEDGER_PAGE) break;
      after = page.at(-1)!.elevator;
    }
    const maint = alerts.activeBySubject('maintenance_overdue', 'elevator');
    const insp = alerts.activeBySubject('inspection_overdue', 'elevator');
    const hazardMap = hazards?.openCountsByElevator?.();
    await yieldNow();
    const today = cstDate(now);
    const slice = this.opts.sliceSize ?? 5000;
    const items: ElevatorRisk[] = [];
    let n = 0;
    for (const e of registry.elevators.items.values()) {
      const c = counts.get(e.code);
      const inputs: RiskInputs = {
        ageYears: ageYears(e.installedOn, today),
        faults: c?.faults ?? 0,
        entrapments: c?.entrapments ?? 0,
        failedInspections: c?.failedInspections ?? 0,
        maintenanceOverdue: maint.has(e.code),
        inspectionOverdue: insp.has(e.code),
        openHazards: hazardMap ? (hazardMap.get(e.code) ?? 0) : (hazards?.openByElevator(e.code) ?? 0),
        complaints: c?.complaints ?? 0,
      };
      items.push({ code: e.code, district: e.district, address: e.address, maintenanceUnit: e.maintenanceUnit, inputs, ...scoreElevator(inputs, this.config) });
      if (++n % slice === 0) await yieldNow();
    }
    items.sort((a, b) => b.score - a.score || (a.code < b.code ? -1 : 1));
    const snapshot: RiskSnapshot = { computedAt: now, period: { from, to: now }, tookMs: Math.round(performance.now() - t0), items, byCode: new Map(items.map((i) => [i.code, i])) };
    this.snapshot = snapshot;
    return snapshot;
  }

  /** Elevators by descending score, filtered, a page at a time; counts per level of the filtered set (before the level filter). */
  async list(q: { level?: RiskLevel | undefined; district?: string | undefined; unit?: string | undefined; districts?: readonly string[] | null; page?: number; pageSize?: number } = {}) {
    const s = await this.current();
    const scoped = s.items.filter((i) => (!q.district || i.district === q.district) && (!q.unit || i.maintenanceUnit === q.unit) && (!q.districts || q.districts.includes(i.district)));
    const counts = Object.fromEntries(RISK_LEVELS.map((l) => [l, 0])) as Record<RiskLevel, number>;
    for (const i of scoped) counts[i.level]++;
    const rows = q.level ? scoped.filter((i) => i.level === q.level) : scoped;
    const page = Math.max(1, q.page ?? 1);
    const pageSize = Math.min(500, Math.max(1, q.pageSize ?? 50));
    return { computedAt: s.computedAt, period: s.period, counts, total: rows.length, page, pageSize, items: rows.slice((page - 1) * pageSize, page * pageSize) };
  }

  /** Counts per district and level (the district map). */
  async byDistrict(): Promise<Record<string, Record<RiskLevel, number>>> {
    const s = await this.current();
    const out: Record<string, Record<RiskLevel, number>> = {};
    for (const i of s.items) (out[i.district] ??= { high: 0, elevated: 0, general: 0, low: 0 })[i.level]++;
    return out;
  }

  /** One elevator's level with its factors. */
  async of(code: string): Promise<ElevatorRisk> {
    const r = (await this.current()).byCode.get(code);
    if (!r) throw new RiskError(`elevator ${code} is not registered`, 404);
    return r;
  }

  /** code → level, for callers that weigh elevators by risk (spot checks). */
  async levels(): Promise<Map<string, RiskLevel>> {
    return new Map((await this.current()).items.map((i) => [i.code, i.level]));
  }
}
