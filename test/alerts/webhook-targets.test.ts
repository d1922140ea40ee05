// Webhook SSRF: a contact's webhook may only reach public addresses. Saving
// one that names loopback, private, link-local or another non-public address
// (in any spelling) is a 400; at send time every resolved address is checked
// and the connection goes to the checked one; an operator allows an
// intranet relay with NOTIFY_ALLOW_HOSTS. The attack of the audit — a webhook
// at the project's own InfluxDB running CREATE DATABASE — does nothing.
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebhookRefused, WebhookTargets } from '../../alerts/notify/target.js';
import { loadConfig } from '../../service/config.js';
import { startWebhookSink, type WebhookSink } from '../../simulators/webhook-sink.js';
import { api, connect, publish, registerSmallCity, startTestService, testEnv, waitFor, type SmallCity, type TestService } from '../helpers.js';

let sink: WebhookSink;
let s: TestService;
let city: SmallCity;
const influxUrl = inject('influxUrl');
const attackDb = `ssrf_${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  sink = await startWebhookSink();
  const env = testEnv({ NOTIFY_ALLOW_HOSTS: sink.allow, NOTIFY_RETRY_BASE_MS: '50' });
  // A contact saved before this check existed, aimed at the project's InfluxDB, is already in the registry.
  const first = await startTestService({}, env);
  city = await registerSmallCity(first);
  await first.stop();
  const db = new Database(join(env.DATA_DIR!, 'state.db'));
  const evil = { id: 'evil', name: '旧联系人', districts: [], minSeverity: 'major', level: 0, format: 'generic', enabled: true, webhook: `${influxUrl}/query?q=CREATE+DATABASE+${attackDb}` };
  db.prepare('INSERT INTO contacts (key, data, updated_at) VALUES (?, ?, ?)').run('evil', JSON.stringify(evil), Date.now());
  db.close();
  s = await startTestService({}, env);
});
afterAll(async () => {
  await s?.cleanup();
  await sink?.close();
});

const contact = (id: string, webhook: string) => api(s, 'POST', '/api/v1/contacts', { id, name: id, webhook });

describe('saving a webhook', () => {
  const refused = [
    `${influxUrl}/query?q=CREATE+DATABASE+x`,
    'http://127.0.0.1:8186/query', 'http://2130706433:8186/', 'http://0x7f.1/', 'http://017700000001/', 'http://127.1/',
    'http://localhost:8186/', 'http://LOCALHOST./', 'http://db.localhost/',
    'http://[::1]/', 'http://[0:0:0:0:0:0:0:1]/', 'http://[::ffff:127.0.0.1]/', 'http://[::ffff:7f00:1]/', 'http://[::]/', 'http://0.0.0.0/',
    'http://10.0.0.5/', 'http://172.16.5.4/', 'http://192.168.1.1/', 'http://100.64.0.1/', 'http://169.254.169.254/latest/meta-data/',
    'http://[fe80::1]/', 'http://[fc00::1]/', 'http://[64:ff9b::7f00:1]/', 'http://224.0.0.1/', 'http://240.0.0.1/', 'http://255.255.255.255/',
    'http://192.0.2.1/', 'http://[2002:7f00:1::]/', 'https://0xa000001/',
  ];

  it('refuses every non-public target, in every spelling, with a 400 that says why and how to allow a relay', async () => {
    const answers = await Promise.all(refused.map(async (url, i) => ({ url, r: await contact(`bad-${i}`, url) })));
    for (const { url, r } of answers) {
      expect(r.status, url).toBe(400);
      expect(r.body.error, url).toMatch(/^webhook: .* points at .*, not a public address \(.+\): .*NOTIFY_ALLOW_HOSTS/);
    }
    expect((await contact('lo', 'http://2130706433:8186/')).body.error).toMatch(/points at 127\.0\.0\.1, not a public address \(loopback\)/);
    expect((await api(s, 'GET', '/api/v1/contacts')).body.items.map((c: { id: string }) => c.id).sort()).toEqual(['evil']);
  });

  it('refuses them on replace, change and import too', async () => {
    expect((await contact('pub', 'https://oapi.dingtalk.com/robot/send?access_token=x')).status).toBe(201);
    expect((await api(s, 'PATCH', '/api/v1/contacts/pub', { webhook: 'http://10.1.1.1/hook' })).status).toBe(400);
    expect((await api(s, 'PUT', '/api/v1/contacts/pub', { name: 'pub', webhook: 'http://[::1]:8186/' })).status).toBe(400);
    const csv = 'id,name,webhook\nimp1,一,https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k\nimp2,二,http://192.168.0.10/relay\n';
    const r = await api(s, 'POST', '/api/v1/contacts/import', csv, { authorization: 'Bearer test-admin-token', 'content-type': 'text/csv' });
    expect(r.body).toMatchObject({ total: 2, imported: 1, failed: 1 });
    expect(r.body.errors[0].error).toMatch(/192\.168\.0\.10, not a public address \(private\)/);
  });

  it('accepts public addresses and names, and the allowed host only on its allowed port', async () => {
    expect((await contact('ip', 'http://8.8.8.8/hook')).status).toBe(201);
    expect((await contact('v6', 'https://[2606:4700::1111]/hook')).status).toBe(201);
    expect((await contact('sink', `${sink.url}/ok`)).status).toBe(201); // NOTIFY_ALLOW_HOSTS=127.0.0.1:<sink port>
    const sinkPort = Number(sink.allow.split(':')[1]);
    expect((await contact('sink2', `http://127.0.0.1:${sinkPort === 1 ? 2 : sinkPort - 1}/`)).status).toBe(400);
    for (const id of ['pub', 'imp1', 'ip', 'v6']) expect((await api(s, 'DELETE', `/api/v1/contacts/${id}`)).status).toBe(204);
  });
});

describe('sending', () => {
  it('refuses to send to a contact saved earlier with a loopback webhook: InfluxDB runs nothing, the send fails at once and is counted', async () => {
    const gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
    await publish(gw, 'se/v1/elevator/E1/event', { id: 'ssrf-trap', ts: Date.now() - 100, type: 'entrapment', state: 'raised', floor: 3 });
    await gw.endAsync();
    const evil = await waitFor(() => api(s, 'GET', '/api/v1/notifications?contact=evil'), (r) => r.body.items.some((n: { status: string }) => n.status === 'failed'));
    expect(evil.body.items[0]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(evil.body.items[0].lastError).toMatch(/points at 127\.0\.0\.1, not a public address \(loopback\)/);
    await waitFor(async () => sink.received.filter((r) => r.path === '/ok').length, (n) => n === 1); // the allowed relay still hears it
    const databases = (await s.store.rows('SHOW DATABASES')).map((r) => Object.values(r)[0]);
    expect(databases.length).toBeGreaterThan(0);
    expect(databases).not.toContain(attackDb);
    const metrics = await (await fetch(`${s.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/se_webhook_refusals_total\{reason="loopback"\} 1\b/);
  });

  describe('after DNS resolution (a real HTTP server on loopback, names answered by a stand-in resolver)', () => {
    let server: Server;
    let port: number;
    let hits = 0;
    beforeAll(async () => {
      server = createServer((_req, res) => (hits++, res.end('{"errcode":0}')));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));
    const send = (t: WebhookTargets, url: string) => t.post(url, { headers: { 'content-type': 'application/json' }, body: '{}', timeoutMs: 500 });

    it('refuses a name that resolves to a non-public address, and one with any non-public address among its answers', async () => {
      const t = new WebhookTargets([], async (h) => (h === 'inside.example' ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '1.2.3.4', family: 4 }, { address: '10.0.0.7', family: 4 }]));
      await expect(send(t, `http://inside.example:${port}/`)).rejects.toThrow(/inside\.example:\d+ points at 127\.0\.0\.1, not a public address \(loopback\)/);
      const mixed = await send(t, `http://mixed.example:${port}/`).catch((e: unknown) => e);
      expect(mixed).toBeInstanceOf(WebhookRefused);
      expect((mixed as WebhookRefused).reason).toBe('private');
      expect(hits).toBe(0);
    });

    it('connects to the address it checked: a name that rebinds to loopback between lookups never reaches it', async () => {
      // a rebinding DNS server: a public answer (a dummy address; the attempt there times out or is unreachable), then loopback, alternately
      let calls = 0;
      const t = new WebhookTargets([], async () => [calls++ % 2 === 0 ? { address: '1.2.3.4', family: 4 } : { address: '127.0.0.1', family: 4 }]);
      for (let i = 0; i < 4; i++) await send(t, `http://rebind.example:${port}/`).catch(() => undefined);
      expect(calls).toBe(4); // one lookup per send, used for the connection itself
      expect(hits).toBe(0);
    });

    it('sends to a host the operator allowed (system resolver, no address check), on the allowed port only', async () => {
      const t = new WebhookTargets([{ host: 'localhost', port: String(port) }], async () => [{ address: '10.9.9.9', family: 4 }]);
      expect(await send(t, `http://localhost:${port}/`)).toMatchObject({ status: 200 });
      expect(hits).toBe(1);
      await expect(send(t, `http://localhost:${port === 65535 ? 1 : port + 1}/`)).rejects.toThrow(/NOTIFY_ALLOW_HOSTS/);
    });

    it('gives up on a target that does not answer, or answers only part, after the timeout', async () => {
      const silent = createServer((req, res) => (req.url === '/part' ? res.writeHead(200).write('{') : undefined));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      const t = new WebhookTargets([{ host: '127.0.0.1' }]);
      try {
        for (const path of ['/none', '/part']) {
          const err = (await send(t, `http://127.0.0.1:${(silent.address() as AddressInfo).port}${path}`).catch((e: unknown) => e)) as Error & { cause?: Error };
          expect(err.cause?.name, path).toBe('TimeoutError');
        }
      } finally {
        silent.closeAllConnections();
        silent.close();
      }
    });
  });
});

describe('NOTIFY_ALLOW_HOSTS', () => {
  it('names hosts, optionally with one port; IP literals in any spelling; a bad entry stops the start naming it', () => {
    const t = new WebhookTargets(loadConfig({ NOTIFY_ALLOW_HOSTS: '127.0.0.1:80, [::1]:8090, 0xa000001' }).NOTIFY_ALLOW_HOSTS);
    const verdict = (u: string) => t.refusal(u)?.reason ?? 'allowed';
    expect(['http://127.0.0.1/', 'http://2130706433:80/', 'http://[::1]:8090/', 'http://10.0.0.1:9999/'].map(verdict)).toEqual(['allowed', 'allowed', 'allowed', 'allowed']);
    expect(['http://127.0.0.1:8186/', 'https://127.0.0.1/', 'http://[::1]/', 'http://10.0.0.2/'].map(verdict)).toEqual(['loopback', 'loopback', 'loopback', 'private']);
    expect(() => loadConfig({ NOTIFY_ALLOW_HOSTS: 'relay.corp,::1' })).toThrow(/NOTIFY_ALLOW_HOSTS=.*::1: expected host or host:port \(IPv6 in brackets\)/);
  });
});
