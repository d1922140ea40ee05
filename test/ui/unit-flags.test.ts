// Unit flags in real Chromium against the real service, on the supervision
// tests' city: the interview-list page shows which listed units carry a flag
// and since when (and follows a flag's resolution live); the alert detail of
// a flag shows its figures and opens the unit's interview case. Any console
// error or uncaught exception fails the test.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cstMidnight } from '../../domain/time.js';
import { api, startTestService, type TestService } from '../helpers.js';
import { seedInterviewCity } from '../supervision/city.js';
import { launch, screenshot, signedInPage } from './browser.js';

let s: TestService;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
let listId: number;
let problems: string[] = [];
const AS_OF = cstMidnight('2025-12-31') + 12 * 3_600_000;

beforeAll(async () => {
  browser = await launch();
  s = await startTestService();
  await seedInterviewCity(s);
  listId = (await api(s, 'POST', '/api/v1/interview-lists', { from: '2025-01-01', to: '2026-01-01' })).body.id;
  // The flags as of the last day of 2025 (the city's records are 2025's).
  expect(s.unitFlags.reevaluate(AS_OF)).toMatchObject({ raised: 6, error: null });
  const password = 'chief-password-1';
  expect((await api(s, 'POST', '/api/v1/users', { username: 'chief', password, role: 'admin', displayName: '王科长' })).status).toBe(201);
  // Signed in over the API (the cookie handed to the browser): this test is about the flags, not the login page.
  ({ ctx, page, problems } = await signedInPage(browser, s.httpUrl, 'chief', password));
}, 120_000);

afterEach(() => {
  expect(problems).toEqual([]);
});

afterAll(async () => {
  await ctx?.close().catch(() => undefined);
  await browser?.close();
  await s?.cleanup();
});

describe('unit flags in Chromium', () => {
  it('the interview list shows which listed units carry a flag and since when', async () => {
    await page.goto(`/#/interviews?list=${listId}`);
    const low = page.getByTestId('flag-U_LOW');
    await low.waitFor({ timeout: 10_000 });
    expect(await low.getAttribute('data-state')).toBe('active');
    expect(await low.textContent()).toBe('预警中 · 自 2025/12/31');
    for (const unit of ['U_BOTH', 'U_CEXACT', 'U_COMPL', 'U_FALLBACK', 'U_REIN']) expect(await page.getByTestId(`flag-${unit}`).getAttribute('data-state')).toBe('active');
    await screenshot(page, 'interviews-flags');
  });

  it('a flag\'s detail shows its figures and opens the unit\'s interview case', async () => {
    const flag = (await api(s, 'GET', '/api/v1/alerts?type=unit_rates&subject=U_LOW')).body.items[0] as { id: number };
    await page.goto('/#/alerts?type=unit_rates');
    await page.getByTestId(`alert-row-${flag.id}`).click();
    const detail = page.getByTestId(`unit-flag-${flag.id}`);
    await detail.waitFor();
    expect(await detail.textContent()).toContain('统计期：2025-01-01 至 2025-12-31');
    expect(await page.getByTestId('unit-flag-findings').textContent()).toBe('定期检验一次合格率 60.0%（6/10）低于 70.0%');
    // The records behind it: U_LOW's four failed first inspections.
    expect(await detail.getByTestId('evidence-failedInspections').locator('tbody tr').count()).toBe(4);
    await screenshot(page, 'alert-unit-flag');
    await page.getByTestId(`open-case-${flag.id}`).click();
    // The interview page, the unit's panel, its new draft case.
    const panel = page.getByTestId('unit-panel');
    await panel.waitFor({ timeout: 10_000 });
    const cases = (await api(s, 'GET', '/api/v1/interview-cases?unit=U_LOW')).body.items as { id: number; state: string; listId: number }[];
    expect(cases).toHaveLength(1);
    expect(cases[0]).toMatchObject({ state: 'draft', listId });
    await page.getByTestId(`case-${cases[0]!.id}`).waitFor();
    expect(page.url()).toContain(`list=${listId}`);
    expect(page.url()).toContain('unit=U_LOW');
  });

  it('follows a flag resolving live: the column says until when', async () => {
    await page.goto(`/#/interviews?list=${listId}`);
    await page.getByTestId('flag-U_LOW').waitFor();
    await expect.poll(() => page.getByTestId('conn-state').getAttribute('data-state'), { timeout: 10_000 }).toBe('open');
    expect(s.unitFlags.reevaluate(Date.now())).toMatchObject({ resolved: 6, stillActive: 0 }); // 2025 has aged out
    await expect.poll(() => page.getByTestId('flag-U_LOW').getAttribute('data-state'), { timeout: 10_000 }).toBe('resolved');
    expect(await page.getByTestId('flag-U_LOW').textContent()).toMatch(/^曾预警 2025\/12\/31 至 \d{4}\/\d{2}\/\d{2}$/);
  });

  it('words a flag\'s rate with as many decimals as it takes not to read as its threshold', async () => {
    // a large unit at 69.97 % (699/999): one decimal would read "70.0% 低于 70.0%"
    const figures = { first: 999, passed: 699, complaints: 0, elevators: 1000, passRate: 699 / 999, complaintRate: 0 };
    const { alert } = s.alerts.raise({
      type: 'unit_rates', severity: 'major', subjectKind: 'maintenance_unit', subject: 'U_BIG', unit: 'U_BIG', at: AS_OF, lagMs: 0,
      evidence: { rule: 'unit-rates', window: { from: '2025-01-01', to: '2026-01-01' }, figures, findings: [{ criterion: 'pass_rate', value: 699 / 999, threshold: 0.7 }] },
    });
    await page.goto('/#/alerts?type=unit_rates');
    await page.getByTestId(`alert-row-${alert.id}`).click();
    await page.getByTestId(`unit-flag-${alert.id}`).waitFor();
    expect(await page.getByTestId('unit-flag-findings').textContent()).toBe('定期检验一次合格率 69.97%（699/999）低于 70.0%');
  });
});
