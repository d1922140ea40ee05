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
  | { op: 'open'; url: string; timeoutMs: number; readonly: boolean }
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
}
const conns = new Map<number, Conn>();
let nextId = 1;

async function client(c: Conn): Promise<pg.Client> {
  if (c.client) return c.client;
  const cl = new pg.Client(c.cfg);
  // A lost connection is opened again by the next statement (an open transaction fails with it).
  cl.on('error', () => {
    if (c.client === cl) c.client = null;
  });
  cl.on('end', () => {
    if (c.client === cl) c.client = null;
  });
  await cl.connect();
  if (c.readonly) await cl.query('SET default_transaction_read_only = on');
  c.client = cl;
  return cl;
}

async function handle(req: PgRequest): Promise<Answer> {
  switch (req.op) {
    case 'open': {
      const c: Conn = {
        client: null,
        readonly: req.readonly,
        cfg: {
          connectionString: req.url,
          connectionTimeoutMillis: req.timeoutMs,
          statement_timeout: req.timeoutMs,
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
      const cl = await client(c);
      // transaction control deferred by the main thread (BEGIN, SAVEPOINT): sent first, in the same trip
      for (const sql of req.pre ?? []) await cl.query(sql);
      const r = await cl.query({ text: req.text, values: req.values, name: req.name, rowMode: 'array' });
      return { ok: true, fields: r.fields.map((f) => f.name), rows: r.rows as unknown[][], rowCount: r.rowCount ?? 0 };
    }
    case 'exec': {
      const c = conns.get(req.conn);
      if (!c) return { ok: false, message: 'the database connection is closed' };
      const cl = await client(c);
      for (const sql of req.pre ?? []) await cl.query(sql);
      await cl.query(req.sql);
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
