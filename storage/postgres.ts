// A project-local PostgreSQL, as for InfluxDB (influxd.ts): a cluster of its
// own under DATA_DIR/postgres/data, on 127.0.0.1 and a port of its own, run as
// a supervised child (local-server.ts: it dies with us, an orphan of a killed
// run is stopped, it is never started twice on one directory, it is restarted
// with backoff). Role and database `se_monitor`, whose random password only
// this data directory knows (DATA_DIR/postgres/credentials, mode 0600).
// PostgreSQL refuses to run as root: as root it runs as the `postgres` system
// user (Debian's package creates it). Installs Debian's `postgresql` package
// when no PostgreSQL 13+ is found and we are root on Debian/Ubuntu.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';
import { ensureInstalled, readyOrStopped, superviseServer, which, type ServerEvent, type SupervisedServer } from './local-server.js';

export interface LocalPostgresOptions {
  /** DATA_DIR: the cluster lives in DATA_DIR/postgres/data */
  dataDir: string;
  port: number;
  log: Logger;
  /** Install Debian's postgresql package if no PostgreSQL 13+ is found (root on Debian only). */
  autoInstall?: boolean;
  /** Each supervision event (started, exited, restarted, stale_stopped, start_failed), for a metric. */
  onEvent?: (event: PostgresEvent) => void;
}

export type PostgresEvent = ServerEvent;

export interface LocalPostgres extends SupervisedServer {
  /** postgres://se_monitor:…@127.0.0.1:<port>/se_monitor */
  url: string;
}

const ROLE = 'se_monitor';
const DATABASE = 'se_monitor';
/** the cluster's superuser, reachable only over the unix socket in DATA_DIR/postgres/run (mode 0700) */
const SUPERUSER = 'postgres';
const MIN_VERSION = 13;
const HOW = 'Install PostgreSQL 13 or newer (Debian/Ubuntu: `apt-get install postgresql`), or set DATABASE_URL to an existing server.';
/** unix socket paths are limited to 107 bytes (sun_path) */
const MAX_SOCKET_PATH = 100;

const serverVersion = (bindir: string): number => {
  const r = spawnSync(join(bindir, 'postgres'), ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return Number(/(\d+)(\.\d+)?/.exec(r.stdout ?? '')?.[1] ?? 0);
};

/** The bin directory of the newest PostgreSQL 13+: Debian's /usr/lib/postgresql/<version>/bin, else `pg_config --bindir`. */
export function findPostgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v) && Number(v) >= MIN_VERSION).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const bin = join(root, v, 'bin');
    if (existsSync(join(bin, 'postgres')) && existsSync(join(bin, 'initdb'))) return bin;
  }
  const r = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8', timeout: 10_000 });
  const bin = r.status === 0 ? r.stdout.trim() : '';
  return bin && existsSync(join(bin, 'initdb')) && serverVersion(bin) >= MIN_VERSION ? bin : null;
}

/** The role's password, kept in a 0600 file; created on first start (and given to the role at each start). */
export function localPostgresPassword(dir: string): string {
  const path = join(dir, 'credentials');
  if (!existsSync(path)) writeFileSync(path, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  const password = readFileSync(path, 'utf8').trim();
  if (!password) throw new Error(`${path} is empty; delete it and a new password is made at the next start`);
  return password;
}

interface RunAs {
  uid: number;
  gid: number;
  /** setpriv options that drop to this user */
  setpriv: string[];
}

/** PostgreSQL refuses to run as root: as root, the `postgres` system user runs it; otherwise we do. */
function runAs(): RunAs | null {
  if (process.getuid?.() !== 0) return null;
  if (!which('setpriv')) throw new Error('PostgreSQL does not run as root, and setpriv (util-linux), which runs it as the postgres system user, is missing; install util-linux (apt-get install util-linux)');
  const id = (flag: string) => {
    const r = spawnSync('id', [flag, SUPERUSER], { encoding: 'utf8', timeout: 10_000 });
    return r.status === 0 ? Number(r.stdout.trim()) : NaN;
  };
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error(`PostgreSQL does not run as root, and there is no "${SUPERUSER}" system user to run it as; Debian's postgresql package creates it (apt-get install postgresql), or run the service as an ordinary user`);
  }
  return { uid, gid, setpriv: ['--reuid', String(uid), '--regid', String(gid), '--init-groups'] };
}

/**
 * As root, makes DATA_DIR/postgres belong to the postgres user and checks
 * that it can reach it: DATA_DIR itself (often 0700) is opened to the
 * postgres group for traversal only; a parent it cannot traverse is an error
 * that says what to change.
 */
function handOver(dir: string, user: RunAs, log: Logger): void {
  const canReach = () => spawnSync('setpriv', [...user.setpriv, '--', 'test', '-x', dir], { timeout: 10_000 }).status === 0;
  for (const d of [dir, join(dir, 'run')]) if (statSync(d).uid !== user.uid) chownSync(d, user.uid, user.gid);
  const data = join(dir, 'data');
  if (existsSync(data) && statSync(data).uid !== user.uid) {
    const r = spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, data], { encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) throw new Error(`cannot give ${data} to the postgres user: ${r.stderr.trim()}`);
  }
  if (canReach()) return;
  const parent = dirname(dir);
  const st = statSync(parent);
  if (st.uid === process.getuid?.()) {
    log.warn({ dir: parent }, 'letting the postgres group traverse DATA_DIR (g+x), so the project-local PostgreSQL can reach its data');
    chownSync(parent, st.uid, user.gid);
    chmodSync(parent, (st.mode & 0o7777) | 0o010);
  }
  if (!canReach()) {
    throw new Error(`the postgres system user cannot reach ${dir}: every directory above it must be traversable by it (e.g. chmod o+x on each), or choose a DATA_DIR outside a private home directory`);
  }
}

/** initdb once: UTF-8, superuser over the unix socket only, scram-sha-256 for the role over TCP. */
function initCluster(bin: string, dir: string, user: RunAs | null, log: Logger): void {
  const data = join(dir, 'data');
  if (existsSync(join(data, 'PG_VERSION'))) return;
  log.info({ data }, 'creating the project-local PostgreSQL cluster (initdb)');
  const initdb = (locale: string[]) => {
    const args = ['-D', data, '-U', SUPERUSER, '-E', 'UTF8', ...locale, '--auth-local=trust', '--auth-host=scram-sha-256'];
    const cmd = user ? ['setpriv', [...user.setpriv, '--', join(bin, 'initdb'), ...args]] as const : [join(bin, 'initdb'), args] as const;
    return spawnSync(cmd[0], cmd[1], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
  };
  let r = initdb(['--locale=C.UTF-8']);
  if (r.status !== 0 && /locale/i.test(r.stderr)) r = initdb(['--no-locale']); // a system without the C.UTF-8 locale
  if (r.status !== 0) throw new Error(`initdb of ${data} failed: ${(r.stderr || r.error?.message || '').trim()}`);
}

/** Only the superuser over the socket (mode 0700, in our directory) and the role over TCP from 127.0.0.1 may connect. */
function writeHba(data: string, user: RunAs | null): void {
  const path = join(data, 'pg_hba.conf');
  writeFileSync(
    path,
    `# Written by se-monitor (storage/postgres.ts) at each start; changes here are lost.
local all ${SUPERUSER} trust
host all ${ROLE} 127.0.0.1/32 scram-sha-256
`,
    { mode: 0o600 },
  );
  if (user) chownSync(path, user.uid, user.gid);
}

/** A small service's settings, on the command line so that a changed port applies at the next start. */
function settings(dir: string, port: number): string[] {
  const s: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    port: String(port),
    unix_socket_directories: join(dir, 'run'),
    unix_socket_permissions: '0700',
    password_encryption: 'scram-sha-256',
    max_connections: '50',
    shared_buffers: '128MB',
    fsync: 'on',
    synchronous_commit: 'on',
    full_page_writes: 'on',
    logging_collector: 'off', // stderr goes to DATA_DIR/postgres/postgres.log
  };
  return Object.entries(s).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
}

/** errors that mean "not up yet": refused, no socket yet, starting up, shutting down */
const NOT_YET = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', '57P03', '57P01', '08006']);

async function withClient<T>(config: pg.ClientConfig, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ ...config, connectionTimeoutMillis: 3000, query_timeout: 10_000 });
  c.on('error', () => undefined); // a server going away mid-query is reported by the query itself
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Makes sure role and database exist and the role has the password of the
 * credentials file, then connects as the role over TCP. False while the
 * server does not accept connections yet.
 */
async function bootstrap(dir: string, port: number, password: string): Promise<boolean> {
  try {
    await withClient({ host: join(dir, 'run'), port, user: SUPERUSER, database: 'postgres' }, async (c) => {
      const role = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [ROLE]);
      const verb = role.rowCount ? 'ALTER' : 'CREATE';
      await c.query(`${verb} ROLE ${ROLE} WITH LOGIN NOSUPERUSER CREATEDB NOCREATEROLE PASSWORD ${c.escapeLiteral(password)}`);
      const db = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
      if (!db.rowCount) await c.query(`CREATE DATABASE ${DATABASE} OWNER ${ROLE} ENCODING 'UTF8' TEMPLATE template0`);
    });
    await withClient({ host: '127.0.0.1', port, user: ROLE, password, database: DATABASE }, (c) => c.query('SELECT 1'));
    return true;
  } catch (e) {
    const err = e as { code?: string; message: string };
    if ((err.code && NOT_YET.has(err.code)) || /timeout|terminated|ECONNREFUSED/i.test(err.message)) return false;
    throw new Error(`the project-local PostgreSQL in ${dir} cannot be set up: ${err.message}`);
  }
}

/**
 * Starts PostgreSQL under supervision and returns at once; `ready()` says
 * when the role can connect. Throws only when it cannot be started at all
 * (not installed, initdb failed, another service's PostgreSQL on this
 * directory, the port taken).
 */
export async function launchLocalPostgres(opts: LocalPostgresOptions): Promise<LocalPostgres> {
  const { log } = opts;
  const bin = ensureInstalled(findPostgresBin, { program: `PostgreSQL ${MIN_VERSION}+ (postgres, initdb)`, pkg: 'postgresql', how: HOW }, log, opts.autoInstall ?? true);
  const user = runAs();
  const dir = join(resolve(opts.dataDir), 'postgres');
  const data = join(dir, 'data');
  const socket = join(dir, 'run', `.s.PGSQL.${opts.port}`);
  if (socket.length > MAX_SOCKET_PATH) throw new Error(`project-local PostgreSQL: its socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes, which unix sockets do not allow; choose a shorter DATA_DIR`);
  mkdirSync(join(dir, 'run'), { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const password = localPostgresPassword(dir);
  if (user) handOver(dir, user, log);
  const url = `postgres://${ROLE}:${encodeURIComponent(password)}@127.0.0.1:${opts.port}/${DATABASE}`;
  const server = await superviseServer({
    name: 'postgres',
    log,
    bin: join(bin, 'postgres'),
    args: ['-D', data, ...settings(dir, opts.port)],
    ...(user ? { setprivArgs: user.setpriv } : {}),
    cwd: dir,
    pidFile: join(dir, 'postgres.pid'),
    marker: data,
    stopSignal: 'SIGINT', // fast shutdown: ends sessions, checkpoints, exits
    logPath: join(dir, 'postgres.log'),
    port: opts.port,
    portSetting: 'the PostgreSQL port',
    url: `postgres://127.0.0.1:${opts.port}/${DATABASE}`,
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    // after a stale server of this directory is stopped: it may have been mid-initdb or holding the cluster
    prepare: () => (initCluster(bin, dir, user, log), writeHba(data, user)),
    bootstrap: () => bootstrap(dir, opts.port, password),
  });
  return Object.assign(server, { url });
}

/** Starts PostgreSQL and resolves once the role connects (tests, benchmarks, the service); stops it on failure. */
export async function startLocalPostgres(opts: LocalPostgresOptions): Promise<LocalPostgres> {
  return readyOrStopped(await launchLocalPostgres(opts), 60_000);
}
