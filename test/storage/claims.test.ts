// Partition claims and leadership among cluster nodes (storage/claims.ts), on
// both backends: several Claims instances on separate connections to one
// database are the nodes, each with an injected clock.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { Claims, LEADER, LostClaimError } from '../../storage/claims.js';
import { openDb, sqliteDb, type Db } from '../../storage/db.js';
import { migrate } from '../../storage/migrations.js';
import { BACKENDS, freshPostgresUrl, type Backend } from '../db.js';
import type { NodeData, NodeReport } from './claims-node.js';

const LEASE = 5000;

/** n connections to one new database on this backend. */
async function connections(backend: Backend, n: number, cleanups: (() => unknown)[]): Promise<Db[]> {
  if (backend === 'postgres') {
    const url = await freshPostgresUrl(cleanups);
    const dbs = Array.from({ length: n }, () => openDb({ url, dataDir: '' }));
    cleanups.unshift(() => dbs.forEach((d) => d.close()));
    return dbs;
  }
  const dir = mkdtempSync(join(tmpdir(), 'se-claims-'));
  const dbs = Array.from({ length: n }, () => sqliteDb(join(dir, 'state.db')));
  cleanups.push(() => {
    dbs.forEach((d) => d.close());
    rmSync(dir, { recursive: true, force: true });
  });
  return dbs;
}

interface Node {
  name: string;
  db: Db;
  claims: Claims;
  now: () => number;
}

/** Nodes a, b, c… each on its own connection, all on the clock `clock.t` (plus its own skew). */
async function cluster(backend: Backend, names: string[], partitions: number, cleanups: (() => unknown)[], clock: { t: number; skew?: Record<string, number> }) {
  const dbs = await connections(backend, names.length, cleanups);
  return names.map((name, i): Node => {
    const now = () => clock.t + (clock.skew?.[name] ?? 0);
    return { name, db: dbs[i]!, now, claims: new Claims(dbs[i]!, { nodeId: name, partitions, leaseMs: LEASE, now }) };
  });
}

/** Whether the node's fence for (partition, epoch) passes, in a transaction of its own connection. */
function fencePasses(n: Node, partition: number, epoch: number): boolean {
  try {
    n.db.transaction(() => n.claims.fence(partition, epoch))();
    return true;
  } catch (e) {
    if (e instanceof LostClaimError) return false;
    throw e;
  }
}

/**
 * Never two owners: for every partition and the leadership, at most one node's fence passes with what that node
 * believes it holds, and that node is the owner the shared state shows; and a node whose last heartbeat's lease
 * still runs (by its clock) is right about everything it believes it holds.
 */
function checkNoOverlap(nodes: Node[], partitions: number): void {
  const state = new Map(nodes[0]!.claims.state().map((s) => [s.partition, s]));
  for (let p = LEADER; p < partitions; p++) {
    const believers = nodes.filter((n) => (p === LEADER ? n.claims.held.leaderEpoch : n.claims.held.owned.get(p)) != null);
    const passing = believers.filter((n) => {
      const held = n.claims.held;
      const ok = fencePasses(n, p, (p === LEADER ? held.leaderEpoch : held.owned.get(p))!);
      if (n.now() < held.leaseUntil) expect(ok, `${n.name} believes it holds partition ${p} within its lease`).toBe(true);
      return ok;
    });
    expect(passing.length, `partition ${p} fenced by ${passing.map((n) => n.name)}`).toBeLessThanOrEqual(1);
    if (passing.length === 1) expect(state.get(p)!.owner).toBe(passing[0]!.name);
  }
}

/** Every partition is held by exactly one of `live`, each holding floor or ceil of P / live, and one of them leads. */
function checkBalanced(live: Node[], partitions: number): void {
  const all = live.flatMap((n) => [...n.claims.held.owned.keys()]).sort((a, b) => a - b);
  expect(all).toEqual(Array.from({ length: partitions }, (_, i) => i));
  for (const n of live) {
    expect(n.claims.held.owned.size).toBeGreaterThanOrEqual(Math.floor(partitions / live.length));
    expect(n.claims.held.owned.size).toBeLessThanOrEqual(Math.ceil(partitions / live.length));
  }
  expect(live.filter((n) => n.claims.held.leaderEpoch !== null)).toHaveLength(1);
  checkNoOverlap(live, partitions);
}

for (const backend of BACKENDS) {
  describe(`partition claims on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });

    it('one node takes every partition and leads; a second and a third joining get their share within two heartbeats', async () => {
      const clock = { t: 1_000_000 };
      const P = 12;
      const [a, b, c] = await cluster(backend, ['a', 'b', 'c'], P, cleanups, clock);
      const first = a!.claims.heartbeat();
      expect(first.leader).toBe(true);
      expect(first.gained).toEqual(Array.from({ length: P }, (_, i) => i));
      expect([...first.owned.values()].every((e) => e === 1)).toBe(true);
      checkBalanced([a!], P);

      clock.t += 1000;
      expect(b!.claims.heartbeat().owned.size).toBe(0); // all held: a gives back at its next heartbeat
      checkNoOverlap([a!, b!], P);
      const aGave = a!.claims.heartbeat();
      expect(aGave.owned.size).toBe(6);
      expect(aGave.lost).toHaveLength(6);
      checkNoOverlap([a!, b!], P);
      const bTook = b!.claims.heartbeat();
      expect(bTook.gained.sort((x, y) => x - y)).toEqual(aGave.lost.sort((x, y) => x - y));
      // a change of owner is a new epoch
      expect([...bTook.owned.values()].every((e) => e === 2)).toBe(true);
      checkBalanced([a!, b!], P);

      clock.t += 1000;
      c!.claims.heartbeat();
      a!.claims.heartbeat();
      b!.claims.heartbeat();
      expect(c!.claims.heartbeat().owned.size).toBe(4);
      checkBalanced([a!, b!, c!], P);
      // steady: more heartbeats change nothing
      clock.t += 1000;
      for (const n of [a!, b!, c!]) expect(n.claims.heartbeat()).toMatchObject({ gained: [], lost: [] });
      checkBalanced([a!, b!, c!], P);
      const state = a!.claims.state();
      expect(state).toHaveLength(P + 1);
      expect(state[0]).toEqual({ partition: LEADER, owner: 'a', epoch: 1, leaseLeftMs: LEASE });
      expect(a!.claims.nodes().map((n) => [n.nodeId, n.live])).toEqual([['a', true], ['b', true], ['c', true]]);

      // b and c go silent: not live after a lease, forgotten after an hour (node ids may be per process)
      clock.t += LEASE;
      a!.claims.heartbeat();
      expect(a!.claims.nodes().map((n) => [n.nodeId, n.live])).toEqual([['a', true], ['b', false], ['c', false]]);
      clock.t += 3_600_001;
      b!.claims.heartbeat();
      expect(b!.claims.nodes().map((n) => n.nodeId)).toEqual(['b']);
    });

    it("a node that stops heartbeating loses its partitions to the others after one lease, with new epochs, and cannot commit when it resumes", async () => {
      const clock = { t: 2_000_000 };
      const P = 12;
      const nodes = await cluster(backend, ['a', 'b', 'c'], P, cleanups, clock);
      const [a, b, c] = nodes as [Node, Node, Node];
      for (let i = 0; i < 3; i++) for (const n of nodes) n.claims.heartbeat();
      checkBalanced(nodes, P);
      const cHeld = c.claims.held.owned;
      expect(cHeld.size).toBe(4);
      migrate(c.db, 'test/effects', [{ version: 1, name: 'effects', up: 'CREATE TABLE effects (k TEXT PRIMARY KEY, p INTEGER NOT NULL)' }]);
      const [p0, e0] = [...cHeld][0]!;
      const write = (n: Node, k: string) =>
        n.db.transaction(() => {
          n.db.prepare('INSERT INTO effects (k, p) VALUES (?, ?)').run(k, p0);
          n.claims.fence(p0, e0);
        })();
      write(c, 'before');

      // c is paused (SIGSTOP): a and b go on heartbeating every second
      const pausedAt = clock.t;
      let movedAt: number | null = null;
      while (clock.t < pausedAt + 3 * LEASE) {
        clock.t += 1000;
        a.claims.heartbeat();
        b.claims.heartbeat();
        checkNoOverlap(nodes, P);
        const moved = [...cHeld.keys()].every((p) => a.claims.held.owned.has(p) || b.claims.held.owned.has(p));
        if (moved && movedAt === null) movedAt = clock.t;
      }
      expect(movedAt! - pausedAt).toBeLessThanOrEqual(LEASE + 1000);
      checkBalanced([a, b], P);
      for (const [p, e] of cHeld) {
        const now = a.claims.held.owned.get(p) ?? b.claims.held.owned.get(p);
        expect(now).toBe(e + 1);
      }

      // c resumes (SIGCONT) in the middle of an accept transaction: nothing of it commits
      expect(() => write(c, 'after')).toThrow(LostClaimError);
      expect(c.db.prepare('SELECT k FROM effects ORDER BY k').pluck().all()).toEqual(['before']);
      // its next heartbeat tells it what it lost; it gets a share again within two more rounds
      const back = c.claims.heartbeat();
      expect(back.lost.sort((x, y) => x - y)).toEqual([...cHeld.keys()].sort((x, y) => x - y));
      expect(back.owned.size).toBe(0);
      for (let i = 0; i < 2; i++) for (const n of nodes) n.claims.heartbeat();
      checkBalanced(nodes, P);
    });

    it('fences only while the lease lasts, even before anyone takes over', async () => {
      const clock = { t: 3_000_000 };
      const [a] = await cluster(backend, ['a'], 2, cleanups, clock);
      const { owned } = a!.claims.heartbeat();
      expect(fencePasses(a!, 0, owned.get(0)!)).toBe(true);
      expect(fencePasses(a!, 0, owned.get(0)! + 1)).toBe(false);
      clock.t += LEASE;
      expect(() => a!.db.transaction(() => a!.claims.fence(0, owned.get(0)!))()).toThrow(/lease on partition 0 ran out/);
      expect(() => a!.claims.fence(0, owned.get(0)!)).toThrow(/inside the transaction/);
      expect(() => a!.db.transaction(() => a!.claims.heartbeat())()).toThrow(/outside any other/);
      // nobody took it meanwhile: the next heartbeat renews the same epoch
      expect(a!.claims.heartbeat()).toMatchObject({ gained: [], lost: [] });
      expect(fencePasses(a!, 0, owned.get(0)!)).toBe(true);
    });

    it('a takeover cannot commit between a fence and the commit it protects', async () => {
      const clock = { t: 3_500_000, skew: { a: 0, b: 0 } as Record<string, number> };
      const nodes = await cluster(backend, ['a', 'b'], 2, cleanups, clock);
      const [a, b] = nodes as [Node, Node];
      const e = a.claims.heartbeat().owned.get(0)!;
      migrate(a.db, 'test/effects', [{ version: 1, name: 'effects', up: 'CREATE TABLE effects (k TEXT PRIMARY KEY, p INTEGER NOT NULL)' }]);
      // b's clock says a's lease is over; a's says it still runs. b gives up waiting for a lock quickly.
      clock.skew.b = LEASE;
      b.db.exec(backend === 'postgres' ? "SET lock_timeout = '300ms'" : 'PRAGMA busy_timeout = 300');
      a.db.transaction(() => {
        a.db.prepare('INSERT INTO effects (k, p) VALUES (?, ?)').run('fenced', 0);
        a.claims.fence(0, e);
        expect(() => b.claims.heartbeat()).toThrow(backend === 'postgres' ? /lock timeout/ : /locked|busy/);
      })();
      expect(a.db.prepare('SELECT k FROM effects').pluck().all()).toEqual(['fenced']);
      // once a committed, b takes over, and a fences no more
      expect(b.claims.heartbeat().owned).toEqual(new Map([[0, e + 1], [1, e + 1]]));
      expect(fencePasses(a, 0, e)).toBe(false);
    });

    it('when the leader dies exactly one node leads next, and a clean shutdown hands over at once', async () => {
      const clock = { t: 4_000_000 };
      const P = 6;
      const nodes = await cluster(backend, ['a', 'b', 'c'], P, cleanups, clock);
      const [a, b, c] = nodes as [Node, Node, Node];
      for (let i = 0; i < 3; i++) for (const n of nodes) n.claims.heartbeat();
      expect(nodes.map((n) => n.claims.held.leaderEpoch)).toEqual([1, null, null]);

      const died = clock.t;
      while (clock.t < died + LEASE + 1000) {
        clock.t += 1000;
        b.claims.heartbeat();
        c.claims.heartbeat();
        checkNoOverlap(nodes, P);
      }
      expect([b, c].filter((n) => n.claims.held.leaderEpoch === 2)).toHaveLength(1);
      expect(fencePasses(a, LEADER, 1)).toBe(false);
      checkBalanced([b, c], P);

      // the new leader shuts down cleanly: the other leads and holds everything at its next heartbeat, no lease to wait out
      const [leader, other] = b.claims.held.leaderEpoch ? [b, c] : [c, b];
      leader.claims.release();
      expect(leader.claims.held).toEqual({ owned: new Map(), leaderEpoch: null, leaseUntil: 0 });
      clock.t += 1;
      const r = other.claims.heartbeat();
      expect(r.leader).toBe(true);
      expect(r.owned.size).toBe(P);
      checkBalanced([other], P);
    });

    it('refuses a node configured with fewer partitions than the cluster has', async () => {
      const clock = { t: 5_000_000 };
      const [a] = await cluster(backend, ['a'], 8, cleanups, clock);
      expect(() => new Claims(a!.db, { nodeId: 'b', partitions: 4 })).toThrow(/has 8 partitions but this node is configured with 4/);
    });

    it('many randomly interleaved heartbeats, pauses, restarts and shutdowns of three nodes never give a partition two owners', async () => {
      const clock = { t: 6_000_000, skew: { a: 0, b: 0, c: 0 } as Record<string, number> };
      const P = 8;
      const nodes = await cluster(backend, ['a', 'b', 'c'], P, cleanups, clock);
      let seed = 12345;
      const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const paused = new Set<Node>();
      for (let step = 0; step < 300; step++) {
        clock.t += Math.floor(rand() * 1500);
        const n = nodes[Math.floor(rand() * nodes.length)]!;
        const roll = rand();
        if (roll < 0.05) paused.add(n);
        else if (roll < 0.12) paused.delete(n);
        else if (roll < 0.15 && !paused.has(n)) n.claims.release();
        else if (!paused.has(n)) n.claims.heartbeat();
        checkNoOverlap(nodes, P);
      }
      // everyone back and heartbeating: balanced within a couple of rounds
      paused.clear();
      for (let i = 0; i < 3; i++) {
        clock.t += 1000;
        for (const n of nodes) n.claims.heartbeat();
      }
      checkBalanced(nodes, P);
    });
  });
}

describe('partition claims under concurrent nodes on postgres', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  /** A node of claims-node.ts in a worker thread (TypeScript through tsx, as the service's own workers under test). */
  function runNode(data: NodeData): Promise<NodeReport> {
    const url = new URL('./claims-node.ts', import.meta.url).href;
    const w = new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(url)}); })`, { eval: true, workerData: data });
    return new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`node ${data.nodeId} exited (${code}) without a report`)));
    });
  }

  it('a node stopped inside a transaction holding claim rows loses its session, and the others take over within one heartbeat', async () => {
    // As the service opens it in a cluster: the server ends a session idle inside a transaction after this long.
    const url = await freshPostgresUrl(cleanups);
    const stoppedDb = openDb({ url, dataDir: '', idleInTransactionMs: 400 });
    const otherDb = openDb({ url, dataDir: '' });
    cleanups.unshift(() => [stoppedDb, otherDb].forEach((d) => d.close()));
    const clock = { t: 6_000_000 };
    const now = () => clock.t;
    const stopped = new Claims(stoppedDb, { nodeId: 'stopped', partitions: 2, leaseMs: LEASE, now });
    const other = new Claims(otherDb, { nodeId: 'other', partitions: 2, leaseMs: LEASE, now });
    const held = stopped.heartbeat().owned;
    expect(held.size).toBe(2);
    // What a SIGSTOP between a fence and its commit leaves: an open transaction with the claim rows locked, forever.
    stoppedDb.exec('BEGIN');
    stoppedDb.prepare('SELECT part FROM partition_claims ORDER BY part FOR UPDATE').all();
    clock.t += LEASE;
    // The other node's heartbeat waits (up to LEASE/6 for a lock) until the server ends the stopped session, then takes both.
    const t0 = performance.now();
    const hb = other.heartbeat();
    const waited = performance.now() - t0;
    expect(hb.owned).toEqual(new Map([[0, held.get(0)! + 1], [1, held.get(1)! + 1]]));
    expect(waited).toBeLessThan(LEASE / 6);
    // The stopped node, woken, finds its transaction gone with its session; its next one reconnects and is fenced.
    expect(() => stoppedDb.exec('COMMIT')).toThrow(/lost inside a transaction/);
    stoppedDb.exec('ROLLBACK');
    expect(() => stoppedDb.transaction(() => stopped.fence(0, held.get(0)!))()).toThrow(LostClaimError);
  });

  it('three nodes starting at once on an empty database all create their tables and start', async () => {
    // Several rounds: the race of creating the migration history's table showed in most, not all.
    for (let round = 0; round < 4; round++) {
      const url = await freshPostgresUrl(cleanups);
      const clock = new Int32Array(new SharedArrayBuffer(4));
      const barrier = { nodes: 3, arrived: new Int32Array(new SharedArrayBuffer(4)) };
      const reports = await Promise.all(['n1', 'n2', 'n3'].map((nodeId) => runNode({ url, nodeId, partitions: 6, leaseMs: 2000, clock, steps: 0, seed: 1, barrier })));
      expect(reports).toHaveLength(3);
    }
  });

  it('three nodes heartbeating, pausing and committing fenced writes at the same time never commit a partition under two owners', async () => {
    const url = await freshPostgresUrl(cleanups);
    const db = openDb({ url, dataDir: '' });
    cleanups.unshift(() => db.close());
    const P = 6;
    // Created before the nodes start, so they do not race each other to create the tables.
    new Claims(db, { nodeId: 'setup', partitions: P });
    migrate(db, 'test/fenced', [{ version: 1, name: 'fenced', up: 'CREATE TABLE fenced_log (part INTEGER PRIMARY KEY, last_epoch INTEGER NOT NULL, last_node TEXT, commits INTEGER NOT NULL)' }]);
    db.prepare('INSERT INTO fenced_log (part, last_epoch, last_node, commits) VALUES (?, 0, NULL, 0)').runMany(Array.from({ length: P + 1 }, (_, i) => [i - 1]));
    const clock = new Int32Array(new SharedArrayBuffer(4));
    const reports = await Promise.all(
      ['n1', 'n2', 'n3'].map((nodeId, i) => runNode({ url, nodeId, partitions: P, leaseMs: 2000, clock, steps: 300, seed: 7 + i })),
    );
    expect(reports.flatMap((r) => r.violations)).toEqual([]);
    const commits = reports.reduce((n, r) => n + r.commits, 0);
    expect(db.prepare('SELECT SUM(commits) n FROM fenced_log').pluck().get()).toBe(commits);
    // it was a real contest: takeovers happened and stale nodes were refused
    expect(reports.reduce((n, r) => n + r.refused.moved + r.refused.expired, 0)).toBeGreaterThan(0);
    expect(db.prepare('SELECT MAX(last_epoch) n FROM fenced_log').pluck().get()).toBeGreaterThan(3);
    console.log('concurrent claims', JSON.stringify(reports.map(({ violations, ...r }) => r)));
  });
});
