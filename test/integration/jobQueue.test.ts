import { Writable } from 'node:stream';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { register } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod/v4';
import { openJobQueue, startJobQueue } from '../../src/jobs/queue.ts';
import { newRequestId, requestContext, withRequest } from '../../src/requestContext.ts';
import { eventually } from '../support/eventually.ts';

/**
 * Issue 13: the one BullMQ queue/worker factory parses every job's payload with the queue's zod
 * schema at the worker, on a real Redis. A job whose data does not parse (here written by a plain
 * BullMQ producer, as another version of the exchange or a hand-edited job would) fails at once as
 * unrecoverable, is logged with its id and request id, counted, and the work never runs.
 */

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/1';
const PREFIX = `rwa-test-jobs-${process.pid}-${Date.now()}`;

/** Input and output differ (text in, bigint out): producers write the input, the work reads the output. */
const TransferPayload = z.object({
  wallet: z.string().min(1),
  units: z
    .string()
    .regex(/^[0-9]+$/)
    .transform(BigInt),
});

interface Line {
  readonly level: number;
  readonly msg: string;
  readonly queue?: string;
  readonly jobId?: string;
  readonly reqId?: string;
  readonly issues?: readonly string[];
  readonly final?: boolean;
}

const lines: Line[] = [];
const log = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Line);
      done();
    },
  }),
);

const connections = [0, 1].map(() => new Redis(REDIS_URL, { maxRetriesPerRequest: null }));
let events: QueueEvents;
let producer: Queue;
const QUEUE = 'test-transfer';

beforeAll(async () => {
  events = new QueueEvents(QUEUE, { connection: connections[0]!, prefix: PREFIX });
  producer = new Queue(QUEUE, { connection: connections[1]!, prefix: PREFIX });
  await events.waitUntilReady();
  await producer.waitUntilReady();
});

afterAll(async () => {
  await producer.obliterate({ force: true });
  await producer.close();
  await events.close();
  for (const connection of connections) connection.disconnect();
});

/** The first line matching `match`, waiting for it (the worker logs its events as they come). */
async function line(match: (l: Line) => boolean): Promise<Line> {
  return eventually(() => lines.find(match), { timeoutMs: 5_000, everyMs: 10, what: 'such a log line' });
}

async function rejections(queue: string): Promise<number> {
  const metric = await register.getSingleMetric('exchange_job_payload_rejections_total')?.get();
  return metric?.values.find((v) => v.labels.queue === queue)?.value ?? 0;
}

describe('the job queue factory', () => {
  it('issue 13: a job whose payload does not parse fails at once, unrecoverable, and the worker runs nothing', async () => {
    const ran: unknown[] = [];
    const queue = await startJobQueue({
      name: QUEUE,
      redisUrl: REDIS_URL,
      prefix: PREFIX,
      payload: TransferPayload,
      attempts: 5,
      backoffMs: 10,
      log,
      run: (data) => {
        ran.push(data);
        return Promise.resolve();
      },
    });
    try {
      const before = await rejections(QUEUE);
      // Not the schema's shape: units as a number, and a reqId beside it as the exchange stores one.
      const bad = await producer.add(
        QUEUE,
        { wallet: '0xabc', units: 42, reqId: 'trace-bad-1' },
        { attempts: 5 },
      );
      await expect(bad.waitUntilFinished(events, 15_000)).rejects.toThrow(/payload does not parse: units/);
      const failed = await producer.getJob(bad.id!);
      expect(await failed!.getState()).toBe('failed');
      // One attempt of five: unrecoverable, never retried with backoff.
      expect(failed!.attemptsMade).toBe(1);
      expect(ran).toEqual([]);
      expect(await rejections(QUEUE)).toBe(before + 1);
      const rejected = lines.find((l) => l.msg === 'job payload rejected' && l.jobId === bad.id);
      expect(rejected).toMatchObject({ level: 50, queue: QUEUE, reqId: 'trace-bad-1' });
      expect(rejected!.issues!.join()).toMatch(/^units: /);
      expect(JSON.stringify(rejected)).not.toContain('0xabc');
      expect(await line((l) => l.msg === 'job attempt failed' && l.jobId === bad.id)).toMatchObject({
        reqId: 'trace-bad-1',
        final: true,
      });

      // Not an object at all, and a malformed request id: refused the same way.
      const notObject = await producer.add(QUEUE, ['0xabc', '1'], { attempts: 5 });
      await expect(notObject.waitUntilFinished(events, 15_000)).rejects.toThrow(/not an object/);
      const badReqId = await producer.add(
        QUEUE,
        { wallet: '0xabc', units: '1', reqId: 'a b' },
        { attempts: 5 },
      );
      await expect(badReqId.waitUntilFinished(events, 15_000)).rejects.toThrow(/reqId/);
      expect(ran).toEqual([]);
      expect(await rejections(QUEUE)).toBe(before + 3);

      // A good job through the factory's producer: the work gets the schema's output, without the
      // request id, and runs under that request.
      const reqId = newRequestId();
      await withRequest(requestContext(reqId, log), () =>
        queue.enqueue('transfer-1', { wallet: '0xabc', units: '12345678901234567890' }),
      );
      const good = await producer.getJob('transfer-1');
      await good!.waitUntilFinished(events, 15_000);
      expect(ran).toEqual([{ wallet: '0xabc', units: 12345678901234567890n }]);
      expect(lines.find((l) => l.msg === 'job done' && l.jobId === 'transfer-1')).toMatchObject({ reqId });
      expect(await rejections(QUEUE)).toBe(before + 3);

      // The producer's type is the schema's input: a number of units does not compile.
      // @ts-expect-error units is text on the wire
      const typed: Parameters<typeof queue.enqueue>[1] = { wallet: '0xabc', units: 1n };
      expect(typed).toBeDefined();
    } finally {
      await queue.close();
    }
  });

  it('in a cluster: a gateway only enqueues, a worker works, and closing either leaves the shared schedule', async () => {
    const name = 'test-cluster-schedule';
    const Tick = z.object({ n: z.number().int() });
    const options = {
      name,
      redisUrl: REDIS_URL,
      prefix: PREFIX,
      payload: Tick,
      attempts: 1,
      schedule: { everyMs: 60_000, data: { n: 0 } },
      log,
    };
    const inspect = new Queue(name, { connection: connections[1]!, prefix: PREFIX });
    const ran: number[] = [];
    const run = ({ n }: { n: number }) => {
      ran.push(n);
      return Promise.resolve();
    };
    const gateway = await openJobQueue({
      ...options,
      placement: { runsWorkers: false, sharedSchedules: true },
    });
    const worker = await openJobQueue({
      ...options,
      placement: { runsWorkers: true, sharedSchedules: true },
    });
    try {
      await gateway.work(run); // no worker here: a no-op
      await gateway.enqueue('tick-1', { n: 1 });
      // Nothing works it until a worker starts (the gateway's `work` started none).
      expect(await (await inspect.getJob('tick-1'))!.getState()).toBe('waiting');
      expect(ran).toEqual([]);
      await worker.work(run);
      await eventually(() => ran.includes(1), { timeoutMs: 10_000, what: 'the worker running the job' });
      expect(lines.some((l) => l.msg === 'job done' && l.jobId === 'tick-1')).toBe(true);
      await gateway.close();
      // The schedule is the cluster's: the gateway's close leaves it to the worker.
      expect(await inspect.getJobSchedulers()).toMatchObject([{ key: name, every: 60_000 }]);
      await worker.close();
      expect(await inspect.getJobSchedulers()).toMatchObject([{ key: name, every: 60_000 }]);
    } finally {
      await inspect.obliterate({ force: true });
      await inspect.close();
    }
  });
});
