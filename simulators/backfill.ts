// A year (by default) of partner records for a city, in event-time order:
// routine maintenance and repairs, periodic inspections, complaints and
// rescues. Deterministic for a seed: every elevator has its own PRNG streams,
// so its history does not depend on the rest of the city. Generated one day
// at a time, so memory stays proportional to the number of elevators.
//
// NDJSON file format (writeNdjson, `sim backfill --out`): one object per line,
// the record's own fields plus `topic`, the protocol v1 topic it belongs to:
//   {"topic":"se/v1/records/maintenance","id":"bf-m-E00001-…","ts":1700000000000,"elevator":"E00001",…}
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { topics, type RecordChannel } from '../domain/channels.js';
import type { ComplaintIn, InspectionIn, MaintenanceIn, RescueIn } from '../domain/messages.js';
import {
  complaintRecord, complaintsPerElevatorYear, entrapmentRescue, inspectionAttempts, inspectionRecord, maintenanceGapDays,
  maintenanceKind, maintenanceRecord, messageId, workTime,
} from './behaviour.js';
import type { City, SimElevator, SimUnit } from './city.js';
import { Rng } from './random.js';
import { addDays, cstDate, cstMidnight, DAY_MS, HOUR_MS } from '../domain/time.js';

export type RecordPayload = MaintenanceIn | InspectionIn | ComplaintIn | RescueIn;
export interface BackfillRecord {
  topic: string;
  payload: RecordPayload;
}

export interface BackfillOptions {
  seed: number;
  /** epoch ms; default: `to` minus 365 days */
  from?: number;
  /** epoch ms, exclusive; default: now */
  to?: number;
}

const REPAIRS_PER_YEAR = 1.5;
const ENTRAPMENTS_PER_YEAR = 0.3;

interface Stream { rng: Rng; next: number; seq: number }
interface Cursor {
  e: SimElevator;
  unit: SimUnit;
  maintenance: Stream & { visit: number };
  repair: Stream;
  complaint: Stream;
  entrapment: Stream;
  inspections: BackfillRecord[];
}

const rec = (channel: RecordChannel, payload: RecordPayload): BackfillRecord => ({ topic: topics.record(channel), payload });
const stream = (rng: Rng, next: number): Stream => ({ rng, next, seq: 0 });

/** Periodic inspections so that the last passing one sets the registry's next-due date. */
function inspections(city: City, e: SimElevator, unit: SimUnit, rng: Rng, from: number): BackfillRecord[] {
  const out: BackfillRecord[] = [];
  for (let k = 3; k >= 1; k--) {
    const passDate = addDays(e.nextInspectionDue, -365 * k);
    if (cstMidnight(passDate) < from - 120 * DAY_MS) continue;
    const attempts = inspectionAttempts(unit.passRate, rng);
    // Dates backwards from the passing attempt.
    const dates: string[] = [passDate];
    for (let i = attempts.length - 1; i > 0; i--) dates.unshift(addDays(dates[0]!, -attempts[i]!.gapDays));
    attempts.forEach((a, i) => {
      const ts = workTime(cstMidnight(dates[i]!), rng, 9, 17);
      const nextDue = a.result === 'pass' ? addDays(passDate, 365) : undefined;
      out.push(rec('inspection', inspectionRecord(messageId('bf-i', e.code, ts, a.attempt), ts, e, city.institute, a, nextDue)));
    });
  }
  return out;
}

function cursor(city: City, e: SimElevator, unit: SimUnit, root: Rng, from: number): Cursor {
  const r = root.fork(e.code);
  const perDay = (perYear: number) => DAY_MS * 365 / Math.max(perYear, 1e-9);
  const m = r.fork('maintenance');
  const rp = r.fork('repair');
  const c = r.fork('complaint');
  const x = r.fork('entrapment');
  return {
    e, unit,
    maintenance: { ...stream(m, cstMidnight(cstDate(from)) + m.int(0, 14) * DAY_MS), visit: m.int(1, 24) },
    repair: stream(rp, from + rp.exp(perDay(REPAIRS_PER_YEAR))),
    complaint: stream(c, from + c.exp(perDay(complaintsPerElevatorYear(unit)))),
    entrapment: stream(x, from + x.exp(perDay(ENTRAPMENTS_PER_YEAR * (1 + unit.lateness)))),
    inspections: inspections(city, e, unit, r.fork('inspection'), from),
  };
}

/** All records of one elevator that start before `end`; streams advance past them. */
function take(c: Cursor, end: number, out: BackfillRecord[]): void {
  const { e, unit } = c;
  const m = c.maintenance;
  while (m.next < end) {
    const ts = workTime(m.next, m.rng);
    out.push(rec('maintenance', maintenanceRecord(messageId('bf-m', e.code, ts, ++m.seq), ts, e.code, unit.id, maintenanceKind(m.visit), m.rng)));
    m.visit = (m.visit % 24) + 1;
    m.next += maintenanceGapDays(unit, m.rng) * DAY_MS;
  }
  const rp = c.repair;
  while (rp.next < end) {
    const ts = workTime(cstMidnight(cstDate(rp.next)), rp.rng, 8, 20);
    out.push(rec('maintenance', maintenanceRecord(messageId('bf-r', e.code, ts, ++rp.seq), ts, e.code, unit.id, 'repair', rp.rng)));
    rp.next += rp.rng.exp(DAY_MS * 365 / REPAIRS_PER_YEAR);
  }
  const cp = c.complaint;
  while (cp.next < end) {
    const ts = cstMidnight(cstDate(cp.next)) + Math.floor(cp.rng.range(8, 22) * HOUR_MS);
    out.push(rec('complaint', complaintRecord(messageId('bf-c', e.code, ts, ++cp.seq), ts, e, cp.rng)));
    cp.next += cp.rng.exp(DAY_MS * 365 / Math.max(complaintsPerElevatorYear(unit), 1e-9));
  }
  const x = c.entrapment;
  while (x.next < end) {
    const start = Math.floor(x.next / 1000) * 1000;
    const rescues = entrapmentRescue(e.code, unit.id, start, x.rng, (ts) => messageId('bf-x', e.code, ts, ++x.seq));
    for (const r of rescues) out.push(rec('rescue', r));
    x.next = (rescues[rescues.length - 1]!.ts as number) + x.rng.exp(DAY_MS * 365 / (ENTRAPMENTS_PER_YEAR * (1 + unit.lateness)));
  }
  while (c.inspections.length && (c.inspections[0]!.payload.ts as number) < end) out.push(c.inspections.shift()!);
}

/** Partner records of `city` between `from` and `to` (event time), in time order. */
export function* backfillRecords(city: City, opts: BackfillOptions): Generator<BackfillRecord> {
  const to = opts.to ?? Date.now();
  const from = opts.from ?? to - 365 * DAY_MS;
  const root = new Rng(opts.seed).fork('backfill');
  const units = new Map(city.units.map((u) => [u.id, u]));
  const cursors = city.elevators.map((e) => cursor(city, e, units.get(e.maintenanceUnit)!, root, from));
  let carry: BackfillRecord[] = [];
  for (let dayStart = cstMidnight(cstDate(from)); dayStart < to; dayStart += DAY_MS) {
    const end = Math.min(dayStart + DAY_MS, to);
    const batch = carry;
    for (const c of cursors) take(c, end, batch);
    const ts = (r: BackfillRecord) => r.payload.ts as number;
    // Rescue progress can run past midnight: keep it for the next day.
    carry = batch.filter((r) => ts(r) >= end);
    const due = batch.filter((r) => ts(r) < end && ts(r) >= from);
    due.sort((a, b) => ts(a) - ts(b) || (a.payload.id < b.payload.id ? -1 : 1));
    yield* due;
  }
}

/** Writes records as NDJSON (format at the top of this file); returns how many. */
export async function writeNdjson(path: string, records: Iterable<BackfillRecord> | AsyncIterable<BackfillRecord>): Promise<number> {
  const out = createWriteStream(path, { encoding: 'utf8' });
  let n = 0;
  for await (const r of records) {
    if (!out.write(`${JSON.stringify({ topic: r.topic, ...r.payload })}\n`)) await once(out, 'drain');
    n++;
  }
  out.end();
  await once(out, 'finish');
  return n;
}

export interface PostProgress {
  objects: number;
  accepted: number;
  rejected: number;
  requests: number;
  /** event time of the last record sent */
  lastTs: number;
  /** first few rejections, for the operator */
  rejections: { topic: string; reason: string; message: string }[];
}

/**
 * Appends records through the HTTP ingest API (`POST /api/v1/ingest/<topic>`,
 * JSON array bodies): batches of up to `batch` objects of one topic, kept
 * under the 64 KiB payload limit of the protocol.
 */
export async function postRecords(
  httpUrl: string, token: string, records: Iterable<BackfillRecord> | AsyncIterable<BackfillRecord>,
  opts: { batch?: number; maxBytes?: number; onProgress?: (p: PostProgress) => void } = {},
): Promise<PostProgress> {
  const batch = Math.min(opts.batch ?? 500, 500);
  const maxBytes = opts.maxBytes ?? 60_000;
  const base = httpUrl.replace(/\/$/, '');
  const p: PostProgress = { objects: 0, accepted: 0, rejected: 0, requests: 0, lastTs: 0, rejections: [] };
  const buffers = new Map<string, { parts: string[]; bytes: number; firstTs: number; lastTs: number }>();

  const flush = async (topic: string) => {
    const b = buffers.get(topic);
    if (!b || b.parts.length === 0) return;
    buffers.delete(topic);
    const body = `[${b.parts.join(',')}]`;
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${base}/api/v1/ingest/${topic}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(120_000) });
      const text = await res.text();
      if (res.status === 503 && attempt < 20) {
        await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get('retry-after') ?? 2)));
        continue;
      }
      if (res.status !== 202) throw new Error(`POST /api/v1/ingest/${topic}: HTTP ${res.status}: ${text.slice(0, 500)}`);
      const r = JSON.parse(text) as { accepted: number; rejected: { reason: string; message: string }[] };
      p.requests++;
      p.objects += b.parts.length;
      p.accepted += r.accepted;
      p.rejected += r.rejected.length;
      p.lastTs = Math.max(p.lastTs, b.lastTs);
      for (const x of r.rejected) if (p.rejections.length < 10) p.rejections.push({ topic, reason: x.reason, message: x.message });
      opts.onProgress?.(p);
      return;
    }
  };

  for await (const r of records) {
    const json = JSON.stringify(r.payload);
    const bytes = Buffer.byteLength(json) + 1;
    let b = buffers.get(r.topic);
    if (b && b.bytes + bytes > maxBytes) await flush(r.topic);
    b = buffers.get(r.topic);
    if (!b) buffers.set(r.topic, (b = { parts: [], bytes: 2, firstTs: r.payload.ts as number, lastTs: 0 }));
    b.parts.push(json);
    b.bytes += bytes;
    b.lastTs = r.payload.ts as number;
    if (b.parts.length >= batch) await flush(r.topic);
    // Keep arrival roughly in event time across topics: rare channels are not held back for long.
    for (const [topic, o] of buffers) if (b.lastTs - o.firstTs > 7 * DAY_MS) await flush(topic);
  }
  for (const topic of [...buffers.keys()]) await flush(topic);
  return p;
}
