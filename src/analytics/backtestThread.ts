import { parentPort, workerData } from 'node:worker_threads';
import { decodeBatch } from '../persistence/journalCodec.ts';
import { flowOfBatches, recordedBars, type BookInput } from './backtest/book.ts';
import { checkLength, planOf, type Limits } from './backtest/config.ts';
import { runPlan } from './backtest/run.ts';
import { MAX_PRICE_SUM, type Series } from './backtest/series.ts';
import type { Outcome } from '../protocol/errors.ts';
import type { BacktestResult } from './backtest/run.ts';

/*
 * The entry of a back-test's worker thread (src/analytics/threads.ts starts one per run): plans the
 * config again (cheap, and the thread trusts nothing it is handed), runs it over the series and
 * posts the outcome. A run past its time bound is ended from outside (Worker.terminate) as well as
 * by the engine's own deadline. A `book` run gets the market's journal records instead of a series:
 * the thread decodes them, replays them for the bars, and runs the plan over the replayed book.
 */

export interface ThreadInput {
  readonly config: unknown;
  readonly series?: Series;
  readonly qtyScale: number;
  readonly limits: Limits;
  readonly runMs: number;
  /** Runs only these parameter sets of the grid (a sweep split over threads). */
  readonly slice?: { readonly start: number; readonly end: number };
  /** The `book` fill model: the market's journal records (seq order) and its money. */
  readonly journal?: BookInput & { readonly records: readonly Uint8Array[] };
}

const input = workerData as ThreadInput;
parentPort?.postMessage(run(input));

function run(input: ThreadInput): Outcome<BacktestResult> {
  const deadline = performance.now() + input.runMs;
  const plan = planOf(input.config, input.limits);
  if (!plan.ok) return plan;
  const { start, end } = input.slice ?? { start: 0, end: plan.value.paramSets.length };
  const sliced = { ...plan.value, paramSets: plan.value.paramSets.slice(start, end) };
  const { journal } = input;
  if (journal === undefined) {
    if (input.series === undefined) return { ok: false, code: 'bad_request', message: 'no series' };
    return runPlan(sliced, input.series, { qtyScale: input.qtyScale, deadline });
  }
  const flow = flowOfBatches(
    journal.marketId,
    journal.records.map((record) => decodeBatch(record)),
  );
  const series = recordedBars(flow, journal.market, journal.window, journal.priceScale, journal.qtyScale);
  if (series.length > input.limits.maxBars)
    return {
      ok: false,
      code: 'bad_request',
      message: `from: the range holds more than ${input.limits.maxBars} bars`,
    };
  const enough = checkLength(series, sliced, 'from');
  if (!enough.ok) return enough;
  for (let i = 0; i < series.length; i++)
    if (series.h[i]! * sliced.longestWindow > MAX_PRICE_SUM)
      return {
        ok: false,
        code: 'bad_request',
        message: `market: prices too large for exact sums over a ${sliced.longestWindow}-bar window`,
      };
  return runPlan(sliced, series, {
    qtyScale: journal.qtyScale,
    deadline,
    book: { flow, market: journal.market, window: journal.window },
  });
}
