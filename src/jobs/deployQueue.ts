import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/*
 * The deploy-token queue on Redis (BullMQ): one job per market and activation round, its id
 * derived from both so a duplicate enqueue is a no-op; 5 attempts with exponential backoff. The
 * worker runs the issuance service's deployment step; the step itself is idempotent (it records the
 * tx hash before waiting for confirmation and checks it on retry).
 */

export const DEPLOY_QUEUE = 'deploy-token';

export interface DeployJobData {
  readonly marketId: string;
  readonly round: number;
}

export interface DeployQueueOptions {
  readonly redisUrl: string;
  /** Key prefix: separates exchanges sharing one Redis (tests, environments). */
  readonly prefix: string;
  readonly attempts?: number;
  /** First retry delay; doubles each attempt. */
  readonly backoffMs?: number;
  readonly log: Logger;
  /** One attempt; `final` on the last one. Throws to have the queue retry. */
  readonly run: (marketId: string, attempt: { final: boolean }) => Promise<void>;
}

export interface DeployJobs {
  enqueueDeploy(marketId: string, round: number): Promise<void>;
  /** Jobs waiting, delayed or running (health and tests). */
  pending(): Promise<number>;
  close(): Promise<void>;
}

export async function startDeployJobs(options: DeployQueueOptions): Promise<DeployJobs> {
  const attempts = options.attempts ?? 5;
  const backoffMs = options.backoffMs ?? 2_000;
  const { log, prefix } = options;
  const connection = () => new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
  const queueConnection = connection();
  const workerConnection = connection();
  const queue = new Queue<DeployJobData>(DEPLOY_QUEUE, { connection: queueConnection, prefix });
  const worker = new Worker<DeployJobData>(
    DEPLOY_QUEUE,
    async (job: Job<DeployJobData>) => {
      const final = job.attemptsMade + 1 >= attempts;
      log.info(
        { marketId: job.data.marketId, round: job.data.round, attempt: job.attemptsMade + 1 },
        'deploying token',
      );
      await options.run(job.data.marketId, { final });
    },
    { connection: workerConnection, prefix, concurrency: 4 },
  );
  worker.on('failed', (job, error) => {
    log.warn(
      { marketId: job?.data.marketId, attempt: job?.attemptsMade, err: error.message },
      'token deployment attempt failed',
    );
  });
  worker.on('error', (error) => {
    log.warn({ err: error.message }, 'deploy worker error');
  });
  await queue.waitUntilReady();
  await worker.waitUntilReady();
  return {
    async enqueueDeploy(marketId, round) {
      await queue.add(
        'deploy',
        { marketId, round },
        {
          jobId: `deploy-${marketId}-${round}`,
          attempts,
          backoff: { type: 'exponential', delay: backoffMs },
          removeOnComplete: 1_000,
          removeOnFail: 1_000,
        },
      );
    },
    async pending() {
      const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
      return Object.values(counts).reduce((a, b) => a + b, 0);
    },
    async close() {
      await worker.close();
      await queue.close();
      queueConnection.disconnect();
      workerConnection.disconnect();
    },
  };
}
