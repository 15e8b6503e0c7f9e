import type { Logger } from 'pino';
import { Backtests, RunBacktestPayload } from '../analytics/backtests.ts';
import type { Config } from '../config.ts';
import { openJobQueue, type OpenedJobQueue } from '../jobs/queue.ts';
import type { Consumers } from './consumers.ts';
import type { Core } from './core.ts';
import type { Storage } from './storage.ts';

/*
 * Back-testing and analytics in the composition root (src/analytics): the `run-backtest` queue
 * (stage 6, openAnalyticsJobs) and the service with its worker (stage 7, startAnalytics).
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
    payload: RunBacktestPayload,
    attempts: 3,
    concurrency: config.BACKTEST_CONCURRENCY,
    log,
  });
}

export interface Analytics {
  readonly backtests: Backtests;
}

export async function startAnalytics(
  config: Config,
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
  await queue?.work(({ id }) => backtests.run(id));
  return { backtests };
}
