import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BookEvent } from '../../src/actors/book/types.ts';
import type { ListedMarket } from '../../src/actors/catalog.ts';
import type { JournalBatch } from '../../src/actors/market/types.ts';
import { createMarketMoney } from '../../src/actors/money.ts';
import type { CandleInterval } from '../../src/protocol/messages.ts';
import { CANDLE_INTERVAL_MS, CandleSeries, type Candle } from '../../src/marketdata/candles.ts';
import { MarketDataService, type Quotes } from '../../src/marketdata/marketData.ts';
import { BTC_USDC } from '../support/markets.ts';

/**
 * CandleSeries against a brute-force recomputation from the raw trades (fast-check streams with
 * quiet gaps, bursts, clock steps backwards and timer ticks), and the candle pushes of the service.
 */

const NUM_RUNS = 300;
const T0 = 1_763_800_000_000;
const INTERVALS: readonly CandleInterval[] = ['1m', '5m', '1h'];
const FOREVER = 1e15;

type Op =
  | {
      readonly kind: 'trade';
      readonly price: number;
      readonly qty: number;
      readonly dt: number;
      readonly skew: number;
    }
  | { readonly kind: 'tick'; readonly dt: number; readonly ahead: number };

const dtArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 5_000 }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 400_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 3 * 3_600_000 }) },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('trade' as const),
      price: fc.integer({ min: 1, max: 1_000 }),
      qty: fc.integer({ min: 1, max: 50 }),
      dt: dtArb,
      // A trade stamped before the one before it (the actor's clock stepped back) now and then.
      skew: fc.oneof(
        { weight: 9, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 90_000 }) },
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('tick' as const),
      dt: dtArb,
      ahead: fc.integer({ min: -5_000, max: 2 * 3_600_000 }),
    }),
  },
);
const streamArb = fc.record({
  start: fc.integer({ min: 0, max: 7_200_000 }),
  ops: fc.array(opArb, { maxLength: 150 }),
});

interface Trade {
  readonly price: number;
  readonly qty: number;
  readonly ts: number;
}

/** The obvious computation: group the (monotonic) trade times by interval, then fill the gaps. */
function referenceCandles(trades: readonly Trade[], ms: number, until = Number.NEGATIVE_INFINITY): Candle[] {
  const byT = new Map<number, { t: number; o: number; h: number; l: number; c: number; v: number }>();
  let time = Number.NEGATIVE_INFINITY;
  for (const { price, qty, ts } of trades) {
    time = Math.max(time, ts);
    const t = Math.floor(time / ms) * ms;
    const candle = byT.get(t);
    if (candle === undefined) byT.set(t, { t, o: price, h: price, l: price, c: price, v: qty });
    else {
      candle.h = Math.max(candle.h, price);
      candle.l = Math.min(candle.l, price);
      candle.c = price;
      candle.v += qty;
    }
  }
  const traded = [...byT.values()].sort((a, b) => a.t - b.t);
  const first = traded[0];
  if (first === undefined) return [];
  const last = Math.max(traded[traded.length - 1]!.t, Math.floor(until / ms) * ms);
  const out: Candle[] = [];
  let close = first.o;
  for (let t = first.t; t <= last; t += ms) {
    const candle = byT.get(t);
    if (candle !== undefined) {
      out.push({ ...candle });
      close = candle.c;
    } else out.push({ t, o: close, h: close, l: close, c: close, v: 0 });
  }
  return out;
}

function plain(candle: Candle): Candle {
  return { t: candle.t, o: candle.o, h: candle.h, l: candle.l, c: candle.c, v: candle.v };
}

describe('CandleSeries', () => {
  for (const interval of INTERVALS) {
    const ms = CANDLE_INTERVAL_MS[interval];

    it(`${interval}: OHLCV, alignment, no gaps, current candle and closes match a brute-force recomputation`, () => {
      fc.assert(
        fc.property(streamArb, ({ start, ops }) => {
          const series = new CandleSeries(interval, FOREVER);
          const trades: Trade[] = [];
          /** Last `closed` report per open time. */
          const closedLast = new Map<number, Candle>();
          const closedCount = new Map<number, number>();
          let clock = T0 + start;
          let latestTick = Number.NEGATIVE_INFINITY;
          let ticked = false;
          const drain = () => {
            for (const candle of series.takeClosed()) {
              closedLast.set(candle.t, plain(candle));
              closedCount.set(candle.t, (closedCount.get(candle.t) ?? 0) + 1);
            }
          };
          for (const op of ops) {
            clock += op.dt;
            if (op.kind === 'trade') {
              const trade = { price: op.price, qty: op.qty, ts: clock - op.skew };
              trades.push(trade);
              series.trade(trade.price, trade.qty, trade.ts);
            } else {
              latestTick = Math.max(latestTick, clock + op.ahead);
              series.tick(clock + op.ahead);
              ticked = true;
            }
            drain();
            // The open candle: the reference's newest, at the open interval (flat when untraded).
            const expected = referenceCandles(trades, ms, trades.length > 0 ? latestTick : undefined);
            const current = series.current();
            if (expected.length === 0) expect(current).toBeUndefined();
            else expect(plain(current!)).toEqual(expected[expected.length - 1]);
          }

          const expected = referenceCandles(trades, ms, trades.length > 0 ? latestTick : undefined);
          const read = series.range({ from: 0, limit: 1_000_000 });
          expect(read).toEqual(expected);
          for (let i = 0; i < read.length; i++) {
            expect(read[i]!.t % ms).toBe(0);
            if (i > 0) expect(read[i]!.t - read[i - 1]!.t).toBe(ms);
          }
          // Every candle before the open one was reported closed, last with its final values; the
          // open one was not. Without timer ticks each close is reported exactly once.
          const openT = expected[expected.length - 1]?.t;
          for (const candle of expected) {
            if (candle.t === openT) {
              expect(closedLast.has(candle.t)).toBe(false);
              continue;
            }
            if (candle.v === 0) continue; // flat candles are never stored, so never "closed"
            expect(closedLast.get(candle.t)).toEqual(candle);
            if (!ticked) expect(closedCount.get(candle.t)).toBe(1);
          }
          for (const t of closedLast.keys()) expect(expected.some((c) => c.t === t && c.v > 0)).toBe(true);
        }),
        { numRuns: NUM_RUNS },
      );
    });
  }

  it('reads: from/to/limit windows of the gap-filled sequence, clamped to the oldest kept candle', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ price: fc.integer({ min: 1, max: 99 }), dt: fc.integer({ min: 0, max: 600_000 }) }),
          {
            minLength: 1,
            maxLength: 60,
          },
        ),
        fc.integer({ min: -20, max: 200 }),
        fc.integer({ min: -20, max: 200 }),
        fc.integer({ min: 0, max: 40 }),
        (steps, fromMin, toMin, limit) => {
          const series = new CandleSeries('1m', FOREVER);
          const trades: Trade[] = [];
          let clock = T0;
          for (const { price, dt } of steps) {
            clock += dt;
            trades.push({ price, qty: 1, ts: clock });
            series.trade(price, 1, clock);
          }
          const all = referenceCandles(trades, 60_000);
          const from = T0 + fromMin * 60_000 + 123;
          const to = T0 + toMin * 60_000 + 456;
          const inWindow = all.filter((c) => c.t >= Math.floor(from / 60_000) * 60_000 && c.t <= to);
          expect(series.range({ from, to, limit })).toEqual(inWindow.slice(0, limit));
          const upTo = all.filter((c) => c.t <= to);
          expect(series.range({ to, limit })).toEqual(upTo.slice(Math.max(0, upTo.length - limit)));
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('keeps only the retention (and always the newest candle), and reloads from stored candles', () => {
    const series = new CandleSeries('1m', 10 * 60_000);
    for (let i = 0; i < 100; i++) series.trade(100 + i, 1, T0 + i * 60_000);
    const read = series.range({ from: 0, limit: 1_000 });
    expect(read[0]!.t).toBe(T0 + 89 * 60_000 - ((T0 + 89 * 60_000) % 60_000));
    expect(read).toHaveLength(11);

    const stored = series.range({ from: 0, limit: 1_000 });
    const reloaded = new CandleSeries('1m', 10 * 60_000);
    reloaded.load(stored);
    expect(reloaded.range({ from: 0, limit: 1_000 })).toEqual(stored);
    expect(reloaded.takeClosed()).toEqual([]);
    expect(reloaded.takeDirty()).toEqual([]);
    reloaded.trade(500, 2, T0 + 200 * 60_000);
    expect(reloaded.takeClosed().map((c) => c.t)).toEqual([stored[stored.length - 1]!.t]);
    // Long quiet spell: the newest candle survives the retention, the close carries on.
    expect(reloaded.range({ from: 0, limit: 1_000 })[0]!.t).toBeLessThan(T0 + 200 * 60_000);
  });
});

// --- The service's candle pushes -------------------------------------------------------------------

const MONEY = createMarketMoney({ ...BTC_USDC.money, baseDecimals: 8, quoteDecimals: 6 });
const LISTED: ListedMarket = { definition: BTC_USDC, money: MONEY, baseDecimals: 8, quoteDecimals: 6 };

function fill(price: number, qty: number): BookEvent {
  return {
    type: 'fill',
    takerOrderId: 2,
    takerUserId: 'bob',
    makerOrderId: 1,
    makerUserId: 'alice',
    takerSide: 'buy',
    price,
    qty,
    takerRemaining: 0,
    makerRemaining: 0,
  };
}

let seq = 0;
function batch(ts: number, events: readonly BookEvent[]): JournalBatch {
  seq++;
  return {
    marketId: BTC_USDC.id,
    symbol: BTC_USDC.symbol,
    state: 'active',
    entries: [
      {
        seq,
        ts,
        command: { kind: 'cancel_all', userId: 'bob' },
        result: { ok: true, seq, events },
        postings: [],
      },
    ],
  };
}

describe('MarketDataService candles', () => {
  it('pushes the open candle per interval, and closed candles on rollover by trade or timer', () => {
    let quotes: Quotes = { bid: '99.00', ask: '101.00' };
    const service = new MarketDataService({ quotes: () => quotes, closeGraceMs: 1_000 });
    service.addMarket(LISTED);
    expect(service.candleSnapshot('BTC-USDC', '1m')).toBeUndefined();
    expect(service.candles('BTC-USDC', '1m')).toEqual([]);
    expect(service.candles('NOPE', '1m')).toBeUndefined();
    expect(service.candles('BTC-USDC', '2m')).toBeUndefined();

    const t = 1_763_800_020_000 - (1_763_800_020_000 % 3_600_000); // an hour boundary
    const first = service.onBatch(batch(t + 1_000, [fill(100_00, 5), fill(101_50, 20)]));
    expect(first.map((p) => p.topic)).toEqual([
      'candles/BTC-USDC/1m',
      'candles/BTC-USDC/5m',
      'candles/BTC-USDC/1h',
      'ticker/BTC-USDC',
    ]);
    expect(first[0]!.message).toEqual({
      op: 'candle',
      market: 'BTC-USDC',
      interval: '1m',
      t,
      o: '100.00',
      h: '101.50',
      l: '100.00',
      c: '101.50',
      v: '0.0025',
      closed: false,
    });

    // Next minute: the 1m candle closes, then the new one opens; 5m and 1h only update.
    const second = service.onBatch(batch(t + 61_000, [fill(99_00, 1)]));
    expect(second.map((p) => [p.topic, 'closed' in p.message ? p.message.closed : undefined])).toEqual([
      ['candles/BTC-USDC/1m', true],
      ['candles/BTC-USDC/1m', false],
      ['candles/BTC-USDC/5m', false],
      ['candles/BTC-USDC/1h', false],
      ['ticker/BTC-USDC', undefined],
    ]);
    expect(second[0]!.message).toMatchObject({ t, c: '101.50', v: '0.0025', closed: true });
    expect(second[2]!.message).toMatchObject({
      t,
      o: '100.00',
      h: '101.50',
      l: '99.00',
      c: '99.00',
      v: '0.0026',
    });

    // A batch that only moves the quotes: just the ticker.
    quotes = { bid: '99.50', ask: '101.00' };
    const quoteOnly = service.onBatch(
      batch(t + 62_000, [{ type: 'level', side: 'buy', price: 99_50, qty: 3 }]),
    );
    expect(quoteOnly.map((p) => p.topic)).toEqual(['ticker/BTC-USDC']);
    expect(
      service.onBatch(batch(t + 62_500, [{ type: 'level', side: 'buy', price: 98_00, qty: 3 }])),
    ).toEqual([]);

    // The timer: within the grace nothing closes; after it, the 1m candle closes and a flat one opens.
    expect(service.tick(t + 120_500)).toEqual([]);
    const ticked = service.tick(t + 121_000);
    expect(ticked.map((p) => p.message)).toEqual([
      expect.objectContaining({ interval: '1m', t: t + 60_000, c: '99.00', closed: true }),
      expect.objectContaining({
        interval: '1m',
        t: t + 120_000,
        o: '99.00',
        c: '99.00',
        v: '0.0000',
        closed: false,
      }),
    ]);
    expect(service.candleSnapshot('BTC-USDC', '1m')).toMatchObject({
      t: t + 120_000,
      v: '0.0000',
      closed: false,
    });

    // Reads: gap-free, closed except the open one, up to `now`.
    const read = service.candles('BTC-USDC', '1m', undefined, undefined, 10, t + 245_000);
    expect(read!.map((c) => [c.t - t, c.c, c.v, c.closed])).toEqual([
      [0, '101.50', '0.0025', true],
      [60_000, '99.00', '0.0001', true],
      [120_000, '99.00', '0.0000', true],
      [180_000, '99.00', '0.0000', true],
      [240_000, '99.00', '0.0000', false],
    ]);
    expect(read![0]).not.toHaveProperty('op');
    expect(service.candles('m-btc', '1h', t, t, 5)).toEqual([
      expect.objectContaining({
        t,
        o: '100.00',
        h: '101.50',
        l: '99.00',
        c: '99.00',
        v: '0.0026',
        closed: false,
      }),
    ]);

    // A batch stamped before the boundary but published after the timer closed its candle: it
    // counts in its own minute, which is reported closed again with the corrected values.
    const late = service.onBatch(batch(t + 119_999, [fill(98_00, 4)]));
    expect(late.filter((p) => p.topic === 'candles/BTC-USDC/1m').map((p) => p.message)).toEqual([
      expect.objectContaining({ t: t + 60_000, l: '98.00', c: '98.00', v: '0.0005', closed: true }),
      expect.objectContaining({ t: t + 120_000, o: '98.00', v: '0.0000', closed: false }),
    ]);
  });
});
