// Risk levels and spot checks in real Chromium against the real service: the
// risk page (levels, factors, map, filters), the level in the equipment list
// and on the elevator page, a draw by an inspector, a result recorded by them,
// and the public results page without sign-in (on a phone-sized screen too),
// showing nothing beyond the public fields.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestService, type TestService } from '../helpers.js';
import { launch, newContext, screenshot, signInAs } from './browser.js';

let s: TestService;
let browser: Browser;
const contexts: BrowserContext[] = [];
const PW = 'risk-ui-password-1';

const signIn = (username: string): Promise<Page> => signInAs(browser, s.httpUrl, username, PW, contexts);

beforeAll(async () => {
  browser = await launch();
  s = await startTestService();
  const put = async (entity: string, body: unknown) => expect((await api(s, 'POST', `/api/v1/${entity}`, body)).status).toBe(201);
  await put('units', { id: 'U1', name: '安达电梯维保' });
  // OLD: 26 years old, 10 points: general; the others new and low.
  for (let i = 0; i < 4; i++) await put('elevators', { code: i === 0 ? 'OLD' : `N${i}`, address: `测试路 ${i} 号`, district: '北塔区', userUnit: '物业', maintenanceUnit: 'U1', installedOn: i === 0 ? '2000-01-01' : '2024-01-01' });
  for (const [username, role, districts] of [['chief', 'admin', undefined], ['beita', 'inspector', ['北塔区']]] as const) {
    expect((await api(s, 'POST', '/api/v1/users', { username, password: PW, role, districts })).status).toBe(201);
  }
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await s?.cleanup();
});

describe('risk and spot checks in Chromium', () => {
  it('shows levels with factors on the risk page, the equipment list and the elevator page; filters by level and district', async () => {
    const page = await signIn('chief');
    await page.getByTestId('nav-risk').click();
    await page.getByTestId('risk-row-OLD').waitFor();
    expect(await page.getByTestId('risk-row-OLD').innerText()).toMatch(/一般[\s\S]*10[\s\S]*梯龄 26 年/);
    expect(await page.getByTestId('risk-count-low').innerText()).toMatch(/3/);
    expect(await page.getByTestId('map-district-北塔区').textContent()).toMatch(/0/); // no high or elevated elevators
    await page.getByTestId('filter-level').selectOption('general');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^="risk-row-"]').length === 1);
    expect(await page.getByTestId('map-district-北塔区').textContent()).toMatch(/1/); // the map counts the chosen level
    await screenshot(page, 'risk');
    await page.goto('/#/equipment');
    expect(await page.getByTestId('risk-OLD').getAttribute('data-level')).toBe('general');
    expect(await page.getByTestId('risk-N1').getAttribute('data-level')).toBe('low');
    // The overview's map by risk: no high or elevated elevator in 北塔区, and other districts without elevators unlabelled.
    await page.goto('/#/overview');
    await page.getByTestId('map-mode-risk').click();
    await expect.poll(() => page.getByTestId('map-district-北塔区').textContent()).toBe('北塔区0');
    expect(await page.getByTestId('map-district-大祥区').textContent()).toBe('大祥区');
    await page.goto('/#/equipment/elevator/OLD');
    expect(await page.getByTestId('elevator-risk-level').innerText()).toBe('一般');
    expect(await page.getByTestId('elevator-risk-factors').innerText()).toMatch(/梯龄 26 年/);
  });

  it('an inspector draws with a seed and records a result; the public page shows it without sign-in', async () => {
    const page = await signIn('beita');
    await page.getByTestId('nav-spot-checks').click();
    await page.getByTestId('draw-n').fill('2');
    await page.getByTestId('draw-seed').fill('2026');
    await page.getByTestId('draw-submit').click();
    await page.getByTestId('draw-detail').waitFor();
    expect(await page.getByTestId('draw-seed-value').innerText()).toBe('2026');
    const rows = page.locator('[data-testid^="check-row-"]');
    expect(await rows.count()).toBe(2);
    const first = (await rows.first().getAttribute('data-testid'))!.replace('check-row-', '');
    const form = page.getByTestId(`check-result-${first}`);
    await form.getByTestId('result-select').selectOption('problems');
    await form.getByTestId('result-problems').fill('轿厢照明不足');
    await form.getByTestId('result-date').fill('2026-03-02');
    await form.getByTestId('result-submit').click();
    await page.getByTestId(`check-result-${first}`).getByText('发现问题：轿厢照明不足').waitFor();
    await expect.poll(() => page.getByTestId('draws-list').innerText()).toMatch(/已完成 1\/2/); // the list of draws follows
    await screenshot(page, 'spot-checks');

    // Nobody signed in, on a phone.
    const ctx = await newContext(browser, s.httpUrl, { viewport: { width: 390, height: 844 } });
    contexts.push(ctx);
    const pub = await ctx.newPage();
    await pub.goto('/#/public/spot-checks');
    await pub.getByTestId(`public-row-${first}`).waitFor();
    const text = await pub.getByTestId('page-public-spot-checks').innerText();
    expect(text).toMatch(/发现问题/);
    expect(text).toMatch(/安达电梯维保/);
    expect(text).not.toMatch(/轿厢照明不足|beita|一般|低/); // no problem text, inspector or risk level in public
    expect(pub.url()).toMatch(/#\/public\/spot-checks$/); // not sent to the login page
    await screenshot(pub, 'public-spot-checks');
  });
});
