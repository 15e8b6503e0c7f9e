import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';
import {
  dropMonthlyPartitionsBefore,
  ensureMonthsAhead,
  type MonthlyPartitioned,
} from './monthlyPartitions.ts';

/*
 * equity_points (migration 1763800000112): monthly range partitions made ahead and dropped past
 * retention here, points upserted per (user, asset, t) so a repeated recording changes nothing,
 * and the history read as the last point of each bucket of the asked interval.
 */

const EQUITY_POINTS: MonthlyPartitioned = { table: 'equity_points' };

/** The partitions of this month and the next exist afterwards. */
export function ensureEquityPartitions(pool: CommonQueryMethods, now: number): Promise<void> {
  return ensureMonthsAhead(pool, EQUITY_POINTS, now);
}

/** Drops the monthly partitions that end before `cutoff` (whole months only). */
export function dropEquityPartitionsBefore(pool: CommonQueryMethods, cutoff: number): Promise<number> {
  return dropMonthlyPartitionsBefore(pool, EQUITY_POINTS, cutoff);
}

export interface EquityPoint {
  readonly userId: string;
  readonly asset: string;
  readonly equity: bigint;
}

export async function insertEquityPoints(
  pool: DatabasePool,
  t: number,
  points: readonly EquityPoint[],
): Promise<void> {
  if (points.length === 0) return;
  await pool.query(sql.unsafe`
    INSERT INTO equity_points (user_id, asset, t, equity)
    SELECT u, a, ${sql.timestamp(new Date(t))}, e::numeric
    FROM unnest(${sql.array(
      points.map((p) => p.userId),
      'text',
    )}::text[],
                ${sql.array(
                  points.map((p) => p.asset),
                  'text',
                )}::text[],
                ${sql.array(
                  points.map((p) => p.equity.toString()),
                  'text',
                )}::text[]) AS x(u, a, e)
    ON CONFLICT (user_id, asset, t) DO UPDATE SET equity = EXCLUDED.equity`);
}

/** Accounts with a projected balance (users; the ledger's own accounts start with '@'). */
export async function accountsWithBalances(pool: CommonQueryMethods, limit: number): Promise<string[]> {
  const rows = await pool.anyFirst(sql.type(z.object({ account: z.string() }))`
    SELECT DISTINCT account FROM balances WHERE account NOT LIKE '@%' ORDER BY account LIMIT ${limit}`);
  return [...rows];
}

/** The last point of each `bucketMs` bucket in [from, to), oldest first. */
export async function equityHistory(
  pool: CommonQueryMethods,
  userId: string,
  asset: string,
  bucketMs: number,
  from: number,
  to: number,
  limit: number,
): Promise<{ t: number; equity: bigint }[]> {
  const rows = await pool.any(sql.type(z.object({ t: z.string(), equity: z.string() }))`
    SELECT (extract(epoch FROM b) * 1000)::int8::text AS t, equity::text AS equity FROM (
      SELECT DISTINCT ON (b) date_bin(make_interval(secs => ${bucketMs / 1000}), t, 'epoch') AS b, equity
      FROM equity_points
      WHERE user_id = ${userId} AND asset = ${asset}
        AND t >= to_timestamp(${from} / 1000.0) AND t < to_timestamp(${to} / 1000.0)
      ORDER BY b, t DESC
    ) last ORDER BY b LIMIT ${limit}`);
  return rows.map((r) => ({ t: Number(r.t), equity: BigInt(r.equity) }));
}
