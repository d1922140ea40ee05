// The dashboard and Swagger UI under their Content-Security-Policy, in real
// Chromium: every page works with no CSP violation in the console (charts
// and their tooltips included), and a page of another origin cannot frame
// the dashboard.
import type { Browser, ConsoleMessage, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../domain/channels.js';
import { admin, api, connect, publish, registerSmallCity, startTestService, status, waitFor, type TestService } from '../helpers.js';
import { launch, newContext } from './browser.js';

let s: TestService;
let browser: Browser;
let secrets: Record<string, string>;
const PW = 'csp-password-1';

/** Console errors and CSP violation reports of a page. */
function watch(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error' && !/status of 401/.test(m.text())) seen.push(m.text());
  });
  page.on('pageerror', (e) => seen.push(`uncaught: ${e.message}`));
  return seen;
}

const violations = (seen: string[]) => seen.filter((t) => /Content Security Policy|Refused to/i.test(t));

beforeAll(async () => {
  browser = await launch();
  s = await startTestService();
  const city = await registerSmallCity(s);
  secrets = city.secrets;
  expect((await api(s, 'POST', '/api/v1/users', { username: 'chief', password: PW, role: 'admin' })).status).toBe(201);
  const gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
  const now = Date.now();
  for (let i = 60; i >= 0; i--) await publish(gw, topics.status('E1'), status(`csp-${i}`, now - i * 60_000, { floor: 1 + (i % 5) }));
  await gw.endAsync();
  await waitFor(() => api(s, 'GET', `/api/v1/equipment/elevators/E1/series?from=${now - 3_600_000}&to=${now + 60_000}`), (r) => r.status === 200 && r.body.points.length > 10);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await s?.cleanup();
});

describe('Content-Security-Policy in Chromium', () => {
  it('every dashboard page works under the policy with no violation, chart tooltips included', async () => {
    const ctx = await newContext(browser, s.httpUrl);
    const page = await ctx.newPage();
    const seen = watch(page);
    const doc = await page.goto('/');
    expect(doc!.headers()['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    await page.getByTestId('login-username').fill('chief');
    await page.getByTestId('login-password').fill(PW);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('page-overview').waitFor();
    await expect.poll(() => page.getByTestId('conn-state').getAttribute('data-state'), { timeout: 10_000 }).toBe('open'); // the WebSocket (connect-src)
    for (const [path, testid] of [['/#/alerts', 'alerts-table'], ['/#/equipment', 'page-equipment'], ['/#/scorecards', 'page-scorecards'], ['/#/interviews', 'page-interviews'], ['/#/ingest', 'page-ingest'], ['/#/equipment/gas-site/G1', 'page-gas-site'], ['/#/overview', 'page-overview']] as const) {
      await page.goto(path);
      await page.getByTestId(testid).waitFor();
      await page.waitForLoadState('networkidle');
    }
    await page.goto('/#/equipment/elevator/E1');
    const chart = page.getByTestId('chart-floor');
    await chart.waitFor();
    await expect.poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 10_000 }).toBeGreaterThan(10);
    // echarts' tooltip is HTML with style attributes: hover to make it render
    const box = (await chart.boundingBox())!;
    const tooltipShown = () => page.evaluate(() => [...document.querySelectorAll('div')].some((d) => d.style.zIndex === '9999999' && d.style.display !== 'none' && d.innerHTML.includes('<')));
    let step = 0;
    await expect.poll(async () => {
      await page.mouse.move(box.x + box.width * (0.3 + 0.1 * (step++ % 5)), box.y + box.height / 2, { steps: 3 });
      return tooltipShown();
    }, { timeout: 20_000 }).toBe(true);
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(r))); // console messages of the render arrive
    expect(violations(seen)).toEqual([]);
    expect(seen).toEqual([]);
    await ctx.close();
  });

  it('Swagger UI renders the API under its policy with no violation', async () => {
    const ctx = await newContext(browser, s.httpUrl);
    const page = await ctx.newPage();
    const seen = watch(page);
    await page.goto('/api/docs');
    await page.locator('.swagger-ui .info .title').waitFor({ timeout: 15_000 });
    await expect.poll(() => page.locator('.opblock').count()).toBeGreaterThan(10);
    expect(violations(seen)).toEqual([]);
    await ctx.close();
  });

  it('the printable interview notice prints from its button under the policy', async () => {
    // one complaint over MU1's two elevators in 2025 (50 per 100) lists MU1
    const hot = `Basic ${Buffer.from(`HOT:${secrets.HOT}`).toString('base64')}`;
    const sent = await fetch(`${s.httpUrl}/api/v1/ingest/se/v1/records/complaint`, {
      method: 'POST', headers: { authorization: hot, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'csp-c1', ts: Date.parse('2025-06-01T02:00:00Z'), source: '96333', category: '困人', elevator: 'E1' }),
    });
    expect(sent.status).toBe(202);
    const list = await waitFor(() => api(s, 'POST', '/api/v1/interview-lists', { from: '2025-01-01', to: '2026-01-01' }), (r) => r.body.units?.some((u: { unit: string }) => u.unit === 'MU1'));
    const listId = list.body.id as number;
    const ctx = await newContext(browser, s.httpUrl);
    await ctx.setExtraHTTPHeaders({ authorization: admin.authorization });
    const page = await ctx.newPage();
    const seen = watch(page);
    // init scripts are the browser's own, outside the page's policy: count the print dialogs instead of opening one
    await page.addInitScript(() => Object.assign(window, { printed: 0, print: () => void ((window as unknown as { printed: number }).printed += 1) }));
    // a document of its own: Chromium asks for /favicon.ico, which the service does not have (its 404 is logged)
    await page.route('**/favicon.ico', (r) => r.fulfill({ status: 204 }));
    await page.goto(`/api/v1/interview-lists/${listId}/units/MU1/notice`);
    await page.getByRole('button', { name: '打印' }).click();
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(r))); // console messages of the click arrive
    expect(violations(seen)).toEqual([]);
    expect(await page.evaluate(() => (window as unknown as { printed: number }).printed)).toBe(1);
    await ctx.close();
  });

  it('a page of another origin cannot frame the dashboard', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    // another origin: the same server by another name (localhost vs 127.0.0.1)
    const other = s.httpUrl.replace('127.0.0.1', 'localhost');
    await page.route(`${other}/attacker.html`, (r) => r.fulfill({ contentType: 'text/html', body: `<iframe id="f" src="${s.httpUrl}/"></iframe>` }));
    await page.goto(`${other}/attacker.html`);
    // Chromium replaces a frame refused by frame-ancestors with its error page
    const child = () => page.frames().find((f) => f !== page.mainFrame())?.url() ?? '';
    await expect.poll(child, { timeout: 10_000 }).toMatch(/^(chrome-error:|http)/);
    expect(child()).toMatch(/^chrome-error:/);
    expect(child().startsWith(s.httpUrl)).toBe(false);
    await ctx.close();
  });
});
