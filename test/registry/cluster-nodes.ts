// Registry "nodes" of one cluster in a test process: each with its own
// connection to one fresh PostgreSQL schema (the suite's real server) and its
// own NATS connection and NatsBus on one real nats-server, kept in step by
// syncRegistry as a service node's would be.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createMetrics, type Metrics } from '../../common/metrics.js';
import { syncRegistry } from '../../registry/cluster-sync.js';
import { Registry } from '../../registry/registry.js';
import { openDb, type Db } from '../../storage/db.js';
import { NatsBus } from '../../storage/nats-bus.js';
import { freshPostgresUrl } from '../db.js';
import { quietLog } from '../helpers.js';

export interface RegistryNode {
  registry: Registry;
  db: Db;
  nc: NatsConnection;
  bus: NatsBus;
  metrics: Metrics;
  /** stops this node's sync (its writes are no longer announced, notices no longer heard) */
  stopSync(): void;
  /** se_registry_sync_total by event */
  syncCounts(): Promise<Record<string, number>>;
}

/** `n` nodes on one new schema and `natsUrl`; everything is closed by the cleanups (run in order). */
export async function registryNodes(n: number, natsUrl: string, cleanups: (() => unknown)[]): Promise<RegistryNode[]> {
  const url = await freshPostgresUrl(cleanups);
  const nodes: RegistryNode[] = [];
  for (let i = 0; i < n; i++) {
    const db = openDb({ url, dataDir: '' });
    const registry = new Registry(db, quietLog);
    const nc = await connect({ servers: natsUrl, reconnectTimeWait: 100, timeout: 5000 });
    const bus = new NatsBus(nc, quietLog);
    const metrics = createMetrics();
    let off: (() => void) | undefined = syncRegistry(registry, bus, { log: quietLog, metrics });
    const stopSync = () => {
      off?.();
      off = undefined;
    };
    // Before the schema is dropped (freshPostgresUrl's cleanup runs last).
    cleanups.unshift(async () => {
      stopSync();
      bus.close();
      await nc.close();
      db.close();
    });
    nodes.push({
      registry, db, nc, bus, metrics, stopSync,
      async syncCounts() {
        const m = await metrics.registrySync.get();
        return Object.fromEntries(m.values.map((v) => [String(v.labels.event), v.value]));
      },
    });
  }
  // Every subscription is on the server before a test publishes.
  await Promise.all(nodes.map((x) => x.nc.flush()));
  return nodes;
}
