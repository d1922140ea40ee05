// What the project-local servers (influxd.ts, postgres.ts, nats.ts) share: a
// server run as a supervised child process that cannot outlive us (Linux
// parent-death signal through util-linux `setpriv`, and a pid file checked at
// start that finds and stops an orphan of a killed run), that is never started
// twice on one data directory or over a port someone else holds, and that is
// restarted with backoff when it dies. Plus installing a missing Debian package.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Logger } from 'pino';

/** Each supervision event, for a metric. */
export type ServerEvent = 'started' | 'exited' | 'restarted' | 'stale_stopped' | 'start_failed';

/** restart delays after an unexpected exit: 1 s doubling to 30 s; back to 1 s after a minute of running */
const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;
const STABLE_MS = 60_000;
/** how long a stopping server may take before it is killed */
const STOP_TIMEOUT_MS = 10_000;

export function which(cmd: string): string | null {
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

/**
 * Returns `find()` once it finds the program, installing Debian package `pkg`
 * first when it does not and we may (autoInstall, root on Debian/Ubuntu).
 * `how` tells a person what to do instead.
 */
export function ensureInstalled<T>(find: () => T | null, what: { program: string; pkg: string; how: string }, log: Logger, autoInstall = true): T {
  const found = find();
  if (found) return found;
  const { program, pkg, how } = what;
  if (!autoInstall) throw new Error(`${program} was not found. ${how}`);
  if (process.getuid?.() !== 0 || !isDebianLike()) {
    throw new Error(`${program} was not found and it cannot be installed automatically (needs root on Debian/Ubuntu). ${how}`);
  }
  log.warn(`${program} not found: installing Debian package ${pkg} (apt-get) …`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const upd = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env, timeout: 600_000 });
  const inst = spawnSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: 'inherit', env, timeout: 600_000 });
  const path = find();
  if (upd.status !== 0 || inst.status !== 0 || !path) throw new Error(`apt-get install ${pkg} failed. ${how}`);
  return path;
}

export const alive = (pid: number) => {
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
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Identity {
  name: string;
  pidFile: string;
  /** an argument only our server's command line has (its config path, its data directory): tells it from a reused pid */
  marker: string;
  stopSignal: NodeJS.Signals;
}

/**
 * The server recorded in the pid file, if it still runs with our marker. If
 * the process that started it is still its parent, another service runs on
 * this data directory: refuse. Otherwise it is an orphan of a killed run:
 * stop it.
 */
async function stopStale({ name, pidFile, marker, stopSignal }: Identity, log: Logger): Promise<boolean> {
  if (!existsSync(pidFile)) return false;
  let rec: { pid?: number; owner?: number } = {};
  try {
    rec = JSON.parse(readFileSync(pidFile, 'utf8')) as typeof rec;
  } catch {
    /* torn or foreign: ignore */
  }
  const pid = Number(rec.pid);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid) || !cmdline(pid).includes(marker)) return false; // gone, or the pid was reused
  const parent = parentOf(pid);
  if (rec.owner && parent === rec.owner && alive(rec.owner)) {
    throw new Error(`the ${name} of ${marker} (pid ${pid}) belongs to a running process (pid ${rec.owner}: ${cmdline(rec.owner).join(' ').trim()}); two services cannot share one DATA_DIR`);
  }
  log.warn({ pid, formerOwner: rec.owner }, `found a ${name} left over from a previous run on this data directory; stopping it`);
  process.kill(pid, stopSignal);
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(100);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
  return true;
}

/** Fails when something else listens on the port: the server would fail to bind and we would talk to a stranger. */
function assertPortFree(port: number, setting: string): Promise<void> {
  return new Promise((res, rej) => {
    const srv = createServer()
      .once('error', (e: NodeJS.ErrnoException) =>
        rej(new Error(e.code === 'EADDRINUSE' ? `port ${port} (${setting}) is already in use by another process; stop it or choose another port` : `cannot check port ${port}: ${e.message}`)),
      )
      .listen(port, '127.0.0.1', () => srv.close(() => res()));
  });
}

export interface SuperviseOptions extends Identity {
  log: Logger;
  bin: string;
  args: string[];
  /** setpriv options that come before --pdeathsig, e.g. to run as another user; they need setpriv */
  setprivArgs?: string[];
  cwd?: string;
  /** its environment (default: ours) */
  env?: NodeJS.ProcessEnv;
  /** restart it when it dies (default true); false for a benchmark that kills it on purpose */
  restart?: boolean;
  logPath: string;
  port: number;
  /** the setting that chose the port, for the message when it is taken */
  portSetting: string;
  /** more ports it listens on (a NATS server's cluster port), checked the same way */
  otherPorts?: { port: number; setting: string }[];
  /** where it answers, for messages */
  url: string;
  onEvent?: (event: ServerEvent) => void;
  /** Runs once, after a stale server of this directory is stopped and before the first start (write its config). */
  prepare?: () => void | Promise<void>;
  /**
   * Tries once to make a freshly started server usable (create its user, its
   * database): true when done, false while it does not answer yet; throws when
   * it cannot be used at all.
   */
  bootstrap(): Promise<boolean>;
}

export interface SupervisedServer {
  /** pid of the running server (changes when it is restarted), or null between restarts */
  readonly pid: number | null;
  /** Resolves once the server answers and bootstrap() succeeded; rejects after timeoutMs. */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the server under supervision and returns at once; `ready()` says
 * when it is usable. Throws only when it cannot be started at all (another
 * service's server on this directory, the port taken, setpriv missing where it
 * is needed).
 */
export async function superviseServer(o: SuperviseOptions): Promise<SupervisedServer> {
  const { log, name } = o;
  // util-linux setpriv asks the kernel to SIGKILL the server when we die, even by SIGKILL; without it the pid file catches orphans.
  const setpriv = which('setpriv');
  if (!setpriv && o.setprivArgs?.length) throw new Error(`${name}: setpriv (util-linux) is needed to run it as another user; install util-linux`);
  if (!setpriv) log.warn(`setpriv (util-linux) not found: a ${name} orphaned by a killed service is stopped at the next start instead of at once`);
  const event = (e: ServerEvent) => o.onEvent?.(e);
  if (await stopStale(o, log)) event('stale_stopped');
  await o.prepare?.();

  let child: ChildProcess | null = null;
  let stopping = false;
  let restartDelay = RESTART_MIN_MS;
  let restartTimer: NodeJS.Timeout | null = null;
  /** the running server answers and bootstrap() succeeded */
  let isReady = false;
  /** why the last start or run ended, for the error when it never becomes ready */
  let lastError = '';
  /** this server cannot be used (bootstrap threw): ready() says so at once */
  let unusable = false;

  async function spawnServer(): Promise<void> {
    for (const p of [{ port: o.port, setting: o.portSetting }, ...(o.otherPorts ?? [])]) await assertPortFree(p.port, p.setting);
    const logFd = openSync(o.logPath, 'a');
    // Its own session: a Ctrl-C on the terminal reaches only the service, which drains into the server before stopping it.
    const how = { stdio: ['ignore', logFd, logFd] as ['ignore', number, number], detached: true, ...(o.cwd ? { cwd: o.cwd } : {}), ...(o.env ? { env: o.env } : {}) };
    const c = setpriv ? spawn(setpriv, [...(o.setprivArgs ?? []), '--pdeathsig', 'KILL', '--', o.bin, ...o.args], how) : spawn(o.bin, o.args, how);
    closeSync(logFd);
    await new Promise<void>((res, rej) => c.once('spawn', res).once('error', rej));
    c.on('error', (e) => log.error({ err: e.message, pid: c.pid }, `project-local ${name}: process error`));
    child = c;
    writeFileSync(o.pidFile, JSON.stringify({ pid: c.pid, owner: process.pid }));
    const startedAt = Date.now();
    c.once('exit', (code, signal) => {
      child = null;
      isReady = false;
      if (stopping) return;
      event('exited');
      lastError = `${name} exited (${signal ?? `code ${code}`})`;
      if (o.restart === false) {
        log.warn({ pid: c.pid, code, signal, log: o.logPath }, `project-local ${name} exited; not restarting it`);
        return;
      }
      if (Date.now() - startedAt >= STABLE_MS) restartDelay = RESTART_MIN_MS;
      log.error({ pid: c.pid, code, signal, restartInMs: restartDelay, log: o.logPath }, `project-local ${name} exited; restarting it`);
      scheduleRestart();
    });
    isReady = false;
    unusable = false;
    void bootstrap(c);
    log.info({ url: o.url, pid: c.pid, pdeathsig: Boolean(setpriv) }, `started project-local ${name}`);
  }

  function scheduleRestart(): void {
    const delay = restartDelay;
    restartDelay = Math.min(restartDelay * 2, RESTART_MAX_MS);
    restartTimer = setTimeout(() => {
      restartTimer = null;
      if (stopping) return;
      spawnServer().then(
        () => event('restarted'),
        (e: Error) => {
          lastError = e.message;
          event('start_failed');
          log.error({ err: e.message, restartInMs: restartDelay }, `could not restart the project-local ${name}; trying again`);
          scheduleRestart();
        },
      );
    }, delay);
  }

  /**
   * Waits, in the background, until this server is bootstrapped; gives up
   * only when that server is gone (the next one starts its own) or cannot be
   * used.
   */
  async function bootstrap(c: ChildProcess): Promise<void> {
    while (!stopping && child === c) {
      try {
        if (await o.bootstrap()) {
          isReady = child === c;
          return;
        }
      } catch (e) {
        lastError = (e as Error).message;
        unusable = true;
        log.error({ err: lastError }, `project-local ${name} cannot be used`);
        return;
      }
      await sleep(100);
    }
  }

  const onExit = () => child?.kill('SIGKILL');
  process.once('exit', onExit);
  try {
    await spawnServer();
  } catch (e) {
    process.off('exit', onExit);
    event('start_failed');
    throw new Error(`project-local ${name}: ${(e as Error).message}`);
  }
  event('started');

  return {
    get pid() {
      return child?.pid ?? null;
    },
    async ready(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!isReady) {
        if (unusable) throw new Error(lastError);
        if (Date.now() > deadline) throw new Error(`${name} at ${o.url} was not ready within ${timeoutMs} ms${lastError ? ` (${lastError})` : ''}; see ${o.logPath}`);
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
          rmSync(o.pidFile, { force: true });
          res();
        };
        if (!c || c.exitCode !== null || c.signalCode !== null) return done();
        const t = setTimeout(() => c.kill('SIGKILL'), STOP_TIMEOUT_MS);
        c.once('exit', () => {
          clearTimeout(t);
          done();
        });
        c.kill(o.stopSignal);
      }),
  };
}

/** Resolves with the server once it is ready; stops it when it does not become ready within timeoutMs. */
export async function readyOrStopped<T extends SupervisedServer>(server: T, timeoutMs: number): Promise<T> {
  try {
    await server.ready(timeoutMs);
  } catch (e) {
    await server.stop();
    throw e;
  }
  return server;
}
