import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { foldBatch } from '../../src/events/fold.ts';
import {
  DurableConsumerRunner,
  PageNotReady,
  type DurableConsumer,
  type EventPage,
} from '../../src/persistence/durableConsumers.ts';
import { decodeBatch } from '../../src/persistence/journalCodec.ts';
import { useTestDatabase } from '../support/database.ts';
import { openDurableExchange } from '../support/durable.ts';
import { BTC_USDC, expectOk, lifecycle, limit, marketOrder, PATH_TO } from '../support/markets.ts';

/**
 * A durable consumer of the committed event stream against a real Postgres: its effects and its
 * cursor commit in one transaction, so across a failed page, a restart (a new runner on a new
 * pool) and two runners at once it applies every event of the journal exactly once, in order.
 */

const database = useTestDatabase('event_consumers');
const BTC = BTC_USDC.symbol;

let pool: DatabasePool;

beforeAll(async () => {
  pool = await createPool(database.get().url, { maximumPoolSize: 4 });
  // One row per event; the key refuses a second application of one.
  await pool.query(sql.unsafe`
    CREATE TABLE consumed_events (
      id bigserial,
      consumer text NOT NULL,
      global_seq int8 NOT NULL,
      n int NOT NULL,
      type text NOT NULL,
      PRIMARY KEY (consumer, global_seq, n)
    )`);
});

afterAll(async () => {
  await pool.end();
});

/** Writes each event of a page as a row; `failOn` makes the page holding that global_seq throw after its writes. */
function recorder(name: string, options: { failOn?: number } = {}): DurableConsumer & { pages: EventPage[] } {
  const pages: EventPage[] = [];
  return {
    name,
    pages,
    async apply(tx, page) {
      pages.push(page);
      for (const record of page.records) {
        for (let n = 0; n < record.events.length; n++) {
          await tx.query(sql.unsafe`
            INSERT INTO consumed_events (consumer, global_seq, n, type)
            VALUES (${name}, ${record.globalSeq}, ${n}, ${record.events[n]!.type})`);
        }
        if (record.globalSeq === options.failOn) throw new Error(`crash at ${record.globalSeq}`);
      }
    },
  };
}

const Consumed = z.object({ global_seq: z.string(), n: z.number(), type: z.string() });

/** The consumer's rows in the order it wrote them. */
async function consumed(name: string) {
  const rows = await pool.any(sql.type(Consumed)`
    SELECT global_seq::text AS global_seq, n, type FROM consumed_events WHERE consumer = ${name} ORDER BY id`);
  return rows.map((r) => `${r.global_seq}/${r.n}/${r.type}`);
}

/** What every journal record folds to, in global_seq order. */
async function expected() {
  const rows = await pool.any(sql.type(z.object({ global_seq: z.string(), record: z.instanceof(Buffer) }))`
    SELECT global_seq::text AS global_seq, record FROM journal ORDER BY journal.global_seq`);
  return rows.flatMap((row) =>
    foldBatch(decodeBatch(row.record)).map((e, n) => `${row.global_seq}/${n}/${e.type}`),
  );
}

describe('DurableConsumerRunner', () => {
  it('applies every event exactly once, in order, across a failed page, a restart and two runners', async () => {
    const { supervisor, writer } = await openDurableExchange(pool, [BTC_USDC]);
    let ts = 1_763_800_000_000;
    for (const type of PATH_TO.active) expectOk(await supervisor.submit(BTC, lifecycle(type), ts++));
    for (const user of ['ann', 'bob']) {
      expectOk(await supervisor.credit(user, 'BTC', 10n * 10n ** 8n, ts++));
      expectOk(await supervisor.credit(user, 'USDC', 100_000n * 10n ** 6n, ts++));
    }
    expectOk(await supervisor.submit(BTC, limit('ann', 'sell', 100_00, 50), ts++));
    expectOk(await supervisor.submit(BTC, limit('bob', 'buy', 100_00, 20), ts++));
    await supervisor.idle();

    // A page fails after writing its effects: nothing of it stays, the cursor stays before it.
    const failing = new DurableConsumerRunner(pool, recorder('audit', { failOn: 3 }), { pageSize: 2 });
    await expect(failing.runOnce()).rejects.toThrow('crash at 3');
    expect(await failing.cursor()).toBe(2);
    const committedSoFar = await expected();
    expect(await consumed('audit')).toEqual(committedSoFar.filter((e) => Number(e.split('/')[0]) <= 2));

    // A restart: a new pool and a new runner of the same consumer continue from the cursor.
    const restartedPool = await createPool(database.get().url, { maximumPoolSize: 2 });
    try {
      const restarted = new DurableConsumerRunner(restartedPool, recorder('audit'), { pageSize: 2 });
      expect(await restarted.runOnce()).toBeGreaterThan(0);
      expect(await consumed('audit')).toEqual(committedSoFar);
      expect(await restarted.runOnce()).toBe(0);

      // More trading, then two runners of the consumer at once: the cursor's lock orders them.
      expectOk(await supervisor.submit(BTC, marketOrder('bob', 'buy', 10), ts++));
      expectOk(await supervisor.submit(BTC, { kind: 'cancel_all', userId: 'ann' }, ts++));
      expectOk(await supervisor.submit(BTC, limit('bob', 'buy', 99_00, 5), ts++));
      await supervisor.idle();
      const a = new DurableConsumerRunner(pool, recorder('audit'), { pageSize: 1 });
      const b = new DurableConsumerRunner(restartedPool, recorder('audit'), { pageSize: 1 });
      const [ran, alsoRan] = await Promise.all([a.runOnce(), b.runOnce()]);
      const all = await expected();
      expect(ran + alsoRan).toBe(
        Number(all.at(-1)!.split('/')[0]) - Number(committedSoFar.at(-1)!.split('/')[0]),
      );
      expect(await consumed('audit')).toEqual(all);
      expect(all.some((e) => e.endsWith('/fill'))).toBe(true);
      expect(all.some((e) => e.endsWith('/order.closed'))).toBe(true);
      expect(all.some((e) => e.endsWith('/credit'))).toBe(true);
      expect(all.some((e) => e.endsWith('/lifecycle.transition'))).toBe(true);

      // Another consumer has a cursor of its own and starts from the beginning.
      const other = recorder('notifier');
      const runner = new DurableConsumerRunner(pool, other, { pageSize: 1000 });
      runner.start(5);
      await runner.stop();
      expect(await runner.runOnce()).toBe(0);
      expect(await consumed('notifier')).toEqual(all);
      expect(other.pages.every((p, i, pages) => i === 0 || p.from === pages[i - 1]!.to)).toBe(true);
    } finally {
      await restartedPool.end();
      await writer.close();
    }
  });

  it('a page not ready is rolled back, retried later, and keeps its connection', async () => {
    // One connection, so a destroyed one would show as a new backend pid.
    const single = await createPool(database.get().url, { maximumPoolSize: 1 });
    try {
      const backend = () =>
        single.oneFirst(sql.type(z.object({ pid: z.number() }))`SELECT pg_backend_pid() AS pid`);
      const before = await backend();
      let notReady = 2;
      const inner = recorder('waits');
      const waits: DurableConsumer = {
        name: 'waits',
        async apply(tx, page) {
          await inner.apply(tx, page);
          if (notReady-- > 0) throw new PageNotReady('not yet');
        },
      };
      const runner = new DurableConsumerRunner(single, waits, { pageSize: 1000 });
      // Not ready twice: no error, nothing applied, the cursor where it was, the same backend.
      expect(await runner.runOnce()).toBe(0);
      expect(await runner.runOnce()).toBe(0);
      expect(await runner.cursor()).toBe(0);
      expect(await consumed('waits')).toEqual([]);
      expect(await backend()).toBe(before);
      // Then ready: the whole journal once.
      expect(await runner.runOnce()).toBeGreaterThan(0);
      expect(await consumed('waits')).toEqual(await expected());
      expect(await backend()).toBe(before);
    } finally {
      await single.end();
    }
  });
});
