// The hazard book (隐患台账): every hazard reported on `se/v1/records/hazard`
// (protocol v1.1) from `found` to `rectified`, written in the ingest accept
// transaction so it holds exactly the acknowledged records. A hazard is keyed
// by the id of its `found` record; a `rectified` record names it in
// `hazardId`. Decode cannot see this state, so a rectification naming an
// unknown hazard, or a hazard of other equipment or another unit, is kept
// here as unmatched (shown to inspectors) rather than dead-lettered; when
// the found record arrives later (backfill, out of order) it is matched then.
//
// A major hazard is a `major_hazard` alert on its equipment at once, resolved
// when the equipment's last open major hazard is rectified. An open hazard
// past its deadline (HAZARD_DUE_DAYS_*: configuration, not regulation) is
// overdue: a timed check raises one `hazard_overdue` alert per hazard, which
// its rectification resolves.
import type { Logger } from 'pino';
import type { AlertStore } from '../alerts/store.js';
import { HAZARD_OVERDUE_ALERT, type SubjectKind } from '../domain/alerts.js';
import type { HazardLevel } from '../domain/messages.js';
import { DAY_MS } from '../domain/time.js';
import type { IngestedItem } from '../ingest/pipeline.js';
import type { Db } from '../storage/db.js';
import { migrate, type Migration } from '../storage/migrations.js';
import { sorting, type SortOf } from '../storage/sort.js';

export const MAJOR_HAZARD_ALERT = 'major_hazard';
export { HAZARD_OVERDUE_ALERT };

/** Days from `found` to the rectification deadline, per level. */
export interface HazardDueDays { general: number; major: number }
export const DEFAULT_HAZARD_DUE_DAYS: HazardDueDays = { general: 30, major: 7 };

const MIGRATIONS: Migration[] = [{
  version: 1,
  name: 'hazard book',
  up: `CREATE TABLE IF NOT EXISTS hazards (id TEXT PRIMARY KEY, elevator TEXT, site TEXT, unit TEXT, district TEXT, level TEXT NOT NULL,
      category TEXT NOT NULL, description TEXT, source TEXT NOT NULL, sender TEXT NOT NULL, found_at INTEGER NOT NULL,
      rectified_at INTEGER, rectify_id TEXT, rectified_by TEXT, evidence TEXT, overdue_alerted INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX IF NOT EXISTS hazards_unit ON hazards (unit, found_at);
    CREATE INDEX IF NOT EXISTS hazards_elevator ON hazards (elevator, found_at);
    CREATE INDEX IF NOT EXISTS hazards_open ON hazards (rectified_at, found_at);
    CREATE TABLE IF NOT EXISTS hazard_unmatched (id TEXT PRIMARY KEY, hazard_id TEXT NOT NULL, elevator TEXT, site TEXT, unit TEXT, district TEXT,
      sender TEXT NOT NULL, at INTEGER NOT NULL, evidence TEXT, kind TEXT NOT NULL, reason TEXT NOT NULL, received_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS hazard_unmatched_hazard ON hazard_unmatched (hazard_id)`,
}];

export type HazardState = 'open' | 'overdue' | 'rectified';

export interface HazardRow {
  id: string;
  elevator: string | null;
  site: string | null;
  unit: string | null;
  district: string | null;
  level: HazardLevel;
  category: string;
  description: string | null;
  source: string;
  sender: string;
  foundAt: number;
  dueAt: number;
  rectifiedAt: number | null;
  rectifyId: string | null;
  rectifiedBy: string | null;
  evidence: string[];
  state: HazardState;
  overdue: boolean;
}

export interface UnmatchedRectification {
  id: string; hazardId: string; elevator: string | null; site: string | null; unit: string | null; district: string | null;
  sender: string; at: number; evidence: string[]; kind: UnmatchedKind; reason: string; receivedAt: number;
}

/** Why a rectification matched no hazard: none with that id (yet), or one on other equipment, or another unit's. */
export type UnmatchedKind = 'unknown_hazard' | 'other_equipment' | 'other_unit';

/** What one hazard counts in a unit's period (the agreed interface with the credit and risk parts). */
export interface HazardCounts { found: number; open: number; overdue: number; rectified: number; major: number }

export interface HazardFilter {
  unit?: string | undefined;
  elevator?: string | undefined;
  site?: string | undefined;
  state?: HazardState | undefined;
  level?: HazardLevel | undefined;
  /** a caller's districts; null or undefined = all */
  districts?: string[] | null | undefined;
}

export const HAZARD_SORT = sorting({ foundAt: 'found_at', rectifiedAt: 'rectified_at', unit: 'unit', level: 'level' }, 'id');
export type HazardSort = SortOf<typeof HAZARD_SORT>;

const COLS = `id, elevator, site, unit, district, level, category, description, source, sender, found_at AS "foundAt", rectified_at AS "rectifiedAt",
  rectify_id AS "rectifyId", rectified_by AS "rectifiedBy", evidence`;
type Raw = Omit<HazardRow, 'dueAt' | 'state' | 'overdue' | 'evidence'> & { evidence: string | null };

/**
 * The table's owner: every SQL statement on `hazards` and `hazard_unmatched`.
 * Read-only use (the scorecard worker) needs nothing else.
 */
export class HazardStore {
  constructor(private readonly db: Db, readonly dueDays: HazardDueDays = DEFAULT_HAZARD_DUE_DAYS) {
    migrate(db, 'hazards', MIGRATIONS);
  }

  /** SQL for a hazard's deadline, with the due days as named arguments. */
  private due(args: Record<string, unknown>): string {
    args.dueGeneral = this.dueDays.general * DAY_MS;
    args.dueMajor = this.dueDays.major * DAY_MS;
    // CAST: PostgreSQL cannot infer a parameter's type inside CASE (it would take text).
    return `(found_at + CASE level WHEN 'major' THEN CAST(@dueMajor AS BIGINT) ELSE CAST(@dueGeneral AS BIGINT) END)`;
  }

  dueAt(level: HazardLevel, foundAt: number): number {
    return foundAt + this.dueDays[level] * DAY_MS;
  }

  private row(r: Raw, now: number): HazardRow {
    const dueAt = this.dueAt(r.level, r.foundAt);
    const overdue = r.rectifiedAt === null && dueAt < now;
    return { ...r, evidence: r.evidence ? (JSON.parse(r.evidence) as string[]) : [], dueAt, overdue, state: r.rectifiedAt !== null ? 'rectified' : overdue ? 'overdue' : 'open' };
  }

  get(id: string, now = Date.now()): HazardRow | undefined {
    const r = this.db.prepare(`SELECT ${COLS} FROM hazards WHERE id = ?`).get(id) as Raw | undefined;
    return r && this.row(r, now);
  }

  /** Records a found hazard; false when a hazard with this id is already in the book (another sender's id). */
  insertFound(h: Omit<Raw, 'rectifiedAt' | 'rectifyId' | 'rectifiedBy' | 'evidence'>): boolean {
    return !!this.db.prepare(`INSERT INTO hazards (id, elevator, site, unit, district, level, category, description, source, sender, found_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING id`)
      .get(h.id, h.elevator, h.site, h.unit, h.district, h.level, h.category, h.description, h.source, h.sender, h.foundAt);
  }

  /** Marks a hazard rectified (the earliest rectification wins). */
  rectify(id: string, r: { at: number; rectifyId: string; by: string; evidence: string[] }): void {
    this.db.prepare(`UPDATE hazards SET rectified_at = ?, rectify_id = ?, rectified_by = ?, evidence = ? WHERE id = ? AND (rectified_at IS NULL OR rectified_at > ?)`)
      .run(r.at, r.rectifyId, r.by, JSON.stringify(r.evidence), id, r.at);
  }

  addUnmatched(u: UnmatchedRectification): void {
    this.db.prepare(`INSERT INTO hazard_unmatched (id, hazard_id, elevator, site, unit, district, sender, at, evidence, kind, reason, received_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
      .run(u.id, u.hazardId, u.elevator, u.site, u.unit, u.district, u.sender, u.at, JSON.stringify(u.evidence), u.kind, u.reason, u.receivedAt);
  }

  /** Unmatched rectifications naming this hazard, oldest first. */
  unmatchedFor(hazardId: string): UnmatchedRectification[] {
    return (this.db.prepare(`SELECT id, hazard_id AS "hazardId", elevator, site, unit, district, sender, at, evidence, kind, reason, received_at AS "receivedAt"
      FROM hazard_unmatched WHERE hazard_id = ? ORDER BY at, id`).all(hazardId) as (Omit<UnmatchedRectification, 'evidence'> & { evidence: string })[])
      .map((u) => ({ ...u, evidence: JSON.parse(u.evidence) as string[] }));
  }

  dropUnmatched(id: string): void {
    this.db.prepare('DELETE FROM hazard_unmatched WHERE id = ?').run(id);
  }

  unmatched(q: { districts?: string[] | null | undefined; page?: number; pageSize?: number } = {}) {
    const args: Record<string, unknown> = {};
    const w = q.districts ? `WHERE ${inList('district', q.districts, args)}` : '';
    const page = Math.max(1, q.page ?? 1);
    const pageSize = Math.min(500, Math.max(1, q.pageSize ?? 50));
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM hazard_unmatched ${w}`).get(args) as { n: number }).n;
    const items = (this.db.prepare(`SELECT id, hazard_id AS "hazardId", elevator, site, unit, district, sender, at, evidence, kind, reason, received_at AS "receivedAt"
      FROM hazard_unmatched ${w} ORDER BY at DESC, id LIMIT @limit OFFSET @offset`).all({ ...args, limit: pageSize, offset: (page - 1) * pageSize }) as (Omit<UnmatchedRectification, 'evidence'> & { evidence: string })[])
      .map((u) => ({ ...u, evidence: JSON.parse(u.evidence) as string[] }));
    return { items, total, page, pageSize };
  }

  /** Open major hazards on this equipment. */
  openMajorOn(column: 'elevator' | 'site', code: string): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM hazards WHERE ${column} = ? AND level = 'major' AND rectified_at IS NULL`).get(code) as { n: number }).n;
  }

  /** Open hazards past their deadline at `now` that have not had their overdue alert yet. */
  newlyOverdue(now: number, limit = 1000): HazardRow[] {
    const args: Record<string, unknown> = { now, limit };
    const rows = this.db.prepare(`SELECT ${COLS} FROM hazards WHERE rectified_at IS NULL AND overdue_alerted = 0 AND ${this.due(args)} < @now ORDER BY found_at, id LIMIT @limit`).all(args) as Raw[];
    return rows.map((r) => this.row(r, now));
  }

  markOverdueAlerted(id: string): void {
    this.db.prepare('UPDATE hazards SET overdue_alerted = 1 WHERE id = ?').run(id);
  }

  list(q: HazardFilter & { page?: number; pageSize?: number; sort?: HazardSort | undefined } = {}, now = Date.now()) {
    const { w, args } = this.where(q, now);
    const page = Math.max(1, q.page ?? 1);
    const pageSize = Math.min(500, Math.max(1, q.pageSize ?? 50));
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM hazards ${w}`).get(args) as { n: number }).n;
    const rows = this.db.prepare(`SELECT ${COLS} FROM hazards ${w} ORDER BY ${HAZARD_SORT.order(q.sort ?? '-foundAt')} LIMIT @limit OFFSET @offset`)
      .all({ ...args, limit: pageSize, offset: (page - 1) * pageSize }) as Raw[];
    return { items: rows.map((r) => this.row(r, now)), total, page, pageSize };
  }

  /** Every open hazard (of a unit), oldest first. */
  open(unit: string | undefined, now = Date.now()): HazardRow[] {
    const args: Record<string, unknown> = {};
    const rows = this.db.prepare(`SELECT ${COLS} FROM hazards WHERE rectified_at IS NULL${unit === undefined ? '' : ' AND unit = @unit'} ORDER BY found_at, id`)
      .all(unit === undefined ? args : { unit }) as Raw[];
    return rows.map((r) => this.row(r, now));
  }

  openByElevator(code: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM hazards WHERE elevator = ? AND rectified_at IS NULL').get(code) as { n: number }).n;
  }

  /** Open hazards of every elevator that has one, in one query (risk levels of a whole province). */
  openCountsByElevator(): Map<string, number> {
    const rows = this.db.prepare('SELECT elevator, COUNT(*) AS n FROM hazards WHERE elevator IS NOT NULL AND rectified_at IS NULL GROUP BY elevator').raw().all() as [string, number][];
    return new Map(rows);
  }

  /**
   * Per unit over [from, to): found, major (found at level major) and
   * rectified in the period; open and overdue at its end (or at `now` when
   * that is earlier: a period still running counts what is open now).
   */
  countsByUnit(p: { from: number; to: number }, now = Date.now(), unit?: string): Map<string, HazardCounts> {
    const args: Record<string, unknown> = { from: p.from, to: p.to, at: Math.min(p.to, now) };
    const isOpen = `found_at < @at AND (rectified_at IS NULL OR rectified_at >= @at)`;
    if (unit !== undefined) args.unit = unit;
    const rows = this.db.prepare(`SELECT unit,
        SUM(CASE WHEN found_at >= @from AND found_at < @to THEN 1 ELSE 0 END) AS found,
        SUM(CASE WHEN found_at >= @from AND found_at < @to AND level = 'major' THEN 1 ELSE 0 END) AS major,
        SUM(CASE WHEN rectified_at >= @from AND rectified_at < @to THEN 1 ELSE 0 END) AS rectified,
        SUM(CASE WHEN ${isOpen} THEN 1 ELSE 0 END) AS open,
        SUM(CASE WHEN ${isOpen} AND ${this.due(args)} < @at THEN 1 ELSE 0 END) AS overdue
      FROM hazards WHERE unit IS NOT NULL${unit === undefined ? '' : ' AND unit = @unit'} GROUP BY unit`).all(args) as (HazardCounts & { unit: string })[];
    return new Map(rows.map(({ unit: u, ...c }) => [u, { found: Number(c.found), major: Number(c.major), rectified: Number(c.rectified), open: Number(c.open), overdue: Number(c.overdue) }]));
  }

  private where(q: HazardFilter, now: number): { w: string; args: Record<string, unknown> } {
    const where: string[] = [];
    const args: Record<string, unknown> = {};
    if (q.districts) where.push(inList('district', q.districts, args));
    for (const k of ['unit', 'elevator', 'site', 'level'] as const) if (q[k]) (where.push(`${k} = @${k}`), (args[k] = q[k]));
    // open: every hazard not yet rectified, overdue ones included (the contract's "open"); overdue: those past their deadline
    if (q.state === 'rectified') where.push('rectified_at IS NOT NULL');
    else if (q.state === 'open') where.push('rectified_at IS NULL');
    else if (q.state === 'overdue') {
      args.now = now;
      where.push(`rectified_at IS NULL AND ${this.due(args)} < @now`);
    }
    return { w: where.length ? `WHERE ${where.join(' AND ')}` : '', args };
  }
}

/** `col IN (@d0, @d1, …)`; an empty list matches nothing. */
function inList(col: string, values: readonly string[], args: Record<string, unknown>): string {
  if (!values.length) return '1 = 0';
  return `${col} IN (${values.map((v, i) => ((args[`d${i}`] = v), `@d${i}`)).join(', ')})`;
}

export interface HazardBookOptions {
  db: Db;
  alerts: AlertStore;
  log: Logger;
  dueDays?: HazardDueDays;
  /** how often the overdue check runs (ALERT_CHECK_MS); default a minute */
  checkMs?: number;
  /** cluster mode: the timed check writes only on the leader */
  isLeader?: () => boolean;
  /** injected clock (tests) */
  clock?: () => number;
}

/** The hazard book: the store, its accept listener, its alerts and the timed overdue check. */
export class HazardBook {
  readonly store: HazardStore;
  private timer: NodeJS.Timeout | undefined;
  private readonly clock: () => number;

  constructor(private readonly opts: HazardBookOptions) {
    this.store = new HazardStore(opts.db, opts.dueDays ?? DEFAULT_HAZARD_DUE_DAYS);
    this.clock = opts.clock ?? Date.now;
  }

  /** The ingest accept listener (ingest.onAccepted): runs in the accept transaction. */
  onAccepted(items: readonly IngestedItem[]): void {
    for (const it of items) {
      if (it.channel !== 'hazard') continue;
      const h = it.record;
      const where = { elevator: h.elevator ?? null, site: h.site ?? null, unit: it.ctx.unit ?? null, district: it.ctx.district ?? null };
      const lagMs = Math.max(0, it.receivedAt - h.ts);
      if (h.state === 'found') {
        const found = { id: h.id, ...where, level: h.level, category: h.category, description: h.description ?? null, source: h.source, sender: it.sender, foundAt: h.ts };
        if (!this.store.insertFound(found)) {
          this.opts.log.warn({ id: h.id, sender: it.sender }, 'a hazard with this id is already in the book (another sender\'s id?); the found record is not booked');
          continue;
        }
        // A rectification that came first (out of order, backfill) is matched now: no alert for a hazard already rectified.
        const first = this.store.unmatchedFor(h.id).find((u) => !this.mismatch(found, u));
        if (first) {
          this.store.dropUnmatched(first.id);
          this.store.rectify(h.id, { at: first.at, rectifyId: first.id, by: first.sender, evidence: first.evidence });
        } else if (h.level === 'major') this.raiseMajor(found, lagMs);
        continue;
      }
      const hazard = this.store.get(h.hazardId!);
      const rect = { at: h.ts, rectifyId: h.id, by: it.sender, evidence: h.evidence ?? [] };
      const miss = hazard ? this.mismatch(hazard, where) : { kind: 'unknown_hazard' as const, reason: `hazard ${h.hazardId} is not in the book (yet)` };
      if (miss) {
        this.store.addUnmatched({ id: h.id, hazardId: h.hazardId!, ...where, sender: it.sender, at: h.ts, evidence: rect.evidence, ...miss, receivedAt: it.receivedAt });
        continue;
      }
      if (hazard!.rectifiedAt !== null && hazard!.rectifiedAt <= h.ts) continue; // rectified already
      this.rectified(hazard!.id, rect, lagMs);
    }
  }

  /** Why a rectification cannot close this hazard: other equipment or another unit; null when it can. */
  private mismatch(hz: { id: string; elevator: string | null; site: string | null; unit: string | null }, r: { elevator: string | null; site: string | null; unit: string | null }): { kind: UnmatchedKind; reason: string } | null {
    if (hz.elevator !== r.elevator || hz.site !== r.site) return { kind: 'other_equipment', reason: `hazard ${hz.id} is on ${hz.elevator ?? hz.site}, not on ${r.elevator ?? r.site}` };
    if (hz.unit !== r.unit) return { kind: 'other_unit', reason: `hazard ${hz.id} is unit ${hz.unit ?? '(none)'}'s, not unit ${r.unit ?? '(none)'}'s` };
    return null;
  }

  private subject(h: { elevator: string | null; site: string | null }): { subjectKind: SubjectKind; subject: string } {
    return h.elevator !== null ? { subjectKind: 'elevator', subject: h.elevator } : { subjectKind: 'gas_site', subject: h.site! };
  }

  private raiseMajor(h: { id: string; elevator: string | null; site: string | null; unit: string | null; district: string | null; category: string; description: string | null; foundAt: number }, lagMs: number): void {
    this.opts.alerts.raise({
      type: MAJOR_HAZARD_ALERT, severity: 'major', ...this.subject(h), district: h.district ?? undefined, unit: h.unit ?? undefined, at: h.foundAt, lagMs,
      evidence: { hazardId: h.id, category: h.category, description: h.description },
    });
  }

  /** Books a rectification and resolves what it ends: the hazard's overdue alert, and the major-hazard alert once none is left open. */
  private rectified(id: string, r: { at: number; rectifyId: string; by: string; evidence: string[] }, lagMs: number): void {
    this.store.rectify(id, r);
    const h = this.store.get(id)!;
    const { alerts } = this.opts;
    const { subjectKind, subject } = this.subject(h);
    const overdue = alerts.active(HAZARD_OVERDUE_ALERT, subjectKind, `${subject}:${id}`);
    if (overdue) alerts.resolve(overdue.id, 'system', `隐患 ${id} 已整改 (rectified)`, r.at, lagMs);
    if (h.level !== 'major' || this.store.openMajorOn(h.elevator !== null ? 'elevator' : 'site', subject) > 0) return;
    const major = alerts.active(MAJOR_HAZARD_ALERT, subjectKind, subject);
    if (major) alerts.resolve(major.id, 'system', `重大隐患 ${id} 已整改 (rectified)`, r.at, lagMs);
  }

  /** Raises one `hazard_overdue` alert per open hazard past its deadline (once per hazard). Returns how many were raised. */
  checkOverdue(now = this.clock()): number {
    let raised = 0;
    this.opts.db.transaction(() => {
      for (const h of this.store.newlyOverdue(now)) {
        const { subjectKind, subject } = this.subject(h);
        // The subject is a part of the equipment (`E1:H7`, as a gas site's detectors): one alert per hazard.
        this.opts.alerts.raise({
          type: HAZARD_OVERDUE_ALERT, severity: h.level === 'major' ? 'major' : 'minor', subjectKind, subject: `${subject}:${h.id}`,
          district: h.district ?? undefined, unit: h.unit ?? undefined, at: h.dueAt, lagMs: 0,
          evidence: { hazardId: h.id, level: h.level, category: h.category, foundAt: h.foundAt, dueAt: h.dueAt },
        });
        this.store.markOverdueAlerted(h.id);
        raised++;
      }
    })();
    return raised;
  }

  start(): void {
    if (this.timer) return;
    const run = () => {
      if (this.opts.isLeader && !this.opts.isLeader()) return;
      try {
        const n = this.checkOverdue();
        if (n) this.opts.log.info({ raised: n }, 'overdue hazards raised');
      } catch (err) {
        this.opts.log.error({ err }, 'hazard overdue check failed');
      }
    };
    this.timer = setInterval(run, this.opts.checkMs ?? 60_000);
    this.timer.unref();
    run();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  list(q: Parameters<HazardStore['list']>[0] = {}) {
    return this.store.list(q, this.clock());
  }

  get(id: string): HazardRow | undefined {
    return this.store.get(id, this.clock());
  }

  // The agreed interface for the credit and risk parts (issue 13 brief).
  openHazards(unit?: string): { id: string; elevator: string | null; site: string | null; unit: string | null; level: HazardLevel; foundAt: number; dueAt: number; overdue: boolean }[] {
    return this.store.open(unit, this.clock()).map(({ id, elevator, site, unit: u, level, foundAt, dueAt, overdue }) => ({ id, elevator, site, unit: u, level, foundAt, dueAt, overdue }));
  }

  hazardCounts(unit: string, period: { from: number; to: number }): HazardCounts {
    return this.store.countsByUnit(period, this.clock(), unit).get(unit) ?? { found: 0, open: 0, overdue: 0, rectified: 0, major: 0 };
  }

  openByElevator(code: string): number {
    return this.store.openByElevator(code);
  }

  openCountsByElevator(): Map<string, number> {
    return this.store.openCountsByElevator();
  }
}
