// The spool on its own: frames survive reopening, a torn tail (an append cut
// by a crash, never acknowledged) is cut off, committed segments are freed.
import { appendFileSync, closeSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Spool, SpoolFullError } from '../../storage/spool.js';
import { quietLog } from '../helpers.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const open = (dir: string, extra: Partial<Parameters<typeof Spool.open>[0]> = {}) => Spool.open({ dir, maxBytes: 10 * 1024 * 1024, fsync: 'always', log: quietLog, ...extra });
const msg = (i: number) => ({ qos: 1, topic: `se/v1/elevator/E${i}/status`, sender: 'GW1', receivedAt: 1000 + i, payload: Buffer.from(`{"n":${i}}`) });

describe('spool', () => {
  it('replays what was appended but not committed, after reopening', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    dirs.push(dir);
    const a = open(dir);
    for (let i = 0; i < 10; i++) await a.appendAsync(msg(i));
    const first = a.read(1 << 20);
    expect(first.entries).toHaveLength(10);
    a.commit({ ...first, entries: first.entries.slice(0, 4), end: { seg: first.entries[4]!.seg, off: first.entries[4]!.off }, bytes: first.entries[4]!.off });
    await a.close();
    const b = open(dir);
    expect(b.depthCount).toBe(6);
    const again = b.read(1 << 20);
    expect(again.entries.map((e) => e.payload.toString())).toEqual([4, 5, 6, 7, 8, 9].map((n) => `{"n":${n}}`));
    expect(again.entries[0]).toMatchObject({ topic: 'se/v1/elevator/E4/status', sender: 'GW1', receivedAt: 1004, qos: 1 });
    await b.close();
  });

  it('cuts a torn tail and keeps every complete frame', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    dirs.push(dir);
    const a = open(dir);
    for (let i = 0; i < 3; i++) await a.appendAsync(msg(i));
    await a.close();
    const seg = readdirSync(dir).find((f) => f.endsWith('.seg'))!;
    appendFileSync(join(dir, seg), Buffer.from([200, 0, 0, 0, 1, 2, 3])); // half a frame
    const b = open(dir);
    expect(b.read(1 << 20).entries).toHaveLength(3);
    await b.appendAsync(msg(3));
    expect(b.read(1 << 20).entries.map((e) => e.receivedAt)).toEqual([1003]);
    await b.close();
  });

  it('rotates segments, frees them once committed, and refuses when full', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    dirs.push(dir);
    const a = open(dir, { segmentBytes: 200, maxBytes: 2000, fsync: 'none' });
    let refused: unknown;
    for (let i = 0; i < 100 && !refused; i++) await a.appendAsync(msg(i)).catch((e) => (refused = e));
    expect(refused).toBeInstanceOf(SpoolFullError);
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg')).length).toBeGreaterThan(3);
    let batch = a.read(1 << 20);
    while (batch.entries.length) {
      a.commit(batch);
      batch = a.read(1 << 20);
    }
    await a.appendAsync(msg(999));
    expect(a.full).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.seg')).length).toBeLessThanOrEqual(2);
    await a.close();
  });

  it('knows its depth on reopening from the count files of sealed segments, and without them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    dirs.push(dir);
    const a = open(dir, { segmentBytes: 300, fsync: 'none' });
    for (let i = 0; i < 40; i++) await a.appendAsync(msg(i));
    const first = a.read(100); // a few frames of the first segment
    a.commit(first);
    const depth = { count: a.depthCount, bytes: a.depthBytes };
    expect(depth.count).toBe(40 - first.entries.length);
    await a.close();
    const counts = readdirSync(dir).filter((f) => f.endsWith('.count'));
    expect(counts.length).toBeGreaterThan(3);
    const b = open(dir);
    expect({ count: b.depthCount, bytes: b.depthBytes }).toEqual(depth);
    await b.close();
    for (const f of counts) rmSync(join(dir, f), { force: true });
    const c = open(dir);
    expect({ count: c.depthCount, bytes: c.depthBytes }).toEqual(depth);
    const all = [];
    for (let batch = c.read(1 << 20); batch.entries.length; batch = c.read(1 << 20)) all.push(...batch.entries);
    expect(all.map((e) => e.receivedAt)).toEqual(Array.from({ length: depth.count }, (_, k) => 1000 + first.entries.length + k));
    await c.close();
  });

  it('skips a corrupt frame in a sealed segment and goes on storing what follows, instead of stalling', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    dirs.push(dir);
    const a = open(dir, { segmentBytes: 200 });
    for (let i = 0; i < 12; i++) await a.appendAsync(msg(i));
    const all = a.read(1 << 20).entries;
    await a.close();
    // A bad block: one byte inside the body of the second frame of the first (sealed) segment.
    const victim = all[1]!;
    expect(victim.seg).toBe(all[0]!.seg);
    const fd = openSync(join(dir, `${String(victim.seg).padStart(10, '0')}.seg`), 'r+');
    const b1 = Buffer.alloc(1);
    readSync(fd, b1, 0, 1, victim.off + 20);
    writeSync(fd, Buffer.from([b1[0]! ^ 0xff]), 0, 1, victim.off + 20);
    closeSync(fd);

    const b = open(dir);
    const seen: number[] = [];
    for (let batch = b.read(100); batch.entries.length || batch.bytes; batch = b.read(100)) {
      // a re-read (the pipeline's dropped batches) skips the same bytes and ends where the read did
      expect(b.reread(batch).end).toEqual(batch.end);
      seen.push(...batch.entries.map((e) => e.receivedAt));
      b.commit(batch);
    }
    expect(seen).toEqual([0, ...Array.from({ length: 10 }, (_, i) => i + 2)].map((i) => 1000 + i));
    expect(b.corruptBytes).toBe(all[2]!.off - victim.off);
    expect(b.depthCount).toBe(0);
    expect(b.depthBytes).toBe(0);
    await b.close();
  });

  it('reads recent appends from memory exactly as from the files: same entries, positions and batch ends, across segments and evictions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    dirs.push(dir);
    // 6 MB in 300 KB segments: more than the 2 MB of recent writes kept, so early reads come from the files.
    const a = open(dir, { segmentBytes: 300 * 1024, maxBytes: 64 * 1024 * 1024, fsync: 'none' });
    const big = (i: number) => ({ ...msg(i), payload: Buffer.from(JSON.stringify({ n: i, pad: 'x'.repeat((i * 7919) % 3000) })) });
    const live: ReturnType<typeof a.read>[] = [];
    for (let i = 0, written = 0; written < 6 * 1024 * 1024; i++) {
      const m = big(i);
      written += m.payload.length + 40;
      a.append(m, () => undefined);
      if (i % 50 === 49) {
        await new Promise((r) => setImmediate(r));
        if (i % 1000 === 999) live.push(a.read(((i * 31) % 200_000) + 1000)); // some reads while writing, small and large
      }
    }
    await new Promise((r) => setImmediate(r));
    for (let b = a.read(150_000); b.entries.length; b = a.read(150_000)) live.push(b);
    // the same batches read again (from the files where they left memory), and the whole spool read by a new process
    const again = live.map((b) => a.reread(b));
    await a.close();
    const b = open(dir);
    const fromFiles = [];
    for (let x = b.read(1 << 30); x.entries.length; x = b.read(1 << 30)) fromFiles.push(...x.entries);
    await b.close();
    const flat = (bs: { entries: { seg: number; off: number; topic: string; sender: string; receivedAt: number; qos: number; payload: Buffer }[] }[]) =>
      bs.flatMap((x) => x.entries).map((e) => [e.seg, e.off, e.topic, e.sender, e.receivedAt, e.qos, e.payload.toString()].join('|'));
    expect(flat(live).length).toBeGreaterThan(2000);
    expect(flat(live)).toEqual(flat([{ entries: fromFiles }]));
    expect(flat(again)).toEqual(flat(live));
    expect(again.map((x) => [x.end, x.bytes])).toEqual(live.map((x) => [x.end, x.bytes]));
  });

  it('re-reads a batch that ended at the end of a segment', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    dirs.push(dir);
    const a = open(dir, { segmentBytes: 1 }); // a segment per append
    for (let i = 0; i < 3; i++) await a.appendAsync(msg(i));
    // The next append opens a new segment, not readable until synced: a read now ends at its start.
    const pending = a.appendAsync(msg(3));
    await new Promise((r) => setImmediate(r));
    const batch = a.read(1 << 20);
    expect(batch.entries).toHaveLength(3);
    expect(batch.end).toEqual({ seg: batch.entries[2]!.seg + 1, off: 0 });
    const again = a.reread(batch);
    expect(again.entries.map((e) => e.receivedAt)).toEqual([1000, 1001, 1002]);
    expect(again.end).toEqual(batch.end);
    await pending;
    await a.close();
  });

  it('an append listener that throws is logged; the append is still acknowledged and the other listeners still hear it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    dirs.push(dir);
    const logged: string[] = [];
    const log = Object.assign(quietLog.child({}), { error: (obj: { err: Error }, msg: string) => logged.push(`${msg}: ${obj.err.message}`) });
    const a = open(dir, { log });
    a.onAppend(() => {
      throw new Error('listener broke');
    });
    let heard = 0;
    a.onAppend(() => heard++);
    await a.appendAsync(msg(1));
    expect(heard).toBe(1);
    expect(logged).toEqual(['spool append listener failed: listener broke']);
    await a.close();
  });
});
