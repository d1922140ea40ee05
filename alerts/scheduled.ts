// Scheduled rules: overdue maintenance and overdue periodic inspection,
// evaluated over the whole registry on a cron schedule (Asia/Shanghai) by
// the pure functions in rules/overdue.ts (and the daily pass of the unit
// flags, unit-flags.ts, which keep their own state). Between runs the shell
// keeps the facts they need in SQLite (`elevator_facts`: first known, newest routine
// maintenance, newest passing periodic inspection, in event time) and
// resolves an alert at once when a record or a registry change ends it.
//
// A run is one pass over the registry and one SQLite transaction. It is
// idempotent: an elevator that already has an active alert for the same
// overdue period is left alone (raise() on an active alert would count a
// repeat), so a second run in a row changes nothing. Every run is logged in
// `rule_runs`.
import type { Db, Statement } from '../storage/db.js';
import { migrate } from '../storage/migrations.js';
import cron, { type ScheduledTask } from 'node-cron';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { ROUTINE_MAINTENANCE, type Inspection, type Maintenance } from '../domain/messages.js';
import { DAY_MS } from '../domain/time.js';
import type { Ingest, IngestedItem } from '../ingest/pipeline.js';
import type { Registry } from '../registry/registry.js';
import type { Elevator } from '../registry/schemas.js';
import { UNIT_RATES_ALERT } from './rules/unit-rates.js';
import { inspectionOverdue, maintenanceOverdue, routineEndsOverdue, type ElevatorFacts, type OverdueDecision } from './rules/overdue.js';
import type { AlertStore, RaiseInput } from './store.js';

/**
 * Overdue maintenance and inspection are `minor`: a city has hundreds of them
 * on any morning, so they belong on the dashboard and in the run log, not in
 * every inspector's chat (contacts subscribe at `major` and up by default).
 */
export const OVERDUE_SEVERITY = 'minor';

export const TIMEZONE = 'Asia/Shanghai';

interface RuleDef {
  alertType: string;
  description: string;
  evaluate(e: Elevator, facts: ElevatorFacts, now: number): OverdueDecision;
}

const ELEVATOR_RULES = ['overdue-maintenance', 'overdue-inspection'] as const;
type ElevatorRule = (typeof ELEVATOR_RULES)[number];
/** The elevator rules, and `unit-rates`: flags of maintenance units re-evaluated daily, so records age out of their twelve months (alerts/unit-flags.ts). */
export const RULE_NAMES = [...ELEVATOR_RULES, 'unit-rates'] as const;
export type RuleName = (typeof RULE_NAMES)[number];

/** The daily pass of the unit-rates rule (alerts/unit-flags.ts). */
export interface UnitRatesPass {
  reevaluate(now: number): { checked: number; raised: number; resolved: number; stillActive: number; error: string | null };
}

const UNIT_RATES_INFO = { alertType: UNIT_RATES_ALERT, description: 'a maintenance unit\'s rolling twelve-month first-inspection pass rate or complaint rate fails the interview-list criteria' };

export const RULES: Record<ElevatorRule, RuleDef> = {
  'overdue-maintenance': {
    alertType: 'maintenance_overdue',
    description: 'no routine maintenance for more than the elevator\'s maintenanceIntervalDays (default 15, TSG T5002)',
    evaluate: maintenanceOverdue,
  },
  'overdue-inspection': {
    alertType: 'inspection_overdue',
    description: 'the registry\'s nextInspectionDue has passed with no passing periodic inspection since',
    evaluate: inspectionOverdue,
  },
};
export const isRule = (name: string): name is RuleName => (RULE_NAMES as readonly string[]).includes(name);
const infoOf = (name: RuleName) => (name === 'unit-rates' ? UNIT_RATES_INFO : RULES[name]);

export type RunTrigger = 'schedule' | 'api' | 'startup';

export interface RuleRun {
  id: number;
  rule: RuleName;
  trigger: RunTrigger;
  startedAt: number;
  durationMs: number;
  /** elevators evaluated */
  checked: number;
  raised: number;
  resolved: number;
  /** active alerts of the rule's type after the run */
  stillActive: number;
  error: string | null;
}

export interface RuleInfo {
  rule: RuleName;
  alertType: string;
  description: string;
  /** cron expression, or null when the rule only runs on demand */
  schedule: string | null;
  timezone: string;
  nextRunAt: number | null;
  running: boolean;
  lastRun: RuleRun | null;
}

export interface SchedulerOptions {
  db: Db;
  registry: Registry;
  alerts: AlertStore;
  ingest: Ingest;
  log: Logger;
  /** cron expressions (Asia/Shanghai); a rule without one runs only on demand */
  schedules?: Partial<Record<RuleName, string>>;
  /** the unit-rates rule's daily pass; without it the rule checks nothing */
  unitRates?: UnitRatesPass;
  /** on start, run each rule whose last successful run is older than 24 h (default true) */
  catchUp?: boolean;
  clock?: () => number;
  /**
   * Cluster mode: scheduled runs happen only on the leader (checked when a schedule fires), fenced by its
   * leadership epoch inside the run's transaction; the catch-up runs when a node becomes leader (catchUp()),
   * not at start. A run asked for over the API runs on the node asked.
   */
  cluster?: { leader: () => boolean; fenceLeader: () => void };
}

interface RunRow { id: number; rule: RuleName; trigger: RunTrigger; started_at: number; duration_ms: number; checked: number; raised: number; resolved: number; still_active: number; error: string | null }
const toRun = (r: RunRow): RuleRun => ({
  id: r.id, rule: r.rule, trigger: r.trigger, startedAt: r.started_at, durationMs: r.duration_ms,
  checked: r.checked, raised: r.raised, resolved: r.resolved, stillActive: r.still_active, error: r.error,
});
type FactsRow = [elevator: string, firstKnownAt: number, lastRoutineAt: number | null, lastPassAt: number | null];

/** How long the start-up catch-up waits for the spool to drain, so replayed records count. */
const CATCH_UP_DRAIN_MS = 30_000;

export class Scheduler {
  private readonly clock: () => number;
  private readonly log: Logger;
  private readonly running = new Map<RuleName, Promise<RuleRun>>();
  private readonly tasks = new Map<RuleName, ScheduledTask>();
  /** active alerts per rule, subject → alert id, for the hot paths (records, registry changes) */
  private readonly activeNow = new Map<ElevatorRule, Map<string, number>>();
  private readonly cleanups: (() => void)[] = [];
  private started = false;
  private stopped = false;
  private readonly sql: Record<'known' | 'routine' | 'pass' | 'facts' | 'insertRun' | 'lastSuccess' | 'lastRun', Statement>;

  constructor(private readonly opts: SchedulerOptions) {
    const { db } = opts;
    this.clock = opts.clock ?? Date.now;
    this.log = opts.log;
    migrate(db, 'alerts/scheduled', [{
      version: 1,
      name: 'elevator facts and rule runs',
      up: `CREATE TABLE IF NOT EXISTS elevator_facts (
        elevator TEXT PRIMARY KEY, first_known_at INTEGER NOT NULL, last_routine_at INTEGER, last_pass_at INTEGER);
      CREATE TABLE IF NOT EXISTS rule_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, rule TEXT NOT NULL, trigger TEXT NOT NULL, started_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL,
        checked INTEGER NOT NULL, raised INTEGER NOT NULL, resolved INTEGER NOT NULL, still_active INTEGER NOT NULL, error TEXT);
      CREATE INDEX IF NOT EXISTS rule_runs_rule ON rule_runs (rule, id)`,
    }]);
    // Event times arrive out of order: keep the newest (CASE on table-qualified columns: PostgreSQL has no two-argument MAX).
    const newest = (col: string) => `INSERT INTO elevator_facts (elevator, first_known_at, ${col}) VALUES (?, ?, ?)
      ON CONFLICT (elevator) DO UPDATE SET ${col} = CASE WHEN elevator_facts.${col} IS NULL OR excluded.${col} > elevator_facts.${col} THEN excluded.${col} ELSE elevator_facts.${col} END`;
    this.sql = {
      known: db.prepare('INSERT INTO elevator_facts (elevator, first_known_at) VALUES (?, ?) ON CONFLICT(elevator) DO NOTHING'),
      routine: db.prepare(newest('last_routine_at')),
      pass: db.prepare(newest('last_pass_at')),
      facts: db.prepare('SELECT elevator, first_known_at, last_routine_at, last_pass_at FROM elevator_facts WHERE elevator = ?').raw(),
      insertRun: db.prepare(`INSERT INTO rule_runs (rule, trigger, started_at, duration_ms, checked, raised, resolved, still_active, error)
        VALUES (@rule, @trigger, @startedAt, @durationMs, @checked, @raised, @resolved, @stillActive, @error) RETURNING id`),
      lastSuccess: db.prepare('SELECT MAX(started_at) AS at FROM rule_runs WHERE rule = ? AND error IS NULL'),
      lastRun: db.prepare('SELECT * FROM rule_runs WHERE rule = ? ORDER BY id DESC LIMIT 1'),
    };
  }

  /** Follows records and registry changes, schedules the rules, and (unless disabled) catches up on runs missed while down. */
  async start(): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    const { alerts, registry, ingest } = this.opts;
    this.rememberKnown(registry.elevators.items.keys());
    for (const name of ELEVATOR_RULES) {
      const ids = new Map([...alerts.activeIds(RULES[name].alertType)].filter(([k]) => k.startsWith('elevator:')).map(([k, id]) => [k.slice(9), id]));
      this.activeNow.set(name, ids);
    }
    const byType = new Map(ELEVATOR_RULES.map((n) => [RULES[n].alertType, this.activeNow.get(n)!]));
    this.cleanups.push(alerts.onTransition(({ alert, transition }) => {
      const ids = alert.subjectKind === 'elevator' ? byType.get(alert.type) : undefined;
      if (ids && transition === 'raised') ids.set(alert.subject, alert.id);
      else if (ids && transition === 'resolved') ids.delete(alert.subject);
    }));
    this.cleanups.push(ingest.onAccepted((items) => this.onStored(items)));
    // Only changes written here: in a cluster, the node that wrote the change applies its effect once (the
    // others hear it again as a reload).
    this.cleanups.push(registry.onWrite((w) => {
      if (w.kind === 'item' && w.collection === 'elevators') this.onElevatorChange(w.key, registry.elevators.get(w.key));
    }));

    const logger = {
      info: (m: string) => this.log.info(m),
      warn: (m: string) => this.log.warn(m),
      error: (m: string | Error, err?: Error) => this.log.error({ err: err ?? m }, 'scheduled rule task failed'),
      debug: (m: string | Error) => this.log.debug(String(m)),
    };
    for (const name of RULE_NAMES) {
      const expr = this.opts.schedules?.[name];
      if (expr) this.tasks.set(name, cron.schedule(expr, () => (this.opts.cluster && !this.opts.cluster.leader() ? undefined : this.run(name, 'schedule')), { timezone: TIMEZONE, name: `rule:${name}`, logger }));
    }

    if (!this.opts.cluster) await this.catchUp();
  }

  /** Runs each rule whose last successful run is older than 24 h (missed while down), unless catch-up is off. */
  async catchUp(): Promise<void> {
    if (!(this.opts.catchUp ?? true)) return;
    await this.opts.ingest.drained(CATCH_UP_DRAIN_MS);
    for (const name of RULE_NAMES) {
      if (this.stopped || (this.opts.cluster && !this.opts.cluster.leader())) return;
      const last = this.lastSuccessAt(name);
      if (last === null || this.clock() - last > DAY_MS) await this.run(name, 'startup');
    }
  }

  /** Stops the cron tasks and stops following records and registry changes. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.tasks.values()) t.destroy();
    this.tasks.clear();
    for (const c of this.cleanups.splice(0)) c();
  }

  /** Runs a rule now; while it is running, a second call gets the same run. */
  run(rule: RuleName, trigger: RunTrigger = 'api'): Promise<RuleRun> {
    if (this.stopped) return Promise.reject(new Error('the scheduler is stopped'));
    const current = this.running.get(rule);
    if (current) return current;
    const p = Promise.resolve()
      .then(() => this.execute(rule, trigger))
      .finally(() => this.running.delete(rule));
    this.running.set(rule, p);
    return p;
  }

  rules(): RuleInfo[] {
    return RULE_NAMES.map((name) => ({
      rule: name,
      alertType: infoOf(name).alertType,
      description: infoOf(name).description,
      schedule: this.opts.schedules?.[name] ?? null,
      timezone: TIMEZONE,
      nextRunAt: this.tasks.get(name)?.getNextRun()?.getTime() ?? null,
      running: this.running.has(name),
      lastRun: this.lastRun(name),
    }));
  }

  /** The run log, newest first. */
  runs(q: { rule?: RuleName | undefined; page?: number; pageSize?: number } = {}): { items: RuleRun[]; total: number; page: number; pageSize: number } {
    const page = Math.max(1, q.page ?? 1);
    const pageSize = Math.min(500, Math.max(1, q.pageSize ?? 50));
    const where = q.rule ? 'WHERE rule = @rule' : '';
    const args = { rule: q.rule ?? null, limit: pageSize, offset: (page - 1) * pageSize };
    const total = (this.opts.db.prepare(`SELECT COUNT(*) n FROM rule_runs ${where}`).get(args) as { n: number }).n;
    const rows = this.opts.db.prepare(`SELECT * FROM rule_runs ${where} ORDER BY id DESC LIMIT @limit OFFSET @offset`).all(args) as RunRow[];
    return { items: rows.map(toRun), total, page, pageSize };
  }

  lastRun(rule: RuleName): RuleRun | null {
    const r = this.sql.lastRun.get(rule) as RunRow | undefined;
    return r ? toRun(r) : null;
  }

  private lastSuccessAt(rule: RuleName): number | null {
    return (this.sql.lastSuccess.get(rule) as { at: number | null }).at;
  }

  private execute(rule: RuleName, trigger: RunTrigger): RuleRun {
    if (this.stopped) throw new Error('the scheduler is stopped');
    const startedAt = this.clock();
    const t0 = performance.now();
    let counts = { checked: 0, raised: 0, resolved: 0, stillActive: 0 };
    let error: string | null = null;
    try {
      ({ error, ...counts } = this.evaluate(rule, startedAt, trigger));
    } catch (err) {
      error = (err as Error).message;
    }
    const run = { rule, trigger, startedAt, durationMs: Math.round(performance.now() - t0), ...counts, error };
    const id = (this.sql.insertRun.get(run) as { id: number }).id;
    if (error) this.log.error({ ...run, id }, 'scheduled rule failed');
    else this.log.info({ ...run, id }, 'scheduled rule ran');
    return { id, ...run };
  }

  /** One pass over the registry: decide in memory, then write in one transaction. */
  private evaluate(name: RuleName, now: number, trigger: RunTrigger) {
    if (name === 'unit-rates') return this.opts.unitRates?.reevaluate(now) ?? { checked: 0, raised: 0, resolved: 0, stillActive: 0, error: null };
    const { db, registry, alerts } = this.opts;
    const { alertType, evaluate } = RULES[name];
    const facts = new Map((db.prepare('SELECT elevator, first_known_at, last_routine_at, last_pass_at FROM elevator_facts').raw().all() as FactsRow[]).map((r) => [r[0], r]));
    // One query each for the whole pass; every write goes through the AlertStore too.
    const active = alerts.activeBySubject(alertType, 'elevator');
    const byHand = alerts.resolvedByHandLastAt(alertType, 'elevator');

    const unknown: string[] = [];
    const toResolve: { id: number; reason: string }[] = [];
    const toRaise: RaiseInput[] = [];
    for (const e of registry.elevators.items.values()) {
      let f = facts.get(e.code);
      if (!f) {
        f = [e.code, now, null, null];
        unknown.push(e.code); // not seen by the registry hook (registered while the service was older): known from now
      }
      const d = evaluate(e, { firstKnownAt: f[1], lastRoutineAt: f[2], lastPassAt: f[3] }, now);
      const a = active.get(e.code);
      active.delete(e.code);
      if (!d.overdue) {
        if (a) toResolve.push({ id: a.id, reason: 'no longer overdue' });
        continue;
      }
      if (a && a.firstAt >= d.dueAt) continue; // already alerted for this overdue period
      if (a) toResolve.push({ id: a.id, reason: name === 'overdue-maintenance' ? 'routine maintenance recorded' : 'a new due date passed' }); // that period ended, another began
      else if ((byHand.get(e.code) ?? -Infinity) >= d.dueAt) continue; // resolved by hand for this period: not again
      toRaise.push({ type: alertType, severity: OVERDUE_SEVERITY, subjectKind: 'elevator', subject: e.code, district: e.district, unit: e.maintenanceUnit, at: d.dueAt, evidence: { rule: name, ...d.evidence(), checkedAt: now } });
    }
    for (const a of active.values()) toResolve.push({ id: a.id, reason: 'elevator removed from the registry' });

    let raised = 0;
    let resolved = 0;
    const failures: string[] = [];
    db.transaction(() => {
      // A node that stopped leading meanwhile (paused, cut off) commits nothing: the leader runs it.
      if (trigger !== 'api') this.opts.cluster?.fenceLeader();
      for (const code of unknown) this.sql.known.run(code, now);
      // One failed alert must not undo the others (nor their notifications, already sent on commit of each).
      for (const r of toResolve) {
        try {
          alerts.resolve(r.id, 'system', r.reason, now);
          resolved++;
        } catch (err) {
          failures.push(`resolve ${r.id}: ${(err as Error).message}`);
        }
      }
      for (const r of toRaise) {
        try {
          alerts.raise(r);
          raised++;
        } catch (err) {
          failures.push(`raise ${r.subject}: ${(err as Error).message}`);
        }
      }
    })();
    const stillActive = alerts.unresolvedCount(alertType);
    const error = failures.length ? `${failures.length} alert change(s) failed, first: ${failures[0]}` : null;
    return { checked: registry.elevators.items.size, raised, resolved, stillActive, error };
  }

  private rememberKnown(codes: Iterable<string>): void {
    const now = this.clock();
    this.opts.db.transaction(() => {
      for (const code of codes) this.sql.known.run(code, now);
    })();
  }

  /** What the rules know of an elevator (an unknown one: known from `now`). */
  factsOf(code: string, now = this.clock()): ElevatorFacts {
    const r = this.sql.facts.get(code) as FactsRow | undefined;
    return { firstKnownAt: r?.[1] ?? now, lastRoutineAt: r?.[2] ?? null, lastPassAt: r?.[3] ?? null };
  }

  /** Keeps the newest routine maintenance and passing periodic inspection per elevator; ends the alerts they end. */
  private onStored(items: IngestedItem[]): void {
    const routine: Maintenance[] = [];
    const passes: Inspection[] = [];
    for (const it of items) {
      if (it.channel === 'maintenance' && ROUTINE_MAINTENANCE.has(it.record.kind)) routine.push(it.record);
      else if (it.channel === 'inspection') {
        const r = it.record;
        if (r.kind === 'periodic' && r.result === 'pass') passes.push(r);
      }
    }
    if (!routine.length && !passes.length) return;
    const now = this.clock();
    this.opts.db.transaction(() => {
      for (const m of routine) this.sql.routine.run(m.elevator, now, m.ts);
      for (const p of passes) this.sql.pass.run(p.elevator, now, p.ts);
    })();
    for (const m of routine) {
      this.settle('overdue-maintenance', m.elevator, (a) => routineEndsOverdue(a.firstAt, m.ts, this.opts.registry.elevators.get(m.elevator)?.maintenanceIntervalDays), 'routine maintenance recorded', m.ts);
    }
    for (const p of passes) {
      const e = this.opts.registry.elevators.get(p.elevator);
      this.settle('overdue-inspection', p.elevator, () => !!e && !inspectionOverdue(e, this.factsOf(p.elevator), now).overdue, 'periodic inspection passed', p.ts);
    }
  }

  /** A registry change (interval, next inspection due, removal) may end an alert at once. */
  private onElevatorChange(code: string, e: Elevator | undefined): void {
    if (this.stopped) return;
    try {
      const now = this.clock();
      if (e) this.sql.known.run(code, now);
      for (const name of ELEVATOR_RULES) {
        if (!e) this.settle(name, code, () => true, 'elevator removed from the registry', now);
        else this.settle(name, code, () => !RULES[name].evaluate(e, this.factsOf(code), now).overdue, name === 'overdue-inspection' ? `next inspection due ${e.nextInspectionDue}` : 'no longer overdue', now);
      }
    } catch (err) {
      this.log.error({ err, elevator: code }, 'scheduled rules: registry change not applied');
    }
  }

  /** Resolves the rule's active alert for this elevator, if any and if `ends` says so, at max(at, its first occurrence). */
  private settle(rule: ElevatorRule, code: string, ends: (a: { firstAt: number }) => boolean, reason: string, at: number): void {
    const id = this.activeNow.get(rule)?.get(code);
    if (id === undefined) return;
    try {
      const a = this.opts.alerts.get(id);
      if (a && a.state !== 'resolved' && ends(a)) this.opts.alerts.resolve(id, 'system', reason, Math.max(at, a.firstAt));
    } catch (err) {
      this.log.error({ err, rule, elevator: code }, 'scheduled rules: could not resolve an alert');
    }
  }
}
