// Cluster mode's parts of one node (NATS_URL and a shared PostgreSQL): the
// JetStream ingest log the broker and HTTP ingest append to, the claims that
// say which partitions this node processes and whether it leads, one
// pipeline per partition held (ingest/partitioned-ingest.ts), and the notice
// bus between the nodes. service.ts composes them with the rest exactly as in
// one process; what only the leader may run is switched by onLeadership.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Metrics } from '../common/metrics.js';
import { PartitionedIngest } from '../ingest/partitioned-ingest.js';
import type { IngestDeps } from '../ingest/pipeline.js';
import { Claims, LEADER } from '../storage/claims.js';
import { ClusterIngress } from '../storage/cluster-ingress.js';
import type { Db } from '../storage/db.js';
import { JetStreamLog } from '../storage/jetstream-log.js';
import { NatsBus } from '../storage/nats-bus.js';
import type { Config } from './config.js';

/** Bytes of appends waiting for the stream's acknowledgement before new ones are refused (503 / no PUBACK). */
const MAX_PENDING_BYTES = 64 * 1024 * 1024;

export interface ClusterNode {
  nodeId: string;
  log: JetStreamLog;
  bus: NatsBus;
  claims: Claims;
  ingest: PartitionedIngest;
  ingress: ClusterIngress;
  /** whether this node leads now (within its lease) */
  leader(): boolean;
  /** inside a transaction: throws unless this node still leads at the epoch it was given */
  fenceLeader(): void;
  onLeadership(fn: (leader: boolean) => void): () => void;
  /** a partition's pipeline stopped here: what the rules keep in memory for its equipment can go */
  onDetached(fn: (keep: (code: string) => boolean) => void): void;
  health(): Record<string, unknown>;
  updateMetrics(): void;
  close(): Promise<void>;
}

export async function openClusterNode(opts: {
  config: Config;
  servers: string[];
  db: Db;
  metrics: Metrics;
  log: Logger;
  /** what every partition's pipeline shares (store, registry, dead letters, …) */
  ingestDeps: Omit<IngestDeps, 'spool' | 'positionName' | 'fence' | 'onFenced'>;
}): Promise<ClusterNode> {
  const { config, db, metrics, log } = opts;
  const nodeId = config.CLUSTER_NODE_ID ?? `${hostname()}:${process.pid}`;
  const partitions = config.CLUSTER_PARTITIONS;
  const jsLog = await JetStreamLog.open({
    servers: opts.servers, user: config.NATS_USER, pass: config.NATS_PASSWORD, nodeId, partitions, replicas: config.NATS_REPLICAS,
    maxPendingBytes: MAX_PENDING_BYTES, maxStreamBytes: config.SPOOL_MAX_BYTES, log: log.child({ part: 'cluster-log' }),
  });
  const bus = new NatsBus(jsLog.connection, log.child({ part: 'bus' }));
  const claims = new Claims(db, { nodeId, partitions, leaseMs: config.CLUSTER_LEASE_MS });
  let detached: ((keep: (code: string) => boolean) => void) | undefined;
  const ingest = new PartitionedIngest(db, {
    claims, log: jsLog, logger: log.child({ part: 'cluster' }), heartbeatMs: Math.max(200, Math.floor(config.CLUSTER_LEASE_MS / 3)),
    // The node's memory bound is shared by the partitions it may hold.
    ingestDeps: { ...opts.ingestDeps, queueBytesMax: Math.floor((opts.ingestDeps.queueBytesMax ?? 16 * 1024 * 1024) / partitions) },
    detached: (p) => detached?.((code) => jsLog.partitionOf(code) !== p),
  }, log.child({ part: 'ingest' }));
  const ingress = new ClusterIngress(jsLog, () => ingest.backlog, MAX_PENDING_BYTES, config.SPOOL_MAX_BYTES);
  const runner = ingest.runner;
  runner.onLeadership((l) => metrics.clusterLeader.set(l ? 1 : 0));

  return {
    nodeId, log: jsLog, bus, claims, ingest, ingress,
    leader: () => runner.leader,
    fenceLeader() {
      const epoch = claims.held.leaderEpoch;
      // (LostClaimError, as a moved partition: the work is left for the leader)
      claims.fence(LEADER, epoch ?? -1);
    },
    onLeadership: (fn) => runner.onLeadership(fn),
    onDetached(fn) {
      detached = fn;
    },
    health() {
      return {
        nodeId,
        leader: runner.leader,
        partitions: runner.partitions.map((p) => ({ partition: p.partition, epoch: p.epoch, lag: p.depth, lagBytes: p.depthBytes, influxUp: p.influxUp })),
        partitionCount: partitions,
        fenced: runner.fenced,
        heartbeatErrors: runner.heartbeatErrors,
        stream: { name: jsLog.stream, appended: jsLog.appended, pendingBytes: jsLog.pendingBytes, retries: jsLog.retries },
      };
    },
    updateMetrics() {
      const parts = runner.partitions;
      metrics.clusterLeader.set(runner.leader ? 1 : 0);
      metrics.clusterPartitions.set(parts.length);
      metrics.clusterFenced.set(runner.fenced);
      metrics.clusterLag.reset();
      for (const p of parts) metrics.clusterLag.set({ partition: String(p.partition) }, p.depth);
    },
    async close() {
      bus.close();
      await jsLog.close();
    },
  };
}
