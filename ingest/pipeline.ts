// The ingest pipeline: spool → decode → dedup → InfluxDB, then dead letters,
// seen ids and the spool checkpoint in one step. Runs as one loop, one write
// in flight, so the checkpoint only ever moves past messages that are stored.
// While InfluxDB is unreachable it retries with backoff and the spool grows.
import type { Database } from 'better-sqlite3';
import type { Logger } from 'pino';
import type { Channel } from '../domain/channels.js';
import type { Registry } from '../registry/registry.js';
import type { Metrics } from '../service/metrics.js';
import { InfluxError, type InfluxStore } from '../storage/influx.js';
import { toLine } from '../storage/points.js';
import { HTTP_TRANSPORT, type Spool, type SpoolBatch, type SpoolEntry } from '../storage/spool.js';
import { decode, excerpt, type Accepted, type Reject } from './decode.js';
import type { DeadLetter, DeadLetters } from './dead-letters.js';
import { DEDUP_CHANNELS, Dedup } from './dedup.js';

export interface StoredItem extends Accepted {
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
}

export interface Ingest {
  /** Listeners get every batch of objects once it is stored (the rule engines subscribe here). */
  onStored(fn: (items: StoredItem[]) => void): () => void;
  /** Resolves when everything spooled so far is stored (tests, shutdown). */
  drained(timeoutMs?: number): Promise<boolean>;
  readonly influxUp: boolean;
  stop(): Promise<void>;
}

interface Prepared {
  points: string[];
  stored: StoredItem[];
  letters: DeadLetter[];
  seenKeys: string[];
  /** per point: the spool entry it came from and its dedup key */
  origin: { entry: SpoolEntry; key: string | undefined }[];
}

export function startIngest(deps: IngestDeps): Ingest {
  const { spool, store, registry, db, deadLetters, dedup, metrics, log } = deps;
  const batchBytes = deps.batchBytes ?? 2 * 1024 * 1024;
  const listeners = new Set<(items: StoredItem[]) => void>();
  let stopping = false;
  let influxUp = true;
  let wake: (() => void) | null = null;
  const unsubscribe = spool.onAppend(() => wake?.());
  // Dead letters and seen ids commit first, the spool checkpoint after: a
  // crash in between replays the batch, which dedup and the idempotent points
  // make harmless; the other order could lose the batch's seen ids.
  const commitTx = db.transaction((p: Prepared, now: number) => {
    deadLetters.add(p.letters);
    dedup.remember(p.seenKeys, now);
  });

  function letter(e: SpoolEntry, i: number | string, r: Reject): DeadLetter {
    metrics.deadLetters.inc({ reason: r.reason });
    return { ...r, key: `spool:${e.seg}:${e.off}:${i}`, at: e.receivedAt, topic: e.topic, sender: e.sender, transport: e.qos === HTTP_TRANSPORT ? 'http' : 'mqtt' };
  }

  function prepare(batch: SpoolBatch): Prepared {
    const out: Prepared = { points: [], stored: [], letters: [], seenKeys: [], origin: [] };
    const batchKeys = new Set<string>();
    for (const e of batch.entries) {
      try {
        const d = decode(e.topic, e.payload, e.receivedAt, registry, e.sender);
        d.rejects.forEach((r, i) => out.letters.push(letter(e, i, r)));
        for (const item of d.items) {
          const channel: Channel = item.channel;
          let key: string | undefined;
          if (DEDUP_CHANNELS.has(channel)) {
            key = Dedup.key(e.sender, channel, item.record.id);
            if (batchKeys.has(key) || dedup.seen(key)) {
              metrics.duplicates.inc({ channel });
              continue;
            }
            batchKeys.add(key);
          }
          out.points.push(toLine(channel, item.record, item.code, item.ctx, e.sender));
          out.stored.push({ ...item, sender: e.sender, receivedAt: e.receivedAt });
          out.origin.push({ entry: e, key });
        }
      } catch (err) {
        // A message must never stop the pipeline: keep it as a dead letter.
        log.error({ err, topic: e.topic, sender: e.sender }, 'could not decode a spooled message');
        out.letters.push(letter(e, 'x', { reason: 'internal_error', message: `could not be processed: ${(err as Error).message}`, excerpt: excerpt(e.payload) }));
      }
    }
    return out;
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
        if (influxUp) log.warn({ err: err.message, status: err.status }, 'InfluxDB write failed; keeping messages in the spool and retrying');
        influxUp = false;
        metrics.influxUp.set(0);
        if (stopping) throw err;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  async function step(): Promise<boolean> {
    const batch = spool.read(batchBytes);
    if (batch.entries.length === 0) return false;
    const p = prepare(batch);
    const refused = new Set(await write(p.points));
    for (const [i, o] of p.origin.entries()) {
      if (refused.has(i)) {
        p.letters.push(letter(o.entry, `w${i}`, { reason: 'storage_rejected', message: 'InfluxDB refused this object', excerpt: excerpt(p.stored[i]!.record) }));
      } else if (o.key) p.seenKeys.push(o.key);
    }
    const stored = refused.size ? p.stored.filter((_, i) => !refused.has(i)) : p.stored;
    const now = Date.now();
    commitTx(p, now);
    spool.commit(batch);
    metrics.spoolDepth.set(spool.depthCount);
    metrics.spoolBytes.set(spool.depthBytes);
    const perChannel = new Map<Channel, number>();
    for (const s of stored) {
      perChannel.set(s.channel, (perChannel.get(s.channel) ?? 0) + 1);
      const lag = now - s.record.ts;
      if (lag < 600_000) metrics.storeLag.observe(Math.max(0, lag) / 1000);
    }
    for (const [channel, n] of perChannel) metrics.objectsStored.inc({ channel }, n);
    for (const l of listeners) {
      try {
        l(stored);
      } catch (e) {
        log.error({ err: e }, 'stored-items listener failed');
      }
    }
    return true;
  }

  const loop = (async () => {
    while (!stopping) {
      try {
        if (await step()) continue;
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 1000);
        });
        wake = null;
      } catch (e) {
        // Storage refused while stopping, a full disk, a SQLite error: keep the
        // messages in the spool and try again rather than skip them.
        spool.rewind();
        if (stopping) break;
        log.error({ err: e }, 'ingest step failed; retrying from the spool checkpoint');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  })();

  return {
    onStored(fn) {
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
      wake?.();
      unsubscribe();
      await loop;
    },
  };
}
