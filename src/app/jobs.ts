import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { openJobQueue, type OpenedJobQueue } from '../jobs/queue.ts';
import { priceSourceOf } from '../marketdata/config.ts';
import { startReferencePriceJob } from '../marketdata/referencePrices.ts';
import { saveReferencePrices } from '../persistence/marketDataStore.ts';
import { SyncAllowlistPayload } from '../services/complianceAdmin.ts';
import { aggregateSourceName, fetchAggregatedPrices } from '../trends/priceSources.ts';
import { DeployTokenPayload } from '../services/issuance.ts';
import { observe, type JobQueueSource } from '../transport/http/metrics.ts';
import { jobPlacement } from './roles.ts';
import { openAnalyticsJobs, type BacktestQueue } from './analytics.ts';
import type { Consumers } from './consumers.ts';
import type { Core } from './core.ts';
import type { Storage } from './storage.ts';

/**
 * Stage 6 of the composition root: the BullMQ queues (src/jobs/queue.ts), opened for producers
 * now; the deploy and allowlist workers start once the services they run exist (startWorkers).
 * The reference-price job runs on its own from here. Without REDIS_URL there are no queues and
 * enqueueing fails with a clear message.
 */
export interface Jobs {
  readonly deploy?: OpenedJobQueue<typeof DeployTokenPayload>;
  readonly allowlist?: OpenedJobQueue<typeof SyncAllowlistPayload>;
  /** The queues' key prefix (for queues opened in later stages: pull-trends, notifications). */
  readonly prefix: string;
  readonly backtests?: BacktestQueue;
  /** Every queue (/metrics counts their jobs at scrape time). */
  readonly queues: readonly (JobQueueSource & { close(): Promise<void> })[];
}

export async function openJobs(
  config: Config & { readonly DATABASE_URL: string },
  log: Logger,
  storage: Storage,
  core: Core,
  consumers: Consumers,
): Promise<Jobs> {
  const redisUrl = config.REDIS_URL;
  const queues: (JobQueueSource & { close(): Promise<void> })[] = [];
  // /metrics reads these at scrape time (mailbox depth per market, jobs per queue and state).
  observe({ markets: () => core.supervisor.list(), jobQueues: queues });
  const prefix = `rwa:${new URL(config.DATABASE_URL).pathname.slice(1) || 'exchange'}`;
  if (redisUrl === undefined) return { prefix, queues };
  const placement = jobPlacement(config.ROLE);
  const deploy = await openJobQueue({
    name: 'deploy-token',
    redisUrl,
    prefix,
    placement,
    payload: DeployTokenPayload,
    attempts: config.DEPLOY_ATTEMPTS,
    backoffMs: config.DEPLOY_BACKOFF_MS,
    log,
  });
  const allowlist = await openJobQueue({
    name: 'sync-allowlist',
    redisUrl,
    prefix,
    placement,
    payload: SyncAllowlistPayload,
    attempts: 8,
    backoffMs: config.DEPLOY_BACKOFF_MS,
    log,
  });
  const backtests = await openAnalyticsJobs(config, log, redisUrl, prefix);
  queues.push(deploy, allowlist, backtests);
  const sources = config.PRICE_SOURCES;
  // Issue 19: several sources, aggregated (src/trends/priceSources.ts), replace the single one.
  const priceSource =
    sources === undefined
      ? priceSourceOf(config)
      : {
          ...aggregateSourceName(sources),
          keys: new Map<string, string>(),
          vsCurrency: 'usd',
          timeoutMs: config.PRICE_FETCH_TIMEOUT_MS,
        };
  if (priceSource !== undefined) {
    const { pool } = storage;
    queues.push(
      await startReferencePriceJob({
        redisUrl,
        prefix,
        placement,
        intervalMs: config.PRICE_FETCH_INTERVAL_MS,
        source: priceSource,
        ...(sources === undefined
          ? {}
          : {
              fetchPrices: (markets) =>
                fetchAggregatedPrices(sources, markets, {
                  maxAgeMs: config.PRICE_MAX_AGE_MS,
                  bandBps: config.PRICE_OUTLIER_BPS,
                  minSources: config.PRICE_MIN_SOURCES,
                  timeoutMs: config.PRICE_FETCH_TIMEOUT_MS,
                }),
            }),
        log,
        markets: () => core.catalog.listMarkets(),
        store: (prices, fetchedAt) =>
          saveReferencePrices(
            pool,
            prices.map((p) => ({ marketId: p.marketId, price: p.price, sourceKey: p.sourceKey, fetchedAt })),
          ),
        onPrices: (prices) => {
          for (const { marketId, price } of prices) {
            consumers.pushes.emit(consumers.marketData.setIndexPrice(marketId, price));
          }
        },
      }),
    );
  }
  return { deploy, allowlist, backtests, prefix, queues };
}
