import type { Logger } from 'pino';
import { Backtests, RunBacktestPayload } from '../analytics/backtests.ts';
import { Leaderboards, startMarketStats } from '../analytics/leaderboards.ts';
import { MarketAnalytics } from '../analytics/marketAnalytics.ts';
import { PortfolioConsumer } from '../analytics/portfolio/consumer.ts';
import { EquityHistory } from '../analytics/portfolio/history.ts';
import { Portfolio } from '../analytics/portfolio/portfolio.ts';
import { startRollups } from '../analytics/rollupRuntime.ts';
import { positionPublications } from '../analytics/portfolio/pushes.ts';
import { DurableConsumerRunner } from '../persistence/durableConsumers.ts';
import type { Config } from '../config.ts';
import { openJobQueue, type OpenedJobQueue } from '../jobs/queue.ts';
import type { Consumers } from './consumers.ts';
import { jobPlacement } from './roles.ts';
import type { Core } from './core.ts';
import type { Storage } from './storage.ts';

/*
 * Back-testing and analytics in the composition root (src/analytics): the `run-backtest` queue
 * (stage 6, openAnalyticsJobs) and the services with the queue's worker and the durable consumer
 * `portfolio` (stage 7, startAnalytics); `stop` at shutdown, before the pool closes.
 */

export type BacktestQueue = OpenedJobQueue<typeof RunBacktestPayload>;

export function openAnalyticsJobs(
  config: Config,
  log: Logger,
  redisUrl: string,
  prefix: string,
): Promise<BacktestQueue> {
  return openJobQueue({
    name: 'run-backtest',
    redisUrl,
    prefix,
    placement: jobPlacement(config.ROLE),
    payload: RunBacktestPayload,
    attempts: 3,
    concurrency: config.BACKTEST_CONCURRENCY,
    log,
  });
}

export interface Analytics {
  readonly backtests: Backtests;
  readonly portfolio: Portfolio;
  readonly markets: MarketAnalytics;
  readonly history: EquityHistory;
  readonly leaderboards: Leaderboards;
  /** Stops the portfolio consumer (a round in flight finishes). */
  stop(): Promise<void>;
}

/** How often the portfolio consumer looks for new journal records, ms. */
const PORTFOLIO_INTERVAL_MS = 100;

export async function startAnalytics(
  config: Config,
  log: Logger,
  storage: Storage,
  core: Core,
  consumers: Consumers,
  queue: BacktestQueue | undefined,
): Promise<Analytics> {
  const { projector } = consumers;
  const backtests = new Backtests({
    pool: storage.pool,
    limits: {
      maxBars: config.BACKTEST_MAX_BARS,
      maxSweep: config.BACKTEST_MAX_SWEEP,
      maxActivePerUser: config.BACKTEST_MAX_ACTIVE_PER_USER,
      runMs: config.BACKTEST_MAX_RUN_MS,
    },
    market: (idOrSymbol) => core.catalog.market(idOrSymbol),
    enqueue: (id) =>
      queue === undefined
        ? Promise.reject(new Error('REDIS_URL is not set: jobs cannot run'))
        : queue.enqueue(`backtest-${id}`, { id }),
    historyCaughtUp: () => projector.waitFor(projector.committedGlobalSeq, config.HISTORY_WAIT_MS),
  });
  await queue?.work(({ id }, attempt) => backtests.runAttempt(id, attempt.final));

  const { catalog } = core;
  const runner = new DurableConsumerRunner(
    storage.pool,
    new PortfolioConsumer(
      (marketId) => catalog.market(marketId),
      (rows, seq) => {
        consumers.consumerPushes.emit(
          positionPublications(rows, seq, (asset) => catalog.asset(asset)?.decimals),
        );
      },
    ),
    {
      gate: storage.consumerGate,
      onError: (error) => {
        log.warn({ err: error }, 'portfolio consumer round failed; retrying');
      },
    },
  );
  storage.flushed.subscribe((globalSeq) => {
    runner.noteCommitted(globalSeq);
  });
  runner.start(PORTFOLIO_INTERVAL_MS);
  const portfolio = new Portfolio({
    pool: storage.pool,
    assetDecimals: (asset) => catalog.asset(asset)?.decimals,
    markets: () =>
      catalog.listMarkets().map(({ definition }) => ({
        baseAsset: definition.baseAsset,
        quoteAsset: definition.quoteAsset,
        last: consumers.marketData.tickerSnapshot(definition.symbol)?.last,
      })),
    balances: (userId) => consumers.publisher.balances(userId),
  });
  const { rollups, stopRollups } = await startRollups({
    pool: storage.pool,
    flushed: storage.flushed,
    gate: storage.consumerGate,
    log,
    retentionDays: config.ANALYTICS_ROLLUP_RETENTION_DAYS,
  });
  const markets = new MarketAnalytics(
    storage.pool,
    (idOrSymbol) => catalog.market(idOrSymbol),
    () => rollups.waitFor(projector.committedGlobalSeq, config.HISTORY_WAIT_MS),
  );
  const history = new EquityHistory({
    pool: storage.pool,
    portfolio,
    assets: config.PORTFOLIO_HISTORY_IN,
    everyMs: config.PORTFOLIO_HISTORY_INTERVAL_MS,
    retentionDays: config.PORTFOLIO_HISTORY_RETENTION_DAYS,
    maxUsers: config.PORTFOLIO_HISTORY_MAX_USERS,
    assetDecimals: (asset) => catalog.asset(asset)?.decimals,
  });
  const leaderboards = new Leaderboards(
    storage.pool,
    (idOrSymbol) => catalog.market(idOrSymbol),
    () => catalog.listMarkets(),
  );
  const stats = await startMarketStats(config, log, leaderboards, jobPlacement(config.ROLE));
  // One recording at a time; a tick that finds one in flight is skipped.
  let recording: Promise<unknown> | undefined;
  const record = () => {
    recording ??= history
      .record(Date.now())
      .catch((error: unknown) => {
        log.warn({ err: error }, 'equity history recording failed; the next tick retries');
      })
      .finally(() => {
        recording = undefined;
      });
  };
  const timer = setInterval(record, config.PORTFOLIO_HISTORY_INTERVAL_MS);
  timer.unref();
  record();
  return {
    backtests,
    portfolio,
    markets,
    history,
    leaderboards,
    stop: async () => {
      clearInterval(timer);
      await recording;
      await runner.stop();
      await stopRollups();
      await stats?.close();
    },
  };
}
