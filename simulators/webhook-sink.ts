// A stand-in for a DingTalk / WeCom robot or any webhook receiver: records
// what it is sent and answers like a robot ({"errcode":0,"errmsg":"ok"}).
// The demo prints what the "inspectors' group chat" receives; tests use it to
// count deliveries and to make deliveries fail.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
  at: number;
}

export interface WebhookSink {
  url: string;
  /** host:port of the sink, for NOTIFY_ALLOW_HOSTS (webhooks may not reach loopback unless allowed) */
  allow: string;
  /** requests answered with success */
  received: Received[];
  /** every request, failed ones included */
  attempts: Received[];
  /** Decides the answer to each request (default: 200 robot success). */
  respond: (r: Received, n: number) => { status: number; body?: unknown };
  onReceive?: (r: Received) => void;
  close(): Promise<void>;
}

export async function startWebhookSink(port = 0, host = '127.0.0.1'): Promise<WebhookSink> {
  const sink: WebhookSink = {
    url: '',
    allow: '',
    received: [],
    attempts: [],
    respond: () => ({ status: 200, body: { errcode: 0, errmsg: 'ok' } }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        body = { unparsable: Buffer.concat(chunks).toString('utf8') };
      }
      const r: Received = { path: url.pathname, query: url.searchParams, headers: req.headers, body, at: Date.now() };
      const answer = sink.respond(r, sink.attempts.length);
      sink.attempts.push(r);
      if (answer.status >= 200 && answer.status < 300) {
        sink.received.push(r);
        sink.onReceive?.(r);
      }
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body ?? {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  sink.allow = `${host}:${(server.address() as AddressInfo).port}`;
  sink.url = `http://${sink.allow}`;
  return sink;
}
