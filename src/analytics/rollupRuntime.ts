import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import type { ConsumerGate } from '../persistence/consumerLocks.ts';
import { DurableConsumerRunner } from '../persistence/durableConsumers.ts';
import { dropRollupPartitionsBefore, ensureRollupPartitions } from '../persistence/rollupStore.ts';
import { RollupConsumer } from './rollups.ts';

/*
 * The trade rollups at run time: the durable consumer `rollups` (its own cursor; started from it),
 * and a housekeeping tick (at start, then hourly) that makes this month's and the next month's
 * partitions ahead and drops whole months past the retention.
 */

const DAY_MS = 86_400_000;
const HOUSEKEEPING_MS = 3_600_000;
/** How often the consumer looks for new journal records, ms (as the portfolio consumer). */
const ROUND_MS = 100;

export interface RollupRuntimeDeps {
  readonly pool: DatabasePool;
  readonly log: Logger;
  readonly retentionDays: number;
  /** The journal writer's flushes (committed global_seq): idle rounds then skip their transaction. */
  readonly flushed?: { subscribe(listener: (globalSeq: number) => void): void };
  /** Where the consumer runs (consumerLocks.ts); default here. */
  readonly gate?: ConsumerGate;
  readonly now?: () => number;
}

export async function startRollups(
  deps: RollupRuntimeDeps,
): Promise<{ rollups: RollupConsumer; stopRollups: () => Promise<void> }> {
  const { pool, log } = deps;
  const now = deps.now ?? Date.now;
  const keepFrom = () => now() - deps.retentionDays * DAY_MS;
  const rollups = new RollupConsumer(keepFrom);
  const housekeeping = async () => {
    await ensureRollupPartitions(pool, now());
    const dropped = await dropRollupPartitionsBefore(pool, keepFrom());
    if (dropped > 0) {
      rollups.forgetMonths();
      log.info({ dropped }, 'trade rollup partitions past retention dropped');
    }
  };
  await housekeeping();
  const timer = setInterval(() => {
    housekeeping().catch((error: unknown) => {
      log.warn({ err: error }, 'trade rollup housekeeping failed; the next tick retries');
    });
  }, HOUSEKEEPING_MS);
  timer.unref();
  const runner = new DurableConsumerRunner(pool, rollups, {
    gate: deps.gate,
    // Run elsewhere: the waiters (MarketAnalytics) follow the cursor as it moves there.
    onCursor: (globalSeq) => {
      rollups.seen(globalSeq);
    },
    onError: (error) => {
      log.warn({ err: error }, 'rollups consumer round failed; retrying');
    },
  });
  rollups.seen(await runner.cursor());
  deps.flushed?.subscribe((globalSeq) => {
    runner.noteCommitted(globalSeq);
  });
  runner.start(ROUND_MS);
  return {
    rollups,
    stopRollups: async () => {
      clearInterval(timer);
      await runner.stop();
    },
  };
}
