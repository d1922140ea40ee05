// The two state backends for tests: SQLite in a temp file, and a fresh schema
// on the suite's real PostgreSQL (global setup), so tests never share state.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { openDb, type Db } from '../storage/db.js';

export const BACKENDS = ['sqlite', 'postgres'] as const;
export type Backend = (typeof BACKENDS)[number];

/** A postgres:// URL whose default schema is new and empty; dropped by the returned cleanup. */
export async function freshPostgresUrl(cleanups?: (() => unknown)[]): Promise<string> {
  const base = inject('pgUrl');
  const schema = `t_${randomBytes(5).toString('hex')}`;
  const c = new pg.Client({ connectionString: base, connectionTimeoutMillis: 10_000 });
  await c.connect();
  await c.query(`CREATE SCHEMA ${schema}`);
  await c.end();
  cleanups?.push(async () => {
    const d = new pg.Client({ connectionString: base, connectionTimeoutMillis: 10_000 });
    await d.connect();
    await d.query(`DROP SCHEMA ${schema} CASCADE`);
    await d.end();
  });
  const u = new URL(base);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

/** DATABASE_URL for a service under test on this backend ('' = SQLite in DATA_DIR). */
export async function databaseUrl(backend: Backend, cleanups?: (() => unknown)[]): Promise<string> {
  return backend === 'postgres' ? freshPostgresUrl(cleanups) : '';
}

/** An empty database on this backend, closed and removed by the cleanups. */
export async function openTestDb(backend: Backend, cleanups: (() => unknown)[]): Promise<Db> {
  if (backend === 'postgres') {
    const db = openDb({ url: await freshPostgresUrl(cleanups), dataDir: '' });
    cleanups.unshift(() => db.close());
    return db;
  }
  const dir = mkdtempSync(join(tmpdir(), 'se-test-db-'));
  const db = openDb({ dataDir: dir });
  cleanups.push(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return db;
}
