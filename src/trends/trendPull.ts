import type { Logger } from 'pino';
import { z } from 'zod/v4';
import { jsonArrayEnv } from '../envShapes.ts';
import { startJobQueue, type JobPlacement } from '../jobs/queue.ts';
import type { Principal } from '../services/principal.ts';
import { countTrendGarbage, sourceObserved } from './metrics.ts';
import { TrendBody } from './schemas.ts';
import type { TrendService } from './trendService.ts';

/*
 * The pull-trends job (docs/trends.md "Pulled sources"): a repeatable BullMQ job that reads each
 * configured HTTP source of trend metrics and ingests what it says, as POST /trends would. The
 * format: a JSON object `{"trends": [item, ...]}`, each item a POST /trends body
 * (`{topic, region, category?, metrics:{viralityScore, sentiment, velocity, engagementRate?,
 * volume?}, ts?}`), at most 1000 items. An item that does not parse is logged, counted
 * (exchange_trend_source_garbage_total) and skipped; a source that is down or answers no such
 * document is logged and counted (exchange_price_source_up / _failures_total, by its name) and
 * skipped. A run never throws: the next repetition is the retry.
 */

export const TrendSourceConfig = z.object({
  name: z.string().regex(/^[a-z0-9_-]{1,32}$/, '1-32 of a-z 0-9 _ -'),
  url: z.url(),
});
export type TrendSourceConfig = z.infer<typeof TrendSourceConfig>;

export const TrendSourcesEnv = jsonArrayEnv(TrendSourceConfig, '{name, url}');

export const MAX_PULLED_ITEMS = 1_000;
const MAX_BODY_BYTES = 4 << 20;
const Feed = z.object({ trends: z.array(z.unknown()).max(MAX_PULLED_ITEMS) });

export const TREND_PULL_QUEUE = 'pull-trends';
export const TrendPullPayload = z.strictObject({});

export interface PullOutcome {
  readonly source: string;
  readonly ingested: number;
  readonly garbage: number;
  readonly failure?: string;
}

/** One read of one source; never throws. */
export async function pullSource(
  source: TrendSourceConfig,
  trends: Pick<TrendService, 'ingest'>,
  log: Logger,
  options: { readonly timeoutMs: number; readonly fetchImpl?: typeof fetch } = { timeoutMs: 5_000 },
): Promise<PullOutcome> {
  const principal: Principal = { userId: `source:${source.name}`, roles: ['ingest'] };
  const failed = (failure: string): PullOutcome => {
    log.warn(
      { job: TREND_PULL_QUEUE, source: source.name, url: source.url, reason: failure },
      'trend source skipped',
    );
    sourceObserved(`trends:${source.name}`, {
      up: false,
      at: Date.now(),
      garbage: 0,
      used: 0,
      stale: 0,
      outlier: 0,
    });
    return { source: source.name, ingested: 0, garbage: 0, failure };
  };
  let document: unknown;
  try {
    const response = await (options.fetchImpl ?? fetch)(source.url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    if (!response.ok) {
      await response.body?.cancel();
      return failed(`HTTP ${response.status}`);
    }
    const bytes = Buffer.from(await response.arrayBuffer());
    if (bytes.length > MAX_BODY_BYTES) return failed(`a body over ${MAX_BODY_BYTES} bytes`);
    document = JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (error) {
    return failed(error instanceof SyntaxError ? 'not JSON' : `unreachable: ${String(error)}`);
  }
  const feed = Feed.safeParse(document);
  if (!feed.success) return failed(`not a {"trends": [...]} document of at most ${MAX_PULLED_ITEMS} items`);
  let ingested = 0;
  let garbage = 0;
  for (const [index, item] of feed.data.trends.entries()) {
    const parsed = TrendBody.safeParse(item);
    if (!parsed.success) {
      garbage++;
      log.warn(
        { job: TREND_PULL_QUEUE, source: source.name, index, issue: parsed.error.issues[0]?.path.join('.') },
        'trend item skipped',
      );
      continue;
    }
    const done = await trends.ingest(principal, parsed.data, `pull:${source.name}`, false);
    if (done.ok) ingested++;
    else
      log.warn(
        { job: TREND_PULL_QUEUE, source: source.name, index, code: done.code },
        'trend item not ingested',
      );
  }
  if (garbage > 0) countTrendGarbage(source.name, garbage);
  sourceObserved(`trends:${source.name}`, {
    up: true,
    at: Date.now(),
    garbage,
    used: ingested,
    stale: 0,
    outlier: 0,
  });
  return { source: source.name, ingested, garbage };
}

export interface TrendPullJob {
  readonly name: typeof TREND_PULL_QUEUE;
  runOnce(): Promise<PullOutcome[]>;
  counts(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export async function startTrendPullJob(options: {
  readonly redisUrl: string;
  readonly prefix: string;
  /** Where the work runs (src/app/roles.ts); default here. */
  readonly placement?: JobPlacement;
  readonly intervalMs: number;
  readonly sources: readonly TrendSourceConfig[];
  readonly trends: Pick<TrendService, 'ingest'>;
  readonly log: Logger;
}): Promise<TrendPullJob> {
  const run = async () => {
    const out: PullOutcome[] = [];
    for (const source of options.sources) out.push(await pullSource(source, options.trends, options.log));
    return out;
  };
  const queue = await startJobQueue({
    name: TREND_PULL_QUEUE,
    redisUrl: options.redisUrl,
    prefix: options.prefix,
    placement: options.placement,
    payload: TrendPullPayload,
    attempts: 1,
    concurrency: 1,
    keepEnded: 100,
    schedule: { everyMs: options.intervalMs, data: {} },
    logDone: 'debug',
    log: options.log,
    run: async () => {
      await run();
    },
  });
  return { name: TREND_PULL_QUEUE, runOnce: run, counts: () => queue.counts(), close: () => queue.close() };
}
