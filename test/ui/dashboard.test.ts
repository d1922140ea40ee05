// The dashboard in real Chromium against the real service (real InfluxDB,
// real MQTT over TCP) with the supervision tests' city (units whose 2025
// interview-list outcome is known, their records) plus live gateways: sign in, watch an entrapment appear
// live, acknowledge it and see a second browser follow, open an elevator's
// chart, check that an inspector of another district cannot see or act on
// it, export the interview list, switch to English. Screenshots of the main
// pages go to test-artifacts/screenshots/.
import { readFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../domain/channels.js';
import { api, connect, publish, startTestService, status, waitFor, type TestService } from '../helpers.js';
import { seedInterviewCity } from '../supervision/city.js';
import { expectConsoleError, launch, newContext, screenshot, signInAs } from './browser.js';

let s: TestService;
let browser: Browser;
let gw: MqttClient;
const PASSWORD: Record<string, string> = { chief: 'chief-password-1', daxiang: 'daxiang-password-1', shuangqing: 'shuangqing-password-1' };
const contexts: BrowserContext[] = [];
/** The elevator the browsers watch: U_LOW's, in 大祥区. */
const E = 'U_LOW-E0';

const signIn = (username: string): Promise<Page> => signInAs(browser, s.httpUrl, username, PASSWORD[username]!, contexts);

/** The session cookie of a signed-in page, for API calls as that person. */
async function sessionHeaders(page: Page): Promise<Record<string, string>> {
  const c = (await page.context().cookies()).find((x) => x.name === 'se_session');
  if (!c) throw new Error('no se_session cookie after signing in');
  return { cookie: `se_session=${c.value}`, 'content-type': 'application/json' };
}

beforeAll(async () => {
  browser = await launch();
  s = await startTestService();
  await seedInterviewCity(s);
  // Live equipment: two elevators of U_LOW (大祥区) on a gateway, a gas site in 双清区.
  expect((await api(s, 'POST', '/api/v1/gas-sites', { code: 'G1', name: '城南液化气站', address: '城南路', district: '双清区', kind: 'filling_station' })).status).toBe(201);
  expect((await api(s, 'POST', '/api/v1/gateways', { id: 'GW1', elevators: [E, 'U_LOW-E1'] })).status).toBe(201);
  expect((await api(s, 'POST', '/api/v1/gateways', { id: 'GWG', gasSites: ['G1'] })).status).toBe(201);
  const secret = async (id: string) => (await api(s, 'POST', `/api/v1/gateways/${id}/secret`)).body.secret as string;
  for (const [username, role, districts] of [['chief', 'admin', undefined], ['daxiang', 'inspector', ['大祥区']], ['shuangqing', 'inspector', ['双清区']]] as const) {
    const r = await api(s, 'POST', '/api/v1/users', { username, password: PASSWORD[username], role, districts, displayName: `${username} 测试` });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
  }
  gw = await connect(s.mqttPort, 'GW1', await secret('GW1'));
  // Two hours of status for E, one a minute, so its charts have points.
  const now = Date.now();
  for (let i = 120; i >= 0; i--) {
    await publish(gw, topics.status(E), status(`${E}-s${i}`, now - i * 60_000, { floor: 1 + (i % 9), runCount: 5000 + (120 - i) * 3, doorCycles: 9000 + (120 - i) * 7 }));
  }
  await publish(gw, topics.status('U_LOW-E1'), status('E1-s0', now));
  const gas = await connect(s.mqttPort, 'GWG', await secret('GWG'));
  for (let i = 60; i >= 0; i--) await publish(gas, topics.reading('G1'), { id: `g-${i}`, ts: now - i * 60_000, detector: 'D1', lel: 2 + (i % 7) * 0.5, gas: 'LPG' });
  await publish(gas, topics.filling('G1'), { id: 'f-1', ts: now - 600_000, cylinder: 'CY-0001', medium: 'LPG', manufactured: '2010-01-01', nextInspectionDue: '2024-01-01', netKg: 14.5 });
  await gas.endAsync();
  await waitFor(() => api(s, 'GET', `/api/v1/equipment/elevators/${E}/series?from=${now - 3 * 3_600_000}&to=${now + 60_000}`), (r) => r.status === 200 && r.body.points.length > 10);
  // The 2025 interview list (the previous calendar year) to export.
  expect((await api(s, 'POST', '/api/v1/interview-lists', { from: '2025-01-01', to: '2026-01-01' })).status).toBe(201);
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
    // the one console error this test provokes: Chromium logs the 401 of the wrong password
    await expectConsoleError(/status of 401.*\/api\/v1\/session\)$/, async () => {
      await page.getByTestId('login-submit').click();
      await expect.poll(() => page.getByTestId('login-error').textContent()).toMatch(/\S/);
    });
    chief = await signIn('chief');
    await expect.poll(() => chief.getByTestId('user-info').textContent()).toContain('chief');
    await expect.poll(() => chief.getByTestId('kpi-elevators').textContent()).toMatch(/2\s*\/\s*\d+/);
    await screenshot(chief, 'overview');
  });

  it('shows a published entrapment in the live feed within 2 s, and a second browser sees the acknowledgement', async () => {
    daxiang = await signIn('daxiang');
    await chief.goto('/#/alerts');
    await daxiang.goto('/#/alerts');
    for (const p of [chief, daxiang]) await expect.poll(() => p.getByTestId('conn-state').getAttribute('data-state'), { timeout: 10_000 }).toBe('open');

    const t0 = Date.now();
    await publish(gw, topics.event(E), { id: 'ui-trap-1', ts: t0, type: 'entrapment', state: 'raised', floor: 4 });
    const row = chief.locator('[data-testid^="alert-row-"]', { hasText: E }).first();
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

  it('the overview stops the clock of an entrapment that ended (cleared by the gateway or resolved by hand): no red after 30 minutes', async () => {
    const E1 = 'U_LOW-E1';
    const t0 = Date.now();
    await publish(gw, topics.event(E1), { id: 'ui-trap-2', ts: t0, type: 'entrapment', state: 'raised', floor: 2 });
    const cleared = (await waitFor(() => api(s, 'GET', `/api/v1/alerts?type=entrapment&subject=${E1}&state=active`), (r) => r.body.items.length === 1)).body.items[0].id as number;
    await publish(gw, topics.event(E1), { id: 'ui-trap-2c', ts: t0 + 1_000, type: 'entrapment', state: 'cleared', floor: 2 });
    await waitFor(() => api(s, 'GET', `/api/v1/alerts/${cleared}`), (r) => r.body.state === 'resolved');
    await publish(gw, topics.event(E1), { id: 'ui-trap-3', ts: t0 + 2_000, type: 'entrapment', state: 'raised', floor: 3 });
    const byHand = (await waitFor(() => api(s, 'GET', `/api/v1/alerts?type=entrapment&subject=${E1}&state=active`), (r) => r.body.items.length === 1)).body.items[0].id as number;
    expect((await api(s, 'POST', `/api/v1/alerts/${byHand}/resolve`, { reason: '现场核实为误报' })).status).toBe(200);

    // The wall screen 31 minutes later (the browser's clock moved, not the test's): the entrapment still
    // active (E, acknowledged, nobody arrived) is overdue; the two that ended are not.
    const page = await chief.context().newPage();
    await page.clock.setFixedTime(t0 + 31 * 60_000);
    await page.goto('/#/overview');
    for (const id of [cleared, byHand, alertId]) await page.getByTestId(`entrapment-${id}`).waitFor();
    for (const id of [cleared, byHand]) {
      const li = page.getByTestId(`entrapment-${id}`);
      expect(await li.getAttribute('class')).not.toMatch(/\blate\b/);
      expect(await li.textContent()).not.toContain('超过 30 分钟未到场');
      expect(await page.getByTestId(`entrapment-timer-${id}`).textContent()).not.toContain('已困');
    }
    expect(await page.getByTestId(`entrapment-timer-${cleared}`).textContent()).toMatch(/已解除 \(00:0[01]\)/);
    const control = page.getByTestId(`entrapment-${alertId}`);
    expect(await control.getAttribute('class')).toMatch(/\blate\b/);
    expect(await control.textContent()).toContain('超过 30 分钟未到场');
    await screenshot(page, 'overview-entrapments');
    await page.close();
  });

  it('alerts: active ones, most severe first; the daily overdue alerts as one line per rule and day; acknowledging a filtered set at once (audited)', async () => {
    // A morning's overdue-inspection run over three elevators whose inspection is long due (大祥区).
    for (let i = 0; i < 3; i++) {
      expect((await api(s, 'POST', '/api/v1/elevators', { code: `OD-${i}`, address: '超期路1号', district: '大祥区', userUnit: '物业', maintenanceUnit: 'U_LOW', nextInspectionDue: '2024-01-01' })).status).toBe(201);
    }
    expect((await api(s, 'POST', '/api/v1/rules/overdue-inspection/run')).status).toBe(200);
    const overdue = (await api(s, 'GET', '/api/v1/alerts?type=inspection_overdue&state=open&district=大祥区')).body;
    expect(overdue.total).toBeGreaterThanOrEqual(3);

    await chief.goto('/#/alerts');
    await chief.getByTestId('alerts-table').waitFor();
    const rows = chief.locator('[data-testid^="alert-row-"]');
    await expect.poll(() => rows.count()).toBeGreaterThan(0);
    // the overdue alerts (newer, minor) neither come first nor appear one by one: critical ones lead
    expect(await rows.first().getAttribute('data-severity')).toBe('critical');
    await chief.getByTestId(`alert-row-${alertId}`).waitFor();
    for (const a of overdue.items) expect(await chief.getByTestId(`alert-row-${a.id}`).count()).toBe(0);
    const severities = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-severity')));
    const rank = { critical: 4, major: 3, minor: 2, warning: 1 } as Record<string, number>;
    expect(severities.map((x) => rank[x!])).toEqual([...severities.map((x) => rank[x!])].sort((a, b) => b! - a!));
    const group = chief.locator('[data-testid^="overdue-group-inspection_overdue-"]');
    await group.first().waitFor();
    expect(await group.count()).toBe(1); // one line for the rule and today's run
    expect(Number(await group.first().getAttribute('data-count'))).toBe(overdue.total);
    await screenshot(chief, 'alerts-grouped');

    // The line leads to the overdue view; "acknowledge all" acknowledges exactly the filtered set.
    await chief.getByTestId('overdue-group-link-inspection_overdue').click();
    await chief.getByTestId(`alert-row-${overdue.items[0].id}`).waitFor();
    await chief.getByTestId('alerts-ack-all').click();
    await expect.poll(async () => Number(await chief.getByTestId('ack-all-count').getAttribute('data-count'))).toBe(overdue.total);
    await chief.getByTestId('ack-all-submit').click();
    await chief.getByTestId('alerts-notice').waitFor();
    for (const a of overdue.items) await expect.poll(() => chief.getByTestId(`alert-state-${a.id}`).getAttribute('data-state')).toBe('acknowledged');
    expect((await api(s, 'GET', '/api/v1/alerts?type=inspection_overdue&state=open')).body.total).toBe(0);
    expect((await api(s, 'GET', `/api/v1/alerts/${alertId}`)).body.state).toBe('acknowledged'); // the entrapment was outside the filter (acknowledged before)
    const audit = (await api(s, 'GET', '/api/v1/audit?action=alert.ack_many')).body.items;
    expect(audit[0]).toMatchObject({ actor: 'chief', details: { filter: { category: 'overdue', type: 'inspection_overdue' }, acknowledged: overdue.total } });
    expect([...audit[0].details.ids].sort()).toEqual(overdue.items.map((a: { id: number }) => a.id).sort());
    await screenshot(chief, 'alerts-overdue-acknowledged');
  });

  it("acknowledging a filtered set never reaches outside the caller's districts", async () => {
    const other = await signIn('shuangqing');
    const t0 = Date.now();
    await publish(gw, topics.event(E), { id: 'ui-door-1', ts: t0, type: 'door_open_fault', state: 'raised', floor: 1 });
    const door = (await waitFor(() => api(s, 'GET', `/api/v1/alerts?type=door_open_fault&subject=${E}&state=open`), (r) => r.body.items.length === 1)).body.items[0].id as number;
    const r = await api(s, 'POST', '/api/v1/alerts/ack', { filter: { type: 'door_open_fault' } }, await sessionHeaders(other));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.acknowledged).toBe(0);
    expect((await api(s, 'GET', `/api/v1/alerts/${door}`)).body.state).toBe('open');
    // upToId: an alert newer than what the caller saw is left alone
    const r2 = await api(s, 'POST', '/api/v1/alerts/ack', { filter: { type: 'door_open_fault' }, upToId: door - 1 }, await sessionHeaders(daxiang));
    expect(r2.body.acknowledged).toBe(0);
    const r3 = await api(s, 'POST', '/api/v1/alerts/ack', { filter: { type: 'door_open_fault' }, upToId: door }, await sessionHeaders(daxiang));
    expect(r3.body).toMatchObject({ acknowledged: 1, ids: [door], remaining: 0 });
    await other.close();
  });

  it("opens an elevator's chart with data points from InfluxDB", async () => {
    await chief.goto(`/#/equipment/elevator/${E}`);
    const chart = chief.getByTestId('chart-floor');
    await chart.waitFor();
    await expect.poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 10_000 }).toBeGreaterThan(10);
    await screenshot(chief, 'elevator');
  });

  it("an elevator's charts span the chosen range, and the open page moves its window and refreshes by itself", async () => {
    const page = await chief.context().newPage();
    const t0 = Date.now();
    await page.clock.install({ time: t0 }); // the browser's timers run on a clock the test moves
    await page.goto(`/#/equipment/elevator/${E}?range=6h`);
    const chart = page.getByTestId('chart-floor');
    await expect.poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 10_000 }).toBeGreaterThan(10);
    // E has two hours of status; "6 小时" shows six hours ending now, not the two hours that have data
    // ECharts draws on animation frames, which run on the installed clock: let it move a little before reading
    const span = async () => {
      await page.clock.runFor(50);
      return { from: Number(await chart.getAttribute('data-x-from')), to: Number(await chart.getAttribute('data-x-to')) };
    };
    await expect.poll(async () => (await span()).to).toBeGreaterThan(0);
    const first = await span();
    expect(first.to).toBeGreaterThanOrEqual(t0);
    expect(first.to - first.from).toBeGreaterThanOrEqual(6 * 3600_000);
    expect(first.to - first.from).toBeLessThan(6 * 3600_000 + 5 * 60_000);
    const points = Number(await chart.getAttribute('data-points'));

    // A new status a minute on (floor 17, never seen before), and the browser's clock two minutes on: the
    // window moves, the new point is drawn and the current state shows floor 17, with no click.
    await publish(gw, topics.status(E), status(`${E}-later`, t0 + 61_000, { floor: 17, runCount: 9000, doorCycles: 20000 }));
    await page.clock.fastForward(120_000);
    await expect.poll(async () => (await span()).to, { timeout: 10_000 }).toBeGreaterThanOrEqual(first.to + 60_000);
    await expect.poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 10_000 }).toBeGreaterThan(points);
    await expect.poll(() => page.getByTestId('elevator-state').textContent(), { timeout: 10_000 }).toContain('17');
    await screenshot(page, 'elevator-6h');
    // the gas site's %LEL chart likewise shows the whole chosen window (G1 has an hour of readings)
    await page.goto('/#/equipment/gas-site/G1?range=24h');
    const lel = page.getByTestId('chart-lel');
    await expect.poll(async () => (await page.clock.runFor(50), Number(await lel.getAttribute('data-x-to')) - Number(await lel.getAttribute('data-x-from'))), { timeout: 10_000 })
      .toBeGreaterThanOrEqual(24 * 3600_000);
    await page.close();
  });

  it('the ingest-health chart shows the last hour from the server on arrival; channels, reasons, rules and schedules in Chinese', async () => {
    await publish(gw, topics.status(E), { id: 'ui-bad-1', ts: 'not a time' }); // one invalid_object dead letter
    await waitFor(() => api(s, 'GET', '/api/v1/dead-letters'), (r) => r.body.items?.some((x: { reason: string }) => x.reason === 'invalid_object'));
    // the service samples every 5 s from its start: once it holds a few points, a first visit shows them all
    const held = (await waitFor(() => api(s, 'GET', '/api/v1/ingest/rates'), (r) => r.body.points?.length >= 3, 30_000)).body.points.length as number;
    const page = await chief.context().newPage();
    await page.clock.install(); // the page's timers stand still: what it shows comes from its first answers
    await page.goto('/#/ingest');
    const chart = page.getByTestId('chart-ingest');
    await chart.waitFor();
    expect(Number(await chart.getAttribute('data-points'))).toBeGreaterThanOrEqual(held);
    const span = async () => {
      await page.clock.runFor(50); // ECharts draws on animation frames
      return Number(await chart.getAttribute('data-x-to')) - Number(await chart.getAttribute('data-x-from'));
    };
    await expect.poll(span).toBe(3600_000);
    await page.getByTestId('dead-reason-invalid_object').waitFor();
    const text = await page.getByTestId('page-ingest').innerText();
    for (const raw of ['overdue-maintenance', 'overdue-inspection', 'unit-rates', '* * *', 'invalid_object', 'status 0', 'status 1', 'mqtt']) expect(text, raw).not.toContain(raw);
    for (const zh of ['维保超期检查', '定期检验超期检查', '维保单位指标检查', '每天 02:00', '每天 02:10', '字段不合规', '状态']) expect(text, zh).toContain(zh);
    await screenshot(page, 'ingest-history');
    await page.close();
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
    for (const unit of ['U_LOW', 'U_REIN', 'U_FALLBACK', 'U_COMPL', 'U_CEXACT', 'U_BOTH']) expect(text).toContain(unit);
    expect(text).not.toContain('U_EXACT');
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

  it('overview: the interview card shows all its units and the last day of the period; the quiet cards carry the latest alerts and gas readings', async () => {
    await chief.goto('/#/overview');
    const list = chief.getByTestId('overview-interview-units');
    await list.waitFor();
    const units = list.locator('li');
    expect(await units.count()).toBe(6);
    // nothing hidden in a scroll box: the list is as tall as its entries, and the sixth is on screen
    expect(await list.evaluate((el) => el.scrollHeight - el.clientHeight)).toBeLessThanOrEqual(1);
    const card = await chief.getByTestId('overview-interview').boundingBox();
    const sixth = await units.nth(5).boundingBox();
    expect(sixth!.y + sixth!.height).toBeLessThanOrEqual(card!.y + card!.height);
    expect(await chief.getByTestId('overview-interview').textContent()).toContain('2025-01-01 — 2025-12-31');
    await chief.getByTestId('overview-recent-alerts').waitFor();
    expect(await chief.getByTestId('overview-recent-alerts').locator('li').count()).toBeGreaterThan(0);
    await chief.getByTestId('overview-gas-site-G1').waitFor();
    expect(await chief.getByTestId('overview-gas-site-G1').textContent()).toMatch(/城南液化气站.*\d+(\.\d+)? %LEL/);
    await screenshot(chief, 'overview-filled');

    await chief.goto('/#/scorecards');
    await expect.poll(() => chief.getByTestId('scorecard-period').textContent()).toBe('2025-01-01 — 2025-12-31');
    expect(await chief.getByTestId('period-to').inputValue()).toBe('2025-12-31');
    // the maintenance history names the unit (U_MAINT is 维保超期测试公司)
    await chief.goto('/#/equipment/elevator/M1');
    await chief.getByTestId('maintenance-m0').waitFor();
    expect(await chief.getByTestId('maintenance-m0').textContent()).toContain('维保超期测试公司');
    expect(await chief.getByTestId('maintenance-m0').textContent()).not.toContain('U_MAINT');
  });

  it('in English, interview reasons and complaint categories are English (from the data, not the server\'s Chinese sentences)', async () => {
    const cjk = /[\u3400-\u9fff\uff08\uff09\uff1b]/;
    await chief.goto('/#/overview');
    await chief.getByTestId('lang-switch').click();
    try {
      await expect.poll(() => chief.getByTestId('nav-alerts').textContent()).toMatch(/Alerts/);
      const both = chief.getByTestId('overview-interview-U_BOTH');
      await both.waitFor();
      const reasons = (await both.locator('div').textContent())!;
      expect(reasons).toMatch(/First periodic inspection pass rate \d+\.\d% \(\d+\/\d+\) below 70\.0%; Complaint rate [\d.]+ per 100 elevators/);
      expect(reasons).not.toMatch(cjk);
      const listId = (await api(s, 'GET', '/api/v1/interview-lists')).body.items[0].id;
      await chief.goto(`/#/interviews?list=${listId}&unit=U_BOTH`);
      await chief.getByTestId('evidence-complaints').waitFor();
      expect(await chief.getByTestId('evidence-reasons').textContent()).not.toMatch(cjk);
      const complaints = (await chief.getByTestId('evidence-complaints').textContent())!;
      expect(complaints).toContain('Entrapment');
      expect(complaints).not.toContain('困人');
      await screenshot(chief, 'interviews-evidence-en');
    } finally {
      await chief.goto('/#/overview');
      if ((await chief.getByTestId('lang-switch').textContent()) === '中文') await chief.getByTestId('lang-switch').click();
    }
  });

  // After the overview's quiet-card test, which needs G1 without an alarm.
  it('badges a gas alarm rising from 25 to 55 %LEL as 级别升高 (severity raised) on the live alert list', async () => {
    await chief.goto('/#/alerts');
    await expect.poll(() => chief.getByTestId('conn-state').getAttribute('data-state'), { timeout: 10_000 }).toBe('open');
    const gas = await connect(s.mqttPort, 'GWG', (await api(s, 'POST', '/api/v1/gateways/GWG/secret')).body.secret);
    await publish(gas, topics.reading('G1'), { id: 'ui-lel-1', ts: Date.now() - 2000, detector: 'D2', lel: 30 });
    // The row of exactly this alert (another row may mention D2); each read gives up after 1 s so the poll retries
    // and reports the last badge instead of waiting forever for one that has faded (badges last 8 s).
    const id = (await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=gas_leak&subject=G1:D2'), (r) => r.body.total === 1)).body.items[0].id as number;
    const row = chief.getByTestId(`alert-row-${id}`);
    const badge = () => row.getByTestId('alert-transition').textContent({ timeout: 1000 }).catch(() => null);
    // Up to 15 s for the frame under a loaded CI machine (a badge, once shown, stays 8 s: the poll sees it).
    await expect.poll(badge, { timeout: 15_000 }).toBe('新');
    await publish(gas, topics.reading('G1'), { id: 'ui-lel-2', ts: Date.now() - 1000, detector: 'D2', lel: 55 });
    await expect.poll(badge, { timeout: 15_000 }).toBe('级别升高');
    expect(await row.getAttribute('data-severity')).toBe('critical');
    await gas.endAsync();
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
      if (name === 'equipment') await expect.poll(() => chief.locator('[data-testid^="elevator-row-"]').count()).toBeGreaterThan(20);
      if (name === 'scorecards') {
        await expect.poll(() => chief.locator('[data-testid^="scorecard-row-"]').count()).toBeGreaterThan(5);
        // the quarterly trend: U_LOW's 2025Q1 pass rate is a point of its sparkline
        await expect.poll(async () => Number(await chief.getByTestId('trend-U_LOW').getAttribute('data-points'))).toBeGreaterThanOrEqual(1);
      }
      await chief.waitForLoadState('networkidle');
      expect(await chief.getByTestId('error-box').count(), `${name} shows an error`).toBe(0);
      await screenshot(chief, name);
      if (name === 'scorecards') {
        await chief.getByTestId('trend-U_LOW').click();
        await expect.poll(async () => Number(await chief.getByTestId('trend-chart').getAttribute('data-points'))).toBeGreaterThanOrEqual(1);
        await screenshot(chief, 'scorecards-trend');
      }
    }
  });
});
