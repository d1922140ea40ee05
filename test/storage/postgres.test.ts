// The project-local PostgreSQL (issue 11, item 4): a real cluster under
// DATA_DIR/postgres, reachable only from 127.0.0.1 with the role's password of
// a 0600 file; supervised so it never outlives its parent, is restarted when
// killed, never runs twice on one data directory, leaves no process behind,
// and an orphan of a killed run is found by its pid file and stopped.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/free-port.js';
import type { ServerEvent } from '../../storage/local-server.js';
import { startLocalPostgres } from '../../storage/postgres.js';
import { quietLog, waitFor } from '../helpers.js';
import { alive, childrenOf, parent, tempDir as sharedTempDir } from './local-servers.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});
const tempDir = () => sharedTempDir('se-pg-', cleanups);

async function sql<T extends pg.QueryResultRow>(config: string | pg.ClientConfig, text: string): Promise<T[]> {
  const c = new pg.Client(typeof config === 'string' ? { connectionString: config, connectionTimeoutMillis: 5000 } : { ...config, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

async function start(dataDir: string, port: number, onEvent?: (e: ServerEvent) => void) {
  const server = await startLocalPostgres({ dataDir, port, log: quietLog, ...(onEvent ? { onEvent } : {}) });
  cleanups.push(() => server.stop());
  return server;
}

describe('a project-local PostgreSQL', () => {
  it('starts, and only the se_monitor role connects, from 127.0.0.1, with the password of the 0600 credentials file (renewed when deleted)', async () => {
    const dir = tempDir();
    const port = await freePort();
    const server = await start(dir, port);
    const password = readFileSync(join(dir, 'postgres', 'credentials'), 'utf8').trim();
    expect(server.url).toBe(`postgres://se_monitor:${encodeURIComponent(password)}@127.0.0.1:${port}/se_monitor`);
    expect(statSync(join(dir, 'postgres', 'credentials')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(dir, 'postgres', 'data', 'PG_VERSION'))).toBe(true);

    const [who] = await sql<{ user: string; db: string; listen: string; superuser: string; encoding: string }>(
      server.url,
      "SELECT current_user AS user, current_database() AS db, current_setting('listen_addresses') AS listen, current_setting('is_superuser') AS superuser, pg_encoding_to_char(encoding) AS encoding FROM pg_database WHERE datname = current_database()",
    );
    expect(who).toEqual({ user: 'se_monitor', db: 'se_monitor', listen: '127.0.0.1', superuser: 'off', encoding: 'UTF8' });
    const settings = await sql<{ name: string; setting: string }>(server.url, "SELECT name, setting FROM pg_settings WHERE name IN ('max_connections', 'fsync', 'synchronous_commit', 'password_encryption') ORDER BY name");
    expect(settings).toEqual([
      { name: 'fsync', setting: 'on' },
      { name: 'max_connections', setting: '50' },
      { name: 'password_encryption', setting: 'scram-sha-256' },
      { name: 'synchronous_commit', setting: 'on' },
    ]);
    await sql(server.url, 'CREATE TABLE kept (n integer)');

    // a wrong password, and the superuser over TCP, are refused
    await expect(sql({ host: '127.0.0.1', port, user: 'se_monitor', password: 'wrong', database: 'se_monitor' }, 'SELECT 1')).rejects.toThrow(/password authentication failed/);
    await expect(sql({ host: '127.0.0.1', port, user: 'postgres', password: password, database: 'postgres' }, 'SELECT 1')).rejects.toThrow(/no pg_hba.conf entry/);

    // started again (on another port): same cluster, same password, the table kept
    await server.stop();
    const again = await start(dir, await freePort());
    expect(again.url).toContain(encodeURIComponent(password));
    expect(await sql(again.url, 'SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 0 }]);

    // a deleted credentials file: a new password is made and given to the role; the old one no longer works
    await again.stop();
    rmSync(join(dir, 'postgres', 'credentials'));
    const renewed = await start(dir, port);
    expect(renewed.url).not.toBe(server.url);
    expect(await sql(renewed.url, 'SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 0 }]);
    await expect(sql(server.url, 'SELECT 1')).rejects.toThrow(/password authentication failed/);
  });

  it('restarts a postgres killed with SIGKILL, and the role connects again', async () => {
    const events: ServerEvent[] = [];
    const server = await start(tempDir(), await freePort(), (e) => events.push(e));
    const before = server.pid!;
    process.kill(before, 'SIGKILL');
    await waitFor(async () => server.pid, (p) => p !== null && p !== before, 30_000);
    await server.ready(60_000);
    expect(await sql(server.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(events.slice(0, 3)).toEqual(['started', 'exited', 'restarted']);
  });

  it('refuses a second start on a data directory whose postgres runs, and a port someone else holds', async () => {
    const dir = tempDir();
    const port = await freePort();
    const server = await start(dir, port);
    await expect(startLocalPostgres({ dataDir: dir, port: await freePort(), log: quietLog })).rejects.toThrow(/belongs to a running process .* cannot share one DATA_DIR/);
    await expect(startLocalPostgres({ dataDir: tempDir(), port, log: quietLog })).rejects.toThrow(/port \d+ .* already in use/);
    expect(await sql(server.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('stop() leaves no process: neither the postmaster nor its backends', async () => {
    const dir = tempDir();
    const server = await start(dir, await freePort());
    const c = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 5000 });
    c.on('error', () => undefined); // the fast shutdown ends this session
    await c.connect(); // a session open during stop: its backend must end too
    const postmaster = server.pid!;
    const processes = [postmaster, ...childrenOf(postmaster)];
    expect(processes.length).toBeGreaterThan(3); // checkpointer, writer, walwriter, … and our backend
    await server.stop();
    expect(processes.filter(alive)).toEqual([]);
    expect(existsSync(join(dir, 'postgres', 'postgres.pid'))).toBe(false);
  });
});

describe('supervision', () => {
  it('dies with its parent killed by SIGKILL; the pid file that run left is replaced at the next start and removed at stop', async () => {
    const dir = tempDir();
    const p = parent('postgres', dir, await freePort(), cleanups);
    const { pid, error } = await p.first;
    expect(error).toBeUndefined();
    cleanups.push(async () => alive(pid!) && process.kill(pid!, 'SIGKILL'));
    const backends = childrenOf(pid!);
    p.child.kill('SIGKILL');
    await waitFor(async () => [pid!, ...backends].filter(alive), (a) => a.length === 0, 15_000);
    const pidFile = join(dir, 'postgres', 'postgres.pid');
    expect(JSON.parse(readFileSync(pidFile, 'utf8')).pid).toBe(pid);

    const server = await start(dir, await freePort());
    expect(JSON.parse(readFileSync(pidFile, 'utf8'))).toEqual({ pid: server.pid, owner: process.pid });
    await server.stop();
    expect(existsSync(pidFile)).toBe(false);
  });

  it('an orphan of a killed run is found by its pid file and stopped before a new postgres starts', async () => {
    const dir = tempDir();
    const port = await freePort();
    // A first run creates the cluster; then a postgres is orphaned as if its service died without the parent-death signal.
    const first = await start(dir, port);
    const command = readFileSync(`/proc/${first.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    await first.stop();
    const asOwner = process.getuid?.() === 0 ? ['setpriv', '--reuid', 'postgres', '--regid', 'postgres', '--init-groups', '--'] : [];
    const quoted = [...asOwner, ...command].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const sh = spawn('sh', ['-c', `${quoted} >/dev/null 2>&1 & echo $!`], { stdio: ['ignore', 'pipe', 'ignore'] });
    const orphan = Number(await new Promise<string>((res) => createInterface({ input: sh.stdout }).once('line', res)));
    cleanups.push(async () => alive(orphan) && process.kill(orphan, 'SIGKILL'));
    writeFileSync(join(dir, 'postgres', 'postgres.pid'), JSON.stringify({ pid: orphan, owner: sh.pid }));
    await waitFor(() => sql(first.url, 'SELECT 1 AS one').then(() => true, () => false), (up) => up, 30_000);

    const events: ServerEvent[] = [];
    const server = await start(dir, port, (e) => events.push(e));
    expect(alive(orphan)).toBe(false);
    expect(server.pid).not.toBe(orphan);
    expect(events).toEqual(['stale_stopped', 'started']);
    expect(await sql(server.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});
