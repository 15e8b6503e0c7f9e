import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { runner } from 'node-pg-migrate';
import { createPool, sql, type DatabasePool, type QuerySqlToken } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Ledger } from '../../src/actors/ledger/index.ts';
import type { MarketCommand } from '../../src/actors/market/types.ts';
import { Supervisor } from '../../src/actors/supervisor.ts';
import { JournalWriter } from '../../src/persistence/journalWriter.ts';
import { saveMarketData } from '../../src/persistence/marketDataStore.ts';
import { migrate } from '../../src/persistence/migrate.ts';
import { Projector, resetProjections } from '../../src/persistence/projector.ts';
import { ensureMonthlyPartitions } from '../../src/persistence/monthlyPartitions.ts';
import { TRADES_SERIES, timeSeriesHousekeeping } from '../../src/persistence/timeSeries.ts';
import { REPO_ROOT } from '../../src/repoRoot.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { ASSET_DECIMALS, BTC_USDC, expectOk, lifecycle, limit, PATH_TO } from '../support/markets.ts';

/*
 * trades and price_candles as time series (migration 1763800000170): an existing database's rows
 * move into monthly partitions; the projector's rows of a month not made yet land in the DEFAULT
 * partition and move into their month's own at the next housekeeping, concurrently too; a rebuild
 * of the projections gives the same rows wherever they sit; retention drops whole months only.
 */

const MIGRATIONS = path.join(REPO_ROOT, 'src', 'persistence', 'migrations');
const THIS_MIGRATION = '1763800000170_time_partitioned_trades_candles';
const KEEP = { tradesDays: 0, candlesDays: 0 };

const Row = z.record(z.string(), z.union([z.string(), z.null()]));
const Name = z.object({ name: z.string() });

async function rows(pool: DatabasePool, table: 'trades' | 'price_candles'): Promise<readonly object[]> {
  const query: QuerySqlToken<typeof Row> =
    table === 'trades'
      ? sql.type(Row)`
          SELECT id, market_id, maker_order_id, taker_order_id, maker_user_id, taker_user_id, taker_side,
            price::text, qty::text, ts::text, global_seq::text FROM trades ORDER BY id`
      : sql.type(Row)`
          SELECT market_id, interval, open_time::text, open::text, high::text, low::text, close::text,
            volume::text, updated_at::text FROM price_candles ORDER BY market_id, interval, open_time`;
  return pool.any(query);
}

/** The table's partitions, and how many rows each holds. */
async function partitions(pool: DatabasePool, table: string): Promise<Record<string, number>> {
  const names = await pool.anyFirst(sql.type(Name)`
    SELECT c.relname AS name FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
    WHERE p.relname = ${table} ORDER BY 1`);
  const counts: Record<string, number> = {};
  for (const name of names)
    counts[name] = await pool.oneFirst(
      sql.type(z.object({ n: z.number() }))`SELECT count(*)::int AS n FROM ${sql.identifier([name])}`,
    );
  return counts;
}

const month = (ms: number) => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
};

describe('migration 1763800000170 on a database with rows', () => {
  let database: TestDatabase;
  let pool: DatabasePool;

  beforeAll(async () => {
    // A database migrated up to the migration before this one (named as createTestDatabase names).
    const admin = await createPool(process.env.TEST_DATABASE_ADMIN_URL ?? '', { maximumPoolSize: 1 });
    const name = `exchange_t_ts_migration_${randomBytes(4).toString('hex')}`;
    await admin.query(sql.unsafe`CREATE DATABASE ${sql.identifier([name])}`);
    const url = new URL(process.env.TEST_DATABASE_ADMIN_URL ?? '');
    url.pathname = `/${name}`;
    database = {
      name,
      url: url.toString(),
      drop: async () => {
        await admin.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([name])} WITH (FORCE)`);
        await admin.end();
      },
    };
    const before = readdirSync(MIGRATIONS).filter((f) => f.endsWith('.sql') && f < THIS_MIGRATION).length;
    await step('up', before);
    pool = await createPool(database.url, { maximumPoolSize: 4 });
  }, 60_000);

  const step = (direction: 'up' | 'down', count: number) =>
    runner({
      databaseUrl: database.url,
      dir: MIGRATIONS,
      direction,
      count,
      migrationsTable: 'schema_migrations',
      checkOrder: true,
      log: () => undefined,
    });

  afterAll(async () => {
    await pool.end();
    await database.drop();
  });

  it('moves every row into monthly partitions, keeps reads and writes, and goes back down', async () => {
    const kind = (table: string) =>
      pool.oneFirst(sql.type(z.object({ k: z.string() }))`
        SELECT relkind::text AS k FROM pg_class WHERE relname = ${table}`);
    expect(await kind('trades')).toBe('r');
    await pool.query(sql.unsafe`
      INSERT INTO orders (id, market_id, order_id, user_id, side, type, tif, price, qty, filled_qty,
        remaining, status, created_global_seq, updated_global_seq, created_at, updated_at)
      VALUES ('m:1', 'm', 1, 'alice', 'sell', 'limit', 'GTC', 100, 10, 10, 0, 'filled', 1, 3, now(), now()),
             ('m:2', 'm', 2, 'bob', 'buy', 'limit', 'GTC', 100, 10, 10, 0, 'filled', 2, 3, now(), now())`);
    const times = ['2025-10-31T23:59:59.999Z', '2025-11-01T00:00:00Z', '2026-01-15T12:00:00Z'];
    for (const [n, ts] of times.entries())
      await pool.query(sql.unsafe`
        INSERT INTO trades (id, market_id, maker_order_id, taker_order_id, maker_user_id, taker_user_id,
          taker_side, price, qty, ts, global_seq)
        VALUES (${`m:${n + 3}:1`}, 'm', 'm:1', 'm:2', 'alice', 'bob', 'buy', ${100 + n}, 3, ${ts}, ${n + 3})`);
    await saveMarketData(pool, {
      candles: times.map((ts, n) => ({
        marketId: 'm',
        interval: '1m' as const,
        t: Date.parse(ts) - (Date.parse(ts) % 60_000),
        o: 100 + n,
        h: 100 + n,
        l: 100 + n,
        c: 100 + n,
        v: 3,
      })),
      stats: [],
    });
    const trades = await rows(pool, 'trades');
    const candles = await rows(pool, 'price_candles');
    // Constraints keep their names (a test or an operator's script may name one), the key aside.
    const constraints = () =>
      pool.anyFirst(sql.type(Name)`
        SELECT conname AS name FROM pg_constraint
        WHERE conrelid IN ('trades'::regclass, 'price_candles'::regclass) ORDER BY 1`);
    const named = await constraints();
    expect(named).toContain('trades_maker_order_id_fkey');

    await step('up', 1);
    expect(await kind('trades')).toBe('p');
    expect(await kind('price_candles')).toBe('p');
    expect(await rows(pool, 'trades')).toEqual(trades);
    expect(await rows(pool, 'price_candles')).toEqual(candles);
    expect(await constraints()).toEqual(named);
    const now = Date.now();
    const ahead = [
      month(now),
      month(Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth() + 1)),
    ];
    for (const table of ['trades', 'price_candles']) {
      const parts = await partitions(pool, table);
      expect(parts).toMatchObject({ [`${table}_202510`]: 1, [`${table}_202511`]: 1, [`${table}_202601`]: 1 });
      expect(parts[`${table}_default`]).toBe(0);
      for (const m of ahead) expect(Object.keys(parts)).toContain(`${table}_${m}`);
    }
    const brin = await pool.anyFirst(sql.type(Name)`
      SELECT indexrelid::regclass::text AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'brin' AND indrelid IN ('trades'::regclass,
        'price_candles'::regclass) ORDER BY 1`);
    expect(brin).toEqual(['price_candles_open_time_brin', 'trades_ts_brin']);

    // The market data's upsert and the history's reads work as before.
    await saveMarketData(pool, {
      candles: [
        {
          marketId: 'm',
          interval: '1m',
          t: Date.parse('2025-11-01T00:00:00Z'),
          o: 101,
          h: 105,
          l: 101,
          c: 104,
          v: 9,
        },
      ],
      stats: [],
    });
    expect(
      await pool.oneFirst(sql.type(z.object({ h: z.string() }))`
        SELECT high::text AS h FROM price_candles WHERE open_time = '2025-11-01T00:00:00Z'`),
    ).toBe('105');
    expect(
      await pool.anyFirst(
        sql.type(Name)`SELECT id AS name FROM trades WHERE maker_order_id = 'm:1' ORDER BY ts`,
      ),
    ).toEqual(['m:3:1', 'm:4:1', 'm:5:1']);
    // The key is (id, ts): the same trade twice is refused.
    await expect(
      pool.query(sql.unsafe`
        INSERT INTO trades SELECT * FROM trades WHERE id = 'm:3:1'`),
    ).rejects.toThrow(/unique integrity constraint/);

    const trades2 = await rows(pool, 'trades');
    const candles2 = await rows(pool, 'price_candles');
    await step('down', 1);
    expect(await kind('trades')).toBe('r');
    expect(await rows(pool, 'trades')).toEqual(trades2);
    expect(await rows(pool, 'price_candles')).toEqual(candles2);
    expect(await constraints()).toEqual(named);
    await migrate(database.url);
    expect(await rows(pool, 'trades')).toEqual(trades2);
  });
});

describe('trades written by the projector', () => {
  let database: TestDatabase;
  let pool: DatabasePool;

  beforeAll(async () => {
    database = await createTestDatabase('ts_projector');
    pool = await createPool(database.url, { maximumPoolSize: 6 });
  }, 60_000);

  afterAll(async () => {
    await pool.end();
    await database.drop();
  });

  it('land in the default partition for a month not made, move out at housekeeping, and rebuild the same', async () => {
    const ledger = new Ledger();
    for (const [asset, decimals] of Object.entries(ASSET_DECIMALS)) ledger.defineAsset(asset, decimals);
    const writer = await JournalWriter.open(pool, { flushIntervalMs: 2 });
    const supervisor = new Supervisor({ ledger, sink: writer, batchSize: 4 });
    supervisor.addMarket(BTC_USDC, { baseDecimals: 8, quoteDecimals: 6 });
    // Trading across two month ends, years before the partitions the migration made.
    let clock = Date.UTC(2024, 1, 29, 23, 59, 0);
    const submit = (command: MarketCommand) => supervisor.submit(BTC_USDC.symbol, command, clock++);
    for (const type of PATH_TO.active) expectOk(await submit(lifecycle(type)));
    for (const user of ['alice', 'bob'])
      for (const asset of ['BTC', 'USDC'])
        expectOk(await supervisor.credit(user, asset, 10n ** 12n, clock++));
    const projector = new Projector(pool, { pageSize: 5 });
    const trade = async (n: number) => {
      for (let i = 0; i < n; i++) {
        expectOk(await submit(limit('alice', 'sell', 100_00 + i, 2)));
        expectOk(await submit(limit('bob', 'buy', 100_00 + i, 2)));
      }
      await supervisor.idle();
      while ((await projector.runOnce()) > 0);
    };
    await trade(5); // February 2024
    clock = Date.UTC(2024, 2, 31, 23, 59, 59, 990);
    await trade(10); // March, then April
    const before = await partitions(pool, 'trades');
    expect(before.trades_default).toBe(15);

    // Housekeeping rounds at once, as two processes might: each month moved once, no row twice.
    const incremental = await rows(pool, 'trades');
    const now = Date.UTC(2024, 3, 10);
    await Promise.all([1, 2, 3].map(() => timeSeriesHousekeeping(pool, now, KEEP)));
    const after = await partitions(pool, 'trades');
    expect(after).toMatchObject({ trades_default: 0, trades_202402: 5, trades_202404: 5, trades_202405: 0 });
    expect(after.trades_202403).toBe(5);
    expect(await rows(pool, 'trades')).toEqual(incremental);

    // More trades into the months made: no default row; then a rebuild gives the same rows.
    await trade(2);
    expect((await partitions(pool, 'trades')).trades_default).toBe(0);
    const all = await rows(pool, 'trades');
    await writer.close();
    await resetProjections(pool);
    await new Projector(pool, { pageSize: 1_000 }).runOnce();
    expect(await rows(pool, 'trades')).toEqual(all);

    // Retention: whole months before the cutoff's month go, the default and later months stay.
    const result = await timeSeriesHousekeeping(pool, Date.UTC(2024, 4, 20), {
      tradesDays: 60,
      candlesDays: 0,
    });
    expect(result.dropped).toEqual({ trades: 1, price_candles: 0 });
    const kept = await partitions(pool, 'trades');
    expect(Object.keys(kept)).not.toContain('trades_202402');
    expect(kept).toMatchObject({ trades_default: 0, trades_202403: 5, trades_202404: 7 });
    expect(await rows(pool, 'trades')).toEqual(
      all.filter((t) => !(t as { ts: string }).ts.startsWith('2024-02')),
    );
  });

  it('make a month while the projector writes orders then trades, without a deadlock', async () => {
    // The projector's statement locks orders, then trades. Making a partition of trades puts its
    // foreign keys' triggers on orders: were trades locked first, the maker would wait for orders
    // while holding trades, the projector for trades while holding orders (a deadlock, one of them
    // failed by Postgres). The maker locks orders first, so it just waits.
    let making: Promise<void> | undefined;
    // The writer's transaction by hand on one connection (slonik refuses other queries of the pool
    // inside its transaction callback); the maker and the poll on a second pool.
    const other = await createPool(database.url, { maximumPoolSize: 3 });
    await pool.connect(async (tx) => {
      await tx.query(sql.unsafe`BEGIN`);
      await tx.query(sql.unsafe`
        INSERT INTO orders (id, market_id, order_id, user_id, side, type, tif, price, qty, filled_qty,
          remaining, status, created_global_seq, updated_global_seq, created_at, updated_at)
        VALUES ('dl:1', 'dl', 1, 'alice', 'sell', 'limit', 'GTC', 100, 10, 10, 0, 'filled', 1, 1, now(), now())`);
      making = ensureMonthlyPartitions(other, TRADES_SERIES, [Date.UTC(2031, 4, 5)]);
      const deadline = Date.now() + 10_000;
      while (
        (await other.oneFirst(sql.type(z.object({ n: z.number() }))`
          SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND locktype = 'relation'
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)) === 0
      ) {
        if (Date.now() > deadline) throw new Error('the partition maker never waited for a lock');
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      await tx.query(sql.unsafe`
        INSERT INTO trades (id, market_id, maker_order_id, taker_order_id, maker_user_id, taker_user_id,
          taker_side, price, qty, ts, global_seq)
        VALUES ('dl:1:1', 'dl', 'dl:1', 'dl:1', 'alice', 'alice', 'buy', 100, 1, '2024-04-02T00:00:00Z', 1)`);
      await tx.query(sql.unsafe`COMMIT`);
    });
    await making;
    await other.end();
    expect(Object.keys(await partitions(pool, 'trades'))).toContain('trades_203105');
    expect(await pool.anyFirst(sql.type(Name)`SELECT id AS name FROM trades WHERE market_id = 'dl'`)).toEqual(
      ['dl:1:1'],
    );
  });
});
