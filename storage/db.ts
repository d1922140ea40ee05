// The service's relational state, on SQLite (better-sqlite3, the default) or
// on PostgreSQL (DATABASE_URL=postgres://…), behind one synchronous API: the
// subset of better-sqlite3's that the stores use. Synchronous on purpose: the
// accept stage runs the rules' effects, dead letters, seen ids and the accept
// position inside one transaction that is a single synchronous unit of work,
// so nothing else can interleave with it on the connection, on either backend.
// On SQLite the native objects are handed out unchanged (no cost on the hot
// path); PostgreSQL is reached through a worker thread (storage/pg-db.ts).
//
// Stores write SQL both engines run (see README "State: SQLite or
// PostgreSQL"): `?` or `@name` parameters, ON CONFLICT upserts, RETURNING
// instead of lastInsertRowid, double-quoted camelCase aliases. DDL lives in
// versioned migrations (storage/migrations.ts), in a small SQLite-flavoured
// subset that is mapped onto PostgreSQL types.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../common/errors.js';
import { PgDb } from './pg-db.js';

export type Dialect = 'sqlite' | 'postgres';

/** Bind parameters: positional values, or one object for `@name` parameters. */
export type Params = unknown[];

export interface RunResult {
  changes: number;
}

export interface Statement<R = any> {
  run(...params: Params): RunResult;
  /**
   * Runs an `INSERT … VALUES (?, …) [ON CONFLICT …]` once per row of positional values, in the caller's
   * transaction. On PostgreSQL rows go many to a statement (one round trip per few thousand rows, not per row).
   */
  runMany(rows: readonly (readonly unknown[])[]): void;
  get(...params: Params): R | undefined;
  all(...params: Params): R[];
  iterate(...params: Params): IterableIterator<R>;
  /** Rows as arrays of column values. */
  raw(on?: boolean): Statement<any[]>;
  /** Rows as their first column's value. */
  pluck(on?: boolean): Statement<any>;
}

export interface Db {
  readonly dialect: Dialect;
  prepare<R = any>(sql: string): Statement<R>;
  /** Runs statements without parameters (DDL). */
  exec(sql: string): void;
  /** Wraps fn in a transaction (nested calls are savepoints); it commits when fn returns and rolls back when it throws. */
  transaction<F extends (...args: any[]) => any>(fn: F): F;
  readonly inTransaction: boolean;
  /**
   * Holds the cluster-wide lock `name` until the current transaction ends, so transactions taking it commit one
   * after another, in the order they took it (PostgreSQL: an advisory transaction lock; nodes share one database).
   * What one of them allocated before a later one (an identity value) is then visible first. A no-op on SQLite,
   * whose one writer serializes transactions anyway. Only inside a transaction.
   */
  lockUntilCommit(name: string): void;
  /** Where it lives, to open it again from another thread: a file path or a postgres:// URL; null in memory. */
  readonly location: string | null;
  close(): void;
}

/** A database error (refused statement, lost connection): 503 to API callers, the cause in the log. */
export class DbError extends AppError {
  constructor(message: string, readonly code?: string) {
    super(message, 503);
  }
}

/** True when the error is a unique or primary-key violation, on either backend. */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** The same database again (another thread), read-only: a file path or a postgres:// URL from `Db.location`. */
export function reopenDb(location: string, opts: { readonly?: boolean } = {}): Db {
  return isPostgresUrl(location) ? PgDb.connect(location, opts) : sqliteDb(location, opts);
}

/** better-sqlite3's Database as a Db: the same objects, plus the dialect. */
export function sqliteDb(file: string, opts: { readonly?: boolean } = {}): Db {
  const raw = new Database(file, opts.readonly ? { readonly: true, fileMustExist: true } : {});
  if (!opts.readonly) {
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
  }
  raw.pragma('busy_timeout = 5000');
  return wrapSqlite(raw);
}

/** better-sqlite3's statement, with runMany as a loop (a statement costs microseconds in-process), added once to its prototype. */
function sqliteStatement(st: Database.Statement): Statement {
  if (!('runMany' in st)) {
    Object.defineProperty(Object.getPrototypeOf(st), 'runMany', {
      value(this: Database.Statement, rows: readonly (readonly unknown[])[]) {
        for (const r of rows) this.run(...r);
      },
    });
  }
  return st as unknown as Statement;
}

export function wrapSqlite(raw: Database.Database): Db {
  return {
    dialect: 'sqlite',
    prepare: (sql) => sqliteStatement(raw.prepare(sql)),
    exec: (sql) => void raw.exec(sql),
    transaction: (fn) => raw.transaction(fn) as unknown as typeof fn,
    get inTransaction() {
      return raw.inTransaction;
    },
    lockUntilCommit: (name) => {
      if (!raw.inTransaction) throw new DbError(`lockUntilCommit(${name}) outside a transaction: the lock would end at once`);
    },
    location: raw.memory ? null : raw.name,
    close: () => void raw.close(),
  };
}

export interface DbConfig {
  /** postgres://… for PostgreSQL; unset for SQLite in dataDir/state.db */
  url?: string;
  dataDir: string;
  /** longest a statement may take on PostgreSQL before it is cancelled */
  timeoutMs?: number;
  /**
   * PostgreSQL: a session idle inside a transaction this long is ended by the server (default timeoutMs). The
   * stores' transactions never wait between statements, so idling there means the process is stopped; in a cluster
   * keep it well under the claim lease, or a stopped node's locks outlast its claims.
   */
  idleInTransactionMs?: number;
  readonly?: boolean;
}

export const isPostgresUrl = (url: string | undefined): boolean => !!url && /^postgres(ql)?:\/\//.test(url);

/** Opens the service's state: PostgreSQL when `url` is a postgres:// URL, else the SQLite file under dataDir. */
export function openDb(cfg: DbConfig): Db {
  if (isPostgresUrl(cfg.url)) return PgDb.connect(cfg.url!, { timeoutMs: cfg.timeoutMs, idleInTransactionMs: cfg.idleInTransactionMs, readonly: cfg.readonly });
  if (cfg.url) throw new AppError(`DATABASE_URL must be a postgres:// URL (got ${cfg.url.split(':')[0]}:…); leave it unset for SQLite in DATA_DIR`, 500);
  if (!cfg.readonly) mkdirSync(cfg.dataDir, { recursive: true });
  return sqliteDb(join(cfg.dataDir, 'state.db'), { readonly: cfg.readonly });
}

/**
 * Rewrites `?` and `@name` parameters as PostgreSQL's `$n`, outside string
 * literals, quoted identifiers and comments. Returns the names in order (for
 * `@name`) or how many positional parameters there are.
 */
export function toPgParams(sql: string): { text: string; names: string[] | null; count: number } {
  let out = '';
  const names: string[] = [];
  const index = new Map<string, number>();
  let count = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      const j = end < 0 ? sql.length : end;
      out += sql.slice(i, j + 1);
      i = j;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end - 1;
    } else if (c === '?') {
      out += `$${++count}`;
    } else if (c === '@' && /[A-Za-z_]/.test(sql[i + 1] ?? '')) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))![0];
      let n = index.get(m);
      if (n === undefined) index.set(m, (n = names.push(m)));
      out += `$${n}`;
      i += m.length;
    } else out += c;
  }
  if (names.length && count) throw new DbError(`a statement mixes ? and @name parameters: ${sql.slice(0, 80)}`);
  return { text: out, names: names.length ? names : null, count: names.length || count };
}

/**
 * The migrations' DDL, written for SQLite, as PostgreSQL runs it: integers
 * are 64-bit (times are epoch milliseconds), AUTOINCREMENT keys are identity
 * columns, BLOB is BYTEA, REAL is double precision, WITHOUT ROWID goes.
 */
export function toPgDdl(sql: string): string {
  return sql
    .replace(/\bINTEGER PRIMARY KEY AUTOINCREMENT\b/gi, 'BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY')
    .replace(/\bINTEGER\b/gi, 'BIGINT')
    .replace(/\bBLOB\b/gi, 'BYTEA')
    .replace(/\bREAL\b/gi, 'DOUBLE PRECISION')
    .replace(/\)\s*WITHOUT ROWID/gi, ')');
}
