// Which sub-millisecond offset a point takes (see storage/points.ts).
//
// InfluxDB identifies a point by series + timestamp, and the timestamp is the
// event time in ms plus an offset 0–999,999 ns: FNV-1a of the message id, so a
// re-send (same id, same ts) lands on its own point again. Two *different*
// ids of one series at the same ms collide when their hashes do (about 12 % of
// batches of 500 messages sharing a ts), and the later would overwrite the
// earlier. So the accept stage, which runs exactly once per message, checks
// the slot before it takes it: when another id holds it, the point moves to
// the next free offset. Such a re-assignment is rare and is kept in SQLite, in
// the accept transaction, so a re-send of that id and a replay of the spool
// after a crash land on the same point again; every other point needs no
// state, because its offset is its hash.
//
// Points are grouped by (key, ms), where the key is a tag value every point
// of a series shares (the equipment code; PointParts.key): a group is never
// finer than a series, and a coarser one can only move a point needlessly.
// Who holds which slot is remembered in memory for recent groups only: a
// fixed table of TABLE_SIZE groups (6 MB; a new group takes the place of the
// one its hash lands on, so it holds roughly the last hundred thousand) and,
// for groups with several ids, up to MULTI_POINTS points. The common path
// reads nothing and keeps nothing per point beyond its table entry. Ids are
// told apart in memory by two independent 32-bit hashes. A different id at the
// same ms that arrives after its group was forgotten (or after a restart) is
// not seen, and overwrites if its offset collides (one chance in a million per pair).
import type { Db } from '../storage/db.js';
import { migrate } from '../storage/migrations.js';
import { fnv1a, OFFSETS_PER_MS } from '../storage/points.js';

const TABLE_BITS = 18;
const TABLE_SIZE = 1 << TABLE_BITS;
/** Points of groups with several ids remembered in memory (about 60 bytes each), oldest group forgotten first. */
export const MULTI_POINTS = 100_000;

/** A second hash of the id, independent of FNV-1a: with it, two ids are the same in memory only if 64 bits agree. */
function fingerprint(s: string): number {
  let h = 0x9747b28c ^ s.length;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/** A point moved off its hash offset: to be kept (remember) in the accept transaction. */
export interface Reassigned {
  group: string;
  ts: number;
  id: string;
  off: number;
}

/** The ids of a group with several, as parallel lists (small; scanned). */
interface Multi {
  a: number[];
  b: number[];
  off: number[];
}

/** One point being placed: its group (key hash, ts), its table slot and its id's hashes. */
interface Place {
  slot: number;
  key: number;
  ts: number;
  a: number;
  b: number;
  /** `key:ts`, made when first needed (groups with several ids, SQLite) */
  group?: string;
}

export class PointSlots {
  // The table: per slot the group (ts, key hash) and its single holder (hashes, offset), or offset -1 for several (see `multi`).
  private tsOf = new Float64Array(TABLE_SIZE).fill(NaN);
  private keyOf = new Uint32Array(TABLE_SIZE);
  private aOf = new Uint32Array(TABLE_SIZE);
  private bOf = new Uint32Array(TABLE_SIZE);
  private offOf = new Int32Array(TABLE_SIZE);
  private multi = new Map<string, Multi>();
  private multiPoints = 0;
  /** multi group keys, oldest first, from `head` on */
  private order: string[] = [];
  private head = 0;
  /** event times (ms) with a re-assignment in SQLite: only their points are looked up */
  private reassignedTs = new Set<number>();
  private find;
  private ins;
  private purgeStmt;
  private loadTs;

  constructor(db: Db, private readonly maxMultiPoints = MULTI_POINTS) {
    migrate(db, 'ingest/point-slots', [
      {
        version: 1,
        name: 'point offsets',
        up: `CREATE TABLE IF NOT EXISTS point_offsets (grp TEXT NOT NULL, id TEXT NOT NULL, ts INTEGER NOT NULL, off INTEGER NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (grp, id)) WITHOUT ROWID;
          CREATE INDEX IF NOT EXISTS point_offsets_at ON point_offsets (at)`,
      },
    ]);
    this.find = db.prepare('SELECT off FROM point_offsets WHERE grp = ? AND id = ?').pluck();
    this.ins = db.prepare('INSERT INTO point_offsets (grp, id, ts, off, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (grp, id) DO NOTHING');
    this.purgeStmt = db.prepare('DELETE FROM point_offsets WHERE at < ?');
    this.loadTs = db.prepare('SELECT DISTINCT ts FROM point_offsets').pluck();
    this.reload();
  }

  /**
   * The offset of a point being accepted (first time through the accept stage).
   * A re-assignment it makes is appended to `out`, to be remembered in the same
   * transaction that accepts the message.
   */
  assign(key: string, ts: number, id: string, out: Reassigned[]): number {
    const p = this.place(key, ts, id);
    const hash = p.a % OFFSETS_PER_MS;
    let off = this.known(p);
    if (off === undefined) {
      off = this.stored(p, id);
      if (off === undefined) {
        off = hash;
        // Linear probing: the next offset no other id of the group holds. Ends: a group holds fewer than OFFSETS_PER_MS points.
        while (this.holds(p, off)) off = (off + 1) % OFFSETS_PER_MS;
      }
      this.add(p, off);
    }
    // Also when known: the batch may be accepted again after its transaction failed, and the move must still be kept.
    if (off !== hash) out.push({ group: groupKey(p), ts, id, off });
    return off;
  }

  /**
   * The offset of a point accepted before (read again after a crash, or
   * decoded again after its batch left memory): what assign gave it then.
   */
  recall(key: string, ts: number, id: string): number {
    const p = this.place(key, ts, id);
    const off = this.stored(p, id) ?? p.a % OFFSETS_PER_MS;
    // Warms the memory after a restart; never displaces a holder.
    if (this.known(p) === undefined && !this.holds(p, off)) this.add(p, off);
    return off;
  }

  /** Keeps re-assignments; call inside the accept transaction. */
  remember(list: readonly Reassigned[], at: number): void {
    this.ins.runMany(list.map((r) => [r.group, r.id, r.ts, r.off, at]));
    for (const r of list) this.reassignedTs.add(r.ts);
  }

  /** Forgets re-assignments made before `before` (ms); a re-send after that lands on its hash offset. */
  purge(before: number): number {
    const n = this.purgeStmt.run(before).changes;
    if (n) this.reload();
    return n;
  }

  /** Points of groups with several ids held in memory (tests). */
  get multiSize(): number {
    return this.multiPoints;
  }

  private reload(): void {
    this.reassignedTs = new Set(this.loadTs.all() as number[]);
  }

  private place(key: string, ts: number, id: string): Place {
    const s = fnv1a(key);
    const slot = (s ^ Math.imul(ts >>> 0, 0x9e3779b1) ^ Math.floor(ts / 0x1_0000_0000)) & (TABLE_SIZE - 1);
    return { slot, key: s, ts, a: fnv1a(id), b: fingerprint(id) };
  }

  private sameGroup(p: Place): boolean {
    return this.tsOf[p.slot] === p.ts && this.keyOf[p.slot] === p.key;
  }

  /** Where this id already is in its group, if the memory knows. */
  private known(p: Place): number | undefined {
    if (!this.sameGroup(p)) return undefined;
    const off = this.offOf[p.slot]!;
    if (off >= 0) return this.aOf[p.slot] === p.a && this.bOf[p.slot] === p.b ? off : undefined;
    const m = this.multi.get(groupKey(p));
    if (!m) return undefined;
    for (let i = 0; i < m.a.length; i++) if (m.a[i] === p.a && m.b[i] === p.b) return m.off[i];
    return undefined;
  }

  /** Whether another id of the group holds this offset. */
  private holds(p: Place, off: number): boolean {
    if (!this.sameGroup(p)) return false;
    const single = this.offOf[p.slot]!;
    if (single >= 0) return single === off;
    return this.multi.get(groupKey(p))?.off.includes(off) ?? false;
  }

  private stored(p: Place, id: string): number | undefined {
    return this.reassignedTs.has(p.ts) ? ((this.find.get(groupKey(p), id) as number | undefined) ?? undefined) : undefined;
  }

  private add(p: Place, off: number): void {
    const { slot } = p;
    if (!this.sameGroup(p)) {
      // A new group takes the slot, forgetting whatever group had it.
      this.tsOf[slot] = p.ts;
      this.keyOf[slot] = p.key;
      this.aOf[slot] = p.a;
      this.bOf[slot] = p.b;
      this.offOf[slot] = off;
      return;
    }
    const key = groupKey(p);
    let m = this.offOf[slot]! >= 0 ? undefined : this.multi.get(key);
    if (!m) {
      // The group's second id (or its list was forgotten): a list, starting with the single holder if there is one.
      m = this.offOf[slot]! >= 0 ? { a: [this.aOf[slot]!], b: [this.bOf[slot]!], off: [this.offOf[slot]!] } : { a: [], b: [], off: [] };
      this.multiPoints -= this.multi.get(key)?.a.length ?? 0; // a list left from when the group last had the slot
      this.offOf[slot] = -1;
      this.multi.set(key, m);
      this.order.push(key);
      this.multiPoints += m.a.length;
    }
    m.a.push(p.a);
    m.b.push(p.b);
    m.off.push(off);
    if (++this.multiPoints > this.maxMultiPoints) this.forgetOldest();
  }

  private forgetOldest(): void {
    while (this.multiPoints > this.maxMultiPoints && this.head < this.order.length) {
      const k = this.order[this.head++]!;
      this.multiPoints -= this.multi.get(k)?.a.length ?? 0;
      this.multi.delete(k);
    }
    if (this.head > 4096 && this.head * 2 > this.order.length) (this.order = this.order.slice(this.head)), (this.head = 0);
  }
}

const groupKey = (p: Place) => (p.group ??= `${p.key}:${p.ts}`);
