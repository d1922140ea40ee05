// Offline detection: equipment that sent nothing for longer than its timeout
// is offline until it sends again. Timed from the last message received
// (its event time, capped at arrival, so backfilled history does not count
// as a sign of life), checked on a timer, not from MQTT sessions. Last-seen
// times are kept in SQLite so a restart keeps the clocks running.
import type { Db } from '../../storage/db.js';
import { migrate } from '../../storage/migrations.js';

export interface Seen {
  key: string; // e.g. elevator:E1, gas_site:G1
  at: number;
  district: string | null;
  unit: string | null;
}

export class OfflineMonitor {
  private last = new Map<string, Seen>();
  private dirty = new Set<string>();
  private upsert;

  constructor(private db: Db, private timeoutMs: number) {
    migrate(db, 'alerts/rules/offline', [
      { version: 1, name: 'last seen', up: 'CREATE TABLE IF NOT EXISTS last_seen (key TEXT PRIMARY KEY, at INTEGER NOT NULL, district TEXT, unit TEXT) WITHOUT ROWID' },
    ]);
    // The newest time wins (CASE: the two-argument MAX is GREATEST on PostgreSQL, which also wants the table named).
    this.upsert = db.prepare(`INSERT INTO last_seen (key, at, district, unit) VALUES (?, ?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET at = CASE WHEN excluded.at > last_seen.at THEN excluded.at ELSE last_seen.at END, district = excluded.district, unit = excluded.unit`);
    for (const r of db.prepare('SELECT key, at, district, unit FROM last_seen').iterate() as Iterable<Seen>) this.last.set(r.key, r);
  }

  /** Records a sign of life; returns true when it is newer than what was known. */
  seen(s: Seen): boolean {
    const prev = this.last.get(s.key);
    if (prev && prev.at >= s.at) return false;
    this.last.set(s.key, s);
    this.dirty.add(s.key);
    return true;
  }

  /** The last sign of life of `key` (e.g. elevator:E1), or null when never heard from. */
  lastSeen(key: string): number | null {
    return this.last.get(key)?.at ?? null;
  }

  /** Equipment silent for longer than the timeout at `now`. */
  silent(now: number): Seen[] {
    const out: Seen[] = [];
    for (const s of this.last.values()) if (now - s.at > this.timeoutMs) out.push(s);
    return out;
  }

  /**
   * Silent equipment by the shared state (a cluster's leader: other nodes keep the clocks of their partitions
   * and write them here every check period), unless this node heard from it since. Flush this node's own first.
   */
  silentShared(now: number): Seen[] {
    const before = now - this.timeoutMs;
    const rows = this.db.prepare('SELECT key, at, district, unit FROM last_seen WHERE at < ?').all(before) as Seen[];
    return rows.filter((r) => (this.last.get(r.key)?.at ?? r.at) < before);
  }

  /**
   * Writes changed last-seen times to SQLite, at most `slice` per call. The
   * timer calls it often; a city's whole fleet reports within a check period,
   * and writing it in one go would hold the event loop (and every alert) for
   * a noticeable time.
   */
  flush(slice = Infinity): void {
    if (this.dirty.size === 0) return;
    const keys: string[] = [];
    for (const k of this.dirty) {
      keys.push(k);
      if (keys.length >= slice) break;
    }
    for (const k of keys) this.dirty.delete(k);
    // One statement per few thousand rows on PostgreSQL: a fleet's clocks are a few round trips, not one each.
    this.db.transaction(() => {
      this.upsert.runMany(keys.map((k) => {
        const s = this.last.get(k)!;
        return [s.key, s.at, s.district, s.unit];
      }));
    })();
  }

  get pending(): number {
    return this.dirty.size;
  }
}
