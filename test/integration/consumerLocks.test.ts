import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConsumerLocks, type ConsumerGate } from '../../src/persistence/consumerLocks.ts';
import { DurableConsumerRunner, type DurableConsumer } from '../../src/persistence/durableConsumers.ts';
import { Projector } from '../../src/persistence/projector.ts';
import { useTestDatabase } from '../support/database.ts';
import { openDurableExchange } from '../support/durable.ts';
import { eventually } from '../support/eventually.ts';
import { BTC_USDC, expectOk, lifecycle, PATH_TO } from '../support/markets.ts';

/**
 * The consumers' locks of ROLE=worker (src/persistence/consumerLocks.ts) on a real Postgres: of two
 * workers one holds a consumer's lock, the other stands by and takes it when the holder's session
 * ends (closed, or terminated by Postgres); a runner or projector whose gate is closed applies
 * nothing and follows the cursor another process moves.
 */

const database = useTestDatabase('consumer_locks');
let pool: DatabasePool;

beforeAll(async () => {
  pool = await createPool(database.get().url, { maximumPoolSize: 4 });
});

afterAll(async () => {
  await pool.end();
});

const locks: ConsumerLocks[] = [];
afterAll(async () => {
  for (const l of locks) await l.close();
});

function worker(changes: string[] = []): ConsumerLocks {
  const l = new ConsumerLocks(database.get().url, {
    retryMs: 50,
    onChange: (name, held) => changes.push(`${name}:${held ? 'taken' : 'lost'}`),
  });
  locks.push(l);
  return l;
}

describe('ConsumerLocks', () => {
  it('one of two workers holds each lock; the standby takes it when the holder closes or its session is terminated', async () => {
    const a = worker();
    a.want('notifier');
    await a.settled();
    expect(a.holding()).toEqual(['notifier']);
    const bChanges: string[] = [];
    const b = worker(bChanges);
    b.want('notifier');
    b.want('portfolio');
    await b.settled();
    expect(b.holding()).toEqual(['portfolio']);
    expect(a.held('notifier') && !b.held('notifier')).toBe(true);

    await a.close();
    await eventually(() => b.held('notifier'), { timeoutMs: 10_000, what: 'the standby taking over' });
    expect(bChanges).toEqual(['portfolio:taken', 'notifier:taken']);

    // The holder's session ended by Postgres (as when its process dies): its locks are lost, and
    // exactly one of the two that want the consumer holds it again.
    const c = worker();
    c.want('notifier');
    await c.settled();
    expect(c.holding()).toEqual([]);
    await pool.query(sql.unsafe`
      SELECT pg_terminate_backend(pid) FROM pg_locks
      WHERE locktype = 'advisory' AND classid = ${0x72776163} AND granted`);
    await eventually(() => bChanges.includes('notifier:lost'), { timeoutMs: 10_000, what: 'the loss seen' });
    await eventually(
      () => {
        expect(b.held('notifier') && c.held('notifier')).toBe(false);
        return b.held('notifier') || c.held('notifier');
      },
      { timeoutMs: 10_000, what: 'one holder of the notifier again' },
    );
  });
});

describe('a closed gate', () => {
  it('applies nothing and follows the cursor the holder moves', async () => {
    const { supervisor } = await openDurableExchange(pool, [BTC_USDC]);
    let ts = 1_763_800_000_000;
    for (const type of PATH_TO.active)
      expectOk(await supervisor.submit(BTC_USDC.symbol, lifecycle(type), ts++));
    await supervisor.idle();

    let open = false;
    const gate: ConsumerGate = { want: () => undefined, held: () => open };
    const applied: number[] = [];
    const consumer: DurableConsumer = {
      name: 'gated',
      apply: (_tx, page) => {
        applied.push(...page.records.map((r) => r.globalSeq));
        return Promise.resolve();
      },
    };
    const seen: number[] = [];
    const standby = new DurableConsumerRunner(pool, consumer, { gate, onCursor: (seq) => seen.push(seq) });
    expect(await standby.runOnce()).toBe(0);
    expect(applied).toEqual([]);
    expect(seen).toEqual([0]);

    const holder = new DurableConsumerRunner(pool, consumer);
    const moved = await holder.runOnce();
    expect(moved).toBeGreaterThan(0);
    // The standby reads the cursor at most once a second: it sees the holder's move then.
    await eventually(
      async () => {
        await standby.runOnce();
        return seen.at(-1) === moved;
      },
      { timeoutMs: 5_000, everyMs: 100, what: "the standby seeing the holder's cursor" },
    );
    open = true;
    expect(await standby.runOnce()).toBe(0);

    // The projector: closed, it waits for (and reports the lag of) the projection another one builds.
    const watching = new Projector(pool, { gate: { want: () => undefined, held: () => false } });
    expect(await watching.runOnce()).toBe(0);
    const head = await pool.oneFirst(sql.type(z.object({ g: z.number() }))`
      SELECT max(global_seq)::int AS g FROM journal`);
    expect(watching.lagRecords()).toBe(head);
    const reached = watching.waitFor(head, 10_000);
    watching.start(20);
    await new Projector(pool).runOnce();
    expect(await reached).toBe(true);
    expect(watching.lagRecords()).toBe(0);
    await watching.stop();
  });
});
