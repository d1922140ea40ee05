// Cluster test fixtures: service nodes as real child processes (so a test can
// SIGKILL, SIGSTOP and SIGCONT one), all on one NATS and one PostgreSQL
// schema, storing into one InfluxDB database; and a fleet registered over the API.
// TEST_NODE_LOGS=1 (with TEST_LOG_LEVEL) shows the nodes' logs.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { freePort } from '../../bench/free-port.js';
import { InfluxStore } from '../../storage/influx.js';
import { api, connect, quietLog, status, testEnv, waitFor } from '../helpers.js';

export interface ClusterHealth {
  status: string;
  spool: { depthMessages: number };
  cluster: { nodeId: string; leader: boolean; partitions: { partition: number; epoch: number; lag: number }[]; fenced: number };
}

export interface NodeProcess {
  name: string;
  httpUrl: string;
  mqttPort: number;
  child: ChildProcess;
  /** started again with the same id, ports and data directory (after a kill) */
  restart(): Promise<void>;
  health(): Promise<ClusterHealth | null>;
  kill(signal: NodeJS.Signals): void;
  /** resolves when the process has exited */
  exited(): Promise<void>;
}

export async function startNode(name: string, shared: Record<string, string>, cleanups: (() => unknown)[]): Promise<NodeProcess> {
  const env = { ...process.env, ...testEnv({ ...shared, CLUSTER_NODE_ID: name, HTTP_PORT: String(await freePort()), MQTT_PORT: String(await freePort()), LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn' }) };
  cleanups.push(() => rmSync(env.DATA_DIR!, { recursive: true, force: true }));
  const httpUrl = `http://127.0.0.1:${env.HTTP_PORT}`;
  const spawnIt = () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'service/main.ts'], { env, stdio: ['ignore', process.env.TEST_NODE_LOGS ? 'inherit' : 'ignore', 'inherit'] });
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
    });
    return child;
  };
  const health = async (): Promise<ClusterHealth | null> => {
    try {
      const r = await fetch(`${httpUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
      return (await r.json()) as ClusterHealth;
    } catch {
      return null;
    }
  };
  const node: NodeProcess = {
    name, httpUrl, mqttPort: Number(env.MQTT_PORT), child: spawnIt(), health,
    async restart() {
      node.child = spawnIt();
      await waitFor(health, (h) => h !== null, 60_000);
    },
    kill(signal) {
      node.child.kill(signal);
    },
    exited() {
      const c = node.child;
      return c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r()));
    },
  };
  await waitFor(health, (h) => h !== null, 60_000);
  return node;
}

/** One maintenance unit, `n` elevators C000…, a gateway GWC bound to all of them and a hotline partner; returns the secrets. */
export async function registerFleet(node: { httpUrl: string }, n: number): Promise<{ gateway: string; codes: string[] }> {
  const ok = async (r: Promise<{ status: number; body: unknown }>) => {
    const res = await r;
    if (res.status >= 300) throw new Error(JSON.stringify(res.body));
    return res.body as { secret?: string };
  };
  await ok(api(node, 'POST', '/api/v1/units', { id: 'MU1', name: '一号电梯维保公司' }));
  const codes = Array.from({ length: n }, (_, i) => `C${String(i).padStart(3, '0')}`);
  for (const code of codes) await ok(api(node, 'POST', '/api/v1/elevators', { code, address: `红旗路${code}号`, district: '大祥区', userUnit: '物业一', maintenanceUnit: 'MU1' }));
  await ok(api(node, 'POST', '/api/v1/gateways', { id: 'GWC', elevators: codes }));
  const { secret } = await ok(api(node, 'POST', '/api/v1/gateways/GWC/secret'));
  return { gateway: secret!, codes };
}

/** Waits until the live nodes hold every partition between them, each node at least one. */
export async function balanced(nodes: NodeProcess[], partitions: number, timeoutMs = 30_000): Promise<ClusterHealth[]> {
  return waitFor(
    async () => Promise.all(nodes.map((n) => n.health())),
    (hs) => hs.every((h) => h?.cluster && h.cluster.partitions.length > 0) && hs.reduce((s, h) => s + h!.cluster.partitions.length, 0) === partitions,
    timeoutMs,
  ) as Promise<ClusterHealth[]>;
}

/**
 * Publishes status messages from `client` while `running()`, up to `window` in
 * flight (and, given `everyMs`, one per `everyMs` at most: a steady load rather
 * than as fast as acknowledged); acked ids are added to `acked`.
 */
export function pump(client: MqttClient, codes: string[], prefix: string, acked: { add(id: string): unknown }, running: () => boolean, t0: number, window = 20, everyMs = 0): Promise<number> {
  let sent = 0;
  let inFlight = 0;
  return new Promise((done) => {
    const go = () => running() && client.connected;
    const finish = () => {
      if (!go() && inFlight === 0) {
        clearInterval(ticker);
        done(sent);
      }
    };
    const send = () => {
      const id = `${prefix}-${sent}`;
      const code = codes[sent % codes.length]!;
      inFlight += 1;
      client.publish(`se/v1/elevator/${code}/status`, JSON.stringify(status(id, t0 + sent)), { qos: 1 }, (err) => {
        inFlight -= 1;
        if (!err) acked.add(id);
        // not from within the callback: a closing client fails publishes synchronously, and that would recurse
        setImmediate(everyMs ? finish : next);
      });
      sent += 1;
    };
    const next = () => {
      while (go() && inFlight < window) send();
      finish();
    };
    const ticker = everyMs ? setInterval(() => (go() && inFlight < window ? send() : finish()), everyMs) : undefined;
    // a connection closed by a killed node: what it had in flight is simply not acknowledged
    client.on('close', () => {
      clearInterval(ticker);
      done(sent);
    });
    if (!everyMs) next();
  });
}

/** What the pumps had acknowledged, and when. */
export class Acks {
  readonly ids = new Set<string>();
  /** the time of each acknowledgement, in order */
  readonly at: number[] = [];
  add(id: string): void {
    this.ids.add(id);
    this.at.push(Date.now());
  }
  get size(): number {
    return this.ids.size;
  }
}

/** One MQTT connection of gateway GWC to each node (client ids `<name>-<i>`), closed by the cleanups. */
export async function gatewayClients(nodes: NodeProcess[], secret: string, name: string, cleanups: (() => unknown)[]): Promise<MqttClient[]> {
  const clients = await Promise.all(nodes.map((n, i) => connect(n.mqttPort, 'GWC', secret, { clientId: `${name}-${i}` })));
  for (const c of clients) c.on('error', () => undefined); // a refused publish or a killed node: the test looks at what was acknowledged
  cleanups.push(() => Promise.all(clients.map((c) => c.endAsync(true))));
  return clients;
}

/** The ids stored in `measurement` of the nodes' InfluxDB database (the env of testEnv()), one per stored point. */
export async function storedIds(env: Record<string, string>, measurement = 'elevator_status'): Promise<string[]> {
  const store = await InfluxStore.connect({ url: env.INFLUX_URL!, database: env.INFLUX_DATABASE!, username: env.INFLUX_USERNAME, password: env.INFLUX_PASSWORD }, quietLog);
  try {
    return (await store.rows(`SELECT id FROM ${measurement}`)).map((r) => r.id as string);
  } finally {
    await store.close();
  }
}

/**
 * The stored ids once every one of `want` is among them, or as they are after
 * `timeoutMs` (the caller's lost = 0 check then names the missing ones).
 */
export async function storedAll(env: Record<string, string>, want: Iterable<string>, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ids = await storedIds(env);
    const have = new Set(ids);
    if ([...want].every((id) => have.has(id)) || Date.now() > deadline) return ids;
    await new Promise((r) => setTimeout(r, 250));
  }
}
