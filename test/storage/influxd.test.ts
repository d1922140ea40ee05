// The project-local influxd: authentication on with credentials only the
// service knows; supervised so it never outlives its parent, an orphan of a
// killed run is found and stopped, a second one never starts silently on the
// same data directory, and a dead one is restarted, logged and counted.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/free-port.js';
import { alive, parent as startParent, tempDir as sharedTempDir } from './local-servers.js';
import { startLocalInflux, type InfluxdEvent } from '../../storage/influxd.js';
import { connect, count, publish, quietLog, registerSmallCity, startTestService, status, testEnv, waitFor } from '../helpers.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const tempDir = () => sharedTempDir('se-influxd-', cleanups);
const query = (url: string, q: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/query?${new URLSearchParams({ q })}`, { method: 'POST', headers, signal: AbortSignal.timeout(5000) });

const parent = (dataDir: string, port: number) => startParent('influxd', dataDir, port, cleanups);

describe('authentication', () => {
  it('refuses anonymous statements (no CREATE/DROP DATABASE from a forged request); the 0600 credentials file works', async () => {
    const dir = tempDir();
    const influx = await startLocalInflux({ dataDir: dir, port: await freePort(), log: quietLog });
    cleanups.push(() => influx.stop());
    const anonymous = await query(influx.url, 'CREATE DATABASE forged');
    expect(anonymous.status).toBe(401);
    const file = join(dir, 'credentials');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const basic = { authorization: `Basic ${Buffer.from(readFileSync(file, 'utf8').trim()).toString('base64')}` };
    const shown = await (await query(influx.url, 'SHOW DATABASES', basic)).json();
    expect(JSON.stringify(shown)).not.toContain('forged');
    // A restart keeps the same admin (created once, on the first start).
    await influx.stop();
    const again = await startLocalInflux({ dataDir: dir, port: await freePort(), log: quietLog });
    cleanups.push(() => again.stop());
    expect((await query(again.url, 'SHOW USERS', basic)).status).toBe(200);
  });
});

describe('credentials that do not match the users', () => {
  it('stop the start with an error that says which file to restore', async () => {
    const dir = tempDir();
    const port = await freePort();
    await (await startLocalInflux({ dataDir: dir, port, log: quietLog })).stop();
    writeFileSync(join(dir, 'credentials'), 'se_monitor:not-the-password\n');
    const influx = startLocalInflux({ dataDir: dir, port, log: quietLog });
    await expect(influx).rejects.toThrow(/already has users, and the admin in .*credentials is not one of them/);
  });
});

describe('supervision', () => {
  it('influxd dies with its parent, even when the parent is killed with SIGKILL', async () => {
    const dir = tempDir();
    const p = parent(dir, await freePort());
    const { pid } = await p.first;
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid!)).toBe(true);
    cleanups.push(async () => alive(pid!) && process.kill(pid!, 'SIGKILL'));
    p.child.kill('SIGKILL');
    await waitFor(async () => alive(pid!), (a) => !a, 10_000);
  });

  it('an orphan of a killed run is found by its pid file and stopped before a new influxd starts', async () => {
    const dir = tempDir();
    const port = await freePort();
    // A first run writes the config; then an influxd is orphaned as if its service died without the parent-death signal.
    await (await startLocalInflux({ dataDir: dir, port, log: quietLog })).stop();
    const sh = spawn('sh', ['-c', `influxd -config ${join(dir, 'influxdb.conf')} >/dev/null 2>&1 & echo $!`], { stdio: ['ignore', 'pipe', 'ignore'] });
    const orphan = Number(await new Promise<string>((res) => createInterface({ input: sh.stdout }).once('line', res)));
    cleanups.push(async () => alive(orphan) && process.kill(orphan, 'SIGKILL'));
    writeFileSync(join(dir, 'influxd.pid'), JSON.stringify({ pid: orphan, owner: sh.pid }));
    await waitFor(() => fetch(`http://127.0.0.1:${port}/ping`).then((r) => r.status, () => 0), (s) => s === 204);

    const events: InfluxdEvent[] = [];
    const influx = await startLocalInflux({ dataDir: dir, port, log: quietLog, onEvent: (e) => events.push(e) });
    cleanups.push(() => influx.stop());
    expect(alive(orphan)).toBe(false);
    expect(influx.pid).not.toBe(orphan);
    expect(alive(influx.pid!)).toBe(true);
    expect(events).toEqual(['stale_stopped', 'started']);
  });

  it('never starts a second influxd on a data directory whose influxd belongs to a running process', async () => {
    const dir = tempDir();
    const port = await freePort();
    const first = parent(dir, port);
    const { pid } = await first.first;
    cleanups.push(async () => alive(pid!) && process.kill(pid!, 'SIGKILL'));
    const second = parent(dir, port);
    const r = await second.first;
    expect(r.error).toMatch(/belongs to a running process .* cannot share one DATA_DIR/);
    expect(alive(pid!)).toBe(true);
    // Someone else's server on the port is refused too, not used silently.
    const other = parent(tempDir(), port);
    expect((await other.first).error).toMatch(/port \d+ .* already in use/);
  });

  it('a service killed with SIGKILL takes its influxd along; the restarted service starts its own and is healthy', async () => {
    const dataDir = tempDir();
    const httpPort = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: dataDir, HTTP_PORT: String(httpPort), MQTT_PORT: String(await freePort()), MQTT_HOST: '127.0.0.1', INFLUX_LOCAL_PORT: String(await freePort()), ADMIN_TOKEN: 't', LOG_LEVEL: 'warn' };
    delete env.INFLUX_URL;
    const start = () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'service/main.ts'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
      cleanups.push(async () => child.kill('SIGKILL'));
      return child;
    };
    const healthy = () => waitFor(() => fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.status, () => 0), (st) => st === 200, 30_000);
    /** the service's child process named influxd */
    const influxdPid = (svc: { pid?: number }) => Number(spawnSync('pgrep', ['-P', String(svc.pid), 'influxd'], { encoding: 'utf8' }).stdout.trim());
    let service = start();
    await healthy();
    const first = influxdPid(service);
    expect(first).toBeGreaterThan(0);
    cleanups.push(async () => alive(first) && process.kill(first, 'SIGKILL'));
    service.kill('SIGKILL');
    await waitFor(async () => alive(first), (a) => !a, 10_000);

    service = start();
    await healthy();
    const second = influxdPid(service);
    expect(second).toBeGreaterThan(0);
    expect(second).not.toBe(first);
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    expect(metrics).toMatch(/se_influxd_events_total\{event="started"\} 1/);
    expect(metrics).not.toMatch(/event="start_failed"/);
    service.kill('SIGTERM');
    await new Promise((r) => service.once('exit', r));
    expect(alive(second)).toBe(false);
  });

  /**
   * The service with a project-local influxd in its own process group, as a shell gives a foreground job (Ctrl-C
   * signals the whole group); `out()` is what it printed so far.
   */
  async function terminalService() {
    const httpPort = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: tempDir(), HTTP_PORT: String(httpPort), MQTT_PORT: String(await freePort()), MQTT_HOST: '127.0.0.1', INFLUX_LOCAL_PORT: String(await freePort()), ADMIN_TOKEN: 't', LOG_LEVEL: 'info' };
    delete env.INFLUX_URL;
    const service = spawn(process.execPath, ['--import', 'tsx', 'service/main.ts'], { env, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    cleanups.push(async () => service.kill('SIGKILL'));
    let out = '';
    service.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => service.once('exit', r));
    return { service, httpPort, exited, out: () => out, ctrlC: () => process.kill(-service.pid!, 'SIGINT') };
  }

  it('a Ctrl-C on the terminal stops the service cleanly; influxd is stopped by it, not by the signal', async () => {
    const { service, httpPort, exited, out, ctrlC } = await terminalService();
    await waitFor(() => fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.status, () => 0), (st) => st === 200, 30_000);
    const influxd = Number(spawnSync('pgrep', ['-P', String(service.pid), 'influxd'], { encoding: 'utf8' }).stdout.trim());
    expect(influxd).toBeGreaterThan(0);
    ctrlC();
    expect(await exited).toBe(0);
    expect(out()).toContain('service stopped');
    expect(out()).not.toContain('influxd exited');
    expect(alive(influxd)).toBe(false);
  });

  it('a Ctrl-C while the service is still starting stops it cleanly once started, influxd with it', async () => {
    const { service, exited, out, ctrlC } = await terminalService();
    // The first thing start does is start influxd; the signal lands in the middle of start.
    const influxd = await new Promise<number>((resolve) => {
      // Registered after terminalService's listener, so out() already holds this chunk.
      const seen = () => {
        const m = /"pid":(\d+)[^\n]*started project-local influxd/.exec(out());
        if (!m) return;
        service.stdout.off('data', seen);
        ctrlC();
        resolve(Number(m[1]));
      };
      service.stdout.on('data', seen);
    });
    expect(await exited).toBe(0);
    expect(out()).toContain('shutting down once started');
    expect(out()).toContain('service stopped');
    expect(alive(influxd)).toBe(false);
  });

  it('restarts an influxd that keeps dying with growing delays, each event logged and reported', async () => {
    const lines: { msg: string; restartInMs?: number }[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
    const events: InfluxdEvent[] = [];
    const influx = await startLocalInflux({ dataDir: tempDir(), port: await freePort(), log, onEvent: (e) => events.push(e) });
    cleanups.push(() => influx.stop());
    for (let i = 0; i < 2; i++) {
      const pid = influx.pid!;
      process.kill(pid, 'SIGKILL');
      await waitFor(async () => influx.pid, (p) => p !== null && p !== pid, 15_000);
    }
    expect(lines.filter((l) => /influxd exited/.test(l.msg)).map((l) => l.restartInMs)).toEqual([1000, 2000]);
    expect(events).toEqual(['started', 'exited', 'restarted', 'exited', 'restarted']);
    await influx.ready(30_000);
  });

  it('restarts a SIGKILLed influxd with backoff, logs and counts it, and the service stores again', async () => {
    const s = await startTestService({}, testEnv({ INFLUX_URL: '', INFLUX_USERNAME: '', INFLUX_PASSWORD: '', INFLUX_LOCAL_PORT: String(await freePort()) }));
    cleanups.push(() => s.cleanup());
    const health = () => fetch(`${s.httpUrl}/healthz`).then((r) => r.status, () => 0);
    await waitFor(health, (st) => st === 200, 30_000);
    const city = await registerSmallCity(s);
    const before = s.localInflux!.pid!;
    process.kill(before, 'SIGKILL');
    await waitFor(async () => s.localInflux!.pid, (p) => p !== null && p !== before, 15_000);
    const metrics = await waitFor(() => fetch(`${s.httpUrl}/metrics`).then((r) => r.text()), (t) => /se_influxd_events_total\{event="restarted"\} 1/.test(t), 15_000);
    expect(metrics).toMatch(/se_influxd_events_total\{event="exited"\} 1/);
    expect(metrics).toMatch(/se_influxd_events_total\{event="started"\} 1/);
    const gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
    for (let i = 0; i < 20; i++) await publish(gw, 'se/v1/elevator/E1/status', status(`r-${i}`, Date.now() - 60_000 + i));
    await gw.endAsync();
    await waitFor(() => count(s, 'elevator_status', `WHERE elevator = 'E1'`), (n) => n === 20, 30_000);
  });
});
