// The credit page in real Chromium against the real service, on the
// supervision tests' city: the grades table with each unit's deductions, a
// unit's factor breakdown and history, publishing the red and black lists from
// the page (a new frozen version), in Chinese and in English. Any console
// error fails the test (test/ui/browser.ts).
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestService, type TestService } from '../helpers.js';
import { seedInterviewCity } from '../supervision/city.js';
import { launch, screenshot, signedInPage } from './browser.js';

let s: TestService;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
const PERIOD = 'from=2025-01-01&to=2026-01-01';

beforeAll(async () => {
  browser = await launch();
  s = await startTestService();
  await seedInterviewCity(s, { U_GOOD: { elevators: 10, pass: 10, fail: 0, expect: [] } });
  const password = 'chief-password-1';
  expect((await api(s, 'POST', '/api/v1/users', { username: 'chief', password, role: 'inspector', districts: ['大祥区'], displayName: '王科长' })).status).toBe(201);
  ({ ctx, page } = await signedInPage(browser, s.httpUrl, 'chief', password));
}, 120_000);

afterAll(async () => {
  await ctx?.close().catch(() => undefined);
  await browser?.close();
  await s?.cleanup();
});

describe('credit page in Chromium', () => {
  it('shows every unit\'s grade with its deductions, and a unit\'s factor breakdown', async () => {
    await page.goto(`/#/credit?${PERIOD}`);
    await page.getByTestId('nav-credit').waitFor();
    const both = page.getByTestId('credit-row-U_BOTH');
    await both.waitFor({ timeout: 10_000 });
    // Default scoring: 30 % passed → 25 (cap); 20 complaints per 100 → 15 (cap): 60, C.
    expect(await both.getByTestId('credit-score').textContent()).toBe('60');
    expect(await both.locator('[data-grade]').getAttribute('data-grade')).toBe('C');
    expect(await both.locator('.deduction').allTextContents()).toEqual(['一次检验合格率低于目标的百分点 −25', '每百台电梯投诉数 −15']);
    expect(await page.getByTestId('credit-row-U_MAINT').locator('[data-grade]').textContent()).toBe('不评级');
    expect(await page.getByTestId('credit-row-U_FEW').locator('[data-grade]').textContent()).toBe('A*');
    await both.click();
    const panel = page.getByTestId('credit-unit');
    await panel.waitFor();
    expect(await panel.getByTestId('points-complaint_rate').textContent()).toBe('−15 (已封顶)');
    expect(await panel.getByTestId('points-late_arrivals').textContent()).toBe('0');
    expect(await panel.textContent()).toContain('尚无已发布的等级');
    await screenshot(page, 'credit-unit');
    await page.keyboard.press('Escape');
  });

  it('publishes the red and black lists as a new version, shown with its exports and in the unit\'s history', async () => {
    await page.getByTestId('credit-publish').click();
    const red = page.getByTestId('credit-red-U_GOOD');
    await red.waitFor({ timeout: 10_000 });
    const pubs = (await api(s, 'GET', '/api/v1/credit-lists')).body.items as { id: number; version: number; publishedBy: string; red: number; black: number }[];
    expect(pubs).toMatchObject([{ version: 1, publishedBy: 'chief', red: 1, black: 0 }]);
    expect(await page.getByTestId('credit-black').textContent()).toContain('无');
    expect(await page.getByTestId('credit-export-xlsx').getAttribute('href')).toBe(`/api/v1/credit-lists/${pubs[0]!.id}/export?format=xlsx`);
    await page.getByTestId(`credit-pub-${pubs[0]!.id}`).waitFor();
    await red.click();
    const history = page.getByTestId('credit-history');
    await history.waitFor();
    expect(await history.locator('tbody tr').allTextContents()).toEqual(['2025-01-01 — 2025-12-31第 1 版100A']);
    await screenshot(page, 'credit');
    await page.keyboard.press('Escape');
  });

  it('reads in English', async () => {
    await page.getByTestId('lang-switch').click();
    await page.getByText('Credit grades and red/black lists').waitFor();
    expect(await page.getByTestId('credit-row-U_BOTH').locator('.deduction').first().textContent()).toBe('percentage points of first-inspection pass rate below the target −25');
    expect(await page.getByTestId('credit-row-U_MAINT').locator('[data-grade]').textContent()).toBe('Not graded');
    await page.getByTestId('lang-switch').click();
  });
});
