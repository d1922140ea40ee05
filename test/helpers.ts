// Shared test fixtures: a real service (real InfluxDB, real TCP MQTT), a
// small registered city, MQTT.js clients and InfluxQL checks.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { inject } from 'vitest';
import { freePort } from '../bench/free-port.js';
import { loadConfig } from '../service/config.js';
import { InfluxStore } from '../storage/influx.js';
import { startLocalInflux } from '../storage/influxd.js';
import { startService, type Service } from '../service/service.js';

export const quietLog = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export interface TestService extends Service {
  dataDir: string;
  database: string;
  cleanup(): Promise<void>;
}

export function testEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATA_DIR: mkdtempSync(join(tmpdir(), 'se-test-')),
    INFLUX_URL: inject('influxUrl'),
    INFLUX_USERNAME: inject('influxUsername'),
    INFLUX_PASSWORD: inject('influxPassword'),
    INFLUX_DATABASE: `t_${randomBytes(4).toString('hex')}`,
    HTTP_PORT: '0',
    MQTT_PORT: '0',
    MQTT_HOST: '127.0.0.1',
    ADMIN_TOKEN: 'test-admin-token',
    SPOOL_FSYNC: 'interval',
    ...extra,
  };
}

export async function startTestService(extra: Record<string, string> = {}, env = testEnv(extra)): Promise<TestService> {
  const service = await startService(loadConfig(env), quietLog);
  return {
    ...service,
    dataDir: env.DATA_DIR!,
    database: env.INFLUX_DATABASE!,
    async cleanup() {
      await service.stop();
      rmSync(env.DATA_DIR!, { recursive: true, force: true });
    },
  };
}

/** A store on the suite's InfluxDB (with its credentials), for tests that run the pipeline without a service. */
export const suiteInflux = (database: string) =>
  InfluxStore.open({ url: inject('influxUrl'), username: inject('influxUsername') || undefined, password: inject('influxPassword') || undefined, database }, quietLog);

/** The suite's InfluxDB credentials as an HTTP header, for tests that talk to InfluxDB directly. */
export const influxAuth = (): Record<string, string> =>
  inject('influxUsername') ? { authorization: `Basic ${Buffer.from(`${inject('influxUsername')}:${inject('influxPassword')}`).toString('base64')}` } : {};

export const admin = { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' };

export async function api(s: { httpUrl: string }, method: string, path: string, body?: unknown, headers: Record<string, string> = admin) {
  const h = body === undefined ? Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'content-type')) : headers;
  const r = await fetch(`${s.httpUrl}${path}`, { method, headers: h, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

export interface SmallCity {
  secrets: Record<string, string>;
}

/** Two units, three elevators (two districts), one gas site, two gateways and three partners. */
export async function registerSmallCity(s: { httpUrl: string }): Promise<SmallCity> {
  const put = async (entity: string, body: unknown) => {
    const r = await api(s, 'POST', `/api/v1/${entity}`, body);
    if (r.status !== 201) throw new Error(`${entity}: ${JSON.stringify(r.body)}`);
  };
  await put('units', { id: 'MU1', name: '一号电梯维保公司' });
  await put('units', { id: 'MU2', name: '二号电梯维保公司' });
  await put('elevators', { code: 'E1', address: '红旗路1号', district: '大祥区', userUnit: '物业一', maintenanceUnit: 'MU1', nextInspectionDue: '2027-03-01' });
  await put('elevators', { code: 'E2', address: '红旗路1号', district: '大祥区', userUnit: '物业一', maintenanceUnit: 'MU1' });
  await put('elevators', { code: 'E3', address: '宝庆路9号', district: '双清区', userUnit: '物业二', maintenanceUnit: 'MU2' });
  await put('gas-sites', { code: 'G1', name: '城南液化气站', address: '城南路', district: '双清区', kind: 'filling_station' });
  await put('gateways', { id: 'GW1', elevators: ['E1', 'E2'] });
  await put('gateways', { id: 'GWG', gasSites: ['G1'] });
  await put('partners', { id: 'INST', kind: 'institute', name: '特检院' });
  await put('partners', { id: 'HOT', kind: 'hotline', name: '96333' });
  await put('partners', { id: 'PMU1', kind: 'maintenance_unit', name: '一号维保App', unit: 'MU1' });
  const secrets: Record<string, string> = {};
  for (const [kind, id] of [['gateways', 'GW1'], ['gateways', 'GWG'], ['partners', 'INST'], ['partners', 'HOT'], ['partners', 'PMU1']] as const) {
    secrets[id] = (await api(s, 'POST', `/api/v1/${kind}/${id}/secret`)).body.secret;
  }
  return { secrets };
}

export async function connect(port: number, username?: string, password?: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username, password, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
}

/** Publishes at QoS 1 and resolves on PUBACK; rejects if the broker closes the connection instead. */
export function publish(client: MqttClient, topic: string, payload: unknown, qos: 0 | 1 = 1): Promise<void> {
  return new Promise((resolve, reject) => {
    const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
    const onClose = () => reject(new Error('connection closed by broker'));
    client.once('close', onClose);
    client.publish(topic, body, { qos }, (err) => {
      client.off('close', onClose);
      if (err) reject(err);
      else resolve();
    });
  });
}

export async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await fn();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await fn();
  }
  return last;
}

/** InfluxQL against the service's database. */
export async function rows(s: { store: { rows(q: string): Promise<Record<string, unknown>[]> } }, q: string) {
  return s.store.rows(q);
}

export async function count(s: Parameters<typeof rows>[0], measurement: string, where = ''): Promise<number> {
  const r = await rows(s, `SELECT count("id") FROM "${measurement}" ${where}`);
  return Number(r[0]?.count ?? 0);
}

export const status = (id: string, ts: number | string = Date.now(), extra: Record<string, unknown> = {}) => ({
  id, ts, serviceMode: 'normal', carStatus: 'running', direction: 'up', floor: 3, doorZone: false, doorStatus: 'closed', passengers: true, ...extra,
});

/**
 * A project-local influxd of the test's own (temp dir, free port), for tests that stop and start
 * InfluxDB; `env` points a service at it with its admin's credentials (authentication is on, the
 * same admin across restarts). Stopped and removed by the caller's cleanups.
 */
export async function ownInflux(prefix: string, cleanups: (() => unknown)[]) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const port = await freePort();
  let influx = await startLocalInflux({ dataDir: dir, port, log: quietLog });
  cleanups.push(async () => {
    await influx.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await influx.ready();
  return {
    url: influx.url,
    username: influx.username,
    password: influx.password,
    env: { INFLUX_URL: influx.url, INFLUX_USERNAME: influx.username, INFLUX_PASSWORD: influx.password },
    stop: () => influx.stop(),
    start: async () => void (influx = await startLocalInflux({ dataDir: dir, port, log: quietLog })),
  };
}

/** `npm run user` as built (scripts/run-built.mjs rebuilds dist/ when a source is newer); USER_PASSWORD unset unless `env` gives it. */
export function userCli(args: string[], env: Record<string, string>, stdin = ''): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['scripts/run-built.mjs', 'service/user-cli.ts', ...args], {
      cwd: new URL('..', import.meta.url).pathname,
      env: { ...process.env, USER_PASSWORD: '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, out, err }));
    p.stdin.end(stdin);
  });
}
