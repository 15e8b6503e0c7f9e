import type { DatabasePool } from 'slonik';
import {
  dropMonthlyPartitionsBefore,
  ensureFallbackMonths,
  ensureMonthsAhead,
  type MonthlyPartitioned,
} from './monthlyPartitions.ts';

/*
 * The projector's `trades` and the market data's `price_candles` as time series (migration
 * 1763800000170): monthly range partitions made ahead, a DEFAULT partition as the safety net for a
 * row of a month not made yet (emptied into the month's own partition by the next housekeeping),
 * whole months dropped past retention. The writers (projector, market-data saver) do nothing of
 * this: their statements are those of the plain tables. docs/analytics.md, Time-series storage.
 */

const DAY_MS = 86_400_000;

export const TRADES_SERIES: MonthlyPartitioned = {
  table: 'trades',
  fallback: { name: 'trades_default', column: 'ts' },
  // The projector's statement writes orders before trades; a partition's foreign keys put
  // triggers on orders.
  lockFirst: ['orders'],
};

export const CANDLES_SERIES: MonthlyPartitioned = {
  table: 'price_candles',
  fallback: { name: 'price_candles_default', column: 'open_time' },
};

export interface TimeSeriesRetention {
  /** Days of trades kept (whole months dropped before); 0 keeps every month. */
  readonly tradesDays: number;
  /** Days of candles kept, likewise. */
  readonly candlesDays: number;
}

export interface HousekeepingResult {
  /** Months moved out of a default partition into their own (per table). */
  readonly moved: Readonly<Record<string, number>>;
  /** Partitions dropped past retention (per table). */
  readonly dropped: Readonly<Record<string, number>>;
}

/**
 * One round: the months the defaults caught get partitions of their own, this month's and the
 * next's are made ahead, and whole months past retention are dropped.
 */
export async function timeSeriesHousekeeping(
  pool: DatabasePool,
  now: number,
  retention: TimeSeriesRetention,
): Promise<HousekeepingResult> {
  const moved: Record<string, number> = {};
  const dropped: Record<string, number> = {};
  for (const [spec, days] of [
    [TRADES_SERIES, retention.tradesDays],
    [CANDLES_SERIES, retention.candlesDays],
  ] as const) {
    moved[spec.table] = await ensureFallbackMonths(pool, spec);
    await ensureMonthsAhead(pool, spec, now);
    dropped[spec.table] = days > 0 ? await dropMonthlyPartitionsBefore(pool, spec, now - days * DAY_MS) : 0;
  }
  return { moved, dropped };
}

export interface TimeSeriesHousekeepingDeps {
  readonly pool: DatabasePool;
  readonly retention: TimeSeriesRetention;
  readonly everyMs: number;
  readonly onRound?: (result: HousekeepingResult) => void;
  readonly onError: (error: unknown) => void;
  readonly now?: () => number;
}

/** Runs a round now (awaited: a failure fails the start), then every `everyMs` until stopped. */
export async function startTimeSeriesHousekeeping(
  deps: TimeSeriesHousekeepingDeps,
): Promise<() => Promise<void>> {
  const now = deps.now ?? Date.now;
  const round = async () => {
    deps.onRound?.(await timeSeriesHousekeeping(deps.pool, now(), deps.retention));
  };
  await round();
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= round()
      .catch(deps.onError)
      .finally(() => {
        running = undefined;
      });
  }, deps.everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
