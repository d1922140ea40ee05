// `npm run bench:alerts`: how long an entrapment takes from the gateway's
// publish to the dashboard's WebSocket, while the ingest carries a steady
// background load.
//
// 1. The service (own data dir, project-local InfluxDB, SPOOL_FSYNC=always,
//    default settings otherwise) with BENCH_ELEVATORS elevators over
//    BENCH_GATEWAYS gateways, plus one bench gateway with BENCH_ALERTS
//    elevators of its own (BT000000, …): each entrapment is on a different
//    elevator, so each opens a new alert.
// 2. A separate load-generator process publishes QoS 1 status messages from
//    the gateways at BENCH_RATE msg/s in all, for the whole run.
// 3. This process subscribes to the live feed (/api/v1/live) and, after
//    BENCH_WARMUP_S, publishes one QoS 1 entrapment (`raised`, ts = now) every
//    BENCH_SPACING_MS. Latency = arrival of that elevator's `raised` frame −
//    the moment just before the publish call (performance.now(), one clock);
//    publish → PUBACK is timed alongside.
// Prints p50/p90/p99/max publish → WebSocket, p50/p99 publish → PUBACK, the
// service's own lag (the frame's lagMs: event time → alert raised), the
// background rate achieved (from the service's se_messages_in_total during
// the entrapment phase, and the load generator's acks), lost alerts (none
// within LOST_AFTER_MS), service RSS, and PASS/FAIL against a p99 under
// TARGET_P99_MS with no alert lost (the exit code is 1 on FAIL).
//
// Environment: BENCH_ALERTS (300), BENCH_RATE (5000), BENCH_ELEVATORS
// (10000), BENCH_GATEWAYS (100), BENCH_SPACING_MS (75), BENCH_WARMUP_S (5),
// BENCH_WINDOW in-flight per gateway (20), BENCH_FSYNC (always),
// BENCH_NODE_FLAGS (the service's: service/node-flags.ts).
import mqtt from 'mqtt';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { benchState, entrapmentCity, entrapmentKnobs, firstLine, ms, node, pct, registerCity, rssMb, run, sleep, startService, statusIn, TOKEN, type LoadResult } from './harness.js';

const knobs = entrapmentKnobs();
const { ALERTS, RATE, GATEWAYS: C, ELEVATORS, SPACING_MS, WARMUP_S, WINDOW } = knobs;
const TARGET_P99_MS = 100;
const LOST_AFTER_MS = 5000;
const dir = mkdtempSync(join(tmpdir(), 'se-bench-alerts-'));


interface Sample { code: string; sentAt: number; pubackMs?: number; wsMs?: number; lagMs?: number }

async function main() {
  const { gateways, trapped, trapGateway, loadS, perClient } = entrapmentCity(knobs);
  console.log(`city: ${ELEVATORS} elevators over ${C} gateways, plus ${ALERTS} elevators on a bench gateway for entrapments`);
  console.log(`load: ${RATE} QoS 1 status msg/s for ${loadS.toFixed(0)} s; after ${WARMUP_S} s warm-up ${ALERTS} entrapments, one every ${SPACING_MS} ms`);

  const svc = await startService(join(dir, 'service'), { SPOOL_FSYNC: process.env.BENCH_FSYNC ?? 'always' });
  const samples = new Map<string, Sample>();
  let unexpected = 0;
  let ws: WebSocket | undefined;
  let trap: mqtt.MqttClient | undefined;
  let gen: ChildProcess | undefined;
  try {
    const registered = await registerCity(svc.base, ELEVATORS, [...gateways, trapGateway], trapped);
    const trapSecret = registered.pop()!.secret!;
    const loadFile = join(dir, 'gateways.json');
    writeFileSync(loadFile, JSON.stringify(registered));
    const rssIdle = rssMb(svc.proc.pid!);
    console.log(`service: ${ELEVATORS + ALERTS} elevators registered, state on ${benchState()}, RSS ${rssIdle.toFixed(0)} MB`);

    // The live feed, as a dashboard sees it.
    ws = new WebSocket(`${svc.base.replace('http', 'ws')}/api/v1/live`, { headers: { authorization: `Bearer ${TOKEN}` }, handshakeTimeout: 30_000 });
    await new Promise<void>((res, rej) => {
      ws!.once('error', rej);
      ws!.on('message', (data) => {
        const at = performance.now();
        const f = JSON.parse(String(data)) as { type: string; transition?: string; lagMs?: number; alert?: { type: string; subject: string } };
        if (f.type === 'ready') return res();
        if (f.type !== 'alert' || f.transition !== 'raised' || f.alert?.type !== 'entrapment') return;
        const s = samples.get(f.alert.subject);
        if (!s || s.wsMs !== undefined) {
          unexpected++;
          return;
        }
        s.wsMs = at - s.sentAt;
        s.lagMs = f.lagMs;
      });
    });
    trap = await mqtt.connectAsync(svc.mqttUrl, { username: trapGateway.id, password: trapSecret, clientId: trapGateway.id, reconnectPeriod: 0, keepalive: 60 });

    let rssMax = rssIdle;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssMb(svc.proc.pid!))), 500);
    gen = node(['bench/load-generator.js', svc.mqttUrl, loadFile, String(perClient), String(WINDOW), String(RATE)]);
    const loadDone = firstLine(gen);
    loadDone.catch(() => undefined); // awaited below
    await sleep(WARMUP_S * 1000);

    // The entrapment phase, on a fixed schedule (no drift from timer lateness).
    const m0 = await svc.metrics();
    const t0 = performance.now();
    for (const [i, code] of trapped.entries()) {
      await sleep(t0 + i * SPACING_MS - performance.now());
      const payload = JSON.stringify({ id: `trap-${i}`, ts: Date.now(), type: 'entrapment', state: 'raised' });
      const s: Sample = { code, sentAt: performance.now() };
      samples.set(code, s);
      trap.publish(`se/v1/elevator/${code}/event`, payload, { qos: 1 }, (err) => {
        if (!err) s.pubackMs = performance.now() - s.sentAt;
      });
    }
    const m1 = await svc.metrics();
    const t1 = performance.now();
    for (const deadline = performance.now() + LOST_AFTER_MS; performance.now() < deadline && [...samples.values()].some((s) => s.wsMs === undefined); ) await sleep(20);
    const res = JSON.parse(await loadDone) as LoadResult;
    clearInterval(sampler);

    const all = [...samples.values()];
    const got = all.filter((s) => s.wsMs !== undefined && s.wsMs <= LOST_AFTER_MS);
    const lost = all.length - got.length;
    const wsSorted = got.map((s) => s.wsMs!).sort((a, b) => a - b);
    const pubSorted = all.filter((s) => s.pubackMs !== undefined).map((s) => s.pubackMs!).sort((a, b) => a - b);
    const lagSorted = got.filter((s) => s.lagMs !== undefined).map((s) => s.lagMs!).sort((a, b) => a - b);
    const phaseRate = (statusIn(m1) - statusIn(m0)) / ((t1 - t0) / 1000);
    const p99 = pct(wsSorted, 0.99);
    const pass = lost === 0 && p99 < TARGET_P99_MS;

    console.log(`alerts:     ${got.length} of ${all.length} entrapments measured (lost: ${lost}, unexpected frames: ${unexpected})`);
    console.log(`latency:    publish → WebSocket p50 ${ms(pct(wsSorted, 0.5))}, p90 ${ms(pct(wsSorted, 0.9))}, p99 ${ms(p99)}, max ${ms(wsSorted[wsSorted.length - 1] ?? NaN)}`);
    console.log(`puback:     publish → PUBACK p50 ${ms(pct(pubSorted, 0.5))}, p99 ${ms(pct(pubSorted, 0.99))} (${pubSorted.length} acknowledged)`);
    console.log(`service:    event time → raised (frame lagMs, whole ms) p50 ${pct(lagSorted, 0.5)} ms, p99 ${pct(lagSorted, 0.99)} ms`);
    console.log(`background: ${Math.round(phaseRate)} status msg/s accepted during the entrapment phase (se_messages_in_total); load generator ${res.acked} acked, ${res.failed} failed in ${res.seconds.toFixed(1)} s → ${Math.round(res.acked / res.seconds)} msg/s`);
    console.log(`rss:        service ${rssIdle.toFixed(0)} MB idle, ${rssMax.toFixed(0)} MB max under load`);
    console.log(`result:     ${pass ? 'PASS' : 'FAIL'}: p99 ${ms(p99)} ${p99 < TARGET_P99_MS ? '<' : '≥'} ${TARGET_P99_MS} ms target, ${lost} lost`);
    if (!pass) process.exitCode = 1;
  } finally {
    ws?.close();
    gen?.kill();
    await trap?.endAsync();
    await svc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

run(main);
