// Validated messages → InfluxDB points (documented in README, "Storage").
//
// Point identity in InfluxDB is measurement + tag set + timestamp. The
// timestamp is the event time in ms plus a sub-millisecond offset (0–999,999
// ns): FNV-1a of the message id, so a re-sent message (same id, same ts) lands
// on the same point and changes nothing and a spool replay after a crash is
// idempotent. Two different ids whose hashes collide would share a point; the
// accept stage moves the later one to a free offset (ingest/point-slots.ts).
// Tags are only low-cardinality or per-equipment keys; ids, cylinder codes and
// free text are fields.
import type { Channel, ChannelItem } from '../domain/channels.js';
import { ROUTINE_MAINTENANCE } from '../domain/messages.js';
import { cstDate } from '../domain/time.js';
import type { AlertResult } from '../domain/alerts.js';

export const MEASUREMENTS: Record<Channel, string> = {
  status: 'elevator_status',
  event: 'elevator_event',
  reading: 'gas_reading',
  filling: 'cylinder_filling',
  maintenance: 'maintenance',
  inspection: 'inspection',
  complaint: 'complaint',
  rescue: 'rescue',
  hazard: 'hazard',
};

/** What the registry knows of the equipment, used for tags and defaults. */
export interface PointContext {
  /** district of the elevator or gas site named by the topic */
  district?: string | undefined;
  /** maintenance unit of the elevator in the registry */
  unit?: string | undefined;
}

/** 32-bit FNV-1a of a string (UTF-16 code units). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Sub-millisecond offsets a point can take: the nanoseconds of one millisecond. */
export const OFFSETS_PER_MS = 1_000_000;

/** FNV-1a of the id, reduced to 0–999,999: a point's sub-millisecond offset unless that slot is taken (ingest/point-slots.ts). */
export const idOffsetNs = (id: string): number => fnv1a(id) % OFFSETS_PER_MS;

/** A point without its timestamp: the series (measurement and tags) and the fields. */
export interface PointParts {
  series: string;
  fields: string;
  /**
   * A short tag value that is the same for every point of the series (the
   * equipment, or the unit of a complaint): grouping by it is never finer than
   * by series, and much cheaper to hash than the series (ingest/point-slots.ts).
   */
  key: string;
}

/** The line of a point at event time `ts` (ms) plus `offsetNs`. */
export const lineAt = (p: PointParts, ts: number, offsetNs: number): string => `${p.series} ${p.fields} ${ts}${String(offsetNs).padStart(6, '0')}`;

// Tag values: the schemas already exclude control characters and backslashes.
const escKey = (s: string) => (/[ ,=]/.test(s) ? s.replace(/([ ,=])/g, '\\$1') : s);
// Field strings: escape quotes and backslashes; line breaks would end the line, so they become spaces.
const escStr = (s: string) => (/["\\\r\n]/.test(s) ? s.replace(/(["\\])/g, '\\$1').replace(/[\r\n]/g, ' ') : s);

/**
 * Builds one line of InfluxDB line protocol. This runs for every stored
 * object (tens of thousands a second), so it appends to two strings instead
 * of allocating the client's Point with an object per field. Tag keys are
 * added in sorted order, as InfluxDB prefers.
 */
class Line {
  private tags = '';
  private fields = '';
  constructor(private measurement: string) {}
  tag(k: string, v: string | undefined): this {
    if (v) this.tags += `,${k}=${escKey(v)}`;
    return this;
  }
  private add(k: string, v: string): this {
    this.fields += this.fields ? `,${k}=${v}` : `${k}=${v}`;
    return this;
  }
  str(k: string, v: string | undefined): this {
    return v === undefined ? this : this.add(k, `"${escStr(v)}"`);
  }
  int(k: string, v: number | undefined): this {
    return v === undefined ? this : this.add(k, `${Math.trunc(v)}i`);
  }
  float(k: string, v: number | undefined): this {
    return v === undefined || !Number.isFinite(v) ? this : this.add(k, String(v));
  }
  bool(k: string, v: boolean): this {
    return this.add(k, v ? 'true' : 'false');
  }
  toString(ts: string): string {
    return `${this.measurement}${this.tags} ${this.fields} ${ts}`;
  }
  parts(key: string): PointParts {
    return { series: this.measurement + this.tags, fields: this.fields, key };
  }
}

/**
 * One alert transition as a point of `alert_event`, at its event time. The
 * sub-millisecond part is the transition's seq, so re-writing the log after
 * an outage lands on the same points.
 */
export function alertEventLine(e: AlertResult): string {
  const a = e.alert;
  const by = e.transition === 'acknowledged' ? a.ackBy : e.transition === 'resolved' ? a.resolvedBy : null;
  return new Line('alert_event')
    .tag('district', a.district ?? undefined).tag('severity', a.severity).tag('subject_kind', a.subjectKind).tag('transition', e.transition).tag('type', a.type).tag('unit', a.unit ?? undefined)
    .int('alert_id', a.id).str('subject', a.subject).str('state', a.state).int('escalation', a.escalation).int('count', a.count).int('lag_ms', e.lagMs)
    .int('seq', e.seq).str('by', by ?? undefined).str('resolution', e.transition === 'resolved' ? (a.resolution ?? undefined) : undefined)
    .toString(`${e.at}${String(e.seq % 1_000_000).padStart(6, '0')}`);
}

const opt = (k: string, v: number | undefined, suffix = '') => (v === undefined || !Number.isFinite(v) ? '' : `,${k}=${suffix ? Math.trunc(v) : v}${suffix}`);

/**
 * The status point in one template (most of the traffic): the same line as the general builder gives (a test
 * holds them equal), without a string per field. The enumerations need no escaping; ids and senders may.
 */
function statusPoint(s: ChannelItem<'status'>['record'], code: string, ctx: PointContext, sender: string): PointParts {
  const series = ctx.district ? `elevator_status,district=${escKey(ctx.district)},elevator=${escKey(code)}` : `elevator_status,elevator=${escKey(code)}`;
  const fields = `service_mode="${s.serviceMode}",car_status="${s.carStatus}",direction="${s.direction}",floor=${Math.trunc(s.floor)}i,door_zone=${s.doorZone},door_status="${s.doorStatus}",passengers=${s.passengers}`
    + `${opt('speed', s.speed)}${opt('load', s.load)}${opt('run_count', s.runCount, 'i')}${opt('run_hours', s.runHours)}${opt('door_cycles', s.doorCycles, 'i')},id="${escStr(s.id)}",sender="${escStr(sender)}"`;
  return { series, fields, key: code };
}

/** Builds the line-protocol point (without its timestamp) for one validated object. `code` is the equipment named by the topic, if any. */
export function toPoint(item: ChannelItem, code: string | null, ctx: PointContext, sender: string): PointParts {
  if (item.channel === 'status') return statusPoint(item.record, code!, ctx, sender);
  return buildPoint(item, code, ctx, sender);
}

/** toPoint for any channel, field by field (exported for the test that holds the status template to it). */
export function buildPoint(item: ChannelItem, code: string | null, ctx: PointContext, sender: string): PointParts {
  const p = new Line(MEASUREMENTS[item.channel]);
  let key = code ?? '';
  switch (item.channel) {
    case 'status': {
      const s = item.record;
      p.tag('district', ctx.district).tag('elevator', code!);
      p.str('service_mode', s.serviceMode).str('car_status', s.carStatus).str('direction', s.direction).int('floor', s.floor)
        .bool('door_zone', s.doorZone).str('door_status', s.doorStatus).bool('passengers', s.passengers)
        .float('speed', s.speed).float('load', s.load).int('run_count', s.runCount).float('run_hours', s.runHours).int('door_cycles', s.doorCycles);
      break;
    }
    case 'event': {
      const e = item.record;
      p.tag('district', ctx.district).tag('elevator', code!).tag('state', e.state).tag('type', e.type).tag('unit', ctx.unit);
      p.int('floor', e.floor).str('detail', e.detail);
      break;
    }
    case 'reading': {
      const g = item.record;
      p.tag('detector', g.detector).tag('district', ctx.district).tag('site', code!);
      p.float('lel', g.lel).str('gas', g.gas).float('pressure_mpa', g.pressureMPa).float('temperature_c', g.temperatureC);
      break;
    }
    case 'filling': {
      const f = item.record;
      const day = cstDate(f.ts);
      p.tag('district', ctx.district).tag('medium', f.medium).tag('site', code!);
      p.str('cylinder', f.cylinder).str('manufactured', f.manufactured).str('next_inspection_due', f.nextInspectionDue)
        .bool('inspection_overdue', f.nextInspectionDue < day).bool('scrap_overdue', f.scrapDue !== undefined && f.scrapDue < day)
        .str('scrap_due', f.scrapDue).float('net_kg', f.netKg).str('station', f.station).str('operator', f.operator);
      break;
    }
    case 'maintenance': {
      const m = item.record;
      key = m.elevator;
      p.tag('district', ctx.district).tag('elevator', m.elevator).tag('kind', m.kind).tag('routine', ROUTINE_MAINTENANCE.has(m.kind) ? 'true' : 'false').tag('unit', m.unit);
      p.str('technician', m.technician);
      break;
    }
    case 'inspection': {
      const i = item.record;
      key = i.elevator;
      p.tag('district', ctx.district).tag('elevator', i.elevator).tag('institution', i.institution).tag('kind', i.kind).tag('result', i.result).tag('unit', i.unit ?? ctx.unit);
      p.int('attempt', i.attempt).str('unit_source', i.unit ? 'record' : 'registry').str('next_due', i.nextDue);
      break;
    }
    case 'complaint': {
      const c = item.record;
      key = c.unit ?? ctx.unit ?? '';
      p.tag('district', ctx.district).tag('source', c.source).tag('unit', c.unit ?? ctx.unit);
      p.str('category', c.category).str('unit_source', c.unit ? 'record' : 'registry').str('elevator', c.elevator);
      break;
    }
    case 'rescue': {
      const s = item.record;
      key = s.elevator;
      p.tag('district', ctx.district).tag('elevator', s.elevator).tag('stage', s.stage).tag('unit', s.unit);
      break;
    }
    case 'hazard': {
      // One series per equipment and state; the category and text are fields (free text, not tags).
      const h = item.record;
      key = h.elevator ?? h.site!;
      p.tag('district', ctx.district).tag('elevator', h.elevator).tag('level', h.level).tag('site', h.site).tag('source', h.source).tag('state', h.state).tag('unit', ctx.unit);
      p.str('category', h.category).str('description', h.description).str('hazard_id', h.hazardId).str('evidence', h.evidence ? JSON.stringify(h.evidence) : undefined);
      break;
    }
  }
  p.str('id', item.record.id).str('sender', sender);
  return p.parts(key);
}
