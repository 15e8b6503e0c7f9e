import type { Browser, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExchangeError, type ExchangeClient } from '../../src/client/index.ts';
import type { Role } from '../../src/transport/auth.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { refuseCommits } from '../support/halt.ts';
import { listMarkets } from '../wire/fixtures.ts';
import { launchChromium, openPage, PAGE_WAIT, screenshot, type WatchedPage } from './support.ts';

/*
 * Issue 20, the flows added after the first pages: on `/`, the fills pane pages GET /fills (More),
 * a market the supervisor halts turns the banner on and the ticket off (market_status), and the
 * positions, price alerts and notification preferences panes work against their routes; on
 * `/issuer` a stale answer of GET /markets never overwrites a newer one; on `/admin` an operator
 * sets a compliance record.
 */

const SYMBOL = 'BTC-USDC';

let running: RunningExchange;
let browser: Browser;
let bob: ExchangeClient;
let alice: ExchangeClient;
let trader: WatchedPage;

beforeAll(async () => {
  [running, browser] = await Promise.all([runExchange(), launchChromium()]);
  await listMarkets(running);
  await running.credit('alice', 'USDC', '100000');
  await running.credit('bob', 'BTC', '5');
  alice = await running.client(await running.token('alice', ['trader']));
  bob = await running.client(await running.token('bob', ['trader']));
  trader = await openPage(browser);
});

afterAll(async () => {
  await trader.close();
  await browser.close();
  await running.stop();
});

const page = () => trader.page;

function noErrors(watched: WatchedPage, expected: RegExp = /status of 404/): void {
  // Pages probe routes a server may lack and show "not available" on 404 (by design).
  const errors = watched.errors.filter((e) => !expected.test(e));
  expect(errors, `console:\n${watched.console.join('\n')}`).toEqual([]);
}

async function signIn(watched: WatchedPage, path: string, userId: string, roles: Role[]): Promise<void> {
  await watched.page.goto(`${running.http}${path}`);
  await watched.page.getByTestId('token-input').fill(await running.token(userId, roles));
  await watched.page.getByTestId('sign-in').click();
  await expect.poll(() => watched.page.getByTestId('session-user').textContent()).toContain(userId);
}

describe('issue 20: account panes, halted markets, issuer ordering, compliance', () => {
  it('pages the fills from GET /fills', async () => {
    // 22 fills of one order: more than one page of the pane (20).
    for (let i = 0; i < 22; i++) {
      await bob.place({ market: SYMBOL, side: 'sell', type: 'limit', price: '30000.00', qty: '0.0100' });
    }
    await alice.place({ market: SYMBOL, side: 'buy', type: 'limit', price: '30000.00', qty: '0.2200' });
    await signIn(trader, `/#${SYMBOL}`, 'alice', ['trader']);
    await page().getByTestId('tab-fills').click();
    const rows = page().locator('[data-testid="fill"]');
    await expect.poll(() => rows.count(), { timeout: PAGE_WAIT.timeoutMs }).toBe(20);
    // Fees come with the history (BTC-USDC charges a taker 20 bps, in the BTC received).
    expect(await rows.first().textContent()).toContain('BTC');
    await page().getByTestId('fills-more').click();
    await expect.poll(() => rows.count()).toBe(22);
    expect(await page().getByTestId('fills-more').isHidden()).toBe(true);
    noErrors(trader);
  });

  it('shows a halted market as a banner and disables order entry until it runs again', async () => {
    await page().getByTestId('side-buy').check();
    await expect.poll(() => page().getByTestId('order-submit').isDisabled()).toBe(false);
    const market = (await running.request('GET', `/api/v1/markets/${SYMBOL}`)).body as { id: string };
    const halt = await refuseCommits(running.database.url, market.id);
    try {
      // The next commit of the market fails: the supervisor halts it while it rebuilds.
      const refused = await alice
        .place({ market: SYMBOL, side: 'buy', type: 'limit', price: '1000.00', qty: '0.0100' })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ExchangeError);
      expect((refused as ExchangeError).code).toBe('unavailable');
      await eventually(
        async () =>
          (await page().getByTestId('market-banner').getAttribute('data-state')) === 'halted' || undefined,
        { ...PAGE_WAIT, what: 'the halted banner' },
      );
      expect(await page().getByTestId('market-banner').textContent()).toContain('halted');
      expect(await page().getByTestId('order-submit').isDisabled()).toBe(true);
      await screenshot(page(), 'trading-halted');
    } finally {
      await halt.release();
    }
    await expect
      .poll(() => page().getByTestId('market-banner').isHidden(), { timeout: PAGE_WAIT.timeoutMs })
      .toBe(true);
    expect(await page().getByTestId('order-submit').isDisabled()).toBe(false);
    noErrors(trader);
  });

  it('shows positions, adds and deletes a price alert, and saves notification preferences', async () => {
    await page().getByTestId('tab-positions').click();
    const position = page().locator('[data-testid="position"][data-asset="BTC"]');
    await eventually(
      async () => {
        // The portfolio consumer catches up with the fills: read again until it has them.
        await page().getByTestId('tab-balances').click();
        await page().getByTestId('tab-positions').click();
        return (await position.getAttribute('data-qty', { timeout: 500 }).catch(() => null)) ?? undefined;
      },
      { ...PAGE_WAIT, what: 'the BTC position' },
    );
    expect(Number(await position.getAttribute('data-qty'))).toBeGreaterThan(0.2);
    expect(await page().getByTestId('portfolio-equity').textContent()).toContain('USDC');

    await page().getByTestId('tab-alerts').click();
    await page().getByTestId('alert-market').fill(SYMBOL);
    await page().getByTestId('alert-direction').selectOption('above');
    await page().getByTestId('alert-price').fill('40000.00');
    await page().getByTestId('alert-submit').click();
    const alert = page().locator('[data-testid="alert"]');
    await expect
      .poll(
        async () =>
          (await alert.count()) === 1 ? 'listed' : await page().getByTestId('alert-result').textContent(),
        { timeout: PAGE_WAIT.timeoutMs },
      )
      .toBe('listed');
    expect(await alert.first().textContent()).toContain('above 40000.00');
    const listed = await running.request('GET', '/api/v1/alerts', {
      token: await running.token('alice', ['trader']),
    });
    expect(listed.body).toMatchObject([{ market: SYMBOL, above: '40000.00', fired: false }]);
    await alert.first().getByTestId('alert-delete').click();
    await expect.poll(() => alert.count()).toBe(0);

    await page().getByTestId('tab-preferences').click();
    await expect.poll(() => page().getByTestId('pref-in-app').isChecked()).toBe(true);
    await page().getByTestId('pref-email').fill('alice@example.com');
    await page().getByTestId('pref-email-on').check();
    await page().getByTestId('pref-quiet-on').check();
    await page().getByTestId('pref-quiet-start').fill('22:00');
    await page().getByTestId('pref-quiet-end').fill('07:00');
    await page().getByTestId('pref-quiet-tz').fill('Africa/Johannesburg');
    await page().getByTestId('prefs-save').click();
    await expect.poll(() => page().getByTestId('prefs-result').textContent()).toBe('saved');
    const stored = await running.request('GET', '/api/v1/notifications/preferences', {
      token: await running.token('alice', ['trader']),
    });
    expect(stored.body).toMatchObject({
      channels: { in_app: { enabled: true }, email: { address: 'alice@example.com', enabled: true } },
      quietHours: { start: '22:00', end: '07:00', tz: 'Africa/Johannesburg' },
    });
    // An incomplete form is refused next to the button, nothing sent.
    await page().getByTestId('pref-email').fill('');
    await page().getByTestId('prefs-save').click();
    await expect.poll(() => page().getByTestId('prefs-result').textContent()).toContain('address');
    await screenshot(page(), 'trading-preferences');
    noErrors(trader);
  });

  it('keeps the issuer’s market list from being overwritten by a stale answer', async () => {
    const issuer = await openPage(browser);
    try {
      await signIn(issuer, '/issuer', 'issuer-9', ['trader', 'issuer']);
      // The first GET /markets after this point is held until a newer one has drawn.
      let held: { route: Route; body: string } | undefined;
      let holding = true;
      await issuer.page.route(/\/api\/v1\/markets$/, async (route) => {
        if (holding && held === undefined && route.request().method() === 'GET') {
          const response = await route.fetch();
          held = { route, body: await response.text() };
          return;
        }
        await route.continue();
      });
      await issuer.page.getByTestId('reg-tokenSymbol').fill('OLDAPT');
      await issuer.page.getByTestId('register-submit').click();
      await expect
        .poll(() => issuer.page.getByTestId('register-result').textContent())
        .toContain('OLDAPT-USDC: pending_approval');
      await eventually(() => held, { ...PAGE_WAIT, what: 'the held read' });
      holding = false;
      const rejected = await running.request('POST', '/api/v1/markets/OLDAPT-USDC/approve', {
        token: await running.token('ops', ['admin']),
        body: { decision: 'rejected', reason: 'documents missing' },
      });
      expect(rejected.status).toBe(200);
      const row = issuer.page.locator('[data-testid="my-market"][data-symbol="OLDAPT-USDC"]');
      await expect
        .poll(() => row.getAttribute('data-status'), { timeout: PAGE_WAIT.timeoutMs })
        .toBe('rejected');
      // The stale answer (the market still pending) arrives last: it must not draw.
      expect(held!.body).toContain('pending_approval');
      await held!.route.fulfill({ status: 200, contentType: 'application/json', body: held!.body });
      // The page has read the stale answer once a later read of its own came back.
      await issuer.page.evaluate(() => fetch('/api/v1/markets').then((r) => r.text()));
      await issuer.page.evaluate('new Promise((resolve) => requestAnimationFrame(resolve))');
      expect(await row.getAttribute('data-status')).toBe('rejected');
      noErrors(issuer);
    } finally {
      await issuer.close();
    }
  });

  it('sets a compliance record from /admin', async () => {
    const admin = await openPage(browser);
    try {
      await signIn(admin, '/admin', 'ops', ['admin']);
      await admin.page.getByTestId('cs-user').fill('alice');
      await admin.page.getByTestId('cs-asset').fill('OLDAPT');
      await admin.page.getByTestId('cs-kyc').selectOption('approved');
      await admin.page.getByTestId('cs-accredited').check();
      await admin.page.getByTestId('cs-submit').click();
      await expect.poll(() => admin.page.getByTestId('cs-result').textContent()).toBe('saved');
      await expect
        .poll(() => admin.page.getByTestId('compliance-records').textContent())
        .toContain('"accredited": true');
      const records = await running.request('GET', '/api/v1/admin/compliance/alice', {
        token: await running.token('ops', ['admin']),
      });
      expect(records.body).toMatchObject([
        { userId: 'alice', asset: 'OLDAPT', kycStatus: 'approved', allowlisted: true, accredited: true },
      ]);
      // A refusal of the route is shown, not swallowed.
      await admin.page.getByTestId('cs-wallet').fill('not-a-wallet');
      await admin.page.getByTestId('cs-submit').click();
      await expect.poll(() => admin.page.getByTestId('cs-result').textContent()).toContain('bad_request');
      await screenshot(admin.page, 'admin-compliance');
      // ... and the 400 of the bad wallet, sent on purpose.
      noErrors(admin, /status of 40[04]/);
    } finally {
      await admin.close();
    }
  });
});
