// `npm run db:copy -- --to postgres://…`: copies this installation's SQLite
// state (DATA_DIR/state.db, or --from FILE) into PostgreSQL (--to, or
// DATABASE_URL), verifies it by counts per table, and can be re-run.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AppError } from '../common/errors.js';
import { copySqliteToPostgres } from '../storage/db-copy.js';
import { isPostgresUrl, openDb, sqliteDb } from '../storage/db.js';
import { redact } from '../storage/pg-db.js';
import { ConfigError, loadConfig } from './config.js';

const USAGE = `usage: npm run db:copy -- [--from DATA_DIR/state.db] [--to postgres://user:password@host:port/database]
  Copies the SQLite state into PostgreSQL in one transaction and checks the row count of every table.
  --to defaults to DATABASE_URL. Safe to re-run: each run replaces what the previous one copied.
  For the final copy, stop the service first (a copy of a running service is a consistent snapshot, but
  anything written after it stays behind); then start the service with DATABASE_URL set.`;

function main(): number {
  const { values: opt } = parseArgs({ options: { from: { type: 'string' }, to: { type: 'string' }, help: { type: 'boolean' } } });
  if (opt.help) {
    console.log(USAGE);
    return 0;
  }
  const config = loadConfig();
  const from = opt.from ?? join(config.dataDir, 'state.db');
  const to = opt.to ?? config.DATABASE_URL;
  if (!existsSync(from)) throw new AppError(`${from} does not exist: give the SQLite state with --from (it is DATA_DIR/state.db)\n${USAGE}`, 400);
  if (!isPostgresUrl(to)) throw new AppError(`give the PostgreSQL to copy into with --to postgres://… or DATABASE_URL\n${USAGE}`, 400);
  const src = sqliteDb(from, { readonly: true });
  const dst = openDb({ url: to, dataDir: config.dataDir, timeoutMs: Math.max(config.DATABASE_TIMEOUT_MS, 600_000) });
  try {
    console.log(`copying ${from} → ${redact(to!)}`);
    const r = copySqliteToPostgres(src, dst, (line) => console.log(`  ${line}`));
    const rows = r.tables.reduce((n, t) => n + t.target, 0);
    console.log(`copied ${r.tables.length} tables, ${rows} rows in ${(r.ms / 1000).toFixed(1)} s; every count matches`);
    return 0;
  } finally {
    src.close();
    dst.close();
  }
}

try {
  process.exitCode = main();
} catch (e) {
  console.error(e instanceof AppError || e instanceof ConfigError ? e.message : e);
  process.exitCode = 1;
}
