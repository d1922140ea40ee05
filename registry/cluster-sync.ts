// The registry across a cluster's nodes. Each node holds the registry in
// memory (the hot path authorises every publish against it) and all share one
// database: a write on one node is announced on the bus as a pointer
// (RegistryNotice), and every node re-reads that row. Own echoes re-read an
// unchanged row and change nothing. When the bus reconnects (notices may have
// been lost), or a re-read fails (the database is away), the node re-reads
// everything until that succeeds. A bulk write (an import, a city's secrets)
// goes out as batches of keys, re-read with one query per few hundred.
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Bus } from '../common/bus.js';
import type { Metrics } from '../common/metrics.js';
import { ENTITIES, type EntityName } from './schemas.js';
import type { Registry, RegistryBatch, RegistryNotice } from './registry.js';

export const REGISTRY_TOPIC = 'registry';

/** A batch notice's keys, at most: well under the bus's 64 KiB per notice. */
const BATCH_KEY_BYTES = 32 * 1024;
/** How soon a failed re-read is tried again. */
const RETRY_MS = 1000;

const id = z.string().min(1).max(1000);
const ids = z.array(id).min(1).max(10_000);
const collection = z.enum(Object.keys(ENTITIES) as [EntityName, ...EntityName[]]);
const noticeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('item'), collection, key: id }),
  z.object({ kind: z.literal('secret'), id }),
  z.object({ kind: z.literal('items'), collection, keys: ids }),
  z.object({ kind: z.literal('secrets'), ids }),
]);

/** The notices for one tick's writes: one per key, or batches of keys when a collection (or the secrets) had several. */
function toWire(written: Map<EntityName | 'secrets', Set<string>>): (RegistryNotice | RegistryBatch)[] {
  const out: (RegistryNotice | RegistryBatch)[] = [];
  for (const [target, keySet] of written) {
    const keys = [...keySet];
    if (keys.length === 1) {
      out.push(target === 'secrets' ? { kind: 'secret', id: keys[0]! } : { kind: 'item', collection: target, key: keys[0]! });
      continue;
    }
    let batch: string[] = [];
    let bytes = 0;
    const push = () => out.push(target === 'secrets' ? { kind: 'secrets', ids: batch } : { kind: 'items', collection: target, keys: batch });
    for (const k of keys) {
      const size = Buffer.byteLength(k) + 3; // quotes and comma
      if (batch.length && bytes + size > BATCH_KEY_BYTES) {
        push();
        batch = [];
        bytes = 0;
      }
      batch.push(k);
      bytes += size;
    }
    push();
  }
  return out;
}

/** Keeps `registry` in step with the other nodes on `bus`; returns `off`. */
export function syncRegistry(registry: Registry, bus: Bus, deps: { log: Logger; metrics?: Metrics }): () => void {
  const { log, metrics } = deps;
  const count = (event: 'sent' | 'received' | 'changed' | 'bad_notice' | 'reload_all' | 'reload_failed', n = 1) => n && metrics?.registrySync.inc({ event }, n);

  // Sent when the tick ends: a write inside a (synchronous) transaction is then committed, so the others read it.
  let pending = new Map<EntityName | 'secrets', Set<string>>();
  const flush = () => {
    const notices = toWire(pending);
    pending = new Map();
    for (const n of notices) {
      bus.publish(REGISTRY_TOPIC, n);
      count('sent');
    }
  };
  const offWrite = registry.onWrite((n) => {
    if (pending.size === 0) queueMicrotask(flush);
    const target = n.kind === 'secret' ? 'secrets' : n.collection;
    let keys = pending.get(target);
    if (!keys) pending.set(target, (keys = new Set()));
    keys.add(n.kind === 'secret' ? n.id : n.key);
  });

  let retry: NodeJS.Timeout | undefined;
  let stopped = false;
  const catchUp = () => {
    clearTimeout(retry);
    retry = undefined;
    if (stopped) return;
    try {
      count('reload_all');
      count('changed', registry.reloadAll());
    } catch (err) {
      failed(err, 'registry re-read failed; trying again');
    }
  };
  const failed = (err: unknown, msg: string) => {
    count('reload_failed');
    log.error({ err, retryMs: RETRY_MS }, msg);
    retry ??= setTimeout(catchUp, RETRY_MS).unref();
  };

  const offNotice = bus.on(REGISTRY_TOPIC, (raw) => {
    count('received');
    const parsed = noticeSchema.safeParse(raw);
    if (!parsed.success) {
      count('bad_notice');
      log.warn({ notice: JSON.stringify(raw).slice(0, 200), problem: parsed.error.issues[0]?.message }, 'registry notice ignored: not a registry notice');
      return;
    }
    // A failed re-read is retried as a re-read of everything, which covers this notice too.
    if (retry) return;
    try {
      count('changed', registry.reload(parsed.data));
    } catch (err) {
      failed(err, 'registry notice could not be applied; re-reading everything');
    }
  });
  const offReconnect = bus.onReconnect(catchUp);

  return () => {
    stopped = true;
    offWrite();
    offNotice();
    offReconnect();
    clearTimeout(retry);
    if (pending.size) flush();
  };
}
