// One cluster node for the concurrent claims test (claims.test.ts), in a worker
// thread with its own PostgreSQL connection: it heartbeats, pauses (as under
// SIGSTOP) and shuts down cleanly at random, on a clock shared by all nodes,
// and after every step commits one fenced write per partition it believes it
// holds. Each write checks, under the claim's row lock, that no node has
// committed for that partition with a newer epoch (or the same epoch as
// another node): a violation is reported, not thrown.
import { parentPort, workerData } from 'node:worker_threads';
import { Claims, LEADER, LostClaimError } from '../../storage/claims.js';
import { openDb } from '../../storage/db.js';

export interface NodeData {
  url: string;
  nodeId: string;
  partitions: number;
  leaseMs: number;
  /** ms since the clock's base, shared by all nodes; each step moves it on */
  clock: Int32Array;
  steps: number;
  seed: number;
  /** when set: every node connects, then waits here until all of them have, and only then starts (to race them) */
  barrier?: { nodes: number; arrived: Int32Array };
}

export interface NodeReport {
  heartbeats: number;
  commits: number;
  refused: { moved: number; expired: number };
  violations: string[];
}

const d = workerData as NodeData;
const BASE = 10_000_000;
const now = () => BASE + Atomics.load(d.clock, 0);
let seed = d.seed;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;

const db = openDb({ url: d.url, dataDir: '' });
if (d.barrier) {
  const { nodes, arrived } = d.barrier;
  Atomics.add(arrived, 0, 1);
  Atomics.notify(arrived, 0);
  for (let n; (n = Atomics.load(arrived, 0)) < nodes; ) Atomics.wait(arrived, 0, n, 1000);
}
const claims = new Claims(db, { nodeId: d.nodeId, partitions: d.partitions, leaseMs: d.leaseMs, now });
const report: NodeReport = { heartbeats: 0, commits: 0, refused: { moved: 0, expired: 0 }, violations: [] };
const last = db.prepare<{ epoch: number; node: string | null }>('SELECT last_epoch AS epoch, last_node AS node FROM fenced_log WHERE part = ?');
const pause = db.prepare('SELECT pg_sleep(0.02)');
const record = db.prepare('UPDATE fenced_log SET last_epoch = ?, last_node = ?, commits = commits + 1 WHERE part = ?');

function commit(p: number, epoch: number, leaseUntil: number): void {
  try {
    db.transaction(() => {
      claims.fence(p, epoch);
      // The rest of an accept transaction and its commit take time, now and then longer than the lease has
      // left: a takeover must not commit meanwhile.
      if (rand() < 0.2) {
        Atomics.add(d.clock, 0, Math.floor(rand() * d.leaseMs));
        pause.get();
      }
      const prev = last.get(p)!;
      if (prev.epoch > epoch || (prev.epoch === epoch && prev.node !== null && prev.node !== d.nodeId)) {
        report.violations.push(`${d.nodeId} committed partition ${p} at epoch ${epoch} after ${prev.node} at epoch ${prev.epoch}`);
      }
      record.run(epoch, d.nodeId, p);
    })();
    report.commits++;
  } catch (e) {
    if (!(e instanceof LostClaimError)) throw e;
    report.refused[e.reason]++;
    // Taken over while our lease still ran, by the clock every node shares: two owners at once.
    if (e.reason === 'moved' && now() < leaseUntil) report.violations.push(`${d.nodeId} lost partition ${p} (epoch ${epoch}) within its lease`);
  }
}

let pausedFor = 0;
for (let step = 0; step < d.steps; step++) {
  Atomics.add(d.clock, 0, Math.floor(rand() * 150));
  const roll = rand();
  if (pausedFor > 0) pausedFor--;
  else if (roll < 0.02) pausedFor = 10 + Math.floor(rand() * 40);
  else if (roll < 0.03) claims.release();
  else {
    claims.heartbeat();
    report.heartbeats++;
  }
  // A paused node that resumes goes on with what it last believed: the fence must stop it.
  const held = claims.held;
  for (const [p, e] of held.owned) commit(p, e, held.leaseUntil);
  if (held.leaderEpoch !== null) commit(LEADER, held.leaderEpoch, held.leaseUntil);
}
claims.release();
db.close();
parentPort!.postMessage(report);
