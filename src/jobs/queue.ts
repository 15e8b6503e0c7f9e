import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod/v4';
import { currentRequestId, REQUEST_ID_PATTERN, requestContext, withRequest } from '../requestContext.ts';
import { countPayloadRejection } from './metrics.ts';

/*
 * The one BullMQ queue and worker factory of the exchange. Each queue names a zod schema of its
 * payload: the producer enqueues the schema's input type, and the worker parses the job's data with
 * it before any work runs. Data that does not parse (a producer of another version, a hand-edited
 * job, a bug) fails the job at once as unrecoverable: retrying cannot make it parse. It is logged
 * with the job id and counted in `exchange_job_payload_rejections_total`.
 *
 * Job ids are derived from what a job does so a duplicate enqueue is a no-op, and failures retry
 * with exponential backoff. The work itself must be idempotent (a worker can die after doing it and
 * before acknowledging it). A job enqueued while a request is served carries its id (`reqId` beside
 * the payload in the job's data): the worker's lines about it, and whatever the work logs through
 * the request context, carry it too.
 */

/** A job's payload schema: an object with no `reqId` field (the request id is stored beside its fields). */
export type PayloadSchema = z.ZodType<object, object>;

export interface JobQueueOptions<S extends PayloadSchema> {
  readonly name: string;
  readonly redisUrl: string;
  /** Key prefix: separates exchanges sharing one Redis (tests, environments). */
  readonly prefix: string;
  /** What a job carries: producers enqueue its input, the work receives its output. */
  readonly payload: S;
  readonly attempts: number;
  /** First retry delay; doubles each attempt (default 1 s). */
  readonly backoffMs?: number;
  readonly concurrency?: number;
  /** At most `max` jobs started per `durationMs` by all workers of the queue (a provider's rate limit). */
  readonly limiter?: { readonly max: number; readonly durationMs: number };
  /** Ended jobs kept per outcome (completed, failed) for inspection (default 1,000). */
  readonly keepEnded?: number;
  /**
   * A repeatable job: one with `data` every `everyMs` (a BullMQ job scheduler named after the
   * queue, upserted at start so a restart with another interval replaces it; removed at close).
   */
  readonly schedule?: { readonly everyMs: number; readonly data: z.input<S> };
  readonly log: Logger;
  /** Where the work runs (default: here, and the schedule is this process's own). */
  readonly placement?: JobPlacement;
  /** The level of the line a done job writes (default info). */
  readonly logDone?: 'info' | 'debug';
  /** One attempt; `final` on the last one. Throws to have the queue retry. */
  readonly run: JobRun<S>;
}

/**
 * Where a queue's work runs: in a cluster the gateways only enqueue (`runsWorkers` false: `work` is
 * a no-op) and the workers work; the job schedulers are the cluster's (`sharedSchedules`: upserted
 * at open, never removed at close, since the other processes rely on them).
 */
export interface JobPlacement {
  readonly runsWorkers: boolean;
  readonly sharedSchedules: boolean;
}

const HERE: JobPlacement = { runsWorkers: true, sharedSchedules: false };

/** One attempt of a job; `final` on the last one. Throws to have the queue retry. */
export type JobRun<S extends PayloadSchema> = (
  data: z.output<S>,
  attempt: { readonly number: number; readonly final: boolean },
) => Promise<void>;

export interface JobQueue<S extends PayloadSchema> {
  readonly name: string;
  /** Adds a job unless one with this id exists; `delayMs`: not run before then. */
  enqueue(jobId: string, data: z.input<S>, options?: { readonly delayMs?: number }): Promise<void>;
  /** Jobs waiting, delayed or running. */
  pending(): Promise<number>;
  /** Jobs per state (metrics). */
  counts(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/** A queue whose worker starts later (the composition root enqueues before the services exist). */
export interface OpenedJobQueue<S extends PayloadSchema> extends JobQueue<S> {
  /** Starts the worker: jobs (those enqueued before too) run from now on. Once. */
  work(run: JobRun<S>): Promise<void>;
}

const DEFAULT_KEEP_ENDED = 1_000;
const DEFAULT_BACKOFF_MS = 1_000;

/** The request id stored beside the payload; a job of no request has none. */
const Envelope = z.object({ reqId: z.string().regex(REQUEST_ID_PATTERN).optional() });

export async function startJobQueue<S extends PayloadSchema>(
  options: JobQueueOptions<S>,
): Promise<JobQueue<S>> {
  const queue = await openJobQueue(options);
  await queue.work(options.run);
  return queue;
}

/** The queue and its producer now; its worker when `work` is called. */
export async function openJobQueue<S extends PayloadSchema>(
  options: Omit<JobQueueOptions<S>, 'run'>,
): Promise<OpenedJobQueue<S>> {
  const { name, prefix, attempts } = options;
  const placement = options.placement ?? HERE;
  const keep = options.keepEnded ?? DEFAULT_KEEP_ENDED;
  const jobOptions = {
    attempts,
    backoff: { type: 'exponential', delay: options.backoffMs ?? DEFAULT_BACKOFF_MS },
    removeOnComplete: keep,
    removeOnFail: keep,
  };
  const connect = () => new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const queueConnection = connect();
  let workerConnection: Redis | undefined;
  let worker: Worker | undefined;
  const queue = new Queue(name, { connection: queueConnection, prefix });
  await queue.waitUntilReady();
  if (options.schedule !== undefined)
    await queue.upsertJobScheduler(
      name,
      { every: options.schedule.everyMs },
      { name, data: options.schedule.data, opts: jobOptions },
    );
  return {
    name,
    async work(run) {
      if (worker !== undefined) throw new Error(`queue ${name} has a worker already`);
      if (!placement.runsWorkers) return;
      workerConnection = connect();
      worker = startWorker(options, run, workerConnection);
      await worker.waitUntilReady();
    },
    async enqueue(jobId, data, more = {}) {
      const reqId = currentRequestId();
      const delay = more.delayMs !== undefined && more.delayMs > 0 ? { delay: Math.ceil(more.delayMs) } : {};
      await queue.add(name, reqId === undefined ? data : { ...data, reqId }, {
        jobId,
        ...jobOptions,
        ...delay,
      });
    },
    async pending() {
      const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
      return Object.values(counts).reduce((a, b) => a + b, 0);
    },
    counts: () => queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized', 'failed'),
    async close() {
      await worker?.close();
      if (options.schedule !== undefined && !placement.sharedSchedules) await queue.removeJobScheduler(name);
      await queue.close();
      queueConnection.disconnect();
      workerConnection?.disconnect();
    },
  };
}

/** The worker of a queue: parses each payload (a job that does not parse fails for good), runs it. */
function startWorker<S extends PayloadSchema>(
  options: Omit<JobQueueOptions<S>, 'run'>,
  run: JobRun<S>,
  connection: Redis,
): Worker {
  const { name, prefix, payload, attempts, log } = options;
  const worker = new Worker(
    name,
    async (job: Job) => {
      const number = job.attemptsMade + 1;
      const parsed = parseJob(payload, job.data);
      const context = requestContext(requestIdOf(job), log);
      const jobLog = context.log.child({ queue: name, jobId: job.id, attempt: number });
      if (!parsed.ok) {
        countPayloadRejection(name);
        jobLog.error({ issues: parsed.issues }, 'job payload rejected');
        throw new UnrecoverableError(`the job's payload does not parse: ${parsed.issues.join('; ')}`);
      }
      jobLog.debug('job attempt started');
      await withRequest(context, () => run(parsed.data, { number, final: number >= attempts }));
      jobLog[options.logDone ?? 'info']('job done');
    },
    {
      connection,
      prefix,
      concurrency: options.concurrency ?? 4,
      ...(options.limiter === undefined
        ? {}
        : { limiter: { max: options.limiter.max, duration: options.limiter.durationMs } }),
    },
  );
  worker.on('failed', (job, error) => {
    const made = job?.attemptsMade ?? 0;
    log.warn(
      {
        reqId: job === undefined ? undefined : requestIdOf(job),
        queue: name,
        jobId: job?.id,
        attempt: made,
        // No retry follows: the last attempt, or a payload that does not parse.
        final: error instanceof UnrecoverableError || made >= attempts,
        err: error.message,
      },
      'job attempt failed',
    );
  });
  worker.on('error', (error) => {
    log.warn({ queue: name, err: error.message }, 'worker error');
  });
  return worker;
}

type Parsed<T> =
  { readonly ok: true; readonly data: T } | { readonly ok: false; readonly issues: readonly string[] };

/** The job's data, less its request id, as the payload's output; or where it does not parse (no values). */
function parseJob<S extends PayloadSchema>(payload: S, data: unknown): Parsed<z.output<S>> {
  if (!isRecord(data)) return { ok: false, issues: ['(payload): not an object'] };
  const envelope = Envelope.safeParse(data);
  const parsed = payload.safeParse(withoutRequestId(data));
  if (envelope.success && parsed.success) return { ok: true, data: parsed.data };
  const issues = [...(envelope.error?.issues ?? []), ...(parsed.error?.issues ?? [])].map(
    (issue) => `${issue.path.length === 0 ? '(payload)' : issue.path.join('.')}: ${issue.message}`,
  );
  return { ok: false, issues };
}

function withoutRequestId(data: Record<string, unknown>): Record<string, unknown> {
  const fields = { ...data };
  delete fields.reqId;
  return fields;
}

/** The id of the request that enqueued the job, else one of its own (no request, or a malformed id). */
function requestIdOf(job: Job): string {
  const envelope = Envelope.safeParse(job.data);
  return (envelope.success ? envelope.data.reqId : undefined) ?? `job-${job.id ?? '?'}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
