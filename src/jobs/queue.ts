import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/*
 * A BullMQ queue and its worker on Redis: jobs carry plain data, their ids are derived from what
 * they do so a duplicate enqueue is a no-op, and failures retry with exponential backoff. The work
 * itself must be idempotent (a worker can die after doing it and before acknowledging it).
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
  /** Adds a job unless one with this id exists. */
  enqueue(jobId: string, data: T): Promise<void>;
  /** Jobs waiting, delayed or running. */
  pending(): Promise<number>;
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
      await options.run(job.data as T, { number, final: number >= attempts });
    },
    { connection: workerConnection, prefix, concurrency: options.concurrency ?? 4 },
  );
  worker.on('failed', (job, error) => {
    log.warn(
      { queue: name, jobId: job?.id, attempt: job?.attemptsMade, err: error.message },
      'job attempt failed',
    );
  });
  worker.on('error', (error) => {
    log.warn({ queue: name, err: error.message }, 'worker error');
  });
  await queue.waitUntilReady();
  await worker.waitUntilReady();
  return {
    async enqueue(jobId, data) {
      await queue.add(name, data, {
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
    async close() {
      await worker.close();
      await queue.close();
      queueConnection.disconnect();
      workerConnection.disconnect();
    },
  };
}
