import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExchangeClient } from '../../src/client/index.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets } from '../wire/fixtures.ts';
import { attributes, launchChromium, openPage, PAGE_WAIT, screenshot, type WatchedPage } from './support.ts';

/*
 * The live dashboard (web/dashboard, served at `/`) in headless Chromium against a whole exchange:
 * it loads without console errors, shows what test clients place in its ladder and its tape, keeps
 * a book whose checksum is the server's (verified through a burst of random orders), and draws a
 * candle. Screenshots go to test-output/browser/ for people to look at.
 */

const SYMBOL = 'BTC-USDC';
/** The depth the dashboard subscribes (web/dashboard/main.ts BOOK_DEPTH). */
const PAGE_BOOK_DEPTH = 50;

/** What `window.__dashboard` answers, read in one evaluate. */
interface DashboardState {
  market: string | undefined;
  checksum: number | undefined;
  renderedChecksum: number | undefined;
  resyncs: number;
  bookSeq: number | undefined;
  bookMessages: number;
  renderedBookUpdates: number;
  tradesShown: number;
  candles: number;
  lifecycleState: string | undefined;
  connected: boolean;
}

let running: RunningExchange;
let browser: Browser;
let alice: ExchangeClient;
let bob: ExchangeClient;
let watched: WatchedPage;

beforeAll(async () => {
  [running, browser] = await Promise.all([
    runExchange({ RATE_ORDERS_PER_S: '100000', RATE_ORDERS_BURST: '100000' }),
    launchChromium(),
  ]);
  await listMarkets(running);
  await running.credit('alice', 'BTC', '50');
  await running.credit('alice', 'USDC', '5000000');
  await running.credit('bob', 'BTC', '50');
  await running.credit('bob', 'USDC', '5000000');
  alice = await running.client(await running.token('alice', ['trader']));
  bob = await running.client(await running.token('bob', ['trader']));
  watched = await openPage(browser);
});

afterAll(async () => {
  await watched.close();
  await browser.close();
  await running.stop();
});

function dashboard(): Promise<DashboardState | undefined> {
  return watched.page.evaluate(() => {
    // The page's test hooks (web/dashboard/main.ts DashboardHooks); `undefined` before it ran.
    const d = (globalThis as unknown as { __dashboard?: Record<string, unknown> }).__dashboard;
    if (d === undefined) return undefined;
    return {
      market: d.market,
      checksum: (d.checksum as () => number | undefined)(),
      renderedChecksum: (d.renderedChecksum as () => number | undefined)(),
      resyncs: d.resyncs,
      bookSeq: d.bookSeq,
      bookMessages: d.bookMessages,
      renderedBookUpdates: d.renderedBookUpdates,
      tradesShown: d.tradesShown,
      candles: d.candles,
      lifecycleState: d.lifecycleState,
      connected: d.connected,
    } as DashboardState;
  });
}

async function serverBook(depth: number): Promise<{ seq: number; checksum: number }> {
  const answer = await running.request('GET', `/api/v1/markets/${SYMBOL}/book?depth=${depth}`);
  expect(answer.status).toBe(200);
  return answer.body as { seq: number; checksum: number };
}

/** Waits until the page's book (its SDK copy and the ladder drawn from it) is the server's. */
async function expectSameBook(): Promise<void> {
  let seen: { server: { seq: number; checksum: number }; page: DashboardState | undefined } | undefined;
  await eventually(
    async () => {
      const server = await serverBook(PAGE_BOOK_DEPTH);
      const page = await dashboard();
      seen = { server, page };
      return (
        page?.bookSeq === server.seq &&
        page.checksum === server.checksum &&
        page.renderedChecksum === server.checksum
      );
    },
    { ...PAGE_WAIT, what: () => `the page's book to equal the server's; last: ${JSON.stringify(seen)}` },
  );
  const { server, page } = { server: await serverBook(PAGE_BOOK_DEPTH), page: await dashboard() };
  expect(page?.checksum).toBe(server.checksum);
  // The footer shows the same checksum, as 8 hex digits.
  const footer = (server.checksum >>> 0).toString(16).padStart(8, '0');
  await eventually(async () => (await watched.page.getByTestId('book-checksum').textContent()) === footer, {
    ...PAGE_WAIT,
    what: `the footer checksum ${footer}`,
  });
  expect(await watched.page.getByTestId('book-seq').textContent()).toBe(String(server.seq));
  // The top 10 levels of the HTTP book at the depth the page subscribes carry the same checksum.
  expect((await serverBook(10)).checksum).toBe(server.checksum);
}

function noErrors(): void {
  expect(watched.errors, `console:\n${watched.console.join('\n')}`).toEqual([]);
}

describe('the dashboard', () => {
  it('loads without console errors and shows the market', async () => {
    const response = await watched.page.goto(`${running.http}/#${SYMBOL}`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/);
    await eventually(
      async () => {
        const d = await dashboard();
        return d?.connected === true && d.bookSeq !== undefined;
      },
      { ...PAGE_WAIT, what: 'the book snapshot' },
    );
    expect((await dashboard())?.market).toBe(SYMBOL);
    await expect
      .poll(() => attributes(watched.page.getByTestId('market-row'), 'data-symbol'))
      .toEqual(expect.arrayContaining(['BTC-USDC', 'ETH-USDC']));
    await eventually(
      async () => (await watched.page.getByTestId('lifecycle-state').getAttribute('data-state')) === 'active',
      { ...PAGE_WAIT, what: 'the lifecycle badge' },
    );
    expect((await dashboard())?.lifecycleState).toBe('active');
    noErrors();
  });

  it("shows orders placed by test clients in the ladder and the tape, with the server's checksum", async () => {
    const start = await dashboard();
    await alice.place({ market: SYMBOL, side: 'sell', type: 'limit', price: '30010.00', qty: '0.5000' });
    await alice.place({ market: SYMBOL, side: 'sell', type: 'limit', price: '30020.00', qty: '0.2500' });
    await bob.place({ market: SYMBOL, side: 'buy', type: 'limit', price: '29990.00', qty: '0.3000' });

    const ask = watched.page.locator('[data-testid="ladder-ask"][data-price="30010.00"]');
    const bid = watched.page.locator('[data-testid="ladder-bid"][data-price="29990.00"]');
    await ask.waitFor();
    await bid.waitFor();
    expect(await ask.getAttribute('data-qty')).toBe('0.5000');
    expect(await bid.getAttribute('data-qty')).toBe('0.3000');
    await expect
      .poll(() =>
        watched.page.locator('[data-testid="ladder-ask"][data-price="30020.00"]').getAttribute('data-qty'),
      )
      .toBe('0.2500');

    // A trade: bob lifts part of the best ask.
    const taken = await bob.place({
      market: SYMBOL,
      side: 'buy',
      type: 'limit',
      price: '30010.00',
      qty: '0.2000',
    });
    expect(taken).toMatchObject({ status: 'filled' });
    const row = watched.page.locator('[data-testid="tape-row"][data-price="30010.00"]');
    await row.first().waitFor();
    expect(await row.first().getAttribute('data-qty')).toBe('0.2000');
    expect(await row.first().getAttribute('data-trade-id')).toMatch(/.+/);
    await expect.poll(() => ask.getAttribute('data-qty')).toBe('0.3000');
    const after = await dashboard();
    expect(after!.tradesShown).toBeGreaterThan(start!.tradesShown);
    expect(after!.renderedBookUpdates).toBeGreaterThan(start!.renderedBookUpdates);

    await expectSameBook();
    expect((await dashboard())?.resyncs).toBe(0);
    await screenshot(watched.page, 'dashboard-orders');
    noErrors();
  });

  it("keeps the server's checksum through a burst of random orders", async () => {
    let seed = 42;
    const random = () => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed / 2 ** 32;
    };
    const before = await dashboard();
    const orders: Promise<unknown>[] = [];
    for (let i = 0; i < 400; i++) {
      const client = i % 2 === 0 ? alice : bob;
      const side = random() < 0.5 ? 'buy' : 'sell';
      // Around 30,000 with overlap: some rest, some trade.
      const ticks = 2_999_000 + Math.floor(random() * 2_000) + (side === 'buy' ? -300 : 300);
      const price = `${Math.floor(ticks / 100)}.${String(ticks % 100).padStart(2, '0')}`;
      const qty = `0.${String(1 + Math.floor(random() * 999)).padStart(4, '0')}`;
      orders.push(client.place({ market: SYMBOL, side, type: 'limit', price, qty }));
      if (i % 50 === 49) await Promise.all(orders.splice(0));
    }
    await Promise.all(orders);
    await expectSameBook();
    const after = await dashboard();
    expect(after!.bookMessages).toBeGreaterThan(before!.bookMessages);
    expect(after!.resyncs).toBe(0);
    expect(await watched.page.getByTestId('resync-count').textContent()).toBe('0');
    // Ladder rows drawn: both sides, at most the ladder's rows.
    expect(await watched.page.getByTestId('ladder-bid').count()).toBeGreaterThan(0);
    expect(await watched.page.getByTestId('ladder-ask').count()).toBeGreaterThan(0);
    await screenshot(watched.page, 'dashboard-burst');
    noErrors();
  });

  it('forms a candle from the trades', async () => {
    // Trades happened above; the candles channel (or the HTTP history) gives the chart its candle.
    await eventually(async () => ((await dashboard())?.candles ?? 0) > 0, {
      ...PAGE_WAIT,
      timeoutMs: 10_000,
      what: 'a candle in the chart (__dashboard.candles > 0: the candles channel or GET /candles)',
    });
    // One more trade updates the current candle without errors.
    await alice.place({ market: SYMBOL, side: 'buy', type: 'limit', price: '40000.00', qty: '0.0100' });
    const chart = watched.page.getByTestId('candle-chart');
    expect(await chart.locator('canvas').count()).toBeGreaterThan(0);
    await chart.screenshot({
      path: (await screenshot(watched.page, 'dashboard-candles')).replace(/\.png$/, '-chart.png'),
    });
    noErrors();
  });
});
