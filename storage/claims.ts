// Which node of a cluster owns which partition of the log, and which node
// leads (runs the timed rules), kept in the shared state with leases and
// fencing epochs. Every node calls heartbeat() about every leaseMs / 3: it
// renews its claims, takes partitions that are free or whose lease expired,
// up to its fair share ceil(P / live nodes), and gives back what it holds
// beyond that share, so a joining node gets its share within two heartbeats
// and a dead node's partitions move after one lease. Every change of owner
// bumps the partition's epoch; the accept transaction calls fence() just
// before it commits, so a node that lost its claim (paused, cut off) cannot
// commit for that partition even if it has not noticed yet.
//
// Concurrency: a heartbeat locks every claim row (in partition order, so two
// heartbeats never deadlock) before it reads them, so heartbeats of all nodes
// run one after another on PostgreSQL; on SQLite the first write takes the
// database's write lock. fence() locks its one row, so a takeover waits for
// the fenced transaction to commit. Updates are conditional on the epoch read
// and their row counts checked, so a node never believes it holds a row that
// another node changed. Leases are judged by each node's own clock: clocks
// must agree to well within leaseMs (NTP does).
import { AppError } from '../common/errors.js';
import type { Db } from './db.js';
import { migrate, type Migration } from './migrations.js';

/** The claim row of the leader, beside partitions 0 … P-1. */
export const LEADER = -1;

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'cluster nodes and partition claims',
    up: `
      CREATE TABLE cluster_nodes (node_id TEXT PRIMARY KEY, heartbeat_at INTEGER NOT NULL, started_at INTEGER NOT NULL);
      CREATE TABLE partition_claims (part INTEGER PRIMARY KEY, node_id TEXT, epoch INTEGER NOT NULL, expires_at INTEGER NOT NULL);
    `,
  },
];

/** This node no longer holds the partition (or leadership) with that epoch: what it was about to commit must not commit. */
export class LostClaimError extends AppError {
  constructor(
    readonly partition: number,
    readonly epoch: number,
    /** moved: another node holds it (or nobody, after a hand-back); expired: still ours, but the lease ran out */
    readonly reason: 'moved' | 'expired',
    message: string,
  ) {
    super(message, 503);
  }
}

export interface ClaimsOptions {
  /** unique per running node (e.g. host:pid); a restarted node may reuse it */
  nodeId: string;
  /** P, fixed when the stream was created; every node must agree */
  partitions: number;
  /** how long a claim (and a node's liveness) lasts after a heartbeat */
  leaseMs?: number;
  now?: () => number;
}

export interface HeartbeatResult {
  /** partition → epoch, for every partition this node holds now */
  owned: Map<number, number>;
  leader: boolean;
  /** partitions taken by this heartbeat (start consuming them, from the committed position) */
  gained: number[];
  /** partitions held at the previous heartbeat and not now, or now at another epoch (stop consuming them) */
  lost: number[];
}

export interface ClaimState {
  /** a partition, or LEADER */
  partition: number;
  /** null when free or when the lease has expired */
  owner: string | null;
  epoch: number;
  /** 0 when free or expired */
  leaseLeftMs: number;
}

export interface NodeState {
  nodeId: string;
  /** heartbeat within the lease */
  live: boolean;
  heartbeatAgeMs: number;
  startedAt: number;
}

/** A node silent this long leaves cluster_nodes (node ids may be per process: the table must not grow with restarts). */
const FORGET_NODE_MS = 3_600_000;

interface Row {
  part: number;
  owner: string | null;
  epoch: number;
  expires: number;
}

export class Claims {
  readonly nodeId: string;
  readonly partitions: number;
  readonly leaseMs: number;
  private readonly now: () => number;
  private readonly startedAt: number;
  private owned = new Map<number, number>();
  private leaderEpoch: number | null = null;
  /** when the claims of the last successful heartbeat run out, by this node's clock */
  private leaseUntil = 0;
  private readonly lockSuffix: string;

  constructor(
    private readonly db: Db,
    opts: ClaimsOptions,
  ) {
    this.nodeId = opts.nodeId;
    this.partitions = opts.partitions;
    this.leaseMs = opts.leaseMs ?? 5000;
    this.now = opts.now ?? Date.now;
    if (!this.nodeId) throw new AppError('a cluster node needs a non-empty node id', 500);
    if (!Number.isInteger(this.partitions) || this.partitions < 1) throw new AppError(`the partition count must be a positive integer (got ${opts.partitions})`, 500);
    if (!(this.leaseMs > 0)) throw new AppError(`the claim lease must be positive (got ${opts.leaseMs} ms)`, 500);
    this.startedAt = this.now();
    this.lockSuffix = db.dialect === 'postgres' ? ' FOR UPDATE' : '';
    migrate(db, 'storage/claims', MIGRATIONS);
    db.transaction(() => {
      const seed = db.prepare('INSERT INTO partition_claims (part, node_id, epoch, expires_at) VALUES (?, NULL, 0, 0) ON CONFLICT (part) DO NOTHING');
      seed.runMany(Array.from({ length: this.partitions + 1 }, (_, i) => [i - 1]));
      const max = db.prepare('SELECT MAX(part) m FROM partition_claims').pluck().get() as number;
      if (max >= this.partitions) {
        throw new AppError(`the cluster's state has ${max + 1} partitions but this node is configured with ${this.partitions}; every node must use the partition count the stream was created with`, 500);
      }
    })();
  }

  /** Records this node as alive, renews its claims and rebalances (see the top of this file). One transaction. */
  heartbeat(): HeartbeatResult {
    if (this.db.inTransaction) throw new AppError('Claims.heartbeat() runs its own transaction; call it outside any other', 500);
    const before = this.owned;
    const now = this.now();
    const { owned, leaderEpoch } = this.db.transaction(() => this.rebalance(now))();
    this.owned = owned;
    this.leaderEpoch = leaderEpoch;
    this.leaseUntil = now + this.leaseMs;
    return {
      owned: new Map(owned),
      leader: leaderEpoch !== null,
      gained: [...owned.keys()].filter((p) => before.get(p) !== owned.get(p)),
      lost: [...before.keys()].filter((p) => before.get(p) !== owned.get(p)),
    };
  }

  private rebalance(now: number): { owned: Map<number, number>; leaderEpoch: number | null } {
    const { db, nodeId: me } = this;
    // A wait for another node's locks gives up well within the lease (the next heartbeat tries again), rather than
    // stopping this node's thread while a stopped node holds them until the server ends its session.
    if (db.dialect === 'postgres') db.exec(`SET LOCAL lock_timeout = ${Math.max(100, Math.floor(this.leaseMs / 6))}`);
    // The write first: on SQLite it takes the write lock before anything is read.
    db.prepare(
      `INSERT INTO cluster_nodes (node_id, heartbeat_at, started_at) VALUES (?, ?, ?)
       ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, started_at = excluded.started_at`,
    ).run(me, now, this.startedAt);
    const rows = db
      .prepare<Row>(`SELECT part, node_id AS owner, epoch, expires_at AS expires FROM partition_claims ORDER BY part${this.lockSuffix}`)
      .all();
    // Read after the locks: it sees the heartbeats of every node whose heartbeat we waited for.
    const live = Math.max(1, db.prepare('SELECT COUNT(*) n FROM cluster_nodes WHERE heartbeat_at > ?').pluck().get(now - this.leaseMs) as number);
    const share = Math.ceil(this.partitions / live);
    db.prepare('DELETE FROM cluster_nodes WHERE heartbeat_at < ?').run(now - Math.max(FORGET_NODE_MS, 10 * this.leaseMs));
    const expires = now + this.leaseMs;

    const renew = db.prepare('UPDATE partition_claims SET expires_at = ? WHERE part = ? AND node_id = ? AND epoch = ?');
    const take = db.prepare(
      'UPDATE partition_claims SET node_id = ?, epoch = epoch + 1, expires_at = ? WHERE part = ? AND epoch = ? AND (node_id IS NULL OR expires_at <= ?)',
    );
    const give = db.prepare('UPDATE partition_claims SET node_id = NULL, expires_at = 0 WHERE part = ? AND node_id = ? AND epoch = ?');
    const free = (r: Row) => r.owner === null || (r.owner !== me && r.expires <= now);

    const owned = new Map<number, number>();
    let leaderEpoch: number | null = null;
    const parts = rows.filter((r) => r.part >= 0);
    // Own rows are renewed even if their lease ran out meanwhile: nobody took them, so the epoch stays valid.
    const mine = parts.filter((r) => r.owner === me);
    // Beyond the share: give back the highest-numbered ones; a node below its share takes them at its next heartbeat.
    for (const r of mine.slice(share)) give.run(r.part, me, r.epoch);
    for (const r of mine.slice(0, share)) if (renew.run(expires, r.part, me, r.epoch).changes === 1) owned.set(r.part, r.epoch);
    for (const r of parts) {
      if (owned.size >= share) break;
      if (free(r) && take.run(me, expires, r.part, r.epoch, now).changes === 1) owned.set(r.part, r.epoch + 1);
    }

    const lead = rows.find((r) => r.part === LEADER);
    if (lead?.owner === me) {
      if (renew.run(expires, LEADER, me, lead.epoch).changes === 1) leaderEpoch = lead.epoch;
    } else if (lead && free(lead) && take.run(me, expires, LEADER, lead.epoch, now).changes === 1) {
      leaderEpoch = lead.epoch + 1;
    }
    return { owned, leaderEpoch };
  }

  /**
   * Throws LostClaimError unless this node still holds `partition` (or LEADER) with `epoch` and its lease has
   * not run out. Call it inside the transaction whose commit must be fenced, just before it commits: on
   * PostgreSQL it locks the claim row, so no takeover can commit between this check and that commit. A
   * transaction that fences several claims fences them in ascending order (LEADER first), as heartbeat() locks
   * them, or the two can deadlock.
   */
  fence(partition: number, epoch: number): void {
    if (!this.db.inTransaction) throw new AppError('Claims.fence() must run inside the transaction it protects, just before it commits', 500);
    const row = this.db
      .prepare<Row>(`SELECT part, node_id AS owner, epoch, expires_at AS expires FROM partition_claims WHERE part = ?${this.lockSuffix}`)
      .get(partition);
    const what = partition === LEADER ? 'leadership' : `partition ${partition}`;
    if (!row) throw new LostClaimError(partition, epoch, 'moved', `${what} does not exist (this node is configured with ${this.partitions} partitions)`);
    const now = this.now();
    if (row.owner !== this.nodeId || row.epoch !== epoch) {
      throw new LostClaimError(partition, epoch, 'moved', `node ${this.nodeId} no longer holds ${what} at epoch ${epoch} (now ${row.owner ?? 'nobody'} at epoch ${row.epoch}); its work is left uncommitted for the owner to redo`);
    }
    if (row.expires <= now) {
      throw new LostClaimError(partition, epoch, 'expired', `node ${this.nodeId}'s lease on ${what} ran out ${now - row.expires} ms ago (no heartbeat within ${this.leaseMs} ms); its work is left uncommitted`);
    }
  }

  /** On clean shutdown: gives every partition and leadership away at once, and leaves the live nodes. */
  release(): void {
    const { db, nodeId: me } = this;
    db.transaction(() => {
      // Locked in partition order first, as heartbeat() does, so the two never deadlock.
      db.prepare(`SELECT part FROM partition_claims WHERE node_id = ? ORDER BY part${this.lockSuffix}`).all(me);
      db.prepare('UPDATE partition_claims SET node_id = NULL, expires_at = 0 WHERE node_id = ?').run(me);
      db.prepare('DELETE FROM cluster_nodes WHERE node_id = ?').run(me);
    })();
    this.owned = new Map();
    this.leaderEpoch = null;
    this.leaseUntil = 0;
  }

  /**
   * What this node holds after its last heartbeat, until `leaseUntil` (its clock): a consumer stops work on its
   * partitions when that passes without a heartbeat that succeeded. fence() decides at commit.
   */
  get held(): { owned: Map<number, number>; leaderEpoch: number | null; leaseUntil: number } {
    return { owned: new Map(this.owned), leaderEpoch: this.leaderEpoch, leaseUntil: this.leaseUntil };
  }

  /** The nodes heard from in the last hour, for /healthz. */
  nodes(): NodeState[] {
    const now = this.now();
    const rows = this.db
      .prepare<{ nodeId: string; at: number; startedAt: number }>('SELECT node_id AS "nodeId", heartbeat_at AS at, started_at AS "startedAt" FROM cluster_nodes ORDER BY node_id')
      .all();
    return rows.map((r) => ({ nodeId: r.nodeId, live: r.at > now - this.leaseMs, heartbeatAgeMs: now - r.at, startedAt: r.startedAt }));
  }

  /** Every claim as the shared state has it now, the leader's first: for /healthz and metrics. */
  state(): ClaimState[] {
    const now = this.now();
    const rows = this.db.prepare<Row>('SELECT part, node_id AS owner, epoch, expires_at AS expires FROM partition_claims ORDER BY part').all();
    return rows.map((r) => {
      const valid = r.owner !== null && r.expires > now;
      return { partition: r.part, owner: valid ? r.owner : null, epoch: r.epoch, leaseLeftMs: valid ? r.expires - now : 0 };
    });
  }
}
