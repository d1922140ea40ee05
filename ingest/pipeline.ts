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
// the store stage up to INGEST_QUEUE_POINTS; beyond that only their spool range
// is kept and they are decoded again when their turn comes.
import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import type { Channel } from '../domain/channels.js';
import type { Registry } from '../registry/registry.js';
import type { Metrics } from '../service/metrics.js';
import { InfluxError, type InfluxStore } from '../storage/influx.js';
import { lineAt, toPoint } from '../storage/points.js';
import { comparePositions, HTTP_TRANSPORT, type Spool, type SpoolBatch, type SpoolEntry, type SpoolPosition } from '../storage/spool.js';
import { decode, excerpt, type Accepted, type Reject } from './decode.js';
import type { DeadLetter, DeadLetters } from './dead-letters.js';
import { DEDUP_CHANNELS, Dedup } from './dedup.js';
import { PointSlots, type Reassigned } from './point-slots.js';

/** A validated, de-duplicated object, durable in the spool (not necessarily in InfluxDB yet). */
export interface IngestedItem extends Accepted {
  sender: string;
  receivedAt: number;
}

export interface IngestDeps {
  spool: Spool;
  store: InfluxStore;
  registry: Registry;
  db: Database;
  deadLetters: DeadLetters;
  dedup: Dedup;
  metrics: Metrics;
  log: Logger;
  /** bytes read from the spool per write */
  batchBytes?: number;
  /** decoded objects held in memory for the store stage; beyond, batches are decoded again from the spool */
  queuePointsMax?: number;
  /** sub-millisecond offsets of the points (default: kept in `db`) */
  slots?: PointSlots;
}

export interface Ingest {
  /**
   * Listeners get every batch of new objects once, when they are accepted
   * (durable in the spool, validated, not duplicates), before they are stored
   * in InfluxDB. They run inside a SQLite transaction on the service's
   * database, so their writes commit together with the accept position.
   */
  onAccepted(fn: (items: IngestedItem[]) => void): () => void;
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
  /** per point: the spool entry it came from and whether it is new */
  origin: { entry: SpoolEntry; item: IngestedItem }[];
}

interface Queued {
  batch: SpoolBatch;
  /** null: dropped to bound memory; decode again from the spool */
  prepared: Prepared | null;
}

/** points per InfluxDB write when batches are merged */
const WRITE_POINTS_MAX = 20_000;
const before = (e: SpoolPosition, pos: SpoolPosition) => comparePositions(e, pos) < 0;

export function startIngest(deps: IngestDeps): Ingest {
  const { spool, store, registry, db, deadLetters, dedup, metrics, log } = deps;
  const batchBytes = deps.batchBytes ?? 2 * 1024 * 1024;
  const queuePointsMax = deps.queuePointsMax ?? 200_000;
  const slots = deps.slots ?? new PointSlots(db);
  const listeners = new Set<(items: IngestedItem[]) => void>();
  let stopping = false;
  let influxUp = true;

  db.exec('CREATE TABLE IF NOT EXISTS ingest_position (name TEXT PRIMARY KEY, seg INTEGER NOT NULL, off INTEGER NOT NULL)');
  const savePosition = db.prepare(`INSERT INTO ingest_position (name, seg, off) VALUES ('accepted', @seg, @off) ON CONFLICT(name) DO UPDATE SET seg = excluded.seg, off = excluded.off`);
  /** Everything before this spool position has been accepted (rules run, dead letters kept). */
  let acceptedUpTo: SpoolPosition = (db.prepare(`SELECT seg, off FROM ingest_position WHERE name = 'accepted'`).get() as SpoolPosition | undefined) ?? { seg: 0, off: 0 };

  const queue: Queued[] = [];
  let queuedPoints = 0;
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
        if (!again) d.rejects.forEach((r, i) => out.letters.push(letter(e, i, r)));
        d.items.forEach((item, i) => {
          const channel: Channel = item.channel;
          if (DEDUP_CHANNELS.has(channel)) {
            const key = Dedup.key(e.sender, channel, item.record.id);
            const pos = `${e.seg}:${e.off}:${i}`;
            const first = batchKeys.has(key) ? 'this batch' : dedup.firstSeen(key);
            if (first !== undefined && !(again && first === pos)) {
              if (!again) metrics.duplicates.inc({ channel });
              return;
            }
            batchKeys.add(key);
            if (!again) out.seenKeys.push([key, pos]);
          }
          const ingested: IngestedItem = { ...item, sender: e.sender, receivedAt: e.receivedAt };
          // A new point takes a free offset; one accepted before takes the offset it was given then.
          const point = toPoint(channel, item.record, item.code, item.ctx, e.sender);
          const { ts, id } = item.record;
          out.points.push(lineAt(point, ts, again ? slots.recall(point.key, ts, id) : slots.assign(point.key, ts, id, out.reassigned)));
          out.origin.push({ entry: e, item: ingested });
          if (!again) out.accepted.push(ingested);
        });
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
    deadLetters.add(p.letters);
    dedup.remember(p.seenKeys, Date.now());
    slots.remember(p.reassigned, Date.now());
    if (p.accepted.length) {
      for (const l of listeners) {
        try {
          l(p.accepted);
        } catch (e) {
          log.error({ err: e }, 'accepted-items listener failed');
        }
      }
    }
    if (comparePositions(end, acceptedUpTo) > 0) savePosition.run(end);
  });

  /** A batch read but not accepted because the transaction failed: accepted again before anything newer. */
  let unaccepted: SpoolBatch | null = null;
  function accept(): boolean {
    const batch = unaccepted ?? spool.read(batchBytes);
    if (batch.entries.length === 0) return false;
    unaccepted = batch;
    const p = prepare(batch);
    acceptTx(p, batch.end);
    unaccepted = null;
    if (comparePositions(batch.end, acceptedUpTo) > 0) acceptedUpTo = batch.end;
    const keep = queuedPoints + p.points.length <= queuePointsMax;
    // A dropped batch keeps only its spool range, not its messages: memory stays bounded however long InfluxDB is away.
    queue.push(keep ? { batch, prepared: p } : { batch: { start: batch.start, end: batch.end, bytes: batch.bytes, entries: [], count: batch.entries.length }, prepared: null });
    if (keep) queuedPoints += p.points.length;
    wakeStore?.();
    return true;
  }

  /**
   * Writes the points, retrying while InfluxDB is unavailable. When InfluxDB
   * refuses the data itself (400/422), the batch is split until the refused
   * points are found; their indexes are returned so they become dead letters
   * instead of being dropped.
   */
  async function write(points: string[], offset = 0): Promise<number[]> {
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
          if (points.length === 1) {
            log.error({ err: err.message, line: points[0]!.slice(0, 300) }, 'InfluxDB refused a point; keeping it as a dead letter');
            return [offset];
          }
          const half = Math.ceil(points.length / 2);
          return [...(await write(points.slice(0, half), offset)), ...(await write(points.slice(half), offset + half))];
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

  /** The next write: the head of the queue, merged with the decoded batches behind it (fewer, larger writes). */
  function nextWrite(): { items: number; range: SpoolBatch; points: string[]; origin: Prepared['origin'] } | null {
    const head = queue[0];
    if (!head) return null;
    if (!head.prepared) {
      const p = prepare(spool.reread(head.batch));
      return { items: 1, range: head.batch, points: p.points, origin: p.origin };
    }
    let points = head.prepared.points;
    let origin = head.prepared.origin;
    let n = 1;
    let bytes = head.batch.bytes;
    let count = head.batch.count ?? head.batch.entries.length;
    for (; n < queue.length; n++) {
      const q = queue[n]!;
      if (!q.prepared || points.length + q.prepared.points.length > WRITE_POINTS_MAX) break;
      points = points.concat(q.prepared.points);
      origin = origin.concat(q.prepared.origin);
      bytes += q.batch.bytes;
      count += q.batch.count ?? q.batch.entries.length;
    }
    const range = { start: head.batch.start, end: queue[n - 1]!.batch.end, bytes, count, entries: [] };
    return { items: n, range, points, origin };
  }

  async function storeNext(): Promise<boolean> {
    const w = nextWrite();
    if (!w) return false;
    const p = w;
    const refused = new Set(await write(p.points));
    if (refused.size) {
      const letters = [...refused].map((i) => letter(p.origin[i]!.entry, `w${i}`, { reason: 'storage_rejected', message: 'InfluxDB refused this object', excerpt: excerpt(p.origin[i]!.item.record) }));
      deadLetters.add(letters);
    }
    spool.commit(w.range);
    for (const q of queue.splice(0, w.items)) if (q.prepared) queuedPoints -= q.prepared.points.length;
    metrics.spoolDepth.set(spool.depthCount);
    metrics.spoolBytes.set(spool.depthBytes);
    const now = Date.now();
    const perChannel = new Map<Channel, number>();
    p.origin.forEach(({ item }, i) => {
      if (refused.has(i)) return;
      perChannel.set(item.channel, (perChannel.get(item.channel) ?? 0) + 1);
      const lag = now - item.record.ts;
      if (lag < 600_000) metrics.storeLag.observe(Math.max(0, lag) / 1000);
    });
    for (const [channel, n] of perChannel) metrics.objectsStored.inc({ channel }, n);
    return true;
  }

  const idle = (set: (w: (() => void) | null) => void) =>
    new Promise<void>((r) => {
      set(r);
      setTimeout(r, 1000);
    }).then(() => set(null));

  const acceptLoop = (async () => {
    while (!stopping) {
      try {
        if (accept()) continue;
      } catch (e) {
        // A SQLite error (disk full): nothing of the batch was accepted; it is accepted again first.
        log.error({ err: e }, 'accepting from the spool failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      await idle((w) => (wakeAccept = w));
    }
  })();

  const storeLoop = (async () => {
    while (!stopping || queue.length) {
      try {
        if (await storeNext()) continue;
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
  })();

  return {
    onAccepted(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    get influxUp() {
      return influxUp;
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
