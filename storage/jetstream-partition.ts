// One partition of the cluster log (storage/jetstream-log.ts), read by the
// ingest pipeline as it reads the file spool: the node that holds the
// partition's claim runs one createIngest over it (ingest/pipeline.ts, whose
// IngestLog interface this class fits; not imported: storage stays below ingest).
//
// Positions: an entry is { seg: stream sequence of its batch, off: index in
// the batch }, so comparePositions (seg, then off) orders a partition's
// entries as they were appended. Reads are whole stream messages, and a read's
// end is { seg: sequence of its last batch, off: entries in that batch }: past
// its last entry and before the next batch's first ({ seq > seg, 0 }). Stream
// sequences are shared by all partitions, so positions are unique across them
// (dead letter and seen-id keys stay distinct).
//
// Committing a stored range trims the stream through its last batch: what
// the stream still holds of the partition is exactly what is not stored yet.
// So a node that (re)opens the partition reads from the first batch left, as
// the spool reads from its checkpoint; the pipeline's accept position (kept
// per partition in the database) then tells which of those were accepted
// already and are only stored again (idempotent points), never accepted twice.
import type { Logger } from 'pino';
import type { JetStreamLog, LogEntry } from './jetstream-log.js';
import type { SpoolBatch, SpoolEntry, SpoolPosition } from './spool.js';

export interface JetStreamPartitionOptions {
  log: JetStreamLog;
  partition: number;
  logger: Logger;
  /**
   * Stream sequence through which the partition is known to be stored (default 0: from the first batch the
   * stream still holds). Only for a position kept elsewhere; a trim that failed just means those batches are stored again.
   */
  afterSeq?: number;
}

const toEntry = (e: LogEntry): SpoolEntry => ({ qos: e.qos, topic: e.topic, sender: e.sender, receivedAt: e.receivedAt, payload: e.payload, seg: e.seq, off: e.idx });

export class JetStreamPartitionLog {
  readonly partition: number;
  /** batches trimmed off the stream since open, and trims that failed (retried with the next commit) */
  trims = 0;
  trimErrors = 0;
  /** ranges read again (their decoded form had been dropped to bound the pipeline's memory) */
  rereads = 0;
  /** end of the last read: the next read starts after its batch */
  private cursor: SpoolPosition;
  /** sequence of the partition's newest batch known to be stored in the stream (lastSeq at open, then the watch) */
  private knownSeq = 0;
  /** entries and bytes read and not yet committed */
  private readCount = 0;
  private readBytes = 0;
  /** committed through this sequence: trimmed, or to be trimmed */
  private committedSeq: number;
  private trimmedSeq: number;
  private trimming: Promise<void> | null = null;
  private readonly listeners = new Set<() => void>();
  private stopWatch: (() => Promise<void>) | null = null;
  private closed = false;

  private constructor(private readonly opts: JetStreamPartitionOptions) {
    this.partition = opts.partition;
    const after = opts.afterSeq ?? 0;
    this.cursor = { seg: after, off: 0 };
    this.committedSeq = this.trimmedSeq = after;
  }

  /** Starts watching the partition (before looking up its last batch, so no batch falls between the two). */
  static async open(opts: JetStreamPartitionOptions): Promise<JetStreamPartitionLog> {
    const p = new JetStreamPartitionLog(opts);
    p.stopWatch = await opts.log.watch(opts.partition, (seq) => {
      if (seq > p.knownSeq) p.knownSeq = seq;
      for (const fn of p.listeners) fn();
    });
    try {
      p.knownSeq = Math.max(p.knownSeq, await opts.log.lastSeq(opts.partition));
    } catch (e) {
      await p.close();
      throw e;
    }
    return p;
  }

  /** Calls fn when a new batch of the partition is stored in the stream. */
  onAppend(fn: () => void): () => void {
    const f = () => {
      try {
        fn();
      } catch (err) {
        this.opts.logger.error({ err, partition: this.partition }, 'cluster log: an append listener threw');
      }
    };
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  /** The whole batches after the last read, up to about maxBytes (at least one when there is one). */
  async read(maxBytes: number): Promise<SpoolBatch> {
    const start = this.cursor;
    const b = await this.opts.log.read(this.partition, start.seg, maxBytes);
    if (b.lastSeq <= start.seg) return { entries: [], start, end: start, bytes: 0 };
    const entries = b.entries.map(toEntry);
    const end = { seg: b.lastSeq, off: entries.filter((e) => e.seg === b.lastSeq).length };
    this.cursor = end;
    if (b.lastSeq > this.knownSeq) this.knownSeq = b.lastSeq;
    this.readCount += entries.length;
    this.readBytes += b.bytes;
    return { entries, start, end, bytes: b.bytes };
  }

  /** The batches of a range read before and not committed yet (its decoded form was dropped to bound memory). */
  async reread(range: Pick<SpoolBatch, 'start' | 'end' | 'bytes'>): Promise<SpoolBatch> {
    if (range.start.seg < this.committedSeq) {
      throw new Error(`cluster log partition ${this.partition}: cannot re-read batches ${range.start.seg + 1}..${range.end.seg}, committed (trimmed) through ${this.committedSeq}`);
    }
    this.rereads += 1;
    const entries: SpoolEntry[] = [];
    let after = range.start.seg;
    let bytes = 0;
    while (after < range.end.seg) {
      const b = await this.opts.log.read(this.partition, after, Math.max(1, range.bytes - bytes));
      if (b.lastSeq <= after) break;
      for (const e of b.entries) if (e.seq <= range.end.seg) entries.push(toEntry(e));
      bytes += b.bytes;
      after = b.lastSeq;
    }
    if (after !== range.end.seg) {
      throw new Error(`cluster log partition ${this.partition}: re-read of batches ${range.start.seg + 1}..${range.end.seg} ended at ${after}; were they purged from stream ${this.opts.log.stream} by hand?`);
    }
    return { entries, start: range.start, end: range.end, bytes };
  }

  /**
   * The range is stored: trims the stream through its last batch (whole batches only: reads are whole
   * batches). The trim runs in the background, one at a time, coalesced to the newest; one that fails is
   * logged and done again by the next commit (a purge through a later sequence covers the earlier ones).
   */
  commit(range: SpoolBatch): void {
    this.readCount = Math.max(0, this.readCount - (range.count ?? range.entries.length));
    this.readBytes = Math.max(0, this.readBytes - range.bytes);
    if (range.end.seg <= this.committedSeq) return;
    this.committedSeq = range.end.seg;
    // committedSeq > trimmedSeq now, so the loop awaits before its `finally` clears `trimming`
    this.trimming ??= this.trim();
  }

  private async trim(): Promise<void> {
    try {
      while (this.trimmedSeq < this.committedSeq) {
        const through = this.committedSeq;
        try {
          this.trims += await this.opts.log.trim(this.partition, through);
          this.trimmedSeq = through;
        } catch (err) {
          this.trimErrors += 1;
          this.opts.logger.error({ err, partition: this.partition, through }, 'cluster log: trimming stored batches failed; retrying with the next commit (they are stored again after a restart, idempotently)');
          return;
        }
      }
    } finally {
      // in the same turn as the loop's last check: a commit after it starts a new trim
      this.trimming = null;
    }
  }

  /**
   * Messages read and not yet stored, plus one when a newer batch is known to be in the stream and not read
   * yet (its size is unknown until it is read): a lower bound of the backlog that is 0 only when the partition
   * is processed through its last known batch, which is what `drained()` waits for.
   */
  get depthCount(): number {
    return this.readCount + (this.knownSeq > this.cursor.seg ? 1 : 0);
  }

  /** Bytes read and not yet stored (unread batches are not counted). */
  get depthBytes(): number {
    return this.readBytes;
  }

  /** Stops the watch and waits for the trim under way (a failed one is logged). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.stopWatch?.().catch((err) => this.opts.logger.warn({ err, partition: this.partition }, 'cluster log: stopping the partition watch failed'));
    await this.trimming;
  }
}
