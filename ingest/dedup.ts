// Duplicate detection by (sender, channel, id) for the low-volume channels
// (events, fillings, records), where a duplicate with a different ts would
// otherwise count twice. High-rate channels (status, reading) rely on point
// identity instead: the same id and ts land on the same InfluxDB point.
// Keys are recorded only after InfluxDB accepted the batch, so a crash in
// between replays the batch instead of dropping it as a "duplicate".
import type { Database } from 'better-sqlite3';
import type { Channel } from '../domain/channels.js';

export const DEDUP_CHANNELS: ReadonlySet<Channel> = new Set(['event', 'filling', 'maintenance', 'inspection', 'complaint', 'rescue']);

export class Dedup {
  private has;
  private ins;
  private purgeStmt;
  constructor(db: Database) {
    db.exec('CREATE TABLE IF NOT EXISTS seen_ids (key TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID');
    db.exec('CREATE INDEX IF NOT EXISTS seen_ids_at ON seen_ids (at)');
    this.has = db.prepare('SELECT 1 FROM seen_ids WHERE key = ?').pluck();
    this.ins = db.prepare('INSERT OR IGNORE INTO seen_ids (key, at) VALUES (?, ?)');
    this.purgeStmt = db.prepare('DELETE FROM seen_ids WHERE at < ?');
  }

  static key(sender: string, channel: Channel, id: string): string {
    return `${sender}\u0001${channel}\u0001${id}`;
  }

  seen(key: string): boolean {
    return this.has.get(key) !== undefined;
  }

  /** Records keys; call inside the caller's transaction. */
  remember(keys: Iterable<string>, at: number): void {
    for (const k of keys) this.ins.run(k, at);
  }

  /** Forgets ids first seen before `before` (ms). */
  purge(before: number): number {
    return this.purgeStmt.run(before).changes;
  }
}
