import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { openJobQueue, type OpenedJobQueue } from '../jobs/queue.ts';
import { priceSourceOf } from '../marketdata/config.ts';
import { startReferencePriceJob } from '../marketdata/referencePrices.ts';
import { saveReferencePrices } from '../persistence/marketDataStore.ts';
import { SyncAllowlistPayload } from '../services/complianceAdmin.ts';
import { DeployTokenPayload } from '../services/issuance.ts';
import { observe, type JobQueueSource } from '../transport/http/metrics.ts';
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
  /** The BullMQ key prefix of this exchange's queues (undefined without Redis). */
  readonly prefix?: string;
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
  if (redisUrl === undefined) return { queues };
  const prefix = `rwa:${new URL(config.DATABASE_URL).pathname.slice(1) || 'exchange'}`;
  const deploy = await openJobQueue({
    name: 'deploy-token',
    redisUrl,
    prefix,
    payload: DeployTokenPayload,
    attempts: config.DEPLOY_ATTEMPTS,
    backoffMs: config.DEPLOY_BACKOFF_MS,
    log,
  });
  const allowlist = await openJobQueue({
    name: 'sync-allowlist',
    redisUrl,
    prefix,
    payload: SyncAllowlistPayload,
    attempts: 8,
    backoffMs: config.DEPLOY_BACKOFF_MS,
    log,
  });
  queues.push(deploy, allowlist);
  const priceSource = priceSourceOf(config);
  if (priceSource !== undefined) {
    const { pool } = storage;
    queues.push(
      await startReferencePriceJob({
        redisUrl,
        prefix,
        intervalMs: config.PRICE_FETCH_INTERVAL_MS,
        source: priceSource,
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
  return { deploy, allowlist, queues, prefix };
}
