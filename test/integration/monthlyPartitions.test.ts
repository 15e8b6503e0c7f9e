import { createPool, sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dropMonthlyPartitionsBefore,
  ensureMonthlyPartitions,
  ensureMonthsAhead,
  type MonthlyPartitioned,
} from '../../src/persistence/monthlyPartitions.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

/*
 * Monthly partitions made by several sessions at once (a recorder, a consumer and a retention job
 * of one exchange, or two processes): before the advisory lock, two concurrent
 * `CREATE TABLE IF NOT EXISTS ... PARTITION OF` of one month failed one of them with "relation
 * already exists" (a full CI run saw it on equity_points).
 */

let database: TestDatabase;
let pool: DatabasePool;

const PLAIN: MonthlyPartitioned = { table: 'part_plain' };
const NAMED: MonthlyPartitioned = {
  table: 'part_named',
  prefix: 'part_named_y',
  name: (m) => `part_named_y${m.getUTCFullYear()}m${String(m.getUTCMonth() + 1).padStart(2, '0')}`,
};

async function children(table: string): Promise<string[]> {
  const names = await pool.anyFirst(sql.type(z.object({ name: z.string() }))`
    SELECT c.relname AS name FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
    WHERE p.relname = ${table} ORDER BY 1`);
  return [...names];
}

beforeAll(async () => {
  database = await createTestDatabase('partitions');
  pool = await createPool(database.url, { maximumPoolSize: 12 });
  for (const table of [PLAIN.table, NAMED.table])
    await pool.query(sql.unsafe`
      CREATE TABLE ${sql.identifier([table])} (t timestamptz NOT NULL, v int) PARTITION BY RANGE (t)`);
}, 60_000);

afterAll(async () => {
  await pool.end();
  await database.drop();
});

describe('monthly partitions', () => {
  it('are made once by many concurrent creators, and rows of those months go in', async () => {
    const times = [Date.UTC(2026, 11, 2), Date.UTC(2027, 0, 31, 23, 59, 59, 999)];
    await Promise.all(Array.from({ length: 10 }, () => ensureMonthlyPartitions(pool, PLAIN, times)));
    expect(await children(PLAIN.table)).toEqual(['part_plain_202612', 'part_plain_202701']);
    await pool.query(sql.unsafe`
      INSERT INTO part_plain VALUES ('2026-12-01T00:00:00Z', 1), ('2027-01-31T23:59:59.999Z', 2)`);
    await expect(
      pool.query(sql.unsafe`INSERT INTO part_plain VALUES ('2027-02-01T00:00:00Z', 3)`),
    ).rejects.toThrow(/check integrity constraint/);
  });

  it('made concurrently with a drop of the same months, end in one consistent state', async () => {
    const now = Date.UTC(2030, 5, 15);
    await ensureMonthsAhead(pool, NAMED, now);
    const runs = await Promise.all([
      ensureMonthsAhead(pool, NAMED, now),
      dropMonthlyPartitionsBefore(pool, NAMED, Date.UTC(2030, 7, 1)),
      ensureMonthsAhead(pool, NAMED, now),
    ]);
    expect(runs[1]).toBeGreaterThanOrEqual(2);
    await ensureMonthsAhead(pool, NAMED, now);
    expect(await children(NAMED.table)).toEqual(['part_named_y2030m06', 'part_named_y2030m07']);
  });

  it('drop whole months before the cutoff only, by their own names', async () => {
    await ensureMonthlyPartitions(pool, NAMED, [
      Date.UTC(2030, 0, 1),
      Date.UTC(2030, 1, 1),
      Date.UTC(2030, 2, 1),
    ]);
    expect(await dropMonthlyPartitionsBefore(pool, NAMED, Date.UTC(2030, 2, 20))).toBe(2);
    expect(await dropMonthlyPartitionsBefore(pool, NAMED, Date.UTC(2030, 2, 20))).toBe(0);
    expect(await children(NAMED.table)).toEqual([
      'part_named_y2030m03',
      'part_named_y2030m06',
      'part_named_y2030m07',
    ]);
  });
});
