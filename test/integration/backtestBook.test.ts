import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { OrderBook } from '../../src/actors/book/orderBook.ts';
import type { BookEvent, PlaceCommand } from '../../src/actors/book/types.ts';
import type { ListedMarket } from '../../src/actors/catalog.ts';
import { createMarketMoney } from '../../src/actors/money.ts';
import type {
  BatchEntry,
  JournalBatch,
  MarketCommand,
  MarketDefinition,
} from '../../src/actors/market/types.ts';
import {
  flowOfBatches,
  recordedBars,
  simulateBook,
  BACKTEST_USER,
  type BookMarket,
  type RecordedCommand,
} from '../../src/analytics/backtest/book.ts';
import { planOf } from '../../src/analytics/backtest/config.ts';
import { performanceOf, YEAR_MS } from '../../src/analytics/backtest/metrics.ts';
import { runPlan } from '../../src/analytics/backtest/run.ts';
import { momentum } from '../../src/analytics/backtest/strategies/momentum.ts';
import { HOLD, LONG, FLAT } from '../../src/analytics/backtest/strategy.ts';
import { Backtests } from '../../src/analytics/backtests.ts';
import { decodeBatch, encodeBatch } from '../../src/persistence/journalCodec.ts';
import { getBacktest } from '../../src/persistence/backtestStore.ts';
import { useTestDatabase } from '../support/database.ts';

/*
 * Issue 18, the `book` fill model, on a journal worked by hand. The recorded flow is made by the
 * real engine (each command's events as the market actor journals them), encoded with the journal
 * codec, written into the test database's `journal` table and read back by the service; the run
 * goes through the worker thread like any back-test.
 *
 * Market: ticks of 0.01 USDC, lots of 1 (qtyDecimals 0), so a price of 102 ticks is 1.02 and cash
 * is in cents. Minute bars from T0; momentum(lookback 1), fees 0, capital 4.08.
 *
 *   m0  1 sam sell 1 @1.00 rests; 2 bea buy 1 @1.00 trades 1.00              bar0 close 1.00
 *   m1  3 sam sell 1 @1.01; 4 bea buy 1 @1.01 trades 1.01                     bar1 close 1.01 → LONG
 *       5 ann sell 2 @1.02, 6 bob sell 3 @1.02 (behind ann), 7 cat sell 5 @1.03
 *       ── strategy: market buy, budget 408 → 2 from ann (queue head), 2 from bob, both @1.02
 *   m2  8 dan buy 2 @1.02 IOC: recorded it took ann's 2; replayed it meets bob's last 1 and the
 *       rest is canceled                                                     bar2 close 1.02 (recorded)
 *   m3  9 eve sell 1 @1.01; 10 fay buy 1 @1.01 trades 1.01                    bar3 close 1.01 → FLAT
 *       11 gus buy 4 @1.00, 12 hal buy 4 @1.00 (behind gus)
 *       ── strategy: market sell 4 → all 4 from gus (queue head) @1.00
 *   m4  13 ivy sell 1 @0.99: recorded it took 1 of gus's; replayed it meets hal's  bar4 close 1.00
 *
 * Equity: 408, 408, 4×102 = 408, 4×101 = 404, 400 (cents). One round trip, pnl 400 − 408 = −8.
 */

const Count = z.object({ n: z.number() });
const T0 = 1_700_000_040_000 - (1_700_000_040_000 % 60_000);
const MINUTE = 60_000;
const DEFINITION: MarketDefinition = {
  id: 'm-bt',
  symbol: 'BT-USDC',
  baseAsset: 'BT',
  quoteAsset: 'USDC',
  money: { priceDecimals: 2, qtyDecimals: 0, tickSize: '0.01', lotSize: '1', minQty: '1', maxQty: '1000000' },
  makerFeeBps: 0,
  takerFeeBps: 0,
  maxOrders: 1_000,
};
const LISTED: ListedMarket = {
  definition: DEFINITION,
  money: createMarketMoney(DEFINITION.money),
  baseDecimals: 0,
  quoteDecimals: 6,
};
const MARKET: BookMarket = { book: { maxOrders: 1_000, maxQty: 1_000_000 }, tickUnits: 1, lotUnits: 1 };
const WINDOW = { from: T0, to: T0 + 5 * MINUTE, intervalMs: MINUTE };

function limit(userId: string, side: 'buy' | 'sell', qty: number, price: number, tif: 'GTC' | 'IOC' = 'GTC') {
  return {
    kind: 'place',
    userId,
    side,
    type: 'limit',
    qty,
    price,
    tif,
    postOnly: false,
    stp: 'cancel_taker',
  } as const;
}

/** [minute, command] in order; the recorded flow of the comment above. */
const RECORDED: readonly (readonly [number, MarketCommand])[] = [
  [0, limit('sam', 'sell', 1, 100)],
  [0, limit('bea', 'buy', 1, 100)],
  [1, limit('sam', 'sell', 1, 101)],
  [1, limit('bea', 'buy', 1, 101)],
  [1, limit('ann', 'sell', 2, 102)],
  [1, limit('bob', 'sell', 3, 102)],
  [1, limit('cat', 'sell', 5, 103)],
  [2, limit('dan', 'buy', 2, 102, 'IOC')],
  [3, limit('eve', 'sell', 1, 101)],
  [3, limit('fay', 'buy', 1, 101)],
  [3, limit('gus', 'buy', 4, 100)],
  [3, limit('hal', 'buy', 4, 100)],
  [4, limit('ivy', 'sell', 1, 99)],
];

/** The journal batches the exchange would have written: the real engine's events, one batch a minute. */
function journal(): JournalBatch[] {
  const book = new OrderBook(MARKET.book);
  const batches: JournalBatch[] = [];
  let orderId = 0;
  RECORDED.forEach(([minute, command], i) => {
    const id = ++orderId;
    const events = book.execute({ ...(command as Omit<PlaceCommand, 'orderId'>), orderId: id });
    const entry: BatchEntry = {
      seq: i + 1,
      ts: T0 + minute * MINUTE + i,
      command,
      result: { ok: true, seq: i + 1, orderId: id, events },
      postings: [],
    };
    const last = batches.at(-1);
    if (last !== undefined && Math.floor((last.entries[0]!.ts - T0) / MINUTE) === minute)
      (last.entries as BatchEntry[]).push(entry);
    else
      batches.push({ marketId: DEFINITION.id, symbol: DEFINITION.symbol, state: 'active', entries: [entry] });
  });
  return batches;
}

const makersOf = (events: readonly BookEvent[]) =>
  events.flatMap((e) => (e.type === 'fill' ? [[e.makerUserId, e.qty, e.price]] : []));

describe('the book fill model (pure core)', () => {
  const flow: RecordedCommand[] = flowOfBatches(
    DEFINITION.id,
    journal().map((b) => decodeBatch(encodeBatch(b))),
  );

  it('makes bars from the recorded trades', () => {
    const series = recordedBars(flow, MARKET, WINDOW, 2, 0);
    expect([...series.t]).toEqual([0, 1, 2, 3, 4].map((m) => T0 + m * MINUTE));
    expect([...series.c]).toEqual([100, 101, 102, 101, 100]);
    expect([...series.o]).toEqual([100, 101, 102, 101, 100]);
    expect([...series.v]).toEqual([1, 1, 2, 1, 1]);
  });

  it('meets the resting liquidity in queue order, and the recorded flow meets what is left', () => {
    const series = recordedBars(flow, MARKET, WINDOW, 2, 0);
    const seen: (readonly unknown[])[] = [];
    const simulation = simulateBook(
      flow,
      MARKET,
      WINDOW,
      series,
      momentum.create({ lookback: 1, thresholdBps: 0 }, series),
      { initialCash: 408n, feeBps: 0, slippageBps: 0 },
      (recorded, events) => {
        if (recorded.command.kind === 'place' && ['dan', 'ivy'].includes(recorded.command.userId))
          seen.push([recorded.command.userId, ...makersOf(events)]);
      },
    );
    // ann is the head of 1.02: the strategy takes her 2, then 2 of bob's 3; gus's 4 at 1.00 (before hal).
    expect(simulation.fills).toEqual([
      { bar: 2, side: 'buy', price: 102n, qty: 2n, fee: 0n },
      { bar: 2, side: 'buy', price: 102n, qty: 2n, fee: 0n },
      { bar: 4, side: 'sell', price: 100n, qty: 4n, fee: 0n },
    ]);
    // dan recorded ann's 2; here only bob's last lot is left. ivy recorded gus; here hal.
    expect(seen).toEqual([
      ['dan', ['bob', 1, 102]],
      ['ivy', ['hal', 1, 100]],
    ]);
    expect(simulation.equity).toEqual([408n, 408n, 408n, 404n, 400n]);
    expect(simulation.roundTrips).toEqual([{ entryBar: 2, exitBar: 4, pnl: -8n }]);
    expect(simulation.finalCash).toBe(400n);
    expect(simulation.finalQty).toBe(0n);
    expect(simulation.barsHolding).toBe(2);
  });

  it('is deterministic, and a later arrival at the same price waits behind the queue', () => {
    const series = recordedBars(flow, MARKET, WINDOW, 2, 0);
    // Buy at bar 1's close with 3.06: 2 from ann and 1 from bob (never 3 from bob).
    const decide = (i: number, holding: boolean) => (i === 1 && !holding ? LONG : i === 3 ? FLAT : HOLD);
    const run = () =>
      simulateBook(flow, MARKET, WINDOW, series, decide, { initialCash: 306n, feeBps: 0, slippageBps: 0 });
    const first = run();
    expect(first.fills.map((f) => f.qty)).toEqual([2n, 1n, 3n]);
    expect(run()).toEqual(first);
  });

  it('charges fees per engine fill, and slippage bounds a marketable limit', () => {
    const series = recordedBars(flow, MARKET, WINDOW, 2, 0);
    const decide = (i: number, holding: boolean) => (i === 1 && !holding ? LONG : HOLD);
    // 10 bps: budget ⌊1000 × 10⁴ / 10010⌋ = 999 cents: ann's 2 @1.02 (fee ⌈0.204⌉ = 1), bob's 3
    // (⌈0.306⌉ = 1), then ⌊489 / 103⌋ = 4 of cat's @1.03 (⌈0.412⌉ = 1): 922 + 3 = 925 ≤ 1000.
    const fee = simulateBook(flow, MARKET, WINDOW, series, decide, {
      initialCash: 1000n,
      feeBps: 10,
      slippageBps: 0,
    });
    const spent = fee.fills.reduce((sum, f) => sum + f.price * f.qty + f.fee, 0n);
    expect(fee.fills.map((f) => [f.price, f.qty, f.fee])).toEqual([
      [102n, 2n, 1n],
      [102n, 3n, 1n],
      [103n, 4n, 1n],
    ]);
    expect(1000n - spent).toBe(fee.finalCash);
    // A 1% limit from the 1.01 close: at most 1.02, so cat's 1.03 is never reached.
    const bounded = simulateBook(flow, MARKET, WINDOW, series, decide, {
      initialCash: 1000n,
      feeBps: 0,
      slippageBps: 100,
    });
    expect(bounded.fills.map((f) => [f.price, f.qty])).toEqual([
      [102n, 2n],
      [102n, 3n],
    ]);
    expect(bounded.fills.every((f) => f.price <= 102n)).toBe(true);
  });

  it('answers the metrics with the same code as next_open', () => {
    const series = recordedBars(flow, MARKET, WINDOW, 2, 0);
    const plan = planOf(
      {
        strategy: { id: 'momentum', params: { lookback: 1 } },
        initialCapital: '4.08',
        fill: 'book',
        interval: '1m',
        market: DEFINITION.symbol,
        from: WINDOW.from,
        to: WINDOW.to,
      },
      { maxBars: 1000, maxSweep: 10 },
    );
    if (!plan.ok) throw new Error(plan.message);
    const result = runPlan(plan.value, series, {
      qtyScale: 0,
      book: { flow, market: MARKET, window: WINDOW },
    });
    if (!result.ok) throw new Error(result.message);
    const simulation = simulateBook(
      flow,
      MARKET,
      WINDOW,
      series,
      momentum.create({ lookback: 1, thresholdBps: 0 }, series),
      { initialCash: 408n, feeBps: 0, slippageBps: 0 },
    );
    expect(result.value.performance).toEqual(
      performanceOf({
        equity: simulation.equityRatio,
        t: series.t,
        initial: 408,
        barsHolding: simulation.barsHolding,
        roundTrips: simulation.roundTrips,
        fills: simulation.fills.length,
        barsPerYear: YEAR_MS / MINUTE,
      }),
    );
    expect(result.value.performance.totalReturn).toBeCloseTo(400 / 408 - 1, 12);
    expect(result.value.performance.winRate).toBe(0);
    expect(result.value.trades).toEqual([
      { t: T0 + 2 * MINUTE, side: 'buy', price: '1.02', qty: '2', fee: '0.00' },
      { t: T0 + 2 * MINUTE, side: 'buy', price: '1.02', qty: '2', fee: '0.00' },
      { t: T0 + 4 * MINUTE, side: 'sell', price: '1.00', qty: '4', fee: '0.00' },
    ]);
    expect(result.value.equity.map((e) => e.equity)).toEqual(['4.08', '4.08', '4.08', '4.04', '4.00']);
  });

  it('the strategy user is no recorded user', () => {
    expect(flow.some((r) => 'userId' in r.command && r.command.userId === BACKTEST_USER)).toBe(false);
  });
});

describe('the book fill model through the service (journal in Postgres, worker thread)', () => {
  const database = useTestDatabase('backtest_book');
  let pool: DatabasePool;
  let backtests: Backtests;

  beforeAll(async () => {
    pool = await createPool(database.get().url, { maximumPoolSize: 2 });
    let globalSeq = 0;
    for (const batch of journal()) {
      const seqFrom = batch.entries[0]!.seq;
      const seqTo = batch.entries.at(-1)!.seq;
      globalSeq++;
      await pool.query(sql.unsafe`
        INSERT INTO journal (global_seq, market_id, seq_from, seq_to, flush_id, record)
        VALUES (${globalSeq}, ${batch.marketId}, ${seqFrom}, ${seqTo}, ${globalSeq},
                ${sql.binary(encodeBatch(batch))})`);
    }
    backtests = new Backtests({
      pool,
      limits: { maxBars: 1000, maxSweep: 10, maxActivePerUser: 5, runMs: 30_000 },
      market: (id) => (id === DEFINITION.id || id === DEFINITION.symbol ? LISTED : undefined),
      enqueue: () => Promise.resolve(),
    });
  });

  afterAll(async () => {
    await pool.end();
  });

  const CONFIG = {
    strategy: { id: 'momentum', params: { lookback: 1 } },
    initialCapital: '4.08',
    fill: 'book',
    interval: '1m',
    market: DEFINITION.symbol,
    from: WINDOW.from,
    to: WINDOW.to,
  };

  it('reads the market’s journal, replays it and stores the hand-worked result', async () => {
    const submitted = await backtests.submit('u1', CONFIG);
    if (!submitted.ok) throw new Error(submitted.message);
    await backtests.run(submitted.value.id);
    const row = await getBacktest(pool, submitted.value.id);
    expect(row?.status).toBe('done');
    const result = row?.result as {
      trades: unknown[];
      equity: { equity: string }[];
      performance: { totalTrades: number };
    };
    expect(result.trades).toEqual([
      { t: T0 + 2 * MINUTE, side: 'buy', price: '1.02', qty: '2', fee: '0.00' },
      { t: T0 + 2 * MINUTE, side: 'buy', price: '1.02', qty: '2', fee: '0.00' },
      { t: T0 + 4 * MINUTE, side: 'sell', price: '1.00', qty: '4', fee: '0.00' },
    ]);
    expect(result.equity.map((e) => e.equity)).toEqual(['4.08', '4.08', '4.08', '4.04', '4.00']);
    expect(result.performance.totalTrades).toBe(3);
  });

  it('a window with fewer bars than the window of the rule fails, naming from', async () => {
    const submitted = await backtests.submit('u1', { ...CONFIG, from: T0 + 4 * MINUTE });
    if (!submitted.ok) throw new Error(submitted.message);
    await backtests.run(submitted.value.id);
    const row = await getBacktest(pool, submitted.value.id);
    expect(row).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(/^from: 1 bars are fewer/) as unknown,
    });
  });

  it.each([
    [
      'book with candles',
      {
        market: undefined,
        from: undefined,
        to: undefined,
        candles: [{ t: 0, o: '1', h: '1', l: '1', c: '1' }],
      },
      400,
      /^fill: book replays a market/,
    ],
    ['book without a window', { to: undefined }, 400, /^to/],
    [
      'a trend strategy on a book replay',
      { strategy: { id: 'trend_momentum', params: { minViralityScore: 50, holdPeriod: 2 } } },
      400,
      /^strategy\.id: trend_momentum needs trend data/,
    ],
    ['an unknown market', { market: 'NOPE-USDC' }, 404, /^market: no market/],
  ])('%s is refused, naming the field, and stores nothing', async (_name, change, status, message) => {
    const count = () => pool.oneFirst(sql.type(Count)`SELECT count(*)::int4 AS n FROM backtests`);
    const before = await count();
    const outcome = await backtests.submit('u2', { ...CONFIG, ...change });
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.code).toBe(status === 404 ? 'unknown_market' : 'bad_request');
    expect(outcome.message).toMatch(message);
    expect(await count()).toBe(before);
  });
});
