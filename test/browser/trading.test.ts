import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExchangeClient } from '../../src/client/index.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets } from '../wire/fixtures.ts';
import { launchChromium, openPage, PAGE_WAIT, screenshot, type WatchedPage } from './support.ts';

/*
 * Issue 20: the trading page (web/dashboard at `/`) in Chromium against a whole exchange. A user
 * signs in with a pasted token, places a limit order from the ticket (lock preview, then the
 * order in "Open orders" and the locked balance), amends it inline, cancels it, trades against a
 * resting order (a fill and the balance change), sees contract errors next to the field, and an
 * admin's pause turns the banner on and the ticket off.
 */

const SYMBOL = 'BTC-USDC';

let running: RunningExchange;
let browser: Browser;
let bob: ExchangeClient;
let watched: WatchedPage;
let adminToken: string;

beforeAll(async () => {
  [running, browser] = await Promise.all([runExchange(), launchChromium()]);
  await listMarkets(running);
  await running.credit('alice', 'USDC', '100000');
  await running.credit('alice', 'BTC', '2');
  await running.credit('bob', 'BTC', '5');
  bob = await running.client(await running.token('bob', ['trader']));
  adminToken = await running.token('ops', ['admin']);
  watched = await openPage(browser);
  watched.page.on('response', (response) => {
    if (response.status() === 404) missing.push(response.url());
  });
});

afterAll(async () => {
  await watched.close();
  await browser.close();
  await running.stop();
});

const page = () => watched.page;

async function balance(asset: string): Promise<{ available: string | null; locked: string | null }> {
  const row = page().locator(`[data-testid="balance"][data-asset="${asset}"]`);
  return {
    available: await row.getAttribute('data-available'),
    locked: await row.getAttribute('data-locked'),
  };
}

/** Routes a page probes and shows as "not available" when the server lacks them (404 by design). */
const missing: string[] = [];

function noErrors(): void {
  // The browser logs every 404 it fetched; those of the probed routes are the design, not a fault.
  const errors = watched.errors.filter((e) => !/status of 404/.test(e));
  expect(errors, `console:\n${watched.console.join('\n')}`).toEqual([]);
  expect(missing.filter((url) => !PROBED.some((p) => url.includes(p)))).toEqual([]);
}

// ... and the withdrawal of an unknown asset, which the funding test sends on purpose.
const PROBED = ['/funding/address', '/admin/reconciliation', '/dev/token', '/api/v1/withdrawals'];

describe('issue 20: the trading page', () => {
  it('signs in with a pasted token and shows balances', async () => {
    await page().goto(`${running.http}/#${SYMBOL}`);
    // Signed out: market data only, the ticket disabled.
    await expect.poll(() => page().getByTestId('order-submit').isDisabled()).toBe(true);
    await page()
      .getByTestId('token-input')
      .fill(await running.token('alice', ['trader']));
    await page().getByTestId('sign-in').click();
    await expect.poll(() => page().getByTestId('session-user').textContent()).toContain('alice');
    await page().getByTestId('tab-balances').click();
    await expect.poll(async () => (await balance('USDC')).available).toBe('100000.000000');
    await expect.poll(() => page().getByTestId('order-submit').isDisabled()).toBe(false);
    noErrors();
  });

  it('finds markets by search and lists favourites first', async () => {
    const symbols = async () => {
      const shown: (string | null)[] = [];
      for (const item of await page().locator('.market-item:not([hidden])').all()) {
        shown.push(await item.getAttribute('data-symbol'));
      }
      return shown;
    };
    await expect.poll(symbols).toEqual(['BTC-USDC', 'ETH-USDC']);
    await page().locator('.market-item[data-symbol="ETH-USDC"]').getByTestId('favourite').click();
    await expect.poll(symbols).toEqual(['ETH-USDC', 'BTC-USDC']);
    await page().getByTestId('market-search').fill('btc');
    await expect.poll(symbols).toEqual(['BTC-USDC']);
    await page().getByTestId('market-search').fill('');
    await page().locator('.market-item[data-symbol="ETH-USDC"]').getByTestId('favourite').click();
    await expect.poll(symbols).toEqual(['BTC-USDC', 'ETH-USDC']);
    noErrors();
  });

  it('places a limit order from the ticket, amends it inline and cancels it', async () => {
    await page().getByTestId('side-buy').check();
    await page().getByTestId('order-type').selectOption('limit');
    await page().getByTestId('order-price').fill('20000.00');
    await page().getByTestId('order-qty').fill('0.5000');
    // The lock before sending: price × qty in USDC.
    await expect.poll(() => page().getByTestId('preview-lock').textContent()).toBe('10000.000000 USDC');
    await page().getByTestId('order-submit').click();

    await page().getByTestId('tab-open').click();
    const row = page().locator('[data-testid="open-order"][data-price="20000.00"]');
    await row.waitFor({ timeout: PAGE_WAIT.timeoutMs });
    expect(await row.getAttribute('data-qty')).toBe('0.5000');
    await page().getByTestId('tab-balances').click();
    await expect.poll(async () => (await balance('USDC')).locked).toBe('10000.000000');

    await page().getByTestId('tab-open').click();
    await row.getByTestId('amend').click();
    await row.getByTestId('amend-qty').fill('0.2500');
    await row.getByTestId('amend-save').click();
    await expect
      .poll(() =>
        page().locator('[data-testid="open-order"][data-price="20000.00"]').getAttribute('data-qty'),
      )
      .toBe('0.2500');
    await page().getByTestId('tab-balances').click();
    await expect.poll(async () => (await balance('USDC')).locked).toBe('5000.000000');

    await page().getByTestId('tab-open').click();
    await page().locator('[data-testid="open-order"][data-price="20000.00"]').getByTestId('cancel').click();
    await expect.poll(() => page().locator('[data-testid="open-order"]').count()).toBe(0);
    await page().getByTestId('tab-balances').click();
    await expect.poll(async () => (await balance('USDC')).locked).toBe('0.000000');
    noErrors();
  });

  it('fills the price from a ladder click, trades, and shows the fill and the balance change', async () => {
    await bob.place({ market: SYMBOL, side: 'sell', type: 'limit', price: '30000.00', qty: '1.0000' });
    const ask = page().locator('[data-testid="ladder-ask"][data-price="30000.00"]');
    await ask.waitFor({ timeout: PAGE_WAIT.timeoutMs });
    await ask.click();
    expect(await page().getByTestId('order-price').inputValue()).toBe('30000.00');
    await page().getByTestId('order-qty').fill('0.1000');
    await page().getByTestId('order-submit').click();
    await expect.poll(() => page().getByTestId('ticket-notice').textContent()).toContain('filled');
    await page().getByTestId('tab-fills').click();
    await page().locator('[data-testid="fill"]').first().waitFor({ timeout: PAGE_WAIT.timeoutMs });
    // The user's own trade is marked on the tape.
    const tradeId = await page().locator('[data-testid="fill"]').first().getAttribute('data-trade-id');
    await expect
      .poll(() =>
        page().locator(`[data-testid="tape-row"][data-trade-id="${tradeId}"]`).getAttribute('class'),
      )
      .toContain('own');
    await page().getByTestId('tab-balances').click();
    await expect.poll(async () => (await balance('BTC')).available).not.toBe('2.00000000');
    await expect.poll(async () => (await balance('USDC')).available).not.toBe('100000.000000');
    await page().getByTestId('tab-history').click();
    await expect
      .poll(() => page().locator('[data-testid="history-order"][data-status="filled"]').count())
      .toBeGreaterThan(0);
    // A day's candle, built in the page from the served hourly ones, holds the trade.
    await page().locator('[data-testid="interval"][data-interval="1d"]').click();
    await expect
      .poll(() =>
        page().evaluate(
          () => (globalThis as unknown as { __dashboard: { candles: number } }).__dashboard.candles,
        ),
      )
      .toBeGreaterThan(0);
    expect(await page().getByTestId('ohlc-legend').textContent()).toContain('C 30000.00');
    await page().locator('[data-testid="interval"][data-interval="1m"]').click();
    await screenshot(page(), 'trading-filled');
    noErrors();
  });

  it('counts unread notifications (of the fill) and marks them read', async () => {
    const unread = async () => Number(await page().getByTestId('unread-count').textContent());
    await expect.poll(unread, { timeout: PAGE_WAIT.timeoutMs }).toBeGreaterThan(0);
    const before = await unread();
    await page().getByTestId('tab-notifications').click();
    await page()
      .locator('[data-testid="notification"][data-read="false"]')
      .first()
      .getByTestId('mark-read')
      .click();
    await expect.poll(unread).toBe(before - 1);
    await page().getByTestId('read-all').click();
    await expect.poll(unread).toBe(0);
    noErrors();
  });

  it('shows contract errors next to the field they concern', async () => {
    await page().getByTestId('order-type').selectOption('limit');
    await page().getByTestId('order-price').fill('30000.005');
    await page().getByTestId('order-qty').fill('0.1000');
    await page().getByTestId('order-submit').click();
    await expect.poll(() => page().getByTestId('error-price').textContent()).toContain('decimals');
    // Too much for the balance: the server's insufficient_funds, next to the quantity.
    await page().getByTestId('order-price').fill('3000.00');
    await page().getByTestId('order-qty').fill('50.0000');
    await page().getByTestId('order-submit').click();
    await expect.poll(() => page().getByTestId('error-qty').textContent()).toContain('insufficient_funds');
    noErrors();
  });

  it('sends the funding forms through the SDK and shows what the server answers', async () => {
    await page().getByTestId('tab-funding').click();
    // The custody address the server assigned to alice (GET /funding/address, issue 16).
    const answer = await running.request('GET', '/api/v1/funding/address', {
      token: await running.token('alice', ['trader']),
    });
    const { address } = answer.body as { address: string };
    expect(address).toMatch(/^0x[0-9a-fA-F]{40}$/);
    await expect.poll(() => page().getByTestId('deposit-address').textContent()).toBe(address);
    await page().getByTestId('withdraw-asset').fill('NOPE');
    await page().getByTestId('withdraw-amount').fill('1.00');
    await page().getByTestId('withdraw-destination').fill('0x0000000000000000000000000000000000000001');
    await page().getByTestId('withdraw-submit').click();
    await expect
      .poll(() => page().getByTestId('withdraw-result').textContent())
      .toBe('not_found: unknown asset NOPE');
    noErrors();
  });

  it('a paused market shows a banner and disables order entry', async () => {
    const paused = await running.request('POST', `/api/v1/markets/${SYMBOL}/pause`, {
      token: adminToken,
      body: { reason: 'maintenance' },
    });
    expect(paused.status).toBe(200);
    await eventually(async () => (await page().getByTestId('market-banner').isVisible()) || undefined, {
      ...PAGE_WAIT,
      what: 'the paused banner',
    });
    expect(await page().getByTestId('market-banner').textContent()).toContain('paused');
    expect(await page().getByTestId('order-submit').isDisabled()).toBe(true);
    const resumed = await running.request('POST', `/api/v1/markets/${SYMBOL}/resume`, { token: adminToken });
    expect(resumed.status).toBe(200);
    await expect.poll(() => page().getByTestId('order-submit').isDisabled()).toBe(false);
    noErrors();
  });

  it('the development sign-in is refused outside development', async () => {
    const answer = await running.request('POST', '/api/v1/dev/token', {
      body: { userId: 'x', roles: ['trader'] },
    });
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ error: { code: 'not_found' } });
  });
});
