// `npm run cluster` (service/cluster-cli.ts) really started, with a small
// demo city on free ports: three NATS servers, PostgreSQL, InfluxDB and three
// service nodes. The nodes share the partitions with one leader, the demo's
// gateways publish through all three nodes and their status messages are
// stored; SIGTERM to the launcher leaves no process behind.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/free-port.js';
import { waitFor } from '../helpers.js';
import { alive, childrenOf } from '../storage/local-servers.js';
import type { ClusterHealth } from '../cluster/harness.js';

const P = 6;
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const ports = async (n: number) => {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort();
    if (!out.includes(p)) out.push(p);
  }
  return out;
};

async function health(url: string): Promise<(ClusterHealth & { cluster: { stream: { appended: number } } }) | null> {
  try {
    const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    return (await r.json()) as never;
  } catch {
    return null;
  }
}

/** Every process whose command line names the data directory (the servers' configs and data, the nodes' --node=…). */
function processesOf(dir: string): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir) && alive(pid);
    } catch {
      return false;
    }
  });
}

describe('npm run cluster', () => {
  it('starts three nodes on a NATS cluster, PostgreSQL and InfluxDB, runs the demo across them, and SIGTERM leaves nothing running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'se-cluster-cli-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const [h1, h2, h3, m1, m2, m3, n1, n2, n3, r1, r2, r3, pg, influx, hook] = await ports(15);
    const env = {
      ...process.env, DATA_DIR: dir, LOG_LEVEL: 'warn',
      CLUSTER_HTTP_PORTS: `${h1},${h2},${h3}`, CLUSTER_MQTT_PORTS: `${m1},${m2},${m3}`, CLUSTER_NATS_PORTS: `${n1},${n2},${n3}`, CLUSTER_NATS_ROUTE_PORTS: `${r1},${r2},${r3}`,
      POSTGRES_LOCAL_PORT: String(pg), INFLUX_LOCAL_PORT: String(influx), DEMO_WEBHOOK_PORT: String(hook),
      CLUSTER_PARTITIONS: String(P), ADMIN_TOKEN: 'test-admin-token',
      DEMO_ELEVATORS: '40', DEMO_UNITS: '3', DEMO_GAS_SITES: '2', DEMO_HISTORY_HOURS: '1', DEMO_HISTORY_STATUS: '500', DEMO_RATE: '30',
    };
    // run-built.mjs rebuilds dist/ when a source is newer, so the nodes (dist/service/main.js) run this checkout's code
    const launcher = spawn(process.execPath, ['scripts/run-built.mjs', 'service/cluster-cli.ts'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    launcher.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => launcher.once('exit', (code) => r(code)));
    cleanups.push(() => launcher.kill('SIGKILL'));
    const urls = [h1, h2, h3].map((p) => `http://127.0.0.1:${p}`);

    await waitFor(async () => out, (o) => o.includes('dashboards:'), 180_000);
    for (const u of urls) expect(out).toContain(`${u}/`);
    expect(out).toContain('admin token: test-admin-token');

    // balanced: every node holds partitions, all P held, exactly one leader
    const hs = await waitFor(
      () => Promise.all(urls.map(health)),
      (x) => x.every((h) => (h?.cluster.partitions.length ?? 0) > 0) && x.reduce((s, h) => s + h!.cluster.partitions.length, 0) === P && x.filter((h) => h!.cluster.leader).length === 1,
      60_000,
    );
    expect(hs.map((h) => h!.cluster.nodeId).sort()).toEqual(['node1', 'node2', 'node3']);

    // the demo's live gateways publish through every node (each node appends to the stream) …
    await waitFor(() => Promise.all(urls.map(health)), (x) => x.every((h) => (h?.cluster.stream.appended ?? 0) > 0), 120_000);
    // … and their status messages are stored: the count in InfluxDB grows
    const auth = Buffer.from(readFileSync(join(dir, 'influxdb', 'credentials'), 'utf8').trim()).toString('base64');
    const count = async () => {
      const r = await fetch(`http://127.0.0.1:${influx}/query?db=se_monitor&q=${encodeURIComponent('SELECT count("id") FROM elevator_status WHERE time > now() - 5m')}`, { headers: { authorization: `Basic ${auth}` }, signal: AbortSignal.timeout(10_000) });
      const body = (await r.json()) as { results: { series?: { values: unknown[][] }[] }[] };
      return Number(body.results[0]?.series?.[0]?.values[0]?.[1] ?? 0);
    };
    const before = await waitFor(count, (n) => n > 0, 60_000);
    await waitFor(count, (n) => n >= before + 30, 60_000);

    // SIGTERM: the launcher stops the nodes, then the servers, and exits 0; nothing of this data directory runs on
    const pidOf = (file: string) => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { pid: number }).pid : 0);
    const pids = [
      ...['node1', 'node2', 'node3'].map((n) => pidOf(join(dir, n, 'node.pid'))),
      ...['n1', 'n2', 'n3'].map((n) => pidOf(join(dir, 'nats', n, 'nats-server.pid'))),
      pidOf(join(dir, 'postgres', 'postgres.pid')), pidOf(join(dir, 'influxdb', 'influxd.pid')),
    ];
    expect(pids.every((p) => p > 0 && alive(p))).toBe(true);
    const backends = childrenOf(pids[6]!);
    expect(backends.length).toBeGreaterThan(0);
    expect(processesOf(dir).length).toBeGreaterThanOrEqual(8);
    launcher.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect([...pids, ...backends].filter(alive)).toEqual([]);
    expect(processesOf(dir)).toEqual([]);
  }, 300_000);
});
