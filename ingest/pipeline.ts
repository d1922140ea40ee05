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
import { HTTP_TRANSPORT, type Spool, type SpoolBatch } from '../storage/spool.js';
import { decode, type Accepted } from './decode.js';
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
}

export function startIngest(deps: IngestDeps): Ingest {
  const { spool, store, registry, db, deadLetters, dedup, metrics, log } = deps;
  const batchBytes = deps.batchBytes ?? 2 * 1024 * 1024;
  const listeners = new Set<(items: StoredItem[]) => void>();
  let stopping = false;
  let influxUp = true;
  let wake: (() => void) | null = null;
  const unsubscribe = spool.onAppend(() => wake?.());
  const commitTx = db.transaction((p: Prepared, batch: SpoolBatch, now: number) => {
    deadLetters.add(p.letters);
    dedup.remember(p.seenKeys, now);
    spool.commit(batch);
  });

  function prepare(batch: SpoolBatch): Prepared {
    const out: Prepared = { points: [], stored: [], letters: [], seenKeys: [] };
    const batchKeys = new Set<string>();
    for (const e of batch.entries) {
      const d = decode(e.topic, e.payload, e.receivedAt, registry);
      d.rejects.forEach((r, i) => {
        out.letters.push({ ...r, key: `spool:${e.seg}:${e.off}:${i}`, at: e.receivedAt, topic: e.topic, sender: e.sender, transport: e.qos === HTTP_TRANSPORT ? 'http' : 'mqtt' });
        metrics.deadLetters.inc({ reason: r.reason });
      });
      for (const item of d.items) {
        const channel: Channel = item.channel;
        if (DEDUP_CHANNELS.has(channel)) {
          const key = Dedup.key(e.sender, channel, item.record.id);
          if (batchKeys.has(key) || dedup.seen(key)) {
            metrics.duplicates.inc({ channel });
            continue;
          }
          batchKeys.add(key);
          out.seenKeys.push(key);
        }
        out.points.push(toLine(channel, item.record, item.code, item.ctx, e.sender));
        out.stored.push({ ...item, sender: e.sender, receivedAt: e.receivedAt });
      }
    }
    return out;
  }

  async function writeWithRetry(points: string[]): Promise<void> {
    let delay = 100;
    for (;;) {
      const t0 = performance.now();
      try {
        await store.write(points);
        metrics.writeLatency.observe((performance.now() - t0) / 1000);
        if (!influxUp) log.info('InfluxDB writes succeed again; replaying the spool');
        influxUp = true;
        metrics.influxUp.set(1);
        return;
      } catch (e) {
        const err = e as InfluxError;
        if (err instanceof InfluxError && !err.retriable) {
          // The server refused the data itself; InfluxDB 1.x still stores the valid points of a partial write.
          metrics.writeErrors.inc({ kind: 'rejected' });
          log.error({ err: err.message, status: err.status, points: points.length }, 'InfluxDB refused part of a batch; not retrying it');
          return;
        }
        metrics.writeErrors.inc({ kind: 'unavailable' });
        if (influxUp) log.warn({ err: err.message }, 'InfluxDB write failed; keeping messages in the spool and retrying');
        influxUp = false;
        metrics.influxUp.set(0);
        if (stopping) throw err;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  const loop = (async () => {
    while (!stopping) {
      const batch = spool.read(batchBytes);
      if (batch.entries.length === 0) {
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 1000);
        });
        wake = null;
        continue;
      }
      let p: Prepared;
      try {
        p = prepare(batch);
        await writeWithRetry(p.points);
      } catch (e) {
        if (stopping) {
          spool.rewind();
          break;
        }
        // decode never throws on input; this is a bug or a full disk: keep the
        // messages in the spool and try again rather than skip them.
        log.error({ err: e }, 'ingest batch failed; retrying');
        spool.rewind();
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      const now = Date.now();
      commitTx(p, batch, now);
      metrics.spoolDepth.set(spool.depthCount);
      metrics.spoolBytes.set(spool.depthBytes);
      const perChannel = new Map<Channel, number>();
      for (const s of p.stored) {
        perChannel.set(s.channel, (perChannel.get(s.channel) ?? 0) + 1);
        const lag = now - s.record.ts;
        if (lag < 600_000) metrics.storeLag.observe(Math.max(0, lag) / 1000);
      }
      for (const [channel, n] of perChannel) metrics.objectsStored.inc({ channel }, n);
      for (const l of listeners) {
        try {
          l(p.stored);
        } catch (e) {
          log.error({ err: e }, 'stored-items listener failed');
        }
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
