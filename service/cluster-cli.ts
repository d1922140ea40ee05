// `npm run cluster`: cluster mode on one machine, project-local under
// DATA_DIR (default ./data-cluster): a three-server NATS JetStream cluster,
// PostgreSQL, InfluxDB and three service nodes on loopback, running the
// demo city across them. Node 1 registers the city and backfills its
// history; the live gateways are spread over the three nodes' MQTT ports.
// Ctrl-C (or SIGTERM) stops the nodes (they drain into the stream), then
// the servers. README.md "Cluster mode" describes it.
//
// Ports (comma-separated, one per node or server): CLUSTER_HTTP_PORTS
// (8081,8082,8083), CLUSTER_MQTT_PORTS (1884,1885,1886), CLUSTER_NATS_PORTS
// (4222,4223,4224), CLUSTER_NATS_ROUTE_PORTS (6222,6223,6224);
// POSTGRES_LOCAL_PORT (5433), INFLUX_LOCAL_PORT (8186), DEMO_WEBHOOK_PORT (8090).
// The nodes also read every other setting of README.md "Configuration"
// (CLUSTER_PARTITIONS, CLUSTER_LEASE_MS, DEMO_*, …) from this environment.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { launchNode, startClusterInfra, type ClusterInfra, type LocalNode } from './local-cluster.js';
import { SERVICE_NODE_FLAGS } from './node-flags.js';

const log = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { service: 'se-monitor-cluster' } });

function ports(name: string, def: number[]): number[] {
  const raw = process.env[name];
  if (!raw) return def;
  const list = raw.split(',').map((p) => Number(p.trim()));
  if (list.length !== def.length || list.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
    throw new Error(`${name}=${raw}: expected ${def.length} ports separated by commas, e.g. ${def.join(',')}`);
  }
  return list;
}

function port(name: string, def: number): number {
  return ports(name, [def])[0]!;
}

/** ADMIN_TOKEN, or one generated into DATA_DIR/admin-token (mode 0600) and shared by the nodes. */
function adminToken(dataDir: string): string {
  if (process.env.ADMIN_TOKEN) return process.env.ADMIN_TOKEN;
  const path = join(dataDir, 'admin-token');
  if (!existsSync(path)) writeFileSync(path, randomBytes(24).toString('base64url'), { mode: 0o600 });
  return readFileSync(path, 'utf8').trim();
}

let stop: (signal: string, code?: number) => Promise<void> = async (_s, code = 0) => process.exit(code);

async function main(): Promise<void> {
  const dataDir = resolve(process.env.DATA_DIR || './data-cluster');
  mkdirSync(dataDir, { recursive: true });
  const http = ports('CLUSTER_HTTP_PORTS', [8081, 8082, 8083]);
  const mqtt = ports('CLUSTER_MQTT_PORTS', [1884, 1885, 1886]);
  const natsClient = ports('CLUSTER_NATS_PORTS', [4222, 4223, 4224]);
  const natsRoute = ports('CLUSTER_NATS_ROUTE_PORTS', [6222, 6223, 6224]);
  const webhookPort = port('DEMO_WEBHOOK_PORT', 8090);
  const token = adminToken(dataDir);

  let infra: ClusterInfra | undefined;
  const nodes: LocalNode[] = [];
  let stopping = false;
  stop = async (signal, code = 0) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping the nodes, then NATS, PostgreSQL and InfluxDB');
    await Promise.all(nodes.map((n) => n.stop()));
    await infra?.stop();
    log.info('cluster stopped');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  log.info({ dataDir }, 'starting NATS (3 servers), PostgreSQL and InfluxDB');
  infra = await startClusterInfra({
    dataDir, natsPorts: natsClient.map((p, i) => [p, natsRoute[i]!] as [number, number]),
    postgresPort: port('POSTGRES_LOCAL_PORT', 5433), influxPort: port('INFLUX_LOCAL_PORT', 8186), log,
  });
  if (stopping) return;
  const env = {
    ...infra.env, NATS_REPLICAS: '3', ADMIN_TOKEN: token, DEMO_WEBHOOK_PORT: String(webhookPort),
    // the demo's stand-in DingTalk robot runs on node 1, and the leader (any node) sends the notifications
    NOTIFY_ALLOW_HOSTS: [process.env.NOTIFY_ALLOW_HOSTS, `127.0.0.1:${webhookPort}`].filter(Boolean).join(','),
  };
  const mqttUrls = mqtt.map((p) => `mqtt://127.0.0.1:${p}`);
  for (const [i, name] of ['node1', 'node2', 'node3'].entries()) {
    const demo = i === 0;
    nodes.push(await launchNode({
      name, dataDir, httpPort: http[i]!, mqttPort: mqtt[i]!, demo, log,
      env: { ...env, ...(demo ? { DEMO_MQTT_URLS: mqttUrls.slice(1).join(',') } : {}) },
      nodeFlags: [...SERVICE_NODE_FLAGS],
    }));
  }
  await Promise.all(nodes.map((n) => n.ready(120_000)));
  if (stopping) return;
  const logins = join(nodes[0]!.dir, 'demo-logins.json');
  console.log(`
se-monitor cluster: 3 nodes, NATS JetStream (3 servers, 3 replicas), PostgreSQL, InfluxDB — data in ${dataDir}
  dashboards:  ${nodes.map((n) => `${n.httpUrl}/`).join('  ')}
  MQTT:        ${mqttUrls.join('  ')}
  admin token: ${token}   (API: Authorization: Bearer …)
  sign-ins:    ${logins} (written by node 1 when the demo starts)
  NATS:        ${infra.nats.urls.join(', ')} (user ${infra.nats.user}, password in ${join(dataDir, 'nats', 'credentials')})
  logs:        ${nodes.map((n) => n.logPath).join('  ')}
  health:      curl ${nodes[0]!.httpUrl}/healthz   (its "cluster" block: partitions held, lag, leader)
Node 1 backfills the demo city's history first, then its gateways run over all three nodes. Ctrl-C stops everything.
`);
}

main().catch((e) => {
  log.fatal({ err: (e as Error).message }, 'the cluster could not start');
  void stop('start failed', 1);
});
