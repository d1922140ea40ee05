// `npm run bench:ingest`: end-to-end ingest throughput and latency.
//
// 1. The same load (C gateways × N QoS 1 status messages, from a separate
//    load-generator process) against a bare Aedes broker: the baseline.
// 2. The service (own data dir, project-local InfluxDB) with BENCH_ELEVATORS
//    registered elevators; the load again. Prints the publish rate, the rate
//    at which messages are stored (counted in InfluxDB), loss, publish →
//    stored latency p50/p99 (from the service's store-lag histogram), service
//    RSS, the CPU per message stored of the service, its influxd and the load
//    generator (user + system time from /proc over the load window: all share
//    the machine's cores, so the service's own cost is what moves the rate),
//    and the ratio to the bare broker.
// 3. The same gateways paced at 80 % of that end-to-end rate: PUBACK p50/p99
//    (publish → PUBACK at the load generator) and publish → stored p50/p99;
//    then the same paced load against a bare Aedes, the floor of that PUBACK
//    figure on this machine (the client and the broker library alone).
//
// Environment: BENCH_GATEWAYS (100), BENCH_MESSAGES per gateway (12000),
// BENCH_ELEVATORS (100000), BENCH_WINDOW in-flight per gateway (20),
// BENCH_PACED_MESSAGES per gateway of the paced run (3000; 0 skips it), its
// rate BENCH_PACED_PERCENT of the end-to-end rate (80) and BENCH_PACED_WARMUP_MS
// (1000: the load generator's first second is left out of its PUBACK figures),
// BENCH_FSYNC (always), BENCH_STATE (sqlite; postgres: a project-local PostgreSQL),
// BENCH_NODE_FLAGS (the service's: service/node-flags.ts).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childrenOf, cpuS } from './proc.js';
import { benchElevator, benchState, firstLine, metricSum, node, parseMetrics, registerCity, rssMb, startService, type LoadResult } from './harness.js';

const C = Number(process.env.BENCH_GATEWAYS ?? 100);
const N = Number(process.env.BENCH_MESSAGES ?? 12_000);
const ELEVATORS = Math.max(Number(process.env.BENCH_ELEVATORS ?? 100_000), C * 4);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 20);
/** messages per gateway of the paced run at 80 % of the measured rate (0: skip it) */
const PACED = Number(process.env.BENCH_PACED_MESSAGES ?? 3000);
/** the paced run's rate, in % of the end-to-end rate measured */
const PACED_PERCENT = Number(process.env.BENCH_PACED_PERCENT ?? 80);
/** the paced runs' PUBACK figures leave out what the load generator published in its first this many ms (its own warm-up) */
const PACED_WARMUP_MS = Number(process.env.BENCH_PACED_WARMUP_MS ?? 1000);
const dir = mkdtempSync(join(tmpdir(), 'se-bench-'));

async function runLoad(url: string, gatewaysFile: string, perClient = N, rate = 0, idPrefix = '', warmupMs = 0): Promise<LoadResult> {
  const gen = node(['bench/load-generator.js', url, gatewaysFile, String(perClient), String(WINDOW), String(rate), idPrefix, String(warmupMs)]);
  return JSON.parse(await firstLine(gen)) as LoadResult;
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

/** Polls the service until it has stored `total` objects in all (or `timeoutMs` passed); returns when it saw that. */
async function storedBy(svc: { metrics(): Promise<string> }, total: number, timeoutMs: number): Promise<number> {
  for (const deadline = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 50))) {
    const stored = metricSum(await svc.metrics(), 'se_objects_stored_total');
    if (stored >= total || Date.now() >= deadline) return Date.now();
  }
}

/** Runs `load` against a bare Aedes broker of its own (started for it, killed after). */
async function onBareBroker(load: (url: string) => Promise<LoadResult>): Promise<LoadResult> {
  const bare = node(['bench/bare-broker.js']);
  try {
    const port = (JSON.parse(await firstLine(bare)) as { port: number }).port;
    return await load(`mqtt://127.0.0.1:${port}`);
  } finally {
    bare.kill('SIGKILL');
  }
}

async function main() {
  const gateways = Array.from({ length: C }, (_, g) => ({ id: `BGW${g}`, elevators: [0, 1, 2, 3].map((k) => benchElevator(g * 4 + k)) }));
  const bareFile = join(dir, 'bare-gateways.json');
  writeFileSync(bareFile, JSON.stringify(gateways));
  console.log(`load: ${C} gateways × ${N} QoS 1 status messages (${C * N} in all), window ${WINDOW} in flight per gateway`);

  // 1. Bare Aedes
  const bareRes = await onBareBroker((url) => runLoad(url, bareFile));
  const bareRate = bareRes.acked / bareRes.seconds;
  console.log(`bare aedes: ${bareRes.acked} acked in ${bareRes.seconds.toFixed(1)} s → ${Math.round(bareRate)} msg/s`);

  // 2. The service
  const svc = await startService(join(dir, 'service'), { SPOOL_FSYNC: process.env.BENCH_FSYNC ?? 'always' });
  try {
    const withSecrets = await registerCity(svc.base, ELEVATORS, gateways);
    const svcFile = join(dir, 'gateways.json');
    writeFileSync(svcFile, JSON.stringify(withSecrets));
    const rssIdle = rssMb(svc.proc.pid!);
    console.log(`service: ${ELEVATORS} elevators registered, state on ${benchState()}, RSS ${rssIdle.toFixed(0)} MB`);

    const m0 = await svc.metrics();
    const stored0 = metricSum(m0, 'se_objects_stored_total');
    let rssMax = rssIdle;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssMb(svc.proc.pid!))), 500);
    // CPU over the load window (first publish → last message stored), per process: the service alone, its influxd, the load generator.
    const influxd = childrenOf(svc.proc.pid!).find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('influxd'));
    const cpu0 = { service: cpuS(svc.proc.pid!), influxd: cpuS(influxd) };
    const res = await runLoad(svc.mqttUrl, svcFile);
    const storedAt = await storedBy(svc, stored0 + res.acked, 180_000);
    clearInterval(sampler);
    const cpu = { service: cpuS(svc.proc.pid!) - cpu0.service, influxd: cpuS(influxd) - cpu0.influxd, load: res.cpuMs / 1000 };
    const m1 = await svc.metrics();
    const q = `SELECT count("id") FROM elevator_status`;
    const influx = await svc.influxQuery(q);
    const counted = Number(influx.results[0]?.series?.[0]?.values[0]?.[1] ?? 0);
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
    const us = (seconds: number) => `${((seconds / Math.max(1, counted)) * 1e6).toFixed(1)} µs/msg`;
    console.log(`cpu:        service ${us(cpu.service)}, influxd ${us(cpu.influxd)}, load generator ${us(cpu.load)} (user + system time from /proc over the window, per message stored)`);
    console.log(`ratio:      ${((storedRate / bareRate) * 100).toFixed(0)} % of the bare broker's rate (${Math.round(storedRate)} / ${Math.round(bareRate)})`);

    // 3. Latency below saturation: the same gateways paced at 80 % (BENCH_PACED_PERCENT) of the end-to-end rate just measured.
    if (PACED > 0) {
      const rate = Math.round((storedRate * PACED_PERCENT) / 100);
      const m2 = await svc.metrics();
      const before = metricSum(m2, 'se_objects_stored_total');
      const paced = await runLoad(svc.mqttUrl, svcFile, PACED, rate, 'p-', PACED_WARMUP_MS);
      const loop = await svc.metrics(); // prom-client's event-loop delay figures cover the time since the previous scrape
      const lag = (name: string) => ([...parseMetrics(loop, name).values()][0] ?? NaN) * 1000;
      await storedBy(svc, before + paced.acked, 120_000);
      const m3 = await svc.metrics();
      /** a histogram's quantile over the paced run, in ms */
      const ms = (name: string, q: number) => (quantile(parseMetrics(m2, name), parseMetrics(m3, name), q) * 1000).toFixed(1);
      console.log(`paced:      ${paced.acked} at ${rate} msg/s (${PACED_PERCENT} % of end to end): PUBACK p50 ${paced.pubackP50Ms.toFixed(1)} ms, p99 ${paced.pubackP99Ms.toFixed(1)} ms after the generator's first ${PACED_WARMUP_MS} ms (${paced.pubackAllP99Ms.toFixed(1)} ms with it; the service's part: p50 ${ms('se_mqtt_ack_seconds', 0.5)} ms, p99 ${ms('se_mqtt_ack_seconds', 0.99)} ms); publish → stored p50 ${ms('se_ingest_store_lag_seconds', 0.5)} ms, p99 ${ms('se_ingest_store_lag_seconds', 0.99)} ms; lost ${paced.acked - (metricSum(m3, 'se_objects_stored_total') - before)}; event-loop delay p99 ${lag('se_nodejs_eventloop_lag_p99_seconds').toFixed(0)} ms, max ${lag('se_nodejs_eventloop_lag_max_seconds').toFixed(0)} ms`);
      // The floor of that figure on this machine: the same paced load from the same client against a bare Aedes
      // (no authorization, spool, fsync or storage; the idle service and influxd still beside it).
      const floor = await onBareBroker((url) => runLoad(url, bareFile, PACED, rate, 'f-', PACED_WARMUP_MS));
      console.log(`paced bare: the same load against a bare Aedes: PUBACK p50 ${floor.pubackP50Ms.toFixed(1)} ms, p99 ${floor.pubackP99Ms.toFixed(1)} ms (${floor.pubackAllP99Ms.toFixed(1)} ms with the first ${PACED_WARMUP_MS} ms; what the load generator and the broker library alone give here)`);
    }
  } finally {
    await svc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
