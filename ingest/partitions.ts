// What one cluster node runs for the log's partitions: exactly one ingest
// pipeline per partition it holds (storage/claims.ts), each over that
// partition of the stream (storage/jetstream-partition.ts) with its own accept
// position `p<N>` and the claim's epoch as its fence. Every heartbeat the set
// of pipelines is made to match what the claims say this node owns: a gained
// partition (or one held at a new epoch) is opened and resumes from its
// committed position, a lost one is stopped. A pipeline whose commit was
// fenced stops at once (the claim moved or its lease ran out) and is opened
// again only if a later heartbeat still gives this node the partition.
import type { Logger } from 'pino';
import type { Claims, HeartbeatResult } from '../storage/claims.js';
import type { JetStreamLog } from '../storage/jetstream-log.js';
import { JetStreamPartitionLog } from '../storage/jetstream-partition.js';
import { Listeners } from '../domain/listeners.js';
import { createIngest, type Ingest, type IngestDeps } from './pipeline.js';

export interface PartitionRunnerOptions {
  claims: Claims;
  log: JetStreamLog;
  /** everything a pipeline needs but its log, position name and fence (shared by the node's pipelines) */
  ingestDeps: Omit<IngestDeps, 'spool' | 'positionName' | 'fence' | 'onFenced'>;
  /** how often start() runs a heartbeat (about a third of the claims' lease) */
  heartbeatMs: number;
  logger: Logger;
  /** attaches the accept listeners (the rules) to a partition's pipeline before it starts */
  attach?: (ingest: Ingest, partition: number) => void;
  /** a partition's pipeline stopped here (moved, fenced, shutdown): rules drop what they keep in memory for it */
  detached?: (partition: number) => void;
  now?: () => number;
}

export interface RunningPartition {
  partition: number;
  epoch: number;
  /** messages read and not stored yet, plus one while an unread batch is known (see JetStreamPartitionLog.depthCount) */
  depth: number;
  /** bytes read and not stored yet */
  depthBytes: number;
  /** the pipeline's InfluxDB writes succeed */
  influxUp: boolean;
  /** bytes of decoded points waiting for InfluxDB */
  queuedBytes: number;
  queueEntries: number;
}

interface Running {
  epoch: number;
  part: JetStreamPartitionLog;
  ingest: Ingest;
}

export class PartitionRunner {
  /** partitions whose accept was fenced since start (each stopped at once) */
  fenced = 0;
  /** heartbeats that failed (shared state unreachable); the fence keeps commits safe meanwhile */
  heartbeatErrors = 0;
  private readonly running = new Map<number, Running>();
  /** opening and stopping pipelines, one change at a time */
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private closed = false;
  private leading = false;
  private readonly leadership: Listeners<[boolean]>;

  constructor(private readonly opts: PartitionRunnerOptions) {
    this.leadership = new Listeners('cluster leadership', opts.logger);
  }

  /** Whether this node leads (runs the timed and scheduled rules) by its last heartbeat, within its lease. */
  get leader(): boolean {
    return this.leading && this.opts.claims.held.leaseUntil > (this.opts.now ?? Date.now)();
  }

  /** Hears this node becoming leader (true) or ceasing to be (false: deposed, lease ran out, stopped). */
  onLeadership(fn: (leader: boolean) => void): () => void {
    return this.leadership.on(fn);
  }

  private setLeader(leader: boolean): void {
    if (leader === this.leading) return;
    this.leading = leader;
    this.opts.logger.info({ node: this.opts.claims.nodeId }, leader ? 'cluster: this node leads (timed and scheduled rules run here)' : 'cluster: this node no longer leads');
    this.leadership.emit(leader);
  }

  /** Heartbeats every heartbeatMs (the first at once). */
  start(): void {
    if (this.timer || this.closed) return;
    const beat = () => {
      // a heartbeat still opening pipelines is not overtaken by the next
      if (!this.ticking) this.tick().catch((err) => this.opts.logger.error({ err }, 'cluster: a heartbeat failed to update the partitions processed here'));
    };
    this.timer = setInterval(beat, this.opts.heartbeatMs);
    beat();
  }

  /** One heartbeat, then the pipelines made to match what this node holds. Resolves once they do. */
  async tick(): Promise<HeartbeatResult | null> {
    if (this.closed) return null;
    this.ticking = true;
    try {
      let hb: HeartbeatResult;
      try {
        hb = this.opts.claims.heartbeat();
      } catch (err) {
        this.heartbeatErrors += 1;
        this.opts.logger.error({ err }, 'cluster: heartbeat failed; partitions keep running until their fence refuses a commit');
        if (this.leading && !this.leader) this.setLeader(false); // the lease ran out: another node may lead by now
        return null;
      }
      if (this.closed) return hb; // stop() ran meanwhile: it released or reconciles to nothing
      this.setLeader(hb.leader);
      await this.serial(() => this.reconcile(hb.owned));
      return hb;
    } finally {
      this.ticking = false;
    }
  }

  /** The partitions this node processes now, with their epochs and backlog (for /healthz and metrics). */
  get partitions(): RunningPartition[] {
    return [...this.running].sort(([a], [b]) => a - b).map(([partition, r]) => ({
      partition, epoch: r.epoch, depth: r.part.depthCount, depthBytes: r.part.depthBytes,
      influxUp: r.ingest.influxUp, queuedBytes: r.ingest.queuedBytes, queueEntries: r.ingest.queueEntries,
    }));
  }

  /**
   * Stops every pipeline (what they accepted is stored first, unless InfluxDB is away: then it stays in the
   * stream). release: gives the claims back at once, so the other nodes take over at their next heartbeat
   * instead of after the lease (a clean shutdown); without it they wait for the lease (a crash, or tests).
   */
  async stop({ release }: { release: boolean }): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.setLeader(false);
    await this.serial(() => this.reconcile(new Map()));
    if (release) this.opts.claims.release();
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async reconcile(owned: Map<number, number>): Promise<void> {
    for (const [p, r] of [...this.running]) if (owned.get(p) !== r.epoch) await this.stopPartition(p, r);
    for (const [p, epoch] of [...owned].sort(([a], [b]) => a - b)) {
      if (this.running.has(p) || this.closed) continue; // (a heartbeat that finished after stop() opens nothing)
      try {
        await this.open(p, epoch);
      } catch (err) {
        // NATS unreachable: opened again at the next heartbeat; the claim is kept meanwhile
        this.opts.logger.error({ err, partition: p, epoch }, 'cluster: could not open a partition of the log; retrying at the next heartbeat');
      }
    }
  }

  private async open(p: number, epoch: number): Promise<void> {
    const { claims, log, logger, ingestDeps, attach } = this.opts;
    const part = await JetStreamPartitionLog.open({ log, partition: p, logger });
    const ingest = createIngest({
      ...ingestDeps,
      spool: part,
      positionName: `p${p}`,
      fence: () => claims.fence(p, epoch),
      onFenced: () => {
        this.fenced += 1;
        this.serial(async () => {
          const r = this.running.get(p);
          if (r?.ingest === ingest) await this.stopPartition(p, r);
        }).catch((err) => logger.error({ err, partition: p }, 'cluster: stopping a fenced partition failed'));
      },
    });
    try {
      attach?.(ingest, p);
    } catch (err) {
      await part.close();
      throw err;
    }
    this.running.set(p, { epoch, part, ingest });
    ingest.start();
    logger.info({ partition: p, epoch }, 'cluster: processing a partition');
  }

  private async stopPartition(p: number, r: Running): Promise<void> {
    this.running.delete(p);
    try {
      await r.ingest.stop();
    } finally {
      await r.part.close();
    }
    this.opts.logger.info({ partition: p, epoch: r.epoch }, 'cluster: stopped processing a partition');
    this.opts.detached?.(p);
  }
}
