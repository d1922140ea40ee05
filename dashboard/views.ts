// Read models for the dashboard (issue 5): overview numbers, equipment lists
// and pages, time series, ingest health. Everything is read from where it
// already lives — the registry (memory), the alert engine's liveness (last
// seen, offline), the alert store and record ledger (SQLite), InfluxDB — and
// filtered by the caller's districts (`Scope`). The one thing nobody kept is
// the latest status of each elevator and the latest reading of each gas
// detector: `EquipmentState` keeps a reference to the newest accepted record
// of each (no copy), warmed up from InfluxDB at start.
import type { Db, Statement } from '../storage/db.js';
import type { Logger } from 'pino';
import type { EquipmentLiveness } from '../alerts/engine.js';
import type { Scheduler } from '../alerts/scheduled.js';
import type { AlertStore } from '../alerts/store.js';
import { SEVERITIES, type Severity } from '../domain/alerts.js';
import { Listeners } from '../domain/listeners.js';
import type { Reading, Status } from '../domain/messages.js';
import { cstDate, cstMidnight, DAY_MS } from '../domain/time.js';
import { maintenanceOverdue, inspectionOverdue } from '../alerts/rules/overdue.js';
import type { DeadLetters } from '../ingest/dead-letters.js';
import type { Ingest, IngestedItem } from '../ingest/pipeline.js';
import type { Page, Registry } from '../registry/registry.js';
import type { Elevator, GasSite } from '../registry/schemas.js';
import type { Metrics } from '../common/metrics.js';
import type { InfluxStore, SeriesResult } from '../storage/influx.js';
import type { Spool } from '../storage/spool.js';
import type { Supervision } from '../supervision/supervision.js';
import { RateHistory } from './rate-history.js';
import { AppError } from '../common/errors.js';

/** Whether the caller may see a district (built from req.principal and inScope). */
export type Scope = (district: string | null | undefined) => boolean;
export type EquipmentKind = 'elevator' | 'gas_site';

/** What service.ts passes for the views (AppDeps.views). */
export interface ViewsOptions {
  db: Db;
  liveness: EquipmentLiveness;
  gasLevel1Lel: number;
  gasLevel2Lel: number;
  /** an entrapment without arrival after this long is overdue (ENTRAPMENT_ARRIVAL_S) */
  arrivalMs: number;
}

export interface ViewsDeps {
  registry: Registry;
  alerts: AlertStore;
  store: InfluxStore;
  ingest: Ingest;
  spool: Spool;
  deadLetters: DeadLetters;
  metrics: Metrics;
  scheduler: Scheduler;
  supervision: Supervision;
  log: Logger;
  views: ViewsOptions;
}

/** A request the views cannot answer; `statusCode` is what the app's error handler sends, with the message as `error`. */
export class ViewError extends AppError {
  constructor(message: string, statusCode: 400 | 404 | 502) {
    super(message, statusCode);
  }
}

// ---------------------------------------------------------------- latest state

export interface EquipmentChange {
  kind: EquipmentKind;
  code: string;
}

/** The newest accepted status per elevator and reading per gas detector (references to the records, no copies). */
export class EquipmentState {
  readonly status = new Map<string, Status>();
  /** site → detector → reading */
  readonly readings = new Map<string, Map<string, Reading>>();
  private readonly listeners: Listeners<[EquipmentChange]>;
  private off: () => void;

  constructor(private ingest: Ingest, private store: InfluxStore, private log: Logger) {
    this.listeners = new Listeners('dashboard equipment change', log);
    this.off = ingest.onAccepted((items) => this.accept(items));
  }

  /** Hears elevators whose service mode changed (or whose first status is not normal service) and gas sites heard from for the first time. */
  onChange(fn: (c: EquipmentChange) => void): () => void {
    return this.listeners.on(fn);
  }

  private emit(c: EquipmentChange): void {
    this.listeners.emit(c); // a listener's failure is logged and never disturbs ingest
  }

  private accept(items: IngestedItem[]): void {
    for (const it of items) {
      if (it.channel === 'status') {
        const s = it.record;
        const prev = this.status.get(it.code!);
        if (prev && prev.ts > s.ts) continue;
        this.status.set(it.code!, s);
        // A first status (start-up, before the warm-up) is news only out of normal service: a whole city's
        // first statuses would otherwise be one huge frame to every screen.
        if (prev ? prev.serviceMode !== s.serviceMode : s.serviceMode !== 'normal') this.emit({ kind: 'elevator', code: it.code! });
      } else if (it.channel === 'reading') {
        const r = it.record;
        let site = this.readings.get(it.code!);
        if (!site) {
          site = new Map();
          this.readings.set(it.code!, site);
          this.emit({ kind: 'gas_site', code: it.code! });
        }
        const prev = site.get(r.detector);
        if (!prev || prev.ts <= r.ts) site.set(r.detector, r);
      }
    }
  }

  /** Fills in what was known before a restart from InfluxDB (the last hour), without overriding anything newer. */
  async warmUp(): Promise<void> {
    try {
      const st = await this.store.query(`SELECT * FROM "elevator_status" WHERE time > now() - 1h GROUP BY "elevator" ORDER BY time DESC LIMIT 1`);
      for (const s of st) {
        const code = s.tags?.elevator;
        const row = s.values[0];
        if (!code || !row) continue;
        const r = rowOf(s, row);
        const prev = this.status.get(code);
        if (prev && prev.ts >= Number(r.time)) continue;
        this.status.set(code, statusFromRow(r));
      }
      const rd = await this.store.query(`SELECT * FROM "gas_reading" WHERE time > now() - 1h GROUP BY "site", "detector" ORDER BY time DESC LIMIT 1`);
      for (const s of rd) {
        const site = s.tags?.site;
        const detector = s.tags?.detector;
        const row = s.values[0];
        if (!site || !detector || !row) continue;
        const r = rowOf(s, row);
        let m = this.readings.get(site);
        if (!m) this.readings.set(site, (m = new Map()));
        const prev = m.get(detector);
        if (!prev || prev.ts < Number(r.time)) m.set(detector, readingFromRow(detector, r));
      }
    } catch (err) {
      this.log.debug({ err }, 'dashboard: could not warm up the latest equipment state from InfluxDB');
    }
  }

  close(): void {
    this.off();
    this.listeners.clear();
  }
}

/** One row of an InfluxDB series as an object (column → value). */
const rowOf = (s: SeriesResult, values: unknown[]) => Object.fromEntries(s.columns.map((c, i) => [c, values[i]]));

const num = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));
const bool = (v: unknown) => v === true || v === 'true' || v === 1;

function statusFromRow(r: Record<string, unknown>): Status {
  return {
    id: String(r.id ?? ''), ts: Number(r.time), serviceMode: r.service_mode as Status['serviceMode'], carStatus: r.car_status as Status['carStatus'],
    direction: r.direction as Status['direction'], floor: Number(r.floor ?? 0), doorZone: bool(r.door_zone), doorStatus: r.door_status as Status['doorStatus'],
    passengers: bool(r.passengers), speed: num(r.speed), load: num(r.load), runCount: num(r.run_count), runHours: num(r.run_hours), doorCycles: num(r.door_cycles),
  };
}

function readingFromRow(detector: string, r: Record<string, unknown>): Reading {
  return {
    id: String(r.id ?? ''), ts: Number(r.time), detector, lel: Number(r.lel), gas: r.gas == null ? undefined : String(r.gas),
    pressureMPa: num(r.pressure_mpa), temperatureC: num(r.temperature_c),
  };
}

// ---------------------------------------------------------------- shapes

export interface KpiNumbers {
  elevators: number;
  elevatorsOnline: number;
  elevatorsOffline: number;
  elevatorsNeverSeen: number;
  elevatorOnlineRate: number | null;
  elevatorsNotNormal: number;
  gasSites: number;
  gasSitesOnline: number;
  gasSitesOffline: number;
  gasSitesNeverSeen: number;
  gasSiteOnlineRate: number | null;
  activeAlerts: number;
  alertsBySeverity: Record<Severity, number>;
  unacknowledgedCritical: number;
  entrapmentsToday: number;
  entrapmentsActive: number;
  overdueMaintenance: number;
  overdueInspection: number;
}

const emptyKpi = (): KpiNumbers => ({
  elevators: 0, elevatorsOnline: 0, elevatorsOffline: 0, elevatorsNeverSeen: 0, elevatorOnlineRate: null, elevatorsNotNormal: 0,
  gasSites: 0, gasSitesOnline: 0, gasSitesOffline: 0, gasSitesNeverSeen: 0, gasSiteOnlineRate: null,
  activeAlerts: 0, alertsBySeverity: { critical: 0, major: 0, minor: 0, warning: 0 }, unacknowledgedCritical: 0,
  entrapmentsToday: 0, entrapmentsActive: 0, overdueMaintenance: 0, overdueInspection: 0,
});

function addKpi(into: KpiNumbers, k: KpiNumbers): void {
  for (const key of Object.keys(into) as (keyof KpiNumbers)[]) {
    if (key === 'alertsBySeverity') for (const s of SEVERITIES) into.alertsBySeverity[s] += k.alertsBySeverity[s];
    else if (typeof into[key] === 'number' && typeof k[key] === 'number') {
      const acc = into as unknown as Record<string, number>;
      acc[key] = acc[key]! + (k[key] as number);
    }
  }
}

function finishRates(k: KpiNumbers): KpiNumbers {
  k.elevatorOnlineRate = k.elevators ? k.elevatorsOnline / k.elevators : null;
  k.gasSiteOnlineRate = k.gasSites ? k.gasSitesOnline / k.gasSites : null;
  return k;
}

export interface ElevatorItem {
  code: string;
  address: string;
  district: string;
  userUnit: string;
  maintenanceUnit: string;
  maintenanceUnitName: string | null;
  nextInspectionDue: string | null;
  maintenanceIntervalDays: number;
  online: boolean | null;
  lastSeenAt: number | null;
  serviceMode: string | null;
  floor: number | null;
  statusAt: number | null;
  activeAlerts: number;
  worstSeverity: Severity | null;
  overdueMaintenance: boolean;
  overdueInspection: boolean;
}

export interface GasSiteItem {
  code: string;
  name: string;
  address: string;
  district: string;
  kind: string;
  online: boolean | null;
  lastSeenAt: number | null;
  detectors: number;
  maxLel: number | null;
  activeAlerts: number;
  worstSeverity: Severity | null;
}

/** A live `equipment` frame item. */
export interface EquipmentFrameItem {
  code: string;
  kind: EquipmentKind;
  district: string;
  online: boolean | null;
  lastSeenAt: number | null;
  serviceMode?: string | null;
  floor?: number | null;
  statusAt?: number | null;
}

interface ActiveSummary {
  count: number;
  worst: Severity | null;
  types: Set<string>;
}

const worse = (a: Severity | null, b: Severity): Severity => (a === null || SEVERITIES.indexOf(b) < SEVERITIES.indexOf(a) ? b : a);

// ---------------------------------------------------------------- query params

export interface ElevatorQuery {
  district?: string | undefined;
  unit?: string | undefined;
  q?: string | undefined;
  online?: 'true' | 'false' | 'never' | undefined;
  serviceMode?: string | undefined;
  overdue?: 'maintenance' | 'inspection' | 'any' | undefined;
  alerts?: boolean | undefined;
  page: number;
  pageSize: number;
  sort: string;
}

export interface GasSiteQuery {
  district?: string | undefined;
  kind?: string | undefined;
  q?: string | undefined;
  online?: 'true' | 'false' | 'never' | undefined;
  alerts?: boolean | undefined;
  page: number;
  pageSize: number;
  sort: string;
}

export const ELEVATOR_SORTS = ['code', 'district', 'unit', 'address', 'lastSeenAt', 'activeAlerts', 'serviceMode'] as const;
export const GAS_SITE_SORTS = ['code', 'name', 'district', 'lastSeenAt', 'activeAlerts', 'maxLel'] as const;

/** Sorts by a field (prefix `-` for descending), nulls last, then by code. */
function sortBy<T extends { code: string }>(items: T[], sort: string, field: (t: T) => string | number | null): T[] {
  const desc = sort.startsWith('-');
  const dir = desc ? -1 : 1;
  return items.sort((a, b) => {
    const x = field(a);
    const y = field(b);
    if (x !== y) {
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : 1) * dir;
    }
    return a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
  });
}

const paginate = <T>(all: T[], page: number, pageSize: number): Page<T> => ({ items: all.slice((page - 1) * pageSize, page * pageSize), total: all.length, page, pageSize });

/** An InfluxQL string literal. */
const lit = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

const NICE_INTERVALS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
/** The smallest round interval that gives at most `maxPoints` buckets over the range. */
function seriesInterval(fromMs: number, toMs: number, maxPoints = 500): number {
  const want = (toMs - fromMs) / maxPoints / 1000;
  return (NICE_INTERVALS_S.find((s) => s >= want) ?? Math.ceil(want / 86400) * 86400) * 1000;
}
/** GROUP BY time(...) with day buckets starting at 00:00 China Standard Time. */
const groupTime = (intervalMs: number) => (intervalMs >= DAY_MS ? `time(${intervalMs}ms, 16h)` : `time(${intervalMs}ms)`);

const MAX_SERIES_RANGE_MS = 400 * DAY_MS;

// ---------------------------------------------------------------- the views

interface RateSample {
  at: number;
  messages: number;
  byChannel: Record<string, number>;
  byTransport: Record<string, number>;
  stored: number;
  deadLetters: number;
  duplicates: number;
  refusals: number;
}

export const RATE_SAMPLE_MS = 5000;
const RATE_WINDOW_SAMPLES = 13; // one minute
/** How far back the ingest-health chart reaches (GET /api/v1/ingest/rates). */
export const RATE_HISTORY_MS = 3600_000;

export class Views {
  readonly state: EquipmentState;
  private readonly db: Db;
  private readonly sql: Record<string, Statement>;
  private samples: RateSample[] = [];
  /** the minute rates at each sample, for the last hour */
  readonly rateHistory = new RateHistory(RATE_HISTORY_MS / RATE_SAMPLE_MS);
  private sampler: NodeJS.Timeout;

  constructor(readonly deps: ViewsDeps) {
    this.db = deps.views.db;
    this.state = new EquipmentState(deps.ingest, deps.store, deps.log);
    // Entrapments of a day (the overview asks every 2 s): read by type and first occurrence.
    this.db.exec('CREATE INDEX IF NOT EXISTS alerts_type_first ON alerts (type, first_at)');
    // rescue_timings (alerts/rescue-timings.ts) and elevator_facts (alerts/scheduled.ts) exist: the engine and scheduler start first.
    this.sql = {
      activeAlerts: this.db.prepare(`SELECT subject_kind, subject, district, type, severity, state FROM alerts WHERE state IN ('open', 'acknowledged')`),
      offline: this.db.prepare(`SELECT subject_kind, subject FROM alerts WHERE type = 'offline' AND state != 'resolved'`),
      activeBy: this.db.prepare(`SELECT district, type, severity, state, COUNT(*) n FROM alerts WHERE state IN ('open', 'acknowledged') GROUP BY district, type, severity, state`),
      entrapmentsSince: this.db.prepare(`SELECT district, COUNT(*) n FROM alerts WHERE type = 'entrapment' AND first_at >= ? GROUP BY district`),
      entrapmentList: this.db.prepare(`SELECT a.id, a.subject, a.district, a.unit, a.state, a.first_at, a.resolved_at, r.dispatched_at, r.arrived_at, r.released_at
        FROM alerts a LEFT JOIN rescue_timings r ON r.alert_id = a.id WHERE a.type = 'entrapment' AND a.first_at >= @since
        UNION SELECT a.id, a.subject, a.district, a.unit, a.state, a.first_at, a.resolved_at, r.dispatched_at, r.arrived_at, r.released_at
        FROM alerts a LEFT JOIN rescue_timings r ON r.alert_id = a.id WHERE a.type = 'entrapment' AND a.state != 'resolved'
        ORDER BY first_at DESC LIMIT 1000`),
      entrapmentsOf: this.db.prepare(`SELECT a.id, a.state, a.first_at, r.dispatched_at, r.arrived_at, r.released_at
        FROM alerts a LEFT JOIN rescue_timings r ON r.alert_id = a.id WHERE a.type = 'entrapment' AND a.subject_kind = 'elevator' AND a.subject = ? ORDER BY a.first_at DESC LIMIT 20`),
      facts: this.db.prepare('SELECT first_known_at, last_routine_at, last_pass_at FROM elevator_facts WHERE elevator = ?'),
      maintenance: this.db.prepare(`SELECT ts AS at, id, kind, routine, unit FROM records WHERE elevator = ? AND channel = 'maintenance' ORDER BY ts DESC LIMIT 100`),
      inspections: this.db.prepare(`SELECT ts AS at, id, kind, result, attempt, party AS institution, next_due AS nextDue, unit FROM records WHERE elevator = ? AND channel = 'inspection' ORDER BY ts DESC LIMIT 100`),
      ledgerEvents: this.db.prepare(`SELECT ts AS at, id, kind AS type FROM records WHERE elevator = ? AND channel = 'event' ORDER BY ts DESC LIMIT 50`),
      letterLatest: this.db.prepare(`SELECT seq, at, topic, sender, transport, reason, message, excerpt FROM dead_letters WHERE seq IN (SELECT MAX(seq) FROM dead_letters GROUP BY reason)`),
      letterRecent: this.db.prepare(`SELECT seq, at, topic, sender, transport, reason, message, excerpt FROM dead_letters ORDER BY seq DESC LIMIT 20`),
    };
    void this.state.warmUp();
    void this.sample();
    this.sampler = setInterval(() => void this.sample(), RATE_SAMPLE_MS);
    this.sampler.unref();
  }

  close(): void {
    clearInterval(this.sampler);
    this.state.close();
  }

  // ---- equipment state

  online(kind: EquipmentKind, code: string): { online: boolean | null; lastSeenAt: number | null } {
    const { liveness } = this.deps.views;
    const lastSeenAt = liveness.lastSeenAt(kind, code);
    if (liveness.isOffline(kind, code)) return { online: false, lastSeenAt };
    return { online: lastSeenAt === null ? null : true, lastSeenAt };
  }

  /** Active alerts per `kind:code` (gas_leak subjects `site:detector` count for the site). */
  private activeBySubject(): Map<string, ActiveSummary> {
    const out = new Map<string, ActiveSummary>();
    for (const r of this.sql.activeAlerts!.iterate() as Iterable<{ subject_kind: string; subject: string; type: string; severity: Severity }>) {
      const subject = r.subject_kind === 'gas_site' ? r.subject.split(':')[0]! : r.subject;
      const key = `${r.subject_kind}:${subject}`;
      let s = out.get(key);
      if (!s) out.set(key, (s = { count: 0, worst: null, types: new Set() }));
      s.count++;
      s.worst = worse(s.worst, r.severity);
      s.types.add(r.type);
    }
    return out;
  }

  elevatorItem(e: Elevator, active?: ActiveSummary): ElevatorItem {
    const st = this.state.status.get(e.code);
    return {
      code: e.code, address: e.address, district: e.district, userUnit: e.userUnit, maintenanceUnit: e.maintenanceUnit,
      maintenanceUnitName: this.deps.registry.units.get(e.maintenanceUnit)?.name ?? null, nextInspectionDue: e.nextInspectionDue ?? null,
      maintenanceIntervalDays: e.maintenanceIntervalDays ?? 15,
      ...this.online('elevator', e.code),
      serviceMode: st?.serviceMode ?? null, floor: st?.floor ?? null, statusAt: st?.ts ?? null,
      activeAlerts: active?.count ?? 0, worstSeverity: active?.worst ?? null,
      overdueMaintenance: active?.types.has('maintenance_overdue') ?? false, overdueInspection: active?.types.has('inspection_overdue') ?? false,
    };
  }

  gasSiteItem(g: GasSite, active?: ActiveSummary): GasSiteItem {
    const det = this.state.readings.get(g.code);
    let maxLel: number | null = null;
    for (const r of det?.values() ?? []) maxLel = maxLel === null ? r.lel : Math.max(maxLel, r.lel);
    return {
      code: g.code, name: g.name, address: g.address, district: g.district, kind: g.kind ?? 'other',
      ...this.online('gas_site', g.code), detectors: det?.size ?? 0, maxLel, activeAlerts: active?.count ?? 0, worstSeverity: active?.worst ?? null,
    };
  }

  equipmentFrameItem(kind: EquipmentKind, code: string): EquipmentFrameItem | null {
    if (kind === 'elevator') {
      const e = this.deps.registry.elevators.get(code);
      if (!e) return null;
      const st = this.state.status.get(code);
      return { code, kind, district: e.district, ...this.online(kind, code), serviceMode: st?.serviceMode ?? null, floor: st?.floor ?? null, statusAt: st?.ts ?? null };
    }
    const g = this.deps.registry.gasSites.get(code);
    return g ? { code, kind, district: g.district, ...this.online(kind, code) } : null;
  }

  // ---- overview

  private never = { elevator: { codes: new Set<string>(), builtAt: 0, size: -1 }, gas_site: { codes: new Set<string>(), builtAt: 0, size: -1 } };

  /**
   * Registered equipment never heard from. Rebuilt from the whole registry when its size changed or every
   * 10 minutes (a code replaced by another); in between only the few members are checked again
   * (equipment is never "unseen").
   */
  private neverSeen(kind: EquipmentKind, now: number): Set<string> {
    const n = this.never[kind];
    const items = kind === 'elevator' ? this.deps.registry.elevators.items : this.deps.registry.gasSites.items;
    const { liveness } = this.deps.views;
    if (n.size !== items.size || now - n.builtAt > 600_000) {
      n.codes = new Set();
      for (const code of items.keys()) if (liveness.lastSeenAt(kind, code) === null) n.codes.add(code);
      n.size = items.size;
      n.builtAt = now;
    } else {
      for (const code of n.codes) if (liveness.lastSeenAt(kind, code) !== null) n.codes.delete(code);
    }
    return n.codes;
  }

  /** KPI numbers per district (every district with registered equipment, or alerts). */
  kpiByDistrict(now = Date.now()): Map<string, KpiNumbers> {
    const out = new Map<string, KpiNumbers>();
    const of = (d: string) => {
      let k = out.get(d);
      if (!k) out.set(d, (k = emptyKpi()));
      return k;
    };
    // Per elevator only what is cheap (a province has 100,000 and this runs every 2 s): offline from the
    // active offline alerts, never-seen from a set that only shrinks between full rebuilds.
    const { elevators, gasSites } = this.deps.registry;
    for (const e of elevators.items.values()) {
      const k = of(e.district);
      k.elevators++;
      const mode = this.state.status.get(e.code)?.serviceMode;
      if (mode !== undefined && mode !== 'normal') k.elevatorsNotNormal++;
    }
    for (const g of gasSites.items.values()) of(g.district).gasSites++;
    for (const r of this.sql.offline!.all() as { subject_kind: string; subject: string }[]) {
      if (r.subject_kind === 'elevator') {
        const e = elevators.get(r.subject);
        if (e) of(e.district).elevatorsOffline++;
      } else if (r.subject_kind === 'gas_site') {
        const g = gasSites.get(r.subject);
        if (g) of(g.district).gasSitesOffline++;
      }
    }
    for (const code of this.neverSeen('elevator', now)) {
      const e = elevators.get(code);
      if (e) of(e.district).elevatorsNeverSeen++;
    }
    for (const code of this.neverSeen('gas_site', now)) {
      const g = gasSites.get(code);
      if (g) of(g.district).gasSitesNeverSeen++;
    }
    for (const k of out.values()) {
      k.elevatorsOnline = Math.max(0, k.elevators - k.elevatorsOffline - k.elevatorsNeverSeen);
      k.gasSitesOnline = Math.max(0, k.gasSites - k.gasSitesOffline - k.gasSitesNeverSeen);
    }
    for (const r of this.sql.activeBy!.all() as { district: string | null; type: string; severity: Severity; state: string; n: number }[]) {
      if (r.district === null) continue; // unit-level alerts (interview cases) belong to no district
      const k = of(r.district);
      k.activeAlerts += r.n;
      k.alertsBySeverity[r.severity] += r.n;
      if (r.severity === 'critical' && r.state === 'open') k.unacknowledgedCritical += r.n;
      if (r.type === 'entrapment') k.entrapmentsActive += r.n;
      if (r.type === 'maintenance_overdue') k.overdueMaintenance += r.n;
      if (r.type === 'inspection_overdue') k.overdueInspection += r.n;
    }
    for (const r of this.sql.entrapmentsSince!.all(cstMidnight(cstDate(now))) as { district: string | null; n: number }[]) {
      if (r.district !== null) of(r.district).entrapmentsToday += r.n;
    }
    for (const k of out.values()) finishRates(k);
    return out;
  }

  overview(scope: Scope, now = Date.now()) {
    const byDistrict = this.kpiByDistrict(now);
    const totals = emptyKpi();
    const districts: ({ district: string } & KpiNumbers)[] = [];
    for (const [district, k] of [...byDistrict].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!scope(district)) continue;
      addKpi(totals, k);
      districts.push({ district, ...k });
    }
    finishRates(totals);
    const arrivalMs = this.deps.views.arrivalMs;
    const entrapmentsToday = (this.sql.entrapmentList!.all({ since: cstMidnight(cstDate(now)) }) as {
      id: number; subject: string; district: string | null; unit: string | null; state: string; first_at: number; resolved_at: number | null;
      dispatched_at: number | null; arrived_at: number | null; released_at: number | null;
    }[])
      .filter((r) => scope(r.district))
      .slice(0, 100)
      .map((r) => ({
        alertId: r.id, elevator: r.subject, district: r.district, unit: r.unit, address: this.deps.registry.elevators.get(r.subject)?.address ?? null, state: r.state,
        trappedAt: r.first_at, dispatchedAt: r.dispatched_at, arrivedAt: r.arrived_at, releasedAt: r.released_at, resolvedAt: r.resolved_at,
        waitingMs: Math.max(0, (r.arrived_at ?? (r.state === 'resolved' ? (r.released_at ?? r.first_at) : now)) - r.first_at),
        durationMs: Math.max(0, (r.released_at ?? (r.state === 'resolved' ? r.first_at : now)) - r.first_at),
        overdueArrival: (r.arrived_at ?? (r.state === 'resolved' ? -Infinity : now)) - r.first_at > arrivalMs,
      }));
    const newest = this.deps.supervision.lists.list({ pageSize: 1 }).items[0];
    const list = newest ? this.deps.supervision.lists.get(newest.id as number) : undefined;
    const interview = list
      ? {
          listId: list.id, periodFrom: list.periodFrom, periodTo: list.periodTo, version: list.version, generatedAt: list.generatedAt, trigger: list.trigger,
          // reasons as data (criterion, value, threshold, and the counts behind the rate), which the UI words in
          // either language; `text` is the server's Chinese sentence, as in exports and notices
          units: list.units.map((u) => ({
            rank: u.rank, unit: u.unit, name: u.name,
            reasons: u.reasons.map((r) => ({ ...r, ...(r.criterion === 'pass_rate' ? { count: u.scorecard.inspections.passed, of: u.scorecard.inspections.first } : { count: u.scorecard.complaints.count, of: u.scorecard.elevators }) })),
          })),
        }
      : null;
    const rates = this.rates();
    return {
      at: now, totals, districts, entrapmentsToday, interview,
      ingest: { messagesPerSec: rates.messagesPerSec, influxWriting: this.deps.store.connected && this.deps.ingest.influxUp, spoolDepthMessages: this.deps.spool.depthCount, spoolFull: this.deps.spool.full },
    };
  }

  // ---- elevators

  elevators(scope: Scope, q: ElevatorQuery): Page<ElevatorItem> {
    const active = this.activeBySubject();
    const needle = q.q?.toLowerCase();
    const units = this.deps.registry.units;
    const field = q.sort.replace(/^-/, '');
    const candidates: Elevator[] = [];
    for (const e of this.deps.registry.elevators.items.values()) {
      if (!scope(e.district)) continue;
      if (q.district && e.district !== q.district) continue;
      if (q.unit && e.maintenanceUnit !== q.unit) continue;
      if (needle && ![e.code, e.address, e.userUnit, e.maintenanceUnit, units.get(e.maintenanceUnit)?.name ?? ''].some((s) => s.toLowerCase().includes(needle))) continue;
      candidates.push(e);
    }
    // Registry filters and sort only (the common case on a city of 30,000): build the items of one page.
    // Elevator and ElevatorItem share these fields: the same accessors sort either.
    type Registered = Pick<Elevator, 'code' | 'district' | 'maintenanceUnit' | 'address'>;
    const byRegistry: Record<string, (e: Registered) => string> = { code: (e) => e.code, district: (e) => e.district, unit: (e) => e.maintenanceUnit, address: (e) => e.address };
    if (!q.online && !q.serviceMode && !q.overdue && !q.alerts && byRegistry[field]) {
      const page = paginate(sortBy(candidates, q.sort, byRegistry[field]), q.page, q.pageSize);
      return { ...page, items: page.items.map((e) => this.elevatorItem(e, active.get(`elevator:${e.code}`))) };
    }
    const items: ElevatorItem[] = [];
    for (const e of candidates) {
      const it = this.elevatorItem(e, active.get(`elevator:${e.code}`));
      if (q.online && (q.online === 'never' ? it.online !== null : it.online !== (q.online === 'true'))) continue;
      if (q.serviceMode && (q.serviceMode === 'abnormal' ? it.serviceMode === null || it.serviceMode === 'normal' : it.serviceMode !== q.serviceMode)) continue;
      if (q.overdue === 'maintenance' && !it.overdueMaintenance) continue;
      if (q.overdue === 'inspection' && !it.overdueInspection) continue;
      if (q.overdue === 'any' && !it.overdueMaintenance && !it.overdueInspection) continue;
      if (q.alerts && it.activeAlerts === 0) continue;
      items.push(it);
    }
    const get: Record<string, (i: ElevatorItem) => string | number | null> = {
      ...byRegistry, lastSeenAt: (i) => i.lastSeenAt, activeAlerts: (i) => i.activeAlerts, serviceMode: (i) => i.serviceMode,
    };
    return paginate(sortBy(items, q.sort, get[field] ?? get.code!), q.page, q.pageSize);
  }

  /** The elevator if the caller may see it; otherwise 404, as for an unknown one. */
  private elevatorInScope(scope: Scope, code: string): Elevator {
    const e = this.deps.registry.elevators.get(code);
    if (!e || !scope(e.district)) throw new ViewError(`elevator ${code} not found (or not in your districts)`, 404);
    return e;
  }

  async elevator(scope: Scope, code: string, now = Date.now()) {
    const e = this.elevatorInScope(scope, code);
    let status: Status | undefined = this.state.status.get(code);
    const { store, log } = this.deps;
    let recentEvents: { at: number; id: string; type: string; state: string | null; floor: number | null; detail: string | null }[];
    try {
      if (!status) {
        const r = (await store.rows(`SELECT * FROM "elevator_status" WHERE "elevator" = ${lit(code)} AND time > now() - 30d ORDER BY time DESC LIMIT 1`))[0];
        if (r) status = statusFromRow(r);
      }
      recentEvents = (await store.rows(`SELECT "id", "type", "state", "floor", "detail" FROM "elevator_event" WHERE "elevator" = ${lit(code)} AND time > now() - 365d ORDER BY time DESC LIMIT 50`))
        .map((r) => ({ at: Number(r.time), id: String(r.id ?? ''), type: String(r.type), state: (r.state as string) ?? null, floor: r.floor == null ? null : Number(r.floor), detail: (r.detail as string) ?? null }));
    } catch (err) {
      // InfluxDB unreachable: raised events from the record ledger still tell the story
      log.debug({ err }, 'elevator page: InfluxDB query failed; events from the ledger');
      recentEvents = (this.sql.ledgerEvents!.all(code) as { at: number; id: string; type: string }[]).map((r) => ({ ...r, state: 'raised', floor: null, detail: null }));
    }
    const f = this.sql.facts!.get(code) as { first_known_at: number; last_routine_at: number | null; last_pass_at: number | null } | undefined;
    const facts = { firstKnownAt: f?.first_known_at ?? now, lastRoutineAt: f?.last_routine_at ?? null, lastPassAt: f?.last_pass_at ?? null };
    const m = maintenanceOverdue(e, facts, now);
    const i = inspectionOverdue(e, facts, now);
    const openAlerts = this.deps.alerts.unresolvedOf('elevator', code);
    const alertOf = (type: string) => openAlerts.find((a) => a.type === type)?.id ?? null;
    const item = this.elevatorItem(e);
    return {
      elevator: {
        code: e.code, address: e.address, district: e.district, userUnit: e.userUnit, maintenanceUnit: e.maintenanceUnit,
        maintenanceUnitName: item.maintenanceUnitName, nextInspectionDue: e.nextInspectionDue ?? null, maintenanceIntervalDays: item.maintenanceIntervalDays,
      },
      state: {
        online: item.online, lastSeenAt: item.lastSeenAt,
        status: status
          ? {
              at: status.ts, serviceMode: status.serviceMode, carStatus: status.carStatus, direction: status.direction, floor: status.floor, doorZone: status.doorZone,
              doorStatus: status.doorStatus, passengers: status.passengers, speed: status.speed ?? null, load: status.load ?? null, runCount: status.runCount ?? null,
              runHours: status.runHours ?? null, doorCycles: status.doorCycles ?? null,
            }
          : null,
      },
      overdue: {
        maintenance: { overdue: m.overdue, dueAt: m.dueAt, lastRoutineAt: facts.lastRoutineAt, intervalDays: item.maintenanceIntervalDays, alertId: alertOf('maintenance_overdue') },
        inspection: { overdue: i.overdue, dueAt: i.dueAt, nextInspectionDue: e.nextInspectionDue ?? null, lastPassAt: facts.lastPassAt, alertId: alertOf('inspection_overdue') },
      },
      openAlerts,
      recentEvents,
      maintenance: (this.sql.maintenance!.all(code) as { at: number; id: string; kind: string; routine: number; unit: string | null }[])
        .map((r) => ({ ...r, routine: r.routine === 1, unitName: (r.unit && this.deps.registry.units.get(r.unit)?.name) || null })),
      inspections: this.sql.inspections!.all(code),
      entrapments: (this.sql.entrapmentsOf!.all(code) as { id: number; state: string; first_at: number; dispatched_at: number | null; arrived_at: number | null; released_at: number | null }[])
        .map((r) => ({ alertId: r.id, state: r.state, trappedAt: r.first_at, dispatchedAt: r.dispatched_at, arrivedAt: r.arrived_at, releasedAt: r.released_at })),
    };
  }

  async elevatorSeries(scope: Scope, code: string, range: { from: number; to: number }) {
    this.elevatorInScope(scope, code);
    const intervalMs = seriesInterval(range.from, range.to);
    const rows = await this.influx(`SELECT last("floor") AS "floor", min("floor") AS "floorMin", max("floor") AS "floorMax", max("run_count") AS "runCount",
      spread("run_count") AS "spread", max("door_cycles") AS "doorCycles", count("floor") AS "samples"
      FROM "elevator_status" WHERE "elevator" = ${lit(code)} AND time >= ${range.from}ms AND time < ${range.to}ms GROUP BY ${groupTime(intervalMs)} fill(none)`);
    let prevRun: number | null = null;
    const points = rows.map((r) => {
      const runCount = r.runCount == null ? null : Number(r.runCount);
      let trips: number | null = runCount === null ? null : Number(r.spread ?? 0);
      // Trips between the previous interval's last count and this one's: the counter's increase.
      if (runCount !== null && prevRun !== null && runCount >= prevRun) trips = runCount - prevRun;
      if (runCount !== null) prevRun = runCount;
      return {
        t: Number(r.time), floor: r.floor == null ? null : Number(r.floor), floorMin: r.floorMin == null ? null : Number(r.floorMin), floorMax: r.floorMax == null ? null : Number(r.floorMax),
        runCount, doorCycles: r.doorCycles == null ? null : Number(r.doorCycles), trips, samples: Number(r.samples ?? 0),
      };
    });
    return { code, from: range.from, to: range.to, intervalMs, points };
  }

  // ---- gas sites

  gasSites(scope: Scope, q: GasSiteQuery): Page<GasSiteItem> {
    const active = this.activeBySubject();
    const needle = q.q?.toLowerCase();
    const items: GasSiteItem[] = [];
    for (const g of this.deps.registry.gasSites.items.values()) {
      if (!scope(g.district)) continue;
      if (q.district && g.district !== q.district) continue;
      if (q.kind && g.kind !== q.kind) continue;
      if (needle && ![g.code, g.name, g.address].some((s) => s.toLowerCase().includes(needle))) continue;
      const it = this.gasSiteItem(g, active.get(`gas_site:${g.code}`));
      if (q.online && (q.online === 'never' ? it.online !== null : it.online !== (q.online === 'true'))) continue;
      if (q.alerts && it.activeAlerts === 0) continue;
      items.push(it);
    }
    const field = q.sort.replace(/^-/, '');
    const get: Record<string, (i: GasSiteItem) => string | number | null> = {
      code: (i) => i.code, name: (i) => i.name, district: (i) => i.district, lastSeenAt: (i) => i.lastSeenAt, activeAlerts: (i) => i.activeAlerts, maxLel: (i) => i.maxLel,
    };
    return paginate(sortBy(items, q.sort, get[field] ?? get.code!), q.page, q.pageSize);
  }

  private siteInScope(scope: Scope, code: string): GasSite {
    const g = this.deps.registry.gasSites.get(code);
    if (!g || !scope(g.district)) throw new ViewError(`gas site ${code} not found (or not in your districts)`, 404);
    return g;
  }

  async gasSite(scope: Scope, code: string) {
    const g = this.siteInScope(scope, code);
    const { gasLevel1Lel: level1, gasLevel2Lel: level2 } = this.deps.views;
    const latest = new Map(this.state.readings.get(code) ?? []);
    try {
      // Detectors not heard from since start-up: their newest reading in InfluxDB.
      const series = await this.deps.store.query(`SELECT * FROM "gas_reading" WHERE "site" = ${lit(code)} AND time > now() - 30d GROUP BY "detector" ORDER BY time DESC LIMIT 1`);
      for (const s of series) {
        const d = s.tags?.detector;
        const row = s.values[0];
        if (!d || !row) continue;
        const r = readingFromRow(d, rowOf(s, row));
        const prev = latest.get(d);
        if (!prev || prev.ts < r.ts) latest.set(d, r);
      }
    } catch (err) {
      this.deps.log.debug({ err }, 'gas site page: InfluxDB query failed; detectors from memory only');
    }
    const openAlerts = this.deps.alerts.unresolvedOf('gas_site', code);
    const detectors = [...latest.values()]
      .sort((a, b) => (a.detector < b.detector ? -1 : 1))
      .map((r) => ({
        detector: r.detector, lel: r.lel, gas: r.gas ?? null, pressureMPa: r.pressureMPa ?? null, temperatureC: r.temperatureC ?? null, at: r.ts,
        level: r.lel >= level2 ? 2 : r.lel >= level1 ? 1 : 0,
        alertId: openAlerts.find((a) => a.type === 'gas_leak' && a.subject === `${code}:${r.detector}`)?.id ?? null,
      }));
    return {
      site: { code: g.code, name: g.name, address: g.address, district: g.district, kind: g.kind ?? 'other' },
      state: this.online('gas_site', code),
      thresholds: { level1, level2 },
      detectors,
      openAlerts,
    };
  }

  async gasSeries(scope: Scope, code: string, range: { from: number; to: number }) {
    this.siteInScope(scope, code);
    const intervalMs = seriesInterval(range.from, range.to);
    const series = await this.influxSeries(`SELECT mean("lel") AS "lel", max("lel") AS "lelMax" FROM "gas_reading"
      WHERE "site" = ${lit(code)} AND time >= ${range.from}ms AND time < ${range.to}ms GROUP BY ${groupTime(intervalMs)}, "detector" fill(none)`);
    const detectors = series
      .map((s) => ({
        detector: s.tags?.detector ?? '',
        points: s.values.map((v) => {
          const r = rowOf(s, v);
          return { t: Number(r.time), lel: r.lel == null ? null : Math.round(Number(r.lel) * 100) / 100, lelMax: r.lelMax == null ? null : Number(r.lelMax) };
        }),
      }))
      .sort((a, b) => (a.detector < b.detector ? -1 : 1));
    return { code, from: range.from, to: range.to, intervalMs, detectors };
  }

  async fillings(scope: Scope, code: string, q: { violations: boolean; from: number; to: number; page: number; pageSize: number }) {
    this.siteInScope(scope, code);
    const where = `"site" = ${lit(code)} AND time >= ${q.from}ms AND time < ${q.to}ms${q.violations ? ' AND ("inspection_overdue" = true OR "scrap_overdue" = true)' : ''}`;
    const [countRow] = await this.influx(`SELECT count("cylinder") AS "n" FROM "cylinder_filling" WHERE ${where}`);
    const rows = await this.influx(`SELECT * FROM "cylinder_filling" WHERE ${where} ORDER BY time DESC LIMIT ${q.pageSize} OFFSET ${(q.page - 1) * q.pageSize}`);
    const str = (v: unknown) => (v == null ? null : String(v));
    return {
      items: rows.map((r) => ({
        at: Number(r.time), id: String(r.id ?? ''), cylinder: String(r.cylinder ?? ''), medium: str(r.medium), manufactured: str(r.manufactured),
        nextInspectionDue: str(r.next_inspection_due), scrapDue: str(r.scrap_due), netKg: r.net_kg == null ? null : Number(r.net_kg),
        station: str(r.station), operator: str(r.operator), inspectionOverdue: bool(r.inspection_overdue), scrapOverdue: bool(r.scrap_overdue),
        violation: bool(r.inspection_overdue) || bool(r.scrap_overdue),
      })),
      total: Number(countRow?.n ?? 0), page: q.page, pageSize: q.pageSize, from: q.from, to: q.to,
    };
  }

  /** An InfluxDB answer, or a 502 saying the time-series database did not answer. */
  private async fromInflux<T>(answer: Promise<T>): Promise<T> {
    try {
      return await answer;
    } catch (err) {
      throw new ViewError(`the time-series database (InfluxDB) did not answer: ${(err as Error).message}; try again shortly, or see GET /api/v1/ingest/health`, 502);
    }
  }

  private influxSeries(q: string) {
    return this.fromInflux(this.deps.store.query(q));
  }

  private influx(q: string): Promise<Record<string, unknown>[]> {
    return this.fromInflux(this.deps.store.rows(q));
  }

  // ---- ingest health

  private async sample(): Promise<void> {
    const s = await this.readCounters();
    if (!s) return;
    this.samples.push(s);
    if (this.samples.length > RATE_WINDOW_SAMPLES) this.samples.shift();
    const r = this.rates();
    this.rateHistory.push({ at: s.at, messagesPerSec: r.messagesPerSec, storedPerSec: r.storedPerSec, deadLettersPerSec: r.deadLettersPerSec });
  }

  /** The counters now (not added to the rate window). */
  private async readCounters(): Promise<RateSample | null> {
    const m = this.deps.metrics;
    const sum = async (c: { get(): Promise<{ values: { value: number; labels: Record<string, string | number | undefined> }[] }> }, by?: string) => {
      const values = (await c.get()).values;
      const total = values.reduce((a, v) => a + v.value, 0);
      const grouped: Record<string, number> = {};
      if (by) for (const v of values) grouped[String(v.labels[by])] = (grouped[String(v.labels[by])] ?? 0) + v.value;
      return { total, grouped };
    };
    try {
      const [byChannel, byTransport, stored, letters, dups, refusals] = await Promise.all([
        sum(m.messagesIn, 'channel'), sum(m.messagesIn, 'transport'), sum(m.objectsStored), sum(m.deadLetters), sum(m.duplicates), sum(m.refusals),
      ]);
      return {
        at: Date.now(), messages: byChannel.total, byChannel: byChannel.grouped, byTransport: byTransport.grouped,
        stored: stored.total, deadLetters: letters.total, duplicates: dups.total, refusals: refusals.total,
      };
    } catch (err) {
      this.deps.log.debug({ err }, 'dashboard: reading the counters failed');
      return null;
    }
  }

  /** Rates over the sampled window (up to a minute); zeros until two samples exist. */
  rates() {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    const dt = first && last && last.at > first.at ? (last.at - first.at) / 1000 : 0;
    const rate = (a: number, b: number) => (dt ? Math.round(((b - a) / dt) * 100) / 100 : 0);
    const perKey = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.keys(b).map((k) => [k, rate(a[k] ?? 0, b[k]!)]));
    return {
      windowS: Math.round(dt),
      messagesPerSec: first && last ? rate(first.messages, last.messages) : 0,
      byChannel: first && last ? perKey(first.byChannel, last.byChannel) : {},
      byTransport: first && last ? perKey(first.byTransport, last.byTransport) : {},
      storedPerSec: first && last ? rate(first.stored, last.stored) : 0,
      deadLettersPerSec: first && last ? rate(first.deadLetters, last.deadLetters) : 0,
      duplicatesPerSec: first && last ? rate(first.duplicates, last.duplicates) : 0,
      refusalsPerSec: first && last ? rate(first.refusals, last.refusals) : 0,
    };
  }

  async ingestHealth(liveClients: number | null) {
    const { deadLetters, spool, ingest, store, scheduler, metrics } = this.deps;
    const last = (await this.readCounters()) ?? this.samples.at(-1); // totals now; rates from the sampled window
    const counts = deadLetters.countsByReason();
    const latest = new Map((this.sql.letterLatest!.all() as { reason: string }[]).map((r) => [r.reason, r]));
    const byReason = Object.entries(counts)
      .sort(([, a], [, b]) => b - a)
      .map(([reason, count]) => {
        const l = latest.get(reason) as Record<string, unknown> | undefined;
        return { reason, count, latest: l ? { seq: l.seq, at: l.at, topic: l.topic, sender: l.sender, transport: l.transport, message: l.message, excerpt: l.excerpt } : null };
      });
    const writeErrors = (await metrics.writeErrors.get()).values.reduce((a, v) => a + v.value, 0);
    const clients = (await metrics.clients.get()).values[0]?.value ?? 0;
    return {
      at: Date.now(),
      rates: this.rates(),
      totals: { messages: last?.messages ?? 0, stored: last?.stored ?? 0, deadLetters: last?.deadLetters ?? 0, duplicates: last?.duplicates ?? 0, refusals: last?.refusals ?? 0 },
      deadLetters: { total: Object.values(counts).reduce((a, b) => a + b, 0), byReason, recent: this.sql.letterRecent!.all() },
      spool: { depthMessages: spool.depthCount, depthBytes: spool.depthBytes, limitBytes: spool.limitBytes, full: spool.full, usedRatio: spool.limitBytes ? spool.depthBytes / spool.limitBytes : 0 },
      influx: { writing: store.connected && ingest.influxUp, version: store.version, writeErrors },
      mqttClients: clients,
      liveClients,
      rules: scheduler.rules().map((r) => ({ rule: r.rule, schedule: r.schedule, nextRunAt: r.nextRunAt, running: r.running, lastRun: r.lastRun })),
      ruleRuns: scheduler.runs({ pageSize: 20 }).items,
    };
  }
}

/** Parses a `from`/`to` query value: epoch ms or an ISO date(-time). */
function parseInstant(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n)) throw new ViewError(`${name} must be epoch milliseconds or an ISO date-time such as 2026-11-25T08:00:00+08:00, not ${JSON.stringify(v)}`, 400);
  return n;
}

export function parseRange(q: { from?: string | undefined; to?: string | undefined }, defaultSpanMs: number, now = Date.now()): { from: number; to: number } {
  const to = parseInstant(q.to, 'to') ?? now;
  const from = parseInstant(q.from, 'from') ?? to - defaultSpanMs;
  if (from >= to) throw new ViewError(`from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`, 400);
  if (to - from > MAX_SERIES_RANGE_MS) throw new ViewError(`the range is at most 400 days; ask for a shorter one (from … to is ${Math.round((to - from) / DAY_MS)} days)`, 400);
  return { from, to };
}
