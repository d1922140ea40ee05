// Real Chromium for the UI tests: Debian's `chromium` driven by
// playwright-core (no browser download). If it is missing, the test fails
// with the command that installs it; it never skips.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots of the main pages, kept as test artifacts (gitignored). */
export const SHOTS_DIR = join(process.cwd(), 'test-artifacts', 'screenshots');

export async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium fonts-noto-cjk (or set CHROMIUM_PATH)`);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/** A browser context as a person at the monitoring center sees it: zh-CN, Beijing time, a laptop-sized screen. */
export function newContext(browser: Browser, baseURL: string, opts: { viewport?: { width: number; height: number } } = {}): Promise<BrowserContext> {
  return browser.newContext({ baseURL, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: opts.viewport ?? { width: 1440, height: 900 }, acceptDownloads: true });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SHOTS_DIR, { recursive: true });
  const path = join(SHOTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
