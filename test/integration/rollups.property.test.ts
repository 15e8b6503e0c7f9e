import fc from 'fast-check';
import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rollupDeltas, type RollupTrade } from '../../src/analytics/rollups.ts';
import { marketWindows, tradeBars } from '../../src/persistence/backtestStore.ts';
import {
  decompose,
  dropRollupPartitionsBefore,
  ensureRollupMonths,
  monthOf,
  rollupBars,
  rollupWindows,
  upsertRollups,
} from '../../src/persistence/rollupStore.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

/*
 * Issue 18, rollups 1m → 5m → 1h → 1d on real Postgres: for random trade streams (two markets,
 * steps from milliseconds to days so that they cross minute, hour, day and month boundaries, several
 * trades per journal record, times that may step back a little), the rollups kept page by page as
 * the consumer keeps them give the same bars and market windows as aggregating the raw `trades`
 * rows, for random windows (any millisecond) and intervals.
 */

let database: TestDatabase;
let pool: DatabasePool;

beforeAll(async () => {
  database = await createTestDatabase('rollups');
  pool = await createPool(database.url, { maximumPoolSize: 2 });
  // The raw trades alone: their orders are not the subject here.
  await pool.query(sql.unsafe`
    ALTER TABLE trades DROP CONSTRAINT IF EXISTS trades_maker_order_id_fkey,
      DROP CONSTRAINT IF EXISTS trades_taker_order_id_fkey`);
}, 60_000);

afterAll(async () => {
  await pool.end();
  await database.drop();
});

const STEP = fc.oneof(
  fc.integer({ min: 0, max: 2_000 }),
  fc.integer({ min: 0, max: 400_000 }),
  fc.integer({ min: 0, max: 7_200_000 }),
  fc.integer({ min: 0, max: 3 * 86_400_000 }),
);
const recordArb = fc.record({
  market: fc.constantFrom('m1', 'm2'),
  step: STEP,
  back: fc.integer({ min: 0, max: 1_500 }),
  fills: fc.array(
    fc.record({ price: fc.integer({ min: 1, max: 5_000 }), qty: fc.integer({ min: 1, max: 1_000_000 }) }),
    {
      minLength: 1,
      maxLength: 3,
    },
  ),
});
const INTERVALS = [60_000, 300_000, 900_000, 3_600_000, 14_400_000, 86_400_000];

async function load(trades: readonly RollupTrade[], pageSizes: readonly number[]): Promise<void> {
  await pool.query(sql.unsafe`TRUNCATE trades`);
  await pool.query(sql.unsafe`DELETE FROM trade_rollups`);
  for (const trade of trades)
    await pool.query(sql.unsafe`
      INSERT INTO trades (id, market_id, maker_order_id, taker_order_id, maker_user_id, taker_user_id,
        taker_side, price, qty, ts, global_seq)
      VALUES (${trade.id}, ${trade.marketId}, 'o', 'o', 'a', 'b', 'buy', ${trade.price}, ${trade.qty},
        to_timestamp(${trade.ts} / 1000.0), ${trade.globalSeq})`);
  // Pages of whole records, as the consumer gets them.
  let at = 0;
  let n = 0;
  while (at < trades.length) {
    const size = pageSizes[n++ % pageSizes.length]!;
    let end = at;
    const seqs = new Set<number>();
    while (end < trades.length && (seqs.size < size || seqs.has(trades[end]!.globalSeq)))
      seqs.add(trades[end++]!.globalSeq);
    const page = trades.slice(at, end);
    await pool.transaction(async (tx) => {
      await ensureRollupMonths(tx, [...new Set(page.map((t) => monthOf(t.ts)))]);
      await upsertRollups(tx, rollupDeltas(page));
    });
    at = end;
  }
}

describe('rollups', () => {
  it('cut a range into pieces that cover it exactly, in order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 * 86_400_000 }),
        fc.integer({ min: 0, max: 10 * 86_400_000 }),
        (a, span) => {
          const pieces = decompose(a, a + span);
          let at = a;
          for (const piece of pieces) {
            expect(piece.from).toBe(at);
            expect(piece.to).toBeGreaterThan(piece.from);
            at = piece.to;
          }
          expect(at).toBe(span === 0 ? a : a + span);
          expect(pieces.filter((p) => p.source === 'raw').length).toBeLessThanOrEqual(2);
        },
      ),
    );
  });

  it('equal the aggregation of the raw trades, for random streams, windows and intervals', async () => {
    const seen = { windows: 0 };
    let bars = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(recordArb, { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 4 }),
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 1_000_000 }),
            fc.integer({ min: 0, max: 1_000_000 }),
            fc.constantFrom(...INTERVALS),
          ),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        fc.integer({ min: 0, max: 86_400_000 * 40 }),
        async (records, pageSizes, windows, offset) => {
          const base = Date.UTC(2026, 0, 28) + offset; // months end nearby
          const trades: RollupTrade[] = [];
          let ts = base;
          const seqOf = { m1: 0, m2: 0 };
          records.forEach((record, i) => {
            ts += record.step;
            const at = Math.max(base, ts - record.back);
            const seq = ++seqOf[record.market];
            record.fills.forEach((fill, n) =>
              trades.push({
                marketId: record.market,
                id: `${record.market}:${seq}:${n}`,
                globalSeq: i + 1,
                ts: at,
                ...fill,
              }),
            );
          });
          await load(trades, pageSizes);
          const first = base;
          const last = ts + 1;
          let compared = 0;
          for (const [a, b, interval] of windows) {
            const span = last - first + 120_000;
            const from = Math.floor(first - 60_000 + (span * Math.min(a, b)) / 1e6);
            const to = Math.max(from + 1, Math.floor(first - 60_000 + (span * Math.max(a, b)) / 1e6));
            if ((to - from) / interval > 10_000) continue;
            compared++;
            for (const market of ['m1', 'm2']) {
              const raw = await tradeBars(pool, market, from, to, interval, 10_000);
              expect(await rollupBars(pool, market, from, to, interval, 10_000)).toEqual(raw);
              bars += raw.length;
            }
            const byMarket = (rows: { marketId: string }[]) =>
              [...rows].sort((x, y) => x.marketId.localeCompare(y.marketId));
            expect(byMarket(await rollupWindows(pool, from, to))).toEqual(
              byMarket(await marketWindows(pool, from, to)),
            );
          }
          seen.windows += compared;
        },
      ),
      {
        numRuns: 40,
        // Besides the random runs, one stream known to have bars: 40 records a minute apart on two
        // markets, compared over its whole span at 1m and 5m (the random runs alone had as few as
        // 44 bars in 40 runs, so a count over them was a check that could fail by chance).
        examples: [
          [
            Array.from({ length: 40 }, (_, i) => ({
              market: i % 2 === 0 ? ('m1' as const) : ('m2' as const),
              step: 60_000,
              back: 0,
              fills: [{ price: 100 + i, qty: 1_000 }],
            })),
            [3],
            [
              [0, 1_000_000, 60_000],
              [0, 1_000_000, 300_000],
            ],
            0,
          ],
        ],
      },
    );
    // The property compared something: windows with bars in them (the example alone has over 50).
    expect(seen.windows).toBeGreaterThan(25);
    expect(bars).toBeGreaterThan(50);
  }, 240_000);

  it('drop whole months past retention, none younger', async () => {
    await ensureRollupMonths(pool, [Date.UTC(2025, 0, 1), Date.UTC(2025, 1, 1)]);
    expect(await dropRollupPartitionsBefore(pool, Date.UTC(2025, 1, 10))).toBe(1);
    expect(await dropRollupPartitionsBefore(pool, Date.UTC(2025, 1, 10))).toBe(0);
  });
});
