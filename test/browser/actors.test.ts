import pg from 'pg';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExchangeClient } from '../../src/client/index.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets } from '../wire/fixtures.ts';
import { attributes, launchChromium, openPage, PAGE_WAIT, screenshot, type WatchedPage } from './support.ts';

/*
 * The actor-state visualizer (web/actors, served at `/dev/actors`) in headless Chromium against a
 * whole exchange: with an admin token from `?token=` it goes live and draws every market on its
 * machine's diagram; an admin pausing and resuming a market moves its card and its diagram
 * `active → paused → active` with the transitions listed; and under bursts of orders the mailbox
 * depth it shows goes above zero and back to zero.
 */

const SYMBOL = 'ETH-USDC';

interface MarketSeen {
  state: string;
  mailboxDepth: number;
  processedPerSec: number;
  lastBatchSize: number;
  processed: number;
  recent: { from: string; to: string; event: string }[];
}

let running: RunningExchange;
let browser: Browser;
let watched: WatchedPage;
let adminToken: string;

beforeAll(async () => {
  [running, browser] = await Promise.all([
    runExchange({ RATE_ORDERS_PER_S: '100000', RATE_ORDERS_BURST: '100000' }),
    launchChromium(),
  ]);
  await listMarkets(running);
  adminToken = await running.token('ops', ['admin']);
  watched = await openPage(browser);
});

afterAll(async () => {
  await watched.close();
  await browser.close();
  await running.stop();
});

function actors(): Promise<{ status: string; messages: number; markets: string[] } | undefined> {
  return watched.page.evaluate(() => {
    const a = (
      globalThis as unknown as { __actors?: { status: string; messages: number; markets: string[] } }
    ).__actors;
    return a === undefined ? undefined : { status: a.status, messages: a.messages, markets: [...a.markets] };
  });
}

function market(symbol: string): Promise<MarketSeen | undefined> {
  return watched.page.evaluate((s) => {
    const a = (globalThis as unknown as { __actors?: { market(symbol: string): MarketSeen | undefined } })
      .__actors;
    return a?.market(s);
  }, symbol);
}

function card(symbol: string) {
  return watched.page.locator(`[data-testid="actor-card"][data-market="${symbol}"]`);
}

async function cardState(symbol: string): Promise<{ state: string | null; current: (string | null)[] }> {
  const c = card(symbol);
  return {
    state: await c.getAttribute('data-state'),
    current: await attributes(c.locator('[data-testid="actor-node"][data-current="true"]'), 'data-state'),
  };
}

describe('the actor-state visualizer', () => {
  it('goes live with an admin token from ?token= and draws every market on its diagram', async () => {
    const response = await watched.page.goto(
      `${running.http}/dev/actors?token=${encodeURIComponent(adminToken)}`,
    );
    expect(response?.status()).toBe(200);
    let seen: Awaited<ReturnType<typeof actors>>;
    const last = () => `; last: ${JSON.stringify(seen)}`;
    await eventually(async () => (seen = await actors())?.status === 'live', {
      ...PAGE_WAIT,
      what: () => `the page to go live${last()}`,
    });
    await eventually(
      async () => {
        seen = await actors();
        return seen !== undefined && seen.markets.includes('BTC-USDC') && seen.markets.includes(SYMBOL);
      },
      { ...PAGE_WAIT, what: () => `both markets${last()}` },
    );
    // The token left the address bar.
    expect(watched.page.url()).not.toContain('token=');
    expect(await watched.page.getByTestId('token-form').isHidden()).toBe(true);
    await eventually(async () => (await cardState(SYMBOL)).state === 'active', {
      ...PAGE_WAIT,
      what: 'the card in state active',
    });
    expect(await cardState(SYMBOL)).toEqual({ state: 'active', current: ['active'] });
    // The diagram has the machine's states.
    const states = await attributes(card(SYMBOL).locator('[data-testid="actor-node"]'), 'data-state');
    expect(states).toEqual(expect.arrayContaining(['draft', 'active', 'paused', 'archived']));
    expect(watched.errors, watched.console.join('\n')).toEqual([]);
  });

  it('shows a market moving active → paused → active when an admin pauses and resumes it', async () => {
    const pause = await running.request('POST', `/api/v1/markets/${SYMBOL}/pause`, { token: adminToken });
    expect(pause.status, JSON.stringify(pause.body)).toBe(200);
    await eventually(async () => (await cardState(SYMBOL)).state === 'paused', {
      ...PAGE_WAIT,
      what: 'the card in state paused',
    });
    expect(await cardState(SYMBOL)).toEqual({ state: 'paused', current: ['paused'] });
    await card(SYMBOL)
      .locator('[data-testid="actor-transition"][data-from="active"][data-to="paused"]')
      .waitFor();
    await screenshot(watched.page, 'actors-paused');

    const resume = await running.request('POST', `/api/v1/markets/${SYMBOL}/resume`, { token: adminToken });
    expect(resume.status, JSON.stringify(resume.body)).toBe(200);
    await eventually(async () => (await cardState(SYMBOL)).state === 'active', {
      ...PAGE_WAIT,
      what: 'the card back in state active',
    });
    expect(await cardState(SYMBOL)).toEqual({ state: 'active', current: ['active'] });
    const resumed = card(SYMBOL).locator(
      '[data-testid="actor-transition"][data-from="paused"][data-to="active"]',
    );
    await resumed.waitFor();
    expect(await resumed.getAttribute('data-event')).toBe('lifecycle.resume');
    expect(
      await card(SYMBOL)
        .locator('[data-testid="actor-transition"][data-from="active"][data-to="paused"]')
        .getAttribute('data-event'),
    ).toBe('lifecycle.pause');
    const seen = await market(SYMBOL);
    expect(seen?.recent.map((t) => `${t.from}>${t.to}`)).toEqual(
      expect.arrayContaining(['active>paused', 'paused>active']),
    );
    // The other market did not move.
    expect((await cardState('BTC-USDC')).state).toBe('active');
    await screenshot(watched.page, 'actors-resumed');
    expect(watched.errors, watched.console.join('\n')).toEqual([]);
  });

  it('shows the mailbox depth going above zero under load and back to zero', async () => {
    // Every figure the page is given, recorded in the page as it changes (the DOM is the truth).
    await watched.page.evaluate(`(() => {
      const seen = [];
      globalThis.__depths = seen;
      const node = document.querySelector(
        '[data-testid="actor-card"][data-market="${SYMBOL}"] [data-testid="mailbox-depth"]',
      );
      if (node === null) throw new Error('no mailbox-depth');
      new MutationObserver(() => {
        seen.push(Number((node.textContent ?? '').replace(/[^0-9.]/g, '')));
      }).observe(node, { childList: true, characterData: true, subtree: true });
    })()`);
    const depths = () =>
      watched.page.evaluate(() => [...(globalThis as unknown as { __depths: number[] }).__depths]);

    const traders: ExchangeClient[] = [];
    for (let i = 0; i < 4; i++) {
      const user = `loader-${i}`;
      await running.credit(user, 'ETH', '100000');
      await running.credit(user, 'USDC', '100000000');
      traders.push(await running.client(await running.token(user, ['trader'])));
    }
    // Sustained load: requests in flight at all times (buyers and sellers crossing at one price,
    // so open orders stay few). The page shows the most commands waiting at once in each 250 ms
    // window; should the load alone not queue anything, the test stalls the journal's commits for
    // a moment (a lock on its table), as a slow disk would: the mailbox fills behind them.
    let sent = 0;
    let stop = false;
    const failures = new Map<string, number>();
    const pump = async (client: ExchangeClient, side: 'buy' | 'sell') => {
      while (!stop) {
        sent++;
        await client
          .place({ market: SYMBOL, side, type: 'limit', price: '3000.00', qty: '0.010' })
          .catch((error: unknown) => {
            const code = (error as { code?: string }).code ?? String(error);
            failures.set(code, (failures.get(code) ?? 0) + 1);
          });
      }
    };
    const pumps = traders.flatMap((client, i) =>
      Array.from({ length: 800 }, () => pump(client, i % 2 === 0 ? 'buy' : 'sell')),
    );
    const db = new pg.Client({ connectionString: running.database.url });
    await db.connect();
    const queued = () =>
      running.exchange.supervisor.list().find((m) => m.symbol === SYMBOL)?.mailboxDepth ?? 0;
    try {
      if (!(await depths()).some((d) => d > 0)) {
        await db.query('BEGIN');
        await db.query('LOCK TABLE journal IN EXCLUSIVE MODE');
        try {
          // Locked until commands wait behind the stalled commit (the server's own figure).
          await eventually(() => queued() > 0, {
            what: () => `commands queued behind the locked journal (${sent} sent)`,
          });
        } finally {
          await db.query('COMMIT');
        }
      }
      // The batch after the stall carries the peak: the page shows it within a window or two.
      await eventually(async () => (await depths()).some((d) => d > 0), {
        ...PAGE_WAIT,
        what: () => `a mailbox depth > 0 shown; ${sent} orders (failed: ${JSON.stringify([...failures])})`,
      });
    } finally {
      stop = true;
      await Promise.all(pumps);
      await db.end();
    }
    const shown = await depths();
    expect(Math.max(...shown)).toBeGreaterThan(0);
    const figures = await market(SYMBOL);
    expect(figures?.processed).toBeGreaterThanOrEqual(sent * 0.5);
    await screenshot(watched.page, 'actors-load');
    // Idle again: the page comes back to an empty mailbox.
    await eventually(async () => (await market(SYMBOL))?.mailboxDepth === 0, {
      ...PAGE_WAIT,
      timeoutMs: 10_000,
      what: 'the mailbox depth back to 0',
    });
    let depthText: string | null = null;
    await eventually(
      async () => (depthText = await card(SYMBOL).getByTestId('mailbox-depth').textContent()) === '0',
      {
        ...PAGE_WAIT,
        what: () => `the shown depth back to 0; last: ${JSON.stringify(depthText)}`,
      },
    );
    expect(watched.errors, watched.console.join('\n')).toEqual([]);
  });
});
