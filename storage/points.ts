// Validated messages → InfluxDB points (documented in README, "Storage").
//
// Point identity in InfluxDB is measurement + tag set + timestamp. The
// timestamp is the event time in ms plus a sub-millisecond offset derived
// from the message id (0–999,999 ns), so a re-sent message (same id, same ts)
// lands on the same point and changes nothing, a spool replay after a crash is
// idempotent, and two different messages in the same millisecond still both
// count. Tags are only low-cardinality or per-equipment keys; ids, cylinder
// codes and free text are fields.
import type { Channel, ChannelRecord } from '../domain/channels.js';
import { ROUTINE_MAINTENANCE } from '../domain/messages.js';
import { Point } from './influx.js';

export const MEASUREMENTS: Record<Channel, string> = {
  status: 'elevator_status',
  event: 'elevator_event',
  reading: 'gas_reading',
  filling: 'cylinder_filling',
  maintenance: 'maintenance',
  inspection: 'inspection',
  complaint: 'complaint',
  rescue: 'rescue',
};

/** What the registry knows of the equipment, used for tags and defaults. */
export interface PointContext {
  /** district of the elevator or gas site named by the topic */
  district?: string | undefined;
  /** maintenance unit of the elevator in the registry */
  unit?: string | undefined;
}

/** FNV-1a of the id, reduced to 0–999,999: the sub-millisecond part of the timestamp. */
export function idOffsetNs(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % 1_000_000;
}

export function timestampNs(ts: number, id: string): string {
  return `${ts}${String(idOffsetNs(id)).padStart(6, '0')}`;
}

function opt(p: Point, name: string, v: number | undefined, kind: 'float' | 'int' = 'float'): void {
  if (v === undefined) return;
  if (kind === 'int') p.intField(name, v);
  else p.floatField(name, v);
}

function optStr(p: Point, name: string, v: string | undefined): void {
  if (v !== undefined) p.stringField(name, v);
}

function tagIf(p: Point, name: string, v: string | undefined): void {
  if (v) p.tag(name, v);
}

/** Builds the point for one validated object. `code` is the equipment named by the topic, if any. */
export function toPoint<C extends Channel>(channel: C, r: ChannelRecord[C], code: string | null, ctx: PointContext, sender: string): Point {
  const p = new Point(MEASUREMENTS[channel]);
  switch (channel) {
    case 'status': {
      const s = r as ChannelRecord['status'];
      p.tag('elevator', code!);
      tagIf(p, 'district', ctx.district);
      p.stringField('service_mode', s.serviceMode)
        .stringField('car_status', s.carStatus)
        .stringField('direction', s.direction)
        .intField('floor', s.floor)
        .booleanField('door_zone', s.doorZone)
        .stringField('door_status', s.doorStatus)
        .booleanField('passengers', s.passengers);
      opt(p, 'speed', s.speed);
      opt(p, 'load', s.load);
      opt(p, 'run_count', s.runCount, 'int');
      opt(p, 'run_hours', s.runHours);
      opt(p, 'door_cycles', s.doorCycles, 'int');
      break;
    }
    case 'event': {
      const e = r as ChannelRecord['event'];
      p.tag('elevator', code!).tag('type', e.type).tag('state', e.state);
      tagIf(p, 'district', ctx.district);
      tagIf(p, 'unit', ctx.unit);
      opt(p, 'floor', e.floor, 'int');
      optStr(p, 'detail', e.detail);
      break;
    }
    case 'reading': {
      const g = r as ChannelRecord['reading'];
      p.tag('site', code!).tag('detector', g.detector);
      tagIf(p, 'district', ctx.district);
      p.floatField('lel', g.lel);
      optStr(p, 'gas', g.gas);
      opt(p, 'pressure_mpa', g.pressureMPa);
      opt(p, 'temperature_c', g.temperatureC);
      break;
    }
    case 'filling': {
      const f = r as ChannelRecord['filling'];
      p.tag('site', code!).tag('medium', f.medium);
      tagIf(p, 'district', ctx.district);
      const day = new Date(f.ts + 8 * 3600_000).toISOString().slice(0, 10); // Asia/Shanghai calendar day
      const overdue = f.nextInspectionDue < day;
      const scrapped = f.scrapDue !== undefined && f.scrapDue < day;
      p.stringField('cylinder', f.cylinder)
        .stringField('manufactured', f.manufactured)
        .stringField('next_inspection_due', f.nextInspectionDue)
        .booleanField('inspection_overdue', overdue)
        .booleanField('scrap_overdue', scrapped);
      optStr(p, 'scrap_due', f.scrapDue);
      opt(p, 'net_kg', f.netKg);
      optStr(p, 'station', f.station);
      optStr(p, 'operator', f.operator);
      break;
    }
    case 'maintenance': {
      const m = r as ChannelRecord['maintenance'];
      p.tag('elevator', m.elevator).tag('unit', m.unit).tag('kind', m.kind).tag('routine', ROUTINE_MAINTENANCE.has(m.kind) ? 'true' : 'false');
      tagIf(p, 'district', ctx.district);
      optStr(p, 'technician', m.technician);
      break;
    }
    case 'inspection': {
      const i = r as ChannelRecord['inspection'];
      const unit = i.unit ?? ctx.unit;
      p.tag('elevator', i.elevator).tag('kind', i.kind).tag('result', i.result).tag('institution', i.institution);
      tagIf(p, 'unit', unit);
      tagIf(p, 'district', ctx.district);
      p.intField('attempt', i.attempt).stringField('unit_source', i.unit ? 'record' : 'registry');
      optStr(p, 'next_due', i.nextDue);
      break;
    }
    case 'complaint': {
      const c = r as ChannelRecord['complaint'];
      const unit = c.unit ?? ctx.unit;
      p.tag('source', c.source);
      tagIf(p, 'unit', unit);
      tagIf(p, 'district', ctx.district);
      p.stringField('category', c.category).stringField('unit_source', c.unit ? 'record' : 'registry');
      optStr(p, 'elevator', c.elevator);
      break;
    }
    case 'rescue': {
      const s = r as ChannelRecord['rescue'];
      p.tag('elevator', s.elevator).tag('unit', s.unit).tag('stage', s.stage);
      tagIf(p, 'district', ctx.district);
      break;
    }
  }
  p.stringField('id', r.id).stringField('sender', sender);
  p.timestamp(timestampNs(r.ts, r.id));
  return p;
}
