// The dashboard in real Chromium against the real service (real InfluxDB,
// real MQTT over TCP) with a small city: sign in, watch an entrapment appear
// live, acknowledge it and see a second browser follow, open an elevator's
// chart, check that an inspector of another district cannot see or act on
// it, export the interview list, switch to English. Screenshots of the main
// pages go to test-artifacts/screenshots/.
import { readFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../domain/channels.js';
import { api, connect, publish, registerSmallCity, startTestService, status, waitFor, type TestService } from '../helpers.js';
import { launch, newContext, screenshot } from './browser.js';

let s: TestService;
let browser: Browser;
let gw: MqttClient;
const PASSWORD: Record<string, string> = { chief: 'chief-password-1', daxiang: 'daxiang-password-1', shuangqing: 'shuangqing-password-1' };
const contexts: BrowserContext[] = [];

async function signIn(username: string): Promise<Page> {
  const ctx = await newContext(browser, s.httpUrl);
  contexts.push(ctx);
  const page = await ctx.newPage();
  await page.goto('/');
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(PASSWORD[username]!);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('page-overview').waitFor();
  return page;
}

/** The session cookie of a signed-in page, for API calls as that person. */
async function sessionHeaders(page: Page): Promise<Record<string, string>> {
  const c = (await page.context().cookies()).find((x) => x.name === 'se_session');
  if (!c) throw new Error('no se_session cookie after signing in');
  return { cookie: `se_session=${c.value}`, 'content-type': 'application/json' };
}

beforeAll(async () => {
  browser = await launch();
  s = await startTestService();
  const city = await registerSmallCity(s);
  for (const [username, role, districts] of [['chief', 'admin', undefined], ['daxiang', 'inspector', ['大祥区']], ['shuangqing', 'inspector', ['双清区']]] as const) {
    const r = await api(s, 'POST', '/api/v1/users', { username, password: PASSWORD[username], role, districts, displayName: `${username} 测试` });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }
  gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
  // Two hours of status for E1 (大祥区), one a minute, so its charts have points.
  const now = Date.now();
  for (let i = 120; i >= 0; i--) {
    await publish(gw, topics.status('E1'), status(`E1-s${i}`, now - i * 60_000, { floor: 1 + (i % 9), runCount: 5000 + (120 - i) * 3, doorCycles: 9000 + (120 - i) * 7 }));
  }
  await publish(gw, topics.status('E2'), status('E2-s0', now));
  await waitFor(() => api(s, 'GET', '/api/v1/equipment/elevators/E1/series?from=' + (now - 3 * 3_600_000) + '&to=' + (now + 60_000)), (r) => r.status === 200 && r.body.points.length > 10);
  // An interview list to export (the small city has no records: an empty list is still a list).
  expect((await api(s, 'POST', '/api/v1/interview-lists', {})).status).toBe(201);
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await gw?.endAsync();
  await s?.cleanup();
});

describe('dashboard in Chromium', () => {
  let chief: Page;
  let daxiang: Page;
  let alertId: number;

  it('signs in with a name and password; a wrong password gets a readable error', async () => {
    const ctx = await newContext(browser, s.httpUrl);
    contexts.push(ctx);
    const page = await ctx.newPage();
    await page.goto('/');
    await page.getByTestId('login-username').fill('chief');
    await page.getByTestId('login-password').fill('wrong-password-0');
    await page.getByTestId('login-submit').click();
    await expect.poll(() => page.getByTestId('login-error').textContent()).toMatch(/\S/);
    chief = await signIn('chief');
    await expect.poll(() => chief.getByTestId('user-info').textContent()).toContain('chief');
    await expect.poll(() => chief.getByTestId('kpi-elevators').textContent()).toMatch(/3/);
    await screenshot(chief, 'overview');
  });

  it('shows a published entrapment in the live feed within 2 s, and a second browser sees the acknowledgement', async () => {
    daxiang = await signIn('daxiang');
    await chief.goto('/#/alerts');
    await daxiang.goto('/#/alerts');
    for (const p of [chief, daxiang]) await expect.poll(() => p.getByTestId('conn-state').getAttribute('data-state'), { timeout: 10_000 }).toBe('open');

    const t0 = Date.now();
    await publish(gw, topics.event('E1'), { id: 'ui-trap-1', ts: t0, type: 'entrapment', state: 'raised', floor: 4 });
    const row = chief.locator('[data-testid^="alert-row-"]', { hasText: 'E1' }).first();
    await row.waitFor({ timeout: 2_000 });
    const shownAfter = Date.now() - t0;
    expect(shownAfter).toBeLessThan(2_000);
    alertId = Number((await row.getAttribute('data-testid'))!.replace('alert-row-', ''));
    await daxiang.getByTestId(`alert-row-${alertId}`).waitFor({ timeout: 2_000 });
    await screenshot(chief, 'alerts');

    await chief.getByTestId(`alert-ack-${alertId}`).click();
    await expect.poll(() => daxiang.getByTestId(`alert-state-${alertId}`).getAttribute('data-state'), { timeout: 5_000 }).toBe('acknowledged');
    const a = await api(s, 'GET', `/api/v1/alerts/${alertId}`);
    expect(a.body.ackBy).toBe('chief');
  });

  it("an inspector of another district neither sees the alert nor can act on it (UI and API)", async () => {
    const other = await signIn('shuangqing');
    await other.goto('/#/alerts?state=all');
    await other.getByTestId('alerts-table').waitFor();
    await other.waitForTimeout(500);
    expect(await other.getByTestId(`alert-row-${alertId}`).count()).toBe(0);
    const h = await sessionHeaders(other);
    expect((await api(s, 'GET', `/api/v1/alerts/${alertId}`, undefined, h)).status).toBe(404);
    const ack = await api(s, 'POST', `/api/v1/alerts/${alertId}/resolve`, { reason: '越权处置' }, h);
    expect(ack.status).toBe(404);
    expect(ack.body.error).toMatch(/\S/);
    const list = await api(s, 'GET', '/api/v1/alerts?state=active', undefined, h);
    expect(list.body.items.map((x: { id: number }) => x.id)).not.toContain(alertId);
    // The same alert, resolved by its own district's inspector, still works.
    expect((await api(s, 'POST', `/api/v1/alerts/${alertId}/notes`, { text: '已派维保到场' }, await sessionHeaders(daxiang))).status).toBe(200);
  });

  it("opens an elevator's chart with data points from InfluxDB", async () => {
    await chief.goto('/#/equipment/elevator/E1');
    const chart = chief.getByTestId('chart-floor');
    await chart.waitFor();
    await expect.poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 10_000 }).toBeGreaterThan(10);
    await screenshot(chief, 'elevator');
  });

  it('exports the interview list as CSV with its Chinese header', async () => {
    await chief.goto('/#/interviews');
    const link = chief.getByTestId('list-export-csv');
    await link.waitFor();
    const [download] = await Promise.all([chief.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toMatch(/^约谈名单_.*\.csv$/);
    const text = readFileSync((await download.path())!, 'utf8');
    expect(text.charCodeAt(0)).toBe(0xfeff);
    expect(text).toContain('排名');
    await screenshot(chief, 'interviews');
  });

  it('switches to English and keeps the choice', async () => {
    await chief.goto('/#/overview');
    await chief.getByTestId('lang-switch').click();
    await expect.poll(() => chief.getByTestId('nav-alerts').textContent()).toMatch(/Alerts/);
    await chief.reload();
    await expect.poll(() => chief.getByTestId('nav-alerts').textContent()).toMatch(/Alerts/);
    await chief.getByTestId('lang-switch').click();
    await expect.poll(() => chief.getByTestId('nav-alerts').textContent()).toMatch(/告警/);
  });

  it('renders every main page populated (screenshots kept as artifacts)', async () => {
    for (const [path, testid, name] of [
      ['/#/equipment', 'page-equipment', 'equipment'],
      ['/#/equipment/gas-site/G1', 'page-gas-site', 'gas-site'],
      ['/#/scorecards', 'page-scorecards', 'scorecards'],
      ['/#/ingest', 'page-ingest', 'ingest'],
    ] as const) {
      await chief.goto(path);
      await chief.getByTestId(testid).waitFor();
      if (name === 'equipment') await expect.poll(() => chief.locator('[data-testid^="elevator-row-"]').count()).toBe(3);
      await chief.waitForLoadState('networkidle');
      expect(await chief.getByTestId('error-box').count(), `${name} shows an error`).toBe(0);
      await screenshot(chief, name);
    }
  });
});
