// Dead letters: every rejected object with topic, sender, reason and an
// excerpt, kept in SQLite and bounded to the newest `max` rows.
import type { Db } from '../storage/db.js';
import { migrate } from '../storage/migrations.js';
import { sorting, type SortOf } from '../storage/sort.js';
import type { Reject } from './decode.js';

export interface DeadLetter extends Reject {
  /** stable key: where the message sat in the spool (or an import row), so a replay does not record it twice */
  key: string;
  at: number;
  topic: string;
  sender: string;
  transport: string;
}

export interface DeadLetterRow extends DeadLetter {
  seq: number;
}

/** A letter as the ingest-health view shows it (no key, no index). */
export type DeadLetterBrief = Pick<DeadLetterRow, 'seq' | 'at' | 'topic' | 'sender' | 'transport' | 'reason' | 'message' | 'excerpt'>;
const BRIEF = 'seq, at, topic, sender, transport, reason, message, excerpt';

/** Sort keys of the dead-letter list (`-` first for descending); ties go by seq. The default, `-seq`, is newest first. */
export const DEAD_LETTER_SORT = sorting({ seq: 'seq', at: 'at', reason: 'reason', sender: 'sender' }, 'seq');
export type DeadLetterSort = SortOf<typeof DEAD_LETTER_SORT>;

export class DeadLetters {
  private ins;
  private trim;
  constructor(private db: Db, private max: number) {
    migrate(db, 'ingest/dead-letters', [
      {
        version: 1,
        name: 'dead letters',
        up: `CREATE TABLE IF NOT EXISTS dead_letters (
          seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, at INTEGER NOT NULL, topic TEXT NOT NULL,
          sender TEXT NOT NULL, transport TEXT NOT NULL, reason TEXT NOT NULL, message TEXT NOT NULL, idx INTEGER, excerpt TEXT NOT NULL);
          CREATE INDEX IF NOT EXISTS dead_letters_reason ON dead_letters (reason, seq)`,
      },
    ]);
    this.ins = db.prepare(`INSERT INTO dead_letters (key, at, topic, sender, transport, reason, message, idx, excerpt)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING`);
    this.trim = db.prepare('DELETE FROM dead_letters WHERE seq <= (SELECT MAX(seq) FROM dead_letters) - ?');
  }

  /** Stores the letters; call inside the caller's transaction. */
  add(letters: DeadLetter[]): void {
    if (letters.length === 0) return;
    this.ins.runMany(letters.map((l) => [l.key, l.at, l.topic, l.sender, l.transport, l.reason, l.message, l.index ?? null, l.excerpt]));
    this.trim.run(this.max);
  }

  list(q: { reason?: string | undefined; sender?: string | undefined; page?: number; pageSize?: number; sort?: DeadLetterSort | undefined }): { items: DeadLetterRow[]; total: number; page: number; pageSize: number } {
    const page = Math.max(1, q.page ?? 1);
    const pageSize = Math.min(500, Math.max(1, q.pageSize ?? 50));
    const where: string[] = [];
    const args: Record<string, unknown> = {};
    if (q.reason) { where.push('reason = @reason'); args.reason = q.reason; }
    if (q.sender) { where.push('sender = @sender'); args.sender = q.sender; }
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT COUNT(*) n FROM dead_letters ${w}`).get(args) as { n: number }).n;
    const rows = this.db
      .prepare(`SELECT seq, key, at, topic, sender, transport, reason, message, idx AS "index", excerpt FROM dead_letters ${w} ORDER BY ${DEAD_LETTER_SORT.order(q.sort ?? '-seq')} LIMIT @limit OFFSET @offset`)
      .all({ ...args, limit: pageSize, offset: (page - 1) * pageSize }) as DeadLetterRow[];
    return { items: rows.map((r) => ({ ...r, index: r.index ?? undefined })), total, page, pageSize };
  }

  /** The newest letter of each reason. */
  latestPerReason(): DeadLetterBrief[] {
    return this.db.prepare(`SELECT ${BRIEF} FROM dead_letters WHERE seq IN (SELECT MAX(seq) FROM dead_letters GROUP BY reason)`).all() as DeadLetterBrief[];
  }

  /** The newest `n` letters, newest first. */
  recent(n: number): DeadLetterBrief[] {
    return this.db.prepare(`SELECT ${BRIEF} FROM dead_letters ORDER BY seq DESC LIMIT ?`).all(n) as DeadLetterBrief[];
  }

  countsByReason(): Record<string, number> {
    const rows = this.db.prepare('SELECT reason, COUNT(*) n FROM dead_letters GROUP BY reason').all() as { reason: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.reason, r.n]));
  }
}
