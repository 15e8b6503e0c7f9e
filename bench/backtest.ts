/**
 * Back-testing benchmark: `npm run bench:backtest` (node --expose-gc --import tsx bench/backtest.ts).
 * Progress on stderr; the last stdout line is one JSON object (bench/RESULTS.md, issue 18):
 *   bars_per_s               next_open sma_cross(10, 50) with fees and slippage over 1,000,000
 *                            one-minute bars: simulation and metrics (median of 5);
 *                            bars_per_s_with_output adds the decimal strings of every equity point
 *   sweep_100x100k_s         100 parameter sets over 100,000 bars, split over two worker threads
 *                            (src/analytics/threads.ts, as the job runs them), wall time incl. threads
 *   book_replay_orders_per_s a seeded order flow (bench/lib/stream.ts, the engine bench's mixed
 *                            stream) replayed through src/actors/book's OrderBook: the loop a `book`
 *                            fill model replays; the `book` fill model itself is not built (issue 18)
 */
import { loadavg } from 'node:os';
import { planOf } from '../src/analytics/backtest/config.ts';
import { performanceOf, YEAR_MS } from '../src/analytics/backtest/metrics.ts';
import { simulateNextOpen } from '../src/analytics/backtest/nextOpen.ts';
import { runPlan, type BacktestResult } from '../src/analytics/backtest/run.ts';
import { smaCross } from '../src/analytics/backtest/strategies/smaCross.ts';
import { runInThread } from '../src/analytics/threads.ts';
import type { OrderBook } from '../src/actors/book/orderBook.ts';
import type { BookCommand } from '../src/actors/book/types.ts';
import { parseCommandLine } from '../scripts/lib/cli.ts';
import { randomWalk } from './lib/bars.ts';
import { fullGc, median, progress, round } from './lib/stats.ts';
import { mixedStream, prefilledBook } from './lib/stream.ts';

parseCommandLine({
  name: 'npm run bench:backtest --',
  usage: `usage: npm run bench:backtest

next_open bars per second over 1M one-minute bars, a 100 x 100k sweep on two worker threads,
and orders per second replayed through the matching engine. Progress on stderr; the last stdout
line is one JSON object (bench/RESULTS.md). No options.`,
  options: {},
});

const BARS = 1_000_000;
const SWEEP_BARS = 100_000;
const ROUNDS = 5;
const loadBefore = loadavg()[0]!;
let sink = 0;

// --- next_open over 1M bars ---------------------------------------------------------------------
const series = randomWalk(BARS, 18);
const rates: number[] = [];
const CASH = 100_000n * 10n ** 10n; // 100,000.00 at price scale 2 + qty scale 8
for (let round_ = 0; round_ < ROUNDS; round_++) {
  fullGc();
  const start = performance.now();
  const simulation = simulateNextOpen(series, smaCross.create({ fast: 10, slow: 50 }, series), {
    initialCash: CASH,
    feeBps: 10,
    slippageBps: 5,
  });
  const metrics = performanceOf({
    equity: simulation.equityRatio,
    t: series.t,
    initial: Number(CASH),
    barsHolding: simulation.barsHolding,
    roundTrips: simulation.roundTrips,
    fills: simulation.fills.length,
    barsPerYear: YEAR_MS / 60_000,
  });
  const ms = performance.now() - start;
  sink += metrics.totalTrades;
  rates.push((BARS * 1000) / ms);
  progress(
    `next_open round ${round_ + 1}: ${round(rates.at(-1)!)} bars/s (${simulation.fills.length} fills)`,
  );
}
const plan = planOf(
  {
    strategy: { id: 'sma_cross', params: { fast: 10, slow: 50 } },
    initialCapital: '100000',
    feeBps: 10,
    slippageBps: 5,
    interval: '1m',
    candles: [{ t: 0, o: '1', h: '1', l: '1', c: '1' }],
  },
  { maxBars: BARS, maxSweep: 1 },
);
if (!plan.ok) throw new Error(plan.message);
fullGc();
const withOutputStart = performance.now();
const full = runPlan(plan.value, series, { qtyScale: 8 });
const withOutput = (BARS * 1000) / (performance.now() - withOutputStart);
if (!full.ok) throw new Error(full.message);
progress(`next_open with every equity point formatted: ${round(withOutput)} bars/s`);

// --- sweep 100 x 100k on two threads -------------------------------------------------------------
const sweepSeries = randomWalk(SWEEP_BARS, 19);
const sweepConfig = {
  strategy: {
    id: 'sma_cross',
    params: {
      fast: [2, 3, 5, 8, 10, 13, 15, 20, 25, 30],
      slow: [40, 50, 60, 80, 100, 120, 150, 200, 250, 300],
    },
  },
  initialCapital: '100000',
  feeBps: 10,
  slippageBps: 5,
  interval: '1m',
  rankBy: 'sharpe',
  candles: [{ t: 0, o: '1', h: '1', l: '1', c: '1' }],
};
const limits = { maxBars: SWEEP_BARS, maxSweep: 100 };
const sweepStart = performance.now();
const halves = await Promise.all(
  [
    { start: 0, end: 50 },
    { start: 50, end: 100 },
  ].map((slice) =>
    runInThread({ config: sweepConfig, series: sweepSeries, qtyScale: 8, limits, runMs: 600_000, slice }),
  ),
);
const sweepSeconds = (performance.now() - sweepStart) / 1000;
const runs = halves.flatMap((half) => {
  if (!half.ok) throw new Error(half.message);
  const value: BacktestResult = half.value;
  return value.sweep ?? [];
});
if (runs.length !== 100) throw new Error(`the sweep ran ${runs.length} parameter sets, not 100`);
progress(`sweep 100 x ${SWEEP_BARS} bars on 2 threads: ${round(sweepSeconds, 2)} s`);

// --- orders replayed through the engine ----------------------------------------------------------
const stream = mixedStream({
  seed: 20240611,
  shape: { deepPercent: 50, deepTicks: 10, wideTicks: 290 },
  users: 1000,
  prefill: 20_000,
  ops: 200_000,
});
const replayRates: number[] = [];
const replay = (book: OrderBook, ops: readonly BookCommand[]) => {
  let n = 0;
  for (const cmd of ops) n += book.execute(cmd).length;
  return n;
};
for (let round_ = 0; round_ < ROUNDS; round_++) {
  const book = prefilledBook(stream);
  fullGc();
  const start = performance.now();
  sink += replay(book, stream.ops);
  replayRates.push((stream.ops.length * 1000) / (performance.now() - start));
  progress(`book replay round ${round_ + 1}: ${round(replayRates.at(-1)!)} orders/s`);
}

console.log(
  JSON.stringify({
    bars_per_s: round(median(rates)),
    bars_per_s_with_output: round(withOutput),
    book_replay_orders_per_s: round(median(replayRates)),
    sweep_100x100k_s: round(sweepSeconds, 2),
    book_fill_model: 'not built: book_replay_orders_per_s is the engine replaying a recorded stream',
    load_before: round(loadBefore, 2),
    load_after: round(loadavg()[0]!, 2),
    sink: sink % 7,
  }),
);
