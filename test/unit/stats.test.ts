import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BookEvent } from '../../src/actors/book/types.ts';
import type { ListedMarket } from '../../src/actors/catalog.ts';
import type { JournalBatch } from '../../src/actors/market/types.ts';
import { createMarketMoney } from '../../src/actors/money.ts';
import { CandleSeries } from '../../src/marketdata/candles.ts';
import { MarketDataService, type Quotes, type TickerPush } from '../../src/marketdata/marketData.ts';
import { RollingStats, type RollingStatsView } from '../../src/marketdata/stats.ts';
import { BTC_USDC } from '../support/markets.ts';

/**
 * RollingStats against a brute-force 24h window over the raw trades (fast-check streams spanning
 * days, with quiet spells, clock steps backwards and timer advances), the rebuild from 1m candles,
 * and the ticker pushes of the service.
 */

const NUM_RUNS = 300;
const T0 = 1_763_800_000_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

type Op =
  | {
      readonly kind: 'trade';
      readonly price: number;
      readonly qty: number;
      readonly dt: number;
      readonly skew: number;
    }
  | { readonly kind: 'advance'; readonly dt: number; readonly ahead: number };

const dtArb = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 0, max: 2 * MINUTE }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 3 * HOUR }) },
  { weight: 1, arbitrary: fc.integer({ min: 20 * HOUR, max: 26 * HOUR }) },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('trade' as const),
      price: fc.integer({ min: 1, max: 500 }),
      qty: fc.integer({ min: 1, max: 1_000 }),
      dt: dtArb,
      skew: fc.oneof(
        { weight: 9, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 * HOUR }) },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      dt: dtArb,
      // A timer ahead of the trades' stamps (even by more than the window) now and then.
      ahead: fc.oneof(
        { weight: 4, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 30 * HOUR }) },
      ),
    }),
  },
);

interface Trade {
  readonly price: number;
  readonly qty: number;
  readonly ts: number;
}

/**
 * The definition, computed from scratch: times made monotonic; the window is the minutes
 * W-1439 … W where W is the latest minute seen (trade or advance); the reference price is the last
 * trade before the window, else the first trade.
 */
function referenceStats(trades: readonly Trade[], windowMinute: number): RollingStatsView {
  let time = Number.NEGATIVE_INFINITY;
  const counted = trades.map(({ price, qty, ts }) => {
    time = Math.max(time, ts);
    return { price, qty, minute: Math.floor(time / MINUTE), time };
  });
  const inWindow = counted.filter((t) => t.minute >= windowMinute - 1439 && t.minute <= windowMinute);
  const before = counted.filter((t) => t.minute <= windowMinute - 1440);
  return {
    last: counted[counted.length - 1]?.price,
    high: inWindow.length === 0 ? undefined : Math.max(...inWindow.map((t) => t.price)),
    low: inWindow.length === 0 ? undefined : Math.min(...inWindow.map((t) => t.price)),
    volume: inWindow.reduce((sum, t) => sum + t.qty, 0),
    reference: before[before.length - 1]?.price ?? counted[0]?.price,
    lastTradeTs: counted[counted.length - 1]?.time,
  };
}

describe('RollingStats', () => {
  it('equals a brute-force 24h window after every trade and advance', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000 * HOUR }),
        fc.array(opArb, { maxLength: 120 }),
        (start, ops) => {
          const stats = new RollingStats();
          const trades: Trade[] = [];
          let clock = T0 + start;
          let windowMinute = Number.NEGATIVE_INFINITY;
          for (const op of ops) {
            clock += op.dt;
            if (op.kind === 'trade') {
              const trade = { price: op.price, qty: op.qty, ts: clock - op.skew };
              trades.push(trade);
              stats.trade(trade.price, trade.qty, trade.ts);
              const counted = Math.max(...trades.map((t) => t.ts));
              windowMinute = Math.max(windowMinute, Math.floor(counted / MINUTE));
            } else {
              stats.advance(clock + op.ahead);
              windowMinute = Math.max(windowMinute, Math.floor((clock + op.ahead) / MINUTE));
            }
            expect(stats.view()).toEqual(referenceStats(trades, windowMinute));
          }
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('rebuilt from 1m candles it equals the stats built trade by trade', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 1, maxLength: 120 }),
        fc.integer({ min: 0, max: 30 * HOUR }),
        (ops, later) => {
          const live = new RollingStats();
          const candles = new CandleSeries('1m', 10 * 24 * HOUR);
          let clock = T0;
          for (const op of ops) {
            clock += op.dt;
            if (op.kind !== 'trade') continue;
            live.trade(op.price, op.qty, clock - op.skew);
            candles.trade(op.price, op.qty, clock - op.skew);
          }
          const rebuilt = new RollingStats();
          for (const minute of candles.range({ from: 0, limit: 1e9 }))
            if (minute.v > 0) rebuilt.addMinute(minute);
          live.advance(clock + later);
          rebuilt.advance(clock + later);
          // lastTradeTs differs by design: a minute aggregate stands at its minute's open time.
          expect({ ...rebuilt.view(), lastTradeTs: 0 }).toEqual({ ...live.view(), lastTradeTs: 0 });
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('expires a day of one trade a minute in amortized time', () => {
    const stats = new RollingStats();
    for (let i = 0; i < 3 * 1_440; i++) stats.trade(1_000 + (i % 1_440), 1, T0 + i * MINUTE);
    expect(stats.view()).toMatchObject({ volume: 1_440, high: 2_439, low: 1_000 });
    stats.advance(T0 + 3 * 1_440 * MINUTE + 10 * HOUR);
    expect(stats.view()).toMatchObject({ volume: 839, high: 2_439, low: 1_601 });
    stats.advance(T0 + 10 * 1_440 * MINUTE);
    expect(stats.view()).toEqual({
      last: 2_439,
      high: undefined,
      low: undefined,
      volume: 0,
      reference: 2_439,
      lastTradeTs: T0 + (3 * 1_440 - 1) * MINUTE,
    });
  });
});

// --- The service's ticker ----------------------------------------------------------------------

const MONEY = createMarketMoney({ ...BTC_USDC.money, baseDecimals: 8, quoteDecimals: 6 });
const LISTED: ListedMarket = { definition: BTC_USDC, money: MONEY, baseDecimals: 8, quoteDecimals: 6 };

function trade(ts: number, price: number, qty: number): JournalBatch {
  const event: BookEvent = {
    type: 'fill',
    takerOrderId: 2,
    takerUserId: 'bob',
    makerOrderId: 1,
    makerUserId: 'alice',
    takerSide: 'sell',
    price,
    qty,
    takerRemaining: 0,
    makerRemaining: 0,
  };
  return {
    marketId: BTC_USDC.id,
    symbol: BTC_USDC.symbol,
    state: 'active',
    entries: [
      {
        seq: 1,
        ts,
        command: { kind: 'cancel_all', userId: 'bob' },
        result: { ok: true, seq: 1, events: [event] },
        postings: [],
      },
    ],
  };
}

const tickerOf = (pushes: readonly { topic: string; message: object }[]) =>
  pushes.find((p) => p.topic === 'ticker/BTC-USDC')?.message as TickerPush | undefined;

describe('MarketDataService ticker', () => {
  it('omits what is unknown, carries the 24h figures, change and percent, quotes and the index price', () => {
    let quotes: Quotes | undefined = undefined;
    const service = new MarketDataService({ quotes: () => quotes });
    service.addMarket(LISTED);
    expect(service.tickerSnapshot('BTC-USDC')).toEqual({
      op: 'ticker',
      market: 'BTC-USDC',
      volume24h: '0.0000',
    });
    expect(service.tickerSnapshot('NOPE')).toBeUndefined();

    service.onBatch(trade(T0, 200_00, 10));
    quotes = { bid: '149.00' };
    const pushed = tickerOf(service.onBatch(trade(T0 + HOUR, 150_00, 30_000)));
    expect(pushed).toEqual({
      op: 'ticker',
      market: 'BTC-USDC',
      last: '150.00',
      bid: '149.00',
      high24h: '200.00',
      low24h: '150.00',
      volume24h: '3.0010',
      change24h: '-50.00',
      changePct24h: '-25.00',
    });
    expect(service.tickerSnapshot('m-btc')).toEqual(pushed);

    expect(tickerOf(service.setIndexPrice('BTC-USDC', '151.25'))).toMatchObject({ indexPrice: '151.25' });
    expect(service.setIndexPrice('BTC-USDC', '151.25')).toEqual([]);

    // 24h after the first trade it leaves the window: the reference becomes its price (200).
    const expired = tickerOf(service.tick(T0 + 24 * HOUR));
    expect(expired).toMatchObject({
      high24h: '150.00',
      low24h: '150.00',
      volume24h: '3.0000',
      change24h: '-50.00',
    });
    // A day later nothing is left in the window; the last price and a zero change remain.
    const quiet = tickerOf(service.tick(T0 + 26 * HOUR));
    expect(quiet).toEqual({
      op: 'ticker',
      market: 'BTC-USDC',
      last: '150.00',
      bid: '149.00',
      volume24h: '0.0000',
      change24h: '0.00',
      changePct24h: '0.00',
      indexPrice: '151.25',
    });
    expect(service.tick(T0 + 27 * HOUR).filter((p) => p.topic.startsWith('ticker'))).toEqual([]);
  });

  it('rounds the percent half away from zero', () => {
    const service = new MarketDataService();
    service.addMarket(LISTED);
    service.onBatch(trade(T0, 3_00, 1));
    expect(tickerOf(service.onBatch(trade(T0 + 1, 3_01, 1)))).toMatchObject({
      change24h: '0.01',
      changePct24h: '0.33',
    });
    expect(tickerOf(service.onBatch(trade(T0 + 2, 2_99, 1)))).toMatchObject({
      change24h: '-0.01',
      changePct24h: '-0.33',
    });
    expect(tickerOf(service.onBatch(trade(T0 + 3, 3_02, 1)))).toMatchObject({ changePct24h: '0.67' });
    expect(tickerOf(service.onBatch(trade(T0 + 4, 8_00, 1)))).toMatchObject({
      change24h: '5.00',
      changePct24h: '166.67',
    });
  });
});
