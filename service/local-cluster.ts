// A whole cluster on one machine, for `npm run cluster` (cluster-cli.ts) and
// `npm run bench:cluster`: a NATS JetStream cluster (storage/nats.ts), one
// PostgreSQL (storage/postgres.ts) and one InfluxDB (storage/influxd.ts),
// all project-local under one DATA_DIR, and service nodes (dist/service/main.js)
// as supervised children (storage/local-server.ts): each with its own data
// directory, HTTP and MQTT port, and log file; each dies with us (parent-death
// signal) and is never left running by a killed launcher (pid file).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { startLocalNatsCluster, type LocalNatsCluster } from '../storage/nats.js';
import { startLocalPostgres, type LocalPostgres } from '../storage/postgres.js';
import { launchLocalInflux, type LocalInflux } from '../storage/influxd.js';
import { superviseServer, type SupervisedServer } from '../storage/local-server.js';
import { serviceProcessEnv } from './node-flags.js';

export interface ClusterInfraOptions {
  dataDir: string;
  /** [client port, route port] of each NATS server */
  natsPorts: [number, number][];
  postgresPort: number;
  influxPort: number;
  log: Logger;
}

export interface ClusterInfra {
  nats: LocalNatsCluster;
  postgres: LocalPostgres;
  influx: LocalInflux;
  /** what every node needs to reach them: NATS_URL, NATS_USER, NATS_PASSWORD, DATABASE_URL, INFLUX_URL, INFLUX_USERNAME, INFLUX_PASSWORD */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts the shared servers and resolves once all of them answer; stops what started when one fails. */
export async function startClusterInfra(o: ClusterInfraOptions): Promise<ClusterInfra> {
  mkdirSync(o.dataDir, { recursive: true });
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async () => void (await Promise.all(started.map((s) => s.stop())));
  // all three at once (each takes seconds to be ready); InfluxDB is waited for below, the others here
  const results = await Promise.allSettled([
    launchLocalInflux({ dataDir: join(o.dataDir, 'influxdb'), port: o.influxPort, log: o.log.child({ part: 'influxd' }) }),
    startLocalPostgres({ dataDir: o.dataDir, port: o.postgresPort, log: o.log.child({ part: 'postgres' }) }),
    startLocalNatsCluster({ dataDir: o.dataDir, ports: o.natsPorts, log: o.log.child({ part: 'nats' }) }),
  ]);
  for (const r of results) if (r.status === 'fulfilled') started.push(r.value);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stopAll();
    throw failed.reason;
  }
  const [influx, postgres, nats] = results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [LocalInflux, LocalPostgres, LocalNatsCluster];
  try {
    await influx.ready(60_000);
  } catch (e) {
    await stopAll();
    throw e;
  }
  return {
    nats, postgres, influx,
    env: {
      NATS_URL: nats.urls.join(','), NATS_USER: nats.user, NATS_PASSWORD: nats.pass, DATABASE_URL: postgres.url,
      INFLUX_URL: influx.url, INFLUX_USERNAME: influx.username, INFLUX_PASSWORD: influx.password,
    },
    // the nodes are stopped first (by the caller): they drain into these
    stop: stopAll,
  };
}

export interface NodeOptions {
  /** its CLUSTER_NODE_ID, and its directory DATA_DIR/<name> */
  name: string;
  dataDir: string;
  httpPort: number;
  mqttPort: number;
  /** the node's environment on top of ours (the infrastructure's env, cluster settings) */
  env: Record<string, string>;
  /** run the demo city on this node (main.js --demo) */
  demo?: boolean;
  /** Node flags, e.g. --max-semi-space-size=12 */
  nodeFlags?: string[];
  /** restart it when it dies (default true) */
  restart?: boolean;
  log: Logger;
}

export interface LocalNode extends SupervisedServer {
  name: string;
  dir: string;
  httpUrl: string;
  mqttPort: number;
  logPath: string;
}

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

/** /healthz answers at all (503 = degraded still counts: the node is up and says why). */
async function answers(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    return r.status === 200 || r.status === 503;
  } catch {
    return false;
  }
}

/** Starts one service node under supervision and returns at once; `ready()` resolves once its /healthz answers. */
export async function launchNode(o: NodeOptions): Promise<LocalNode> {
  const dir = join(o.dataDir, o.name);
  mkdirSync(dir, { recursive: true });
  const httpUrl = `http://127.0.0.1:${o.httpPort}`;
  const logPath = join(dir, 'service.log');
  // POSTGRES_LOCAL would give each node a PostgreSQL of its own: the nodes share the cluster's.
  const { POSTGRES_LOCAL: _own, ...ours } = process.env;
  const server = await superviseServer({
    name: `service node ${o.name}`,
    log: o.log,
    bin: process.execPath,
    // --node=<dir> is not read by main.js: it tells this node's process from a reused pid (the orphan check)
    args: [...(o.nodeFlags ?? []), MAIN, ...(o.demo ? ['--demo'] : []), `--node=${dir}`],
    env: {
      ...ours, ...serviceProcessEnv(ours), MQTT_HOST: '127.0.0.1', ...o.env,
      DATA_DIR: dir, CLUSTER_NODE_ID: o.name, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(o.httpPort), MQTT_PORT: String(o.mqttPort),
    },
    restart: o.restart ?? true,
    pidFile: join(dir, 'node.pid'),
    marker: `--node=${dir}`,
    stopSignal: 'SIGTERM', // drains, then exits
    logPath,
    port: o.httpPort,
    portSetting: `the HTTP port of node ${o.name}`,
    otherPorts: [{ port: o.mqttPort, setting: `the MQTT port of node ${o.name}` }],
    url: httpUrl,
    bootstrap: () => answers(httpUrl),
  });
  return Object.assign(server, { name: o.name, dir, httpUrl, mqttPort: o.mqttPort, logPath });
}
