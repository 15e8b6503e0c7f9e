import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { launchChromium, openPage, PAGE_WAIT, screenshot, type WatchedPage } from './support.ts';

/*
 * Issue 20: the issuer's page registers an RWA market through its form and follows it live; the
 * admin's page approves it (with a reason) through the same routes outside clients use; the
 * issuer's page then shows it through deployment to `active`. Both sign in with the development
 * sign-in, which a server in development answers. Then the admin pauses it from the page.
 */

let running: RunningExchange;
let browser: Browser;
let issuer: WatchedPage;
let admin: WatchedPage;

beforeAll(async () => {
  [running, browser] = await Promise.all([runExchange({ NODE_ENV: 'development' }), launchChromium()]);
  await running.asset('USDC', 6, 'stable');
  [issuer, admin] = await Promise.all([openPage(browser), openPage(browser)]);
});

afterAll(async () => {
  await issuer.close();
  await admin.close();
  await browser.close();
  await running.stop();
});

function noErrors(watched: WatchedPage): void {
  // The admin page probes routes a server may lack, shown "not available" on 404 (by design).
  const errors = watched.errors.filter((e) => !/status of 404/.test(e));
  expect(errors, `console:\n${watched.console.join('\n')}`).toEqual([]);
}

describe('issue 20: issuer and admin pages', () => {
  it('registers an RWA from /issuer, approves it from /admin, and follows it to active', async () => {
    await issuer.page.goto(`${running.http}/issuer`);
    await issuer.page.getByTestId('dev-user').fill('issuer-7');
    await issuer.page.getByTestId('dev-sign-in').click();
    await expect.poll(() => issuer.page.getByTestId('session-user').textContent()).toContain('issuer-7');
    await issuer.page.getByTestId('reg-tokenSymbol').fill('SEAPT');
    await issuer.page.getByTestId('register-submit').click();
    await expect
      .poll(() => issuer.page.getByTestId('register-result').textContent())
      .toContain('SEAPT-USDC: pending_approval');
    await issuer.page
      .locator('[data-testid="timeline-state"][data-state="pending_approval"]')
      .waitFor({ timeout: PAGE_WAIT.timeoutMs });

    await admin.page.goto(`${running.http}/admin`);
    await admin.page.getByTestId('dev-sign-in').click();
    await expect.poll(() => admin.page.getByTestId('session-user').textContent()).toContain('admin');
    const row = admin.page.locator('[data-testid="admin-market"][data-symbol="SEAPT-USDC"]');
    await row.waitFor({ timeout: PAGE_WAIT.timeoutMs });
    expect(await row.getAttribute('data-status')).toBe('pending_approval');
    expect(await row.textContent()).toContain('Cape Town');
    await row.getByTestId('reason').fill('documents verified');
    await row.getByTestId('approve').click();

    await eventually(
      async () => {
        const states = await issuer.page.evaluate(
          () => (globalThis as unknown as { __issuer: { states: string[] } }).__issuer.states,
        );
        return states.includes('active') ? states : undefined;
      },
      { timeoutMs: 60_000, everyMs: 100, what: 'the issuer page to show the market active' },
    );
    // The approval and its reason, as the audit trail (a projection, read once it caught up) has it.
    const approval = await eventually(
      async () => {
        const events = await running.request('GET', '/api/v1/markets/SEAPT-USDC/events');
        if (!Array.isArray(events.body)) return undefined;
        return (events.body as { eventType: string; reason?: string }[]).find(
          (e) => e.eventType === 'market.approved',
        );
      },
      { ...PAGE_WAIT, what: 'the market.approved event' },
    );
    expect(approval.reason).toBe('documents verified');
    await expect
      .poll(
        () =>
          admin.page
            .locator('[data-testid="admin-market"][data-symbol="SEAPT-USDC"]')
            .getAttribute('data-status'),
        {
          timeout: PAGE_WAIT.timeoutMs,
        },
      )
      .toBe('active');
    expect(await admin.page.getByTestId('reconciliation').textContent()).not.toBe('—');
    await screenshot(issuer.page, 'issuer-active');
    noErrors(issuer);
    noErrors(admin);
  });

  it('pauses the market from /admin', async () => {
    const row = admin.page.locator('[data-testid="admin-market"][data-symbol="SEAPT-USDC"]');
    await row.getByTestId('pause').click();
    await expect
      .poll(
        () =>
          admin.page
            .locator('[data-testid="admin-market"][data-symbol="SEAPT-USDC"]')
            .getAttribute('data-status'),
        {
          timeout: PAGE_WAIT.timeoutMs,
        },
      )
      .toBe('paused');
    const market = await running.request('GET', '/api/v1/markets/SEAPT-USDC');
    expect(market.body).toMatchObject({ status: 'paused' });
    noErrors(admin);
  });
});
