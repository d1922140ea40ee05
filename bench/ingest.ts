// `npm run bench:ingest`: end-to-end ingest throughput and latency.
//
// 1. The same load (C gateways × N QoS 1 status messages, from a separate
//    load-generator process) against a bare Aedes broker: the baseline.
// 2. The service (own data dir, project-local InfluxDB) with BENCH_ELEVATORS
//    registered elevators; the load again. Prints the publish rate, the rate
//    at which messages are stored (counted in InfluxDB), loss, publish →
//    stored latency p50/p99 (from the service's store-lag histogram), service
//    RSS, and the ratio to the bare broker.
//
// Environment: BENCH_GATEWAYS (100), BENCH_MESSAGES per gateway (12000),
// BENCH_ELEVATORS (100000), BENCH_WINDOW in-flight per gateway (20),
// BENCH_FSYNC (always), BENCH_NODE_FLAGS (--max-semi-space-size=32).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';

const C = Number(process.env.BENCH_GATEWAYS ?? 100);
const N = Number(process.env.BENCH_MESSAGES ?? 12_000);
const ELEVATORS = Math.max(Number(process.env.BENCH_ELEVATORS ?? 100_000), C * 4);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 20);
const TOKEN = 'bench-admin-token';
const dir = mkdtempSync(join(tmpdir(), 'se-bench-'));


// Runs from the compiled tree (npm run build): what production runs, without a TypeScript loader.
const root = fileURLToPath(new URL('..', import.meta.url));
function node(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [join(root, args[0]!), ...args.slice(1)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((res, rej) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => res(l));
    child.once('exit', (code) => rej(new Error(`process exited (${code}) before printing`)));
  });
}

interface LoadResult { sent: number; acked: number; failed: number; start: number; lastAck: number; seconds: number }

async function runLoad(url: string, gatewaysFile: string): Promise<LoadResult> {
  const gen = node(['bench/load-generator.js', url, gatewaysFile, String(N), String(WINDOW)]);
  return JSON.parse(await firstLine(gen)) as LoadResult;
}

const rssMb = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

async function api(base: string, method: string, path: string, body?: string, type = 'application/json') {
  const r = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': type } : {}) }, body });
  const json = (await r.json().catch(() => ({}))) as Record<string, unknown>;
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

function parseMetrics(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const [k, v] = line.split(' ');
    out.set(k!, Number(v));
  }
  return out;
}

/** Quantile from cumulative histogram buckets (delta of two scrapes), linear within a bucket. */
function quantile(before: Map<string, number>, after: Map<string, number>, q: number): number {
  const buckets = [...after.entries()]
    .filter(([k]) => k.includes('_bucket'))
    .map(([k, v]) => ({ le: k.includes('+Inf') ? Infinity : Number(/le="([^"]+)"/.exec(k)![1]), n: v - (before.get(k) ?? 0) }))
    .sort((a, b) => a.le - b.le);
  const total = buckets[buckets.length - 1]!.n;
  const rank = q * total;
  let prevLe = 0;
  let prevN = 0;
  for (const b of buckets) {
    if (b.n >= rank) return b.le === Infinity ? prevLe : prevLe + ((b.le - prevLe) * (rank - prevN)) / Math.max(1, b.n - prevN);
    prevLe = b.le;
    prevN = b.n;
  }
  return NaN;
}

async function main() {
  const gateways = Array.from({ length: C }, (_, g) => ({ id: `BGW${g}`, elevators: [0, 1, 2, 3].map((k) => `BE${String(g * 4 + k).padStart(6, '0')}`) }));
  const bareFile = join(dir, 'bare-gateways.json');
  writeFileSync(bareFile, JSON.stringify(gateways));
  console.log(`load: ${C} gateways × ${N} QoS 1 status messages (${C * N} in all), window ${WINDOW} in flight per gateway`);

  // 1. Bare Aedes
  const bare = node(['bench/bare-broker.js']);
  const barePort = (JSON.parse(await firstLine(bare)) as { port: number }).port;
  const bareRes = await runLoad(`mqtt://127.0.0.1:${barePort}`, bareFile);
  bare.kill('SIGKILL');
  const bareRate = bareRes.acked / bareRes.seconds;
  console.log(`bare aedes: ${bareRes.acked} acked in ${bareRes.seconds.toFixed(1)} s → ${Math.round(bareRate)} msg/s`);

  // 2. The service
  const httpPort = await freePort();
  const env = {
    DATA_DIR: join(dir, 'service'), HTTP_PORT: String(httpPort), MQTT_PORT: String(await freePort()), MQTT_HOST: '127.0.0.1',
    INFLUX_LOCAL_PORT: String(await freePort()), ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn', SPOOL_FSYNC: process.env.BENCH_FSYNC ?? 'always',
  };
  const svc = spawn(process.execPath, [...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []), ...(process.env.BENCH_NODE_FLAGS ?? '--max-semi-space-size=32').split(' ').filter(Boolean), join(root, 'service/main.js')], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
  const base = `http://127.0.0.1:${httpPort}`;
  try {
    for (let i = 0; ; i++) {
      if ((await fetch(`${base}/healthz`).then((r) => r.status, () => 0)) === 200) break;
      if (i > 600) throw new Error('service did not become healthy');
      await new Promise((r) => setTimeout(r, 100));
    }
    const units = Array.from({ length: 120 }, (_, u) => JSON.stringify({ id: `BU${u}`, name: `维保单位${u}` })).join('\n');
    await api(base, 'POST', '/api/v1/units/import', units, 'application/x-ndjson');
    for (let from = 0; from < ELEVATORS; from += 20_000) {
      const lines = [];
      for (let i = from; i < Math.min(ELEVATORS, from + 20_000); i++) {
        lines.push(JSON.stringify({ code: `BE${String(i).padStart(6, '0')}`, address: `测试路${i}号`, district: `区${i % 8}`, userUnit: '物业', maintenanceUnit: `BU${i % 120}`, nextInspectionDue: '2027-06-01' }));
      }
      await api(base, 'POST', '/api/v1/elevators/import', lines.join('\n'), 'application/x-ndjson');
    }
    await api(base, 'POST', '/api/v1/gateways/import', gateways.map((g) => JSON.stringify(g)).join('\n'), 'application/x-ndjson');
    const withSecrets = [];
    for (const g of gateways) withSecrets.push({ ...g, secret: (await api(base, 'POST', `/api/v1/gateways/${g.id}/secret`)).secret as string });
    const svcFile = join(dir, 'gateways.json');
    writeFileSync(svcFile, JSON.stringify(withSecrets));
    const rssIdle = rssMb(svc.pid!);
    console.log(`service: ${ELEVATORS} elevators registered, RSS ${rssIdle.toFixed(0)} MB`);

    const m0 = await (await fetch(`${base}/metrics`)).text();
    const stored0 = [...parseMetrics(m0, 'se_objects_stored_total').values()].reduce((a, b) => a + b, 0);
    let rssMax = rssIdle;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssMb(svc.pid!))), 500);
    const res = await runLoad(`mqtt://127.0.0.1:${env.MQTT_PORT}`, svcFile);
    let storedAt = Date.now();
    let stored = 0;
    for (const deadline = Date.now() + 180_000; Date.now() < deadline; ) {
      const text = await (await fetch(`${base}/metrics`)).text();
      stored = [...parseMetrics(text, 'se_objects_stored_total').values()].reduce((a, b) => a + b, 0) - stored0;
      storedAt = Date.now();
      if (stored >= res.acked) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    clearInterval(sampler);
    const m1 = await (await fetch(`${base}/metrics`)).text();
    const q = `SELECT count("id") FROM elevator_status`;
    const influx = (await (await fetch(`http://127.0.0.1:${env.INFLUX_LOCAL_PORT}/query?db=se_monitor&q=${encodeURIComponent(q)}`)).json()) as { results: { series?: { values: number[][] }[] }[] };
    const counted = influx.results[0]?.series?.[0]?.values[0]?.[1] ?? 0;
    const lagB = parseMetrics(m0, 'se_ingest_store_lag_seconds');
    const lagA = parseMetrics(m1, 'se_ingest_store_lag_seconds');
    const publishRate = res.acked / res.seconds;
    const storedRate = counted / ((storedAt - res.start) / 1000);
    console.log(`service:    ${res.acked} acked in ${res.seconds.toFixed(1)} s → publish ${Math.round(publishRate)} msg/s`);
    console.log(`stored:     ${counted} counted in InfluxDB; end-to-end ${Math.round(storedRate)} msg/s over ${((storedAt - res.start) / 1000).toFixed(1)} s`);
    console.log(`loss:       ${res.acked - counted} of ${res.acked} acknowledged (failed publishes: ${res.failed})`);
    console.log(`latency:    publish → stored p50 ${(quantile(lagB, lagA, 0.5) * 1000).toFixed(0)} ms, p99 ${(quantile(lagB, lagA, 0.99) * 1000).toFixed(0)} ms`);
    const gauge = (name: string) => ([...parseMetrics(m1, name).values()][0] ?? NaN) / 1048576;
    console.log(`rss:        ${rssIdle.toFixed(0)} MB idle with ${ELEVATORS} elevators, ${rssMax.toFixed(0)} MB max under load (after: heap used ${gauge('se_nodejs_heap_size_used_bytes').toFixed(0)} MB of ${gauge('se_nodejs_heap_size_total_bytes').toFixed(0)} MB, external ${gauge('se_nodejs_external_memory_bytes').toFixed(0)} MB)`);
    console.log(`ratio:      ${((storedRate / bareRate) * 100).toFixed(0)} % of the bare broker's rate (${Math.round(storedRate)} / ${Math.round(bareRate)})`);
  } finally {
    svc.kill('SIGTERM');
    await new Promise((r) => svc.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
