// The node's ingest in a cluster, seen by the rules as one Ingest: listeners
// attached here hear the accepted batches of every partition this node
// processes now (ingest/partitions.ts runs one pipeline per partition held),
// each inside that partition's accept transaction and in its own savepoint,
// as on the one-process pipeline. drained() and the health figures cover the
// partitions held at the time they are asked.
import type { Db } from '../storage/db.js';
import type { Logger } from 'pino';
import { Listeners } from '../domain/listeners.js';
import { PartitionRunner, type PartitionRunnerOptions } from './partitions.js';
import type { Ingest, IngestedItem } from './pipeline.js';

export class PartitionedIngest implements Ingest {
  readonly runner: PartitionRunner;
  private readonly listeners: Listeners<[IngestedItem[]]>;
  private started = false;

  constructor(private readonly db: Db, opts: Omit<PartitionRunnerOptions, 'attach'>, log: Logger) {
    this.listeners = new Listeners('accepted-items', log);
    this.runner = new PartitionRunner({ ...opts, attach: (ingest) => void ingest.onAccepted((items) => this.listeners.emit(items)) });
  }

  onAccepted(fn: (items: IngestedItem[]) => void): () => void {
    return this.listeners.on(this.db.transaction(fn));
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.runner.start();
  }

  get queuedBytes(): number {
    return this.runner.partitions.reduce((n, p) => n + p.queuedBytes, 0);
  }

  get queueEntries(): number {
    return this.runner.partitions.reduce((n, p) => n + p.queueEntries, 0);
  }

  get influxUp(): boolean {
    return this.runner.partitions.every((p) => p.influxUp);
  }

  /** Messages and bytes taken from the stream and not stored yet, over the partitions held now. */
  get backlog(): { count: number; bytes: number } {
    let count = 0;
    let bytes = 0;
    for (const p of this.runner.partitions) {
      count += p.depth;
      bytes += p.depthBytes;
    }
    return { count, bytes };
  }

  async drained(timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.backlog.count > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.backlog.count === 0;
  }

  /** Gives the partitions back at once (a clean shutdown: the other nodes take them at their next heartbeat). */
  stop(): Promise<void> {
    return this.runner.stop({ release: true });
  }
}
