// A year (by default) of partner records for a city, in event-time order:
// routine maintenance and repairs, periodic inspections (now and then late,
// so the elevator is overdue for a while), complaints, and the gateways'
// fault events and entrapments with the rescue records that follow them.
// Deterministic for a seed: every elevator has its own PRNG streams,
// so its history does not depend on the rest of the city. Generated one day
// at a time, so memory stays proportional to the number of elevators.
//
// NDJSON file format (writeNdjson, `sim backfill --out`): one object per line,
// the record's own fields plus `topic`, the protocol v1 topic it belongs to:
//   {"topic":"se/v1/records/maintenance","id":"bf-m-E00001-…","ts":1700000000000,"elevator":"E00001",…}
// (events go to se/v1/elevator/<code>/event). An entrapment's rescue timings
// are counted only when the service gets its raised event before the rescue
// records and the gateway's clear after them: postRecords keeps that order
// (BackfillRecord.sendNow / after); `npm run import` batches per topic and
// does not, so an imported file's entrapments lack arrival times.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { topics, type RecordChannel } from '../domain/channels.js';
import type { ComplaintIn, EventIn, InspectionIn, MaintenanceIn, ReadingIn, RescueIn, StatusIn } from '../domain/messages.js';
import {
  complaintRecord, complaintsPerElevatorYear, entrapmentRescue, faultEpisode, inspectionAttempts, inspectionRecord, maintenanceGapDays,
  maintenanceKind, maintenanceRecord, messageId, workTime,
} from './behaviour.js';
import type { City, SimElevator, SimUnit } from './city.js';
import { Rng } from './random.js';
import { addDays, cstDate, cstMidnight, DAY_MS, HOUR_MS } from '../domain/time.js';

/** Partner records, and gateway messages (events; status and readings for the recent history, history.ts). */
export type RecordPayload = MaintenanceIn | InspectionIn | ComplaintIn | RescueIn | EventIn | StatusIn | ReadingIn;
export interface BackfillRecord {
  topic: string;
  payload: RecordPayload;
  /** post this record's topic at once: records of other topics that follow depend on it (an entrapment before its rescue records) */
  sendNow?: boolean;
  /** post what is held for this topic first: this record depends on it (the gateway's clear after the rescue records) */
  after?: string;
}

export interface BackfillOptions {
  seed: number;
  /** epoch ms; default: `to` minus 365 days */
  from?: number;
  /** epoch ms, exclusive; default: now */
  to?: number;
  /**
   * epoch ms before `from`: periodic inspections from then on too, so the
   * passes that set the due dates falling in [from, to) are there and an
   * overdue inspection in the period can be told (default: `from`)
   */
  inspectionsFrom?: number;
}

const REPAIRS_PER_YEAR = 1.5;
/**
 * Per elevator and year, times (1 + the unit's lateness). Entrapments: Jiangsu's
 * 96333 counted about 5 per 100 elevators a year (2020); an older city's
 * fleet, more. Faults: about 4 % of them dangerous (FAULT_WEIGHTS: overspeed,
 * overtravel, unintended movement, doors open while running).
 */
const ENTRAPMENTS_PER_YEAR = 0.08;
const FAULTS_PER_YEAR = 2;
/** Chance that a periodic inspection comes late (the unit applied late), plus this times the unit's lateness. */
const LATE_INSPECTION = { base: 0.02, perLateness: 0.1, maxDays: 60 };

interface Stream { rng: Rng; next: number; seq: number }
interface Cursor {
  e: SimElevator;
  unit: SimUnit;
  maintenance: Stream & { visit: number };
  repair: Stream;
  complaint: Stream;
  entrapment: Stream;
  fault: Stream;
  inspections: BackfillRecord[];
}

const rec = (channel: RecordChannel, payload: RecordPayload): BackfillRecord => ({ topic: topics.record(channel), payload });
const RESCUE_TOPIC = topics.record('rescue');
const stream = (rng: Rng, next: number): Stream => ({ rng, next, seq: 0 });

/**
 * Periodic inspections so that the last passing one sets the registry's
 * next-due date. Now and then a cycle comes late: the elevator is overdue
 * from its due date until it passes (the next due date keeps the
 * anniversary). Only where the late pass is already history, so the
 * elevators the city says are due or overdue today stay so.
 */
function inspections(city: City, e: SimElevator, unit: SimUnit, rng: Rng, from: number): BackfillRecord[] {
  const out: BackfillRecord[] = [];
  const lateChance = LATE_INSPECTION.base + LATE_INSPECTION.perLateness * unit.lateness;
  for (let k = 3; k >= 1; k--) {
    // Every cycle draws from its own stream, emitted or not: an earlier `from` adds cycles and changes none.
    const c = rng.fork(k);
    const dueDate = addDays(e.nextInspectionDue, -365 * k);
    if (cstMidnight(dueDate) < from - 120 * DAY_MS) continue;
    const late = c.chance(lateChance) ? c.int(3, LATE_INSPECTION.maxDays) : 0;
    const passDate = addDays(dueDate, late && addDays(dueDate, late) < city.today ? late : 0);
    const attempts = inspectionAttempts(unit.passRate, c);
    // Dates backwards from the passing attempt.
    const dates: string[] = [passDate];
    for (let i = attempts.length - 1; i > 0; i--) dates.unshift(addDays(dates[0]!, -attempts[i]!.gapDays));
    attempts.forEach((a, i) => {
      const ts = workTime(cstMidnight(dates[i]!), c, 9, 17);
      const nextDue = a.result === 'pass' ? addDays(dueDate, 365) : undefined;
      out.push(rec('inspection', inspectionRecord(messageId('bf-i', e.code, ts, a.attempt), ts, e, city.institute, a, nextDue)));
    });
  }
  return out;
}

function cursor(city: City, e: SimElevator, unit: SimUnit, root: Rng, from: number, inspectionsFrom: number): Cursor {
  const r = root.fork(e.code);
  const perDay = (perYear: number) => DAY_MS * 365 / Math.max(perYear, 1e-9);
  const m = r.fork('maintenance');
  const rp = r.fork('repair');
  const c = r.fork('complaint');
  const x = r.fork('entrapment');
  const f = r.fork('fault');
  return {
    e, unit,
    maintenance: { ...stream(m, cstMidnight(cstDate(from)) + m.int(0, 14) * DAY_MS), visit: m.int(1, 24) },
    repair: stream(rp, from + rp.exp(perDay(REPAIRS_PER_YEAR))),
    complaint: stream(c, from + c.exp(perDay(complaintsPerElevatorYear(unit)))),
    entrapment: stream(x, from + x.exp(perDay(ENTRAPMENTS_PER_YEAR * (1 + unit.lateness)))),
    fault: stream(f, from + f.exp(perDay(FAULTS_PER_YEAR * (1 + unit.lateness)))),
    inspections: inspections(city, e, unit, r.fork('inspection'), inspectionsFrom),
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
  const eventTopic = topics.event(e.code);
  const x = c.entrapment;
  while (x.next < end) {
    // The gateway raises the entrapment, the unit's rescue records follow, then the gateway clears it.
    const start = Math.floor(x.next / 1000) * 1000;
    const floor = x.rng.int(1, e.floors);
    out.push({ topic: eventTopic, payload: { id: messageId('bf-e', e.code, start, ++x.seq), ts: start, type: 'entrapment', state: 'raised', floor }, sendNow: true });
    const rescues = entrapmentRescue(e.code, unit.id, start, x.rng, (ts) => messageId('bf-x', e.code, ts, ++x.seq));
    for (const r of rescues) out.push(rec('rescue', r));
    const cleared = (rescues[rescues.length - 1]!.ts as number) + x.rng.int(30, 120) * 1000;
    out.push({ topic: eventTopic, payload: { id: messageId('bf-e', e.code, cleared, ++x.seq), ts: cleared, type: 'entrapment', state: 'cleared', floor }, after: RESCUE_TOPIC });
    x.next = cleared + x.rng.exp(DAY_MS * 365 / (ENTRAPMENTS_PER_YEAR * (1 + unit.lateness)));
  }
  const f = c.fault;
  while (f.next < end) {
    const ep = faultEpisode(f.rng.int(1, e.floors), Math.floor(f.next / 1000) * 1000, f.rng, (ts) => messageId('bf-f', e.code, ts, ++f.seq));
    out.push({ topic: eventTopic, payload: ep.raised }, { topic: eventTopic, payload: ep.cleared });
    f.next = (ep.cleared.ts as number) + f.rng.exp(DAY_MS * 365 / (FAULTS_PER_YEAR * (1 + unit.lateness)));
  }
  while (c.inspections.length && (c.inspections[0]!.payload.ts as number) < end) out.push(c.inspections.shift()!);
}

/** Partner records of `city` between `from` and `to` (event time), in time order. */
export function* backfillRecords(city: City, opts: BackfillOptions): Generator<BackfillRecord> {
  const to = opts.to ?? Date.now();
  const from = opts.from ?? to - 365 * DAY_MS;
  const root = new Rng(opts.seed).fork('backfill');
  const units = new Map(city.units.map((u) => [u.id, u]));
  const inspectionsFrom = Math.min(opts.inspectionsFrom ?? from, from);
  const cursors = city.elevators.map((e) => cursor(city, e, units.get(e.maintenanceUnit)!, root, from, inspectionsFrom));
  const inspectionTopic = topics.record('inspection');
  let carry: BackfillRecord[] = [];
  for (let dayStart = cstMidnight(cstDate(from)); dayStart < to; dayStart += DAY_MS) {
    const end = Math.min(dayStart + DAY_MS, to);
    const batch = carry;
    for (const c of cursors) take(c, end, batch);
    const ts = (r: BackfillRecord) => r.payload.ts as number;
    // Rescue progress can run past midnight: keep it for the next day.
    carry = batch.filter((r) => ts(r) >= end);
    const due = batch.filter((r) => ts(r) < end && (ts(r) >= from || (r.topic === inspectionTopic && ts(r) >= inspectionsFrom)));
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

const RECORD_TOPICS = 'se/v1/records/';

/**
 * Appends records through the HTTP ingest API (`POST /api/v1/ingest/<topic>`,
 * JSON array bodies): batches of up to `batch` objects of one topic, kept
 * under the 64 KiB payload limit of the protocol, up to `concurrency`
 * requests at once (the spool commits them together) and a topic's batches
 * in order. Record channels are held at most about a week of event time;
 * the gateways' topics (one per piece of equipment, a few events a year
 * each) longer, so they go in few requests, with everything held kept under
 * `holdBytes`. `sendNow` and `after` order an entrapment against its rescue
 * records.
 */
export async function postRecords(
  httpUrl: string, token: string, records: Iterable<BackfillRecord> | AsyncIterable<BackfillRecord>,
  opts: { batch?: number; maxBytes?: number; holdBytes?: number; concurrency?: number; onProgress?: (p: PostProgress) => void } = {},
): Promise<PostProgress> {
  const batch = Math.min(opts.batch ?? 500, 500);
  const maxBytes = opts.maxBytes ?? 60_000;
  const holdBytes = opts.holdBytes ?? 8 * 1024 * 1024;
  const concurrency = Math.max(1, opts.concurrency ?? 16);
  const base = httpUrl.replace(/\/$/, '');
  const p: PostProgress = { objects: 0, accepted: 0, rejected: 0, requests: 0, lastTs: 0, rejections: [] };
  const buffers = new Map<string, { parts: string[]; bytes: number; firstTs: number; lastTs: number }>();
  /** the last request of each topic, so the next one of that topic waits for it */
  const pending = new Map<string, Promise<void>>();
  const inflight = new Set<Promise<void>>();
  let failure: Error | undefined;
  let held = 0;

  const post = async (topic: string, body: string, objects: number, lastTs: number) => {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(`${base}/api/v1/ingest/${topic}`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(60_000),
      });
      const text = await res.text();
      if (res.status === 503 && attempt < 20) {
        await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get('retry-after') ?? 2)));
        continue;
      }
      if (res.status !== 202) throw new Error(`POST /api/v1/ingest/${topic}: HTTP ${res.status}: ${text.slice(0, 500)}`);
      const r = JSON.parse(text) as { accepted: number; rejected: { reason: string; message: string }[] };
      p.requests++;
      p.objects += objects;
      p.accepted += r.accepted;
      p.rejected += r.rejected.length;
      p.lastTs = Math.max(p.lastTs, lastTs);
      for (const x of r.rejected) if (p.rejections.length < 10) p.rejections.push({ topic, reason: x.reason, message: x.message });
      opts.onProgress?.(p);
      return;
    }
  };

  /** Sends what is held for `topic`, waiting only while `concurrency` requests are in flight. */
  const send = async (topic: string): Promise<void> => {
    const b = buffers.get(topic);
    if (b && b.parts.length) {
      buffers.delete(topic);
      held -= b.bytes;
      const before = pending.get(topic);
      const sent = (async () => {
        await before;
        await post(topic, `[${b.parts.join(',')}]`, b.parts.length, b.lastTs);
      })();
      pending.set(topic, sent);
      const tracked: Promise<void> = sent.then(() => {
        if (pending.get(topic) === sent) pending.delete(topic);
      }, (e: Error) => void (failure ??= e)).finally(() => inflight.delete(tracked));
      inflight.add(tracked);
      while (inflight.size >= concurrency) await Promise.race(inflight);
    }
    if (failure) throw failure;
  };
  /** The same, and waits until that topic's requests so far are done (what follows depends on them). */
  const flush = async (topic: string): Promise<void> => {
    await send(topic);
    await pending.get(topic)?.catch(() => undefined);
    if (failure) throw failure;
  };

  let sweepAt = -Infinity;
  for await (const r of records) {
    if (r.after) await flush(r.after);
    const json = JSON.stringify(r.payload);
    const bytes = Buffer.byteLength(json) + 1;
    let b = buffers.get(r.topic);
    if (b && b.bytes + bytes > maxBytes) await send(r.topic);
    b = buffers.get(r.topic);
    if (!b) {
      buffers.set(r.topic, (b = { parts: [], bytes: 2, firstTs: r.payload.ts as number, lastTs: 0 }));
      held += 2;
    }
    b.parts.push(json);
    b.bytes += bytes;
    held += bytes;
    const ts = (b.lastTs = r.payload.ts as number);
    if (r.sendNow) await flush(r.topic);
    else if (b.parts.length >= batch) await send(r.topic);
    // Keep arrival roughly in event time across record channels: rare ones are not held back for long (checked hourly, in event time).
    if (ts >= sweepAt) {
      sweepAt = ts + HOUR_MS;
      for (const [topic, o] of buffers) if (topic.startsWith(RECORD_TOPICS) && ts - o.firstTs > 7 * DAY_MS) await send(topic);
    }
    if (held > holdBytes) {
      for (const [topic] of [...buffers].sort(([, x], [, y]) => x.firstTs - y.firstTs)) {
        await send(topic);
        if (held <= holdBytes / 2) break;
      }
    }
  }
  for (const topic of [...buffers.keys()]) await send(topic);
  await Promise.all(inflight);
  if (failure) throw failure;
  return p;
}
