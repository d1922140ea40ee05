// Accounts and access on the real service: the first admin from the CLI,
// sign-in with cookie or bearer session, rate limiting, roles, district
// scoping of alerts (API and live feed), the audit log, session expiry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { api, startTestService, testEnv, userCli, waitFor, type TestService } from '../helpers.js';

let s: TestService;
const env = testEnv({ LOGIN_RATE_MAX: '5', LOGIN_RATE_WINDOW_S: '60' });
const PW = 'correct horse battery';

/** The user CLI on the service's DATA_DIR (password from USER_PASSWORD, or stdin when given). */
const cli = (args: string[], opts: { password?: string; stdin?: string } = {}) =>
  userCli(args, { DATA_DIR: env.DATA_DIR!, USER_PASSWORD: opts.password ?? '', ADMIN_TOKEN: 'test-admin-token' }, opts.stdin);

const json = { 'content-type': 'application/json' };
const bearer = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

async function login(username: string, password: string, extra: Record<string, unknown> = { bearer: true }) {
  const r = await fetch(`${s.httpUrl}/api/v1/session`, { method: 'POST', headers: json, body: JSON.stringify({ username, password, ...extra }) });
  const body = (await r.json()) as { token?: string; user?: { username: string; role: string; districts: string[] }; error?: string };
  return { status: r.status, body, cookie: r.headers.get('set-cookie') };
}

const raise = (subject: string, district: string) =>
  s.alerts.raise({ type: 'door_close_fault', severity: 'major', subjectKind: 'elevator', subject, district, at: Date.now() }).alert;

let adminTok: string;
let inspTok: string;
let viewerTok: string;

beforeAll(async () => {
  s = await startTestService({}, env);
  // The first admin comes from the CLI (password on stdin), the others from the API.
  const first = await cli(['create', '--username', 'chief', '--role', 'admin', '--display-name', '王科长'], { stdin: `${PW}\n` });
  expect(first.code, first.err).toBe(0);
  adminTok = (await login('chief', PW)).body.token!;
  expect(adminTok).toBeTruthy();
  for (const u of [
    { username: 'insp', role: 'inspector', districts: ['北塔区'], password: PW, displayName: '李检查' },
    { username: 'view', role: 'viewer', password: PW },
  ]) expect((await api(s, 'POST', '/api/v1/users', u, bearer(adminTok))).status).toBe(201);
  inspTok = (await login('insp', PW)).body.token!;
  viewerTok = (await login('view', PW)).body.token!;
}, 60_000);
afterAll(async () => {
  await s?.cleanup();
});

describe('first admin and users (CLI)', () => {
  it('creates users from the CLI with the password from the environment, lists and disables them; no default account exists', async () => {
    const noPw = await cli(['create', '--username', 'x1', '--role', 'admin']);
    expect(noPw.code).not.toBe(0);
    expect(noPw.err).toMatch(/password/);
    const short = await cli(['create', '--username', 'x1', '--role', 'admin'], { password: 'short' });
    expect(short.code).not.toBe(0);
    expect(short.err).toMatch(/at least 10/);
    const noDistrict = await cli(['create', '--username', 'x2', '--role', 'inspector'], { password: PW });
    expect(noDistrict.err).toMatch(/district/);
    const ok = await cli(['create', '--username', 'temp', '--role', 'inspector', '--districts', '双清区,大祥区'], { password: PW });
    expect(ok.code, ok.err).toBe(0);
    expect((await login('temp', PW)).status).toBe(200);
    const list = await cli(['list']);
    expect(list.out).toMatch(/temp\tinspector\ttemp\t双清区,大祥区\tactive/);
    expect(list.out).toMatch(/chief\tadmin\t王科长/);
    expect((await cli(['disable', '--username', 'temp'])).code).toBe(0);
    expect((await login('temp', PW)).status).toBe(401);
    expect((await cli(['set-password', '--username', 'temp'], { password: 'another password 2' })).code).toBe(0);
    // the password is stored as a salted scrypt hash, never in clear
    const row = s.db.prepare('SELECT password_hash FROM users WHERE username = ?').get('temp') as { password_hash: string };
    expect(row.password_hash).toMatch(/^scrypt\$16384\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(row.password_hash).not.toContain('another');
  });
});

describe('sessions', () => {
  it('signs in with a cookie (HttpOnly, SameSite=Strict), which then works on the API; signing out ends it', async () => {
    const r = await login('chief', PW, {});
    expect(r.status).toBe(200);
    expect(r.body.user).toEqual({ username: 'chief', displayName: '王科长', role: 'admin', districts: [] });
    expect(r.body.token).toBeUndefined();
    expect(r.cookie).toMatch(/^se_session=[\w-]+;/);
    expect(r.cookie).toMatch(/HttpOnly/i);
    expect(r.cookie).toMatch(/SameSite=Strict/i);
    expect(r.cookie).toMatch(/Path=\//);
    expect(r.cookie).not.toMatch(/Secure/); // plain http here; Secure over https
    const cookie = r.cookie!.split(';')[0]!;
    const me = await api(s, 'GET', '/api/v1/session', undefined, { cookie });
    expect(me).toMatchObject({ status: 200, body: { user: { username: 'chief', role: 'admin', kind: 'user' } } });
    expect((await api(s, 'GET', '/api/v1/alerts', undefined, { cookie })).status).toBe(200);
    const out = await fetch(`${s.httpUrl}/api/v1/session`, { method: 'DELETE', headers: { cookie } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/se_session=;/);
    expect((await api(s, 'GET', '/api/v1/session', undefined, { cookie })).status).toBe(401);
    // the UI's start-up probe says "nobody" without a 401 (browsers log every 401 as a console error)
    expect(await api(s, 'GET', '/api/v1/session/probe', undefined, { cookie })).toMatchObject({ status: 200, body: { user: null } });
  });

  it('takes the session token as a bearer token, and the admin token as an admin principal', async () => {
    expect(await api(s, 'GET', '/api/v1/session', undefined, bearer(inspTok))).toMatchObject({ status: 200, body: { user: { username: 'insp', role: 'inspector', districts: ['北塔区'] } } });
    expect(await api(s, 'GET', '/api/v1/session')).toMatchObject({ status: 200, body: { user: { username: 'admin-token', role: 'admin', kind: 'token' } } });
    expect(await api(s, 'GET', '/api/v1/session/probe', undefined, bearer(inspTok))).toMatchObject({ status: 200, body: { user: { username: 'insp', role: 'inspector' } } });
    const none = await api(s, 'GET', '/api/v1/alerts', undefined, {});
    expect(none.status).toBe(401);
    expect(none.body.error).toMatch(/sign in/);
    expect((await api(s, 'GET', '/api/v1/alerts', undefined, bearer('not-a-token'))).status).toBe(401);
  });

  it('answers a wrong password and an unknown user alike (401), and rate-limits attempts per address and user (429)', async () => {
    const wrong = await login('view', 'wrong password!');
    const unknown = await login('nobody', 'wrong password!');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body.error).toBe(unknown.body.error);
    let last = wrong;
    for (let i = 0; i < 5; i++) last = await login('view', 'wrong password!');
    expect(last.status).toBe(429);
    expect(last.body.error).toMatch(/too many sign-in attempts; try again in \d+ s/);
    // even the right password is refused while limited; another user from the same address is not
    expect((await login('view', PW)).status).toBe(429);
    expect((await login('chief', PW)).status).toBe(200);
  });
});

describe('roles and districts', () => {
  it('an inspector lists, reads and acknowledges alerts of their district only; out of scope is 404', async () => {
    const mine = raise('E-BT-1', '北塔区');
    const other = raise('E-SQ-1', '双清区');
    const list = await api(s, 'GET', '/api/v1/alerts?pageSize=500', undefined, bearer(inspTok));
    expect(list.status).toBe(200);
    const ids = list.body.items.map((a: { id: number }) => a.id);
    expect(ids).toContain(mine.id);
    expect(ids).not.toContain(other.id);
    expect(list.body.items.every((a: { district: string }) => a.district === '北塔区')).toBe(true);
    expect((await api(s, 'GET', '/api/v1/alerts?district=双清区', undefined, bearer(inspTok))).body.total).toBe(0);
    expect((await api(s, 'GET', `/api/v1/alerts/${other.id}`, undefined, bearer(inspTok))).status).toBe(404);
    expect((await api(s, 'GET', `/api/v1/alerts/${mine.id}`, undefined, bearer(inspTok))).status).toBe(200);
    expect((await api(s, 'POST', `/api/v1/alerts/${other.id}/ack`, {}, bearer(inspTok))).status).toBe(404);
    expect(s.alerts.get(other.id)!.state).toBe('open');
    // `by` is the signed-in user, whatever the body says
    const ack = await api(s, 'POST', `/api/v1/alerts/${mine.id}/ack`, { by: 'someone-else' }, bearer(inspTok));
    expect(ack).toMatchObject({ status: 200, body: { state: 'acknowledged', ackBy: 'insp' } });
    const note = await api(s, 'POST', `/api/v1/alerts/${mine.id}/notes`, { text: '已联系维保单位' }, bearer(inspTok));
    expect(note.body.notes.at(-1)).toMatchObject({ by: 'insp', text: '已联系维保单位' });
    // admins see both; the admin token may still name who acts
    const all = (await api(s, 'GET', '/api/v1/alerts?pageSize=500', undefined, bearer(adminTok))).body.items.map((a: { id: number }) => a.id);
    expect(all).toEqual(expect.arrayContaining([mine.id, other.id]));
    expect((await api(s, 'POST', `/api/v1/alerts/${other.id}/ack`, { by: '值班员' })).body.ackBy).toBe('值班员');
    const other2 = raise('E-SQ-2', '双清区');
    expect((await api(s, 'POST', `/api/v1/alerts/${other2.id}/ack`, {})).body.ackBy).toBe('admin-token');
  });

  it('a viewer reads everything but changes nothing (403 with a reason)', async () => {
    const a = raise('E-BT-2', '北塔区');
    expect((await api(s, 'GET', `/api/v1/alerts/${a.id}`, undefined, bearer(viewerTok))).status).toBe(200);
    const ack = await api(s, 'POST', `/api/v1/alerts/${a.id}/ack`, {}, bearer(viewerTok));
    expect(ack.status).toBe(403);
    expect(ack.body.error).toMatch(/a viewer may not do this/);
    expect((await api(s, 'POST', '/api/v1/interview-lists', {}, bearer(viewerTok))).status).toBe(403);
    expect((await api(s, 'POST', '/api/v1/units', { id: 'MUX', name: 'x' }, bearer(viewerTok))).status).toBe(403);
    expect((await api(s, 'GET', '/api/v1/users', undefined, bearer(viewerTok))).status).toBe(403);
    expect((await api(s, 'GET', '/api/v1/audit', undefined, bearer(viewerTok))).status).toBe(403);
    expect(s.alerts.get(a.id)!.state).toBe('open');
  });

  it('registry: reads filtered to an inspector\'s districts, writes for admins only; users and audit for admins only', async () => {
    await api(s, 'POST', '/api/v1/units', { id: 'MU9', name: '九号维保' }, bearer(adminTok));
    for (const [code, district] of [['EB1', '北塔区'], ['ES1', '双清区']]) {
      const r = await api(s, 'POST', '/api/v1/elevators', { code, address: 'x路1号', district, userUnit: '物业', maintenanceUnit: 'MU9' }, bearer(adminTok));
      expect(r.status).toBe(201);
    }
    const seen = (await api(s, 'GET', '/api/v1/elevators', undefined, bearer(inspTok))).body.items.map((e: { code: string }) => e.code);
    expect(seen).toEqual(['EB1']);
    expect((await api(s, 'GET', '/api/v1/elevators/ES1', undefined, bearer(inspTok))).status).toBe(404);
    expect((await api(s, 'GET', '/api/v1/elevators/EB1', undefined, bearer(inspTok))).status).toBe(200);
    expect((await api(s, 'PATCH', '/api/v1/elevators/EB1', { address: 'y路2号' }, bearer(inspTok))).status).toBe(403);
    expect((await api(s, 'GET', '/api/v1/contacts', undefined, bearer(inspTok))).status).toBe(403);
    expect((await api(s, 'GET', '/api/v1/users', undefined, bearer(inspTok))).status).toBe(403);
    expect((await api(s, 'POST', '/api/v1/users', { username: 'evil', role: 'admin', password: PW }, bearer(inspTok))).status).toBe(403);
  });

  it('disabling a user or changing their districts ends their sessions', async () => {
    expect((await api(s, 'POST', '/api/v1/users', { username: 'short', role: 'inspector', districts: ['双清区'], password: PW }, bearer(adminTok))).status).toBe(201);
    const t = (await login('short', PW)).body.token!;
    expect((await api(s, 'GET', '/api/v1/session', undefined, bearer(t))).status).toBe(200);
    const p = await api(s, 'PATCH', '/api/v1/users/short', { districts: ['北塔区'] }, bearer(adminTok));
    expect(p).toMatchObject({ status: 200, body: { districts: ['北塔区'] } });
    expect((await api(s, 'GET', '/api/v1/session', undefined, bearer(t))).status).toBe(401);
    const t2 = (await login('short', PW)).body.token!;
    expect((await api(s, 'PATCH', '/api/v1/users/short', { disabled: true }, bearer(adminTok))).body.disabled).toBe(true);
    expect((await api(s, 'GET', '/api/v1/session', undefined, bearer(t2))).status).toBe(401);
    expect((await login('short', PW)).status).toBe(401);
  });
});

describe('audit log', () => {
  it('records every change with who, what and when, and never a password', async () => {
    const a = raise('E-BT-3', '北塔区');
    await api(s, 'POST', `/api/v1/alerts/${a.id}/ack`, {}, bearer(inspTok));
    await api(s, 'POST', `/api/v1/alerts/${a.id}/resolve`, { reason: '已修复' }, bearer(inspTok));
    await api(s, 'POST', '/api/v1/gateways', { id: 'GWA', elevators: ['EB1'] }, bearer(adminTok));
    await api(s, 'POST', '/api/v1/gateways/GWA/secret', undefined, bearer(adminTok));
    await api(s, 'DELETE', '/api/v1/gateways/GWA', undefined, bearer(adminTok));
    await api(s, 'PUT', '/api/v1/users/temp/password', { password: 'viewer password 2' }, bearer(adminTok));
    await api(s, 'POST', '/api/v1/interview-lists', {}, bearer(inspTok));
    await login('insp', 'wrong password!');

    const log = await api(s, 'GET', '/api/v1/audit?pageSize=500', undefined, bearer(adminTok));
    expect(log.status).toBe(200);
    const items = log.body.items as { actor: string; actorKind: string; action: string; target: string | null; at: number; details: unknown }[];
    const find = (action: string, target?: string) => items.find((e) => e.action === action && (target === undefined || e.target === target));
    expect(find('user.create', 'user:chief')).toMatchObject({ actorKind: 'cli' });
    expect(find('user.create', 'user:insp')).toMatchObject({ actor: 'chief', actorKind: 'user', details: { role: 'inspector', districts: ['北塔区'] } });
    expect(find('session.login', 'user:insp')).toMatchObject({ actor: 'insp', actorKind: 'user' });
    expect(find('session.login_failed', 'user:insp')).toMatchObject({ actorKind: 'anonymous' });
    expect(find('session.logout')).toMatchObject({ actor: 'chief' });
    expect(find('alert.ack', `alert:${a.id}`)).toMatchObject({ actor: 'insp', actorKind: 'user' });
    expect(find('alert.resolve', `alert:${a.id}`)).toMatchObject({ actor: 'insp', details: { reason: '已修复' } });
    expect(find('alert.note')).toMatchObject({ actor: 'insp' });
    expect(find('registry.create', 'gateways:GWA')).toMatchObject({ actor: 'chief' });
    expect(find('registry.secret', 'gateways:GWA')).toMatchObject({ actor: 'chief', details: null });
    expect(find('registry.delete', 'gateways:GWA')).toMatchObject({ actor: 'chief' });
    expect(find('registry.update', 'elevators:EB1')).toBeUndefined(); // the refused PATCH changed nothing
    expect(find('user.password', 'user:temp')).toMatchObject({ actor: 'chief' });
    expect(find('user.update', 'user:short')).toMatchObject({ actor: 'chief', details: { districts: ['北塔区'] } });
    expect(find('user.disable', 'user:short')).toBeTruthy();
    expect(find('interview-list.generate')).toMatchObject({ actor: 'insp' });
    expect(find('alert.ack', `alert:${a.id}`)!.at).toBeGreaterThan(Date.now() - 60_000);
    const text = JSON.stringify(items);
    for (const secret of [PW, 'viewer password 2', 'wrong password!']) expect(text).not.toContain(secret);
    // filters
    const byInsp = await api(s, 'GET', '/api/v1/audit?actor=insp&action=alert.', undefined, bearer(adminTok));
    expect(byInsp.body.items.length).toBeGreaterThanOrEqual(3);
    expect(byInsp.body.items.every((e: { actor: string; action: string }) => e.actor === 'insp' && e.action.startsWith('alert.'))).toBe(true);
    const one = await api(s, 'GET', `/api/v1/audit?target=alert:${a.id}&pageSize=1&page=2`, undefined, bearer(adminTok));
    expect(one.body).toMatchObject({ total: 2, page: 2, pageSize: 1 });
  });

  it('sorts by a whitelisted key, ties by id; anything else is 400', async () => {
    const get = (q: string) => api(s, 'GET', `/api/v1/audit?pageSize=500${q}`, undefined, bearer(adminTok));
    const items = (await get('&sort=actor')).body.items as { id: number; actor: string }[];
    expect(new Set(items.map((e) => e.actor)).size).toBeGreaterThan(1);
    for (let i = 1; i < items.length; i++) {
      const [a, b] = [items[i - 1]!, items[i]!];
      expect(a.actor < b.actor || (a.actor === b.actor && a.id < b.id), `${a.actor}#${a.id} before ${b.actor}#${b.id}`).toBe(true);
    }
    const oldest = (await get('&sort=at')).body.items as { id: number }[];
    const newest = (await get('')).body.items as { id: number }[];
    expect(oldest[0]!.id).toBeLessThan(newest[0]!.id);
    for (const bad of ['details', 'actor_kind', 'id;DROP TABLE audit_log']) expect((await get(`&sort=${encodeURIComponent(bad)}`)).status).toBe(400);
  });
});

describe('live feed', () => {
  interface Frame { type: string; seq: number; alert?: { id: number; district: string } }
  async function feed(query: string, headers: Record<string, string> = {}) {
    const frames: Frame[] = [];
    const ws = new WebSocket(`${s.httpUrl.replace('http', 'ws')}/api/v1/live${query}`, { headers });
    ws.on('message', (d) => frames.push(JSON.parse(String(d)) as Frame));
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.on('message', () => frames.some((f) => f.type === 'ready') && resolve());
    });
    return { ws, frames, alerts: () => frames.filter((f) => f.type === 'alert') };
  }

  it('an inspector gets only alert frames of their districts, live and on resume, and broadcast frames by district', async () => {
    const since = s.alerts.lastSeq;
    const insp = await feed('', { authorization: `Bearer ${inspTok}` });
    const cookie = await feed('', { cookie: `se_session=${adminTok}` });
    const viaQuery = await feed(`?token=${encodeURIComponent(viewerTok)}`);
    const a = raise('E-BT-9', '北塔区');
    const b = raise('E-SQ-9', '双清区');
    const c = raise('E-BT-10', '北塔区');
    await waitFor(async () => cookie.alerts().length, (n) => n === 3);
    await waitFor(async () => viaQuery.alerts().length, (n) => n === 3);
    await waitFor(async () => insp.alerts().length, (n) => n >= 2);
    expect(insp.alerts().map((f) => f.alert!.id)).toEqual([a.id, c.id]);

    // resume: the replay is filtered too, and the cursor moves past what the client may not see
    const resumed = await feed(`?since=${since}`, { authorization: `Bearer ${inspTok}` });
    expect(resumed.alerts().map((f) => f.alert!.id)).toEqual([a.id, c.id]);
    expect(resumed.frames.at(-1)).toEqual({ type: 'ready', seq: s.alerts.lastSeq });
    const d = raise('E-SQ-10', '双清区');
    const e = raise('E-BT-11', '北塔区');
    await waitFor(async () => resumed.alerts().length, (n) => n >= 3);
    expect(resumed.alerts().map((f) => f.alert!.id)).toEqual([a.id, c.id, e.id]);
    expect(resumed.alerts().at(-1)!.seq).toBe(s.alerts.lastSeq);
    void d;

    // broadcast: null = everyone; a district = only clients in scope
    {
      const live = s.app.live;
      live.broadcast({ type: 'kpi', n: 1 }, null);
      live.broadcast({ type: 'case', n: 2 }, '双清区');
      await waitFor(async () => cookie.frames.filter((f) => f.type === 'case').length, (n) => n === 1);
      await waitFor(async () => insp.frames.filter((f) => f.type === 'kpi').length, (n) => n === 1);
      expect(insp.frames.some((f) => f.type === 'case')).toBe(false);
    }
    for (const f of [insp, cookie, viaQuery, resumed]) f.ws.close();
  });

  it('refuses an upgrade without a valid session or token, and a cookie sent by a page of another origin', async () => {
    await expect(feed('', { cookie: `se_session=${adminTok}`, origin: 'https://evil.example' })).rejects.toThrow(/403/);
    const own = await feed('', { cookie: `se_session=${adminTok}`, origin: s.httpUrl });
    own.ws.close();
    await expect(feed('', { authorization: 'Bearer nope' })).rejects.toThrow(/401/);
    await expect(feed('?token=nope')).rejects.toThrow(/401/);
    await expect(feed('', { cookie: 'se_session=nope' })).rejects.toThrow(/401/);
  });
});

describe('what the review found', () => {
  it('keeps webhook credentials (URL query strings) out of the audit log', async () => {
    const r = await api(s, 'POST', '/api/v1/contacts', { id: 'C-AUDIT', name: '值班群', webhook: 'https://oapi.dingtalk.com/robot/send?access_token=SUPERSECRETTOKEN', format: 'dingtalk', secret: 'SECabc' }, bearer(adminTok));
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    const log = await api(s, 'GET', '/api/v1/audit?target=contacts:C-AUDIT', undefined, bearer(adminTok));
    expect(log.body.items.length).toBeGreaterThan(0);
    const text = JSON.stringify(log.body.items);
    expect(text).not.toContain('SUPERSECRETTOKEN');
    expect(text).not.toContain('SECabc');
    expect(text).toContain('oapi.dingtalk.com');
  });

  it('dead letters, gateways and partners are for administrators; ingest health shows inspectors counts, not payloads', async () => {
    await fetch(`${s.httpUrl}/api/v1/ingest/se/v1/records/complaint`, { method: 'POST', headers: { authorization: 'Bearer test-admin-token', 'content-type': 'application/json' }, body: '{not json' });
    for (const path of ['/api/v1/dead-letters', '/api/v1/gateways', '/api/v1/partners']) {
      expect((await api(s, 'GET', path, undefined, bearer(inspTok))).status, path).toBe(403);
      expect((await api(s, 'GET', path, undefined, bearer(adminTok))).status, path).toBe(200);
    }
    const mine = await waitFor(() => api(s, 'GET', '/api/v1/ingest/health', undefined, bearer(adminTok)), (r) => r.body.deadLetters.recent.length > 0);
    const theirs = await api(s, 'GET', '/api/v1/ingest/health', undefined, bearer(inspTok));
    expect(theirs.body.deadLetters.total).toBe(mine.body.deadLetters.total);
    expect(theirs.body.deadLetters.recent).toEqual([]);
    expect(theirs.body.deadLetters.byReason.every((x: { latest: unknown }) => x.latest === null)).toBe(true);
  });

  it('limits guesses at the current password when changing it, and audits the failures', async () => {
    const tok = (await login('insp', PW)).body.token!;
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await api(s, 'PUT', '/api/v1/session/password', { currentPassword: `guess-${i}-xxxxx`, password: 'another password 1' }, bearer(tok))).status);
    expect(statuses.slice(0, 5)).toEqual([403, 403, 403, 403, 403]);
    expect(statuses.at(-1)).toBe(429);
    const log = await api(s, 'GET', '/api/v1/audit?action=user.password_failed&actor=insp', undefined, bearer(adminTok));
    expect(log.body.total).toBe(5);
  });

  it('audits a throttled sign-in once per window, not once per refused attempt', async () => {
    for (let i = 0; i < 12; i++) await login('temp2-nobody', 'wrong password!');
    const log = await api(s, 'GET', '/api/v1/audit?action=session.login_limited', undefined, bearer(adminTok));
    expect(log.body.items.filter((x: { actor: string }) => x.actor === 'temp2-nobody')).toHaveLength(1);
  });
});

describe('session expiry', () => {
  it('ends a session after SESSION_TTL_H without use, and extends one in use', async () => {
    const t = await startTestService({ SESSION_TTL_H: String(1.5 / 3600) }); // 1.5 s
    try {
      const pw = 'expiry password 1';
      await t.accounts.create({ username: 'e', role: 'viewer', password: pw });
      const r = await fetch(`${t.httpUrl}/api/v1/session`, { method: 'POST', headers: json, body: JSON.stringify({ username: 'e', password: pw, bearer: true }) });
      const token = ((await r.json()) as { token: string }).token;
      // used every 0.5 s for 2.5 s: stays alive (sliding)
      for (let i = 0; i < 5; i++) {
        await new Promise((res) => setTimeout(res, 500));
        expect((await api(t, 'GET', '/api/v1/session', undefined, bearer(token))).status).toBe(200);
      }
      await new Promise((res) => setTimeout(res, 1800));
      const gone = await api(t, 'GET', '/api/v1/session', undefined, bearer(token));
      expect(gone.status).toBe(401);
      expect(gone.body.error).toMatch(/sign in/);
    } finally {
      await t.cleanup();
    }
  }, 30_000);
});
