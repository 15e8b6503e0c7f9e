/**
 * `npm run screenshots`: each web page at 1440 and 390 px wide, into docs/screenshots/ (committed,
 * referenced from the README). Starts a whole exchange on a fresh database (the browser tests'
 * support), lists BTC-USDC and ETH-USDC, takes an RWA market through registration and approval
 * to active, trades a little so the book, tape and candles have something to show, then opens
 * the trading page (signed in), /issuer, /admin and /dev/actors in Debian's Chromium.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { runExchange } from '../test/support/exchange.ts';
import { eventually } from '../test/support/eventually.ts';
import { listMarkets } from '../test/wire/fixtures.ts';
import { launchChromium, openPage } from '../test/browser/support.ts';
import { helpOnly } from './lib/cli.ts';

helpOnly(
  'npm run screenshots --',
  `usage: npm run screenshots

Each web page (/, with its positions and preferences panes, /issuer, /admin, /dev/actors) at 1440
and 390 px into docs/screenshots/, from a
whole exchange on a fresh database with a few markets, an RWA taken to active, and some trades.`,
);

const OUT = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'screenshots');
const WIDTHS = [
  { name: '1440', viewport: { width: 1440, height: 900 } },
  { name: '390', viewport: { width: 390, height: 844 } },
] as const;

const running = await runExchange({ NODE_ENV: 'development' });
const browser = await launchChromium();
try {
  await listMarkets(running);
  const admin = await running.token('ops', ['admin']);
  const issuer = await running.token('issuer-1', ['issuer', 'trader']);
  const registered = await running.request('POST', '/api/v1/markets/register', {
    token: issuer,
    body: {
      name: 'Sea Point Apartments',
      assetType: 'real_estate',
      tokenSymbol: 'SEAPT',
      tokenName: 'Sea Point Apartment Token',
      totalSupply: '10000',
      quoteAsset: 'USDC',
      priceDecimals: 2,
      qtyDecimals: 0,
      tickSize: '0.01',
      lotSize: '1',
      minQty: '1',
      assetDetails: {
        valuation: '2500000',
        currency: 'USD',
        location: 'Cape Town, ZA',
        complianceDocuments: [
          'DOC-TITLE-001',
          { name: 'Prospectus', url: 'https://example.com/prospectus.pdf' },
        ],
      },
    },
  });
  if (registered.status !== 201) throw new Error(`register: ${JSON.stringify(registered.body)}`);
  await running.request('POST', '/api/v1/markets/SEAPT-USDC/approve', {
    token: admin,
    body: { decision: 'approved', reason: 'documents verified' },
  });
  await eventually(
    async () =>
      ((await running.request('GET', '/api/v1/markets/SEAPT-USDC')).body as { status: string }).status ===
      'active',
    { timeoutMs: 60_000, everyMs: 200, what: 'SEAPT-USDC to go active' },
  );
  // A second registration left waiting: the admin page's approval queue.
  await running.request('POST', '/api/v1/markets/register', {
    token: issuer,
    body: pendingRegistration(),
  });

  for (const user of ['alice', 'bob']) {
    await running.credit(user, 'USDC', '1000000');
    await running.credit(user, 'BTC', '20');
  }
  const alice = await running.client(await running.token('alice', ['trader']));
  const bob = await running.client(await running.token('bob', ['trader']));
  let price = 30_000;
  for (let i = 0; i < 40; i++) {
    price += Math.round(Math.sin(i / 3) * 40);
    await alice.place({
      market: 'BTC-USDC',
      side: 'sell',
      type: 'limit',
      price: `${price + 5 + (i % 7) * 3}.00`,
      qty: '0.2500',
    });
    await bob.place({
      market: 'BTC-USDC',
      side: 'buy',
      type: 'limit',
      price: `${price - 5 - (i % 5) * 4}.00`,
      qty: '0.3000',
    });
    if (i % 3 === 0) await bob.place({ market: 'BTC-USDC', side: 'buy', type: 'market', qty: '0.0500' });
  }
  // Alice's own resting order and fills: the account tables have rows.
  await alice.place({ market: 'BTC-USDC', side: 'buy', type: 'limit', price: '29000.00', qty: '0.1000' });
  await alice.place({ market: 'BTC-USDC', side: 'buy', type: 'market', qty: '0.1000' });
  // A price alert armed and preferences stored: their panes have something to show.
  await running.request('POST', '/api/v1/alerts', {
    token: await running.token('alice', ['trader']),
    body: { market: 'BTC-USDC', above: '31000.00' },
  });
  await running.request('PUT', '/api/v1/notifications/preferences', {
    token: await running.token('alice', ['trader']),
    body: {
      channels: { in_app: { enabled: true }, email: { address: 'alice@example.com', enabled: true } },
      quietHours: { start: '22:00', end: '07:00', tz: 'Africa/Johannesburg' },
    },
  });

  await mkdir(OUT, { recursive: true });
  const aliceToken = await running.token('alice', ['trader']);
  const pages: { name: string; path: string; token?: string; ready: (page: Page) => Promise<unknown> }[] = [
    {
      name: 'trade',
      path: '/#BTC-USDC',
      token: aliceToken,
      ready: (page) => page.locator('[data-testid="open-order"]').first().waitFor(),
    },
    // Issue 20's account panes: positions (GET /portfolio) and the notification preferences.
    {
      name: 'trade-positions',
      path: '/#BTC-USDC',
      token: aliceToken,
      ready: async (page) => {
        await page.getByTestId('tab-positions').click();
        await eventually(
          async () => {
            await page.getByTestId('tab-balances').click();
            await page.getByTestId('tab-positions').click();
            return (await page.locator('[data-testid="position"]').count()) > 0 || undefined;
          },
          { timeoutMs: 30_000, everyMs: 250, what: "alice's positions" },
        );
      },
    },
    {
      name: 'trade-preferences',
      path: '/#BTC-USDC',
      token: aliceToken,
      ready: async (page) => {
        await page.getByTestId('tab-preferences').click();
        await eventually(async () => (await page.getByTestId('pref-in-app').isChecked()) || undefined, {
          timeoutMs: 30_000,
          everyMs: 250,
          what: "alice's preferences",
        });
      },
    },
    {
      name: 'issuer',
      path: '/issuer',
      token: issuer,
      ready: (page) => page.locator('[data-testid="my-market"]').first().waitFor(),
    },
    {
      name: 'admin',
      path: '/admin',
      token: admin,
      ready: (page) => page.locator('[data-testid="admin-market"]').first().waitFor(),
    },
    {
      name: 'actors',
      path: `/dev/actors?token=${encodeURIComponent(admin)}`,
      ready: (page) => page.locator('svg').first().waitFor(),
    },
  ];
  for (const { name, path, token, ready } of pages) {
    for (const width of WIDTHS) {
      const watched = await openPage(browser, width.viewport);
      if (token !== undefined) {
        await watched.page.addInitScript((t) => {
          (
            globalThis as unknown as { sessionStorage: { setItem(k: string, v: string): void } }
          ).sessionStorage.setItem('rwa.session.token', t);
        }, token);
      }
      await watched.page.goto(`${running.http}${path}`);
      await ready(watched.page);
      // Charts draw on the next frames: wait until the page is idle for a moment of its own.
      await watched.page.evaluate(
        () =>
          new Promise((r) => {
            const w = globalThis as unknown as { requestAnimationFrame: (f: () => unknown) => number };
            w.requestAnimationFrame(() => w.requestAnimationFrame(() => r(undefined)));
          }),
      );
      const file = join(OUT, `${name}-${width.name}.png`);
      await watched.page.screenshot({ path: file, fullPage: true });
      console.log(file);
      await watched.close();
    }
  }
} finally {
  await browser.close();
  await running.stop();
}

function pendingRegistration(): object {
  return {
    name: 'Stellenbosch Vineyard Bond',
    assetType: 'government_bond',
    tokenSymbol: 'VINEB',
    tokenName: 'Vineyard Bond Token',
    totalSupply: '5000',
    quoteAsset: 'USDC',
    priceDecimals: 2,
    qtyDecimals: 0,
    tickSize: '0.01',
    lotSize: '1',
    minQty: '1',
    assetDetails: {
      valuation: '1200000',
      currency: 'ZAR',
      location: 'Stellenbosch, ZA',
      complianceDocuments: ['BOND-PROSP-7'],
    },
  };
}
