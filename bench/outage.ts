// `npm run bench:outage`: memory and loss through an InfluxDB outage under
// sustained load (issue 10, item 10: RSS under 300 MB through a 10-minute
// outage at 5k msg/s, nothing lost).
//
// Starts its own influxd and the service (pointed at it, production Node
// flags), registers a city, stops influxd, publishes at BENCH_RATE for
// BENCH_OUTAGE_S from a separate load-generator process, starts influxd again
// and waits until the spool is empty. Prints the service's RSS (idle, peak
// during the outage, peak during recovery), the in-memory queue's peak, the
// spool's peak, the recovery time, messages acknowledged, stored and lost.
//
// Environment: BENCH_OUTAGE_S (600), BENCH_RATE msg/s (5000), BENCH_GATEWAYS
// (100), BENCH_ELEVATORS (10000), BENCH_WINDOW in-flight per gateway (20),
// BENCH_FSYNC (always), BENCH_NODE_FLAGS (the service's: service/node-flags.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startLocalInflux } from '../storage/influxd.js';
import { freePort } from './free-port.js';
import { benchElevator, firstLine, metricSum, node, registerCity, rssMb, run, sleep, startService, type LoadResult } from './harness.js';

const OUTAGE_S = Number(process.env.BENCH_OUTAGE_S ?? 600);
const RATE = Number(process.env.BENCH_RATE ?? 5000);
const GATEWAYS = Number(process.env.BENCH_GATEWAYS ?? 100);
const ELEVATORS = Math.max(Number(process.env.BENCH_ELEVATORS ?? 10_000), GATEWAYS);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 20);
const MB = 1024 * 1024;

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'se-bench-outage-'));
  const log = pino({ level: 'warn' });
  const influxPort = await freePort();
  const influxDir = join(dir, 'influxdb');
  let influx = await startLocalInflux({ dataDir: influxDir, port: influxPort, log });
  await influx.ready();
  // Authentication is on: the service gets this influxd's admin, which stays the same across its restarts.
  const auth = { INFLUX_USERNAME: influx.username, INFLUX_PASSWORD: influx.password };
  const svc = await startService(join(dir, 'service'), { INFLUX_URL: influx.url, ...auth, SPOOL_FSYNC: process.env.BENCH_FSYNC ?? 'always' });
  try {
    const per = Math.floor(ELEVATORS / GATEWAYS);
    const gateways = Array.from({ length: GATEWAYS }, (_, g) => ({ id: `BGW${g}`, elevators: Array.from({ length: per }, (_, i) => benchElevator(g * per + i)) }));
    const file = join(dir, 'gateways.json');
    writeFileSync(file, JSON.stringify(await registerCity(svc.base, ELEVATORS, gateways)));
    const rssIdle = rssMb(svc.proc.pid!);
    const perClient = Math.ceil((RATE / GATEWAYS) * OUTAGE_S);
    console.log(`outage: ${OUTAGE_S} s at ${RATE} msg/s (${GATEWAYS} gateways × ${perClient} QoS 1 status messages), ${ELEVATORS} elevators; service RSS ${rssIdle.toFixed(0)} MB idle`);

    const peak = { rss: rssIdle, queue: 0, spool: 0, heap: 0, heapUsed: 0, external: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak.rss = Math.max(peak.rss, rssMb(svc.proc.pid!));
        const m = await svc.metrics().catch(() => '');
        peak.queue = Math.max(peak.queue, metricSum(m, 'se_ingest_queue_bytes'));
        peak.spool = Math.max(peak.spool, metricSum(m, 'se_spool_depth_bytes'));
        peak.heap = Math.max(peak.heap, metricSum(m, 'se_nodejs_heap_size_total_bytes'));
        peak.heapUsed = Math.max(peak.heapUsed, metricSum(m, 'se_nodejs_heap_size_used_bytes'));
        peak.external = Math.max(peak.external, metricSum(m, 'se_nodejs_external_memory_bytes'));
        await sleep(1000);
      }
    })();

    await influx.stop();
    const gen = node(['bench/load-generator.js', svc.mqttUrl, file, String(perClient), String(WINDOW), String(RATE)]);
    const res = JSON.parse(await firstLine(gen)) as LoadResult;
    const outage = { ...peak };
    console.log(`during:   ${res.acked} acked in ${res.seconds.toFixed(0)} s (${Math.round(res.acked / res.seconds)} msg/s), ${res.failed} failed; RSS peak ${outage.rss.toFixed(0)} MB (V8 heap ${(outage.heap / MB).toFixed(0)} MB, used ${(outage.heapUsed / MB).toFixed(0)} MB; external ${(outage.external / MB).toFixed(0)} MB), queue peak ${(outage.queue / MB).toFixed(1)} MB, spool ${(outage.spool / MB).toFixed(0)} MB`);

    influx = await startLocalInflux({ dataDir: influxDir, port: influxPort, log });
    const t0 = Date.now();
    for (;;) {
      const h = (await (await fetch(`${svc.base}/healthz`, { signal: AbortSignal.timeout(10_000) })).json()) as { spool: { depthMessages: number } };
      if (h.spool.depthMessages === 0) break;
      if (svc.proc.exitCode !== null) throw new Error('the service exited during recovery');
      await sleep(500);
    }
    const recoveryS = (Date.now() - t0) / 1000;
    sampling = false;
    await sampler;
    const q = encodeURIComponent('SELECT count("id") FROM elevator_status');
    const body = (await (await fetch(`${influx.url}/query?db=se_monitor&q=${q}`, { headers: { authorization: `Basic ${Buffer.from(`${auth.INFLUX_USERNAME}:${auth.INFLUX_PASSWORD}`).toString('base64')}` }, signal: AbortSignal.timeout(60_000) })).json()) as { results: { series?: { values: number[][] }[] }[] };
    const stored = body.results[0]?.series?.[0]?.values[0]?.[1] ?? 0;
    console.log(`recovery: spool empty ${recoveryS.toFixed(0)} s after InfluxDB came back; RSS peak ${peak.rss.toFixed(0)} MB`);
    console.log(`result:   RSS peak ${outage.rss.toFixed(0)} MB in the outage, ${peak.rss.toFixed(0)} MB overall (idle ${rssIdle.toFixed(0)} MB); messages ${res.acked} acked, ${stored} stored, lost ${res.acked - stored}`);
  } finally {
    await svc.stop();
    await influx.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

run(main);
