// The live feed: a WebSocket on the HTTP server's port at /api/v1/live.
//
//   ws://host:port/api/v1/live?since=<seq>      Authorization: Bearer <token>
//   (browsers send the se_session cookie on a same-origin upgrade; ?token=<token> works too)
//   The token is a session token or the admin token. Alert frames are filtered
//   to the principal's districts; a client's seq still advances past frames it
//   may not see, so resuming with since=<last seq> works as before.
//
// Server → client, one JSON object per message:
//   {"type":"alert","seq":N,"transition":"raised",...,"alert":{...}}  every alert transition, in seq order
//   {"type":"ready","seq":N}   the replay after `since` is complete; N is the newest seq
//   {"type":"reset","seq":N}   `since` is too far behind to replay: reload state over the API, then go on from N
//   {"type":"kpi"|"equipment"|"case",...}  state pushed through broadcast(frame, district); not replayed
// A client remembers the last seq it handled and reconnects with since=<that
// seq>: it receives every transition it missed, none twice. Without `since`
// the feed starts at the newest transition. A client that reads too slowly
// (more than LIVE_MAX_BUFFER bytes queued) is closed with code 1013; it
// resumes like any reconnect.
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import type { AlertResult, AlertStore } from '../alerts/store.js';
import type { Metrics } from '../common/metrics.js';
import { alertInScope, inScope, type Principal } from '../common/access.js';

export const LIVE_PATH = '/api/v1/live';
const safeHost = (origin: string) => {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
};
const MAX_REPLAY = 10_000;
const MAX_BUFFER = 8 * 1024 * 1024;
const PING_MS = 30_000;

interface Client {
  ws: WebSocket;
  /** last seq sent */
  cursor: number;
  alive: boolean;
  principal: Principal;
  /** the session token, when the client signed in with one: checked on every ping */
  session: string | null;
}

export interface LiveAuth {
  /** The principal named by the upgrade's Bearer header, session cookie or ?token=, or null. */
  upgrade(headers: IncomingHttpHeaders, token: string | null): { principal: Principal; session: string | null } | null;
  /** Whether a session is still live (a client whose session ended is closed with 4401). */
  sessionAlive(token: string): boolean;
}

const frame = (e: AlertResult) => JSON.stringify({ type: 'alert', ...e });

export function attachLive(server: Server, deps: { alerts: AlertStore; log: Logger; metrics?: Metrics; auth: LiveAuth }) {
  const { alerts, log } = deps;
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  const clients = new Set<Client>();

  function refuse(socket: Duplex, status: number, message: string): void {
    socket.end(`HTTP/1.1 ${status} ${({ 401: 'Unauthorized', 403: 'Forbidden' } as Record<number, string>)[status] ?? 'Bad Request'}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n${JSON.stringify({ error: message })}`);
  }

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== LIVE_PATH) return refuse(socket, 400, `no WebSocket at ${url.pathname}; the live feed is ${LIVE_PATH}`);
    // A browser page of another origin must not ride on the user's cookie (programs send no Origin, or their own).
    const origin = req.headers.origin;
    if (origin && req.headers.cookie && safeHost(origin) !== req.headers.host) return refuse(socket, 403, `the live feed does not accept pages from ${origin}; open the dashboard at this server`);
    const who = deps.auth.upgrade(req.headers, url.searchParams.get('token'));
    if (!who) return refuse(socket, 401, 'the live feed needs a signed-in session (cookie se_session), Authorization: Bearer <token> or ?token=<token>');
    const sinceRaw = url.searchParams.get('since');
    const since = sinceRaw === null ? null : Number(sinceRaw);
    if (since !== null && !(Number.isInteger(since) && since >= 0)) return refuse(socket, 400, `since must be the seq of the last transition received (an integer ≥ 0), not ${sinceRaw}`);
    wss.handleUpgrade(req, socket, head, (ws) => open(ws, since, who.principal, who.session));
  });

  const visible = (c: Client, e: AlertResult) => alertInScope(c.principal, e.alert);

  function open(ws: WebSocket, since: number | null, principal: Principal, session: string | null): void {
    // Replay and subscription happen in one synchronous step, so no transition falls in between.
    const newest = alerts.lastSeq;
    const client: Client = { ws, cursor: since ?? newest, alive: true, principal, session };
    if (since !== null && newest - since > MAX_REPLAY) {
      ws.send(JSON.stringify({ type: 'reset', seq: newest }));
      client.cursor = newest;
    } else {
      while (client.cursor < newest) {
        const page = alerts.eventsSince(client.cursor, 1000);
        if (!page.length) break;
        for (const e of page) if (visible(client, e)) ws.send(frame(e));
        client.cursor = page[page.length - 1]!.seq;
      }
    }
    ws.send(JSON.stringify({ type: 'ready', seq: client.cursor }));
    clients.add(client);
    deps.metrics?.liveClients.set(clients.size);
    ws.on('pong', () => (client.alive = true));
    ws.on('message', () => undefined); // the feed is one-way; anything sent is ignored
    ws.on('close', () => {
      clients.delete(client);
      deps.metrics?.liveClients.set(clients.size);
    });
    ws.on('error', (err) => log.debug({ err }, 'live client error'));
  }

  /** Open and keeping up; a client with more than MAX_BUFFER queued is closed (it resumes like any reconnect). */
  function writable(c: Client): boolean {
    if (c.ws.readyState !== WebSocket.OPEN) return false;
    if (c.ws.bufferedAmount <= MAX_BUFFER) return true;
    c.ws.close(1013, `too slow; reconnect with since=${c.cursor}`);
    clients.delete(c);
    return false;
  }

  const off = alerts.onTransition((e) => {
    if (!clients.size) return;
    const text = frame(e);
    for (const c of clients) {
      if (!writable(c)) continue;
      // Transitions arrive in seq order; anything missed in between (none expected) is read back from the log.
      if (e.seq > c.cursor + 1) for (const m of alerts.eventsSince(c.cursor, e.seq - c.cursor - 1)) if (visible(c, m)) c.ws.send(frame(m));
      if (e.seq > c.cursor) {
        if (visible(c, e)) c.ws.send(text);
        c.cursor = e.seq;
      }
    }
  });

  /** Closes at once every client whose session ended (a user disabled or changed, here or on another node). */
  function recheckSessions(): void {
    for (const c of clients) {
      if (c.session !== null && !deps.auth.sessionAlive(c.session)) {
        c.ws.close(4401, 'the session ended: sign in again');
        clients.delete(c);
      }
    }
  }

  const ping = setInterval(() => {
    for (const c of clients) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      if (c.session !== null && !deps.auth.sessionAlive(c.session)) {
        c.ws.close(4401, 'the session ended: sign in again');
        clients.delete(c);
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }, PING_MS);
  ping.unref();

  /**
   * Several frames at once (a kpi tick is one frame per district): each is
   * encoded once, and each client gets the frames it may see in one socket
   * write instead of one write per frame (measured: 10 ms → 2 ms per tick
   * for 8 frames to 200 clients).
   */
  function broadcastMany(frames: { payload: { type: string; [k: string]: unknown }; district: string | null }[]): void {
    if (!clients.size || !frames.length) return;
    const encoded = frames.map((f) => ({ data: Buffer.from(JSON.stringify(f.payload)), district: f.district }));
    for (const c of clients) {
      if (!writable(c)) continue;
      // ws has no public cork(); its socket is `_socket` (ws 8). Without it, frames go out one write each.
      const socket = (c.ws as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
      socket?.cork();
      for (const f of encoded) if (f.district === null || inScope(c.principal, f.district)) c.ws.send(f.data, { binary: false });
      socket?.uncork();
    }
    deps.metrics?.liveClients.set(clients.size);
  }

  return {
    get clients() {
      return clients.size;
    },
    /**
     * Sends a state frame ({type:'kpi'|'equipment'|'case', ...}) to every client
     * that may see `district` (null = everyone). Not logged, not replayed on resume.
     */
    broadcast(payload: { type: string; [k: string]: unknown }, district: string | null): void {
      broadcastMany([{ payload, district }]);
    },
    broadcastMany,
    recheckSessions,
    close(): void {
      off();
      clearInterval(ping);
      for (const c of clients) c.ws.close(1001, 'server shutting down');
      clients.clear();
      wss.close();
    },
  };
}
export type Live = ReturnType<typeof attachLive>;

declare module 'fastify' {
  interface FastifyInstance {
    /** The live channel (dashboard/live.ts), for pushing state frames: app.live.broadcast(frame, district). */
    live: Live;
  }
}
