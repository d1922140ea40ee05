// The ingest pipeline, in two stages over the spool:
//
//   accept: spool → decode → dedup → rules (listeners) and dead letters, in one
//           SQLite transaction that also records how far it got;
//   store:  the same batches → InfluxDB → spool checkpoint.
//
// Rules do not wait for InfluxDB: an entrapment raises its alert as soon as
// the message is durable in the spool, even while InfluxDB is slow or down
// (then the store stage retries with backoff and the spool grows). Each
// message is accepted exactly once: the accept position is committed with the
// rules' effects, and messages before it that are read again after a crash are
// stored without running the rules again. Decoded batches wait in memory for
// the store stage, as line protocol, up to INGEST_QUEUE_BYTES; beyond that
// only their spool range is kept and they are decoded again when their turn
// comes, so memory stays bounded however long InfluxDB is away.
//
// Both stages work in slices and yield to the event loop between them, so a
// large backlog (a long outage, a restart with a full spool) never holds up
// the broker's PUBACKs or the HTTP API.
import type { Db } from '../storage/db.js';
import { migrate } from '../storage/migrations.js';
import type { Logger } from 'pino';
import { CHANNELS, type Channel } from '../domain/channels.js';
import type { Registry } from '../registry/registry.js';
import type { Metrics } from '../common/metrics.js';
import { InfluxError, type InfluxStore } from '../storage/influx.js';
import { lineAt, toPoint } from '../storage/points.js';
import { comparePositions, HTTP_TRANSPORT, type SpoolBatch, type SpoolEntry, type SpoolPosition } from '../storage/spool.js';
import { decode, excerpt, type Accepted, type Reject } from './decode.js';
import type { DeadLetter, DeadLetters } from './dead-letters.js';
import { DEDUP_CHANNELS, Dedup } from './dedup.js';
import { PointSlots, type Reassigned } from './point-slots.js';
import { Listeners } from '../domain/listeners.js';
import { LostClaimError } from '../storage/claims.js';

/**
 * The durable log the pipeline reads: the file spool (storage/spool.ts) in one process; in a cluster, one
 * partition of a replicated stream (storage/jetstream-partition.ts). Positions order the messages; a range
 * is committed once it is stored. Reads may be synchronous (the spool's files) or asynchronous (a network log).
 */
export interface IngestLog {
  onAppend(fn: () => void): () => void;
  read(maxBytes: number): SpoolBatch | Promise<SpoolBatch>;
  reread(range: Pick<SpoolBatch, 'start' | 'end' | 'bytes'>): SpoolBatch | Promise<SpoolBatch>;
  commit(range: SpoolBatch): void;
  readonly depthCount: number;
  readonly depthBytes: number;
  /** The file spool: appends waiting for their write and fsync start them now (before a slice of this pipeline's work). */
  flushNow?(): void;
}

/** A validated, de-duplicated object, durable in the spool (not necessarily in InfluxDB yet). */
export type IngestedItem<C extends Channel = Channel> = Accepted<C>;

export interface IngestDeps {
  spool: IngestLog;
  /** the accept position's name: one per log (a cluster node keeps one per partition it processes) */
  positionName?: string;
  /**
   * Runs first inside the accept transaction, before any rule: throwing rolls the batch back. A cluster
   * node checks there that it still holds the partition (a claim epoch), so a node that lost it commits nothing.
   */
  fence?: () => void;
  /**
   * The fence refused a commit (LostClaimError): the accept stage stops for good instead of retrying, since this
   * node no longer holds the partition; batches accepted before are still stored until stop(). Called once.
   */
  onFenced?: (err: LostClaimError) => void;
  store: InfluxStore;
  registry: Registry;
  db: Db;
  deadLetters: DeadLetters;
  dedup: Dedup;
  metrics: Metrics;
  log: Logger;
  /** most bytes read from the spool per accept slice (slices shrink to keep within SLICE_MS) */
  batchBytes?: number;
  /** bytes of decoded points held in memory for the store stage; beyond, batches are decoded again from the spool */
  queueBytesMax?: number;
  /** sub-millisecond offsets of the points (default: kept in `db`) */
  slots?: PointSlots;
}

export interface Ingest {
  /**
   * Listeners get every batch of new objects once, when they are accepted
   * (durable in the spool, validated, not duplicates), before they are stored
   * in InfluxDB. They run inside the accept transaction on the service's
   * database, so their writes commit together with the accept position; each
   * in its own savepoint, so a listener that fails loses only its own writes.
   */
  onAccepted(fn: (items: IngestedItem[]) => void): () => void;
  /** Starts accepting and storing; call once every listener is attached (else they miss what is replayed). */
  start(): void;
  /** Bytes of decoded points waiting in memory for InfluxDB (bounded by `queueBytesMax`). */
  readonly queuedBytes: number;
  /** Entries waiting for the store stage: kept batches and dropped spool ranges (adjacent ones merged). */
  readonly queueEntries: number;
  /** Resolves when everything spooled so far is accepted and stored (tests, shutdown). */
  drained(timeoutMs?: number): Promise<boolean>;
  readonly influxUp: boolean;
  stop(): Promise<void>;
}

interface Prepared {
  points: string[];
  /** new objects: go to the listeners */
  accepted: IngestedItem[];
  letters: DeadLetter[];
  seenKeys: [string, string][];
  /** points moved off their hash offset: kept with the accept position */
  reassigned: Reassigned[];
  /** per point: the spool entry and object (index in its message) it came from */
  origin: { entry: SpoolEntry; index: number; item: IngestedItem }[];
}

/** Per point, what the stored counters and the store-lag histogram need. */
interface PointMeta {
  /** index in CHANNELS */
  channels: Uint8Array;
  /** event time (ms) */
  ts: Float64Array;
}

/** A spool range waiting for the store stage. */
type Range = Pick<SpoolBatch, 'start' | 'end' | 'bytes'> & { count: number };

/**
 * An accepted batch waiting to be stored. Only what storing needs stays in
 * memory: the points as UTF-8 bytes, off the JavaScript heap (as strings they
 * survived young-generation collections while waiting for InfluxDB, and were
 * copied and promoted: most of the collector's work), and two numbers per
 * point; the messages, decoded objects and line strings die young.
 */
interface Queued {
  range: Range;
  /** the points, one line each, UTF-8; null: dropped to bound memory, decoded again from the spool */
  text: Buffer | null;
  meta: PointMeta | null;
  /** what this entry holds in memory (counted against queueBytesMax when text is kept) */
  bytes: number;
}

/** points per InfluxDB write when batches are merged */
const WRITE_POINTS_MAX = 10_000;
/** spool bytes decoded again for one write when the queue's head was dropped */
const REREAD_BYTES = 4 * 1024 * 1024;
/** Time one slice of work may hold the event loop: PUBACKs and the API wait at most about this long behind a backlog. */
const SLICE_MS = 10;
const SLICE_MIN_BYTES = 16 * 1024;
/** A dropped range grows up to this (decoding it again is one slice of the store stage). */
const DROPPED_RANGE_BYTES = 128 * 1024;
/** What a kept entry costs beside its lines (objects, typed arrays), counted against queueBytesMax. */
const ENTRY_BYTES = 400;
const CHANNEL_INDEX = new Map<Channel, number>(CHANNELS.map((c, i) => [c, i]));
const metaOf = (p: Prepared): PointMeta => ({
  channels: Uint8Array.from(p.origin, (o) => CHANNEL_INDEX.get(o.item.channel)!),
  ts: Float64Array.from(p.origin, (o) => o.item.record.ts),
});
function joinMeta(metas: PointMeta[], points: number): PointMeta {
  const meta: PointMeta = { channels: new Uint8Array(points), ts: new Float64Array(points) };
  let at = 0;
  for (const m of metas) {
    meta.channels.set(m.channels, at);
    meta.ts.set(m.ts, at);
    at += m.ts.length;
  }
  return meta;
}

const NEWLINE = Buffer.from('\n');
/** Batches' lines as one body, newline-separated (a batch without points adds nothing). */
function joinLines(texts: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const t of texts) {
    if (!t.length) continue;
    if (parts.length) parts.push(NEWLINE);
    parts.push(t);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/** Lets pending I/O (PUBLISH packets, spool syncs, HTTP) run between slices of work. */
const yieldToIo = () => new Promise<void>((r) => setImmediate(r));
const before = (e: SpoolPosition, pos: SpoolPosition) => comparePositions(e, pos) < 0;

export function createIngest(deps: IngestDeps): Ingest {
  const { spool, store, registry, db, deadLetters, dedup, metrics, log } = deps;
  const positionName = deps.positionName ?? 'accepted';
  const batchBytes = deps.batchBytes ?? 512 * 1024;
  const queueBytesMax = deps.queueBytesMax ?? 16 * 1024 * 1024;
  const slots = deps.slots ?? new PointSlots(db);
  const listeners = new Listeners<[IngestedItem[]]>('accepted-items', log);
  let stopping = false;
  let influxUp = true;

  migrate(db, 'ingest/pipeline', [
    { version: 1, name: 'accept position', up: 'CREATE TABLE IF NOT EXISTS ingest_position (name TEXT PRIMARY KEY, seg INTEGER NOT NULL, off INTEGER NOT NULL)' },
  ]);
  const savePosition = db.prepare(`INSERT INTO ingest_position (name, seg, off) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET seg = excluded.seg, off = excluded.off`);
  /** Everything before this spool position has been accepted (rules run, dead letters kept). */
  let acceptedUpTo: SpoolPosition = (db.prepare(`SELECT seg, off FROM ingest_position WHERE name = ?`).get(positionName) as SpoolPosition | undefined) ?? { seg: 0, off: 0 };

  const queue: Queued[] = [];
  /** entries at the queue's head taken by the write under way: never extended meanwhile */
  let inWrite = 0;
  /** bytes of the queue's kept points */
  let queuedBytes = 0;
  let wakeAccept: (() => void) | null = null;
  let wakeStore: (() => void) | null = null;
  const unsubscribe = spool.onAppend(() => wakeAccept?.());

  function letter(e: SpoolEntry, i: number | string, r: Reject): DeadLetter {
    metrics.deadLetters.inc({ reason: r.reason });
    return { ...r, key: `spool:${e.seg}:${e.off}:${i}`, at: e.receivedAt, topic: e.topic, sender: e.sender, transport: e.qos === HTTP_TRANSPORT ? 'http' : 'mqtt' };
  }

  /**
   * Decodes a batch. Messages before `acceptedUpTo` were accepted already (read
   * again after a crash or a dropped batch): they only yield points, and a key
   * first seen at this very position is not a duplicate of itself.
   */
  function prepare(batch: SpoolBatch): Prepared {
    const out: Prepared = { points: [], accepted: [], letters: [], seenKeys: [], reassigned: [], origin: [] };
    const batchKeys = new Set<string>();
    for (const e of batch.entries) {
      const again = before(e, acceptedUpTo);
      try {
        const d = decode(e.topic, e.payload, e.receivedAt, registry, e.sender);
        if (!again) for (let i = 0; i < d.rejects.length; i++) out.letters.push(letter(e, i, d.rejects[i]!));
        for (let i = 0; i < d.items.length; i++) {
          const item = d.items[i]!;
          const channel: Channel = item.channel;
          if (DEDUP_CHANNELS.has(channel)) {
            const key = Dedup.key(e.sender, channel, item.record.id);
            const pos = `${e.seg}:${e.off}:${i}`;
            const first = batchKeys.has(key) ? 'this batch' : dedup.firstSeen(key);
            if (first !== undefined && !(again && first === pos)) {
              if (!again) metrics.duplicates.inc({ channel });
              continue;
            }
            batchKeys.add(key);
            if (!again) out.seenKeys.push([key, pos]);
          }
          // A new point takes a free offset; one accepted before takes the offset it was given then.
          const point = toPoint(item, item.code, item.ctx, e.sender);
          const { ts, id } = item.record;
          out.points.push(lineAt(point, ts, again ? slots.recall(point.key, ts, id) : slots.assign(point.key, ts, id, out.reassigned)));
          out.origin.push({ entry: e, index: i, item });
          if (!again) out.accepted.push(item);
        }
      } catch (err) {
        // A message must never stop the pipeline: keep it as a dead letter.
        if (again) continue;
        log.error({ err, topic: e.topic, sender: e.sender }, 'could not decode a spooled message');
        out.letters.push(letter(e, 'x', { reason: 'internal_error', message: `could not be processed: ${(err as Error).message}`, excerpt: excerpt(e.payload) }));
      }
    }
    return out;
  }

  // Rules, dead letters, seen ids and the accept position commit together: a
  // crash before the commit accepts the batch again, after it never again.
  const acceptTx = db.transaction((p: Prepared, end: SpoolPosition) => {
    // First: a node that lost the partition runs no rule at all (rules keep state in memory too, which a
    // rollback would not undo); on PostgreSQL the claim row stays locked until the commit, so no takeover
    // can commit in between.
    deps.fence?.();
    deadLetters.add(p.letters);
    dedup.remember(p.seenKeys, Date.now());
    slots.remember(p.reassigned, Date.now());
    if (p.accepted.length) listeners.emit(p.accepted);
    if (comparePositions(end, acceptedUpTo) > 0) savePosition.run(positionName, end.seg, end.off);
  });

  /** A batch read but not accepted because the transaction failed: accepted again before anything newer. */
  let unaccepted: SpoolBatch | null = null;
  async function accept(maxBytes: number): Promise<boolean> {
    const batch = unaccepted ?? (await spool.read(maxBytes));
    if (batch.entries.length === 0) return false;
    unaccepted = batch;
    const p = prepare(batch);
    acceptTx(p, batch.end);
    unaccepted = null;
    if (comparePositions(batch.end, acceptedUpTo) > 0) acceptedUpTo = batch.end;
    const range: Range = { start: batch.start, end: batch.end, bytes: batch.bytes, count: batch.entries.length };
    // The joined string is garbage at once; the bytes are held, plus 9 bytes of metadata per point.
    const text = Buffer.from(p.points.join('\n'));
    const bytes = text.length + p.points.length * 9 + ENTRY_BYTES;
    const tail = queue[queue.length - 1];
    if (queuedBytes + bytes <= queueBytesMax) {
      queue.push({ range, text, meta: metaOf(p), bytes });
      queuedBytes += bytes;
      metrics.queueBytes.set(queuedBytes);
    } else if (tail && tail.text === null && queue.length > inWrite && tail.range.bytes + range.bytes <= DROPPED_RANGE_BYTES) {
      // Live traffic is accepted a few messages at a time: one entry per batch would grow the queue by
      // ~200 bytes a batch for as long as the outage lasts. Adjacent dropped ranges are one range.
      tail.range.end = range.end;
      tail.range.bytes += range.bytes;
      tail.range.count += range.count;
    } else {
      // A dropped batch keeps only its spool range, not its points: memory stays bounded however long InfluxDB is away.
      queue.push({ range, text: null, meta: null, bytes: 0 });
    }
    wakeStore?.();
    return true;
  }

  /**
   * Writes the points, retrying while InfluxDB is unavailable. When InfluxDB
   * refuses the data itself (400/422), the batch is split until the refused
   * points are found; their indexes are returned so they become dead letters
   * instead of being dropped.
   */
  async function write(points: string[] | Buffer, offset = 0): Promise<number[]> {
    let delay = 100;
    for (;;) {
      const t0 = performance.now();
      try {
        await store.write(points);
        metrics.writeLatency.observe((performance.now() - t0) / 1000);
        if (!influxUp) log.info('InfluxDB writes succeed again; replaying the spool');
        influxUp = true;
        metrics.influxUp.set(1);
        return [];
      } catch (e) {
        const err = e as InfluxError;
        if (err instanceof InfluxError && !err.retriable) {
          metrics.writeErrors.inc({ kind: 'rejected' });
          const lines = Buffer.isBuffer(points) ? points.toString().split('\n') : points;
          if (lines.length === 1) {
            log.error({ err: err.message, line: lines[0]!.slice(0, 300) }, 'InfluxDB refused a point; keeping it as a dead letter');
            return [offset];
          }
          const half = Math.ceil(lines.length / 2);
          return [...(await write(lines.slice(0, half), offset)), ...(await write(lines.slice(half), offset + half))];
        }
        metrics.writeErrors.inc({ kind: 'unavailable' });
        if (influxUp) log.warn({ err: err.message, status: err.status }, 'InfluxDB write failed; keeping messages in the spool and retrying (alerts go on)');
        influxUp = false;
        metrics.influxUp.set(0);
        if (stopping) throw err;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  /** `text`: the points, one line each, as InfluxDB takes them (never split into lines unless it refuses some) */
  interface Write { items: number; range: Range; text: Buffer; meta: PointMeta }

  /** The next write: the head of the queue, merged with the batches of the same kind behind it (fewer, larger writes). */
  async function nextWrite(): Promise<Write | null> {
    const head = queue[0];
    if (!head) return null;
    let n = 1;
    inWrite = 1;
    const range: Range = { ...head.range };
    const extend = (q: Queued) => {
      range.end = q.range.end;
      range.bytes += q.range.bytes;
      range.count += q.range.count;
      inWrite = ++n;
    };
    if (head.text === null) {
      // Dropped batches are contiguous in the spool: decode them again, a batch per slice, up to one write's worth.
      // (Only this loop takes batches off the queue's head, so the ones read stay where they are meanwhile.)
      const points: string[] = [];
      const metas: PointMeta[] = [];
      for (let q = head; ; ) {
        const p = prepare(await spool.reread(q.range));
        for (const line of p.points) points.push(line);
        metas.push(metaOf(p));
        const next = queue[n];
        if (!next || next.text !== null || range.bytes + next.range.bytes > REREAD_BYTES || points.length >= WRITE_POINTS_MAX) break;
        extend(next);
        q = next;
        await yieldToIo();
      }
      return { items: n, range, text: Buffer.from(points.join('\n')), meta: joinMeta(metas, points.length) };
    }
    const texts = [head.text];
    const metas = [head.meta!];
    let points = head.meta!.ts.length;
    for (let q = queue[n]; q && q.text !== null && points + q.meta!.ts.length <= WRITE_POINTS_MAX; q = queue[n]) {
      texts.push(q.text);
      metas.push(q.meta!);
      points += q.meta!.ts.length;
      extend(q);
    }
    return { items: n, range, text: joinLines(texts), meta: joinMeta(metas, points) };
  }

  /** Dead letters for the points InfluxDB refused, found again (by their line) among the range's messages. */
  async function refusedLetters(range: Range, lines: Set<string>): Promise<DeadLetter[]> {
    const p = prepare(await spool.reread(range));
    return p.points.flatMap((line, i) => {
      if (!lines.has(line)) return [];
      const { entry, index, item } = p.origin[i]!;
      return [letter(entry, `w${index}`, { reason: 'storage_rejected', message: 'InfluxDB refused this object', excerpt: excerpt(item.record) })];
    });
  }

  async function storeNext(): Promise<boolean> {
    const w = await nextWrite();
    if (!w) return false;
    const refused = new Set(await write(w.text));
    if (refused.size) {
      const lines = w.text.toString().split('\n');
      deadLetters.add(await refusedLetters(w.range, new Set([...refused].map((i) => lines[i]!))));
    }
    spool.commit({ ...w.range, entries: [] });
    for (const q of queue.splice(0, w.items)) if (q.text !== null) queuedBytes -= q.bytes;
    inWrite = 0;
    metrics.queueBytes.set(queuedBytes);
    metrics.spoolDepth.set(spool.depthCount);
    metrics.spoolBytes.set(spool.depthBytes);
    const now = Date.now();
    const perChannel = new Array<number>(CHANNELS.length).fill(0);
    for (let i = 0; i < w.meta.ts.length; i++) {
      if (refused.has(i)) continue;
      perChannel[w.meta.channels[i]!]! += 1;
      const lag = now - w.meta.ts[i]!;
      if (lag < 600_000) metrics.storeLag.observe(Math.max(0, lag) / 1000);
    }
    perChannel.forEach((n, c) => n && metrics.objectsStored.inc({ channel: CHANNELS[c]! }, n));
    return true;
  }

  const idle = (set: (w: (() => void) | null) => void) =>
    new Promise<void>((r) => {
      set(r);
      setTimeout(r, 1000);
    }).then(() => set(null));

  let acceptLoop: Promise<void> = Promise.resolve();
  let storeLoop: Promise<void> = Promise.resolve();
  let started = false;

  async function runAccept(): Promise<void> {
    let sliceBytes = batchBytes;
    while (!stopping) {
      try {
        spool.flushNow?.();
        const t0 = performance.now();
        if (await accept(sliceBytes)) {
          // Keep a slice near SLICE_MS whatever a message costs (zod, rules, GC).
          const ms = performance.now() - t0;
          if (ms > SLICE_MS) sliceBytes = Math.max(SLICE_MIN_BYTES, sliceBytes >> 1);
          else if (ms < SLICE_MS / 2) sliceBytes = Math.min(batchBytes, sliceBytes * 2);
          await yieldToIo();
          continue;
        }
      } catch (e) {
        if (e instanceof LostClaimError) {
          // Retrying cannot succeed: another node owns the partition (or will), and redoes the batch.
          log.warn({ err: e.message, partition: e.partition, epoch: e.epoch }, 'accept fenced: this node lost the partition; its accept stage stops');
          deps.onFenced?.(e);
          return;
        }
        // A SQLite error (disk full): nothing of the batch was accepted; it is accepted again first.
        log.error({ err: e }, 'accepting from the spool failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      await idle((w) => (wakeAccept = w));
    }
  }

  async function runStore(): Promise<void> {
    while (!stopping || queue.length) {
      try {
        spool.flushNow?.();
        if (await storeNext()) {
          await yieldToIo();
          continue;
        }
        if (stopping) break;
      } catch (e) {
        // Storage refused while stopping, a full disk, a SQLite error: keep the
        // messages in the spool and try again rather than skip them.
        if (stopping) break;
        log.error({ err: e }, 'storing from the spool failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      await idle((w) => (wakeStore = w));
    }
  }

  return {
    // Each listener in a savepoint of the accept transaction: one that fails (also one that caught a failed
    // statement itself, which PostgreSQL counts against the whole transaction) loses its own writes for the
    // batch and is logged; the others' effects, the dead letters and the position still commit, so a bad
    // listener never stalls the stage on either backend.
    onAccepted: (fn) => listeners.on(db.transaction(fn)),
    start() {
      if (started || stopping) return;
      started = true;
      acceptLoop = runAccept();
      storeLoop = runStore();
    },
    get influxUp() {
      return influxUp;
    },
    get queuedBytes() {
      return queuedBytes;
    },
    get queueEntries() {
      return queue.length;
    },
    async drained(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (spool.depthCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return spool.depthCount === 0;
    },
    async stop() {
      stopping = true;
      wakeAccept?.();
      wakeStore?.();
      unsubscribe();
      await acceptLoop;
      await storeLoop;
    },
  };
}
