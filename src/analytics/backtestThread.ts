import { parentPort, workerData } from 'node:worker_threads';
import { planOf, type Limits } from './backtest/config.ts';
import { runPlan } from './backtest/run.ts';
import type { Series } from './backtest/series.ts';

/*
 * The entry of a back-test's worker thread (src/analytics/threads.ts starts one per run): plans the
 * config again (cheap, and the thread trusts nothing it is handed), runs it over the series and
 * posts the outcome. A run past its time bound is ended from outside (Worker.terminate) as well as
 * by the engine's own deadline.
 */

export interface ThreadInput {
  readonly config: unknown;
  readonly series: Series;
  readonly qtyScale: number;
  readonly limits: Limits;
  readonly runMs: number;
  /** Runs only these parameter sets of the grid (a sweep split over threads). */
  readonly slice?: { readonly start: number; readonly end: number };
}

const input = workerData as ThreadInput;
const plan = planOf(input.config, input.limits);
if (!plan.ok) parentPort?.postMessage(plan);
else {
  const { start, end } = input.slice ?? { start: 0, end: plan.value.paramSets.length };
  const sliced = { ...plan.value, paramSets: plan.value.paramSets.slice(start, end) };
  parentPort?.postMessage(
    runPlan(sliced, input.series, { qtyScale: input.qtyScale, deadline: performance.now() + input.runMs }),
  );
}
