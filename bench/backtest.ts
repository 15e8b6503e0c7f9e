/**
 * Back-testing benchmark: `npm run bench:backtest` (node --expose-gc --import tsx bench/backtest.ts).
 * Progress on stderr; the last stdout line is one JSON object (bench/RESULTS.md, issue 18):
 *   bars_per_s               next_open sma_cross(10, 50) with fees and slippage over 1,000,000
 *                            one-minute bars: simulation and metrics (median of 5);
 *                            bars_per_s_with_output adds the decimal strings of every equity point
 *   sweep_100x100k_s         100 parameter sets over 100,000 bars, split over two worker threads
 *                            (src/analytics/threads.ts, as the job runs them), wall time incl. threads
 *   book_replay_orders_per_s the `book` fill model's replay: a seeded order flow (the engine bench's
 *                            mixed stream) written as a market's journal, decoded, and replayed
 *                            through src/actors/book's OrderBook with sma_cross's orders between the
 *                            recorded commands (recorded commands per second, median of 5)
 */
import { loadavg } from 'node:os';
import { planOf } from '../src/analytics/backtest/config.ts';
import { performanceOf, YEAR_MS } from '../src/analytics/backtest/metrics.ts';
import { simulateNextOpen } from '../src/analytics/backtest/nextOpen.ts';
import { runPlan, type BacktestResult } from '../src/analytics/backtest/run.ts';
import { smaCross } from '../src/analytics/backtest/strategies/smaCross.ts';
import { runInThread } from '../src/analytics/threads.ts';
import { OrderBook } from '../src/actors/book/orderBook.ts';
import type { PlaceCommand } from '../src/actors/book/types.ts';
import type { BatchEntry } from '../src/actors/market/types.ts';
import {
  flowOfBatches,
  recordedBars,
  simulateBook,
  type BookMarket,
} from '../src/analytics/backtest/book.ts';
import { decodeBatch, encodeBatch } from '../src/persistence/journalCodec.ts';
import { parseCommandLine } from '../scripts/lib/cli.ts';
import { randomWalk } from './lib/bars.ts';
import { fullGc, median, progress, round } from './lib/stats.ts';
import { BOOK_CONFIG, mixedStream } from './lib/stream.ts';

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

// --- the book fill model: a recorded journal replayed with a strategy's orders ------------------
/*
 * The engine bench's seeded mixed stream (20k prefill + 200k ops) as a market's journal: each
 * command run once through the engine for its events (what the market actor journals), packed in
 * batches of 512 with the journal codec. Timed: the `book` model's replay (book.ts simulateBook:
 * every recorded command through a fresh OrderBook, sma_cross(5, 20)'s market orders between them
 * at each one-minute bar's close), orders/s = recorded commands / wall time; median of 5. Decoding
 * the records (journalCodec.decodeBatch + recordedCommands) and pass 1 (the bars) are reported
 * beside it.
 */
const stream = mixedStream({
  seed: 20240611,
  shape: { deepPercent: 50, deepTicks: 10, wideTicks: 290 },
  users: 1000,
  prefill: 20_000,
  ops: 200_000,
});
const JOURNAL_T0 = 1_700_000_000_000 - (1_700_000_000_000 % 60_000);
/** Recorded commands per one-minute bar: 200k ops make ~200 bars. */
const PER_MINUTE = 1_000;
const records: Uint8Array[] = [];
{
  const recorder = new OrderBook(BOOK_CONFIG);
  const all = [...stream.prefill, ...stream.ops];
  let entries: BatchEntry[] = [];
  all.forEach((command, i) => {
    const events = recorder.execute(command);
    const refused = events.some((e) => e.type === 'rejected');
    const minute = i < stream.prefill.length ? 0 : 1 + Math.floor((i - stream.prefill.length) / PER_MINUTE);
    const { orderId, ...withoutId } = command as PlaceCommand;
    entries.push({
      seq: i + 1,
      ts: JOURNAL_T0 + minute * 60_000,
      command: command.kind === 'place' ? withoutId : command,
      result: refused
        ? { ok: false, code: 'bad_request', message: 'refused' }
        : { ok: true, seq: i + 1, orderId: command.kind === 'place' ? orderId : undefined, events },
      postings: [],
    });
    if (entries.length === 512 || i === all.length - 1) {
      records.push(encodeBatch({ marketId: 'm-bench', symbol: 'BENCH-USDC', state: 'active', entries }));
      entries = [];
    }
  });
}
/** ~100 lots at the stream's mid price (1,000,000 ticks): a trader, not a sweep of the whole book. */
const CASH_BOOK = 100n * 1_000_000n;
const bookMarket: BookMarket = { book: BOOK_CONFIG, tickUnits: 1, lotUnits: 1 };
const bookWindow = { from: JOURNAL_T0 + 60_000, to: JOURNAL_T0 + 10_000 * 60_000, intervalMs: 60_000 };
fullGc();
const decodeStart = performance.now();
const flow = flowOfBatches(
  'm-bench',
  records.map((record) => decodeBatch(record)),
);
const decodeRate = (flow.length * 1000) / (performance.now() - decodeStart);
const barsStart = performance.now();
const bookSeries = recordedBars(flow, bookMarket, bookWindow, 0, 0);
const barsRate = (flow.length * 1000) / (performance.now() - barsStart);
progress(
  `book: ${records.length} journal records, ${flow.length} recorded commands, ${bookSeries.length} bars; ` +
    `decode ${round(decodeRate)}/s, pass 1 (bars) ${round(barsRate)}/s`,
);
// The same recorded commands through a bare OrderBook, alternated with the model's rounds: what
// the model adds to the engine's own loop, on the same machine at the same moment.
const bareRates: number[] = [];
const bare = () => {
  const book = new OrderBook(BOOK_CONFIG);
  fullGc();
  const start = performance.now();
  for (const recorded of flow) sink += book.execute(recorded.command).length;
  bareRates.push((flow.length * 1000) / (performance.now() - start));
};
const replayRates: number[] = [];
let strategyFills = 0;
for (let round_ = 0; round_ < ROUNDS; round_++) {
  bare();
  fullGc();
  const start = performance.now();
  const simulation = simulateBook(
    flow,
    bookMarket,
    bookWindow,
    bookSeries,
    smaCross.create({ fast: 5, slow: 20 }, bookSeries),
    { initialCash: CASH_BOOK, feeBps: 10, slippageBps: 0 },
  );
  replayRates.push((flow.length * 1000) / (performance.now() - start));
  strategyFills = simulation.fills.length;
  sink += simulation.fills.length;
  progress(
    `book replay round ${round_ + 1}: ${round(replayRates.at(-1)!)} orders/s (${strategyFills} strategy fills); ` +
      `bare engine ${round(bareRates.at(-1)!)} orders/s`,
  );
}

console.log(
  JSON.stringify({
    bars_per_s: round(median(rates)),
    bars_per_s_with_output: round(withOutput),
    book_replay_orders_per_s: round(median(replayRates)),
    sweep_100x100k_s: round(sweepSeconds, 2),
    book_engine_bare_orders_per_s: round(median(bareRates)),
    book_decode_orders_per_s: round(decodeRate),
    book_bars_orders_per_s: round(barsRate),
    book_recorded_commands: flow.length,
    book_bars: bookSeries.length,
    book_strategy_fills: strategyFills,
    load_before: round(loadBefore, 2),
    load_after: round(loadavg()[0]!, 2),
    sink: sink % 7,
  }),
);
