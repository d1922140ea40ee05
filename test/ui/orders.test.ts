// Supervision orders in real Chromium against the real service, on the demo's
// orders (simulators/demo-orders.ts): the demo issues one in every state; the
// page lists them by state, shows one with its steps, case and allowed
// actions, and takes an inspector through reply → close with the step forms.
// Any console error or uncaught exception fails the test (test/ui/browser.ts).
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoOrders } from '../../simulators/demo-orders.js';
import { api, quietLog, startTestService, type TestService } from '../helpers.js';
import { launch, screenshot, signedInPage } from './browser.js';

let s: TestService;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;

beforeAll(async () => {
  browser = await launch();
  s = await startTestService();
  const put = async (entity: string, body: unknown) => expect((await api(s, 'POST', `/api/v1/${entity}`, body)).status).toBe(201);
  for (const u of ['U1', 'U2', 'U3']) await put('units', { id: u, name: `${u} 电梯维保公司` });
  for (let i = 0; i < 9; i++) await put('elevators', { code: `E${i}`, address: `宝庆路 ${i} 号`, district: '大祥区', userUnit: `物业${i % 2}`, maintenanceUnit: `U${(i % 3) + 1}` });
  expect(await seedDemoOrders(s, quietLog, ['HZ-1', 'HZ-2'])).toBe(8);
  const password = 'inspector-password-1';
  expect((await api(s, 'POST', '/api/v1/users', { username: 'li', password, role: 'inspector', districts: ['大祥区'], displayName: '李检查' })).status).toBe(201);
  ({ ctx, page } = await signedInPage(browser, s.httpUrl, 'li', password));
}, 120_000);

afterAll(async () => {
  await ctx?.close().catch(() => undefined);
  await browser?.close();
  await s?.cleanup();
});

describe('supervision orders', () => {
  it('the demo issues orders in every state, overdue ones with one alert each, a case decided; seeding again adds none', async () => {
    const all = (await api(s, 'GET', '/api/v1/supervision-orders?sort=id')).body;
    expect(all.counts).toEqual({ open: 3, replied: 1, sent_back: 1, closed: 1, escalated: 2 });
    expect(all.items.filter((o: { overdue: boolean }) => o.overdue)).toHaveLength(1); // the overdue one still with its unit
    expect((await api(s, 'GET', '/api/v1/alerts?type=order_overdue&pageSize=50')).body.total).toBe(3);
    const decided = (await api(s, 'GET', `/api/v1/supervision-orders/${all.items[6].id}`)).body;
    expect(decided.case).toMatchObject({ state: 'decided', penaltyYuan: 30000 });
    expect(all.items[7]).toMatchObject({ unitKind: 'user', state: 'open' });
    expect(await seedDemoOrders(s, quietLog)).toBe(0);
  });

  it('lists orders by state and shows one with its steps and case', async () => {
    await page.goto('/#/orders');
    await page.getByTestId('page-orders').waitFor();
    expect(await page.getByTestId('nav-orders').textContent()).toBe('监察指令书');
    // the counts arrive with the list (the tabs show 0 until then)
    await page.waitForFunction(() => document.querySelector('[data-testid="order-tab-escalated"]')?.textContent !== '已转立案 (0)');
    expect(await page.getByTestId('order-tab-escalated').textContent()).toBe('已转立案 (2)');
    await page.getByTestId('order-tab-escalated').click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid^="order-row-"]').length === 2);
    const decided = (await api(s, 'GET', '/api/v1/supervision-orders?state=escalated&sort=-id')).body.items[0] as { id: number };
    await page.getByTestId(`order-row-${decided.id}`).click();
    const panel = page.getByTestId(`order-${decided.id}`);
    await panel.waitFor();
    expect(await page.getByTestId('case-state').getAttribute('data-state')).toBe('decided');
    expect(await page.getByTestId('order-steps').locator('li').allTextContents()).toEqual([
      expect.stringContaining('签发'), expect.stringContaining('逾期'), expect.stringContaining('立案'), expect.stringContaining('转立案'),
      expect.stringContaining('开始调查'), expect.stringContaining('作出决定'),
    ]);
    expect(await page.getByTestId('case-action-close').isVisible()).toBe(true); // the only case step allowed now
    expect(await page.getByTestId('order-action-close').count()).toBe(0);
    expect(await page.getByTestId('order-print').getAttribute('href')).toBe(`/api/v1/supervision-orders/${decided.id}/print`);
    expect(await page.getByTestId('orders-export-xlsx').getAttribute('href')).toBe('/api/v1/supervision-orders/export?format=xlsx&state=escalated');
    await screenshot(page, 'orders-case');
    // English: the same page in the other language, then back to zh-CN for the next test.
    await page.keyboard.press('Escape');
    await page.getByTestId('order-panel').waitFor({ state: 'detached' });
    await page.getByTestId('lang-switch').click();
    expect(await page.getByTestId('nav-orders').textContent()).toBe('Orders');
    expect(await page.getByTestId('order-tab-escalated').textContent()).toBe('Escalated (2)');
    await page.getByTestId(`order-row-${decided.id}`).click();
    expect(await page.getByTestId('case-action-close').textContent()).toBe('Close the case');
    await page.keyboard.press('Escape');
    await page.getByTestId('lang-switch').click();
    expect(await page.getByTestId('nav-orders').textContent()).toBe('监察指令书');
  });

  it('an inspector enters the unit\'s reply and closes the order with the step forms', async () => {
    const o = (await api(s, 'GET', '/api/v1/supervision-orders?state=open&unit=U1')).body.items[0] as { id: number };
    await page.goto(`/#/orders?order=${o.id}`);
    await page.getByTestId(`order-${o.id}`).waitFor();
    expect(await page.getByTestId('order-actions').locator('button').allTextContents()).toEqual(['登记单位回复']);
    await page.getByTestId('order-action-reply').click();
    await page.getByTestId('of-text').fill('已补做维保');
    await page.getByTestId('of-attachments').fill('https://files.example/a.jpg\n维保记录/E0.pdf');
    await page.getByTestId('order-form-submit').click();
    await page.waitForFunction((id) => document.querySelector(`[data-testid="order-state-${id}"]`)?.getAttribute('data-state') === 'replied', o.id);
    expect(await page.getByTestId('order-actions').locator('button').allTextContents()).toEqual(['退回重新整改', '核查关闭']);
    await page.getByTestId('order-action-close').click();
    await page.getByTestId('of-conclusion').fill('现场核查已整改');
    await page.getByTestId('order-form-submit').click();
    await page.waitForFunction((id) => document.querySelector(`[data-testid="order-${id}"] [data-testid="order-state-${id}"]`)?.getAttribute('data-state') === 'closed', o.id);
    const steps = (await api(s, 'GET', `/api/v1/supervision-orders/${o.id}`)).body.steps as { action: string; by: string; fields: Record<string, unknown> }[];
    expect(steps.slice(1)).toEqual([
      expect.objectContaining({ action: 'reply', by: 'li', fields: { text: '已补做维保', attachments: ['https://files.example/a.jpg', '维保记录/E0.pdf'], onBehalfOf: 'U1 电梯维保公司' } }),
      expect.objectContaining({ action: 'close', by: 'li', fields: { conclusion: '现场核查已整改' } }),
    ]);
    await screenshot(page, 'orders-closed');
  });
});
