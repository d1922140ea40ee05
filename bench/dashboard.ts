// `npm run bench:dashboard`: entrapment delivery to a room full of dashboards
// while the city runs — how long each alert takes from the gateway's publish
// to every one of BENCH_CLIENTS live-feed WebSockets.
//
// 1. The service (own data dir, project-local InfluxDB, SPOOL_FSYNC=always,
//    default settings otherwise) with BENCH_ELEVATORS elevators over
//    BENCH_GATEWAYS gateways plus a bench gateway with BENCH_ALERTS elevators
//    of its own, as in bench:alerts.
// 2. A child process (bench/dashboard-clients.ts) opens BENCH_CLIENTS
//    WebSockets to /api/v1/live with the admin token and records arrivals.
//    The clients live in their own process so that neither this process's
//    MQTT publishing nor their own 200 sockets' work lands on the other's
//    event loop.
// 3. The load generator of bench:alerts (another process) publishes QoS 1
//    status messages at BENCH_RATE msg/s for the whole run.
// 4. After BENCH_WARMUP_S this process publishes one QoS 1 entrapment
//    (`raised`) every BENCH_SPACING_MS. Latency of an (alert, client) pair =
//    the arrival of that elevator's `raised` frame on that client − the
//    moment just before the publish call. Both processes read the same
//    clock, performance.timeOrigin + performance.now() (the wall clock at
//    process start plus a monotonic offset); the offset between the two
//    processes' readings is measured over IPC (smallest round trip of ten)
//    and printed, so a skew would show.
// Prints p50/p90/p99/max over all pairs, the slowest client's p99, the spread
// between the first and the last client per alert, clients dropped, frames
// missed (pairs not delivered within LOST_AFTER_MS), every frame type the
// clients saw (kpi/equipment/case frames are counted, not timed), the
// background rate achieved, CPU over the entrapment phase from
// /proc/<pid>/stat (service, its influxd, load generator, clients, this
// process, the whole machine and what other processes took of it), the
// service's event-loop delay over the phase and how long the service's and
// the clients' main threads waited for a CPU (run queue), service RSS (idle; peak
// sampled every 250 ms) and PASS/FAIL against a p99 under TARGET_P99_MS with no client
// dropped and no frame missed (exit code 1 on FAIL).
//
// Environment: BENCH_CLIENTS (200), BENCH_ALERTS (300), BENCH_RATE (5000),
// BENCH_ELEVATORS (10000), BENCH_GATEWAYS (100), BENCH_SPACING_MS (75),
// BENCH_WARMUP_S (5), BENCH_WINDOW in-flight per gateway (20), BENCH_FSYNC
// (always), BENCH_NODE_FLAGS (the service's: service/node-flags.ts), BENCH_PROF=1 (CPU
// profile of the service in /tmp/prof).
import mqtt from 'mqtt';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { ClientsResult } from './dashboard-clients.js';
import { entrapmentCity, entrapmentKnobs, firstLine, metricSum, ms, node, pct, registerCity, rssMb, run, sleep, startService, statusIn, TOKEN, type LoadResult } from './harness.js';
import { cpuS, statFields } from './proc.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 200);
const knobs = entrapmentKnobs();
const { ALERTS, RATE, GATEWAYS: C, ELEVATORS, SPACING_MS, WARMUP_S, WINDOW } = knobs;
const TARGET_P99_MS = 200;
const LOST_AFTER_MS = 5000;
const dir = mkdtempSync(join(tmpdir(), 'se-bench-dashboard-'));
/** The clock both processes read (see dashboard-clients.ts): epoch ms, sub-ms resolution, monotonic within a process. */
const clock = () => performance.timeOrigin + performance.now();

const sortNum = (a: number[]) => a.sort((x, y) => x - y);

const cores = availableParallelism();
/** Seconds the main thread of a process has waited on a run queue for a CPU so far (/proc/<pid>/schedstat, field 2, ns). */
const runqS = (pid: number | undefined) => {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return NaN;
  }
};
/** The machine's busy and total jiffies over all cores, from /proc/stat. */
const machine = () => {
  const v = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - v[3]! - (v[4] ?? 0), total };
};
/** The child process of `ppid` named `name` (the service's influxd), if any. */
const childNamed = (ppid: number, name: string) =>
  readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).find((pid) => {
    try {
      return Number(statFields(pid)[1]) === ppid && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name;
    } catch {
      return false;
    }
  });

/** The clients process, as request → reply over IPC. */
function clientsProcess() {
  const proc = fork(fileURLToPath(new URL('./dashboard-clients.js', import.meta.url)), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<string, (m: Record<string, unknown>) => void>();
  const drops: { client: number; code: number; reason: string }[] = [];
  proc.on('message', (m: Record<string, unknown> & { ev: string }) => {
    if (m.ev === 'dropped') {
      drops.push(m as never);
      console.log(`client ${m.client} closed by the server: ${m.code} ${m.reason}`);
      return;
    }
    const w = waiting.get(m.ev);
    waiting.delete(m.ev);
    w?.(m);
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', r));
  const ask = <T>(cmd: Record<string, unknown>, ev: string, timeoutMs = 60_000) =>
    new Promise<T>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`clients process: no ${ev} within ${timeoutMs} ms`)), timeoutMs);
      exited.then((code) => rej(new Error(`clients process exited (${code})`)));
      waiting.set(ev, (m) => {
        clearTimeout(timer);
        res(m as T);
      });
      proc.send(cmd);
    });
  return { proc, ask, drops, exited };
}

async function main() {
  const { gateways, trapped, trapGateway, loadS, perClient } = entrapmentCity(knobs);
  console.log(`city: ${ELEVATORS} elevators over ${C} gateways, plus ${ALERTS} elevators on a bench gateway for entrapments`);
  console.log(`load: ${RATE} QoS 1 status msg/s for ${loadS.toFixed(0)} s; ${CLIENTS} live-feed clients; after ${WARMUP_S} s warm-up ${ALERTS} entrapments, one every ${SPACING_MS} ms`);

  const svc = await startService(join(dir, 'service'), { SPOOL_FSYNC: process.env.BENCH_FSYNC ?? 'always' });
  const svcPid = svc.proc.pid!;
  let trap: mqtt.MqttClient | undefined;
  let gen: ChildProcess | undefined;
  let clients: ReturnType<typeof clientsProcess> | undefined;
  let rssMax = rssMb(svcPid);
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssMb(svcPid))), 250);
  try {
    const registered = await registerCity(svc.base, ELEVATORS, [...gateways, trapGateway], trapped);
    const trapSecret = registered.pop()!.secret!;
    const loadFile = join(dir, 'gateways.json');
    writeFileSync(loadFile, JSON.stringify(registered));
    const rssIdle = rssMb(svcPid);
    console.log(`service: ${ELEVATORS + ALERTS} elevators registered, RSS ${rssIdle.toFixed(0)} MB`);

    clients = clientsProcess();
    const conn = await clients.ask<{ ms: number }>({ cmd: 'connect', url: `${svc.base.replace('http', 'ws')}/api/v1/live`, token: TOKEN, clients: CLIENTS }, 'connected');
    console.log(`clients: ${CLIENTS} connected and ready in ${conn.ms.toFixed(0)} ms (half ?token=, half Bearer)`);
    // The clock check: offset = client's reading − the midpoint of ours around it, on the round trip with the least uncertainty.
    let skew = { offset: NaN, within: Infinity };
    for (let i = 0; i < 10; i++) {
      const t = clock();
      const r = await clients.ask<{ tc: number }>({ cmd: 'clock', t }, 'clock');
      const t2 = clock();
      if ((t2 - t) / 2 < skew.within) skew = { offset: r.tc - (t + t2) / 2, within: (t2 - t) / 2 };
    }

    trap = await mqtt.connectAsync(svc.mqttUrl, { username: trapGateway.id, password: trapSecret, clientId: trapGateway.id, reconnectPeriod: 0, keepalive: 60 });
    gen = node(['bench/load-generator.js', svc.mqttUrl, loadFile, String(perClient), String(WINDOW), String(RATE)]);
    const loadDone = firstLine(gen);
    loadDone.catch(() => undefined); // awaited below
    await sleep(WARMUP_S * 1000);

    // The entrapment phase, on a fixed schedule (no drift from timer lateness).
    const pids = { service: svcPid, influxd: childNamed(svcPid, 'influxd'), generator: gen.pid, clients: clients.proc.pid };
    const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuS(p)]));
    const wait0 = { service: runqS(svcPid), clients: runqS(clients.proc.pid) };
    const self0 = process.cpuUsage();
    const mach0 = machine();
    const m0 = await svc.metrics();
    const t0 = clock();
    const sentAt = new Map<string, number>();
    let acked = 0;
    for (const [i, code] of trapped.entries()) {
      await sleep(t0 + i * SPACING_MS - clock());
      const payload = JSON.stringify({ id: `trap-${i}`, ts: Date.now(), type: 'entrapment', state: 'raised' });
      sentAt.set(code, clock());
      trap.publish(`se/v1/elevator/${code}/event`, payload, { qos: 1 }, (err) => {
        if (!err) acked++;
      });
    }
    const m1 = await svc.metrics();
    const t1 = clock();
    const cpu1 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuS(p)]));
    const self1 = process.cpuUsage(self0);
    const wait1 = { service: runqS(svcPid), clients: runqS(clients.proc.pid) };
    const mach1 = machine();
    const windowS = (t1 - t0) / 1000;

    for (const deadline = clock() + LOST_AFTER_MS; clock() < deadline; await sleep(50)) {
      const st = await clients.ask<{ pairs: number }>({ cmd: 'status' }, 'status');
      if (st.pairs >= ALERTS * CLIENTS) break;
    }
    const res = JSON.parse(await loadDone) as LoadResult;
    const rep = await clients.ask<ClientsResult>({ cmd: 'finish' }, 'result');
    clearInterval(sampler);

    // Every (alert, client) pair.
    const all: number[] = [];
    const perClientLat: number[][] = Array.from({ length: CLIENTS }, () => []);
    const first: number[] = [];
    const spread: number[] = [];
    let missed = 0;
    for (const [code, sent] of sentAt) {
      const row = rep.receipts[code] ?? [];
      const got: number[] = [];
      for (let c = 0; c < CLIENTS; c++) {
        const at = row[c];
        const lat = at == null ? NaN : at - sent;
        if (!(lat <= LOST_AFTER_MS)) {
          missed++;
          continue;
        }
        all.push(lat);
        perClientLat[c]!.push(lat);
        got.push(lat);
      }
      if (got.length) {
        first.push(Math.min(...got));
        spread.push(Math.max(...got) - Math.min(...got));
      }
    }
    sortNum(all);
    sortNum(first);
    sortNum(spread);
    const clientP99 = perClientLat.map((l) => pct(sortNum(l), 0.99));
    const slowest = clientP99.reduce((b, v, c) => (v > b.v ? { v, c } : b), { v: -Infinity, c: -1 });
    const dropped = Math.max(rep.dropped.length, clients.drops.length);
    const phaseRate = (statusIn(m1) - statusIn(m0)) / windowS;
    const p99 = pct(all, 0.99);
    const pass = dropped === 0 && missed === 0 && p99 < TARGET_P99_MS;

    const cpuLine = (k: string) => {
      const s = cpu1[k]! - cpu0[k]!;
      return `${k} ${s.toFixed(2)} s (${((100 * s) / windowS).toFixed(0)} %)`;
    };
    const selfS = (self1.user + self1.system) / 1e6;
    // Everything else on the machine (other work sharing the cores), in % of one core.
    const machinePct = (100 * (mach1.busy - mach0.busy)) / (mach1.total - mach0.total);
    const ours = ['service', 'influxd', 'generator', 'clients'].reduce((a, k) => a + (cpu1[k]! - cpu0[k]! || 0), selfS);
    const othersPct = machinePct * cores - (100 * ours) / windowS;
    // prom-client resets its event-loop histogram on every scrape: the m1 scrape covers the entrapment phase.
    const loopP99 = metricSum(m1, 'se_nodejs_eventloop_lag_p99_seconds') * 1000;
    const loopMax = metricSum(m1, 'se_nodejs_eventloop_lag_max_seconds') * 1000;
    const frames = Object.entries(rep.frames).sort((a, b) => b[1] - a[1]).map(([t, n]) => `${t} ${n} (${((rep.bytes[t] ?? 0) / 1024 / 1024).toFixed(1)} MB)`).join(', ');
    console.log(`clock:      client process − publisher = ${skew.offset.toFixed(3)} ms ± ${skew.within.toFixed(3)} ms (performance.timeOrigin + performance.now() in both)`);
    console.log(`pairs:      ${all.length} of ${sentAt.size * CLIENTS} (alert, client) pairs delivered; missed ${missed}; ${acked} of ${sentAt.size} entrapments PUBACKed`);
    console.log(`latency:    publish → frame on client, all pairs: p50 ${ms(pct(all, 0.5))}, p90 ${ms(pct(all, 0.9))}, p99 ${ms(p99)}, max ${ms(all[all.length - 1] ?? NaN)}`);
    console.log(`            slowest client's p99 ${ms(slowest.v)} (client ${slowest.c}); first client per alert p50 ${ms(pct(first, 0.5))}, p99 ${ms(pct(first, 0.99))}`);
    console.log(`            first → last client per alert: p50 ${ms(pct(spread, 0.5))}, p99 ${ms(pct(spread, 0.99))}, max ${ms(spread[spread.length - 1] ?? NaN)}`);
    console.log(`clients:    ${dropped} dropped or closed, ${rep.duplicates} duplicate frames, ${rep.seqGaps} alert seq gaps, ${rep.malformed} malformed; clients' event-loop delay p99 ${ms(rep.loopDelay.p99)}, max ${ms(rep.loopDelay.max)}`);
    console.log(`frames:     ${frames}`);
    console.log(`background: ${Math.round(phaseRate)} status msg/s accepted during the entrapment phase (se_messages_in_total); load generator ${res.acked} acked, ${res.failed} failed in ${res.seconds.toFixed(1)} s → ${Math.round(res.acked / res.seconds)} msg/s`);
    console.log(`cpu:        over the ${windowS.toFixed(1)} s entrapment phase, user+sys (% of one core): ${['service', 'influxd', 'generator', 'clients'].map(cpuLine).join(', ')}, benchmark ${selfS.toFixed(2)} s (${((100 * selfS) / windowS).toFixed(0)} %); machine ${machinePct.toFixed(0)} % busy of ${cores} cores, of which other processes ${Math.max(0, othersPct).toFixed(0)} % of one core`);
    console.log(`            service event-loop delay over the phase p99 ${ms(loopP99)}, max ${ms(loopMax)} (se_nodejs_eventloop_lag_*); main threads waiting for a CPU (run queue, /proc/<pid>/schedstat): service ${(wait1.service - wait0.service).toFixed(2)} s, clients ${(wait1.clients - wait0.clients).toFixed(2)} s`);
    console.log(`rss:        service ${rssIdle.toFixed(0)} MB idle, ${rssMax.toFixed(0)} MB peak (sampled every 250 ms)`);
    console.log(`result:     ${pass ? 'PASS' : 'FAIL'}: p99 ${ms(p99)} ${p99 < TARGET_P99_MS ? '<' : '≥'} ${TARGET_P99_MS} ms target, ${dropped} clients dropped, ${missed} frames missed`);
    if (!pass) process.exitCode = 1;
  } finally {
    clearInterval(sampler);
    if (clients && clients.proc.exitCode === null) {
      clients.proc.kill();
      await clients.exited;
    }
    gen?.kill();
    await trap?.endAsync();
    await svc.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

run(main);
