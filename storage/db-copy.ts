// Moving an installation from SQLite to PostgreSQL: every table of the SQLite
// state, with its indexes and its migration history, copied into PostgreSQL
// in one transaction and verified by a row count per table. The source is
// read in one read transaction (a consistent snapshot, also of a running
// service's file: WAL lets it go on writing). Re-running replaces what an
// earlier run copied, so a rehearsal on a live system followed by a final run
// after stopping the service is safe.
//
// This is the one piece of code that runs SQL on tables it does not own: it
// moves rows without interpreting them, table by table, from the schema
// SQLite itself reports; the tables' owners define that schema through their
// migrations (storage/migrations.ts), whose history is copied with the rows.
import { AppError } from '../common/errors.js';
import { toPgDdl, type Db } from './db.js';
import { appliedMigrations, hasMigrations } from './migrations.js';

export interface TableCopy {
  table: string;
  source: number;
  target: number;
}

export interface CopyReport {
  tables: TableCopy[];
  ms: number;
  ok: boolean;
}

/** rows per INSERT statement (PostgreSQL takes at most 65,535 parameters in one) */
const CHUNK_PARAMS = 30_000;

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
const ifNotExists = (sql: string) => sql.replace(/^CREATE\s+(UNIQUE\s+)?(TABLE|INDEX)\s+(IF\s+NOT\s+EXISTS\s+)?/i, (_m, u: string | undefined, kind: string) => `CREATE ${u ? 'UNIQUE ' : ''}${kind} IF NOT EXISTS `);

export function copySqliteToPostgres(src: Db, dst: Db, progress: (line: string) => void = () => undefined): CopyReport {
  if (src.dialect !== 'sqlite' || dst.dialect !== 'postgres') throw new AppError('the copy goes from SQLite to PostgreSQL', 400);
  const t0 = performance.now();
  const schema = src.prepare(`SELECT type, name, tbl_name AS "table", sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type DESC, name`).all() as { type: string; name: string; table: string; sql: string }[];
  const tables = schema.filter((s) => s.type === 'table');
  if (!hasMigrations(src)) {
    throw new AppError('the SQLite file has no schema_migrations table: start this version of the service on it once (it migrates at start), then copy', 400);
  }
  const history = (db: Db) => appliedMigrations(db).map((m) => `${m.owner}\u0001${m.version}\u0001${m.name}`);
  const report: TableCopy[] = [];

  // One snapshot of the source for the whole copy.
  src.exec('BEGIN');
  try {
    const srcHistory = history(src);
    dst.transaction(() => {
      if (hasMigrations(dst)) {
        const newer = history(dst).filter((h) => !srcHistory.includes(h));
        if (newer.length) {
          throw new AppError(`PostgreSQL has migrations the SQLite file lacks (${newer.slice(0, 3).map((h) => h.split('\u0001').slice(0, 2).join(' v')).join(', ')}): it was migrated by a newer service; upgrade the source service first`, 409);
        }
      }
      for (const t of tables) dst.exec(toPgDdl(ifNotExists(t.sql)));
      for (const i of schema.filter((s) => s.type === 'index')) dst.exec(ifNotExists(i.sql));
      for (const t of tables) {
        const cols = (src.prepare(`PRAGMA table_info(${quote(t.name)})`).all() as { name: string }[]).map((c) => c.name);
        dst.exec(`DELETE FROM ${quote(t.name)}`);
        const per = Math.max(1, Math.floor(CHUNK_PARAMS / cols.length));
        const insert = (n: number) => dst.prepare(`INSERT INTO ${quote(t.name)} (${cols.map(quote).join(', ')}) VALUES ${Array.from({ length: n }, () => `(${cols.map(() => '?').join(', ')})`).join(', ')}`);
        const full = insert(per);
        let batch: unknown[] = [];
        let rows = 0;
        const flush = (st = full) => {
          st.run(...batch);
          batch = [];
        };
        for (const row of src.prepare(`SELECT ${cols.map(quote).join(', ')} FROM ${quote(t.name)}`).raw().iterate()) {
          for (const v of row as unknown[]) batch.push(v);
          if (++rows % per === 0) flush();
        }
        if (batch.length) flush(insert(batch.length / cols.length));
        // Identity columns continue after the copied ids.
        const id = /(\w+)\s+INTEGER PRIMARY KEY AUTOINCREMENT/i.exec(t.sql)?.[1];
        if (id) dst.prepare(`SELECT setval(pg_get_serial_sequence(?, ?), COALESCE((SELECT MAX(${quote(id)}) FROM ${quote(t.name)}), 0) + 1, false)`).get(t.name, id);
        const source = (src.prepare(`SELECT COUNT(*) n FROM ${quote(t.name)}`).get() as { n: number }).n;
        const target = (dst.prepare(`SELECT COUNT(*) n FROM ${quote(t.name)}`).get() as { n: number }).n;
        report.push({ table: t.name, source, target });
        progress(`${t.name.padEnd(24)} ${String(source).padStart(10)} → ${String(target).padStart(10)}${source === target ? '' : '  MISMATCH'}`);
      }
      if (report.some((r) => r.source !== r.target)) throw new AppError('row counts differ after the copy; nothing was committed', 500);
    })();
  } finally {
    src.exec('COMMIT');
  }
  return { tables: report, ms: performance.now() - t0, ok: true };
}
