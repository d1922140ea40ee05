// Two cluster "nodes" in one test process, each with its own database
// connection, Claims (own node id, same shared state), JetStreamLog
// connection (same stream, a real nats-server on loopback) and
// PartitionRunner, storing into the suite's real InfluxDB. The claims' clock
// is injected and heartbeats are driven by tick(), so leases expire when the
// test says so, not on wall time. Together the nodes accept every message
// exactly once with the partitions split between them; when one stops
// heartbeating (its pipelines still running, as a paused or cut-off process's
// would), its commits are fenced after the lease and its pipelines stop; the
// other takes its partitions over, and still every message is accepted once
// and stored.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../common/metrics.js';
import { DeadLetters } from '../../ingest/dead-letters.js';
import { Dedup } from '../../ingest/dedup.js';
import { PartitionRunner } from '../../ingest/partitions.js';
import { PointSlots } from '../../ingest/point-slots.js';
import { Registry } from '../../registry/registry.js';
import { Claims, LostClaimError } from '../../storage/claims.js';
import { openDb, type Db } from '../../storage/db.js';
import { JetStreamLog } from '../../storage/jetstream-log.js';
import { BACKENDS, freshPostgresUrl, type Backend } from '../db.js';
import { count, quietLog, status, suiteInflux, waitFor } from '../helpers.js';
import { natsServerForFile } from '../nats.js';

const P = 4;
const LEASE_MS = 1000;
const ELEVATORS = Array.from({ length: 12 }, (_, i) => `E${i + 1}`);
const GATEWAYS = ['gw-1', 'gw-2', 'gw-3'];
const T0 = Date.now() - 3 * 3600_000;

const nats = natsServerForFile('se-runner-');

/** Two connections to one new database: each node has its own, as on two machines. */
async function sharedState(backend: Backend, cleanups: (() => unknown)[]): Promise<[Db, Db]> {
  if (backend === 'postgres') {
    const url = await freshPostgresUrl(cleanups);
    const dbs: [Db, Db] = [openDb({ url, dataDir: '' }), openDb({ url, dataDir: '' })];
    cleanups.unshift(() => dbs.forEach((d) => d.close())); // closed before the schema is dropped
    return dbs;
  }
  const dir = mkdtempSync(join(tmpdir(), 'se-runner-db-'));
  const dbs: [Db, Db] = [openDb({ dataDir: dir }), openDb({ dataDir: dir })];
  cleanups.push(() => {
    dbs.forEach((d) => d.close());
    rmSync(dir, { recursive: true, force: true });
  });
  return dbs;
}

/**
 * Two nodes, A and B, on one new stream, database and InfluxDB database. Listeners record what each accept
 * transaction commits in a table (a fenced transaction rolls its rows back) and, in memory, what they were
 * handed (also by transactions the fence then rolled back).
 */
async function twoNodes(backend: Backend, cleanups: (() => unknown)[]) {
  const clock = { now: Date.now() };
  const [dbA, dbB] = await sharedState(backend, cleanups);
  const registryA = new Registry(dbA, quietLog);
  registryA.units.put({ id: 'U1', name: '维保一' });
  for (const code of ELEVATORS) registryA.elevators.put({ code, address: `中山路 ${code}`, district: '鼓楼区', userUnit: '物业', maintenanceUnit: 'U1' });
  const stream = `RUN_${randomBytes(4).toString('hex')}`;
  const database = `t_${randomBytes(4).toString('hex')}`;

  // What the accept transactions committed, written by the listeners inside them (a fenced one rolls back),
  // and, in memory, what the listeners were handed (also by a transaction the fence then rolled back).
  dbA.exec('CREATE TABLE accepted_ids (id TEXT NOT NULL, node TEXT NOT NULL, part INTEGER NOT NULL)');
  const handed = new Map<string, number>();
  const committed = () => dbA.prepare<{ n: number; ids: number; twice: number }>(
    'SELECT COUNT(*) n, COUNT(DISTINCT id) ids, (SELECT COUNT(*) FROM (SELECT id FROM accepted_ids GROUP BY id HAVING COUNT(*) > 1) d) twice FROM accepted_ids',
  ).get()!;
  const nodesOf = (where = '') => dbA.prepare(`SELECT DISTINCT node FROM accepted_ids ${where} ORDER BY node`).pluck().all();

  async function node(nodeId: string, db: Db, registry: Registry) {
    const claims = new Claims(db, { nodeId, partitions: P, leaseMs: LEASE_MS, now: () => clock.now });
    const log = await JetStreamLog.open({ servers: nats().url, stream, subjectPrefix: `se.ingest.${stream}`, partitions: P, nodeId, maxPendingBytes: 16 << 20, log: quietLog });
    cleanups.push(() => log.close());
    const store = suiteInflux(database);
    cleanups.push(() => store.close());
    const record = db.prepare('INSERT INTO accepted_ids (id, node, part) VALUES (?, ?, ?)');
    const ingestDeps = { registry, db, store, deadLetters: new DeadLetters(db, 1000), dedup: new Dedup(db), slots: new PointSlots(db), metrics: createMetrics(), log: quietLog };
    const runner = new PartitionRunner({
      claims,
      log,
      ingestDeps,
      heartbeatMs: LEASE_MS / 3,
      logger: quietLog,
      attach: (ingest, p) =>
        ingest.onAccepted((items) => {
          const ids = items.map((it) => `${it.channel}:${it.record.id}`);
          for (const id of ids) handed.set(id, (handed.get(id) ?? 0) + 1);
          record.runMany(ids.map((id) => [id, nodeId, p]));
        }),
    });
    cleanups.push(() => runner.stop({ release: false })); // pipelines stop before the log closes, also when the test fails
    return { claims, log, store, runner };
  }
  const a = await node('node-a', dbA, registryA);
  const b = await node('node-b', dbB, new Registry(dbB, quietLog));
  expect(new Set([...ELEVATORS, ...GATEWAYS].map((k) => a.log.partitionOf(k))).size).toBe(P);

  // Status keyed by elevator, records by sender: every partition gets messages; appended through both nodes.
  let n = 0;
  const append = (statuses: number, records: number, codes = ELEVATORS) => {
    const sent: Promise<void>[] = [];
    for (let i = 0; i < statuses; i++, n++) {
      const code = codes[n % codes.length]!;
      const payload = Buffer.from(JSON.stringify(status(`s${n}`, T0 + n * 10, { floor: n % 20 })));
      sent.push((n % 2 ? a : b).log.append({ qos: 1, topic: `se/v1/elevator/${code}/status`, sender: 'gw-1', receivedAt: T0 + n, payload }, code));
    }
    for (let i = 0; i < records; i++, n++) {
      const gw = GATEWAYS[n % GATEWAYS.length]!;
      const payload = Buffer.from(JSON.stringify({ id: `m${n}`, ts: T0 + n * 10, elevator: ELEVATORS[n % ELEVATORS.length], unit: 'U1', kind: 'half_monthly' }));
      sent.push((n % 2 ? a : b).log.append({ qos: 1, topic: 'se/v1/records/maintenance', sender: gw, receivedAt: T0 + n, payload }, gw));
    }
    return Promise.all(sent);
  };
  const stored = async () => (await count({ store: a.store }, 'elevator_status')) + (await count({ store: a.store }, 'maintenance'));
  const owners = () => b.claims.state().filter((c) => c.partition >= 0).map((c) => c.owner);

  return { clock, dbA, a, b, append, committed, nodesOf, handed, stored, owners };
}

/** Heartbeats A, B, A, B: A takes everything, then gives back beyond its share, which B takes. */
async function split(a: { runner: PartitionRunner }, b: { runner: PartitionRunner }) {
  await a.runner.tick();
  expect(a.runner.partitions.map((r) => r.partition)).toEqual([0, 1, 2, 3]);
  await b.runner.tick();
  await a.runner.tick();
  await b.runner.tick();
  expect(a.runner.partitions.map((r) => r.partition)).toEqual([0, 1]);
  expect(b.runner.partitions.map((r) => r.partition)).toEqual([2, 3]);
}

for (const backend of BACKENDS) {
  describe(`partition runner on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    it('two nodes split the partitions and accept each message once; after one stalls the other takes over and the stalled one commits nothing', async () => {
      const { clock, dbA, a, b, append, committed, nodesOf, handed, stored, owners } = await twoNodes(backend, cleanups);

      // 1. A joins first and takes everything; B joins; A gives back beyond its share and B takes it.
      await split(a, b);
      expect(owners()).toEqual(['node-a', 'node-a', 'node-b', 'node-b']);
      const epochsA = a.runner.partitions.map((r) => r.epoch);

      await append(600, 60);
      await waitFor(async () => committed().n, (c) => c === 660, 20_000);
      await waitFor(stored, (s) => s === 660, 20_000);
      expect(committed()).toEqual({ n: 660, ids: 660, twice: 0 });
      // each message accepted by the node holding its partition
      expect(nodesOf('WHERE part < 2')).toEqual(['node-a']);
      expect(nodesOf('WHERE part >= 2')).toEqual(['node-b']);

      // 2. A stalls: no more heartbeats, but its pipelines keep running (a paused or cut-off process). Past its
      //    lease, what they read of its partitions is not committed: the fence refuses and they stop.
      clock.now += LEASE_MS + 500;
      const codesOfA = ELEVATORS.filter((c) => a.log.partitionOf(c) < 2);
      expect(new Set(codesOfA.map((c) => a.log.partitionOf(c)))).toEqual(new Set([0, 1]));
      await append(200, 0, codesOfA);
      await waitFor(async () => a.runner.partitions.length, (l) => l === 0, 20_000);
      expect(a.runner.fenced).toBe(2);
      expect(handed.size).toBe(660); // the fence comes first in the accept transaction: A's rules never even ran for them
      expect(committed().n).toBe(660);

      // 3. B's heartbeat takes A's partitions; B accepts what A could not commit and what comes after.
      const hb = await b.runner.tick();
      expect(hb?.gained.sort()).toEqual([0, 1]);
      expect(b.runner.partitions.map((r) => r.partition)).toEqual([0, 1, 2, 3]);
      expect(owners()).toEqual(['node-b', 'node-b', 'node-b', 'node-b']);
      await append(600, 60);
      await waitFor(async () => committed().n, (c) => c === 1_520, 20_000);
      await waitFor(stored, (s) => s === 1_520, 20_000);
      expect(committed()).toEqual({ n: 1_520, ids: 1_520, twice: 0 });
      expect(nodesOf("WHERE id NOT IN (SELECT id FROM accepted_ids WHERE node = 'node-a')")).toEqual(['node-b']);
      expect(a.runner.partitions).toEqual([]);
      // and any commit A still tried for its old claims is refused
      for (const [p, epoch] of epochsA.entries()) {
        expect(() => dbA.transaction(() => a.claims.fence(p, epoch))()).toThrow(LostClaimError);
      }

      // 4. A dies for good (no release); B's clean shutdown hands every partition over at once.
      await a.runner.stop({ release: false });
      expect(owners()).toEqual(['node-b', 'node-b', 'node-b', 'node-b']);
      await b.runner.stop({ release: true });
      expect(owners()).toEqual([null, null, null, null]);
      expect(b.runner.partitions).toEqual([]);
      expect(dbA.prepare('SELECT COUNT(*) n FROM dead_letters').pluck().get()).toBe(0);
      expect(await stored()).toBe(1_520);
    });

    it('a node that dies keeps its partitions for the lease, then the other resumes them from the committed position; one fenced only by its own expired lease resumes at its next heartbeat', async () => {
      const { clock, a, b, append, committed, nodesOf, stored, owners } = await twoNodes(backend, cleanups);
      await split(a, b);
      await append(300, 30);
      await waitFor(async () => committed().n, (c) => c === 330, 20_000);

      // A dies: its pipelines stop, its claims are not released. Within the lease nothing moves.
      await a.runner.stop({ release: false });
      await append(200, 20);
      clock.now += LEASE_MS * 0.6;
      expect((await b.runner.tick())?.gained).toEqual([]);
      expect(owners()).toEqual(['node-a', 'node-a', 'node-b', 'node-b']);

      // Past A's lease B takes them and processes what was appended after the death, once.
      clock.now += LEASE_MS * 0.6;
      expect((await b.runner.tick())?.gained.sort()).toEqual([0, 1]);
      await waitFor(async () => committed().n, (c) => c === 550, 20_000);
      await waitFor(stored, (s) => s === 550, 20_000);
      expect(committed()).toEqual({ n: 550, ids: 550, twice: 0 });
      expect(nodesOf("WHERE part < 2 AND id NOT IN (SELECT id FROM accepted_ids WHERE node = 'node-a')")).toEqual(['node-b']);

      // B misses its own lease (nobody takes over: it is the only live node): its commits are fenced and its
      // pipelines stop; its next heartbeat renews the same epochs and they are opened again.
      clock.now += LEASE_MS + 100;
      await append(100, 10);
      await waitFor(async () => b.runner.partitions.length, (l) => l === 0, 20_000);
      expect(b.runner.fenced).toBe(4);
      expect(committed().n).toBe(550);
      const hb = await b.runner.tick();
      expect(hb?.gained).toEqual([]); // same epochs: not gained, yet not running
      expect(b.runner.partitions.map((r) => r.partition)).toEqual([0, 1, 2, 3]);
      await waitFor(async () => committed().n, (c) => c === 660, 20_000);
      await waitFor(stored, (s) => s === 660, 20_000);
      expect(committed()).toEqual({ n: 660, ids: 660, twice: 0 });
      await b.runner.stop({ release: true });
      expect(owners()).toEqual([null, null, null, null]);
    });

    it('start() heartbeats on its own: two nodes share the partitions, and a clean stop hands them over at once', async () => {
      const { a, b, owners } = await twoNodes(backend, cleanups);
      a.runner.start();
      await waitFor(async () => a.runner.partitions.length, (l) => l === P, 20_000);
      b.runner.start();
      await waitFor(async () => [a.runner.partitions.length, b.runner.partitions.length].join(), (l) => l === '2,2', 20_000);
      // released, not left to expire: the clock is frozen, so only the release can move them
      await a.runner.stop({ release: true });
      await waitFor(async () => b.runner.partitions.length, (l) => l === P, 20_000);
      expect(owners()).toEqual(['node-b', 'node-b', 'node-b', 'node-b']);
      await b.runner.stop({ release: true });
      expect(owners()).toEqual([null, null, null, null]);
      expect(b.runner.partitions).toEqual([]);
    });
  });
}
