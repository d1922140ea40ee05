// A project-local InfluxDB: own config, data directory and port, run as a
// child process and stopped with us. Installs Debian's `influxdb` package when
// influxd is missing and we are root on Debian/Ubuntu; otherwise says exactly
// what to install.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';

export interface LocalInfluxOptions {
  dataDir: string;
  port: number;
  log: Logger;
  /** Install Debian's influxdb package if influxd is missing (root on Debian only). */
  autoInstall?: boolean;
}

export interface LocalInflux {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

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
  const upd = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const inst = spawnSync('apt-get', ['install', '-y', '-qq', 'influxdb'], { stdio: 'inherit', env });
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
  log-enabled = false
  pprof-enabled = false
  max-body-size = 0
[logging]
  level = "warn"
`;
}

async function waitForPing(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`influxd exited with code ${child.exitCode} during start-up`);
    try {
      const r = await fetch(`${url}/ping`);
      if (r.status === 204) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`influxd did not answer ${url}/ping within ${timeoutMs} ms`);
}

/** Starts influxd with a generated config under dataDir; resolves when it answers /ping. */
export async function startLocalInflux(opts: LocalInfluxOptions): Promise<LocalInflux> {
  const bin = ensureInfluxdInstalled(opts.log, opts.autoInstall ?? true);
  const dir = resolve(opts.dataDir);
  mkdirSync(dir, { recursive: true });
  const confPath = join(dir, 'influxdb.conf');
  writeFileSync(confPath, config(dir, opts.port));
  const logFd = openSync(join(dir, 'influxd.log'), 'a');
  const child = spawn(bin, ['-config', confPath], { stdio: ['ignore', logFd, logFd], detached: false });
  const url = `http://127.0.0.1:${opts.port}`;
  const onExit = () => child.kill('SIGTERM');
  process.once('exit', onExit);
  try {
    await waitForPing(url, child, 30_000);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}; see ${join(dir, 'influxd.log')}`);
  }
  opts.log.info({ url, dataDir: dir, pid: child.pid }, 'started project-local influxd');
  return {
    url,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((res) => {
        process.off('exit', onExit);
        if (child.exitCode !== null) return res();
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(t);
          res();
        });
        child.kill('SIGTERM');
      }),
  };
}
