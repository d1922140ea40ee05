// The registry across a cluster's nodes. Each node holds the registry in
// memory (the hot path authorises every publish against it) and all share one
// database: a write on one node is announced on the bus as a pointer
// (RegistryNotice), and every node re-reads that row. Own echoes re-read an
// unchanged row and change nothing. When the bus reconnects (notices may have
// been lost), or a re-read fails (the database is away), the node re-reads
// everything until that succeeds.
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Bus } from '../common/bus.js';
import type { Metrics } from '../common/metrics.js';
import { ENTITIES, type EntityName } from './schemas.js';
import type { Registry, RegistryNotice } from './registry.js';

export const REGISTRY_TOPIC = 'registry';

/** More writes than this in one tick (an import, a city's secrets) go out as one "re-read everything". */
const MAX_NOTICES_PER_TICK = 256;
/** How soon a failed re-read is tried again. */
const RETRY_MS = 1000;

type WireNotice = RegistryNotice | { kind: 'all' };

const id = z.string().min(1).max(1000);
const noticeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('item'), collection: z.enum(Object.keys(ENTITIES) as [EntityName, ...EntityName[]]), key: id }),
  z.object({ kind: z.literal('secret'), id }),
  z.object({ kind: z.literal('all') }),
]);

/** Keeps `registry` in step with the other nodes on `bus`; returns `off`. */
export function syncRegistry(registry: Registry, bus: Bus, deps: { log: Logger; metrics?: Metrics }): () => void {
  const { log, metrics } = deps;
  const count = (event: 'sent' | 'received' | 'changed' | 'bad_notice' | 'reload_all' | 'reload_failed', n = 1) => n && metrics?.registrySync.inc({ event }, n);

  // Sent when the tick ends: a write inside a (synchronous) transaction is then committed, so the others read it.
  let pending = new Map<string, WireNotice>();
  const flush = () => {
    const notices = pending.size > MAX_NOTICES_PER_TICK ? [{ kind: 'all' } as const] : [...pending.values()];
    pending = new Map();
    for (const n of notices) {
      bus.publish(REGISTRY_TOPIC, n);
      count('sent');
    }
  };
  const offWrite = registry.onWrite((n) => {
    if (pending.size === 0) queueMicrotask(flush);
    pending.set(JSON.stringify(n), n);
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
    const n = parsed.data;
    if (n.kind === 'all' || retry) return catchUp();
    try {
      count('changed', registry.reload(n) ? 1 : 0);
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
