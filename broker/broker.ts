// The embedded MQTT broker (Aedes) on TCP, optionally TLS. Authentication
// against the registry; authorisation by the contract's rights; every
// accepted publish appended to the durable spool *before* Aedes acknowledges
// it (Aedes sends PUBACK before `published`, so this happens in
// authorizePublish). Refusals are logged and counted by reason.
//
// Client ids are scoped to the principal: Aedes keys sessions by
// `<principal>/<client id>`, so connecting with a client id takes over only
// a connection of the same credentials, never another gateway's (README
// "Client ids"). A wire guard in front of Aedes bounds packet sizes.
import type { Aedes, AedesOptions, Client } from 'aedes';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { CHANNELS, MAX_PAYLOAD_BYTES, PARTNER_CHANNELS, parseTopic, type Route } from '../domain/channels.js';
import type { Registry } from '../registry/registry.js';
import type { Metrics } from '../common/metrics.js';
import { SpoolFullError, type IngressLog } from '../storage/spool.js';
import { quietWireDebug } from './quiet-debug.js';
import { SessionSet } from './sessions.js';
import { MqttWireGuard, type WireLimits, type WireRefusal } from './wire-guard.js';

export interface BrokerOptions {
  host: string;
  port: number;
  tls?: { port: number; cert: string; key: string } | undefined;
  /** dev only: accept clients without credentials (they may still publish nowhere) */
  allowAnonymous?: boolean;
  limits: WireLimits;
  registry: Registry;
  spool: IngressLog;
  metrics: Metrics;
  log: Logger;
}

export interface RunningBroker {
  aedes: Aedes;
  port: number;
  tlsPort?: number | undefined;
  close(): Promise<void>;
}

type Reason = 'revoked' | 'bad_credentials' | 'no_credentials' | 'identifier_rejected' | 'topic_not_permitted' | 'subscribe_not_permitted' | 'spool_full' | 'spool_error' | WireRefusal;

/** The session key of a client: its id within its principal's namespace (principal ids never contain `/`). */
const sessionKey = (principal: string | undefined, clientId: string) => `${principal ?? ''}/${clientId}`;

/** Persistent sessions remembered for session present; ~100 bytes each. */
const SESSION_SET_BYTES = 8 * 1024 * 1024;

function refusal(reason: Reason, message: string): Error & { returnCode?: number } {
  return Object.assign(new Error(message), { reason });
}

/** Why `principalId` may not publish to `topic` (a string), or the topic's route when it may. */
export function publishDenied(registry: Registry, principalId: string | undefined, topic: string): string | Route {
  const route = parseTopic(topic);
  if (!route) return `topic ${topic.slice(0, 200)} is not a topic of protocol v1`;
  const p = principalId === undefined ? undefined : registry.principal(principalId);
  if (!p) return `client ${principalId ?? '(anonymous)'} is not a registered gateway or partner`;
  if (p.kind === 'gateway') {
    if (!route.equipment) return `gateway ${p.id} may not publish records (${route.channel})`;
    const allowed = route.equipment.kind === 'elevator' ? p.elevators : p.gasSites;
    return allowed.has(route.equipment.code) ? route : `gateway ${p.id} is not bound to ${route.equipment.kind} ${route.equipment.code}`;
  }
  if (route.equipment) return `partner ${p.id} may publish only records, not equipment topics`;
  return (PARTNER_CHANNELS[p.partnerKind] as readonly string[]).includes(route.channel) ? route : `partner ${p.id} (${p.partnerKind}) may not publish ${route.channel} records`;
}

export async function startBroker(opts: BrokerOptions): Promise<RunningBroker> {
  const { registry, spool, metrics, log } = opts;
  const refuse = (reason: Reason, client: Client | null, message: string) => {
    metrics.refusals.inc({ reason });
    log.warn({ reason, client: client?.id, message }, 'mqtt refusal');
  };
  const sessions = new SessionSet(SESSION_SET_BYTES);
  const emptyClientId = new WeakSet<Client>();
  const counted = Object.fromEntries(CHANNELS.map((c) => [c, metrics.messagesIn.labels({ transport: 'mqtt', channel: c })])) as Record<Route['channel'], { inc(): void }>;
  const options: AedesOptions = {
    concurrency: 1000,
    connectTimeout: 10_000,
    preConnect(client, packet, done) {
      // Aedes replaces an empty id by a generated one before authenticate sees it.
      if (packet.clientId === '') emptyClientId.add(client);
      done(null, true);
    },
    authenticate(client, username, password, done) {
      const fail = (reason: Reason, msg: string, returnCode: 2 | 4) => {
        refuse(reason, client, msg);
        done(Object.assign(new Error(msg), { returnCode }) as never, false);
      };
      const anonymous = username === undefined && password === undefined && opts.allowAnonymous;
      if (!anonymous) {
        if (!username || !password) return fail('no_credentials', 'username (gateway or partner id) and password (its secret) are required', 4);
        if (!registry.verifySecret(username, password)) return fail('bad_credentials', `bad username or password for ${username}`, 4);
      }
      // MQTT-3.1.3-8: a persistent session needs an id to find it again.
      if (emptyClientId.has(client) && !client.clean) return fail('identifier_rejected', 'a zero-length client id requires cleanSession=1', 2);
      const principal = anonymous ? undefined : username;
      (client as Client & { principal?: string }).principal = principal;
      client.id = sessionKey(principal, client.id);
      if (client.clean) sessions.discard(client.id);
      else (client.conn as MqttWireGuard).sessionPresent = sessions.resume(client.id);
      done(null, true);
    },
    authorizePublish(client, packet, callback) {
      const principal = (client as (Client & { principal?: string }) | null)?.principal;
      const route = publishDenied(registry, principal, packet.topic);
      if (typeof route === 'string') {
        refuse('topic_not_permitted', client, route);
        return callback(refusal('topic_not_permitted', route));
      }
      // An oversized payload is kept only as far as its dead letter needs (decode rejects it as payload_too_large).
      const raw = packet.payload as Buffer;
      const payload = raw.length > MAX_PAYLOAD_BYTES ? raw.subarray(0, MAX_PAYLOAD_BYTES + 1) : raw;
      const t0 = packet.qos > 0 ? performance.now() : 0;
      spool.append(
        { qos: packet.qos, topic: packet.topic, sender: principal!, receivedAt: Date.now(), payload, key: route.equipment?.code ?? principal! },
        (err) => {
          if (err) {
            const reason: Reason = err instanceof SpoolFullError ? 'spool_full' : 'spool_error';
            refuse(reason, client, err.message);
            return callback(refusal(reason, err.message));
          }
          counted[route.channel].inc();
          if (t0) metrics.ackLatency.observe((performance.now() - t0) / 1000);
          // Nobody subscribes to gateway traffic through the broker; don't fan it out.
          callback(null);
        },
      );
    },
    authorizeSubscribe(client, sub, callback) {
      // Gateways have no command topics in protocol v1: deny every subscription.
      refuse('subscribe_not_permitted', client, `client ${client.id} may not subscribe to ${sub.topic}`);
      callback(null, null);
    },
  };
  // Loaded here, not at the top: the wire codec's debug must be replaced before the codec loads (quiet-debug.ts).
  quietWireDebug();
  const { Aedes } = await import('aedes');
  const aedes = await Aedes.createBroker(options);
  // A client's message ends in the spool (authorizePublish above); nobody subscribes through this broker (every
  // SUBSCRIBE is refused), so Aedes's routing after the PUBACK (a packet copy, retained store, offline queues,
  // two topic-tree matches) is skipped for clients' publishes: a fifth of the broker's allocations per message,
  // and a gateway's retained message no longer stays in memory. The broker's own ($SYS) publishes go on as before.
  const routePublish = aedes.publish.bind(aedes) as (packet: unknown, client: unknown, done?: (err?: Error) => void) => void;
  (aedes as unknown as { publish: typeof routePublish }).publish = (packet, client, done) => {
    if (client && typeof client === 'object') return done?.();
    routePublish(packet, client, done);
  };
  // A removed principal, or one with a new secret (here or on another node of
  // a cluster), loses its connections; a gateway reconnects with its new secret.
  const offRevoked = registry.onRevoked((id) => {
    // Aedes keeps its connected clients by id in `clients` (not in its typings).
    for (const client of Object.values((aedes as Aedes & { clients: Record<string, Client> }).clients)) {
      if ((client as Client & { principal?: string }).principal !== id) continue;
      refuse('revoked', client, `credentials of ${id} were revoked (removed or a new secret issued): connection closed`);
      client.close();
    }
  });
  aedes.on('client', () => metrics.clients.inc());
  aedes.on('clientDisconnect', () => metrics.clients.dec());
  aedes.on('clientError', (client, err) => log.debug({ client: client.id, err: err.message }, 'mqtt client error'));
  aedes.on('connectionError', (client, err) => log.debug({ client: client?.id, err: err.message }, 'mqtt connection error'));

  const servers: Server[] = [];
  const listen = (server: Server, port: number) =>
    new Promise<number>((res, rej) => {
      server.once('error', rej);
      server.listen(port, opts.host, () => {
        servers.push(server);
        const addr = server.address();
        res(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  const guarded = (socket: Socket) => {
    const from = socket.remoteAddress;
    aedes.handle(new MqttWireGuard(socket, opts.limits, (reason, message) => refuse(reason, null, `${message} (from ${from})`)));
  };
  const port = await listen(createServer(guarded), opts.port);
  let tlsPort: number | undefined;
  if (opts.tls) {
    tlsPort = await listen(createTlsServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, guarded), opts.tls.port);
  }
  log.info({ port, tlsPort }, 'mqtt broker listening');
  return {
    aedes,
    port,
    tlsPort,
    async close() {
      // Stop accepting and close client connections together: server.close
      // alone would wait for every client to leave. Appends already handed to
      // the spool complete; their clients retry unacknowledged QoS 1 on reconnect.
      offRevoked();
      const listening = servers.map((s) => new Promise<void>((r) => s.close(() => r())));
      await new Promise<void>((r) => aedes.close(() => r()));
      await Promise.all(listening);
    },
  };
}
