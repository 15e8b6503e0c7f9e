import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';

/*
 * Headless Chromium for the browser tests and bench:marketdata: Debian's package, driven by
 * playwright-core (never a downloaded browser). Each test opens a fresh context; a page records
 * its console errors and uncaught exceptions so a test can assert that there were none.
 */

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** Screenshots for people to look at (git-ignored). */
export const SCREENSHOT_DIR = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'test-output',
  'browser',
);

export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `no Chromium at ${CHROMIUM_PATH}: install Debian's chromium package (\`apt-get install chromium\`; ` +
        '`npm test` installs it when missing) or set CHROMIUM_PATH. Never download a browser for these tests.',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}

export interface WatchedPage {
  readonly context: BrowserContext;
  readonly page: Page;
  /** `console.error` messages and uncaught exceptions, as they happened. */
  readonly errors: string[];
  /** Every console message (`type: text`), for diagnostics when a test fails. */
  readonly console: string[];
  close(): Promise<void>;
}

export async function openPage(
  browser: Browser,
  viewport = { width: 1440, height: 900 },
): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  const messages: string[] = [];
  page.on('console', (message) => {
    const line = `${message.type()}: ${message.text()}`;
    messages.push(line);
    if (message.type() === 'error') errors.push(line);
  });
  page.on('pageerror', (error) => {
    errors.push(`pageerror: ${error.stack ?? error.message}`);
  });
  return {
    context,
    page,
    errors,
    console: messages,
    close: () => context.close(),
  };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** How the browser tests poll the page (test/support/eventually.ts): its state lags the server's. */
export const PAGE_WAIT = { timeoutMs: 15_000, everyMs: 100 } as const;

/** An attribute of every element a locator matches, in document order (read from Node: typed). */
export async function attributes(locator: Locator, name: string): Promise<(string | null)[]> {
  return Promise.all((await locator.all()).map((element) => element.getAttribute(name)));
}
