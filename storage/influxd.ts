// A project-local InfluxDB: own config, data directory and port, run as a
// supervised child process. It cannot outlive us (Linux parent-death signal
// through util-linux `setpriv`, and a pid file checked at start that finds and
// stops an orphan of a killed run); a second influxd is never started on the
// same data directory or over a port someone else holds; a dead influxd is
// restarted with backoff. Authentication is on, with an admin whose random
// password only this data directory knows (DATA_DIR/influxdb/credentials,
// mode 0600). Installs Debian's `influxdb` package when influxd is missing and
// we are root on Debian/Ubuntu; otherwise says exactly what to install.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';

export interface LocalInfluxOptions {
  dataDir: string;
  port: number;
  log: Logger;
  /** Install Debian's influxdb package if influxd is missing (root on Debian only). */
  autoInstall?: boolean;
  /** Each supervision event (started, exited, restarted, stale_stopped, start_failed), for a metric. */
  onEvent?: (event: InfluxdEvent) => void;
}

export type InfluxdEvent = 'started' | 'exited' | 'restarted' | 'stale_stopped' | 'start_failed';

export interface LocalInflux {
  url: string;
  username: string;
  password: string;
  /** pid of the running influxd (changes when it is restarted), or null between restarts */
  readonly pid: number | null;
  /** Resolves once influxd answers and its admin user works (created on the first start); rejects after timeoutMs. */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const USER = 'se_monitor';
/** restart delays after an unexpected exit: 1 s doubling to 30 s; back to 1 s after a minute of running */
const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;
const STABLE_MS = 60_000;

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function isDebianLike(): boolean {
  try {
    return /^(ID|ID_LIKE)=.*(debian|ubuntu)/m.test(readFileSync('/etc/os-release', 'utf8'));
  } catch {
    return false;
  }
}

export function ensureInfluxdInstalled(log: Logger, autoInstall = true): string {
  const found = which('influxd');
  if (found) return found;
  const how = 'Install InfluxDB 1.x (Debian/Ubuntu: `apt-get install influxdb`), or point INFLUX_URL at an existing InfluxDB 1.8+, 2.x or 3.x.';
  if (!autoInstall) throw new Error(`influxd was not found on PATH. ${how}`);
  if (process.getuid?.() !== 0 || !isDebianLike()) {
    throw new Error(`influxd was not found on PATH and it cannot be installed automatically (needs root on Debian/Ubuntu). ${how}`);
  }
  log.warn('influxd not found: installing Debian package influxdb (apt-get) …');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const upd = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env, timeout: 600_000 });
  const inst = spawnSync('apt-get', ['install', '-y', '-qq', 'influxdb'], { stdio: 'inherit', env, timeout: 600_000 });
  const path = which('influxd');
  if (upd.status !== 0 || inst.status !== 0 || !path) throw new Error(`apt-get install influxdb failed. ${how}`);
  return path;
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

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};
const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
};
const parentOf = (pid: number) => {
  try {
    return Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The influxd recorded in the pid file, if it still runs with our config. If
 * the process that started it is still its parent, another service runs on
 * this data directory: refuse. Otherwise it is an orphan of a killed run:
 * stop it.
 */
async function stopStale(pidFile: string, confPath: string, log: Logger): Promise<boolean> {
  if (!existsSync(pidFile)) return false;
  let rec: { pid?: number; owner?: number } = {};
  try {
    rec = JSON.parse(readFileSync(pidFile, 'utf8')) as typeof rec;
  } catch {
    /* torn or foreign: ignore */
  }
  const pid = Number(rec.pid);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid) || !cmdline(pid).includes(confPath)) return false; // gone, or the pid was reused
  const parent = parentOf(pid);
  if (rec.owner && parent === rec.owner && alive(rec.owner)) {
    throw new Error(`the influxd of ${confPath} (pid ${pid}) belongs to a running process (pid ${rec.owner}: ${cmdline(rec.owner).join(' ').trim()}); two services cannot share one DATA_DIR`);
  }
  log.warn({ pid, formerOwner: rec.owner }, 'found an influxd left over from a previous run on this data directory; stopping it');
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(100);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
  return true;
}

/** Fails when something else listens on the port: influxd would fail to bind and we would talk to a stranger. */
function assertPortFree(port: number): Promise<void> {
  return new Promise((res, rej) => {
    const srv = createServer()
      .once('error', (e: NodeJS.ErrnoException) =>
        rej(new Error(e.code === 'EADDRINUSE' ? `port ${port} (INFLUX_LOCAL_PORT) is already in use by another process; stop it or choose another port` : `cannot check port ${port}: ${e.message}`)),
      )
      .listen(port, '127.0.0.1', () => srv.close(() => res()));
  });
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
 * answers. Throws only when it cannot be started at all (not installed,
 * another service's influxd on this directory, the port taken).
 */
export async function launchLocalInflux(opts: LocalInfluxOptions): Promise<LocalInflux> {
  const { log } = opts;
  const bin = ensureInfluxdInstalled(log, opts.autoInstall ?? true);
  // util-linux setpriv asks the kernel to SIGKILL influxd when we die, even by SIGKILL; without it the pid file catches orphans.
  const setpriv = which('setpriv');
  if (!setpriv) log.warn('setpriv (util-linux) not found: an influxd orphaned by a killed service is stopped at the next start instead of at once');
  const dir = resolve(opts.dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const confPath = join(dir, 'influxdb.conf');
  const pidFile = join(dir, 'influxd.pid');
  const logPath = join(dir, 'influxd.log');
  const cred = localInfluxCredentials(dir);
  const url = `http://127.0.0.1:${opts.port}`;
  const event = (e: InfluxdEvent) => opts.onEvent?.(e);

  if (await stopStale(pidFile, confPath, log)) event('stale_stopped');
  writeFileSync(confPath, config(dir, opts.port));

  let child: ChildProcess | null = null;
  let stopping = false;
  let restartDelay = RESTART_MIN_MS;
  let restartTimer: NodeJS.Timeout | null = null;
  /** the running influxd answers and its admin user works */
  let isReady = false;
  /** why the last start or run ended, for the error when it never becomes ready */
  let lastError = '';
  /** this influxd cannot be used (the admin cannot be created): ready() says so at once */
  let unusable = false;

  async function spawnInfluxd(): Promise<void> {
    await assertPortFree(opts.port);
    const logFd = openSync(logPath, 'a');
    const args = ['-config', confPath];
    // Its own session: a Ctrl-C on the terminal reaches only the service, which drains into influxd before stopping it.
    const how = { stdio: ['ignore', logFd, logFd] as ['ignore', number, number], detached: true };
    const c = setpriv ? spawn(setpriv, ['--pdeathsig', 'KILL', '--', bin, ...args], how) : spawn(bin, args, how);
    closeSync(logFd);
    await new Promise<void>((res, rej) => c.once('spawn', res).once('error', rej));
    c.on('error', (e) => log.error({ err: e.message, pid: c.pid }, 'project-local influxd: process error'));
    child = c;
    writeFileSync(pidFile, JSON.stringify({ pid: c.pid, owner: process.pid }));
    const startedAt = Date.now();
    c.once('exit', (code, signal) => {
      child = null;
      isReady = false;
      if (stopping) return;
      event('exited');
      lastError = `influxd exited (${signal ?? `code ${code}`})`;
      if (Date.now() - startedAt >= STABLE_MS) restartDelay = RESTART_MIN_MS;
      log.error({ pid: c.pid, code, signal, restartInMs: restartDelay, log: logPath }, 'project-local influxd exited; restarting it (messages wait in the spool)');
      scheduleRestart();
    });
    isReady = false;
    unusable = false;
    void bootstrap(c);
    log.info({ url, dataDir: dir, pid: c.pid, pdeathsig: Boolean(setpriv) }, 'started project-local influxd');
  }

  function scheduleRestart(): void {
    const delay = restartDelay;
    restartDelay = Math.min(restartDelay * 2, RESTART_MAX_MS);
    restartTimer = setTimeout(() => {
      restartTimer = null;
      if (stopping) return;
      spawnInfluxd().then(
        () => event('restarted'),
        (e: Error) => {
          lastError = e.message;
          event('start_failed');
          log.error({ err: e.message, restartInMs: restartDelay }, 'could not restart the project-local influxd; trying again');
          scheduleRestart();
        },
      );
    }, delay);
  }

  const onExit = () => child?.kill('SIGKILL');
  process.once('exit', onExit);
  try {
    await spawnInfluxd();
  } catch (e) {
    process.off('exit', onExit);
    event('start_failed');
    throw new Error(`project-local influxd: ${(e as Error).message}`);
  }
  event('started');

  /**
   * Waits, in the background, until this influxd answers /ping and its admin
   * user works, creating it on first start; gives up only when that influxd
   * is gone (the next one starts its own) or the admin cannot be created.
   */
  async function bootstrap(c: ChildProcess): Promise<void> {
    while (!stopping && child === c) {
      try {
        if (await ensureAdmin(url, cred, dir)) {
          isReady = child === c;
          return;
        }
      } catch (e) {
        lastError = (e as Error).message;
        unusable = true;
        log.error({ err: lastError }, 'project-local influxd cannot be used');
        return;
      }
      await sleep(100);
    }
  }

  return {
    url,
    ...cred,
    get pid() {
      return child?.pid ?? null;
    },
    async ready(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!isReady) {
        if (unusable) throw new Error(lastError);
        if (Date.now() > deadline) throw new Error(`influxd at ${url} was not ready within ${timeoutMs} ms${lastError ? ` (${lastError})` : ''}; see ${logPath}`);
        await sleep(100);
      }
    },
    stop: () =>
      new Promise<void>((res) => {
        stopping = true;
        process.off('exit', onExit);
        if (restartTimer) clearTimeout(restartTimer);
        const c = child;
        const done = () => {
          rmSync(pidFile, { force: true });
          res();
        };
        if (!c || c.exitCode !== null || c.signalCode !== null) return done();
        const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
        c.once('exit', () => {
          clearTimeout(t);
          done();
        });
        c.kill('SIGTERM');
      }),
  };
}

/** Starts influxd and resolves once it answers with its admin user (tests, benchmarks); stops it on failure. */
export async function startLocalInflux(opts: LocalInfluxOptions): Promise<LocalInflux> {
  const influx = await launchLocalInflux(opts);
  try {
    await influx.ready(30_000);
  } catch (e) {
    await influx.stop();
    throw e;
  }
  return influx;
}
