// The cluster log against a real nats-server with JetStream (started here, on
// loopback, with its own store dir): appends are acknowledged only once
// stored, group-committed, stored once however often a batch is retried,
// bounded, and never lost when the server is killed and comes back.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsTestServer } from '../../bench/nats-server.js';
import { JetStreamLog, LogFullError, partitionOf, type JetStreamLogOptions, type LogEntry } from '../../storage/jetstream-log.js';
import { SpoolFullError } from '../../storage/spool.js';
import { quietLog, waitFor } from '../helpers.js';
import { streamMessages } from '../nats.js';

const dirs: string[] = [];
const servers: NatsTestServer[] = [];
const logs: JetStreamLog[] = [];
let server: NatsTestServer;
let streamNo = 0;

async function natsServer(): Promise<NatsTestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'jslog-'));
  dirs.push(dir);
  const s = await startNatsServer(dir);
  servers.push(s);
  return s;
}

beforeAll(async () => {
  server = await natsServer();
});
afterEach(async () => {
  for (const l of logs.splice(0)) await l.close().catch(() => undefined);
  for (const s of servers) if (s !== server) await s.kill();
});
afterAll(async () => {
  for (const s of servers) await s.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function open(extra: Partial<JetStreamLogOptions> = {}, url = server.url): Promise<JetStreamLog> {
  const stream = extra.stream ?? `T${++streamNo}`;
  const log = await JetStreamLog.open({ servers: url, stream, subjectPrefix: `se.ingest.${stream}`, partitions: 8, nodeId: 'node-a', maxPendingBytes: 16 << 20, log: quietLog, ...extra });
  logs.push(log);
  return log;
}

const msg = (g: number, i: number) => ({ qos: 1, topic: `se/v1/elevator/E${g}-${i % 4}/status`, sender: `GW${g}`, receivedAt: 1_000 + i, payload: Buffer.from(JSON.stringify({ g, i })) });
const keyOf = (g: number, i: number) => `E${g}-${i % 4}`;

/** Every entry of every partition, from the start. */
async function readAll(log: JetStreamLog): Promise<LogEntry[][]> {
  const out: LogEntry[][] = [];
  for (let p = 0; p < log.partitions; p++) {
    const last = await log.lastSeq(p);
    const entries: LogEntry[] = [];
    let after = 0;
    while (after < last) {
      const b = await log.read(p, after, 64 * 1024);
      expect(b.lastSeq).toBeGreaterThan(after);
      entries.push(...b.entries);
      after = b.lastSeq;
    }
    out.push(entries);
  }
  return out;
}


describe('JetStream cluster log', () => {
  it('10,000 appends from 100 concurrent gateways all resolve, read back exactly once and in order per partition, group-committed', async () => {
    const log = await open();
    const G = 100;
    const N = 100;
    await Promise.all(Array.from({ length: G }, async (_, g) => {
      for (let i = 0; i < N; i++) await log.append(msg(g, i), keyOf(g, i));
    }));
    expect(log.appended).toBe(G * N);
    expect(log.pendingBytes).toBe(0);

    const parts = await readAll(log);
    const seen = new Set<string>();
    const lastOfKey = new Map<string, number>();
    for (const [p, entries] of parts.entries()) {
      for (const e of entries) {
        const { g, i } = JSON.parse(e.payload.toString()) as { g: number; i: number };
        expect(e).toMatchObject({ topic: `se/v1/elevator/${keyOf(g, i)}/status`, sender: `GW${g}`, receivedAt: 1_000 + i, qos: 1, partition: p });
        expect(partitionOf(keyOf(g, i), 8)).toBe(p);
        const id = `${g}/${i}`;
        expect(seen.has(id), `${id} read twice`).toBe(false);
        seen.add(id);
        // a gateway appends one after another: the log keeps that order within the key's partition
        expect(i).toBeGreaterThan(lastOfKey.get(keyOf(g, i)) ?? -1);
        lastOfKey.set(keyOf(g, i), i);
      }
    }
    expect(seen.size).toBe(G * N);
    const stored = await streamMessages(server.url, log.stream);
    expect(stored).toBe(log.batches);
    expect(stored).toBeLessThan((G * N) / 5); // group commit: far fewer stream messages than appends
  });

  it('watch() tells the partition\'s reader of each stored batch (headers only), and read() then finds it', async () => {
    const log = await open();
    const p = log.partitionOf('E7');
    const other = log.partitionOf('E1') === p ? 'E2' : 'E1';
    const seqs: number[] = [];
    const stop = await log.watch(p, (seq) => seqs.push(seq));
    await log.append(msg(7, 0), 'E7');
    if (log.partitionOf(other) !== p) await log.append(msg(1, 0), other); // another partition's batch: not reported
    await log.append(msg(7, 1), 'E7');
    const last = await log.lastSeq(p);
    await waitFor(async () => seqs.length, (n) => n >= 2);
    expect(seqs.at(-1)).toBe(last);
    expect(seqs).toHaveLength(2);
    const b = await log.read(p, seqs[0]! - 1, 1 << 20);
    expect(b.entries.map((e) => JSON.parse(e.payload.toString()).i)).toEqual([0, 1]);
    await stop();
  });

  it('partitionOf is a stable FNV-1a hash modulo P', () => {
    expect(partitionOf('', 1_000_003)).toBe(0x811c9dc5 % 1_000_003);
    expect(partitionOf('a', 2 ** 31)).toBe(0xe40c292c % 2 ** 31);
    const counts = new Array<number>(8).fill(0);
    for (let e = 0; e < 8_000; e++) counts[partitionOf(`3101${String(e).padStart(6, '0')}`, 8)]! += 1;
    for (const c of counts) expect(c).toBeGreaterThan(700); // spread: no partition starves or hogs
  });

  it('a batch re-published after its PubAck was lost is stored once (same stream message id)', async () => {
    const s = await natsServer();
    const log = await open({ publishTimeoutMs: 400, publishAttempts: 5 }, s.url);
    await log.append(msg(1, 0), 'E1'); // stream created and connection warm
    // Freeze the server: the first publish times out, the retry goes out with
    // the same id, then both reach the server when it thaws.
    s.proc.kill('SIGSTOP');
    // stopped for sure before the appends go out (a loaded machine may take a moment to stop all its threads)
    await waitFor(async () => readFileSync(`/proc/${s.proc.pid}/stat`, 'utf8').split(') ')[1]![0], (state) => state === 'T', 5000);
    const pending = Promise.all([1, 2, 3].map((i) => log.append(msg(1, i), 'E1')));
    await waitFor(async () => log.retries, (n) => n >= 1, 30_000);
    s.proc.kill('SIGCONT');
    await pending;
    const entries = (await readAll(log)).flat();
    expect(entries.map((e) => JSON.parse(e.payload.toString()).i)).toEqual([0, 1, 2, 3]);
    expect(await streamMessages(s.url, log.stream)).toBe(2);
  });

  it('a log reopened with the same node id stores new batches (ids are not reused across opens)', async () => {
    const a = await open({ stream: 'REOPEN' });
    await a.append(msg(1, 0), 'E1');
    await a.close();
    const b = await open({ stream: 'REOPEN' });
    await b.append(msg(1, 1), 'E1');
    expect((await readAll(b)).flat().map((e) => JSON.parse(e.payload.toString()).i)).toEqual([0, 1]);
  });

  it('refuses a stream created with another partition count', async () => {
    await open({ stream: 'FIXED', partitions: 4 });
    await expect(open({ stream: 'FIXED', partitions: 8 })).rejects.toThrow(/FIXED has 4 partitions but 8 are configured; the partition count is fixed/);
    const again = await open({ stream: 'FIXED', partitions: 4 });
    expect(again.partitions).toBe(4);
  });

  it('refuses at once a message too large for one NATS message, with the limit in the error', async () => {
    const log = await open();
    const big = { ...msg(1, 0), payload: Buffer.alloc(1024 * 1024 - 60, 0x61) }; // fits max_payload alone, not with the publish's headers
    await expect(log.append(big, 'E1')).rejects.toThrow(/exceeds what one NATS message can carry \(max_payload less headers: \d+ bytes\)/);
    expect(log.pendingBytes).toBe(0);
    const near = { ...msg(1, 1), payload: Buffer.alloc(1024 * 1024 - 1024 - 200, 0x61) }; // the largest that fits goes through
    await expect(log.append(near, 'E1')).resolves.toBeUndefined();
  });

  it('refuses publish retries that could outlast the duplicate window (a late retry would store a batch twice)', async () => {
    await expect(open({ duplicateWindowMs: 10_000, publishTimeoutMs: 5_000, publishAttempts: 3 })).rejects.toThrow(/duplicate window is 10000 ms: a retried batch could be stored twice/);
  });

  it('refuses appends at once beyond maxPendingBytes, and takes them again once acknowledged', async () => {
    const frame = 8 + 1 + 8 + 2 + msg(1, 0).topic.length + 2 + 3 + msg(1, 0).payload.length;
    const log = await open({ maxPendingBytes: frame * 5 });
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => log.append(msg(1, i % 10), 'E1')));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected', 'rejected']);
    const err = (results[5] as PromiseRejectedResult).reason as Error;
    expect(err).toBeInstanceOf(LogFullError);
    expect(err).toBeInstanceOf(SpoolFullError); // the broker and HTTP ingest answer it as "full, retry later"
    expect(err.message).toMatch(/cluster log backlog full/);
    expect(log.pendingBytes).toBe(0);
    await expect(log.append(msg(1, 9), 'E1')).resolves.toBeUndefined();
  });

  it('a full stream refuses appends at once (nothing unprocessed is dropped), and takes them again once processed batches are trimmed', async () => {
    const log = await open({ maxStreamBytes: 4_096 });
    let i = 0;
    let refused: unknown;
    for (; i < 1_000 && !refused; i++) await log.append(msg(1, i), 'E1').catch((e) => (refused = e));
    expect(refused).toBeInstanceOf(LogFullError);
    expect((refused as Error).message).toMatch(/stream T\d+ is full \(max_bytes reached/);
    const before = (await readAll(log)).flat();
    expect(before.map((e) => JSON.parse(e.payload.toString()).i)).toEqual(Array.from({ length: i - 1 }, (_, k) => k)); // the oldest are all still there
    const p = log.partitionOf('E1');
    expect(await log.trim(p, before.at(-1)!.seq)).toBe(before.length);
    await expect(log.append(msg(1, 5_000), 'E1')).resolves.toBeUndefined();
    expect((await log.read(p, before.at(-1)!.seq, 1 << 20)).entries.map((e) => JSON.parse(e.payload.toString()).i)).toEqual([5_000]);
  });

  it('a publish nobody answers (the stream electing a leader: "no responders") is retried within the attempts\' time, not refused', async () => {
    const log = await open({ publishTimeoutMs: 1_000, publishAttempts: 3 });
    await log.append(msg(1, 0), 'E1');
    const nc = await connect({ servers: server.url, timeout: 5_000 });
    try {
      const jsm = await jetstreamManager(nc);
      const { config } = await jsm.streams.info(log.stream);
      await jsm.streams.delete(log.stream); // no stream answers on its subjects now, as while its leader is being elected
      const t0 = Date.now();
      const result = log.append(msg(1, 1), 'E1').then(() => 'stored', (e: Error) => e.message);
      await waitFor(async () => log.retries, (n) => n >= 3, 5_000); // more tries than the 3 attempts allow
      await jsm.streams.add(config);
      expect(await result).toBe('stored');
      expect(Date.now() - t0).toBeLessThan(3 * (1_000 + 1_000)); // within the span the duplicate window covers
      expect((await readAll(log)).flat().map((e) => JSON.parse(e.payload.toString()).i)).toEqual([1]);
    } finally {
      await nc.close();
    }
  });

  it('appends fail after the publish attempts time out while NATS is down (never acknowledged), and go through once it is back', async () => {
    const s = await natsServer();
    const log = await open({ publishTimeoutMs: 300, publishAttempts: 2 }, s.url);
    await log.append(msg(1, 0), 'E1');
    await s.kill();
    const t0 = Date.now();
    await expect(log.append(msg(1, 1), 'E1')).rejects.toThrow(/JetStream did not store a batch of 1 messages on se\.ingest\.T\d+\.\d after 2 attempts/);
    expect(Date.now() - t0).toBeLessThan(5_000); // bounded: attempts × timeout plus the pause between them
    expect(log.pendingBytes).toBe(0);
    await s.restart();
    await waitFor(() => log.append(msg(1, 2), 'E1').then(() => true, () => false), (ok) => ok, 30_000);
    const ids = (await readAll(log)).flat().map((e) => JSON.parse(e.payload.toString()).i as number);
    // the failed one may still be stored (the client sends its buffered publishes on reconnect), but once at most: the gateway's retry is deduplicated downstream
    expect(ids.filter((i) => i === 1).length).toBeLessThanOrEqual(1);
    expect(ids.filter((i) => i !== 1)).toEqual([0, 2]);
  });

  it('a nats-server killed mid-stream and restarted loses no acknowledged append; in-flight ones resolve or reject', async () => {
    const s = await natsServer();
    const log = await open({ publishTimeoutMs: 1_000, publishAttempts: 4 }, s.url);
    const G = 20;
    const N = 150;
    const resolved = new Set<string>();
    const rejected = new Set<string>();
    let killed = false;
    let outage: Promise<void> = Promise.resolve();
    const gateways = Promise.all(Array.from({ length: G }, async (_, g) => {
      for (let i = 0; i < N; i++) {
        // start the outage once a third is through, with appends in flight
        if (!killed && resolved.size >= (G * N) / 3) {
          killed = true;
          outage = s.kill().then(() => new Promise((r) => setTimeout(r, 500))).then(() => s.restart());
        }
        try {
          await log.append(msg(g, i), keyOf(g, i));
          resolved.add(`${g}/${i}`);
        } catch {
          rejected.add(`${g}/${i}`);
        }
      }
    }));
    await gateways;
    await outage;
    // the client reconnects on its own schedule: read once the restarted server answers
    await waitFor(() => log.lastSeq(0).then(() => true, () => false), (up) => up, 30_000);
    expect(killed).toBe(true);
    expect(resolved.size + rejected.size).toBe(G * N);
    expect(resolved.size).toBeGreaterThan((G * N) / 2); // appends after the restart went through

    const stored = (await readAll(log)).flat().map((e) => { const m = JSON.parse(e.payload.toString()) as { g: number; i: number }; return `${m.g}/${m.i}`; });
    expect(new Set(stored).size).toBe(stored.length); // nothing stored twice
    const lost = [...resolved].filter((id) => !stored.includes(id));
    expect(lost).toEqual([]);
  });
});
