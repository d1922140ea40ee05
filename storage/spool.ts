// The durable spool: every accepted message is appended here before it is
// acknowledged (PUBACK or HTTP 202), and removed only after InfluxDB has
// stored it. Append-only segment files of CRC-checked frames plus a
// checkpoint of the first frame not yet stored.
//
// Durability: appends are group-committed. A batch is written with write(2)
// before any of its callbacks run, so an acknowledged message survives
// SIGKILL of the process (it is in the kernel's page cache). With
// fsync "always" (the default) the callbacks also wait for fdatasync(2), so
// it survives power loss too; "interval" syncs on a timer (up to that many
// ms of acknowledged messages can be lost on power loss), "none" leaves it
// to the kernel.
import {
  closeSync, existsSync, fdatasync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync,
  renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync, fsyncSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from 'pino';
import { Listeners } from '../domain/listeners.js';
import { AppError } from '../common/errors.js';

export type FsyncPolicy = 'always' | 'interval' | 'none';

export interface SpoolOptions {
  dir: string;
  /** refuse new appends once this many bytes wait to be stored */
  maxBytes: number;
  segmentBytes?: number;
  fsync: FsyncPolicy;
  fsyncIntervalMs?: number;
  log: Logger;
}

/** `qos` value of a message that came over HTTP rather than MQTT */
export const HTTP_TRANSPORT = 128;

export interface SpoolMessage {
  /** MQTT QoS 0–2, or HTTP_TRANSPORT */
  qos: number;
  topic: string;
  sender: string;
  receivedAt: number;
  payload: Buffer;
  /** the cluster's partition key when the caller has it (the equipment code, else the sender); not stored in the frame */
  key?: string | undefined;
}

/**
 * Where an accepted publish goes before it is acknowledged (broker, HTTP ingest): the file spool in one
 * process, the cluster's replicated log (storage/cluster-ingress.ts) in a cluster. `cb`/the promise
 * completes once the message is durable there; an error means: do not acknowledge.
 */
export interface IngressLog {
  append(m: SpoolMessage, cb: (err?: Error) => void): void;
  appendAsync(m: SpoolMessage): Promise<void>;
  /** messages and bytes taken and not yet stored (this node's share, in a cluster) */
  readonly depthCount: number;
  readonly depthBytes: number;
  readonly limitBytes: number;
  /** new publishes are refused until storage catches up */
  readonly full: boolean;
}

export interface SpoolEntry extends SpoolMessage {
  /** segment number and byte offset: unique and stable for this message */
  seg: number;
  off: number;
}

export interface SpoolPosition {
  seg: number;
  off: number;
}

export interface SpoolBatch {
  entries: SpoolEntry[];
  start: SpoolPosition;
  end: SpoolPosition;
  bytes: number;
  /** number of messages, when `entries` was emptied to save memory */
  count?: number;
}

/** Orders spool positions: negative when a is before b. */
export const comparePositions = (a: SpoolPosition, b: SpoolPosition): number => a.seg - b.seg || a.off - b.off;

/** 503: the service is sound but cannot take more until InfluxDB catches up. */
export class SpoolFullError extends AppError {
  constructor(limit: number, message = `spool full (${limit} bytes waiting for InfluxDB); refusing new messages until storage catches up`) {
    super(message, 503);
  }
}

const HEADER = 8; // u32 body length, u32 crc32(body)
/** Recent writes kept for the accept stage's reads (Spool.recent): a few hundred milliseconds at full load. */
const RECENT_BYTES = 2 * 1024 * 1024;
const segName = (n: number) => `${String(n).padStart(10, '0')}.seg`;

/** One CRC-checked frame; the cluster log (storage/jetstream-log.ts) batches these too. */
export function encodeFrame(m: SpoolMessage): Buffer {
  const topic = Buffer.from(m.topic);
  const sender = Buffer.from(m.sender);
  const bodyLen = 1 + 8 + 2 + topic.length + 2 + sender.length + m.payload.length;
  const buf = Buffer.allocUnsafe(HEADER + bodyLen);
  let o = HEADER;
  buf.writeUInt8(m.qos, o); o += 1;
  buf.writeDoubleLE(m.receivedAt, o); o += 8;
  buf.writeUInt16LE(topic.length, o); o += 2;
  topic.copy(buf, o); o += topic.length;
  buf.writeUInt16LE(sender.length, o); o += 2;
  sender.copy(buf, o); o += sender.length;
  m.payload.copy(buf, o);
  buf.writeUInt32LE(bodyLen, 0);
  buf.writeUInt32LE(crc32(buf.subarray(HEADER)), 4);
  return buf;
}

/** Decodes the frame at `at`; null if incomplete or corrupt (a torn tail). */
export function decodeFrame(buf: Buffer, at: number): { msg: SpoolMessage; size: number } | null {
  const e = entryAt(buf, at, true, 0);
  return e && { msg: e, size: e.off - at };
}

/**
 * The frame at `at` of `buf` as an entry of segment `seg`, or null if incomplete or, with `verify`, corrupt. Its
 * `off` is where the frame ends in `buf`, for the caller to take and then set to the frame's own offset in the
 * segment (one object of one shape, built once).
 */
function entryAt(buf: Buffer, at: number, verify: boolean, seg: number): SpoolEntry | null {
  if (buf.length - at < HEADER) return null;
  const len = buf.readUInt32LE(at);
  if (len < 13 || buf.length - at - HEADER < len) return null;
  let o = at + HEADER;
  const end = o + len;
  if (verify && crc32(buf.subarray(o, end)) !== buf.readUInt32LE(at + 4)) return null;
  const qos = buf.readUInt8(o); o += 1;
  const receivedAt = buf.readDoubleLE(o); o += 8;
  const tl = buf.readUInt16LE(o); o += 2;
  const topic = buf.toString('utf8', o, o + tl); o += tl;
  const sl = buf.readUInt16LE(o); o += 2;
  const sender = buf.toString('utf8', o, o + sl); o += sl;
  return { qos, receivedAt, topic, sender, payload: buf.subarray(o, end), seg, off: end };
}

/**
 * Walks the frames of `buf` from `at` (up to `stopAt`): how many there are and
 * where the last complete one ends. With `verify`, each frame's CRC is checked
 * (a torn tail); without, only the lengths are followed (a synced segment).
 */
function countFrames(buf: Buffer, at: number, verify: boolean, stopAt = buf.length): { frames: number; end: number } {
  let frames = 0;
  while (stopAt - at >= HEADER) {
    const len = buf.readUInt32LE(at);
    if (len < 13 || stopAt - at - HEADER < len) break;
    if (verify && crc32(buf.subarray(at + HEADER, at + HEADER + len)) !== buf.readUInt32LE(at + 4)) break;
    at += HEADER + len;
    frames += 1;
  }
  return { frames, end: at };
}

// A sealed segment's frame count, so that opening needs no pass over it.
const countName = (n: number) => `${String(n).padStart(10, '0')}.count`;

function readFrameCount(dir: string, seg: number, size: number): number | null {
  try {
    const c = JSON.parse(readFileSync(join(dir, countName(seg)), 'utf8')) as { bytes?: unknown; frames?: unknown };
    return c.bytes === size && Number.isInteger(c.frames) ? (c.frames as number) : null;
  } catch {
    return null; // missing (sealed by an older version, or a crash right after sealing): count the frames
  }
}

interface Pending { frame: Buffer; cb: (err?: Error) => void }

function readCheckpoint(path: string, log: Logger): { seg: number; off: number } | null {
  if (!existsSync(path)) return null;
  try {
    const cp = JSON.parse(readFileSync(path, 'utf8')) as { seg: unknown; off: unknown };
    if (Number.isInteger(cp.seg) && Number.isInteger(cp.off) && (cp.off as number) >= 0) return cp as { seg: number; off: number };
  } catch {
    /* fall through */
  }
  // Replaying from the first segment is safe: stored messages are idempotent.
  log.warn({ path }, 'spool checkpoint unreadable; replaying the spool from its first segment');
  return null;
}

export class Spool implements IngressLog {
  private fd: number;
  private seg: number;
  private size: number;
  /** bytes of the current segment that are durable per the fsync policy: what readers may see */
  private readable = 0;
  private sealed = new Map<number, number>(); // finished segment → size
  private checkpoint: { seg: number; off: number };
  private cursor: { seg: number; off: number };
  private pending: Pending[] = [];
  private scheduled = false;
  private syncing = false;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: Listeners<[]>;
  private readonly segmentBytes: number;
  /** frames in the current segment, recorded in its count file when it is sealed */
  private segFrames = 0;
  /**
   * What the last appends wrote, oldest first, up to RECENT_BYTES: the accept stage reads a message moments
   * after it was written, and takes it from here instead of reading the file again and checking its CRC.
   */
  private recent: { seg: number; off: number; buf: Buffer }[] = [];
  private recentBytes = 0;
  /** bytes skipped because they held no valid frame (a corrupt spool), since start */
  corruptBytes = 0;
  /** bytes and messages appended but not yet stored */
  depthBytes = 0;
  depthCount = 0;
  closed = false;

  private constructor(private opts: SpoolOptions) {
    this.segmentBytes = opts.segmentBytes ?? 64 * 1024 * 1024;
    this.listeners = new Listeners('spool append', opts.log);
    mkdirSync(opts.dir, { recursive: true });
    const cpPath = join(opts.dir, 'checkpoint.json');
    const segs = readdirSync(opts.dir).filter((f) => f.endsWith('.seg')).map((f) => Number(f.slice(0, -4))).sort((a, b) => a - b);
    this.checkpoint = readCheckpoint(cpPath, opts.log) ?? { seg: segs[0] ?? 1, off: 0 };
    // A checkpoint past the segments that exist (lost with them on power loss): start at the first one.
    if (segs.length && !segs.includes(this.checkpoint.seg) && this.checkpoint.seg > segs[segs.length - 1]!) this.checkpoint = { seg: segs[0]!, off: 0 };
    if (segs.length && this.checkpoint.seg < segs[0]!) this.checkpoint = { seg: segs[0]!, off: 0 };
    if (segs.length === 0) segs.push(this.checkpoint.seg);
    // Opening must stay fast whatever the spool holds (the broker listens only after it):
    // only the last segment can hold a torn tail (a segment is synced before the next
    // one starts), so only it is checked frame by frame; sealed segments are counted
    // from the count file written when they were sealed.
    const last = segs[segs.length - 1]!;
    for (const s of segs) {
      if (s < this.checkpoint.seg || s === last) continue;
      const path = join(opts.dir, segName(s));
      const size = statSync(path).size;
      const from = s === this.checkpoint.seg ? Math.min(this.checkpoint.off, size) : 0;
      const frames = from === 0 ? readFrameCount(opts.dir, s, size) : null;
      this.depthCount += frames ?? countFrames(readFileSync(path), from, false).frames;
      this.depthBytes += size - from;
      this.sealed.set(s, size);
    }
    const path = join(opts.dir, segName(last));
    const data = existsSync(path) ? readFileSync(path) : Buffer.alloc(0);
    const from = last === this.checkpoint.seg ? Math.min(this.checkpoint.off, data.length) : 0;
    if (last === this.checkpoint.seg) this.checkpoint.off = from;
    const head = countFrames(data, 0, false, from);
    const tail = countFrames(data, from, true);
    if (tail.end < data.length) {
      opts.log.warn({ segment: path, kept: tail.end, dropped: data.length - tail.end }, 'spool: cutting a torn tail (an append that never completed, so never acknowledged)');
      const fd = openSync(path, 'r+');
      ftruncateSync(fd, tail.end);
      fsyncSync(fd);
      closeSync(fd);
    }
    this.depthCount += tail.frames;
    this.depthBytes += tail.end - from;
    this.segFrames = head.frames + tail.frames;
    this.seg = last;
    this.fd = openSync(path, 'a');
    this.size = fstatSync(this.fd).size;
    this.readable = this.size;
    this.cursor = { ...this.checkpoint };
    for (const s of segs) if (s < this.checkpoint.seg) this.unlinkSegment(s);
    if (opts.fsync === 'interval') {
      this.timer = setInterval(() => this.syncNow(), opts.fsyncIntervalMs ?? 100);
      this.timer.unref();
    }
  }

  static open(opts: SpoolOptions): Spool {
    return new Spool(opts);
  }

  get full(): boolean {
    return this.depthBytes >= this.opts.maxBytes;
  }

  get limitBytes(): number {
    return this.opts.maxBytes;
  }

  /** Appends; `cb` runs once the message is durable per the fsync policy. */
  append(m: SpoolMessage, cb: (err?: Error) => void): void {
    if (this.closed) return cb(new Error('spool is closed'));
    if (this.full) return cb(new SpoolFullError(this.opts.maxBytes));
    this.pending.push({ frame: encodeFrame(m), cb });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  appendAsync(m: SpoolMessage): Promise<void> {
    return new Promise((res, rej) => this.append(m, (e) => (e ? rej(e) : res())));
  }

  /**
   * Writes what waits and starts its fsync now instead of at the flush scheduled for the end of this turn of the
   * event loop: the ingest stages call it before a slice of their work, so the fsync runs during the slice and the
   * PUBACKs go out right after it, not a slice later.
   */
  flushNow(): void {
    if (this.scheduled) this.flush();
  }

  private flush(): void {
    this.scheduled = false;
    if (this.syncing || this.pending.length === 0) return; // the running sync flushes again when done
    const batch = this.pending;
    this.pending = [];
    const done = (err?: Error) => {
      for (const p of batch) p.cb(err);
    };
    try {
      if (this.size >= this.segmentBytes) this.rotate();
      const buf = batch.length === 1 ? batch[0]!.frame : Buffer.concat(batch.map((p) => p.frame));
      let written = 0;
      try {
        while (written < buf.length) written += writeSync(this.fd, buf, written);
      } catch (e) {
        // e.g. ENOSPC part-way: cut the partial frames so later appends stay readable.
        if (written > 0) ftruncateSync(this.fd, this.size);
        throw e;
      }
      this.remember(this.seg, this.size, buf);
      this.size += buf.length;
      this.segFrames += batch.length;
      this.depthBytes += buf.length;
      this.depthCount += batch.length;
    } catch (e) {
      this.opts.log.error({ err: e }, 'spool append failed');
      return done(e as Error);
    }
    if (this.opts.fsync !== 'always') {
      this.dirty = true;
      this.published(this.size);
      return done();
    }
    this.syncing = true;
    const synced = this.size;
    fdatasync(this.fd, (err) => {
      this.syncing = false;
      // Readers (rules, storage) see a message only once it is as durable as its acknowledgement says.
      if (!err) this.published(synced);
      done(err ?? undefined);
      if (this.pending.length && !this.scheduled) this.flush();
    });
  }

  private remember(seg: number, off: number, buf: Buffer): void {
    this.recent.push({ seg, off, buf });
    this.recentBytes += buf.length;
    let drop = 0;
    while (this.recentBytes > RECENT_BYTES && drop < this.recent.length - 1) this.recentBytes -= this.recent[drop++]!.buf.length;
    if (drop) this.recent.splice(0, drop);
  }

  /** The recent write holding the byte at (seg, off), if still kept. */
  private recentAt(seg: number, off: number): { seg: number; off: number; buf: Buffer } | undefined {
    const r = this.recent;
    let lo = 0;
    let hi = r.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = r[mid]!;
      if (c.seg < seg || (c.seg === seg && c.off + c.buf.length <= off)) lo = mid + 1;
      else if (c.seg > seg || c.off > off) hi = mid - 1;
      else return c;
    }
    return undefined;
  }

  private published(upTo: number): void {
    this.readable = upTo;
    this.listeners.emit(); // a throwing listener is logged: it must not keep the appends waiting for their acknowledgement
  }

  private syncNow(): void {
    if (!this.dirty || this.syncing) return;
    this.dirty = false;
    this.syncing = true;
    fdatasync(this.fd, () => {
      this.syncing = false;
      if (this.pending.length && !this.scheduled) this.flush();
    });
  }

  private rotate(): void {
    const next = openSync(join(this.opts.dir, segName(this.seg + 1)), 'a'); // open first: a failure leaves the current segment in use
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.sealed.set(this.seg, this.size);
    writeFileSync(join(this.opts.dir, countName(this.seg)), JSON.stringify({ bytes: this.size, frames: this.segFrames }));
    this.seg += 1;
    this.fd = next;
    this.size = 0;
    this.segFrames = 0;
    this.readable = 0;
  }

  /** Calls `fn` whenever new messages can be read (appended and, with fsync `always`, synced). */
  onAppend(fn: () => void): () => void {
    return this.listeners.on(fn);
  }

  /** Reads up to about maxBytes of messages after the read cursor (not yet committed). */
  read(maxBytes: number): SpoolBatch {
    const start = { ...this.cursor };
    const r = this.readAt(start, maxBytes);
    this.cursor = r.end;
    return { ...r, start };
  }

  /** Reads again exactly the messages of a batch read before (not yet committed), e.g. after its decoded form was dropped to save memory. */
  reread(batch: Pick<SpoolBatch, 'start' | 'end' | 'bytes'>): SpoolBatch {
    if (comparePositions(batch.start, this.checkpoint) < 0) throw new Error('spool: cannot re-read a batch that is already committed');
    const r = this.readAt(batch.start, batch.bytes, batch.end);
    if (comparePositions(r.end, batch.end) !== 0) throw new Error(`spool: re-read ended at ${r.end.seg}:${r.end.off}, expected ${batch.end.seg}:${batch.end.off}`);
    return { ...r, start: batch.start };
  }

  private readAt(from: SpoolPosition, maxBytes: number, stopAt?: SpoolPosition): { entries: SpoolEntry[]; end: SpoolPosition; bytes: number } {
    const entries: SpoolEntry[] = [];
    let bytes = 0;
    let cursor = { ...from };
    // A re-read goes on to its end even past maxBytes: a batch that ended at a segment's end ended at the next one's start.
    while (stopAt ? comparePositions(cursor, stopAt) < 0 : bytes < maxBytes) {
      const { seg, off } = cursor;
      const segEnd = seg === this.seg ? this.readable : this.sealed.get(seg);
      if (segEnd === undefined) break;
      const end = stopAt && stopAt.seg === seg ? Math.min(segEnd, stopAt.off) : segEnd;
      if (off >= end) {
        if (seg === this.seg || (stopAt && stopAt.seg === seg)) break;
        cursor = { seg: seg + 1, off: 0 };
        continue;
      }
      const cached = this.recentAt(seg, off);
      if (cached) {
        // Whole frames, written by this process: no CRC to check, no copy.
        const stop = Math.min(cached.off + cached.buf.length, end) - cached.off;
        let at = off - cached.off;
        while (at < stop && (stopAt || bytes < maxBytes)) {
          const e = entryAt(cached.buf, at, false, seg)!;
          const next = e.off;
          e.off = cached.off + at;
          entries.push(e);
          bytes += next - at;
          at = next;
        }
        cursor = { seg, off: cached.off + at };
        continue;
      }
      const len = Math.min(end - off, Math.max(maxBytes - bytes, 64 * 1024));
      const buf = Buffer.allocUnsafe(len);
      const fd = openSync(join(this.opts.dir, segName(seg)), 'r');
      try {
        let got = 0;
        while (got < len) {
          const n = readSync(fd, buf, got, len - got, off + got);
          if (n === 0) break;
          got += n;
        }
      } finally {
        closeSync(fd);
      }
      let at = 0;
      while (at < len) {
        const e = entryAt(buf, at, true, seg);
        if (!e) break;
        const next = e.off;
        e.off = off + at;
        entries.push(e);
        at = next;
      }
      if (at === 0) {
        // A frame larger than the read window: read exactly that frame next time.
        const need = buf.readUInt32LE(0) + HEADER;
        if (need > len && need <= end - off) {
          maxBytes = bytes + need;
          continue;
        }
        // A corrupt frame (a bad block, a hand edit): skip to the next frame
        // whose CRC holds. Stopping here would stall storage for good and,
        // once the spool is full, refuse every publish.
        const next = this.resync(seg, off + 1, end);
        if (!stopAt) {
          // counted and logged once: a re-read skips the same bytes again
          this.corruptBytes += next - off;
          this.opts.log.error({ seg, off, skippedBytes: next - off }, 'spool corrupt: skipped bytes that hold no valid frame; the messages in them are lost');
        }
        cursor = { seg, off: next };
        bytes += next - off;
        continue;
      }
      cursor = { seg, off: off + at };
      bytes += at;
    }
    return { entries, end: cursor, bytes };
  }

  /** The offset of the first frame in [from, end) of a segment whose length and CRC hold, or end. */
  private resync(seg: number, from: number, end: number): number {
    const buf = Buffer.allocUnsafe(end - from);
    const fd = openSync(join(this.opts.dir, segName(seg)), 'r');
    try {
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, from + got);
        if (n === 0) break;
        got += n;
      }
    } finally {
      closeSync(fd);
    }
    for (let p = 0; p + HEADER <= buf.length; p++) if (decodeFrame(buf, p)) return from + p;
    return end;
  }

  /** Rewinds the read cursor to the checkpoint (after a failed store, to read the same messages again). */
  rewind(): void {
    this.cursor = { ...this.checkpoint };
  }

  /** Marks everything up to the batch's end as stored: moves the checkpoint, frees old segments. */
  commit(batch: SpoolBatch): void {
    this.checkpoint = { ...batch.end };
    // Not fsynced: after power loss an old or empty checkpoint only means a
    // longer replay (stored points are idempotent; an unreadable checkpoint
    // replays from the first segment), and a sync per batch would stall ingest.
    const tmp = join(this.opts.dir, 'checkpoint.json.tmp');
    writeFileSync(tmp, JSON.stringify(this.checkpoint));
    renameSync(tmp, join(this.opts.dir, 'checkpoint.json'));
    this.depthBytes -= batch.bytes;
    this.depthCount -= batch.count ?? batch.entries.length;
    // Everything written is stored: nothing waits, whatever a skipped corrupt range held.
    if (this.checkpoint.seg === this.seg && this.checkpoint.off === this.size) this.depthBytes = this.depthCount = 0;
    for (const s of [...this.sealed.keys()]) {
      if (s < this.checkpoint.seg) {
        this.sealed.delete(s);
        this.unlinkSegment(s);
      }
    }
  }

  private unlinkSegment(s: number): void {
    unlinkSync(join(this.opts.dir, segName(s)));
    rmSync(join(this.opts.dir, countName(s)), { force: true });
  }

  /** Waits for pending appends, syncs and closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    while (this.pending.length || this.syncing || this.scheduled) await new Promise((r) => setTimeout(r, 5));
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    fsyncSync(this.fd);
    closeSync(this.fd);
  }
}
