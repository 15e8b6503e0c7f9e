import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planOf, seriesFromCandles } from '../../src/analytics/backtest/config.ts';
import { runPlan } from '../../src/analytics/backtest/run.ts';
import { metrics, simulate, smaCrossTargets, type RefBar } from '../reference/backtestReference.ts';

/*
 * The back-test core (running sums, the double/bigint comparison, the all-in sizing formula, the
 * one-pass metrics) against test/reference/backtestReference.ts (SMAs recomputed per bar from the
 * closes, sizing by search, textbook metrics), over random series, windows, fees and slippage: the
 * same fills and exact equity, and the same metrics to 1e-9.
 */

const MINUTE = 60_000;
const bar = fc.record({ o: fc.integer({ min: 50, max: 150 }), c: fc.integer({ min: 50, max: 150 }) });

describe('back-test core vs the reference', () => {
  it('sma_cross next_open: same fills, equity and performance', () => {
    fc.assert(
      fc.property(
        fc.array(bar, { minLength: 12, maxLength: 80 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 100, max: 100_000 }),
        (rows, fast, extra, feeBps, slippageBps, capital) => {
          const slow = fast + extra;
          const candles = rows.map(({ o, c }, i) => ({
            t: i * MINUTE,
            o: (o / 10).toFixed(1),
            h: (Math.max(o, c) / 10).toFixed(1),
            l: (Math.min(o, c) / 10).toFixed(1),
            c: (c / 10).toFixed(1),
          }));
          const plan = planOf(
            {
              strategy: { id: 'sma_cross', params: { fast, slow } },
              initialCapital: String(capital),
              feeBps,
              slippageBps,
              interval: '1m',
              qtyDecimals: 2,
              candles,
            },
            { maxBars: 1_000, maxSweep: 1 },
          );
          if (!plan.ok) throw new Error(plan.message);
          const series = seriesFromCandles(candles, plan.value);
          if (!series.ok) throw new Error(series.message);
          const result = runPlan(plan.value, series.value, { qtyScale: 2 });
          if (!result.ok) throw new Error(result.message);

          // Reference: prices in tenths, qty in hundredths, cash in thousandths.
          const bars: RefBar[] = rows.map(({ o, c }, i) => ({ t: i * MINUTE, o: BigInt(o), c: BigInt(c) }));
          const cash0 = BigInt(capital) * 1_000n;
          const ref = simulate(
            bars,
            smaCrossTargets(bars, fast, slow),
            cash0,
            BigInt(feeBps),
            BigInt(slippageBps),
          );
          const fmt = (v: bigint, d: number) => (Number(v) / 10 ** d).toFixed(d);
          expect(result.value.trades).toEqual(
            ref.fills.map((f) => ({
              t: f.bar * MINUTE,
              side: f.side,
              price: fmt(f.price, 1),
              qty: fmt(f.qty, 2),
              fee: fmt(f.fee, 3),
            })),
          );
          expect(result.value.equity.map((e) => e.equity)).toEqual(ref.equity.map((e) => fmt(e, 3)));
          const expected = metrics(
            ref,
            bars.map((b) => b.t),
            cash0,
            365 * 24 * 60,
          );
          const actual = result.value.performance;
          for (const [name, value] of Object.entries(expected)) {
            const got = actual[name as keyof typeof actual];
            if (value === null || got === null) expect(got).toBe(value);
            else expect(Math.abs(got - value)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(value)));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
