// The ingest pipeline over the cluster log: one createIngest per partition of
// a real JetStream stream (a nats-server started here, on loopback), storing
// into the suite's real InfluxDB. Every message is accepted exactly once and
// stored, and the stream is trimmed of what is stored; pipelines stopped while
// InfluxDB is away and opened again over the same stream and database store
// what they had accepted without accepting anything again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startNatsServer } from '../../bench/nats-server.js';
import { createMetrics } from '../../common/metrics.js';
import { DeadLetters } from '../../ingest/dead-letters.js';
import { Dedup } from '../../ingest/dedup.js';
import { createIngest, type Ingest, type IngestLog } from '../../ingest/pipeline.js';
import { PointSlots } from '../../ingest/point-slots.js';
import { Registry } from '../../registry/registry.js';
import type { Db } from '../../storage/db.js';
import { InfluxStore } from '../../storage/influx.js';
import { JetStreamLog } from '../../storage/jetstream-log.js';
import { JetStreamPartitionLog } from '../../storage/jetstream-partition.js';
import { BACKENDS, openTestDb } from '../db.js';
import { count, quietLog, status, suiteInflux, waitFor } from '../helpers.js';
import { natsServerForFile, streamMessages } from '../nats.js';

const P = 4;
const ELEVATORS = ['E1', 'E2', 'E3', 'E4', 'E5', 'E6'];
const GATEWAYS = ['gw-1', 'gw-2', 'gw-3'];
const T0 = Date.now() - 3 * 3600_000;

const nats = natsServerForFile('se-jsp-');


/** What one cluster node runs for the partitions it holds: a pipeline per partition, its accept position `p<N>`. */
async function openPipelines(log: JetStreamLog, db: Db, registry: Registry, store: InfluxStore, accepted: Map<string, number>, cleanups: (() => unknown)[], queueBytesMax?: number) {
  const shared = { registry, db, store, queueBytesMax, deadLetters: new DeadLetters(db, 1000), dedup: new Dedup(db), slots: new PointSlots(db), metrics: createMetrics(), log: quietLog };
  const parts: JetStreamPartitionLog[] = [];
  const ingests: Ingest[] = [];
  for (let p = 0; p < P; p++) {
    const part = await JetStreamPartitionLog.open({ log, partition: p, logger: quietLog });
    const spool: IngestLog = part; // fits the pipeline's log interface
    const ingest = createIngest({ ...shared, spool, positionName: `p${p}` });
    ingest.onAccepted((items) => items.forEach((it) => accepted.set(`${it.channel}:${it.record.id}`, (accepted.get(`${it.channel}:${it.record.id}`) ?? 0) + 1)));
    ingest.start();
    parts.push(part);
    ingests.push(ingest);
  }
  const close = async () => {
    for (const i of ingests) await i.stop();
    for (const p of parts) await p.close();
  };
  cleanups.push(close); // stopped before the log closes, also when the test fails
  return { parts, close };
}

for (const backend of BACKENDS) {
  describe(`ingest pipeline over JetStream partitions on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    it('accepts every message once and stores it, trims what is stored, and accepts nothing again after a restart', async () => {
      const db = await openTestDb(backend, cleanups);
      const registry = new Registry(db, quietLog);
      registry.units.put({ id: 'U1', name: '维保一' });
      for (const code of ELEVATORS) registry.elevators.put({ code, address: `中山路 ${code}`, district: '鼓楼区', userUnit: '物业', maintenanceUnit: 'U1' });
      const stream = `JSP_${randomBytes(4).toString('hex')}`;
      const log = await JetStreamLog.open({ servers: nats().url, stream, subjectPrefix: `se.ingest.${stream}`, partitions: P, nodeId: 'node-a', maxPendingBytes: 16 << 20, log: quietLog });
      cleanups.push(() => log.close());
      const store = suiteInflux(`t_${randomBytes(4).toString('hex')}`);
      cleanups.push(() => store.close());

      // status keyed by elevator, records by sender: both spread over the partitions
      let n = 0;
      const append = (statuses: number, records: number) => {
        const sent: Promise<void>[] = [];
        for (let i = 0; i < statuses; i++, n++) {
          const code = ELEVATORS[n % ELEVATORS.length]!;
          const payload = Buffer.from(JSON.stringify(status(`s${n}`, T0 + n * 10, { floor: n % 20 })));
          sent.push(log.append({ qos: 1, topic: `se/v1/elevator/${code}/status`, sender: 'gw-1', receivedAt: T0 + n, payload }, code));
        }
        for (let i = 0; i < records; i++, n++) {
          const gw = GATEWAYS[n % GATEWAYS.length]!;
          const payload = Buffer.from(JSON.stringify({ id: `m${n}`, ts: T0 + n * 10, elevator: ELEVATORS[n % ELEVATORS.length], unit: 'U1', kind: 'half_monthly' }));
          sent.push(log.append({ qos: 1, topic: 'se/v1/records/maintenance', sender: gw, receivedAt: T0 + n, payload }, gw));
        }
        return Promise.all(sent);
      };
      expect(new Set([...ELEVATORS, ...GATEWAYS].map((k) => log.partitionOf(k))).size).toBeGreaterThan(1);

      const accepted = new Map<string, number>();
      const total = () => [...accepted.values()].reduce((a, b) => a + b, 0);
      const stored = async () => (await count({ store }, 'elevator_status')) + (await count({ store }, 'maintenance'));

      // 1. Everything appended is accepted once, stored, and trimmed off the stream.
      await append(2_000, 60);
      expect(log.batches).toBeLessThan(2_060); // group-committed
      // (no decoded batch kept in memory: every one is stored by reading its range again from the stream)
      const first = await openPipelines(log, db, registry, store, accepted, cleanups, 1);
      await waitFor(async () => accepted.size, (s) => s === 2_060, 20_000);
      await waitFor(stored, (s) => s === 2_060, 20_000);
      await waitFor(() => streamMessages(nats().url, stream), (m) => m === 0, 20_000);
      expect(first.parts.reduce((a, p) => a + p.depthCount, 0)).toBe(0);
      expect(first.parts.reduce((a, p) => a + p.rereads, 0)).toBeGreaterThan(0);
      await first.close();
      expect(total()).toBe(2_060);

      // 2. With InfluxDB away, new messages are accepted but not stored, so they stay in the stream.
      const away = InfluxStore.open({ url: 'http://127.0.0.1:9', database: 'none' }, quietLog);
      cleanups.push(() => away.close());
      const second = await openPipelines(log, db, registry, away, accepted, cleanups);
      await append(300, 30);
      await waitFor(async () => accepted.size, (s) => s === 2_390, 20_000);
      await second.close();
      expect(total()).toBe(2_390);
      expect(await streamMessages(nats().url, stream)).toBeGreaterThan(0);

      // 3. Reopened over the same stream and database: those are stored and trimmed, nothing is accepted again.
      const third = await openPipelines(log, db, registry, store, accepted, cleanups);
      await waitFor(stored, (s) => s === 2_390, 20_000);
      await waitFor(() => streamMessages(nats().url, stream), (m) => m === 0, 20_000);
      await third.close();
      expect(total()).toBe(2_390);
      expect([...accepted.values()].every((c) => c === 1)).toBe(true);
      expect(db.prepare('SELECT COUNT(*) n FROM dead_letters').pluck().get()).toBe(0);
      expect(db.prepare('SELECT name FROM ingest_position ORDER BY name').pluck().all()).toEqual(['p0', 'p1', 'p2', 'p3'].filter((_, p) => [...ELEVATORS, ...GATEWAYS].some((k) => log.partitionOf(k) === p)));
    });
  });
}

describe('JetStream partition log', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('counts what waits, and a trim that fails (NATS away) is logged and done by the next commit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'se-jsp-trim-'));
    const own = await startNatsServer(dir);
    cleanups.push(async () => {
      await own.kill();
      rmSync(dir, { recursive: true, force: true });
    });
    const logged: { msg: string; partition?: number }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line) as { msg: string }) });
    const log = await JetStreamLog.open({ servers: own.url, stream: 'TRIM', subjectPrefix: 'se.ingest.trim', partitions: 1, nodeId: 'node-a', maxPendingBytes: 1 << 20, log: quietLog });
    cleanups.push(() => log.close());
    const part = await JetStreamPartitionLog.open({ log, partition: 0, logger });
    cleanups.push(() => part.close());
    const appendOne = (i: number) => log.append({ qos: 1, topic: 'se/v1/elevator/E1/status', sender: 'gw-1', receivedAt: T0 + i, payload: Buffer.from(JSON.stringify(status(`s${i}`, T0 + i))) }, 'E1');
    for (let i = 0; i < 3; i++) await appendOne(i); // three batches
    await waitFor(async () => part.depthCount, (d) => d === 1, 5_000); // known to wait, not read yet

    const b1 = await part.read(1); // at least one whole batch
    expect(b1.entries.map((e) => e.off)).toEqual([0]);
    expect(b1.end).toEqual({ seg: b1.entries[0]!.seg, off: 1 });
    expect(part.depthCount).toBe(2);
    expect(part.depthBytes).toBe(b1.bytes);

    await own.kill();
    part.commit(b1);
    await waitFor(async () => part.trimErrors, (n) => n === 1, 20_000);
    expect(logged.some((l) => /trimming stored batches failed/.test(l.msg))).toBe(true);
    expect(part.depthCount).toBe(1); // committed: only the unread batches wait

    await own.restart();
    await waitFor(() => log.lastSeq(0).then(() => true, () => false), (up) => up, 30_000);
    const b2 = await part.read(1);
    expect(b2.start).toEqual(b1.end);
    expect(await part.reread(b2)).toMatchObject({ start: b2.start, end: b2.end, bytes: b2.bytes, entries: b2.entries });
    part.commit(b2); // trims through b2: b1's batch too
    await waitFor(() => streamMessages(own.url, 'TRIM'), (m) => m === 1, 20_000);
    await expect(part.reread(b1)).rejects.toThrow(/cannot re-read batches \d+\.\.\d+, committed \(trimmed\) through \d+/);
  });
});
