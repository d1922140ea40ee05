// The cluster's durable, partitioned log on NATS JetStream: what the file
// spool (storage/spool.ts) is for one process. An accepted publish is
// appended to the subject of its partition (`se.ingest.<p>`, p = hash of the
// equipment or sender modulo P) and acknowledged to the gateway only once
// JetStream has stored it.
//
// Group commit: one JetStream publish per message costs a round trip each
// (about 8,000 msg/s here), so appends that arrive while a partition's publish
// is in flight go together into ONE stream message, a batch of the spool's
// CRC-checked frames. One publish in flight per partition keeps each
// partition in append order, retries included.
//
// Exactly once in the stream: each batch carries a stream message id
// (Nats-Msg-Id) `<writer>:<partition>:<batch seq>`, so a publish retried
// after a lost PubAck is not stored twice. The writer id is the node id plus
// a random part per open: after a restart the batch counter starts again, and
// a reused id within the duplicate window would make JetStream drop a new
// batch as a "duplicate" while we acknowledge it.
//
// Bounded: appends waiting for their PubAck (maxPendingBytes) and the stream
// itself (max_bytes, discard new: JetStream refuses rather than dropping
// unprocessed batches); the partition's owner trim()s what it has committed.
// Reading is stateless (direct get by subject from a stream sequence), so any
// node that takes a partition over resumes from the committed position;
// watch() cues it when new batches are stored.
import { randomBytes } from 'node:crypto';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  DeliverPolicy, DiscardPolicy, jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError, StorageType,
  type JetStreamClient, type JetStreamManager, type StreamConfig,
} from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { decodeFrame, encodeFrame, SpoolFullError, type SpoolMessage } from './spool.js';

export const SUBJECT_PREFIX = 'se.ingest';

export interface JetStreamLogOptions {
  servers: string | string[];
  /** NATS user and password, when the servers require them */
  user?: string | undefined;
  pass?: string | undefined;
  stream?: string;
  /** partition p is subject `<prefix>.<p>`; default se.ingest */
  subjectPrefix?: string;
  /** P: fixed when the stream is created; an existing stream with another P is refused */
  partitions: number;
  /** stream replicas (3 in a three-server NATS cluster) */
  replicas?: number;
  /** this node's id, part of every batch's stream message id */
  nodeId: string;
  /** refuse appends at once while this many bytes wait for JetStream's acknowledgement */
  maxPendingBytes: number;
  log: Logger;
  /** how long one publish waits for its PubAck (ms) */
  publishTimeoutMs?: number;
  /** attempts per batch (same message id each time) before its appends fail */
  publishAttempts?: number;
  /** how long an append that finds its partition idle waits for others to join it (ms); 0 (default): those of the same event-loop turn */
  lingerMs?: number;
  maxBatchMessages?: number;
  maxBatchBytes?: number;
  /** duplicate window of a newly created stream (ms) */
  duplicateWindowMs?: number;
  /**
   * bytes the stream may hold (like SPOOL_MAX_BYTES; default 1 GiB): beyond,
   * JetStream refuses new batches (discard new, never drop unprocessed ones)
   * and appends fail with LogFullError until trim() frees committed batches
   */
  maxStreamBytes?: number;
}

/** One message read back, with its position: the stream sequence of its batch and its index within it. */
export interface LogEntry extends SpoolMessage {
  partition: number;
  seq: number;
  idx: number;
}

export interface LogBatch {
  partition: number;
  entries: LogEntry[];
  afterSeq: number;
  /** stream sequence of the last batch read (= afterSeq when nothing was read): the next read's afterSeq */
  lastSeq: number;
  bytes: number;
}

/** 503, like a full spool: the broker refuses the publish and the gateway retries later. */
export class LogFullError extends SpoolFullError {
  constructor(limit: number, message = `cluster log backlog full (${limit} bytes waiting for JetStream to acknowledge); refusing new messages until NATS catches up`) {
    super(limit, message);
  }
}

/** JetStream's answer when a discard-new stream is at max_bytes (or max_msgs). */
/** nobody answers for the stream: it has no leader right now (or JetStream is off) */
const noStreamLeader = (e: unknown): boolean => e instanceof Error && e.name === 'JetStreamNotEnabled';
const streamFull = (e: unknown): boolean => e instanceof Error && /maximum (bytes|messages) exceeded/i.test(e.message);

/** FNV-1a (32 bit) of the key's UTF-8 bytes, modulo P: the same on every node and across restarts. */
export function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(key)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}

const describe = (p: number) => `se-monitor ingest log; partitions=${p}`;
const partitionsOfStream = (cfg: StreamConfig): number | null => {
  const m = /partitions=(\d+)/.exec(cfg.description ?? '');
  return m ? Number(m[1]) : null;
};

interface Pending { frame: Buffer; resolve: () => void; reject: (e: Error) => void }

interface Partition {
  queue: Pending[];
  queuedBytes: number;
  busy: boolean;
  /** cancels the scheduled flush */
  timer: (() => void) | undefined;
}

export class JetStreamLog {
  readonly stream: string;
  readonly partitions: number;
  /** bytes appended and not yet acknowledged or failed */
  pendingBytes = 0;
  /** stream messages published (batches) and appends acknowledged, since open */
  batches = 0;
  appended = 0;
  /** publishes attempted again (same message id) after a failure or timeout */
  retries = 0;
  private readonly parts: Partition[];
  private readonly writer: string;
  private batchSeq = 0;
  private closed = false;
  private readonly maxPayload: number;
  private readonly prefix: string;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly opts: JetStreamLogOptions,
  ) {
    this.stream = opts.stream ?? 'SE_INGEST';
    this.partitions = opts.partitions;
    this.prefix = opts.subjectPrefix ?? SUBJECT_PREFIX;
    this.writer = `${opts.nodeId}.${randomBytes(4).toString('hex')}`;
    this.parts = Array.from({ length: opts.partitions }, () => ({ queue: [], queuedBytes: 0, busy: false, timer: undefined }));
    // room for the headers each publish carries (message id, expected stream)
    this.maxPayload = (nc.info?.max_payload ?? 1024 * 1024) - 1024;
  }

  static async open(opts: JetStreamLogOptions): Promise<JetStreamLog> {
    if (!Number.isInteger(opts.partitions) || opts.partitions < 1) throw new Error(`partitions must be a positive integer, got ${opts.partitions}`);
    const nc = await connect({
      servers: opts.servers,
      ...(opts.user !== undefined ? { user: opts.user, pass: opts.pass } : {}),
      name: `se-monitor ${opts.nodeId}`,
      timeout: 5_000,
      // A NATS server restarting or failing over must not end the connection: appends wait (bounded) and retry.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    try {
      const jsm = await jetstreamManager(nc, { timeout: 5_000 });
      const log = new JetStreamLog(nc, jetstream(nc, { timeout: opts.publishTimeoutMs ?? 5_000 }), jsm, opts);
      await log.ensureStream();
      nc.closed().then((err) => err && opts.log.error({ err }, 'NATS connection closed with an error'));
      return log;
    } catch (e) {
      await nc.close().catch(() => undefined);
      throw e;
    }
  }

  private async ensureStream(): Promise<void> {
    const P = this.partitions;
    try {
      const info = await this.jsm.streams.info(this.stream);
      const existing = partitionsOfStream(info.config) ?? info.config.subjects?.length ?? 0;
      if (existing !== P) {
        throw new Error(
          `JetStream stream ${this.stream} has ${existing} partitions but ${P} are configured; the partition count is fixed when the stream is created ` +
            `(set the partitions back to ${existing}, or drain the stream and delete it to change it)`,
        );
      }
      if ((info.config.num_replicas ?? 1) !== (this.opts.replicas ?? 1)) {
        this.opts.log.warn({ stream: this.stream, replicas: info.config.num_replicas, configured: this.opts.replicas ?? 1 }, 'JetStream stream exists with another replica count; keeping it (change it with `nats stream edit --replicas`)');
      }
      this.checkRetrySpan(info.config.duplicate_window);
      if (!info.config.allow_direct) await this.jsm.streams.update(this.stream, { ...info.config, allow_direct: true });
      return;
    } catch (e) {
      if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound)) throw e;
    }
    this.checkRetrySpan(nanos(this.opts.duplicateWindowMs ?? 120_000));
    await this.jsm.streams.add({
      name: this.stream,
      description: describe(P),
      subjects: Array.from({ length: P }, (_, p) => this.subjectOf(p)),
      storage: StorageType.File,
      num_replicas: this.opts.replicas ?? 1,
      duplicate_window: nanos(this.opts.duplicateWindowMs ?? 120_000),
      max_bytes: this.opts.maxStreamBytes ?? 1024 ** 3,
      discard: DiscardPolicy.New,
      allow_direct: true,
    });
    this.opts.log.info({ stream: this.stream, partitions: P, replicas: this.opts.replicas ?? 1 }, 'created the JetStream ingest stream');
  }

  /** A retry after the duplicate window would store a batch twice: the attempts must end well within it. */
  private checkRetrySpan(windowNanos: number): void {
    const attempts = this.opts.publishAttempts ?? 3;
    const span = attempts * (this.opts.publishTimeoutMs ?? 5_000) + attempts * 1_000;
    if (span * 1e6 >= windowNanos) {
      throw new Error(`publish attempts span up to ${span} ms but the stream's duplicate window is ${windowNanos / 1e6} ms: a retried batch could be stored twice; use fewer attempts or a shorter publish timeout`);
    }
  }

  /** The node's NATS connection, shared with the cluster's bus (storage/nats-bus.ts). */
  get connection(): NatsConnection {
    return this.nc;
  }

  subjectOf(p: number): string {
    return `${this.prefix}.${p}`;
  }

  partitionOf(key: string): number {
    return partitionOf(key, this.partitions);
  }

  /** Resolves once JetStream has stored the message; rejects (never acknowledge it then) on a full backlog or a failed publish. */
  append(msg: SpoolMessage, key: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error('cluster log is closed'));
    const frame = encodeFrame(msg);
    if (frame.length > this.maxPayload) {
      return Promise.reject(new Error(`message of ${frame.length} bytes exceeds what one NATS message can carry (max_payload less headers: ${this.maxPayload} bytes)`));
    }
    if (this.pendingBytes + frame.length > this.opts.maxPendingBytes) return Promise.reject(new LogFullError(this.opts.maxPendingBytes));
    const p = this.partitionOf(key);
    const part = this.parts[p]!;
    this.pendingBytes += frame.length;
    return new Promise<void>((resolve, reject) => {
      part.queue.push({ frame, resolve, reject });
      part.queuedBytes += frame.length;
      if (part.busy) return; // the publish in flight sends the queue when it is done
      if (part.queuedBytes >= this.maxBatchBytes || part.queue.length >= this.maxBatchMessages) {
        part.timer?.();
        part.timer = undefined;
        void this.flush(p);
      } else if (!part.timer) {
        const go = () => {
          part.timer = undefined;
          void this.flush(p);
        };
        const linger = this.opts.lingerMs ?? 0;
        // 0: only what arrives in the same turn of the event loop joins (as the file spool does)
        if (linger > 0) {
          const t = setTimeout(go, linger);
          part.timer = () => clearTimeout(t);
        } else {
          const t = setImmediate(go);
          part.timer = () => clearImmediate(t);
        }
      }
    });
  }

  private get maxBatchMessages(): number {
    return this.opts.maxBatchMessages ?? 200;
  }

  private get maxBatchBytes(): number {
    return Math.min(this.opts.maxBatchBytes ?? 256 * 1024, this.maxPayload);
  }

  private async flush(p: number): Promise<void> {
    const part = this.parts[p]!;
    if (part.busy || part.queue.length === 0) return;
    part.busy = true;
    try {
      while (part.queue.length) {
        // Take whole frames up to the batch bounds (always at least one).
        let n = 0;
        let bytes = 0;
        while (n < part.queue.length && n < this.maxBatchMessages && (n === 0 || bytes + part.queue[n]!.frame.length <= this.maxBatchBytes)) {
          bytes += part.queue[n]!.frame.length;
          n += 1;
        }
        const batch = part.queue.splice(0, n);
        part.queuedBytes -= bytes;
        const err = await this.publish(p, batch);
        this.pendingBytes -= bytes;
        if (err) for (const b of batch) b.reject(err);
        else {
          this.batches += 1;
          this.appended += batch.length;
          for (const b of batch) b.resolve();
        }
      }
    } finally {
      part.busy = false;
    }
  }

  /** Publishes one batch, retrying with the same message id; the error if every attempt failed. */
  private async publish(p: number, batch: Pending[]): Promise<Error | undefined> {
    const data = batch.length === 1 ? batch[0]!.frame : Buffer.concat(batch.map((b) => b.frame));
    const msgID = `${this.writer}:${p}:${++this.batchSeq}`;
    const attempts = this.opts.publishAttempts ?? 3;
    const timeout = this.opts.publishTimeoutMs ?? 5_000;
    // A stream without a leader (its server just died, RAFT electing another)
    // answers "no responders" at once: such failures do not use up an attempt
    // but are retried within the time the attempts may take (which the
    // duplicate window covers, checkRetrySpan), so a leader election stalls
    // appends instead of refusing them.
    const span = attempts * (timeout + 1_000);
    const started = Date.now();
    let last: Error | undefined;
    let a = 0;
    let tries = 0;
    while (a < attempts) {
      tries += 1;
      if (this.closed && this.nc.isClosed()) break;
      try {
        await this.js.publish(this.subjectOf(p), data, { msgID, timeout, expect: { streamName: this.stream } });
        return undefined;
      } catch (e) {
        last = e as Error;
        // Full: retrying cannot help until committed batches are trimmed; refuse now, the gateway retries later.
        if (streamFull(e)) {
          return new LogFullError(this.opts.maxStreamBytes ?? 1024 ** 3, `JetStream stream ${this.stream} is full (max_bytes reached: batches not yet processed and trimmed); refusing new messages until processing catches up`);
        }
        this.opts.log.warn({ err: e, partition: p, msgID, attempt: tries, messages: batch.length }, 'JetStream publish failed');
        const pause = Math.min(1_000, 100 * 2 ** Math.min(tries, 4));
        if (Date.now() - started + pause + timeout > span) break; // another try could end beyond the duplicate window's cover
        if (!noStreamLeader(e)) a += 1;
        if (a < attempts) {
          await new Promise((r) => setTimeout(r, pause));
          this.retries += 1;
        }
      }
    }
    return new Error(`JetStream did not store a batch of ${batch.length} messages on ${this.subjectOf(p)} after ${tries} attempts: ${last?.message ?? 'connection closed'}`, { cause: last });
  }

  /**
   * The batches of one partition after stream sequence `afterSeq`, whole
   * batches up to about maxBytes (at least one), by direct get: stateless,
   * so any node that takes the partition over reads from its committed position.
   */
  async read(partition: number, afterSeq: number, maxBytes: number): Promise<LogBatch> {
    const entries: LogEntry[] = [];
    let seq = afterSeq;
    let bytes = 0;
    while (bytes < maxBytes || entries.length === 0) {
      const sm = await this.jsm.direct.getMessage(this.stream, { seq: seq + 1, next_by_subj: this.subjectOf(partition) });
      if (!sm) break;
      const data = Buffer.from(sm.data.buffer, sm.data.byteOffset, sm.data.byteLength);
      let at = 0;
      let idx = 0;
      while (at < data.length) {
        const f = decodeFrame(data, at);
        if (!f) {
          // Frames are CRC-checked: a batch JetStream handed back damaged is logged, not silently half-read.
          this.opts.log.error({ partition, seq: sm.seq, at, bytes: data.length }, 'cluster log: corrupt frame in a stream message; the rest of it is skipped');
          break;
        }
        entries.push({ ...f.msg, partition, seq: sm.seq, idx: idx++ });
        at += f.size;
      }
      seq = sm.seq;
      bytes += data.length;
      if (!entries.length && bytes >= maxBytes) break;
    }
    return { partition, entries, afterSeq, lastSeq: seq, bytes };
  }

  /** Removes the partition's batches up to and including `throughSeq` (processed and committed), freeing the stream's bytes. */
  async trim(partition: number, throughSeq: number): Promise<number> {
    const r = await this.jsm.streams.purge(this.stream, { filter: this.subjectOf(partition), seq: throughSeq + 1 });
    return r.purged;
  }

  /**
   * Calls fn with the stream sequence of each batch stored on the partition
   * from now on: the owner's cue to read (instead of polling). An ordered
   * consumer with headers only, so a watcher receives no payload bytes and
   * hears only of batches already stored. Returns stop().
   */
  async watch(partition: number, fn: (seq: number) => void): Promise<() => Promise<void>> {
    const c = await this.js.consumers.get(this.stream, { filter_subjects: this.subjectOf(partition), deliver_policy: DeliverPolicy.New, headers_only: true });
    const msgs = await c.consume({ max_messages: 1_000 });
    const loop = (async () => {
      for await (const m of msgs) {
        try {
          fn(m.seq);
        } catch (err) {
          this.opts.log.error({ err, partition }, 'cluster log watcher threw');
        }
      }
    })();
    return async () => {
      await msgs.close();
      await loop;
    };
  }

  /** Stream sequence of the partition's last batch; 0 when it has none. */
  async lastSeq(partition: number): Promise<number> {
    const sm = await this.jsm.direct.getMessage(this.stream, { last_by_subj: this.subjectOf(partition) });
    return sm?.seq ?? 0;
  }

  /** Sends what is queued (bounded by the publish timeout), then closes the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (let p = 0; p < this.parts.length; p++) {
      const part = this.parts[p]!;
      if (part.timer) {
        part.timer?.();
        part.timer = undefined;
        void this.flush(p);
      }
    }
    const deadline = Date.now() + (this.opts.publishTimeoutMs ?? 5_000) * (this.opts.publishAttempts ?? 3) + 1_000;
    while (this.parts.some((x) => x.busy || x.queue.length) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await this.nc.drain().catch(() => this.nc.close());
  }
}
