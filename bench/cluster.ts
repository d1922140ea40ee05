// `npm run bench:cluster`: cluster mode on loopback (service/local-cluster.ts):
// a three-server NATS JetStream cluster (stream replicas 3, as in
// production), one PostgreSQL, one InfluxDB, and service nodes as separate
// processes (dist/service/main.js).
//
// 1. One node, then three nodes: the same load (C gateways × N QoS 1 status
//    messages from a separate load-generator process, a window in flight per
//    gateway, spread over the nodes' MQTT ports). Prints end-to-end msg/s
//    (first publish → last message counted in InfluxDB, as bench:ingest),
//    PUBACK p50/p99, loss (acknowledged − stored) and the CPU each process
//    spent per stored message over the load window (/proc/<pid>/stat).
// 2. Failover, on the three nodes: a paced status load over all three, then
//    SIGKILL of the leader. Prints the failover time (kill → the survivors
//    hold every partition, from /healthz), the entrapment alert latency
//    (entrapments published every BENCH_TRAP_MS through the survivors from the
//    kill on, until an `alert` frame reaches a live WebSocket on a survivor)
//    and loss (acknowledged ids not in InfluxDB; must be 0).
//
// Environment: BENCH_GATEWAYS (100), BENCH_MESSAGES per gateway (1500),
// BENCH_WINDOW in flight per gateway (20), BENCH_ELEVATORS (2000),
// BENCH_PARTITIONS (12), BENCH_LEASE_MS (6000, the default CLUSTER_LEASE_MS),
// BENCH_FAILOVER_RATE status msg/s during the failover (1500),
// BENCH_TRAPS entrapments (40), BENCH_TRAP_MS between them (250),
// BENCH_NODE_FLAGS (the service's: service/node-flags.ts).
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { WebSocket } from 'ws';
import { launchNode, startClusterInfra, type ClusterInfra, type LocalNode } from '../service/local-cluster.js';
import { freePort } from './free-port.js';
import { benchElevator, firstLine, metricSum, node, pct, registerCity, run, sleep, TOKEN, type BenchGateway, type LoadResult } from './harness.js';
import { cpuDelta, treeCpu } from './proc.js';
import { SERVICE_NODE_FLAGS } from '../service/node-flags.js';

const C = Number(process.env.BENCH_GATEWAYS ?? 100);
const N = Number(process.env.BENCH_MESSAGES ?? 1500);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 20);
const ELEVATORS = Math.max(Number(process.env.BENCH_ELEVATORS ?? 2000), C * 4);
const P = Number(process.env.BENCH_PARTITIONS ?? 12);
const LEASE_MS = Number(process.env.BENCH_LEASE_MS ?? 6000);
const FAILOVER_RATE = Number(process.env.BENCH_FAILOVER_RATE ?? 1500);
const TRAPS = Number(process.env.BENCH_TRAPS ?? 40);
const TRAP_MS = Number(process.env.BENCH_TRAP_MS ?? 250);
const NODE_FLAGS = process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? [...SERVICE_NODE_FLAGS];

const log = pino({ level: 'error' });
const dir = mkdtempSync(join(tmpdir(), 'se-bench-cluster-'));
// the project-local PostgreSQL runs as the postgres user (we are root), which must reach DATA_DIR
chmodSync(dir, 0o711);

interface Health { cluster: { nodeId: string; leader: boolean; partitions: { partition: number; lag: number }[] }; spool: { depthMessages: number } }

async function health(n: LocalNode): Promise<Health | null> {
  try {
    return (await (await fetch(`${n.httpUrl}/healthz`, { signal: AbortSignal.timeout(2000) })).json()) as Health;
  } catch {
    return null;
  }
}

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(v).slice(0, 500)})`);
    await sleep(everyMs);
  }
}

/** Until the nodes hold every partition between them, each at least one. */
const balanced = (nodes: LocalNode[], timeoutMs = 60_000) =>
  until('partitions balanced', () => Promise.all(nodes.map(health)), (hs) => hs.every((h) => (h?.cluster.partitions.length ?? 0) > 0) && hs.reduce((s, h) => s + h!.cluster.partitions.length, 0) === P, timeoutMs, 50) as Promise<Health[]>;

async function influxCount(infra: ClusterInfra, db: string, q: string): Promise<unknown[][]> {
  const auth = Buffer.from(`${infra.influx.username}:${infra.influx.password}`).toString('base64');
  const r = await fetch(`${infra.influx.url}/query?db=${db}&q=${encodeURIComponent(q)}`, { headers: { authorization: `Basic ${auth}` }, signal: AbortSignal.timeout(60_000) });
  const body = (await r.json()) as { results: { series?: { values: unknown[][] }[] }[] };
  return body.results[0]?.series?.[0]?.values ?? [];
}

async function startNodes(infra: ClusterInfra, count: number, database: string): Promise<LocalNode[]> {
  const nodes: LocalNode[] = [];
  for (let i = 0; i < count; i++) {
    nodes.push(await launchNode({
      name: `${database}-n${i + 1}`, dataDir: dir, httpPort: await freePort(), mqttPort: await freePort(), log, nodeFlags: NODE_FLAGS, restart: false,
      env: {
        ...infra.env, NATS_REPLICAS: '3', CLUSTER_PARTITIONS: String(P), CLUSTER_LEASE_MS: String(LEASE_MS), INFLUX_DATABASE: database,
        ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'warn', SPOOL_FSYNC: 'always', ALERT_CHECK_MS: '1000',
      },
    }));
  }
  await Promise.all(nodes.map((n) => n.ready(120_000)));
  await balanced(nodes);
  return nodes;
}

/** The processes whose CPU is measured, by label. */
function processes(infra: ClusterInfra, nodes: LocalNode[]): [string, number][] {
  return [
    ...nodes.map((n, i) => [`service node ${i + 1}`, n.pid!] as [string, number]),
    ...infra.nats.servers.map((s) => [`nats-server ${s.name}`, s.pid!] as [string, number]),
    ['postgres (all backends)', infra.postgres.pid!], ['influxd', infra.influx.pid!],
  ];
}

const metricsOf = async (nodes: LocalNode[]) => Promise.all(nodes.map(async (n) => (await fetch(`${n.httpUrl}/metrics`, { signal: AbortSignal.timeout(30_000) })).text()));

/** The throughput run: the load over `nodes`, until everything acknowledged is stored; prints the figures. */
async function throughput(label: string, infra: ClusterInfra, nodes: LocalNode[], gatewaysFile: string, database: string): Promise<void> {
  const procs = processes(infra, nodes);
  const stored0 = (await metricsOf(nodes)).reduce((s, t) => s + metricSum(t, 'se_objects_stored_total'), 0);
  const cpu0 = procs.map(([, pid]) => treeCpu(pid));
  const url = nodes.map((n) => `mqtt://127.0.0.1:${n.mqttPort}`).join(',');
  const res = JSON.parse(await firstLine(node(['bench/load-generator.js', url, gatewaysFile, String(N), String(WINDOW)]))) as LoadResult;
  const done = await until('stored', async () => (await metricsOf(nodes)).reduce((s, t) => s + metricSum(t, 'se_objects_stored_total'), 0) - stored0, (n) => n >= res.acked, 180_000, 50);
  const storedAt = Date.now();
  const cpu1 = procs.map(([, pid]) => treeCpu(pid));
  const counted = Number((await influxCount(infra, database, 'SELECT count("id") FROM elevator_status'))[0]?.[1] ?? 0);
  const secs = (storedAt - res.start) / 1000;
  console.log(`\n${label}: ${res.acked} acked of ${res.sent} (failed ${res.failed}), ${done} stored`);
  console.log(`  end-to-end ${Math.round(counted / secs)} msg/s (${counted} counted in InfluxDB over ${secs.toFixed(1)} s); publish ${Math.round(res.acked / res.seconds)} msg/s`);
  console.log(`  PUBACK p50 ${res.pubackP50Ms.toFixed(1)} ms, p99 ${res.pubackP99Ms.toFixed(1)} ms`);
  console.log(`  loss ${res.acked - counted} of ${res.acked} acknowledged`);
  console.log(`  CPU per stored message over the window (${secs.toFixed(1)} s):`);
  let total = 0;
  for (const [i, [name]] of procs.entries()) {
    const s = cpuDelta(cpu0[i]!, cpu1[i]!);
    total += s;
    console.log(`    ${name.padEnd(26)} ${((s * 1e6) / counted).toFixed(1).padStart(7)} µs/msg  (${(s / secs).toFixed(2)} cores)`);
  }
  console.log(`    ${'load generator'.padEnd(26)} ${((res.cpuMs * 1e3) / counted).toFixed(1).padStart(7)} µs/msg  (${(res.cpuMs / 1000 / res.seconds).toFixed(2)} cores)`);
  console.log(`    ${'all servers'.padEnd(26)} ${((total * 1e6) / counted).toFixed(1).padStart(7)} µs/msg  (${(total / secs).toFixed(2)} cores of 2)`);
}

const connect = (port: number, g: BenchGateway, clientId = g.id) =>
  mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username: g.id, password: g.secret, clientId, reconnectPeriod: 0, keepalive: 60 });

/** Paced status messages from one client until stopped or its connection closes; acknowledged ids into `acked`. */
function pacedLoad(c: MqttClient, g: BenchGateway, perSecond: number, acked: Set<string>, running: () => boolean): Promise<void> {
  let sent = 0;
  const t0 = Date.now();
  return new Promise((done) => {
    const timer = setInterval(() => {
      if (!running() || !c.connected) {
        clearInterval(timer);
        done();
        return;
      }
      while (sent < ((Date.now() - t0) * perSecond) / 1000) {
        const id = `fo-${g.id}-${sent}`;
        const code = g.elevators[sent % g.elevators.length]!;
        c.publish(`se/v1/elevator/${code}/status`, JSON.stringify({ id, ts: Date.now(), serviceMode: 'normal', carStatus: 'running', direction: 'up', floor: sent % 30, doorZone: false, doorStatus: 'closed', passengers: true, runCount: sent }), { qos: 1 }, (err) => {
          if (!err) acked.add(id);
        });
        sent++;
      }
    }, 10);
  });
}

async function failover(infra: ClusterInfra, nodes: LocalNode[], gateways: BenchGateway[], trapGateway: BenchGateway, database: string): Promise<void> {
  const hs = await balanced(nodes);
  const victimAt = hs.findIndex((h) => h.cluster.leader);
  const victim = nodes[victimAt]!;
  const survivors = nodes.filter((n) => n !== victim);
  const victimParts = hs[victimAt]!.cluster.partitions.map((p) => p.partition);

  // a dashboard on a survivor: when each entrapment alert reaches it
  const seen = new Map<string, number>();
  const raised = new Map<string, number>();
  const ws = new WebSocket(`${survivors[0]!.httpUrl.replace('http', 'ws')}/api/v1/live`, { headers: { authorization: `Bearer ${TOKEN}` } });
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (d) => {
      const f = JSON.parse(String(d)) as { type: string; transition?: string; alert?: { type: string; subject: string } };
      if (f.type === 'ready') resolve();
      if (f.type === 'alert' && f.alert?.type === 'entrapment' && f.transition === 'raised') {
        raised.set(f.alert.subject, (raised.get(f.alert.subject) ?? 0) + 1);
        if (!seen.has(f.alert.subject)) seen.set(f.alert.subject, Date.now());
      }
    });
  });

  // the background load over all three nodes, paced
  const acked = new Set<string>();
  let running = true;
  const loadStart = Date.now();
  const clients = await Promise.all(gateways.map((g, i) => connect(nodes[i % nodes.length]!.mqttPort, g, `fo-${g.id}`)));
  for (const c of clients) c.on('error', () => undefined);
  const loads = clients.map((c, i) => pacedLoad(c, gateways[i]!, FAILOVER_RATE / gateways.length, acked, () => running));
  const traps = await Promise.all(survivors.map((s, i) => connect(s.mqttPort, trapGateway, `trap-${i}`)));
  await sleep(3000);

  const killedAt = Date.now();
  process.kill(victim.pid!, 'SIGKILL');
  // entrapments through the survivors, from the kill on
  const published = new Map<string, number>();
  const trapping = (async () => {
    for (let i = 0; i < TRAPS; i++) {
      const code = trapGateway.elevators[i]!;
      published.set(code, Date.now());
      void traps[i % traps.length]!.publishAsync(`se/v1/elevator/${code}/event`, JSON.stringify({ id: `trap-${i}`, ts: Date.now(), type: 'entrapment', state: 'raised' }), { qos: 1 });
      await sleep(TRAP_MS);
    }
  })();
  await until('survivors hold every partition', () => Promise.all(survivors.map(health)), (x) => x.reduce((s, h) => s + (h?.cluster.partitions.length ?? 0), 0) === P, 60_000, 50);
  const failoverMs = Date.now() - killedAt;
  await trapping;
  await until('every entrapment alert on the live feed', async () => seen.size, (n) => n >= TRAPS, 60_000);
  running = false;
  await Promise.all(loads);
  await until('survivors drained', () => Promise.all(survivors.map(health)), (x) => x.every((h) => h?.spool.depthMessages === 0 && h.cluster.partitions.every((p) => p.lag === 0)), 120_000);
  const ids = (await influxCount(infra, database, `SELECT id FROM elevator_status WHERE time >= ${loadStart - 1000}ms`)).map((r) => r[1] as string).filter((id) => id.startsWith('fo-'));
  const stored = new Set(ids);
  const lost = [...acked].filter((id) => !stored.has(id));
  const lat = [...published].map(([code, t]) => seen.get(code)! - t).sort((a, b) => a - b);
  const twice = [...raised.values()].filter((n) => n > 1).length;
  console.log(`\nfailover (3 nodes, SIGKILL of the leader ${victim.name} holding partitions ${victimParts.join(',')}; lease ${LEASE_MS} ms; ${FAILOVER_RATE} status msg/s over all nodes):`);
  console.log(`  failover: the survivors hold all ${P} partitions ${failoverMs} ms after the kill`);
  console.log(`  entrapment alert (publish through a survivor → frame on a survivor's live WebSocket), ${TRAPS} every ${TRAP_MS} ms from the kill: p50 ${pct(lat, 0.5)} ms, p99 ${pct(lat, 0.99)} ms, max ${lat[lat.length - 1]} ms; raised twice: ${twice}`);
  console.log(`  loss: ${lost.length} of ${acked.size} acknowledged ids not stored; ${ids.length - stored.size} stored twice`);
  ws.close();
  await Promise.all([...clients, ...traps].map((c) => c.endAsync(true).catch(() => undefined)));
}

run(async () => {
  const t0 = Date.now();
  const gateways: BenchGateway[] = Array.from({ length: C }, (_, g) => ({ id: `BGW${g}`, elevators: [0, 1, 2, 3].map((k) => benchElevator(g * 4 + k)) }));
  const trapped = Array.from({ length: TRAPS }, (_, i) => `BT${String(i).padStart(6, '0')}`);
  const ports = async (n: number) => Promise.all(Array.from({ length: n }, () => freePort()));
  const [pgPort, influxPort, ...nats] = await ports(8);
  const infra = await startClusterInfra({ dataDir: dir, natsPorts: [[nats[0]!, nats[1]!], [nats[2]!, nats[3]!], [nats[4]!, nats[5]!]], postgresPort: pgPort!, influxPort: influxPort!, log });
  let nodes: LocalNode[] = [];
  try {
    console.log(`cluster bench on loopback: NATS JetStream 3 servers (stream replicas 3), PostgreSQL, InfluxDB 1 each; ${P} partitions`);
    console.log(`load: ${C} gateways × ${N} QoS 1 status messages (${C * N} in all), window ${WINDOW} in flight per gateway, ${ELEVATORS} elevators registered`);
    nodes = await startNodes(infra, 1, 'bench1');
    const withSecrets = await registerCity(nodes[0]!.httpUrl, ELEVATORS, [...gateways, { id: 'BGW-TRAP', elevators: trapped }], trapped);
    const file = join(dir, 'gateways.json');
    writeFileSync(file, JSON.stringify(withSecrets.filter((g) => g.id !== 'BGW-TRAP')));
    await throughput('1 node', infra, nodes, file, 'bench1');
    await Promise.all(nodes.map((n) => n.stop()));

    nodes = await startNodes(infra, 3, 'bench3');
    await throughput('3 nodes (load spread over their MQTT ports)', infra, nodes, file, 'bench3');
    const secrets = new Map(withSecrets.map((g) => [g.id, g]));
    await failover(infra, nodes, gateways.map((g) => secrets.get(g.id)!), secrets.get('BGW-TRAP')!, 'bench3');
    console.log(`\n(bench took ${Math.round((Date.now() - t0) / 1000)} s; this machine: 2 shared cores, every process above on them)`);
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    await infra.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
});
