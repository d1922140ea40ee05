// PostgreSQL behind the synchronous Db API (storage/db.ts). The connection
// lives in a worker thread (storage/pg-worker.ts); each call blocks this
// thread until the worker answers (a shared flag and Atomics.wait), which costs about 0.1 ms on loopback. That keeps one code
// path for both backends and keeps a transaction a synchronous unit that
// nothing can interleave with. Every statement has a deadline (PostgreSQL's
// statement_timeout, and a wait limit here a little beyond it).
import { createHash } from 'node:crypto';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { DbError, toPgParams, type Db, type Params, type RunResult, type Statement } from './db.js';
import type { PgRequest, PgResponse, PgWorkerData } from './pg-worker.js';

type Request = PgRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;
type Call = (req: Request) => PgResponse;
let shared: { call: Call; timeoutMs: number } | null = null;

/**
 * A function that sends a request to the worker and blocks until its answer
 * (Atomics.wait on a shared flag, then the answer read off the port), or
 * fails after the deadline. Answers carry the request's id, so a late answer
 * to a request that timed out is never taken for the next one's.
 */
function worker(timeoutMs: number): Call {
  if (shared && shared.timeoutMs >= timeoutMs) return shared.call;
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const data: PgWorkerData = { flag, port: port2 };
  const url = new URL(import.meta.url.endsWith('.ts') ? './pg-worker.ts' : './pg-worker.js', import.meta.url).href;
  // Under tsx (tests, `npm run dev`) the worker is TypeScript: it registers the same loader first.
  const w = url.endsWith('.ts')
    ? new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(url)}); })`, { eval: true, workerData: data, transferList: [port2] })
    : new Worker(new URL(url), { workerData: data, transferList: [port2] });
  // Neither keeps the process alive; the worker ends with it.
  w.unref();
  port1.unref();
  let ids = 0;
  const wait = timeoutMs + 5000;
  const call: Call = (req) => {
    const id = ++ids;
    const deadline = performance.now() + wait;
    Atomics.store(flag, 0, 0);
    port1.postMessage({ ...req, id });
    for (;;) {
      Atomics.store(flag, 0, 0);
      const m = receiveMessageOnPort(port1)?.message as PgResponse | undefined;
      if (m?.id === id) return m;
      if (m) continue;
      const left = deadline - performance.now();
      if (left <= 0) throw new DbError(`PostgreSQL did not answer within ${wait} ms (DATABASE_TIMEOUT_MS)`);
      Atomics.wait(flag, 0, 0, left);
    }
  };
  shared = { call, timeoutMs };
  return call;
}

type Mode = 'object' | 'raw' | 'pluck';
/**
 * One server-side statement name per SQL text: stores that prepare per call reuse the connection's
 * parsed statement instead of adding one to it on every call (a leak in a long-lived connection).
 * Grows with the distinct statements in the code, so SQL keeps values in parameters, not in its text.
 */
const statementNames = new Map<string, string>();

/** distinct statements kept prepared on the server per connection */
const MAX_NAMED = 2000;
/** Bounded: SQL built from filters (IN lists of any length) runs unnamed once this many shapes are prepared. */
function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_NAMED) statementNames.set(text, (name = `s${statementNames.size + 1}`));
  return name;
}

/** parameters in one multi-row INSERT (PostgreSQL takes at most 65,535) */
const MULTI_ROW_PARAMS = 30_000;

/**
 * For `INSERT … VALUES (?, ?, …) …` whose every parameter is in its one VALUES group: the same statement
 * for n rows, in PostgreSQL's numbering. null for anything else (runMany then runs row by row).
 */
function multiRowInsert(sql: string, count: number, names: string[] | null): ((rows: number) => string) | null {
  if (names || count === 0) return null;
  const m = /^(\s*INSERT\s+INTO\s+[^()]+\([^()]*\)\s*VALUES\s*)(\((?:\s*\?\s*,)*\s*\?\s*\))([\s\S]*)$/i.exec(sql);
  if (!m || m[3]!.includes('?')) return null;
  const head = m[1]!;
  const tail = m[3]!;
  return (rows) => {
    let n = 0;
    const groups = Array.from({ length: rows }, () => `(${Array.from({ length: count }, () => `$${++n}`).join(', ')})`);
    return `${head}${groups.join(', ')}${tail}`;
  };
}

/** rows per FETCH of an iterate() cursor */
const ITERATE_PAGE = 20_000;
let cursorIds = 0;

/** bytea arrives from the worker as a Uint8Array (structured clone): a Buffer, as better-sqlite3 gives BLOBs. */
function fixBuffers(rows: unknown[][]): unknown[][] {
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) {
      const v = row[i];
      if (v instanceof Uint8Array && !Buffer.isBuffer(v)) row[i] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
  }
  return rows;
}

class PgStatement implements Statement {
  private readonly text: string;
  private readonly names: string[] | null;
  private readonly count: number;
  private readonly name: string | undefined;
  private multiRow: ((rows: number) => string) | null | undefined;

  constructor(
    private readonly db: PgDb,
    private readonly sql: string,
    private readonly mode: Mode = 'object',
  ) {
    const p = toPgParams(sql);
    this.text = p.text;
    this.names = p.names;
    this.count = p.count;
    // A named statement is parsed and planned once per connection.
    if (/^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i.test(sql)) this.name = statementName(this.text);
  }

  private bind(params: Params): unknown[] {
    if (this.names) {
      const o = (params[0] ?? {}) as Record<string, unknown>;
      return this.names.map((n) => {
        if (!(n in o)) throw new DbError(`missing parameter @${n} for: ${this.sql.slice(0, 80)}`);
        return norm(o[n]);
      });
    }
    // better-sqlite3 takes (and ignores) an empty parameter object for a statement without parameters.
    if (this.count === 0) return [];
    const values = params.flat();
    if (values.some((v) => v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype)) {
      throw new DbError(`named values given for a statement with ? parameters: ${this.sql.slice(0, 80)}`);
    }
    return values.map(norm);
  }

  private query(params: Params) {
    const r = this.db.query(this.text, this.bind(params), this.name);
    fixBuffers(r.rows ?? []);
    return r;
  }

  private shape(fields: string[], rows: unknown[][]): any[] {
    if (this.mode === 'raw') return rows;
    if (this.mode === 'pluck') return rows.map((r) => r[0]);
    return rows.map((r) => {
      const o: Record<string, unknown> = {};
      for (let i = 0; i < fields.length; i++) o[fields[i]!] = r[i];
      return o;
    });
  }

  runMany(rows: readonly (readonly unknown[])[]): void {
    if (rows.length === 0) return;
    if (this.multiRow === undefined) this.multiRow = multiRowInsert(this.sql, this.count, this.names);
    const multi = this.multiRow;
    if (!multi) {
      for (const r of rows) this.run(...r);
      return;
    }
    const per = Math.max(1, Math.floor(MULTI_ROW_PARAMS / this.count));
    for (let i = 0; i < rows.length; i += per) {
      const chunk = rows.slice(i, i + per);
      const values: unknown[] = [];
      for (const r of chunk) {
        if (r.length !== this.count) throw new DbError(`runMany: a row has ${r.length} values for ${this.count} parameters: ${this.sql.slice(0, 80)}`);
        for (const v of r) values.push(norm(v));
      }
      const text = multi(chunk.length);
      // Two rows of one chunk with the same key cannot both update it in one statement (cardinality_violation):
      // that chunk goes row by row instead, as SQLite would have run it.
      try {
        this.db.transaction(() => this.db.query(text, values, chunk.length === per ? statementName(text) : undefined))();
      } catch (e) {
        if ((e as DbError).code !== '21000') throw e;
        this.db.transaction(() => chunk.forEach((r) => this.run(...r)))();
      }
    }
  }

  run(...params: Params): RunResult {
    return { changes: this.query(params).rowCount ?? 0 };
  }
  get(...params: Params) {
    const r = this.query(params);
    return this.shape(r.fields!, r.rows!.slice(0, 1))[0];
  }
  all(...params: Params) {
    const r = this.query(params);
    return this.shape(r.fields!, r.rows!);
  }
  /**
   * Rows a page at a time through a server-side cursor, so a province's year of records is never held
   * whole. WITH HOLD: it outlives the statement's own transaction, and the consumer may write meanwhile.
   */
  *iterate(...params: Params): IterableIterator<any> {
    const cursor = `c${++cursorIds}`;
    this.db.query(`DECLARE ${cursor} NO SCROLL CURSOR WITH HOLD FOR ${this.text}`, this.bind(params));
    try {
      for (;;) {
        const r = this.db.query(`FETCH ${ITERATE_PAGE} FROM ${cursor}`, []);
        yield* this.shape(r.fields!, fixBuffers(r.rows!));
        if (r.rows!.length < ITERATE_PAGE) return;
      }
    } finally {
      this.db.query(`CLOSE ${cursor}`, []);
    }
  }
  raw(on = true): Statement<any[]> {
    return new PgStatement(this.db, this.sql, on ? 'raw' : 'object');
  }
  pluck(on = true): Statement {
    return new PgStatement(this.db, this.sql, on ? 'pluck' : 'object');
  }
}

/** better-sqlite3 binds booleans as an error and undefined as NULL via objects; PostgreSQL gets what SQLite would store. */
const norm = (v: unknown) => (v === undefined ? null : typeof v === 'boolean' ? (v ? 1 : 0) : v);

export class PgDb implements Db {
  readonly dialect = 'postgres' as const;
  private depth = 0;
  private closed = false;
  /**
   * BEGIN and SAVEPOINTs not sent yet: they go with the next statement (one trip to the server, not two), and a
   * (sub)transaction in which nothing was sent costs nothing at all: a rule that writes nothing for a batch
   * adds no round trip to the accept transaction.
   */
  private pending: string[] = [];
  /** requests sent to the server so far: tells a transaction whether anything happened inside it */
  private sent = 0;
  /** lockUntilCommit's locks held, by name → the (sub)transaction depth that took them: taken once per transaction */
  private readonly locks = new Map<string, number>();

  private constructor(
    private readonly fn: Call,
    private readonly conn: number,
    readonly location: string,
  ) {}

  /** `idleInTransactionMs`: how long the server lets this connection sit idle inside a transaction (default timeoutMs). */
  static connect(url: string, opts: { timeoutMs?: number; idleInTransactionMs?: number | undefined; readonly?: boolean } = {}): PgDb {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const fn = worker(timeoutMs);
    const r = fn({ op: 'open', url, timeoutMs, idleInTransactionMs: opts.idleInTransactionMs, readonly: !!opts.readonly });
    if (!r.ok) throw new DbError(`cannot connect to PostgreSQL at ${redact(url)}: ${r.message}`, r.code);
    return new PgDb(fn, r.conn!, url);
  }

  query(text: string, values: unknown[], name?: string) {
    return this.send({ op: 'query', conn: this.conn, text, values, name }, text);
  }

  /** One request with the deferred BEGIN/SAVEPOINTs before it; a refusal becomes a DbError naming the statement. */
  private send(req: Extract<Request, { op: 'query' | 'exec' }>, sql: string): PgResponse & { ok: true } {
    if (this.closed) throw new DbError('the database connection is closed');
    this.sent++;
    const r = this.fn({ ...req, pre: this.takePending() });
    if (!r.ok) throw new DbError(`PostgreSQL: ${r.message} (in: ${sql.replace(/\s+/g, ' ').slice(0, 120)})`, r.code);
    return r;
  }

  prepare(sql: string): Statement {
    return new PgStatement(this, sql);
  }

  private takePending(): string[] | undefined {
    return this.pending.length ? this.pending.splice(0) : undefined;
  }

  exec(sql: string): void {
    this.send({ op: 'exec', conn: this.conn, sql }, sql);
  }

  get inTransaction(): boolean {
    return this.depth > 0;
  }

  lockUntilCommit(name: string): void {
    if (!this.inTransaction) throw new DbError(`lockUntilCommit(${name}) outside a transaction: the lock would end at once`);
    if (this.locks.has(name)) return;
    const text = 'SELECT pg_advisory_xact_lock(CAST($1 AS BIGINT))';
    this.query(text, [advisoryKey(name)], statementName(text));
    this.locks.set(name, this.depth);
  }

  /**
   * The (sub)transaction at `depth` ended: a release hands its locks to the enclosing one, a rollback (to
   * savepoint) releases them in PostgreSQL, and the outermost end releases everything.
   */
  private endLocks(depth: number, committed: boolean): void {
    for (const [name, d] of this.locks) {
      if (d < depth) continue;
      if (committed && depth > 1) this.locks.set(name, depth - 1);
      else this.locks.delete(name);
    }
  }

  transaction<F extends (...args: any[]) => any>(fn: F): F {
    const db = this;
    return function (this: unknown, ...args: unknown[]) {
      const sp = db.depth > 0 ? `sp${db.depth}` : null;
      const depth = db.depth + 1;
      db.pending.push(sp ? `SAVEPOINT ${sp}` : 'BEGIN');
      const sentBefore = db.sent;
      // Nothing reached the server since the BEGIN/SAVEPOINT: it is still the last pending statement, and can go.
      const untouched = () => db.sent === sentBefore;
      const rollback = () => {
        db.endLocks(depth, false);
        if (untouched()) return void db.pending.pop();
        try {
          db.exec(sp ? `ROLLBACK TO SAVEPOINT ${sp}` : 'ROLLBACK');
        } catch {
          // the connection is gone: PostgreSQL rolled back already
        }
      };
      db.depth++;
      let out: unknown;
      try {
        out = fn.apply(this, args);
      } catch (e) {
        db.depth--;
        rollback();
        throw e;
      }
      db.depth--;
      if (untouched()) {
        db.pending.pop();
        return out;
      }
      try {
        db.exec(sp ? `RELEASE SAVEPOINT ${sp}` : 'COMMIT');
        db.endLocks(depth, true);
      } catch (e) {
        // fn caught a failed statement itself: PostgreSQL has aborted the (sub)transaction, which must be rolled
        // back before the enclosing one can go on (SQLite would have kept going without that statement).
        rollback();
        throw e;
      }
      return out;
    } as F;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fn({ op: 'close', conn: this.conn });
  }
}

/** A lock name as PostgreSQL's 64-bit advisory lock key (decimal text: the same on every node). */
const advisoryKey = (name: string) => createHash('sha256').update(name).digest().readBigInt64BE(0).toString();

export const redact = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
