// What the benchmarks share: running compiled scripts as child processes,
// starting the service (own data dir, project-local InfluxDB) and
// registering a city of bench elevators and gateways over the admin API.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';
import { SERVICE_NODE_FLAGS, serviceProcessEnv } from '../service/node-flags.js';

export const TOKEN = 'bench-admin-token';

// Runs from the compiled tree (npm run build): what production runs, without a TypeScript loader.
const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs a compiled script (path relative to dist/) in a child process; its stdout is piped. */
export function node(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [join(root, args[0]!), ...args.slice(1)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
}

export function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((res, rej) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => res(l));
    child.once('exit', (code) => rej(new Error(`process exited (${code}) before printing`)));
  });
}

/** What bench/load-generator.ts prints. */
export interface LoadResult { sent: number; acked: number; failed: number; start: number; lastAck: number; seconds: number; pubackP50Ms: number; pubackP99Ms: number; pubackAllP99Ms: number; warmupMs: number; cpuMs: number }

export interface BenchGateway { id: string; secret?: string; elevators: string[] }

export const rssMb = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

export async function api(base: string, method: string, path: string, body?: string, type = 'application/json') {
  const r = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': type } : {}) }, body, signal: AbortSignal.timeout(300_000) });
  const json = (await r.json().catch(() => ({}))) as Record<string, unknown>;
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/** Every series of one metric in a Prometheus text scrape: `name{labels}` → value. */
export function parseMetrics(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const [k, v] = line.split(' ');
    out.set(k!, Number(v));
  }
  return out;
}

/** The sum over all series of one metric. */
export const metricSum = (text: string, name: string) => [...parseMetrics(text, name).values()].reduce((a, b) => a + b, 0);

export interface BenchService {
  proc: ChildProcess;
  /** http://127.0.0.1:<port> */
  base: string;
  mqttUrl: string;
  influxPort: number;
  metrics(): Promise<string>;
  /** InfluxQL against the service's project-local influxd, with its credentials */
  influxQuery(q: string): Promise<{ results: { series?: { values: unknown[][] }[] }[] }>;
  stop(): Promise<void>;
}

/** The state backend the benchmarks run the service on: BENCH_STATE=sqlite (default) or postgres. */
export function benchState(): 'sqlite' | 'postgres' {
  const v = process.env.BENCH_STATE ?? 'sqlite';
  if (v !== 'sqlite' && v !== 'postgres') throw new Error(`BENCH_STATE must be sqlite or postgres, not ${v}`);
  return v;
}

/**
 * Starts dist/service/main.js with its data in `dataDir` and waits until it is
 * healthy. BENCH_NODE_FLAGS (default: the service's, service/node-flags.ts) are its Node flags;
 * BENCH_PROF=1 writes a CPU profile to /tmp/prof (BENCH_PROF=<dir>: to that directory).
 */
export async function startService(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<BenchService> {
  // The project-local PostgreSQL runs as the postgres user (as root), which must be able to reach DATA_DIR: the bench's temp dir is private.
  if (benchState() === 'postgres') {
    mkdirSync(dataDir, { recursive: true });
    chmodSync(dirname(dataDir), 0o711);
  }
  const httpPort = await freePort();
  const mqttPort = await freePort();
  const influxPort = await freePort();
  const svcEnv = {
    DATA_DIR: dataDir, HTTP_PORT: String(httpPort), MQTT_PORT: String(mqttPort), MQTT_HOST: '127.0.0.1',
    INFLUX_LOCAL_PORT: String(influxPort), ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn',
    ...serviceProcessEnv(process.env),
    // BENCH_STATE=postgres: the service keeps its state in a project-local PostgreSQL of its own (DATA_DIR/postgres).
    ...(benchState() === 'postgres' ? { POSTGRES_LOCAL: 'true', POSTGRES_LOCAL_PORT: String(await freePort()) } : {}),
    ...env,
  };
  const prof = process.env.BENCH_PROF;
  const flags = [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof === '1' ? '/tmp/prof' : prof}`] : []), ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? SERVICE_NODE_FLAGS)];
  const proc = spawn(process.execPath, [...flags, join(root, 'service/main.js')], { env: { ...process.env, ...svcEnv }, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise((r) => proc.once('exit', r));
  const base = `http://127.0.0.1:${httpPort}`;
  const svc: BenchService = {
    proc, base, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, influxPort,
    metrics: async () => (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(30_000) })).text(),
    async influxQuery(q) {
      // The project-local influxd runs with authentication; its admin is in DATA_DIR/influxdb/credentials.
      const auth = Buffer.from(readFileSync(join(dataDir, 'influxdb', 'credentials'), 'utf8').trim()).toString('base64');
      const r = await fetch(`http://127.0.0.1:${influxPort}/query?db=se_monitor&q=${encodeURIComponent(q)}`, { headers: { authorization: `Basic ${auth}` }, signal: AbortSignal.timeout(60_000) });
      return (await r.json()) as { results: { series?: { values: unknown[][] }[] }[] };
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
  try {
    for (let i = 0; ; i++) {
      if ((await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status, () => 0)) === 200) break;
      if (proc.exitCode !== null) throw new Error(`service exited (${proc.exitCode}) before becoming healthy`);
      if (i > 600) throw new Error('service did not become healthy');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await svc.stop();
    throw e;
  }
  return svc;
}

/**
 * The knobs bench:alerts and bench:dashboard share, from the environment:
 * BENCH_ALERTS entrapments (300), BENCH_RATE background status msg/s (5000),
 * BENCH_GATEWAYS (100), BENCH_ELEVATORS (10000; at least one a gateway),
 * BENCH_SPACING_MS between entrapments (75), BENCH_WARMUP_S (5) and
 * BENCH_WINDOW in-flight per gateway (20).
 */
export function entrapmentKnobs() {
  const GATEWAYS = Number(process.env.BENCH_GATEWAYS ?? 100);
  return {
    ALERTS: Number(process.env.BENCH_ALERTS ?? 300),
    RATE: Number(process.env.BENCH_RATE ?? 5000),
    GATEWAYS,
    ELEVATORS: Math.max(Number(process.env.BENCH_ELEVATORS ?? 10_000), GATEWAYS),
    SPACING_MS: Number(process.env.BENCH_SPACING_MS ?? 75),
    WARMUP_S: Number(process.env.BENCH_WARMUP_S ?? 5),
    WINDOW: Number(process.env.BENCH_WINDOW ?? 20),
  };
}

/**
 * The city bench:alerts and bench:dashboard drive: `ELEVATORS` spread over
 * `GATEWAYS` gateways for the background status load, plus `ALERTS` elevators
 * on their own gateway for the entrapments; the load runs 5 s past the
 * entrapment phase, so the last entrapments still meet the full load.
 */
export function entrapmentCity(k: ReturnType<typeof entrapmentKnobs>) {
  const per = Math.floor(k.ELEVATORS / k.GATEWAYS);
  const gateways: BenchGateway[] = Array.from({ length: k.GATEWAYS }, (_, g) => ({ id: `BGW${g}`, elevators: Array.from({ length: per }, (_, i) => benchElevator(g * per + i)) }));
  const trapped = Array.from({ length: k.ALERTS }, (_, i) => `BT${String(i).padStart(6, '0')}`);
  const trapGateway: BenchGateway = { id: 'BGW-TRAP', elevators: trapped };
  const loadS = k.WARMUP_S + (k.ALERTS * k.SPACING_MS) / 1000 + 5;
  /** status messages each background gateway sends */
  const perClient = Math.ceil((k.RATE / k.GATEWAYS) * loadS);
  return { gateways, trapped, trapGateway, loadS, perClient };
}

/** Bench elevator code i: BE000000, BE000001, … */
export const benchElevator = (i: number) => `BE${String(i).padStart(6, '0')}`;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Nearest-rank quantile of a sorted array. */
export const pct = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]! : NaN);
export const ms = (v: number) => `${v.toFixed(1)} ms`;

/** Status messages accepted over MQTT so far (the background load), from a metrics scrape. */
export const statusIn = (text: string) => parseMetrics(text, 'se_messages_in_total').get('se_messages_in_total{transport="mqtt",channel="status"}') ?? 0;

/** Runs a benchmark's main(); an error fails the process. */
export function run(main: () => Promise<void>): void {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

/**
 * Registers 120 maintenance units, `elevators` elevators (benchElevator(0 …
 * elevators − 1)) plus `extra` elevator codes, then the gateways, and issues
 * each gateway a secret. Returns the gateways with their secrets.
 */
export async function registerCity(base: string, elevators: number, gateways: BenchGateway[], extra: string[] = []): Promise<BenchGateway[]> {
  const units = Array.from({ length: 120 }, (_, u) => JSON.stringify({ id: `BU${u}`, name: `维保单位${u}` })).join('\n');
  await api(base, 'POST', '/api/v1/units/import', units, 'application/x-ndjson');
  const codes = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => (from + k < elevators ? benchElevator(from + k) : extra[from + k - elevators]!));
  const total = elevators + extra.length;
  for (let from = 0; from < total; from += 20_000) {
    const lines = codes(from, Math.min(total, from + 20_000)).map((code, k) => {
      const i = from + k;
      return JSON.stringify({ code, address: `测试路${i}号`, district: `区${i % 8}`, userUnit: '物业', maintenanceUnit: `BU${i % 120}`, nextInspectionDue: '2027-06-01' });
    });
    await api(base, 'POST', '/api/v1/elevators/import', lines.join('\n'), 'application/x-ndjson');
  }
  await api(base, 'POST', '/api/v1/gateways/import', gateways.map((g) => JSON.stringify({ id: g.id, elevators: g.elevators })).join('\n'), 'application/x-ndjson');
  const withSecrets: BenchGateway[] = [];
  for (const g of gateways) withSecrets.push({ ...g, secret: (await api(base, 'POST', `/api/v1/gateways/${g.id}/secret`)).secret as string });
  return withSecrets;
}
