import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo, type Demo } from '../../scripts/demo/run.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';

// HTTP bodies are JSON of many shapes; these tests read them field by field.
/* eslint-disable @typescript-eslint/no-unsafe-member-access */

/*
 * `npm run demo` without the CLI: the demo's set-up and bots (scripts/demo) against a whole
 * exchange on real sockets. Both markets trade within seconds, the RWA market went through the
 * issuance flow, the books are non-empty and bounded, the bots met no error besides the back-off
 * answers they handle, and stopping them leaves no bot order open (makers cancel theirs, takers
 * only send IOC orders).
 */

const LEVELS = 6;

/** The demo trades at its own pace: up to 20 s for what it should show. */
const DEMO_WAIT = { timeoutMs: 20_000, everyMs: 100 } as const;

describe('the demo', () => {
  let running: RunningExchange;
  let demo: Demo | undefined;
  const lines: string[] = [];

  beforeAll(async () => {
    // Moderate limits, as the demo sets them: the bots must live with them.
    running = await runExchange({
      RATE_ORDERS_PER_S: '100',
      RATE_ORDERS_BURST: '200',
      MAX_OPEN_ORDERS_PER_USER: '100',
    });
  });

  afterAll(async () => {
    await demo?.stop();
    await running.stop();
  });

  it('sets up both markets, trades on both, keeps books bounded and stops cleanly', async () => {
    demo = await runDemo({
      http: running.http,
      ws: running.ws,
      mint: (userId, roles) => running.token(userId, roles),
      WebSocket,
      seed: 7,
      levels: LEVELS,
      takerOrdersPerSecond: 5,
      stepMs: 200,
      activationTimeoutMs: 90_000,
      log: (line) => lines.push(line),
    });
    const symbols = [demo.markets.crypto.symbol, demo.markets.rwa.spec.symbol];
    expect(symbols).toEqual(['BTC-USDC', 'LUXAPT-USDC']);

    // The RWA market went through registration, approval and deployment.
    expect(demo.markets.rwa.registered).toBe(true);
    expect(demo.markets.rwa.transitions).toEqual([
      'pending_approval>approved',
      'approved>activating',
      'activating>active',
    ]);
    const events = await running.request('GET', `/api/v1/markets/${demo.markets.rwa.id}/events`);
    expect((events.body as { eventType: string }[]).map((e) => e.eventType)).toEqual([
      'market.registered',
      'market.approval_requested',
      'market.approved',
      'market.activation_started',
      'market.activated',
    ]);
    const rwa = await running.request('GET', '/api/v1/markets/LUXAPT-USDC');
    expect(rwa.body).toMatchObject({ status: 'active', assetType: 'real_estate' });
    expect(rwa.body.contractAddress).toMatch(/^0x[0-9a-fA-F]{40}$/);

    // Within seconds both markets trade (seen on the trades channel, then in the HTTP history).
    const current = demo;
    await eventually(() => current.figures().every((f) => f.trades >= 10), {
      ...DEMO_WAIT,
      what: () => `trades on both markets: ${JSON.stringify(current.figures())}`,
    });
    // Some requoting: every maker has amended its ladder a few times (what the bounds below see).
    const amended = () => current.makers.map((m) => m.stats.amended);
    await eventually(() => amended().every((n) => n >= 5), {
      ...DEMO_WAIT,
      what: () => `the makers to requote: ${JSON.stringify(amended())}`,
    });
    for (const symbol of symbols) {
      const trades = await eventually(
        async () => {
          const r = await running.request('GET', `/api/v1/markets/${symbol}/trades?limit=50`);
          return Array.isArray(r.body) && r.body.length > 0 && r;
        },
        { ...DEMO_WAIT, what: `trade history of ${symbol}` },
      );
      expect(trades.body[0]).toMatchObject({ market: symbol });

      // Books: both sides non-empty, at most the maker's ladder (takers never rest).
      const book = await running.request('GET', `/api/v1/markets/${symbol}/book?depth=0`);
      expect(book.body.bids.length).toBeGreaterThan(0);
      expect(book.body.asks.length).toBeGreaterThan(0);
      expect(book.body.bids.length).toBeLessThanOrEqual(LEVELS);
      expect(book.body.asks.length).toBeLessThanOrEqual(LEVELS);
      expect(Number(book.body.bids[0][0])).toBeLessThan(Number(book.body.asks[0][0]));
    }
    const figures = demo.figures();
    for (const f of figures) expect(f.bookResyncs).toBe(0);

    // Every bot worked, within its bounds, without unexpected errors.
    for (const stats of demo.botStats()) {
      expect(stats.placed, stats.name).toBeGreaterThan(0);
      expect(stats.errors, `${stats.name}: ${lines.join('\n')}`).toEqual({});
      expect(stats.maxOpenOrders, stats.name).toBeLessThanOrEqual(2 * LEVELS);
    }
    for (const maker of demo.makers) {
      expect(maker.stats.trades, maker.stats.name).toBeGreaterThan(0);
      expect(maker.stats.amended, maker.stats.name).toBeGreaterThan(0);
      const open = await openOrders(demo, maker.stats.name);
      expect(open.length).toBeGreaterThan(0);
      expect(open.length).toBeLessThanOrEqual(2 * LEVELS);
    }

    // Stopping leaves no bot order open, and so (only bots trade here) empty books.
    await demo.stop();
    for (const users of demo.users.values()) {
      for (const user of users) expect(await openOrders(demo, user), user).toEqual([]);
    }
    for (const symbol of symbols) {
      const book = await running.request('GET', `/api/v1/markets/${symbol}/book?depth=0`);
      expect(book.body).toMatchObject({ bids: [], asks: [] });
    }
    for (const stats of demo.botStats()) {
      expect(stats.openOrders).toBe(0);
      expect(stats.errors, stats.name).toEqual({});
    }
  }, 120_000);

  /** A user's open orders (open or partially filled), over HTTP with its token, by order id. */
  async function openOrders(current: Demo, userId: string): Promise<string[]> {
    const token = current.tokens.get(userId)!;
    const found = new Set<string>();
    // Two reads: an order that turns partially filled between them shows in both.
    for (const status of ['open', 'partially_filled']) {
      const answer = await running.request('GET', `/api/v1/orders?status=${status}`, { token });
      expect(answer.status).toBe(200);
      for (const order of answer.body as { orderId: string }[]) found.add(order.orderId);
    }
    return [...found];
  }
});
