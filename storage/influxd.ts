// A project-local InfluxDB: own config, data directory and port, run as a
// supervised child process. It cannot outlive us (Linux parent-death signal
// through util-linux `setpriv`, and a pid file checked at start that finds and
// stops an orphan of a killed run); a second influxd is never started on the
// same data directory or over a port someone else holds; a dead influxd is
// restarted with backoff. Authentication is on, with an admin whose random
// password only this data directory knows (DATA_DIR/influxdb/credentials,
// mode 0600). Installs Debian's `influxdb` package when influxd is missing and
// we are root on Debian/Ubuntu; otherwise says exactly what to install.
// The supervision itself is shared with the project-local PostgreSQL (local-server.ts).
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { ensureInstalled, readyOrStopped, superviseServer, which, type ServerEvent, type SupervisedServer } from './local-server.js';

export interface LocalInfluxOptions {
  dataDir: string;
  port: number;
  log: Logger;
  /** Install Debian's influxdb package if influxd is missing (root on Debian only). */
  autoInstall?: boolean;
  /** Each supervision event (started, exited, restarted, stale_stopped, start_failed), for a metric. */
  onEvent?: (event: InfluxdEvent) => void;
}

export type InfluxdEvent = ServerEvent;

export interface LocalInflux extends SupervisedServer {
  url: string;
  username: string;
  password: string;
}

const USER = 'se_monitor';

export function ensureInfluxdInstalled(log: Logger, autoInstall = true): string {
  const how = 'Install InfluxDB 1.x (Debian/Ubuntu: `apt-get install influxdb`), or point INFLUX_URL at an existing InfluxDB 1.8+, 2.x or 3.x.';
  return ensureInstalled(() => which('influxd'), { program: 'influxd (on PATH)', pkg: 'influxdb', how }, log, autoInstall);
}

function config(dir: string, port: number): string {
  return `reporting-disabled = true
bind-address = "127.0.0.1:0"
[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false
[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  index-version = "inmem"
  query-log-enabled = false
  max-series-per-database = 0
  max-values-per-tag = 0
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  auth-enabled = true
  log-enabled = false
  pprof-enabled = false
  max-body-size = 0
[logging]
  level = "warn"
`;
}

/** The admin's credentials, `user:password` in a 0600 file (usable as `curl -u "$(cat …)"`); created on first start. */
export function localInfluxCredentials(dir: string): { username: string; password: string } {
  const path = join(dir, 'credentials');
  if (!existsSync(path)) writeFileSync(path, `${USER}:${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  const text = readFileSync(path, 'utf8').trim();
  const i = text.indexOf(':');
  if (i <= 0) throw new Error(`${path} must hold "user:password"; delete it only together with ${join(dir, 'meta')} (the users), or restore it`);
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

async function request(url: string, init: RequestInit = {}, timeoutMs = 2000): Promise<{ status: number; body: string } | null> {
  try {
    const r = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    return { status: r.status, body: await r.text() };
  } catch {
    return null;
  }
}

/**
 * Makes sure the admin user of the credentials file exists: InfluxDB 1.x lets
 * anyone create the first admin while there is no user, and nothing else.
 * Returns false while influxd does not answer yet.
 */
async function ensureAdmin(url: string, cred: { username: string; password: string }, dir: string): Promise<boolean> {
  const basic = { authorization: `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}` };
  const q = (stmt: string, headers: Record<string, string> = {}) =>
    request(`${url}/query`, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ q: stmt }).toString() });
  const ping = await request(`${url}/ping`);
  if (ping?.status !== 204) return false;
  const show = await q('SHOW USERS', basic);
  if (show?.status === 200) return true;
  if (!show) return false;
  const esc = cred.password.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  const created = await q(`CREATE USER "${cred.username}" WITH PASSWORD '${esc}' WITH ALL PRIVILEGES`);
  if (created?.status === 200 && !created.body.includes('"error"')) return true;
  // 401: there are users already, so an anonymous CREATE USER is refused; anything else may pass: try again.
  if (created?.status !== 401) return false;
  throw new Error(`influxd of ${dir} already has users, and the admin in ${join(dir, 'credentials')} is not one of them (${created.body.trim()}); restore that file, or remove ${join(dir, 'meta')} to start without users`);
}

/**
 * Starts influxd under supervision and returns at once; `ready()` says when it
 * answers with its admin user. Throws only when it cannot be started at all
 * (not installed, another service's influxd on this directory, the port taken).
 */
export async function launchLocalInflux(opts: LocalInfluxOptions): Promise<LocalInflux> {
  const { log } = opts;
  const bin = ensureInfluxdInstalled(log, opts.autoInstall ?? true);
  const dir = resolve(opts.dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const confPath = join(dir, 'influxdb.conf');
  const cred = localInfluxCredentials(dir);
  const url = `http://127.0.0.1:${opts.port}`;
  const server = await superviseServer({
    name: 'influxd',
    log,
    bin,
    args: ['-config', confPath],
    pidFile: join(dir, 'influxd.pid'),
    marker: confPath,
    stopSignal: 'SIGTERM',
    logPath: join(dir, 'influxd.log'),
    port: opts.port,
    portSetting: 'INFLUX_LOCAL_PORT',
    url,
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    // the config is written once any stale influxd of this directory is stopped, before the first start
    prepare: () => writeFileSync(confPath, config(dir, opts.port)),
    bootstrap: () => ensureAdmin(url, cred, dir),
  });
  return Object.assign(server, { url, ...cred });
}

/** Starts influxd and resolves once it answers with its admin user (tests, benchmarks); stops it on failure. */
export async function startLocalInflux(opts: LocalInfluxOptions): Promise<LocalInflux> {
  return readyOrStopped(await launchLocalInflux(opts), 30_000);
}
