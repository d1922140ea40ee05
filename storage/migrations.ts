// Versioned schema migrations, applied at start by each table's owner. Every
// owner declares its steps once, in the SQLite-flavoured DDL subset of
// storage/db.ts, and both backends record the same history (owner, version,
// name) in schema_migrations, which this module owns. A database written by a
// newer service is refused rather than misread.
import { AppError } from '../common/errors.js';
import { toPgDdl, type Db } from './db.js';

export interface Migration {
  version: number;
  name: string;
  /** DDL (SQLite syntax, mapped for PostgreSQL), or code for what DDL cannot say portably */
  up: string | ((db: Db) => void);
}

export interface AppliedMigration {
  owner: string;
  version: number;
  name: string;
  appliedAt: number;
}

const ready = new WeakSet<Db>();
/** PostgreSQL advisory lock key under which the history table is created and each step applied */
const MIGRATION_LOCK = 0x5e_0001;

/** Runs DDL written in the SQLite subset (storage/db.ts) on either backend: what a code step uses too. */
export function execDdl(db: Db, sql: string): void {
  db.exec(db.dialect === 'postgres' ? toPgDdl(sql) : sql);
}

/** Whether the database has a migration history at all (a new database has none). */
export function hasMigrations(db: Db): boolean {
  return db.dialect === 'postgres'
    ? !!db.prepare(`SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`).get()
    : !!db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).get();
}

function ensureTable(db: Db): void {
  if (ready.has(db)) return;
  // Checked first: a read-only connection (the scorecard worker's) may not even run CREATE TABLE IF NOT EXISTS on PostgreSQL.
  if (hasMigrations(db)) return void ready.add(db);
  const ddl = `CREATE TABLE IF NOT EXISTS schema_migrations (owner TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL, PRIMARY KEY (owner, version))`;
  if (db.dialect === 'postgres') {
    // Cluster nodes starting at once on a new database: IF NOT EXISTS does not stop two concurrent CREATEs
    // (one fails on the catalog's unique index), so one creates it under the migrations' lock, the others wait.
    db.transaction(() => {
      db.prepare('SELECT pg_advisory_xact_lock(?)').get(MIGRATION_LOCK);
      execDdl(db, ddl);
    })();
  } else db.exec(ddl);
  ready.add(db);
}

/** Applies the owner's steps that this database has not seen, each in its own transaction. */
export function migrate(db: Db, owner: string, steps: readonly Migration[]): void {
  ensureTable(db);
  for (let i = 0; i < steps.length; i++) {
    if (steps[i]!.version !== i + 1) throw new AppError(`migrations of ${owner} must be numbered 1, 2, 3…; step ${i + 1} says ${steps[i]!.version}`, 500);
  }
  const current = () => (db.prepare('SELECT MAX(version) v FROM schema_migrations WHERE owner = ?').get(owner) as { v: number | null }).v ?? 0;
  const have = current();
  if (have > steps.length) {
    throw new AppError(`the database's ${owner} schema is at version ${have}, newer than this service knows (${steps.length}); run the newer service or restore a matching backup`, 500);
  }
  if (have === steps.length) return;
  const record = db.prepare('INSERT INTO schema_migrations (owner, version, name, applied_at) VALUES (?, ?, ?, ?)');
  for (const step of steps.slice(have)) {
    db.transaction(() => {
      // Several nodes starting at once against one PostgreSQL: one migrates, the others wait and then skip.
      if (db.dialect === 'postgres') {
        db.prepare('SELECT pg_advisory_xact_lock(?)').get(MIGRATION_LOCK);
        if (current() >= step.version) return;
      }
      if (typeof step.up === 'string') execDdl(db, step.up);
      else step.up(db);
      record.run(owner, step.version, step.name, Date.now());
    })();
  }
}

/** Every step applied, in order: the same list on SQLite and PostgreSQL for the same service version. */
export function appliedMigrations(db: Db): AppliedMigration[] {
  ensureTable(db);
  return db.prepare('SELECT owner, version, name, applied_at AS "appliedAt" FROM schema_migrations ORDER BY owner, version').all() as AppliedMigration[];
}
