import { describe, expect, it } from 'vitest';
import { planOf, seriesFromCandles } from '../../src/analytics/backtest/config.ts';
import { runPlan, type BacktestResult } from '../../src/analytics/backtest/run.ts';

/*
 * The back-test core on series small enough to work by hand (the numbers in the comments are that
 * working), and every bad config the issue names answering bad_request with its field.
 */

const LIMITS = { maxBars: 10_000, maxSweep: 100 };
const MINUTE = 60_000;

function candles(rows: readonly (readonly [o: string, c: string])[]) {
  return rows.map(([o, c], i) => {
    const [lo, hi] = Number(o) < Number(c) ? [o, c] : [c, o];
    return { t: i * MINUTE, o, h: hi, l: lo, c };
  });
}

function run(body: object): BacktestResult {
  const plan = planOf(body, LIMITS);
  if (!plan.ok) throw new Error(plan.message);
  const series = seriesFromCandles(plan.value.config.candles!, plan.value);
  if (!series.ok) throw new Error(series.message);
  const result = runPlan(plan.value, series.value, { qtyScale: plan.value.config.qtyDecimals });
  if (!result.ok) throw new Error(result.message);
  return result.value;
}

function refusal(body: object): string {
  const plan = planOf(body, LIMITS);
  if (!plan.ok) return plan.message;
  const series = seriesFromCandles(plan.value.config.candles!, plan.value);
  if (!series.ok) return series.message;
  throw new Error('accepted');
}

// closes 10 9 11 12 8 9 10; SMA(1) vs SMA(2): −1 at bar 1, +1 at 2 (long), +1 at 3, −1 at 4 (flat),
// +1 at 5 (long); fills at the next opens 11, 8, 10.
const SERIES = candles([
  ['10', '10'],
  ['10', '9'],
  ['9', '11'],
  ['11', '12'],
  ['12', '8'],
  ['8', '9'],
  ['10', '10'],
]);
const BASE = {
  strategy: { id: 'sma_cross', params: { fast: 1, slow: 2 } },
  initialCapital: '1000',
  interval: '1m',
  qtyDecimals: 0,
  candles: SERIES,
};

describe('next_open sma_cross, worked by hand', () => {
  it('fills at the next open, marks equity at each close and computes the contract metrics', () => {
    const result = run(BASE);
    // buy 90 @ 11 (990, cash 10); sell 90 @ 8 (720, cash 730); buy 73 @ 10 (730, cash 0)
    expect(result.trades).toEqual([
      { t: 3 * MINUTE, side: 'buy', price: '11', qty: '90', fee: '0' },
      { t: 5 * MINUTE, side: 'sell', price: '8', qty: '90', fee: '0' },
      { t: 6 * MINUTE, side: 'buy', price: '10', qty: '73', fee: '0' },
    ]);
    expect(result.equity.map((p) => p.equity)).toEqual(['1000', '1000', '1000', '1090', '730', '730', '730']);
    const r = [0, 0, 0.09, 730 / 1090 - 1, 0, 0];
    const mean = r.reduce((a, b) => a + b) / 6;
    const sd = Math.sqrt(r.reduce((a, x) => a + (x - mean) ** 2, 0) / 5);
    const down = Math.sqrt((730 / 1090 - 1) ** 2 / 6);
    const perYear = Math.sqrt(365 * 24 * 60);
    const p = result.performance;
    expect(p.totalReturn).toBeCloseTo(-0.27, 12);
    expect(p.sharpe).toBeCloseTo((mean / sd) * perYear, 9);
    expect(p.sortino).toBeCloseTo((mean / down) * perYear, 9);
    expect(p.maxDrawdown).toBeCloseTo(1 - 730 / 1090, 12);
    // one round trip: 720 − 990 = −270
    expect(p.winRate).toBe(0);
    expect(p.profitFactor).toBe(0);
    expect(p.exposure).toBeCloseTo(3 / 7, 12);
    expect(p.totalTrades).toBe(3);
    // 6 minutes is 6 / 525,600 of a year
    expect(p.cagr).toBeCloseTo(0.73 ** (525_600 / 6) - 1, 12);
  });

  it('charges feeBps of the notional (rounded up) and slips the price against the trader', () => {
    const result = run({
      ...BASE,
      feeBps: 100,
      slippageBps: 50,
      candles: SERIES.map((bar) => ({ ...bar, o: `${bar.o}.00` })),
    });
    // buy: 11.00 × 1.005 = 11.055 → 11.06 (up); q = ⌊100000 × 10⁴ / (1106 × 10100)⌋ = 89;
    // notional 984.34, fee ⌈9.8434⌉ = 9.85; cash 1000 − 994.19 = 5.81
    expect(result.trades[0]).toEqual({ t: 3 * MINUTE, side: 'buy', price: '11.06', qty: '89', fee: '9.85' });
    // sell: 8.00 × 0.995 = 7.96; notional 708.44, fee ⌈7.0844⌉ = 7.09; cash 5.81 + 701.35 = 707.16
    expect(result.trades[1]).toEqual({ t: 5 * MINUTE, side: 'sell', price: '7.96', qty: '89', fee: '7.09' });
    expect(result.equity[5]!.equity).toBe('707.16');
    // round trip: 701.35 − 994.19
    expect(result.performance.winRate).toBe(0);
  });

  it('counts a winning round trip and an unbounded profit factor as null', () => {
    // closes 10 9 11 12 13 11 ; long at bar 3's open 11, flat decided at 5 never fills (last bar)
    const rising = candles([
      ['10', '10'],
      ['10', '9'],
      ['9', '11'],
      ['11', '12'],
      ['12', '9'],
      ['14', '14'],
    ]);
    const result = run({ ...BASE, candles: rising });
    // buy 90 @ 11, sell 90 @ 14 (bar 5's open): +270
    expect(result.trades.map((t) => [t.side, t.price])).toEqual([
      ['buy', '11'],
      ['sell', '14'],
    ]);
    expect(result.performance.winRate).toBe(1);
    expect(result.performance.profitFactor).toBeNull();
    expect(result.performance.totalReturn).toBeCloseTo(0.27, 12);
  });

  it('sweeps the grid of array params and ranks by the chosen metric', () => {
    const result = run({
      ...BASE,
      strategy: { id: 'sma_cross', params: { fast: [1, 2], slow: [3, 4] } },
      rankBy: 'totalReturn',
    });
    const sweep = result.sweep!;
    expect(
      sweep.map((s) => s.params).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    ).toEqual([
      { fast: 1, slow: 3 },
      { fast: 1, slow: 4 },
      { fast: 2, slow: 3 },
      { fast: 2, slow: 4 },
    ]);
    const returns = sweep.map((s) => s.performance.totalReturn);
    expect(returns).toEqual([...returns].sort((a, b) => b - a));
    expect(result.params).toEqual(sweep[0]!.params);
    for (const entry of sweep)
      expect(run({ ...BASE, strategy: { id: 'sma_cross', params: entry.params } }).performance).toEqual(
        entry.performance,
      );
  });
});

describe('bad configs answer bad_request naming the field', () => {
  it.each([
    ['unknown strategy', { strategy: { id: 'martingale', params: {} } }, /^strategy\.id: unknown strategy/],
    [
      'fast ≥ slow',
      { strategy: { id: 'sma_cross', params: { fast: 5, slow: 5 } } },
      /^strategy\.params\.fast: fast must be less than slow/,
    ],
    [
      'fewer candles than the longest window',
      { strategy: { id: 'sma_cross', params: { fast: 2, slow: 9 } } },
      /^candles: 7 bars are fewer than the strategy's longest window \(9\)/,
    ],
    [
      'candles out of time order',
      { candles: [SERIES[0], SERIES[2], SERIES[1], ...SERIES.slice(3)] },
      /^candles\[2\]\.t: candles must be in time order/,
    ],
    [
      'h < l',
      { candles: SERIES.map((b, i) => (i === 4 ? { ...b, h: '7' } : b)) },
      /^candles\[4\]\.h: h is below l/,
    ],
    [
      'a price that is not a decimal',
      { candles: SERIES.map((b, i) => (i === 3 ? { ...b, c: '1e3' } : b)) },
      /^candles\[3\]\.c: must be a plain decimal/,
    ],
    ['negative capital', { initialCapital: '-1000' }, /^initialCapital: must be positive/],
    ['negative capital as a number', { initialCapital: -1000 }, /^initialCapital: must be positive/],
    ['zero capital', { initialCapital: '0' }, /^initialCapital: must be positive/],
    [
      'a sweep past its bound',
      {
        strategy: {
          id: 'sma_cross',
          params: {
            fast: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
            slow: [20, 21, 22, 23, 24, 25, 26, 27, 28, 29],
          },
        },
      },
      /^strategy\.params: a sweep runs at most 100/,
    ],
    ['no data source', { candles: undefined }, /^market: required without candles/],
    ['candles and a market', { market: 'X-Y' }, /^candles: give candles or market\+from\+to, not both/],
    ['unknown fill model', { fill: 'vwap' }, /^fill:/],
    [
      'a swept combination the rule refuses',
      { strategy: { id: 'sma_cross', params: { fast: [1, 3], slow: 3 } } },
      /^strategy\.params\.fast: fast must be less than slow \(in the sweep at/,
    ],
    [
      'trend_momentum without virality',
      { strategy: { id: 'trend_momentum', params: { minViralityScore: 50, holdPeriod: 2 } } },
      /^candles\[0\]\.viralityScore: trend_momentum needs/,
    ],
  ])('%s', (_name, change, message) => {
    expect(refusal({ ...BASE, ...change })).toMatch(message);
  });
});
