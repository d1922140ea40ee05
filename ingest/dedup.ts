// Duplicate detection by (sender, channel, id) for the low-volume channels
// (events, fillings, records), where a duplicate with a different ts would
// otherwise count twice. High-rate channels (status, reading) rely on point
// identity instead: the same id and ts land on the same InfluxDB point.
// Each key is recorded with the spool position of its first occurrence, in
// the same transaction as the rules' effects, when a message is accepted. A
// message read again (a crash before it was stored, or a batch re-read after
// its decoded form was dropped) is a duplicate only if its key was first seen
// somewhere else, so the same message is never mistaken for its own copy.
import type { Db } from '../storage/db.js';
import { migrate, type Migration } from '../storage/migrations.js';
import type { Channel } from '../domain/channels.js';

export const DEDUP_CHANNELS: ReadonlySet<Channel> = new Set(['event', 'filling', 'maintenance', 'inspection', 'complaint', 'rescue', 'hazard']);

const MIGRATIONS: Migration[] = [
  { version: 1, name: 'seen ids', up: 'CREATE TABLE IF NOT EXISTS seen_ids (key TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID; CREATE INDEX IF NOT EXISTS seen_ids_at ON seen_ids (at)' },
  {
    version: 2,
    name: 'position of the first occurrence',
    // Databases from before versioned migrations may have the column already.
    up: (db) => {
      const has = db.dialect === 'sqlite'
        ? (db.prepare('PRAGMA table_info(seen_ids)').all() as { name: string }[]).some((c) => c.name === 'pos')
        : !!db.prepare(`SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'seen_ids' AND column_name = 'pos'`).get();
      if (!has) db.exec('ALTER TABLE seen_ids ADD COLUMN pos TEXT');
    },
  },
];

export class Dedup {
  private first;
  private ins;
  private purgeStmt;
  constructor(db: Db) {
    migrate(db, 'ingest/dedup', MIGRATIONS);
    this.first = db.prepare('SELECT pos FROM seen_ids WHERE key = ?');
    this.ins = db.prepare('INSERT INTO seen_ids (key, at, pos) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING');
    this.purgeStmt = db.prepare('DELETE FROM seen_ids WHERE at < ?');
  }

  static key(sender: string, channel: Channel, id: string): string {
    return `${sender}\u0001${channel}\u0001${id}`;
  }

  /** Where the key was first seen: a position string, null (recorded by an older version), or undefined (never seen). */
  firstSeen(key: string): string | null | undefined {
    const r = this.first.get(key) as { pos: string | null } | undefined;
    return r ? r.pos : undefined;
  }

  /** Records keys with the position of their first occurrence; call inside the caller's transaction. */
  remember(keys: Iterable<readonly [key: string, pos: string]>, at: number): void {
    this.ins.runMany(Array.from(keys, ([k, pos]) => [k, at, pos]));
  }

  /** Forgets ids first seen before `before` (ms). */
  purge(before: number): number {
    return this.purgeStmt.run(before).changes;
  }
}
