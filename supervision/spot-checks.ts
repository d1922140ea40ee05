// Double-random spot checks (双随机、一公开): draw N elevators (or maintenance
// units) for a period, weighted by risk level, and give each an inspector
// drawn at random from a pool; record each check's result; publish the
// results (what the public may see: elevator, address, unit, date, result).
//
// The draw is a pure function of its candidates, parameters, inspector pool,
// the previous draw's assignments and a 32-bit seed (mulberry32): the seed is
// stored with the draw, so anyone can draw again and get the same list.
// Sampling without replacement by Efraimidis–Spirakis keys (u^(1/w), the n
// largest): with one draw, an item's chance is its weight's share; so a high
// risk elevator (weight 4) is drawn four times as often as a low one (1).
import { randomInt } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../storage/db.js';
import { migrate, type Migration } from '../storage/migrations.js';
import { AppError, issuesText } from '../common/errors.js';
import { RISK_LEVELS, type RiskLevel } from './risk.js';

/** mulberry32: a small, well-known 32-bit PRNG; deterministic per seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const DEFAULT_LEVEL_WEIGHTS: Record<RiskLevel, number> = { high: 4, elevated: 3, general: 2, low: 1 };
const weight = z.number().min(0).max(1000);

/** What a draw is asked for (validated; stored with the draw). */
export const drawParamsSchema = z.object({
  kind: z.enum(['elevator', 'unit']).default('elevator'),
  n: z.number().int().min(1).max(10_000),
  /** the period checked, YYYY-MM-DD, `to` exclusive */
  from: z.iso.date(),
  to: z.iso.date(),
  /** only candidates in these districts (default: all) */
  districts: z.array(z.string().min(1).max(64)).max(100).optional(),
  weights: z.object({ high: weight, elevated: weight, general: weight, low: weight }).partial().optional(),
  /** 0 … 2^32-1; drawn at random when absent */
  seed: z.number().int().min(0).max(0xffffffff).optional(),
}).refine((p) => p.from < p.to, { message: 'from must be before to', path: ['to'] });
export type DrawParams = z.input<typeof drawParamsSchema>;

/** Something that can be drawn: an elevator, or a maintenance unit (code = unit id). */
export interface Candidate {
  code: string;
  unit: string;
  unitName: string | null;
  district: string;
  address: string;
  level: RiskLevel;
  /** for a unit: the mean weight of its elevators' levels; default the weight of `level` */
  weight?: number;
}

export interface Inspector {
  username: string;
  districts: string[];
}

export interface DrawnCheck extends Candidate {
  inspector: string;
}

export class SpotCheckError extends AppError {
  constructor(message: string, statusCode: 400 | 403 | 404 | 409) {
    super(message, statusCode);
  }
}

/**
 * The draw itself, pure: candidates are taken in code order (so the result does not depend on how they
 * were listed), the n with the largest keys u^(1/weight) are drawn, then each gets an inspector at random
 * among those who work in its district and did not check its unit in the previous draw.
 */
export function drawChecks(input: {
  candidates: readonly Candidate[]; n: number; seed: number; weights: Record<RiskLevel, number>;
  inspectors: readonly Inspector[]; previous: ReadonlyMap<string, string>;
}): DrawnCheck[] {
  const rand = mulberry32(input.seed);
  const sorted = [...input.candidates].sort((a, b) => (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  const keyed = sorted.map((c) => {
    const w = c.weight ?? input.weights[c.level];
    const u = rand();
    return { c, key: w > 0 ? Math.log(u || Number.MIN_VALUE) / w : -Infinity };
  }).filter((k) => k.key > -Infinity);
  keyed.sort((a, b) => b.key - a.key || (a.c.code < b.c.code ? -1 : 1));
  const drawn = keyed.slice(0, input.n).map((k) => k.c);
  const pool = [...input.inspectors].sort((a, b) => (a.username < b.username ? -1 : 1));
  return drawn.map((c) => {
    const inDistrict = pool.filter((i) => i.districts.includes(c.district));
    const before = input.previous.get(c.unit);
    const eligible = inDistrict.filter((i) => i.username !== before);
    if (!eligible.length) {
      throw new SpotCheckError(inDistrict.length
        ? `no inspector can check ${c.code} (${c.district}): the only inspector of ${c.district}, ${before}, checked unit ${c.unit} in the previous draw; add another inspector for ${c.district}`
        : `no inspector works in ${c.district}, where ${c.code} is; give an inspector that district, or draw without it`, 409);
    }
    return { ...c, inspector: eligible[Math.floor(rand() * eligible.length)]!.username };
  });
}

export const CHECK_RESULTS = ['passed', 'problems'] as const;
export type CheckResult = (typeof CHECK_RESULTS)[number];
export const resultSchema = z.object({
  result: z.enum(CHECK_RESULTS),
  /** what was found; required when result is problems */
  problems: z.string().min(1).max(5000).optional(),
  checkedOn: z.iso.date(),
}).refine((r) => r.result === 'passed' || !!r.problems, { message: 'say what problems were found', path: ['problems'] });

export interface SpotDraw {
  id: number;
  kind: 'elevator' | 'unit';
  periodFrom: string;
  periodTo: string;
  n: number;
  seed: number;
  params: { districts: string[] | null; weights: Record<RiskLevel, number>; candidates: number; inspectors: Inspector[] };
  drawnBy: string;
  drawnAt: number;
}

export interface SpotCheck extends Omit<DrawnCheck, 'weight'> {
  id: number;
  drawId: number;
  result: CheckResult | null;
  problems: string | null;
  checkedOn: string | null;
  recordedBy: string | null;
  recordedAt: number | null;
}

/** What the public sees of a check with a result (一公开). */
export interface PublishedCheck {
  drawId: number;
  periodFrom: string;
  periodTo: string;
  code: string;
  address: string;
  unitName: string;
  checkedOn: string;
  result: CheckResult;
}

const MIGRATIONS: Migration[] = [{
  version: 1,
  name: 'spot check draws and checks',
  up: `CREATE TABLE IF NOT EXISTS spot_check_draws (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, period_from TEXT NOT NULL, period_to TEXT NOT NULL,
      n INTEGER NOT NULL, seed INTEGER NOT NULL, params TEXT NOT NULL, drawn_by TEXT NOT NULL, drawn_at INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS spot_checks (id INTEGER PRIMARY KEY AUTOINCREMENT, draw_id INTEGER NOT NULL, code TEXT NOT NULL, unit TEXT NOT NULL, unit_name TEXT,
      district TEXT NOT NULL, address TEXT NOT NULL, level TEXT NOT NULL, inspector TEXT NOT NULL, result TEXT, problems TEXT, checked_on TEXT,
      recorded_by TEXT, recorded_at INTEGER, UNIQUE (draw_id, code));
    CREATE INDEX IF NOT EXISTS spot_checks_result ON spot_checks (checked_on) WHERE result IS NOT NULL`,
}];


export class SpotChecks {
  constructor(private readonly db: Db) {
    migrate(db, 'supervision/spot-checks', MIGRATIONS);
  }

  /** The previous draw's assignments of the same kind: unit → inspector (who may not check it again now). */
  private previousAssignments(kind: string): Map<string, string> {
    const last = this.db.prepare('SELECT id FROM spot_check_draws WHERE kind = ? ORDER BY id DESC LIMIT 1').get(kind) as { id: number } | undefined;
    if (!last) return new Map();
    const rows = this.db.prepare('SELECT unit, inspector FROM spot_checks WHERE draw_id = ?').all(last.id) as { unit: string; inspector: string }[];
    return new Map(rows.map((r) => [r.unit, r.inspector]));
  }

  /** Draws, assigns and records one draw in a transaction; the seed and parameters are kept with it. `candidates`: every elevator with its level. */
  draw(input: unknown, ctx: { candidates: readonly Candidate[]; inspectors: readonly Inspector[]; by: string; at?: number }): { draw: SpotDraw; checks: SpotCheck[] } {
    const parsed = drawParamsSchema.safeParse(input);
    if (!parsed.success) throw new SpotCheckError(issuesText(parsed.error), 400);
    const p = parsed.data;
    const weights = { ...DEFAULT_LEVEL_WEIGHTS, ...p.weights };
    const seed = p.seed ?? randomInt(0, 0xffffffff);
    const districts = p.districts?.length ? p.districts : null;
    const elevators = districts ? ctx.candidates.filter((c) => districts.includes(c.district)) : ctx.candidates;
    const candidates = p.kind === 'unit' ? unitCandidates(elevators, weights) : elevators;
    if (candidates.length < p.n) throw new SpotCheckError(`only ${candidates.length} ${p.kind === 'unit' ? 'units' : 'elevators'} to draw from${districts ? ` in ${districts.join(', ')}` : ''}; ask for at most that many`, 400);
    const at = ctx.at ?? Date.now();
    const inspectors = ctx.inspectors.map((i) => ({ username: i.username, districts: [...i.districts] }));
    const id = this.db.transaction(() => {
      const drawn = drawChecks({ candidates, n: p.n, seed, weights, inspectors, previous: this.previousAssignments(p.kind) });
      const params = { districts, weights, candidates: candidates.length, inspectors };
      const { id } = this.db.prepare(`INSERT INTO spot_check_draws (kind, period_from, period_to, n, seed, params, drawn_by, drawn_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
        .get(p.kind, p.from, p.to, p.n, seed, JSON.stringify(params), ctx.by, at) as { id: number };
      const ins = this.db.prepare(`INSERT INTO spot_checks (draw_id, code, unit, unit_name, district, address, level, inspector) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
      for (const c of drawn) ins.run(id, c.code, c.unit, c.unitName, c.district, c.address, c.level, c.inspector);
      return id;
    })();
    return this.get(id)!;
  }

  get(id: number): { draw: SpotDraw; checks: SpotCheck[] } | undefined {
    const r = this.db.prepare('SELECT * FROM spot_check_draws WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    if (!r) return undefined;
    const checks = (this.db.prepare('SELECT * FROM spot_checks WHERE draw_id = ? ORDER BY id').all(id) as Record<string, unknown>[]).map(toCheck);
    return { draw: toDraw(r), checks };
  }

  draws(q: { page?: number; pageSize?: number } = {}): { items: (SpotDraw & { done: number })[]; total: number; page: number; pageSize: number } {
    const page = Math.max(1, q.page ?? 1);
    const pageSize = Math.min(100, Math.max(1, q.pageSize ?? 20));
    const total = (this.db.prepare('SELECT COUNT(*) AS n FROM spot_check_draws').get() as { n: number }).n;
    const rows = this.db.prepare(`SELECT d.*, (SELECT COUNT(*) FROM spot_checks c WHERE c.draw_id = d.id AND c.result IS NOT NULL) AS done
      FROM spot_check_draws d ORDER BY d.id DESC LIMIT ? OFFSET ?`).all(pageSize, (page - 1) * pageSize) as Record<string, unknown>[];
    return { items: rows.map((r) => ({ ...toDraw(r), done: Number(r.done) })), total, page, pageSize };
  }

  check(id: number): SpotCheck | undefined {
    const r = this.db.prepare('SELECT * FROM spot_checks WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r && toCheck(r);
  }

  /** Records a check's result; only its own inspector may, unless `anyone` (an administrator). */
  record(id: number, input: unknown, by: string, anyone = false, at = Date.now()): SpotCheck {
    const c = this.check(id);
    if (!c) throw new SpotCheckError(`spot check ${id} not found`, 404);
    if (!anyone && c.inspector !== by) throw new SpotCheckError(`spot check ${id} is assigned to ${c.inspector}; only they (or an administrator) may record its result`, 403);
    const parsed = resultSchema.safeParse(input);
    if (!parsed.success) throw new SpotCheckError(issuesText(parsed.error), 400);
    const r = parsed.data;
    this.db.prepare('UPDATE spot_checks SET result = ?, problems = ?, checked_on = ?, recorded_by = ?, recorded_at = ? WHERE id = ?')
      .run(r.result, r.result === 'problems' ? r.problems! : null, r.checkedOn, by, at, id);
    return this.check(id)!;
  }

  /** The checks with a result, newest check first: only what may be public. */
  published(q: { drawId?: number | undefined; limit?: number } = {}): PublishedCheck[] {
    const where = q.drawId !== undefined ? 'AND c.draw_id = @drawId' : '';
    const rows = this.db.prepare(`SELECT c.draw_id AS "drawId", d.period_from AS "periodFrom", d.period_to AS "periodTo", c.code, c.address, c.unit, c.unit_name AS "unitName",
        c.checked_on AS "checkedOn", c.result FROM spot_checks c JOIN spot_check_draws d ON d.id = c.draw_id
      WHERE c.result IS NOT NULL ${where} ORDER BY c.checked_on DESC, c.id DESC LIMIT @limit`)
      .all({ ...(q.drawId !== undefined ? { drawId: q.drawId } : {}), limit: Math.min(10_000, q.limit ?? 1000) }) as (PublishedCheck & { unit: string; unitName: string | null })[];
    return rows.map(({ unit, ...r }) => ({ ...r, unitName: r.unitName ?? unit }));
  }
}

const toDraw = (r: Record<string, unknown>): SpotDraw => ({
  id: Number(r.id), kind: r.kind as SpotDraw['kind'], periodFrom: r.period_from as string, periodTo: r.period_to as string, n: Number(r.n), seed: Number(r.seed),
  params: JSON.parse(r.params as string) as SpotDraw['params'], drawnBy: r.drawn_by as string, drawnAt: Number(r.drawn_at),
});
const toCheck = (r: Record<string, unknown>): SpotCheck => ({
  id: Number(r.id), drawId: Number(r.draw_id), code: r.code as string, unit: r.unit as string, unitName: (r.unit_name as string | null) ?? null, district: r.district as string,
  address: r.address as string, level: r.level as RiskLevel, inspector: r.inspector as string, result: (r.result as CheckResult | null) ?? null, problems: (r.problems as string | null) ?? null,
  checkedOn: (r.checked_on as string | null) ?? null, recordedBy: (r.recorded_by as string | null) ?? null, recordedAt: r.recorded_at === null ? null : Number(r.recorded_at),
});

/** Units as candidates: each unit's weight is the mean weight of its elevators' levels, its district the one most of them are in. */
export function unitCandidates(elevators: readonly Candidate[], weights: Record<RiskLevel, number> = DEFAULT_LEVEL_WEIGHTS): Candidate[] {
  const byUnit = new Map<string, Candidate[]>();
  for (const e of elevators) (byUnit.get(e.unit) ?? byUnit.set(e.unit, []).get(e.unit)!).push(e);
  return [...byUnit].map(([unit, es]) => {
    const perDistrict = new Map<string, number>();
    for (const e of es) perDistrict.set(e.district, (perDistrict.get(e.district) ?? 0) + 1);
    const district = [...perDistrict].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0];
    const mean = es.reduce((s, e) => s + weights[e.level], 0) / es.length;
    const level = RISK_LEVELS.find((l) => weights[l] <= mean) ?? 'low';
    return { code: unit, unit, unitName: es[0]!.unitName, district, address: '', level, weight: mean };
  });
}
