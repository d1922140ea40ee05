// Alerts: one lifecycle for every rule. Persisted in SQLite so open alerts
// survive restarts. At most one active (open or acknowledged) alert per
// subject and type, enforced by a partial unique index: a repeat updates the
// active alert (count, last occurrence, evidence); a new alert opens only
// after the previous one is resolved. Every transition is kept as an alert
// event (to be written to InfluxDB and pushed to notifications).
import pino from 'pino';
import type { Db } from '../storage/db.js';
import { migrate, type Migration } from '../storage/migrations.js';
import { CITY_WIDE_SQL, SEVERITIES, type Alert, type AlertResult, type AlertState, type Severity, type SubjectKind, type Transition } from '../domain/alerts.js';
import { Listeners, type ErrorLog } from '../domain/listeners.js';
import type { Bus } from '../common/bus.js';
import { TransitionFeed, type FollowOptions } from './transition-feed.js';
import { sorting, type SortOf } from '../storage/sort.js';
import { AppError } from '../common/errors.js';
import { CST_OFFSET_MS, cstDate, DAY_MS } from '../domain/time.js';

export { SEVERITIES, type Severity };
export type { Alert, AlertResult, AlertState, SubjectKind, Transition };

export interface RaiseInput {
  type: string;
  severity: Severity;
  subjectKind: SubjectKind;
  subject: string;
  district?: string | undefined;
  unit?: string | undefined;
  /** event time of this occurrence */
  at: number;
  /** the message or record behind this occurrence (kept, newest last, at most 20) */
  evidence?: unknown;
  /** how long after its event time this occurrence was processed (late or backfilled data); 0 for timers */
  lagMs?: number;
}

export class AlertError extends AppError {
  constructor(message: string, statusCode: 404 | 409) {
    super(message, statusCode);
  }
}

const MAX_EVIDENCE = 20;
/** the lock (Db.lockUntilCommit) that orders the commits of alert transitions */
const EVENTS_LOCK = 'alerts/alert_events';

/** Adds columns that a table created by an older version lacks (SQLite has no ADD COLUMN IF NOT EXISTS). */
function addMissingColumns(db: Db, table: string, columns: Record<string, string>): void {
  const have = new Set((db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
  for (const [name, def] of Object.entries(columns)) if (!have.has(name)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${def}`);
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'alerts and their transition log',
    up: `CREATE TABLE IF NOT EXISTS alerts (
      id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, severity TEXT NOT NULL, subject_kind TEXT NOT NULL, subject TEXT NOT NULL,
      district TEXT, unit TEXT, first_at INTEGER NOT NULL, last_at INTEGER NOT NULL, count INTEGER NOT NULL DEFAULT 1,
      state TEXT NOT NULL DEFAULT 'open', ack_by TEXT, ack_at INTEGER, resolved_by TEXT, resolved_at INTEGER, resolution TEXT,
      escalation INTEGER NOT NULL DEFAULT 0, notes TEXT NOT NULL DEFAULT '[]', evidence TEXT NOT NULL DEFAULT '[]',
      opened_at INTEGER NOT NULL DEFAULT 0, opened_lag_ms INTEGER NOT NULL DEFAULT 0, reminded_at INTEGER);
    CREATE UNIQUE INDEX IF NOT EXISTS alerts_one_active ON alerts (type, subject_kind, subject) WHERE state != 'resolved';
    CREATE INDEX IF NOT EXISTS alerts_state ON alerts (state, id);
    CREATE TABLE IF NOT EXISTS alert_events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id INTEGER NOT NULL, transition TEXT NOT NULL, at INTEGER NOT NULL, snapshot TEXT NOT NULL,
      lag_ms INTEGER NOT NULL DEFAULT 0)`,
  },
  {
    version: 2,
    name: 'opening time and lag, reminders, transition lag',
    // SQLite files from before versioned migrations may lack these; PostgreSQL databases start at version 1 with them.
    up: (db) => {
      if (db.dialect !== 'sqlite') return;
      addMissingColumns(db, 'alerts', { opened_at: 'INTEGER NOT NULL DEFAULT 0', opened_lag_ms: 'INTEGER NOT NULL DEFAULT 0', reminded_at: 'INTEGER' });
      addMissingColumns(db, 'alert_events', { lag_ms: 'INTEGER NOT NULL DEFAULT 0' });
    },
  },
  // Alerts of a type by first occurrence: the dashboard's entrapments of the day (asked every 2 s).
  { version: 3, name: 'alerts by type and first occurrence', up: 'CREATE INDEX IF NOT EXISTS alerts_type_first ON alerts (type, first_at)' },
];

interface Row {
  id: number; type: string; severity: Severity; subject_kind: SubjectKind; subject: string; district: string | null; unit: string | null;
  first_at: number; last_at: number; count: number; state: AlertState; ack_by: string | null; ack_at: number | null;
  resolved_by: string | null; resolved_at: number | null; resolution: string | null; escalation: number; notes: string; evidence: string;
  opened_at: number; opened_lag_ms: number; reminded_at: number | null;
}

const toAlert = (r: Row): Alert => ({
  id: r.id, type: r.type, severity: r.severity, subjectKind: r.subject_kind, subject: r.subject, district: r.district, unit: r.unit,
  firstAt: r.first_at, lastAt: r.last_at, count: r.count, state: r.state, ackBy: r.ack_by, ackAt: r.ack_at,
  resolvedBy: r.resolved_by, resolvedAt: r.resolved_at, resolution: r.resolution, escalation: r.escalation,
  openedAt: r.opened_at, openedLagMs: r.opened_lag_ms, remindedAt: r.reminded_at, notes: JSON.parse(r.notes), evidence: JSON.parse(r.evidence),
});

/** An alert without its notes and evidence: what lists of many alerts need. */
export interface AlertBrief {
  id: number; type: string; severity: Severity; subjectKind: SubjectKind; subject: string; district: string | null; unit: string | null;
  state: AlertState; firstAt: number; resolvedAt: number | null;
}
const BRIEF = `id, type, severity, subject_kind AS "subjectKind", subject, district, unit, state, first_at AS "firstAt", resolved_at AS "resolvedAt"`;

interface EventRow { seq: number; transition: Transition; at: number; snapshot: string; lag_ms: number }
const toResult = (r: EventRow): AlertResult => ({ seq: r.seq, transition: r.transition, at: r.at, lagMs: r.lag_ms, alert: JSON.parse(r.snapshot) as Alert });

/** A severity as a number, critical highest (SQL). */
const SEVERITY_RANK = `CASE severity ${SEVERITIES.map((s, i) => `WHEN '${s}' THEN ${SEVERITIES.length - i}`).join(' ')} END`;

/** Sort keys of the alert list (`-` first for descending; `-severity` puts critical first). Ties go by id. */
export const ALERT_SORT = sorting({
  id: 'id', firstAt: 'first_at', lastAt: 'last_at', count: 'count', state: 'state', escalation: 'escalation',
  severity: SEVERITY_RANK,
}, 'id');
export type AlertSort = SortOf<typeof ALERT_SORT>;

/** What alert lists filter on (GET /api/v1/alerts, acknowledging a filtered set). */
export interface AlertFilter {
  state?: AlertState | 'active' | undefined;
  severity?: Severity | undefined;
  district?: string | undefined;
  type?: string | undefined;
  subject?: string | undefined;
  unit?: string | undefined;
  districts?: string[] | null | undefined;
  types?: string[] | undefined;
  notTypes?: string[] | undefined;
  maxId?: number | undefined;
}

/** `col IN (@name0, @name1, …)` with the values added to `args` (an empty list matches nothing; negated, everything). */
function inList(col: string, values: readonly string[], name: string, args: Record<string, unknown>, not = false): string {
  if (!values.length) return not ? '1 = 1' : '1 = 0';
  const params = values.map((v, i) => ((args[`${name}${i}`] = v), `@${name}${i}`));
  return `${col} ${not ? 'NOT IN' : 'IN'} (${params.join(', ')})`;
}

/** The WHERE clause (and its named arguments) of an alert filter. */
function filterSql(q: AlertFilter): { w: string; args: Record<string, unknown> } {
  const where: string[] = [];
  const args: Record<string, unknown> = {};
  // districts: only alerts of these districts (a caller's scope) and city-wide ones; null or undefined = all
  if (q.districts) where.push(`(${inList('district', q.districts, 'inDistrict', args)} OR ${CITY_WIDE_SQL})`);
  // types / notTypes: a category of types (the scheduled overdue rules' or every other); maxId: what a caller saw
  if (q.types) where.push(inList('type', q.types, 'inType', args));
  if (q.notTypes) where.push(inList('type', q.notTypes, 'notType', args, true));
  if (q.maxId !== undefined) (where.push('id <= @maxId'), (args.maxId = q.maxId));
  if (q.state === 'active') where.push(`state != 'resolved'`);
  else if (q.state) (where.push('state = @state'), (args.state = q.state));
  for (const k of ['severity', 'district', 'type', 'subject', 'unit'] as const) if (q[k]) (where.push(`${k} = @${k}`), (args[k] = q[k]));
  return { w: where.length ? `WHERE ${where.join(' AND ')}` : '', args };
}

export class AlertStore {
  private readonly listeners: Listeners<[AlertResult]>;
  /** follow mode (cluster): transitions reach the listeners through the shared log, this node's too */
  private feed: TransitionFeed | null = null;

  /** `log` hears a transition listener's failure (default: a plain pino logger). */
  constructor(private db: Db, private readonly log?: ErrorLog) {
    this.listeners = new Listeners('alert transition', log);
    migrate(db, 'alerts/store', MIGRATIONS);
    this.insertEvent = db.prepare('INSERT INTO alert_events (alert_id, transition, at, snapshot, lag_ms) VALUES (?, ?, ?, ?, ?) RETURNING seq');
  }

  private insertEvent;

  /** The newest transition's seq (0 when there is none). */
  get lastSeq(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(seq), 0) seq FROM alert_events').get() as { seq: number }).seq;
  }

  /**
   * Listeners hear every transition, after it is committed, in seq order. In one process right after its own
   * (possibly nested) transaction; in follow mode every node's transitions, a moment after they committed.
   */
  onTransition(fn: (r: AlertResult) => void): () => void {
    return this.listeners.on(fn);
  }

  /**
   * Cluster mode: from now on the listeners hear the transitions of every node sharing this database, exactly
   * once each, in seq order (alerts/transition-feed.ts), and this node's own ones the same way; `bus` tells the
   * nodes when to look. Returns `stop`, after which this node's transitions are heard directly again.
   */
  follow(bus: Bus, opts: FollowOptions = {}): () => void {
    if (this.feed) throw new Error('AlertStore.follow: already following');
    const feed = new TransitionFeed({ bus, from: this.lastSeq, read: (seq, limit) => this.eventsSince(seq, limit), deliver: (r) => this.listeners.emit(r), log: this.log ?? pino() }, opts);
    this.feed = feed;
    return () => {
      feed.stop();
      if (this.feed === feed) this.feed = null;
    };
  }

  get(id: number): Alert | undefined {
    const r = this.db.prepare('SELECT * FROM alerts WHERE id = ?').get(id) as Row | undefined;
    return r && toAlert(r);
  }

  active(type: string, subjectKind: SubjectKind, subject: string): Alert | undefined {
    const r = this.db.prepare(`SELECT * FROM alerts WHERE type = ? AND subject_kind = ? AND subject = ? AND state != 'resolved'`).get(type, subjectKind, subject) as Row | undefined;
    return r && toAlert(r);
  }

  /** Every unresolved alert about a subject or its parts (`S1` and `S1:…`, e.g. a gas site's detectors), newest first. */
  unresolvedOf(subjectKind: SubjectKind, subject: string): Alert[] {
    const parts = `${subject.replace(/[\\%_]/g, '\\$&')}:%`;
    return (this.db.prepare(`SELECT * FROM alerts WHERE state != 'resolved' AND subject_kind = ? AND (subject = ? OR subject LIKE ? ESCAPE '\\') ORDER BY id DESC`).all(subjectKind, subject, parts) as Row[]).map(toAlert);
  }

  /** Active alerts of a type by `kind:subject` → alert id (for rules on the hot path). */
  activeIds(type: string): Map<string, number> {
    const rows = this.db.prepare(`SELECT id, subject_kind, subject FROM alerts WHERE type = ? AND state != 'resolved'`).all(type) as { id: number; subject_kind: string; subject: string }[];
    return new Map(rows.map((r) => [`${r.subject_kind}:${r.subject}`, r.id]));
  }

  /** Unresolved alerts of a type about subjects of one kind: subject → id and first occurrence (one query for a scheduled rule's whole pass). */
  activeBySubject(type: string, subjectKind: SubjectKind): Map<string, { id: number; firstAt: number }> {
    const rows = this.db.prepare(`SELECT subject, id, first_at FROM alerts WHERE type = ? AND subject_kind = ? AND state != 'resolved'`).raw().all(type, subjectKind) as [string, number, number][];
    return new Map(rows.map(([subject, id, firstAt]) => [subject, { id, firstAt }]));
  }

  /** Per subject of a kind, the newest last occurrence of its alerts of a type that a person resolved (not the system). */
  resolvedByHandLastAt(type: string, subjectKind: SubjectKind): Map<string, number> {
    return new Map(this.db.prepare(`SELECT subject, MAX(last_at) FROM alerts WHERE type = ? AND subject_kind = ? AND state = 'resolved' AND resolved_by != 'system' GROUP BY subject`)
      .raw().all(type, subjectKind) as [string, number][]);
  }

  /** The ids of the alerts in these districts and the city-wide ones (what a caller scoped to them may see of other tables keyed by alert). */
  idsInDistricts(districts: readonly string[]): Set<number> {
    const inList = districts.length ? `district IN (${districts.map(() => '?').join(', ')}) OR ` : '';
    return new Set(this.db.prepare(`SELECT id FROM alerts WHERE ${inList}${CITY_WIDE_SQL}`).pluck().all(...districts) as number[]);
  }

  /** Every active (open or acknowledged) alert, briefly: what the dashboard sums per equipment. */
  activeBriefs(): AlertBrief[] {
    return this.db.prepare(`SELECT ${BRIEF} FROM alerts WHERE state IN ('open', 'acknowledged')`).all() as AlertBrief[];
  }

  /** Active alerts counted per district, type, severity and state (a few hundred rows, however many alerts). */
  activeCounts(): { district: string | null; type: string; severity: Severity; state: AlertState; n: number }[] {
    return this.db.prepare(`SELECT district, type, severity, state, COUNT(*) AS n FROM alerts WHERE state IN ('open', 'acknowledged') GROUP BY district, type, severity, state`)
      .all() as { district: string | null; type: string; severity: Severity; state: AlertState; n: number }[];
  }

  /** Alerts of a type first occurring at or after `since`, counted per district (on alerts_type_first). */
  countsByDistrictSince(type: string, since: number): { district: string | null; n: number }[] {
    return this.db.prepare('SELECT district, COUNT(*) AS n FROM alerts WHERE type = ? AND first_at >= ? GROUP BY district').all(type, since) as { district: string | null; n: number }[];
  }

  /** Alerts of a type first occurring at or after `since` and the still active ones, newest first, at most `limit`. */
  recentOrActive(type: string, since: number, limit: number): AlertBrief[] {
    // Two index ranges (alerts_type_first, alerts_state) rather than one OR that would read the whole type.
    return this.db.prepare(`SELECT ${BRIEF} FROM alerts WHERE type = @type AND first_at >= @since
      UNION SELECT ${BRIEF} FROM alerts WHERE type = @type AND state != 'resolved'
      ORDER BY "firstAt" DESC, id DESC LIMIT @limit`).all({ type, since, limit }) as AlertBrief[];
  }

  /** A subject's alerts of a type, newest first occurrence first, at most `limit`. */
  latestOf(type: string, subjectKind: SubjectKind, subject: string, limit: number): AlertBrief[] {
    return this.db.prepare(`SELECT ${BRIEF} FROM alerts WHERE type = ? AND subject_kind = ? AND subject = ? ORDER BY first_at DESC, id DESC LIMIT ?`)
      .all(type, subjectKind, subject, limit) as AlertBrief[];
  }

  /** How many alerts of a type are unresolved. */
  unresolvedCount(type: string): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM alerts WHERE type = ? AND state != 'resolved'`).get(type) as { n: number }).n;
  }

  /** Every unresolved alert matching the filter, oldest first (for the timed rules; no page limit). */
  unresolved(q: { type?: string; severity?: Severity; state?: 'open' | 'acknowledged' } = {}): Alert[] {
    const where = [`state != 'resolved'`];
    if (q.type) where.push('type = @type');
    if (q.severity) where.push('severity = @severity');
    if (q.state) where.push('state = @state');
    return (this.db.prepare(`SELECT * FROM alerts WHERE ${where.join(' AND ')} ORDER BY id`).all(q) as Row[]).map(toAlert);
  }

  /** The most recently resolved alert for this subject and type, if any. */
  lastResolved(type: string, subjectKind: SubjectKind, subject: string): Alert | undefined {
    const r = this.db.prepare(`SELECT * FROM alerts WHERE type = ? AND subject_kind = ? AND subject = ? AND state = 'resolved' ORDER BY resolved_at DESC LIMIT 1`).get(type, subjectKind, subject) as Row | undefined;
    return r && toAlert(r);
  }

  list(q: AlertFilter & { page?: number; pageSize?: number; sort?: AlertSort | undefined } = {}) {
    const { w, args } = filterSql(q);
    const page = Math.max(1, q.page ?? 1);
    const pageSize = Math.min(500, Math.max(1, q.pageSize ?? 50));
    const total = (this.db.prepare(`SELECT COUNT(*) n FROM alerts ${w}`).get(args) as { n: number }).n;
    const sort = q.sort ?? '-id';
    const order = ALERT_SORT.order(sort);
    const rows = this.db.prepare(`SELECT * FROM alerts ${w} ORDER BY ${order} LIMIT @limit OFFSET @offset`).all({ ...args, limit: pageSize, offset: (page - 1) * pageSize }) as Row[];
    return { items: rows.map(toAlert), total, page, pageSize };
  }

  /**
   * Alerts matching the filter counted per type and day they were opened (China Standard Time), newest
   * day first: one line per rule and day instead of one row per elevator (the daily overdue rules).
   */
  groups(q: AlertFilter): { type: string; day: string; count: number; open: number; worst: Severity }[] {
    const { w, args } = filterSql(q);
    // The day as a number (days since 1970-01-01 in UTC+8), named in code: date functions differ between the backends.
    const rows = this.db.prepare(`SELECT type, (opened_at + ${CST_OFFSET_MS}) / ${DAY_MS} AS day, COUNT(*) AS count,
      SUM(CASE WHEN state = 'open' THEN 1 ELSE 0 END) AS open, MAX(${SEVERITY_RANK}) AS rank
      FROM alerts ${w} GROUP BY type, day ORDER BY day DESC, type LIMIT 500`).all(args) as { type: string; day: number; count: number; open: number; rank: number }[];
    return rows.map((r) => ({ type: r.type, day: cstDate(r.day * DAY_MS - CST_OFFSET_MS), count: r.count, open: r.open, worst: SEVERITIES[SEVERITIES.length - r.rank]! }));
  }

  /** Raises an alert, or updates the active one for the same subject and type. */
  raise(input: RaiseInput): AlertResult {
    return this.tx(() => {
      const current = this.active(input.type, input.subjectKind, input.subject);
      if (current) {
        const evidence = input.evidence === undefined ? current.evidence : [...current.evidence, input.evidence].slice(-MAX_EVIDENCE);
        // A repeat may only raise the severity (a gas alarm going from first to second level), never lower it.
        const rises = SEVERITIES.indexOf(input.severity) < SEVERITIES.indexOf(current.severity);
        // A rise is paged at once (notifier), so the reminder clock starts again from it rather than reminding seconds later.
        // CASE, not the two-argument MAX/MIN, which PostgreSQL spells GREATEST/LEAST.
        this.db.prepare(`UPDATE alerts SET count = count + 1, last_at = CASE WHEN last_at < ? THEN ? ELSE last_at END,
          first_at = CASE WHEN first_at > ? THEN ? ELSE first_at END, evidence = ?, severity = ?, reminded_at = ? WHERE id = ?`)
          .run(input.at, input.at, input.at, input.at, JSON.stringify(evidence), rises ? input.severity : current.severity, rises ? Date.now() : current.remindedAt, current.id);
        return this.event(current.id, rises ? 'severity_raised' : 'repeated', input.at, input.lagMs);
      }
      const info = this.db.prepare(`INSERT INTO alerts (type, severity, subject_kind, subject, district, unit, first_at, last_at, evidence, opened_at, opened_lag_ms)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`).get(input.type, input.severity, input.subjectKind, input.subject, input.district ?? null, input.unit ?? null,
        input.at, input.at, JSON.stringify(input.evidence === undefined ? [] : [input.evidence]), Date.now(), Math.max(0, Math.round(input.lagMs ?? 0)));
      return this.event((info as { id: number }).id, 'raised', input.at, input.lagMs);
    });
  }

  acknowledge(id: number, by: string, at = Date.now()): AlertResult {
    return this.tx(() => {
      const a = this.require(id);
      if (a.state !== 'open') throw new AlertError(`alert ${id} is ${a.state}; only an open alert can be acknowledged`, 409);
      this.db.prepare(`UPDATE alerts SET state = 'acknowledged', ack_by = ?, ack_at = ? WHERE id = ?`).run(by, at, id);
      return this.event(id, 'acknowledged', at);
    });
  }

  /** Resolves by hand (with a reason) or automatically when the condition clears (`by` = 'system'). */
  resolve(id: number, by: string, reason: string, at = Date.now(), lagMs = 0): AlertResult {
    return this.tx(() => {
      const a = this.require(id);
      if (a.state === 'resolved') throw new AlertError(`alert ${id} is already resolved`, 409);
      this.db.prepare(`UPDATE alerts SET state = 'resolved', resolved_by = ?, resolved_at = ?, resolution = ? WHERE id = ?`).run(by, at, reason, id);
      return this.event(id, 'resolved', at, lagMs);
    });
  }

  /** Records that an unacknowledged alert was notified again (the escalation policy's reminder). */
  remind(id: number, at = Date.now()): AlertResult {
    return this.tx(() => {
      const a = this.require(id);
      if (a.state === 'resolved') throw new AlertError(`alert ${id} is resolved; there is nothing to remind of`, 409);
      this.db.prepare('UPDATE alerts SET reminded_at = ? WHERE id = ?').run(at, id);
      return this.event(id, 'reminded', at);
    });
  }

  /** Raises the escalation level by one, or to `level` when given (never lowers it). */
  escalate(id: number, at = Date.now(), level?: number): AlertResult {
    return this.tx(() => {
      const a = this.require(id);
      if (a.state === 'resolved') throw new AlertError(`alert ${id} is resolved; it cannot escalate`, 409);
      this.db.prepare('UPDATE alerts SET escalation = ? WHERE id = ?').run(Math.max(a.escalation, level ?? a.escalation + 1), id);
      return this.event(id, 'escalated', at);
    });
  }

  note(id: number, by: string, text: string, at = Date.now()): AlertResult {
    return this.tx(() => {
      const a = this.require(id);
      this.db.prepare('UPDATE alerts SET notes = ? WHERE id = ?').run(JSON.stringify([...a.notes, { at, by, text }]), id);
      return this.event(id, 'noted', at);
    });
  }

  /** Transitions after `seq` (for resuming a live feed), oldest first. */
  eventsSince(seq: number, limit = 1000): AlertResult[] {
    const rows = this.db.prepare('SELECT seq, transition, at, snapshot, lag_ms FROM alert_events WHERE seq > ? ORDER BY seq LIMIT ?').all(seq, limit) as EventRow[];
    return rows.map(toResult);
  }

  /** One transition of the log, with the alert as it was then. */
  transitionAt(seq: number): AlertResult | undefined {
    const r = this.db.prepare('SELECT seq, transition, at, snapshot, lag_ms FROM alert_events WHERE seq = ?').get(seq) as EventRow | undefined;
    return r && toResult(r);
  }

  private require(id: number): Alert {
    const a = this.get(id);
    if (!a) throw new AlertError(`alert ${id} not found`, 404);
    return a;
  }

  private event(id: number, transition: Transition, at: number, lagMs = 0): AlertResult {
    const alert = this.get(id)!;
    const lag = Math.max(0, Math.round(lagMs));
    const { seq } = this.insertEvent.get(id, transition, at, JSON.stringify(alert), lag) as { seq: number };
    return { alert, transition, seq, at, lagMs: lag };
  }

  private tx(fn: () => AlertResult): AlertResult {
    const result = this.db.transaction(() => {
      // Transitions commit in seq order cluster-wide, so a reader of the log by seq cursor never passes a seq that
      // commits later (PostgreSQL allocates seq at insert but shows it at commit). Taken before the alert row is
      // touched; inside an accept transaction it is held until that commits.
      this.db.lockUntilCommit(EVENTS_LOCK);
      return fn();
    })();
    if (this.feed) this.feed.committedHere(result.seq);
    else this.listeners.emit(result);
    return result;
  }
}
