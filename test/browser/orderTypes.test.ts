import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExchangeClient } from '../../src/client/index.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets } from '../wire/fixtures.ts';
import { launchChromium, openPage, PAGE_WAIT, screenshot, type WatchedPage } from './support.ts';

/*
 * Issue 14 on the trading page (web/dashboard at `/`), in Chromium against a whole exchange: the
 * ticket places an iceberg, a GTD limit, a trailing stop and an OCO through the SDK, shows the lock each needs
 * before sending (an OCO's one lock: its larger leg; a budgeted stop-market buy: its budget), and
 * the orders appear among the open orders with the balances locked once; an OCO whose stop is on
 * the wrong side of its limit is refused next to the stop field; the book shows only the iceberg's
 * slice.
 */

const SYMBOL = 'BTC-USDC';

let running: RunningExchange;
let browser: Browser;
let bob: ExchangeClient;
let carol: ExchangeClient;
let watched: WatchedPage;

beforeAll(async () => {
  [running, browser] = await Promise.all([runExchange(), launchChromium()]);
  await listMarkets(running);
  await running.credit('alice', 'USDC', '100000');
  await running.credit('alice', 'BTC', '2');
  await running.credit('bob', 'BTC', '5');
  await running.credit('carol', 'USDC', '100000');
  bob = await running.client(await running.token('bob', ['trader']));
  carol = await running.client(await running.token('carol', ['trader']));
  // A last trade price at 30000.00: trailing stops trail from it.
  await bob.place({ market: SYMBOL, side: 'sell', type: 'limit', price: '30000.00', qty: '0.1000' });
  const bought = await carol.place({
    market: SYMBOL,
    side: 'buy',
    type: 'limit',
    price: '30000.00',
    qty: '0.1000',
  });
  expect(bought.status).toBe('filled');
  watched = await openPage(browser);
});

afterAll(async () => {
  await watched.close();
  await browser.close();
  await running.stop();
});

const page = () => watched.page;
/** The page's state lags the server's: poll as the other browser tests do. */
const POLL = { timeout: PAGE_WAIT.timeoutMs, interval: PAGE_WAIT.everyMs };

async function locked(asset: string): Promise<string | null> {
  await page().getByTestId('tab-balances').click();
  return page().locator(`[data-testid="balance"][data-asset="${asset}"]`).getAttribute('data-locked');
}

/** The open orders' rows as "type price-or-stop qty", sorted. */
async function openOrders(): Promise<string[]> {
  await page().getByTestId('tab-open').click();
  const rows: string[] = [];
  for (const row of await page().locator('[data-testid="open-order"]').all()) {
    const cells = await row.locator('td').allTextContents();
    rows.push(`${cells[2]} ${cells[3]} ${cells[4]}`);
  }
  return rows.sort();
}

function noErrors(): void {
  expect(watched.errors, `console:\n${watched.console.join('\n')}`).toEqual([]);
}

describe('issue 14: the order ticket places the new order types', () => {
  it('signs in', async () => {
    await page().goto(`${running.http}/#${SYMBOL}`);
    await page()
      .getByTestId('token-input')
      .fill(await running.token('alice', ['trader']));
    await page().getByTestId('sign-in').click();
    await expect.poll(() => page().getByTestId('session-user').textContent()).toContain('alice');
    await expect.poll(() => page().getByTestId('order-submit').isDisabled()).toBe(false);
    noErrors();
  });

  it('places an iceberg: the whole qty locked, only its slice on the book', async () => {
    await page().getByTestId('side-buy').check();
    await page().getByTestId('order-type').selectOption('limit');
    await page().getByTestId('order-price').fill('20000.00');
    await page().getByTestId('order-qty').fill('0.5000');
    await page().getByTestId('order-displayQty').fill('0.1000');
    await expect.poll(() => page().getByTestId('preview-lock').textContent()).toBe('10000.000000 USDC');
    await page().getByTestId('order-submit').click();
    await expect.poll(() => page().getByTestId('ticket-notice').textContent()).toContain('open');
    await expect.poll(openOrders, POLL).toEqual(['limit 20000.00 0.5000']);
    await expect.poll(() => locked('USDC'), POLL).toBe('10000.000000');
    // The book (and so every market-data channel) shows the slice, never the hidden rest.
    const level = page().locator('[data-testid="ladder-bid"][data-price="20000.00"]');
    await level.waitFor({ timeout: PAGE_WAIT.timeoutMs });
    expect(await level.getAttribute('data-qty')).toBe('0.1000');
    await page().getByTestId('order-displayQty').fill('');
    noErrors();
  });

  it('places a GTD limit with its date and time', async () => {
    const tomorrow = new Date(Date.now() + 24 * 3600_000);
    const pad = (n: number) => String(n).padStart(2, '0');
    const local =
      `${tomorrow.getFullYear()}-${pad(tomorrow.getMonth() + 1)}-${pad(tomorrow.getDate())}` +
      `T${pad(tomorrow.getHours())}:${pad(tomorrow.getMinutes())}`;
    await page().getByTestId('order-price').fill('19000.00');
    await page().getByTestId('order-qty').fill('0.0100');
    await page().getByTestId('order-tif').selectOption('GTD');
    await page().getByTestId('order-submit').click();
    await expect.poll(() => page().getByTestId('error-expireAt').textContent()).toBe('required for GTD');
    await page().getByTestId('order-expireAt').fill(local);
    await page().getByTestId('order-submit').click();
    await expect.poll(openOrders, POLL).toEqual(['limit 19000.00 0.0100', 'limit 20000.00 0.5000']);
    await page()
      .locator('[data-testid="open-order"]')
      .filter({ hasText: '19000.00' })
      .getByTestId('cancel')
      .click();
    await expect.poll(openOrders, POLL).toEqual(['limit 20000.00 0.5000']);
    await page().getByTestId('order-tif').selectOption('GTC');
    noErrors();
  });

  it('places a trailing stop: it trails from the last price, its stop among the open orders', async () => {
    await page().getByTestId('side-sell').check();
    await page().getByTestId('order-type').selectOption('trailing_stop');
    expect(await page().getByTestId('order-price').isVisible()).toBe(false);
    await page().getByTestId('order-trailBy').selectOption('offset');
    await page().getByTestId('order-trailingOffset').fill('500.00');
    await page().getByTestId('order-qty').fill('0.1000');
    await expect.poll(() => page().getByTestId('preview-lock').textContent()).toBe('0.1000 BTC');
    await page().getByTestId('order-submit').click();
    // Stop = last trade 30000.00 − 500.00.
    await expect.poll(openOrders, POLL).toEqual(['limit 20000.00 0.5000', 'trailing_stop 29500.00 0.1000']);
    await expect.poll(() => locked('BTC'), POLL).toBe('0.10000000');
    noErrors();
  });

  it('shows the lock before sending: a buy OCO its larger leg, a budgeted stop-market buy its budget', async () => {
    await page().getByTestId('side-buy').check();
    await page().getByTestId('order-type').selectOption('oco');
    await page().getByTestId('order-price').fill('28000.00');
    await page().getByTestId('order-stopPrice').fill('32000.00');
    await page().getByTestId('order-stopLimitPrice').fill('32500.00');
    await page().getByTestId('order-qty').fill('0.1000');
    // One lock for both legs: qty × max(28000.00, 32500.00).
    await expect.poll(() => page().getByTestId('preview-lock').textContent()).toBe('3250.000000 USDC');
    await page().getByTestId('order-stopLimitPrice').fill('');
    await page().getByTestId('order-type').selectOption('stop_market');
    await page().getByTestId('order-stopPrice').fill('31000.00');
    await page().getByTestId('order-qty').fill('');
    await page().getByTestId('order-quoteQty').fill('500.000000');
    await expect.poll(() => page().getByTestId('preview-lock').textContent()).toBe('500.000000 USDC');
    await page().getByTestId('order-quoteQty').fill('');
    noErrors();
  });

  it('refuses an OCO whose stop is not beyond its limit, next to the stop field', async () => {
    await page().getByTestId('side-sell').check();
    await page().getByTestId('order-type').selectOption('oco');
    await page().getByTestId('order-price').fill('40000.00');
    await page().getByTestId('order-stopPrice').fill('41000.00');
    await page().getByTestId('order-qty').fill('0.2000');
    await page().getByTestId('order-submit').click();
    await expect
      .poll(() => page().getByTestId('error-stopPrice').textContent())
      .toBe('a sell OCO stops below its limit');
    noErrors();
  });

  it('places a sell OCO: both legs open, one lock of its qty', async () => {
    await page().getByTestId('order-stopPrice').fill('25000.00');
    await expect.poll(() => page().getByTestId('preview-lock').textContent()).toBe('0.2000 BTC');
    await page().getByTestId('order-stp').selectOption('decrement');
    await page().getByTestId('order-submit').click();
    await expect.poll(() => page().getByTestId('ticket-notice').textContent()).toMatch(/^OCO \S+: limit/);
    await expect
      .poll(openOrders, POLL)
      .toEqual([
        'limit 20000.00 0.5000',
        'limit 40000.00 0.2000',
        'stop_market 25000.00 0.2000',
        'trailing_stop 29500.00 0.1000',
      ]);
    // The trailing stop's 0.1 and the OCO's one 0.2 (not one per leg).
    await expect.poll(() => locked('BTC'), POLL).toBe('0.30000000');
    await screenshot(page(), 'trading-order-types');
    noErrors();
  });

  it('a trade above the anchor moves the trailing sell stop up, and the page shows its new stop', async () => {
    await running.credit('carol', 'BTC', '1');
    await running.credit('bob', 'USDC', '10000');
    await carol.place({ market: SYMBOL, side: 'sell', type: 'limit', price: '30400.00', qty: '0.1000' });
    const bought = await bob.place({
      market: SYMBOL,
      side: 'buy',
      type: 'limit',
      price: '30400.00',
      qty: '0.1000',
    });
    expect(bought.status).toBe('filled');
    // A sell trails the highest trade: anchor 30400.00, stop 30400.00 − 500.00 (the order push).
    await expect.poll(openOrders, POLL).toContain('trailing_stop 29900.00 0.1000');
    noErrors();
  });
});
