// A project-local NATS server with JetStream (issue 12's log), as for
// InfluxDB and PostgreSQL (influxd.ts, postgres.ts): config and JetStream
// store under DATA_DIR/nats/<name>, listening on 127.0.0.1 only, run as a
// supervised child (local-server.ts: it dies with us, an orphan of a killed
// run is stopped, it is never started twice on one directory or over a held
// port, it is restarted with backoff). Installs Debian's `nats-server` when
// it is missing and we are root on Debian/Ubuntu.
//
// Loopback is not a trust boundary on a shared machine: clients and cluster
// routes sign in as `se_monitor` with a random password only this data
// directory knows (DATA_DIR/nats/credentials, mode 0600, shared by the
// servers of one DATA_DIR so that they can route to each other).
//
// Three of these routed to each other (startLocalNatsCluster) are a RAFT
// JetStream cluster on one machine, for "try it on one machine" and tests.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ensureInstalled, readyOrStopped, sleep, superviseServer, which, type ServerEvent, type SupervisedServer } from './local-server.js';

export interface LocalNatsOptions {
  /** DATA_DIR: this server lives in DATA_DIR/nats/<name> */
  dataDir: string;
  /** server_name: unique in a cluster, and its directory */
  name: string;
  /** client port on 127.0.0.1 */
  port: number;
  /** route port on 127.0.0.1; given, the server joins cluster CLUSTER_NAME */
  clusterPort?: number;
  /** the other servers' route URLs (nats-route://127.0.0.1:<clusterPort>); the credentials are added */
  routes?: string[];
  log: Logger;
  /** Install Debian's nats-server package if it is missing (root on Debian only). */
  autoInstall?: boolean;
  /** Each supervision event (started, exited, restarted, stale_stopped, start_failed), for a metric. */
  onEvent?: (event: ServerEvent) => void;
  /** JetStream limits of this server: memory streams and file streams (bytes) */
  maxMemoryStore?: number;
  maxFileStore?: number;
}

export interface NatsCredentials {
  user: string;
  pass: string;
}

export interface LocalNats extends SupervisedServer, NatsCredentials {
  /** nats://127.0.0.1:<port> (without credentials: nats.js takes them as `user` and `pass`) */
  url: string;
  name: string;
}

const USER = 'se_monitor';
export const CLUSTER_NAME = 'se-monitor';
const HOW = 'Install nats-server 2.9 or newer (Debian/Ubuntu: `apt-get install nats-server`), or set NATS_URL to an existing NATS cluster with JetStream.';
const MAX_MEMORY_STORE = 256 * 2 ** 20;
const MAX_FILE_STORE = 8 * 2 ** 30;
/** one stream message is one group-committed batch of device messages */
const MAX_PAYLOAD = 2 ** 20;
const CONNECT_TIMEOUT_MS = 2000;

/** The credentials of DATA_DIR/nats, `user:password` in a 0600 file; created on first start. */
export function localNatsCredentials(dir: string): NatsCredentials {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'credentials');
  if (!existsSync(path)) writeFileSync(path, `${USER}:${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  const text = readFileSync(path, 'utf8').trim();
  const i = text.indexOf(':');
  if (i <= 0 || !/^[A-Za-z0-9_-]+$/.test(text.slice(i + 1))) throw new Error(`${path} must hold "user:password" (password of letters, digits, _ and -); delete it and a new one is made at the next start`);
  return { user: text.slice(0, i), pass: text.slice(i + 1) };
}

/** The route URL with our credentials in it, as nats-server wants them for an authorized cluster. */
function routeWithCredentials(route: string, cred: NatsCredentials): string {
  const u = new URL(route);
  if (!u.username) [u.username, u.password] = [cred.user, cred.pass];
  return u.toString().replace(/\/$/, '');
}

function config(o: LocalNatsOptions, dir: string, cred: NatsCredentials): string {
  const auth = `authorization {\n    user: "${cred.user}"\n    password: "${cred.pass}"\n  }`;
  const cluster =
    o.clusterPort === undefined
      ? ''
      : `cluster {
  name: "${CLUSTER_NAME}"
  listen: "127.0.0.1:${o.clusterPort}"
  ${auth}
  routes: [
${(o.routes ?? []).map((r) => `    "${routeWithCredentials(r, cred)}"`).join('\n')}
  ]
}
`;
  return `# Written by se-monitor (storage/nats.ts) at each start; changes here are lost.
server_name: "${o.name}"
listen: "127.0.0.1:${o.port}"
max_payload: ${MAX_PAYLOAD}
${auth.replace(/^ {2}/gm, '')}
jetstream {
  store_dir: "${join(dir, 'jetstream')}"
  max_memory_store: ${o.maxMemoryStore ?? MAX_MEMORY_STORE}
  max_file_store: ${o.maxFileStore ?? MAX_FILE_STORE}
}
${cluster}`;
}

/** Opens a connection that gives up at once when the server does not answer (no reconnect). */
export function connectLocal(servers: string | string[], cred: NatsCredentials): Promise<NatsConnection> {
  return connect({ servers, ...cred, name: 'se-monitor-probe', timeout: CONNECT_TIMEOUT_MS, reconnect: false });
}

/** True once the server takes our credentials and its JetStream answers (in a cluster: once it knows a meta leader). */
async function jetStreamAnswers(url: string, cred: NatsCredentials, dir: string): Promise<boolean> {
  let nc: NatsConnection | undefined;
  try {
    nc = await connectLocal(url, cred);
    const jsm = await jetstreamManager(nc, { timeout: CONNECT_TIMEOUT_MS });
    await jsm.getAccountInfo();
    return true;
  } catch (e) {
    if (/authorization/i.test((e as Error).message)) {
      throw new Error(`the NATS server at ${url} refuses the credentials in ${join(dir, 'credentials')}: ${(e as Error).message}`);
    }
    return false; // refused, not up yet, or JetStream without a meta leader yet
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

/**
 * Starts nats-server under supervision and returns at once; `ready()` says
 * when its JetStream answers. Throws only when it cannot be started at all
 * (not installed, another service's server on this directory, a port taken).
 */
export async function launchLocalNats(opts: LocalNatsOptions): Promise<LocalNats> {
  const { log } = opts;
  const bin = ensureInstalled(() => which('nats-server'), { program: 'nats-server (on PATH)', pkg: 'nats-server', how: HOW }, log, opts.autoInstall ?? true);
  const root = join(resolve(opts.dataDir), 'nats');
  const cred = localNatsCredentials(root);
  const dir = join(root, opts.name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const confPath = join(dir, 'nats.conf');
  const url = `nats://127.0.0.1:${opts.port}`;
  const server = await superviseServer({
    name: `nats-server ${opts.name}`,
    log,
    bin,
    args: ['-c', confPath, '-js'],
    pidFile: join(dir, 'nats-server.pid'),
    marker: confPath,
    stopSignal: 'SIGTERM',
    logPath: join(dir, 'nats-server.log'),
    port: opts.port,
    portSetting: `the client port of NATS server ${opts.name}`,
    ...(opts.clusterPort === undefined ? {} : { otherPorts: [{ port: opts.clusterPort, setting: `the cluster port of NATS server ${opts.name}` }] }),
    url,
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
    // the config (with the password) is written once a stale server of this directory is stopped
    prepare: () => writeFileSync(confPath, config(opts, dir, cred), { mode: 0o600 }),
    bootstrap: () => jetStreamAnswers(url, cred, dir),
  });
  return Object.assign(server, { url, name: opts.name, ...cred });
}

/** Starts one NATS server and resolves once its JetStream answers; stops it on failure. */
export async function startLocalNats(opts: LocalNatsOptions): Promise<LocalNats> {
  return readyOrStopped(await launchLocalNats(opts), 30_000);
}

export interface LocalNatsClusterOptions {
  dataDir: string;
  /** [client port, cluster port] of each server; servers n1, n2, … */
  ports: [number, number][];
  log: Logger;
  autoInstall?: boolean;
  onEvent?: (server: string, event: ServerEvent) => void;
}

export interface LocalNatsCluster extends NatsCredentials {
  servers: LocalNats[];
  /** every server's client URL, for a client's `servers` */
  urls: string[];
  /** Resolves once every server answers and a stream with one replica per server can be created. */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** the stream whose creation proves the cluster can place a fully replicated stream */
const PROBE_STREAM = 'SE_MONITOR_READY_PROBE';

/** True once a stream with `replicas` replicas can be created (then deleted again). */
async function replicatedStreamFits(urls: string[], cred: NatsCredentials, replicas: number): Promise<boolean> {
  let nc: NatsConnection | undefined;
  try {
    nc = await connectLocal(urls, cred);
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    await jsm.streams.add({ name: PROBE_STREAM, subjects: ['_se_monitor.ready_probe'], num_replicas: replicas, storage: StorageType.Memory, max_msgs: 1 });
    await jsm.streams.delete(PROBE_STREAM);
    return true;
  } catch {
    return false; // no meta leader yet, or not every peer known yet
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

/**
 * Starts a JetStream cluster of one server per `ports` entry on 127.0.0.1,
 * each routed to all others, and resolves once a stream replicated on every
 * server can be created; stops them all on failure.
 */
export async function startLocalNatsCluster(opts: LocalNatsClusterOptions): Promise<LocalNatsCluster> {
  const servers: LocalNats[] = [];
  const stop = async () => void (await Promise.all(servers.map((s) => s.stop())));
  try {
    for (const [i, [port, clusterPort]] of opts.ports.entries()) {
      const name = `n${i + 1}`;
      const routes = opts.ports.filter((_, j) => j !== i).map(([, p]) => `nats-route://127.0.0.1:${p}`);
      servers.push(
        await launchLocalNats({
          dataDir: opts.dataDir,
          name,
          port,
          clusterPort,
          routes,
          log: opts.log,
          ...(opts.autoInstall === undefined ? {} : { autoInstall: opts.autoInstall }),
          ...(opts.onEvent ? { onEvent: (e: ServerEvent) => opts.onEvent!(name, e) } : {}),
        }),
      );
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const urls = servers.map((s) => s.url);
  const cred = { user: servers[0]!.user, pass: servers[0]!.pass };
  const cluster: LocalNatsCluster = {
    servers,
    urls,
    ...cred,
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      await Promise.all(servers.map((s) => s.ready(timeoutMs)));
      while (!(await replicatedStreamFits(urls, cred, servers.length))) {
        if (Date.now() > deadline) throw new Error(`the NATS cluster at ${urls.join(', ')} cannot place a stream with ${servers.length} replicas within ${timeoutMs} ms; see the nats-server.log files under ${join(resolve(opts.dataDir), 'nats')}`);
        await sleep(200);
      }
    },
    stop,
  };
  try {
    await cluster.ready();
  } catch (e) {
    await stop();
    throw e;
  }
  return cluster;
}
