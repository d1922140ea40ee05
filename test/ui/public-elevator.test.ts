// The public elevator code (一梯一码) in real Chromium at a phone-sized viewport:
// the page renders without sign-in with the elevator's public facts, a
// complaint sent from it becomes a complaint record counted in the unit's
// scorecard, the page leaks nothing that needs sign-in, complaints are
// rate-limited per address and per elevator, an unknown code gets a readable
// 404, and the QR labels encode the page's URL.
import QRCode from 'qrcode';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cstDate, DAY_MS } from '../../domain/time.js';
import { api, registerSmallCity, startTestService, waitFor, type TestService } from '../helpers.js';
import { expectConsoleError, launch, newContext, screenshot } from './browser.js';

let s: TestService;
let browser: Browser;
let secrets: Record<string, string>;
const PHONE = { width: 390, height: 844 };
const BASE = 'https://dt.example.cn/se';
const now = Date.now();
const routineAt = now - 3 * DAY_MS;
/** Things only a signed-in person may see; none may appear on the public page. */
const SECRETS = ['GW1', 'GWG', 'MU1', 'PMU1', 'HOT', 'INST', 'evt-secret-77', 'secret-detail-xyz', '张师傅', 'mnt-secret-1', '值班员王五', '13800138000', 'hooks.example.cn', 'C1-contact'];

const basic = (id: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secrets[id]}`).toString('base64')}`, 'content-type': 'application/json' });
const form = (category: string, ip: string) => ({
  method: 'POST', redirect: 'manual' as const, body: new URLSearchParams({ category }).toString(),
  headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
});
const complaintsOf = async (unit: string) => {
  const r = await api(s, 'GET', `/api/v1/scorecards?from=${cstDate(now - 2 * DAY_MS)}&to=${cstDate(now + 2 * DAY_MS)}`);
  return (r.body.items as { unit: string; complaints: { count: number } }[]).find((i) => i.unit === unit)?.complaints.count ?? 0;
};

beforeAll(async () => {
  browser = await launch();
  s = await startTestService({
    PUBLIC_BASE_URL: BASE, HTTP_TRUST_PROXY: 'true',
    PUBLIC_COMPLAINT_MAX_PER_ADDRESS: '3', PUBLIC_COMPLAINT_MAX_PER_ELEVATOR: '5', PUBLIC_COMPLAINT_WINDOW_S: '3600',
  });
  ({ secrets } = await registerSmallCity(s));
  expect((await api(s, 'POST', '/api/v1/contacts', { id: 'C1-contact', name: '值班员王五', phone: '13800138000', webhook: 'https://hooks.example.cn/x', enabled: false })).status).toBe(201);
  // A routine maintenance (with a technician's name) and an entrapment alert (with evidence) on E1.
  const m = await api(s, 'POST', '/api/v1/ingest/se/v1/records/maintenance', { id: 'mnt-secret-1', ts: routineAt, elevator: 'E1', unit: 'MU1', kind: 'half_monthly', technician: '张师傅' }, basic('PMU1'));
  expect(m.status).toBe(202);
  const ev = await api(s, 'POST', '/api/v1/ingest/se/v1/elevator/E1/event', { id: 'evt-secret-77', ts: now, type: 'entrapment', state: 'raised', floor: 3, detail: 'secret-detail-xyz' }, basic('GW1'));
  expect(ev.status).toBe(202);
  await waitFor(() => api(s, 'GET', '/api/v1/alerts?state=active'), (r) => r.body.items.some((a: { subjectCode?: string; type: string }) => a.type === 'entrapment'));
  await waitFor(() => api(s, 'GET', '/api/v1/equipment/elevators/E1'), (r) => r.body.overdue?.maintenance.lastRoutineAt === routineAt);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await s?.cleanup();
});

describe('the public elevator page (一梯一码)', () => {
  it('renders without sign-in on a phone with the elevator\'s public facts, in Chinese and English', async () => {
    const ctx = await newContext(browser, s.httpUrl, { viewport: PHONE });
    const page = await ctx.newPage();
    const doc = await page.goto('/e/E1');
    expect(doc!.status()).toBe(200);
    expect(doc!.headers()['content-security-policy']).toMatch(/script-src 'self'/); // the dashboard's policy, intact
    await page.getByTestId('public-elevator').waitFor();
    expect(await page.getByTestId('pub-code').textContent()).toBe('E1');
    expect(await page.getByTestId('pub-address').textContent()).toBe('红旗路1号');
    expect(await page.getByTestId('pub-user-unit').textContent()).toBe('物业一');
    expect(await page.getByTestId('pub-maintenance-unit').textContent()).toBe('一号电梯维保公司');
    expect(await page.getByTestId('pub-last-routine').textContent()).toBe(cstDate(routineAt));
    expect(await page.getByTestId('pub-inspection').textContent()).toBe('2027-03-01 在检验有效期内');
    expect(await page.getByTestId('pub-risk').textContent()).toBe('—');
    expect(await page.getByTestId('pub-hotline').getAttribute('href')).toBe('tel:96333');
    // fits the phone's width: nothing to scroll sideways
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    await screenshot(page, 'public-elevator-phone');
    await page.getByTestId('lang-toggle').click();
    await page.waitForURL(/lang=en/);
    expect(await page.getByTestId('pub-inspection').textContent()).toBe('2027-03-01 within validity');
    expect(await page.locator('h1').textContent()).toBe('Elevator information');
    // An elevator without a registered inspection date says so.
    await page.goto('/e/E2');
    expect(await page.getByTestId('pub-inspection').textContent()).toBe('— 未登记');
    expect(await page.getByTestId('pub-last-routine').textContent()).toBe('无记录');
    await ctx.close();
  });

  it('a complaint sent from the page is stored and counts in the maintenance unit\'s scorecard', async () => {
    const before = await complaintsOf('MU1');
    const ctx = await newContext(browser, s.httpUrl, { viewport: PHONE });
    const page = await ctx.newPage();
    await page.goto('/e/E1');
    // Sending without a category is refused with a clear message (the browser's own check is bypassed to reach the server).
    await page.evaluate(() => document.querySelector('select')!.removeAttribute('required'));
    await expectConsoleError(/status of 400/, async () => {
      await page.getByTestId('pub-send').click();
      await expect.poll(() => page.getByTestId('pub-notice').textContent()).toBe('请选择问题类型后再提交。');
    });
    await page.getByTestId('pub-category').selectOption('noise');
    await page.getByTestId('pub-send').click();
    await page.waitForURL(/sent=1/);
    expect(await page.getByTestId('pub-notice').textContent()).toMatch(/已收到您反映的问题/);
    await waitFor(() => complaintsOf('MU1'), (n) => n === before + 1);
    await ctx.close();
  });

  it('the page leaks nothing that needs sign-in', async () => {
    for (const path of ['/e/E1', '/e/E1?lang=en', '/e/E1?sent=1']) {
      const r = await fetch(`${s.httpUrl}${path}`);
      expect(r.status).toBe(200);
      const html = await r.text();
      expect(html).toContain('红旗路1号'); // the right page …
      for (const secret of SECRETS) expect(html, `${path} shows ${secret}`).not.toContain(secret); // … and nothing more
      expect(html).not.toMatch(/<script/i);
    }
    // The rest of the API stays locked.
    expect((await fetch(`${s.httpUrl}/api/v1/equipment/elevators/E1`)).status).toBe(401);
    expect((await fetch(`${s.httpUrl}/api/v1/public-labels/elevators/E1`)).status).toBe(401);
  });

  it('limits complaints per client address and per elevator with a readable 429', async () => {
    const send = (code: string, ip: string, category = 'door_fault') => fetch(`${s.httpUrl}/e/${code}/complaint`, form(category, ip));
    // One address: 3 allowed, the 4th refused (on E2).
    for (let i = 0; i < 3; i++) expect((await send('E2', '10.0.0.1')).status).toBe(303);
    const refused = await send('E2', '10.0.0.1');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.text()).toMatch(/提交过于频繁，请 \d+ 分钟后再试/);
    // One elevator (E3): 5 allowed from 5 addresses, the 6th address refused although it never sent before.
    for (let i = 1; i <= 5; i++) expect((await send('E3', `10.0.1.${i}`)).status).toBe(303);
    const r = await send('E3', '10.0.1.99');
    expect(r.status).toBe(429);
    expect(await r.text()).toMatch(/紧急情况请拨打 96333/);
    // Another address on another elevator is not affected.
    expect((await send('E2', '10.0.2.1')).status).toBe(303);
    // An unknown category is refused; a body over the limit too.
    expect((await send('E1', '10.0.3.1', '<script>')).status).toBe(400);
    const big = await fetch(`${s.httpUrl}/e/E1/complaint`, { ...form('noise', '10.0.3.2'), body: `category=noise&x=${'a'.repeat(4096)}` });
    expect(big.status).toBe(413);
    // Exactly the accepted ones became complaints: 3 + 1 on E2 (MU1), 5 on E3 (MU2).
    await waitFor(() => complaintsOf('MU2'), (n) => n === 5);
  });

  it('an unknown elevator gets a readable 404 page', async () => {
    const ctx = await newContext(browser, s.httpUrl, { viewport: PHONE });
    const page = await ctx.newPage();
    await expectConsoleError(/status of 404/, async () => {
      const doc = await page.goto('/e/NO-SUCH-1');
      expect(doc!.status()).toBe(404);
      await page.getByTestId('public-error').waitFor();
      expect(await page.locator('h1').textContent()).toBe('未找到该电梯');
      expect(await page.getByTestId('public-error').textContent()).toContain('没有注册代码为 NO-SUCH-1 的电梯');
    });
    const en = await fetch(`${s.httpUrl}/e/NO-SUCH-1?lang=en`);
    expect(en.status).toBe(404);
    expect(await en.text()).toContain('No elevator is registered with the code NO-SUCH-1');
    await ctx.close();
  });

  it('prints QR labels, per elevator and per building, encoding the public page\'s URL (staff only)', async () => {
    const svgOf = (url: string) => QRCode.toString(url, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    const one = await fetch(`${s.httpUrl}/api/v1/public-labels/elevators/E1`, { headers: { authorization: 'Bearer test-admin-token' } });
    expect(one.status).toBe(200);
    const html = await one.text();
    expect(html).toContain(await svgOf(`${BASE}/e/E1`));
    expect(html).toContain(`data-url="${BASE}/e/E1"`);
    const building = await fetch(`${s.httpUrl}/api/v1/public-labels/buildings?address=${encodeURIComponent('红旗路1号')}`, { headers: { authorization: 'Bearer test-admin-token' } });
    expect(building.status).toBe(200);
    const sheet = await building.text();
    expect(sheet).toContain(await svgOf(`${BASE}/e/E1`));
    expect(sheet).toContain(await svgOf(`${BASE}/e/E2`));
    expect(sheet).not.toContain(`${BASE}/e/E3`); // another address
    // A viewer may not print labels; an unknown address is a readable 404.
    expect((await api(s, 'POST', '/api/v1/users', { username: 'watcher', password: 'viewer-pass-1', role: 'viewer' })).status).toBe(201);
    const login = await api(s, 'POST', '/api/v1/session', { username: 'watcher', password: 'viewer-pass-1', bearer: true }, { 'content-type': 'application/json' });
    const viewer = await fetch(`${s.httpUrl}/api/v1/public-labels/elevators/E1`, { headers: { authorization: `Bearer ${login.body.token}` } });
    expect(viewer.status).toBe(403);
    // An inspector prints labels of their districts only.
    expect((await api(s, 'POST', '/api/v1/users', { username: 'insp', password: 'insp-pass-1', role: 'inspector', districts: ['双清区'] })).status).toBe(201);
    const insp = (await api(s, 'POST', '/api/v1/session', { username: 'insp', password: 'insp-pass-1', bearer: true }, { 'content-type': 'application/json' })).body.token as string;
    const asInspector = (path: string) => fetch(`${s.httpUrl}${path}`, { headers: { authorization: `Bearer ${insp}` } });
    expect((await asInspector('/api/v1/public-labels/elevators/E3')).status).toBe(200);
    expect((await asInspector('/api/v1/public-labels/elevators/E1')).status).toBe(404);
    expect((await asInspector(`/api/v1/public-labels/buildings?address=${encodeURIComponent('红旗路1号')}`)).status).toBe(404);
    const none = await api(s, 'GET', `/api/v1/public-labels/buildings?address=${encodeURIComponent('无此地址')}`);
    expect(none.status).toBe(404);
    expect(none.body.error).toMatch(/no elevator at the address/);
    // The label page renders in Chromium with the QR code drawn.
    const ctx = await newContext(browser, s.httpUrl);
    await ctx.setExtraHTTPHeaders({ authorization: 'Bearer test-admin-token' });
    const page = await ctx.newPage();
    await page.goto(`/api/v1/public-labels/buildings?address=${encodeURIComponent('红旗路1号')}`);
    expect(await page.getByTestId('qr-label').count()).toBe(2);
    const box = await page.locator('[data-testid=qr-label] svg').first().boundingBox();
    expect(box!.width).toBeGreaterThan(100);
    await screenshot(page, 'public-labels');
    await ctx.close();
  });

  it('the elevator page of the dashboard links to the public page and, for staff, to its labels', async () => {
    expect((await api(s, 'POST', '/api/v1/users', { username: 'chief', password: 'chief-pass-1', role: 'admin' })).status).toBe(201);
    const ctx = await newContext(browser, s.httpUrl);
    const page = await ctx.newPage();
    await page.goto('/');
    await page.getByTestId('login-username').fill('chief');
    await page.getByTestId('login-password').fill('chief-pass-1');
    await page.getByTestId('login-submit').click();
    await page.getByTestId('page-overview').waitFor();
    await page.goto('/#/equipment/elevator/E1');
    const links = page.getByTestId('elevator-public-links');
    await links.waitFor();
    expect(await links.locator('a').first().getAttribute('href')).toBe('/e/E1');
    const [label] = await Promise.all([ctx.waitForEvent('page'), page.getByTestId('elevator-qr-label').click()]);
    await label.getByTestId('qr-label').waitFor(); // signed in by the session cookie
    expect(await label.getByTestId('qr-label').getAttribute('data-url')).toBe(`${BASE}/e/E1`);
    await ctx.close();
  });
});
