import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TrendStore, type MetricsRow } from '../../src/trends/trendStore.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

/**
 * The grouped metrics writes of the trend store (src/trends/trendStore.ts) on a real Postgres:
 * several groups in flight at once, yet every update answered only once its row is committed, the
 * answers in the order the updates came, and a group that fails refused whole without holding
 * back the others.
 */

let database: TestDatabase;
let pool: DatabasePool;
let reader: DatabasePool;

beforeAll(async () => {
  database = await createTestDatabase('trend_store');
  pool = await createPool(database.url, { maximumPoolSize: 6 });
  reader = await createPool(database.url, { maximumPoolSize: 2 });
  await pool.query(sql.unsafe`
    INSERT INTO trend_topics (topic_key, topic, region, stem, number, symbol)
    VALUES ('SA|store test', 'Store test', 'SA', 'STORE_TEST', 1, 'VIRAL/SA_STORE_TEST_001')`);
});

afterAll(async () => {
  await reader.end();
  await pool.end();
  await database.drop();
});

const row = (source: string, scoreCenti = 100): MetricsRow => ({
  symbol: 'VIRAL/SA_STORE_TEST_001',
  ts: Date.now(),
  scoreCenti,
  sentimentBp: 0,
  velocityCenti: 0,
  engagementBp: undefined,
  volume: undefined,
  source,
  indexPriceTicks: undefined,
});

const stored = (source: string) =>
  reader.oneFirst(
    sql.type(
      z.object({ n: z.number() }),
    )`SELECT count(*)::int AS n FROM trend_metrics WHERE source = ${source}`,
  );

describe('TrendStore.insertMetrics', () => {
  it('answers in the order of the updates, each once its row is committed, with groups in flight at once', async () => {
    const store = new TrendStore(pool, { maxGroup: 7, maxInFlight: 4 });
    const answered: number[] = [];
    const visible: Promise<number>[] = [];
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      writes.push(
        store.insertMetrics(row(`ordered-${i}`)).then(() => {
          answered.push(i);
          visible.push(stored(`ordered-${i}`));
        }),
      );
      // Arrivals spread over turns of the event loop, as requests are: many groups form.
      if (i % 5 === 4) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(writes);
    expect(answered).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(await Promise.all(visible)).toEqual(new Array<number>(300).fill(1));
  });

  it('refuses a failing group whole, and the groups around it are stored and answered in order', async () => {
    const store = new TrendStore(pool, { maxInFlight: 2 });
    const outcomes: string[] = [];
    const note = (name: string, write: Promise<void>) =>
      write.then(
        () => outcomes.push(`${name} ok`),
        (error: unknown) => outcomes.push(`${name} ${error instanceof Error ? 'refused' : '?'}`),
      );
    const before = note('before', store.insertMetrics(row('around-before')));
    await new Promise((resolve) => setImmediate(resolve));
    // A score past the column's CHECK: the INSERT of its group fails.
    const bad = note('bad', store.insertMetrics(row('around-bad', 20_000)));
    await new Promise((resolve) => setImmediate(resolve));
    const after = note('after', store.insertMetrics(row('around-after')));
    await Promise.all([before, bad, after]);
    expect(outcomes).toEqual(['before ok', 'bad refused', 'after ok']);
    expect([await stored('around-before'), await stored('around-bad'), await stored('around-after')]).toEqual(
      [1, 0, 1],
    );
  });
});
