// HTTP hardening on the real service: roles and credentials are checked
// before a body is read (a viewer cannot make the server read a 60 MiB
// upload), a refused JSON body says what is wrong, and every response
// carries a Content-Security-Policy that forbids framing.
import { connect as tcp } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, registerSmallCity, startTestService, type SmallCity, type TestService } from '../helpers.js';

let s: TestService;
let city: SmallCity;
const tokens: Record<string, string> = {};
const PW = 'correct horse battery';

beforeAll(async () => {
  s = await startTestService();
  city = await registerSmallCity(s);
  for (const [username, role, districts] of [['view', 'viewer', undefined], ['insp', 'inspector', ['大祥区']]] as const) {
    expect((await api(s, 'POST', '/api/v1/users', { username, password: PW, role, districts })).status).toBe(201);
    const r = await api(s, 'POST', '/api/v1/session', { username, password: PW, bearer: true }, { 'content-type': 'application/json' });
    tokens[username] = r.body.token;
  }
});
afterAll(async () => s?.cleanup());

/**
 * Sends the head of a request declaring a body of `declared` bytes, then only
 * the first 64 KiB of it, and waits for an answer. A server that reads the
 * body before checking the caller never answers (it waits for the rest).
 */
function sendHeadOnly(path: string, headers: Record<string, string>, declared: number): Promise<{ status: number; body: string; closed: boolean }> {
  const { hostname, port } = new URL(s.httpUrl);
  return new Promise((resolve, reject) => {
    const sock = tcp({ host: hostname, port: Number(port) });
    let got = '';
    const timer = setTimeout(() => (sock.destroy(), reject(new Error(`no answer while the body was incomplete; got ${JSON.stringify(got.slice(0, 200))}`))), 15_000);
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      resolve({ status: m ? Number(m[1]) : 0, body: got.slice(got.indexOf('\r\n\r\n') + 4), closed });
    };
    sock.on('data', (d) => {
      got += d.toString('utf8');
      // a complete answer: head and its content-length of body
      const head = got.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(got.slice(0, head));
      if (head > 0 && len && Buffer.byteLength(got.slice(head + 4)) >= Number(len[1])) sock.once('close', () => finish(true)), setTimeout(() => finish(false), 2000).unref();
    });
    sock.on('error', reject);
    const head = Object.entries({ host: 'x', 'content-length': String(declared), ...headers }).map(([k, v]) => `${k}: ${v}`).join('\r\n');
    sock.write(`POST ${path} HTTP/1.1\r\n${head}\r\n\r\n`);
    sock.write('code,address,district,userUnit,maintenanceUnit\n' + 'E9,红旗路9号,大祥区,物业,MU1\n'.repeat(2000).slice(0, 64 * 1024));
  });
}

const SIXTY_MIB = 60 * 1024 * 1024;

describe('roles before bodies', () => {
  it('refuses a viewer\'s 60 MiB registry import with 403 before reading it, and closes the connection', async () => {
    const r = await sendHeadOnly('/api/v1/elevators/import', { authorization: `Bearer ${tokens.view}`, 'content-type': 'text/csv' }, SIXTY_MIB);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body).error).toMatch(/a viewer may not do this/);
    expect(r.closed).toBe(true);
  });

  it('refuses before reading the body: an inspector creating a user, a viewer acknowledging, a stranger importing', async () => {
    const json = { 'content-type': 'application/json' };
    expect((await sendHeadOnly('/api/v1/users', { authorization: `Bearer ${tokens.insp}`, ...json }, SIXTY_MIB)).status).toBe(403);
    expect((await sendHeadOnly('/api/v1/alerts/1/ack', { authorization: `Bearer ${tokens.view}`, ...json }, SIXTY_MIB)).status).toBe(403);
    expect((await sendHeadOnly('/api/v1/units/import', { 'content-type': 'text/csv' }, SIXTY_MIB)).status).toBe(401);
  });

  it('refuses the routes the other issue-10 branches added before reading their body: bulk acknowledge, a case from a flag, a rule run', async () => {
    const json = { 'content-type': 'application/json' };
    expect((await sendHeadOnly('/api/v1/alerts/ack', { authorization: `Bearer ${tokens.view}`, ...json }, SIXTY_MIB)).status).toBe(403);
    expect((await sendHeadOnly('/api/v1/alerts/1/interview-case', { authorization: `Bearer ${tokens.view}`, ...json }, SIXTY_MIB)).status).toBe(403);
    expect((await sendHeadOnly('/api/v1/rules/unit-rates/run', { authorization: `Bearer ${tokens.insp}`, ...json }, SIXTY_MIB)).status).toBe(403);
  });

  it('refuses partner ingest with wrong credentials or a topic not theirs before reading the body', async () => {
    const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
    const json = { 'content-type': 'application/json' };
    expect((await sendHeadOnly('/api/v1/ingest/se/v1/records/inspection', { authorization: basic('INST', 'wrong'), ...json }, 1024 * 1024)).status).toBe(401);
    const r = await sendHeadOnly('/api/v1/ingest/se/v1/records/complaint', { authorization: basic('INST', city.secrets.INST!), ...json }, 1024 * 1024);
    expect(r.status).toBe(403);
    // and with the right topic the same partner is heard
    const ok = await fetch(`${s.httpUrl}/api/v1/ingest/se/v1/records/inspection`, {
      method: 'POST', headers: { authorization: basic('INST', city.secrets.INST!), ...json },
      body: JSON.stringify({ id: 'i-1', ts: Date.now(), elevator: 'E1', institution: '特检院', kind: 'periodic', result: 'pass' }),
    });
    expect(ok.status).toBe(202);
  });
});

describe('routes as plugins', () => {
  // Each route module is a fastify plugin registered into its role scope: it inherits the scope's checks
  // (above) and keeps its own hooks and body parsers (the registry's CSV parser) to itself.
  it('registers every route module as its own plugin', () => {
    const tree = s.app.printPlugins();
    for (const name of ['accountRoutes', 'registryRoutes', 'alertRoutes', 'ruleRoutes', 'supervisionRoutes', 'exportRoutes', 'notificationRoutes', 'viewRoutes', 'ingestRoutes', 'staticRoutes']) {
      expect(tree, name).toMatch(new RegExp(`\\b${name}\\b`));
    }
  });

  it('keeps the registry\'s CSV body parser inside the registry plugin', async () => {
    const r = await fetch(`${s.httpUrl}/api/v1/alerts/ack`, { method: 'POST', headers: { authorization: 'Bearer test-admin-token', 'content-type': 'text/csv' }, body: 'a,b\n1,2\n' });
    expect(r.status).toBe(415);
    const ok = await fetch(`${s.httpUrl}/api/v1/units/import`, { method: 'POST', headers: { authorization: 'Bearer test-admin-token', 'content-type': 'text/csv' }, body: 'code,name,kind\n' });
    expect(ok.status).not.toBe(415);
  });
});

describe('JSON bodies', () => {
  const contact = { id: 'c1', name: '测试', webhook: 'https://example.com/hook' };

  it('says that a __proto__ key is the problem (400), not that the JSON is invalid', async () => {
    const r = await api(s, 'POST', '/api/v1/contacts', `{"id":"c1","name":"x","webhook":"https://example.com/hook","__proto__":{"admin":true}}`);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/"__proto__" key/);
    expect(r.body.error).not.toMatch(/not valid JSON/);
    expect((await api(s, 'POST', '/api/v1/contacts', `{"constructor":{"prototype":{"x":1}},"id":"c1"}`)).body.error).toMatch(/prototype/);
  });

  it('names the syntax error of malformed JSON', async () => {
    const r = await api(s, 'POST', '/api/v1/contacts', '{"id": "c1", "name": }');
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/^the body is not valid JSON: .*(position|Unexpected token)/);
    expect((await api(s, 'POST', '/api/v1/contacts', contact)).status).toBe(201); // good JSON still works
  });
});

describe('security headers', () => {
  it('serves the UI and the API with a Content-Security-Policy that forbids framing', async () => {
    for (const path of ['/', '/healthz', '/api/openapi.json']) {
      const r = await fetch(`${s.httpUrl}${path}`, { headers: { accept: 'text/html' } });
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp, path).toMatch(/frame-ancestors 'none'/);
      expect(csp, path).toMatch(/script-src 'self'(;|$)/);
      expect(csp, path).toMatch(/object-src 'none'/);
      expect(csp, path).not.toMatch(/upgrade-insecure-requests/);
      expect(r.headers.get('x-frame-options'), path).toBe('DENY');
      expect(r.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
  });

  it('Swagger UI keeps its own policy (hashes of its inline parts) but may not be framed either', async () => {
    const r = await fetch(`${s.httpUrl}/api/docs/static/index.html`);
    expect(r.status).toBe(200);
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).toMatch(/script-src 'self' /);
    expect(csp).not.toMatch(/upgrade-insecure-requests/);
  });
});
