// What the dashboard's read models share (dashboard/views.ts composes them):
// the caller's scope, the errors they answer, sorting and paging in memory,
// InfluxQL helpers, and rows of InfluxDB as records.
import type { Logger } from 'pino';
import type { EquipmentLiveness } from '../../alerts/engine.js';
import type { RescueTimings } from '../../alerts/rescue-timings.js';
import type { Scheduler } from '../../alerts/scheduled.js';
import type { AlertStore } from '../../alerts/store.js';
import { SEVERITIES, type Severity } from '../../domain/alerts.js';
import type { Reading, Status } from '../../domain/messages.js';
import { DAY_MS } from '../../domain/time.js';
import type { DeadLetters } from '../../ingest/dead-letters.js';
import type { Ingest } from '../../ingest/pipeline.js';
import type { Page, Registry } from '../../registry/registry.js';
import type { Metrics } from '../../common/metrics.js';
import type { InfluxStore, SeriesResult } from '../../storage/influx.js';
import type { RecordLedger } from '../../storage/ledger.js';
import type { IngressLog } from '../../storage/spool.js';
import type { Supervision } from '../../supervision/supervision.js';
import { AppError } from '../../common/errors.js';

/** Whether the caller may see a district (built from req.principal and inScope). */
export type Scope = (district: string | null | undefined) => boolean;
export type EquipmentKind = 'elevator' | 'gas_site';

/** What service.ts passes for the views (AppDeps.views). */
export interface ViewsOptions {
  /** the record ledger's owner (an elevator's maintenance, inspections, and its events while InfluxDB is down) */
  ledger: RecordLedger;
  /** the rescue timings' owner (the alert engine's) */
  timings: RescueTimings;
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
  spool: IngressLog;
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

/** One row of an InfluxDB series as an object (column → value). */
export const rowOf = (s: SeriesResult, values: unknown[]) => Object.fromEntries(s.columns.map((c, i) => [c, values[i]]));

export const num = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));
export const bool = (v: unknown) => v === true || v === 'true' || v === 1;

export function statusFromRow(r: Record<string, unknown>): Status {
  return {
    id: String(r.id ?? ''), ts: Number(r.time), serviceMode: r.service_mode as Status['serviceMode'], carStatus: r.car_status as Status['carStatus'],
    direction: r.direction as Status['direction'], floor: Number(r.floor ?? 0), doorZone: bool(r.door_zone), doorStatus: r.door_status as Status['doorStatus'],
    passengers: bool(r.passengers), speed: num(r.speed), load: num(r.load), runCount: num(r.run_count), runHours: num(r.run_hours), doorCycles: num(r.door_cycles),
  };
}

export function readingFromRow(detector: string, r: Record<string, unknown>): Reading {
  return {
    id: String(r.id ?? ''), ts: Number(r.time), detector, lel: Number(r.lel), gas: r.gas == null ? undefined : String(r.gas),
    pressureMPa: num(r.pressure_mpa), temperatureC: num(r.temperature_c),
  };
}

export interface ActiveSummary {
  count: number;
  worst: Severity | null;
  types: Set<string>;
}

export const worse = (a: Severity | null, b: Severity): Severity => (a === null || SEVERITIES.indexOf(b) < SEVERITIES.indexOf(a) ? b : a);

/** Active alerts per `kind:code` (gas_leak subjects `site:detector` count for the site). */
export function activeBySubject(alerts: AlertStore): Map<string, ActiveSummary> {
  const out = new Map<string, ActiveSummary>();
  for (const r of alerts.activeBriefs()) {
    const subject = r.subjectKind === 'gas_site' ? r.subject.split(':')[0]! : r.subject;
    const key = `${r.subjectKind}:${subject}`;
    let s = out.get(key);
    if (!s) out.set(key, (s = { count: 0, worst: null, types: new Set() }));
    s.count++;
    s.worst = worse(s.worst, r.severity);
    s.types.add(r.type);
  }
  return out;
}

/** Online (an active offline alert says not), never heard from (null), and the last sign of life. */
export function onlineOf(liveness: EquipmentLiveness, kind: EquipmentKind, code: string): { online: boolean | null; lastSeenAt: number | null } {
  const lastSeenAt = liveness.lastSeenAt(kind, code);
  if (liveness.isOffline(kind, code)) return { online: false, lastSeenAt };
  return { online: lastSeenAt === null ? null : true, lastSeenAt };
}

/** Sorts by a field (prefix `-` for descending), nulls last, then by code. */
export function sortBy<T extends { code: string }>(items: T[], sort: string, field: (t: T) => string | number | null): T[] {
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

export const paginate = <T>(all: T[], page: number, pageSize: number): Page<T> => ({ items: all.slice((page - 1) * pageSize, page * pageSize), total: all.length, page, pageSize });

/** An InfluxQL string literal. */
export const lit = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export const NICE_INTERVALS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
/** The smallest round interval that gives at most `maxPoints` buckets over the range. */
export function seriesInterval(fromMs: number, toMs: number, maxPoints = 500): number {
  const want = (toMs - fromMs) / maxPoints / 1000;
  return (NICE_INTERVALS_S.find((s) => s >= want) ?? Math.ceil(want / 86400) * 86400) * 1000;
}
/** GROUP BY time(...) with day buckets starting at 00:00 China Standard Time. */
export const groupTime = (intervalMs: number) => (intervalMs >= DAY_MS ? `time(${intervalMs}ms, 16h)` : `time(${intervalMs}ms)`);

export const MAX_SERIES_RANGE_MS = 400 * DAY_MS;

/** An InfluxDB answer, or a 502 saying the time-series database did not answer. */
export async function fromInflux<T>(answer: Promise<T>): Promise<T> {
  try {
    return await answer;
  } catch (err) {
    throw new ViewError(`the time-series database (InfluxDB) did not answer: ${(err as Error).message}; try again shortly, or see GET /api/v1/ingest/health`, 502);
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
