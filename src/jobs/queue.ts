import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { currentRequestId, requestContext, withRequest } from '../requestContext.ts';

/*
 * A BullMQ queue and its worker on Redis: jobs carry plain data, their ids are derived from what
 * they do so a duplicate enqueue is a no-op, and failures retry with exponential backoff. The work
 * itself must be idempotent (a worker can die after doing it and before acknowledging it).
 * A job enqueued while a request is served carries its id (`reqId` in the job's data): the
 * worker's lines about it, and whatever the work logs through the request context, carry it too.
 */

export interface JobQueueOptions<T> {
  readonly name: string;
  readonly redisUrl: string;
  /** Key prefix: separates exchanges sharing one Redis (tests, environments). */
  readonly prefix: string;
  readonly attempts: number;
  /** First retry delay; doubles each attempt. */
  readonly backoffMs: number;
  readonly concurrency?: number;
  readonly log: Logger;
  /** One attempt; `final` on the last one. Throws to have the queue retry. */
  readonly run: (data: T, attempt: { readonly number: number; readonly final: boolean }) => Promise<void>;
}

export interface JobQueue<T> {
  readonly name: string;
  /** Adds a job unless one with this id exists. */
  enqueue(jobId: string, data: T): Promise<void>;
  /** Jobs waiting, delayed or running. */
  pending(): Promise<number>;
  /** Jobs per state (metrics). */
  counts(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export async function startJobQueue<T>(options: JobQueueOptions<T>): Promise<JobQueue<T>> {
  const { name, prefix, attempts, backoffMs, log } = options;
  const connect = () => new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const queueConnection = connect();
  const workerConnection = connect();
  const queue = new Queue(name, { connection: queueConnection, prefix });
  const worker = new Worker(
    name,
    async (job: Job) => {
      const number = job.attemptsMade + 1;
      const context = requestContext(requestIdOf(job), log);
      const jobLog = context.log.child({ queue: name, jobId: job.id, attempt: number });
      jobLog.debug('job attempt started');
      await withRequest(context, () => options.run(job.data as T, { number, final: number >= attempts }));
      jobLog.info('job done');
    },
    { connection: workerConnection, prefix, concurrency: options.concurrency ?? 4 },
  );
  worker.on('failed', (job, error) => {
    const reqId = job === undefined ? undefined : requestIdOf(job);
    log.warn(
      { reqId, queue: name, jobId: job?.id, attempt: job?.attemptsMade, err: error.message },
      'job attempt failed',
    );
  });
  worker.on('error', (error) => {
    log.warn({ queue: name, err: error.message }, 'worker error');
  });
  await queue.waitUntilReady();
  await worker.waitUntilReady();
  return {
    name,
    async enqueue(jobId, data) {
      const reqId = currentRequestId();
      await queue.add(name, reqId === undefined ? data : { ...data, reqId }, {
        jobId,
        attempts,
        backoff: { type: 'exponential', delay: backoffMs },
        removeOnComplete: 1_000,
        removeOnFail: 1_000,
      });
    },
    async pending() {
      const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
      return Object.values(counts).reduce((a, b) => a + b, 0);
    },
    counts: () => queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized', 'failed'),
    async close() {
      await worker.close();
      await queue.close();
      queueConnection.disconnect();
      workerConnection.disconnect();
    },
  };
}

/** The id of the request that enqueued the job, else one of its own (jobs of no request). */
function requestIdOf(job: Job): string {
  const data: unknown = job.data;
  const reqId = typeof data === 'object' && data !== null ? (data as { reqId?: unknown }).reqId : undefined;
  return typeof reqId === 'string' ? reqId : `job-${job.id ?? '?'}`;
}
