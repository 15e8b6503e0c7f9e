import { z } from 'zod/v4';

/*
 * The environment of back-testing and analytics, as a zod shape for src/config.ts to spread into its
 * schema (one frozen config object, parsed at boot).
 */

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const ANALYTICS_ENV = {
  /** Most bars one back-test runs over (candles given or history replayed). */
  BACKTEST_MAX_BARS: positiveInt(100_000),
  /** Most parameter sets one sweep runs. */
  BACKTEST_MAX_SWEEP: positiveInt(100),
  /** A run's time bound, ms; past it the run fails. */
  BACKTEST_MAX_RUN_MS: positiveInt(60_000),
  /** Back-tests a user may have queued or running at once; past it POST /backtests answers 429. */
  BACKTEST_MAX_ACTIVE_PER_USER: positiveInt(3),
  /** Back-tests run at once by this exchange (each on a worker thread of its own). */
  BACKTEST_CONCURRENCY: positiveInt(2),
  /** How often each user's equity is recorded for GET /portfolio/history, ms. */
  PORTFOLIO_HISTORY_INTERVAL_MS: positiveInt(3_600_000),
  /** The assets equity is recorded in (comma-separated symbols). */
  PORTFOLIO_HISTORY_IN: z
    .string()
    .default('USDC')
    .transform((text) =>
      text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    )
    .pipe(z.array(z.string().regex(/^[A-Z0-9]{1,16}$/)).min(1)),
  /** Equity points older than this are dropped (whole monthly partitions). */
  PORTFOLIO_HISTORY_RETENTION_DAYS: positiveInt(365),
  /** Trade rollups (1m … 1d) older than this are dropped (whole monthly partitions). */
  ANALYTICS_ROLLUP_RETENTION_DAYS: positiveInt(730),
  /** How often the `update-market-stats` job recomputes the leaderboards, ms. */
  LEADERBOARD_REFRESH_MS: positiveInt(60_000),
  /** Most users one recording values. */
  PORTFOLIO_HISTORY_MAX_USERS: positiveInt(10_000),
  /**
   * Trades (the projector's `trades`, history reads) older than this are dropped, whole monthly
   * partitions; 0 (the default) keeps every month. A rebuild of the projections makes them again
   * until the next housekeeping.
   */
  TRADES_RETENTION_DAYS: z.coerce.number().int().nonnegative().default(0),
  /** Stored candles (`price_candles`) older than this are dropped, likewise; 0 keeps them. */
  CANDLES_RETENTION_DAYS: z.coerce.number().int().nonnegative().default(0),
  /** How often the time-series partitions of trades and candles are made ahead and dropped, ms. */
  TIME_SERIES_HOUSEKEEPING_MS: positiveInt(3_600_000),
};
