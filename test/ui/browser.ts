// Real Chromium for the UI tests: Debian's `chromium` driven by
// playwright-core (no browser download). If it is missing, the test fails
// with the command that installs it; it never skips.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterEach } from 'vitest';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots of the main pages, kept as test artifacts (gitignored). */
export const SHOTS_DIR = join(process.cwd(), 'test-artifacts', 'screenshots');

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium fonts-noto-cjk (or set CHROMIUM_PATH)`);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/**
 * Console errors and uncaught exceptions of every page of every context made by newContext. A test file
 * asserts this is empty after each test (assertNoConsoleErrors), so a page that logs an error fails the
 * suite. A test that provokes an error on purpose (a wrong password: Chromium logs the 401 of that
 * request) says so with expectConsoleError, which lets exactly the matching messages through.
 */
export const consoleErrors: string[] = [];
const expected: RegExp[] = [];

function watch(page: Page): void {
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = `${m.text()} (${m.location().url})`;
    if (!expected.some((re) => re.test(text))) consoleErrors.push(`console error on ${page.url()}: ${text}`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`uncaught exception on ${page.url()}: ${e.message}`));
}

/** Runs `fn` letting through console errors that match `re` (and only those). */
export async function expectConsoleError<T>(re: RegExp, fn: () => Promise<T>): Promise<T> {
  expected.push(re);
  try {
    return await fn();
  } finally {
    expected.splice(expected.indexOf(re), 1);
  }
}

/** Every console error seen since the last call; forgets them. */
export function takeConsoleErrors(): string[] {
  return consoleErrors.splice(0);
}

// Every test file that drives a browser through this module fails the test during which a page logged an
// error or threw (registered when the file imports this module, so no file can forget it).
afterEach(() => {
  const errors = takeConsoleErrors();
  if (errors.length) throw new Error(`the browser logged ${errors.length} error(s) during this test:\n${errors.join('\n')}`);
});

/** A browser context as a person at the monitoring center sees it: zh-CN, Beijing time, a laptop-sized screen. */
export async function newContext(browser: Browser, baseURL: string, opts: { viewport?: { width: number; height: number } } = {}): Promise<BrowserContext> {
  const ctx = await browser.newContext({ baseURL, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: opts.viewport ?? { width: 1440, height: 900 }, acceptDownloads: true });
  ctx.on('page', watch);
  return ctx;
}

/** Signs in through the login page in a new context (kept in `contexts` to be closed); resolves on the overview. */
export async function signInAs(browser: Browser, baseURL: string, username: string, password: string, contexts: BrowserContext[]): Promise<Page> {
  const ctx = await newContext(browser, baseURL);
  contexts.push(ctx);
  const page = await ctx.newPage();
  await page.goto('/');
  await page.getByTestId('login-username').fill(username);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('page-overview').waitFor();
  return page;
}

/**
 * A page signed in as an existing user over the API (the session cookie handed to the browser), for tests
 * about a page rather than the login form; `problems` collects its console errors and uncaught exceptions.
 */
export async function signedInPage(browser: Browser, baseURL: string, username: string, password: string): Promise<{ ctx: BrowserContext; page: Page; problems: string[] }> {
  const res = await fetch(`${baseURL}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password, bearer: true }) });
  if (!res.ok) throw new Error(`signing in ${username} failed: HTTP ${res.status} ${await res.text()}`);
  const token = ((await res.json()) as { token: string }).token;
  const ctx = await newContext(browser, baseURL);
  await ctx.addCookies([{ name: 'se_session', value: token, url: baseURL }]);
  const page = await ctx.newPage();
  const problems: string[] = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return { ctx, page, problems };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SHOTS_DIR, { recursive: true });
  const path = join(SHOTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

