import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentsStandIn } from '../../scripts/payments/standIn.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { connect, startStandIn } from '../support/payments.ts';
import { attributes, launchChromium, openPage, PAGE_WAIT, screenshot, type WatchedPage } from './support.ts';

/*
 * Withdrawals in the actor-state visualizer (web/actors, `/dev/actors`; issue 15) in headless
 * Chromium against a whole exchange and the Paystack stand-in: a requested withdrawal appears as an
 * actor of the `withdrawal` machine in pending_approval; approved, the payout job walks it live
 * through approved → submitted → confirmed; another one rejected moves pending_approval → rejected.
 * A withdrawal open when the page connects is in its first snapshot.
 */

let standIn: PaymentsStandIn;
let running: RunningExchange;
let browser: Browser;
let watched: WatchedPage;
let admin: string;
let alice: string;

beforeAll(async () => {
  let env: Record<string, string>;
  ({ standIn, env } = await startStandIn());
  [running, browser] = await Promise.all([runExchange(env), launchChromium()]);
  connect(standIn, running);
  await running.asset('NGN', 2, 'fiat');
  await running.credit('alice', 'NGN', '1000.00');
  admin = await running.token('ops-admin', ['admin']);
  alice = await running.token('alice', ['trader']);
  watched = await openPage(browser);
}, 60_000);

afterAll(async () => {
  await watched.close();
  await browser.close();
  await running.stop();
  await standIn.close();
});

async function withdraw(amount: string): Promise<string> {
  const created = await running.request('POST', '/api/v1/withdrawals', {
    token: alice,
    body: { asset: 'NGN', amount, destination: 'RCP_alice1' },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return (created.body as { id: string }).id;
}

async function decide(id: string, decision: 'approve' | 'reject', body: Record<string, unknown> = {}) {
  const decided = await running.request('POST', `/api/v1/admin/withdrawals/${id}/${decision}`, {
    token: admin,
    body,
  });
  expect(decided.status, JSON.stringify(decided.body)).toBe(200);
}

function card(id: string) {
  return watched.page.locator(`[data-testid="withdrawal-card"][data-withdrawal-id="${id}"]`);
}

async function cardState(id: string): Promise<{ state: string | null; current: (string | null)[] }> {
  const c = card(id);
  if ((await c.count()) === 0) return { state: null, current: [] };
  return {
    state: await c.getAttribute('data-state'),
    current: await attributes(c.locator('[data-testid="actor-node"][data-current="true"]'), 'data-state'),
  };
}

async function untilState(id: string, state: string): Promise<void> {
  let seen: Awaited<ReturnType<typeof cardState>> | undefined;
  await eventually(async () => (seen = await cardState(id)).state === state, {
    ...PAGE_WAIT,
    what: () => `withdrawal ${id} shown in ${state}; last: ${JSON.stringify(seen)}`,
  });
  expect(await cardState(id)).toEqual({ state, current: [state] });
}

async function edges(id: string): Promise<string[]> {
  const rows = card(id).locator('[data-testid="actor-transition"]');
  const from = await attributes(rows, 'data-from');
  const to = await attributes(rows, 'data-to');
  const event = await attributes(rows, 'data-event');
  return from.map((f, i) => `${f}>${to[i]}:${event[i]}`).reverse();
}

describe('withdrawals in the actor-state visualizer', () => {
  let early: string;

  it('lists a withdrawal open before the page connected, on the withdrawal machine', async () => {
    early = await withdraw('10.00');
    const response = await watched.page.goto(`${running.http}/dev/actors?token=${encodeURIComponent(admin)}`);
    expect(response?.status()).toBe(200);
    await untilState(early, 'pending_approval');
    const states = await attributes(card(early).locator('[data-testid="actor-node"]'), 'data-state');
    expect(states).toEqual(
      expect.arrayContaining([
        'pending_approval',
        'approved',
        'submitted',
        'confirmed',
        'rejected',
        'failed',
      ]),
    );
    expect(await card(early).locator('h3').textContent()).toBe('10.00 NGN');
    expect(watched.errors, watched.console.join('\n')).toEqual([]);
  });

  it('walks an approved withdrawal live through approved → submitted → confirmed', async () => {
    await decide(early, 'approve');
    await untilState(early, 'confirmed');
    let listed: string[] = [];
    await eventually(async () => (listed = await edges(early)).length === 3, {
      ...PAGE_WAIT,
      what: () => `three transitions listed; ${JSON.stringify(listed)}`,
    });
    expect(await edges(early)).toEqual([
      'pending_approval>approved:withdrawal.approve',
      'approved>submitted:withdrawal.submit',
      'submitted>confirmed:withdrawal.confirm',
    ]);
    const seen = await watched.page.evaluate(
      (id) =>
        (
          globalThis as unknown as { __actors?: { withdrawal(id: string): { final: boolean } | undefined } }
        ).__actors?.withdrawal(id),
      early,
    );
    expect(seen).toMatchObject({ final: true, state: 'confirmed' });
    await screenshot(watched.page, 'actors-withdrawal-confirmed');
    expect(watched.errors, watched.console.join('\n')).toEqual([]);
  });

  it('shows a withdrawal requested while watching, then rejected with its reason', async () => {
    const id = await withdraw('25.00');
    await untilState(id, 'pending_approval');
    await decide(id, 'reject', { reason: 'documents missing' });
    await untilState(id, 'rejected');
    expect(await edges(id)).toEqual(['pending_approval>rejected:withdrawal.reject']);
    expect(await card(id).locator('.fault').textContent()).toBe('documents missing');
    // The confirmed one is still shown (recently finished).
    expect((await cardState(early)).state).toBe('confirmed');
    expect(watched.errors, watched.console.join('\n')).toEqual([]);
  });
});
