// The worker thread behind storage/pg-db.ts: it owns the PostgreSQL
// connections (node-postgres) and answers each request while the main thread
// waits for it, which keeps the stores' API synchronous.
import { workerData, type MessagePort } from 'node:worker_threads';
import pg from 'pg';

/** What the main thread shares: a flag it waits on, and the port requests come in on. */
export interface PgWorkerData {
  flag: Int32Array;
  port: MessagePort;
}

export type PgRequest = { id: number } & (
  | { op: 'open'; url: string; timeoutMs: number; idleInTransactionMs?: number | undefined; readonly: boolean }
  | { op: 'query'; conn: number; text: string; values: unknown[]; name?: string | undefined; pre?: string[] | undefined }
  | { op: 'exec'; conn: number; sql: string; pre?: string[] | undefined }
  | { op: 'close'; conn: number }
);

export type PgResponse = { id: number } & (
  | { ok: true; conn?: number; fields?: string[]; rows?: unknown[][]; rowCount?: number }
  | { ok: false; message: string; code?: string }
);
type Answer = PgResponse extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

// Counts and sums come back as 64-bit integers or numerics: numbers, as SQLite gives them (epoch ms fit in a double).
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number(v));
// Comparisons give booleans on PostgreSQL and 0/1 on SQLite: 0/1 on both.
pg.types.setTypeParser(pg.types.builtins.BOOL, (v) => (v === 't' ? 1 : 0));

interface Conn {
  client: pg.Client | null;
  cfg: pg.ClientConfig;
  readonly: boolean;
  /** a BEGIN went out on the current client and no COMMIT or ROLLBACK yet */
  inTx: boolean;
  /**
   * The client was lost inside a transaction (the server ended the session, the network broke): PostgreSQL rolled it
   * back, so every statement up to its ROLLBACK fails, rather than running on a new connection outside any
   * transaction and committing a part of it.
   */
  lostInTx: boolean;
}
const conns = new Map<number, Conn>();
let nextId = 1;

async function client(c: Conn): Promise<pg.Client> {
  if (c.client) return c.client;
  const cl = new pg.Client(c.cfg);
  // A lost connection is opened again by the next statement; an open transaction fails with it (see lostInTx).
  const lost = () => {
    if (c.client !== cl) return;
    c.client = null;
    if (c.inTx) c.lostInTx = true;
    c.inTx = false;
  };
  cl.on('error', lost);
  cl.on('end', lost);
  await cl.connect();
  if (c.readonly) await cl.query('SET default_transaction_read_only = on');
  c.client = cl;
  return cl;
}

const LOST_IN_TX: Answer = { ok: false, code: '08006', message: 'the connection to PostgreSQL was lost inside a transaction (the server ended the session or the network broke); PostgreSQL rolled the transaction back, so none of it was committed' };

/** Runs a statement, following whether a transaction is open on this client. */
async function control(c: Conn, cl: pg.Client, sql: string): Promise<void> {
  await cl.query(sql);
  if (/^\s*(BEGIN|START\s+TRANSACTION)\b/i.test(sql)) c.inTx = true;
  else if (/^\s*(COMMIT|END|ROLLBACK)\s*$/i.test(sql)) c.inTx = false;
}

async function handle(req: PgRequest): Promise<Answer> {
  switch (req.op) {
    case 'open': {
      const c: Conn = {
        client: null,
        inTx: false,
        lostInTx: false,
        readonly: req.readonly,
        cfg: {
          connectionString: req.url,
          connectionTimeoutMillis: req.timeoutMs,
          statement_timeout: req.timeoutMs,
          // A process stopped inside a transaction (SIGSTOP, a VM paused) would hold its row locks for as long as it
          // sleeps, and every node waiting on them with it: the server ends such a session, which frees them.
          idle_in_transaction_session_timeout: req.idleInTransactionMs ?? req.timeoutMs,
          query_timeout: req.timeoutMs + 1000,
          keepAlive: true,
          application_name: 'se-monitor',
        },
      };
      await client(c);
      const conn = nextId++;
      conns.set(conn, c);
      return { ok: true, conn };
    }
    case 'query': {
      const c = conns.get(req.conn);
      if (!c) return { ok: false, message: 'the database connection is closed' };
      // A new outermost BEGIN means the main thread has ended the lost transaction on its side.
      if (c.lostInTx && !/^\s*BEGIN\b/i.test(req.pre?.[0] ?? '')) return LOST_IN_TX;
      c.lostInTx = false;
      const cl = await client(c);
      // transaction control deferred by the main thread (BEGIN, SAVEPOINT): sent first, in the same trip
      for (const sql of req.pre ?? []) await control(c, cl, sql);
      const r = await cl.query({ text: req.text, values: req.values, name: req.name, rowMode: 'array' });
      return { ok: true, fields: r.fields.map((f) => f.name), rows: r.rows as unknown[][], rowCount: r.rowCount ?? 0 };
    }
    case 'exec': {
      const c = conns.get(req.conn);
      if (!c) return { ok: false, message: 'the database connection is closed' };
      if (c.lostInTx) {
        // The rollback the main thread sends after the failure: PostgreSQL did it already.
        if (/^\s*ROLLBACK\s*$/i.test(req.sql)) c.lostInTx = false;
        return /^\s*ROLLBACK\b/i.test(req.sql) ? { ok: true } : LOST_IN_TX;
      }
      const cl = await client(c);
      for (const sql of req.pre ?? []) await control(c, cl, sql);
      await control(c, cl, req.sql);
      return { ok: true };
    }
    case 'close': {
      const c = conns.get(req.conn);
      conns.delete(req.conn);
      await c?.client?.end().catch(() => undefined);
      return { ok: true };
    }
  }
}

const { flag, port } = workerData as PgWorkerData;
// Requests are handled in arrival order (node-postgres queues them per connection); each answer wakes the main thread.
port.on('message', async (req: PgRequest) => {
  let res: PgResponse;
  try {
    res = { id: req.id, ...(await handle(req)) };
  } catch (e) {
    const err = e as Error & { code?: string };
    res = { id: req.id, ok: false, message: err.message, code: err.code };
  }
  port.postMessage(res);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
