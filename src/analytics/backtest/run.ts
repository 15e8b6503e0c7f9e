import { formatUnits } from '../../actors/money/decimal.ts';
import { failure, type Outcome } from '../../protocol/errors.ts';
import { INTERVAL_MS, initialCashOf, type MetricName, type Plan } from './config.ts';
import { performanceOf, YEAR_MS, type Performance } from './metrics.ts';
import { simulateBook, type BookMarket, type RecordedCommand } from './book.ts';
import { BacktestTimeout, simulateNextOpen, type Simulation } from './nextOpen.ts';
import type { Series } from './series.ts';

/*
 * Runs a plan over a series with its fill model (`next_open`, or `book` over the recorded flow): one simulation per parameter set,
 * ranked by the chosen metric when there are several (a sweep); the best one's trades and equity
 * curve are kept, with decimal strings for every money value. Pure and synchronous: the worker
 * (src/analytics/worker.ts) calls it on a worker thread.
 */

export interface TradeView {
  readonly t: number;
  readonly side: 'buy' | 'sell';
  readonly price: string;
  readonly qty: string;
  readonly fee: string;
}

export interface SweepEntry {
  readonly params: Readonly<Record<string, unknown>>;
  readonly performance: Performance;
}

export interface BacktestResult {
  readonly params: Readonly<Record<string, unknown>>;
  readonly performance: Performance;
  readonly trades: readonly TradeView[];
  readonly equity: readonly { readonly t: number; readonly equity: string }[];
  /** Every parameter set, best first, when the params swept a grid. */
  readonly sweep?: readonly SweepEntry[];
}

export interface RunOptions {
  /** Decimals of quantities (the market's, or the config's qtyDecimals). */
  readonly qtyScale: number;
  /** performance.now() past which the run fails. */
  readonly deadline?: number;
  /** The `book` fill model's input: the recorded flow (the series is its bars, book.ts recordedBars). */
  readonly book?: {
    readonly flow: readonly RecordedCommand[];
    readonly market: BookMarket;
    readonly window: { readonly from: number; readonly to: number; readonly intervalMs: number };
  };
}

export function runPlan(plan: Plan, series: Series, options: RunOptions): Outcome<BacktestResult> {
  const { config, strategy } = plan;
  const cashScale = series.priceScale + options.qtyScale;
  const cash = initialCashOf(config, cashScale);
  if (!cash.ok) return cash;
  const barsPerYear = YEAR_MS / INTERVAL_MS[config.interval];
  const runs: { params: Record<string, unknown>; simulation: Simulation; performance: Performance }[] = [];
  try {
    for (const params of plan.paramSets) {
      const settings = {
        initialCash: cash.value,
        feeBps: config.feeBps,
        slippageBps: config.slippageBps,
        ...(options.deadline === undefined ? {} : { deadline: options.deadline }),
      };
      const decider = strategy.create(params, series);
      const { book } = options;
      if (config.fill === 'book' && book === undefined)
        return failure('bad_request', "fill: book needs the market's recorded flow");
      // The same metrics below whichever fill model made the simulation.
      const simulation =
        config.fill === 'book' && book !== undefined
          ? simulateBook(book.flow, book.market, book.window, series, decider, settings)
          : simulateNextOpen(series, decider, settings);
      const performance = performanceOf({
        equity: simulation.equityRatio,
        t: series.t,
        initial: Number(cash.value),
        barsHolding: simulation.barsHolding,
        roundTrips: simulation.roundTrips,
        fills: simulation.fills.length,
        barsPerYear,
        ...(config.riskFreeRate === undefined ? {} : { riskFreeRate: config.riskFreeRate }),
      });
      runs.push({ params, simulation, performance });
    }
  } catch (error) {
    if (error instanceof BacktestTimeout) return failure('bad_request', `time bound: ${error.message}`);
    throw error;
  }
  const ranked = runs.length > 1 ? rank(runs, config.rankBy) : runs;
  const best = ranked[0]!;
  const { fills, equity } = best.simulation;
  return {
    ok: true,
    value: {
      params: best.params,
      performance: best.performance,
      trades: fills.map((fill) => ({
        t: series.t[fill.bar]!,
        side: fill.side,
        price: formatUnits(fill.price, series.priceScale),
        qty: formatUnits(fill.qty, options.qtyScale),
        fee: formatUnits(fill.fee, cashScale),
      })),
      equity: equity.map((value, i) => ({ t: series.t[i]!, equity: formatUnits(value, cashScale) })),
      ...(runs.length > 1
        ? { sweep: ranked.map(({ params, performance }) => ({ params, performance })) }
        : {}),
    },
  };
}

/** Best first: descending by the metric (maxDrawdown ascending); null (unbounded profit factor) first. */
export function rank<T extends { performance: Performance }>(runs: readonly T[], metric: MetricName): T[] {
  const key = (run: T): number => {
    const value = run.performance[metric];
    if (value === null) return Number.POSITIVE_INFINITY;
    return metric === 'maxDrawdown' ? -value : value;
  };
  // Stable: equal scores keep grid order.
  return [...runs].sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    return ka === kb ? 0 : kb > ka ? 1 : -1;
  });
}
