import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { pgArray } from './projection/pgArray.ts';

/*
 * The `positions` rows (migration 1763800000111) of the durable consumer `portfolio`
 * (src/analytics/portfolio/consumer.ts). Amounts are numeric, read as text into bigints.
 */

export interface PositionRow {
  readonly userId: string;
  readonly asset: string;
  readonly quoteAsset: string;
  readonly qty: bigint;
  readonly cost: bigint;
  readonly realized: bigint;
  readonly fills: number;
}

export const PORTFOLIO_CONSUMER = 'portfolio';

const Row = z.object({
  user_id: z.string(),
  asset: z.string(),
  quote_asset: z.string(),
  qty: z.string(),
  cost: z.string(),
  realized: z.string(),
  fills: z.string(),
});

const rowOf = (r: z.infer<typeof Row>): PositionRow => ({
  userId: r.user_id,
  asset: r.asset,
  quoteAsset: r.quote_asset,
  qty: BigInt(r.qty),
  cost: BigInt(r.cost),
  realized: BigInt(r.realized),
  fills: Number(r.fills),
});

const COLUMNS = sql.fragment`user_id, asset, quote_asset, qty::text, cost::text, realized::text, fills::text`;

export async function userPositions(pool: CommonQueryMethods, userId: string): Promise<PositionRow[]> {
  const rows = await pool.any(sql.type(Row)`
    SELECT ${COLUMNS} FROM positions WHERE user_id = ${userId} ORDER BY asset, quote_asset`);
  return rows.map(rowOf);
}

/** The rows of these (user, asset, quote) keys that exist. */
export async function positionsOf(
  pool: CommonQueryMethods,
  keys: readonly { userId: string; asset: string; quoteAsset: string }[],
): Promise<PositionRow[]> {
  if (keys.length === 0) return [];
  const rows = await pool.any(sql.type(Row)`
    SELECT ${COLUMNS} FROM positions
    WHERE (user_id, asset, quote_asset) IN (
      SELECT * FROM unnest(${pgArray(
        keys.map((k) => k.userId),
        'text',
      )},
                           ${pgArray(
                             keys.map((k) => k.asset),
                             'text',
                           )},
                           ${pgArray(
                             keys.map((k) => k.quoteAsset),
                             'text',
                           )}))`);
  return rows.map(rowOf);
}

export async function upsertPositions(
  tx: CommonQueryMethods,
  rows: readonly PositionRow[],
  globalSeq: number,
): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(sql.unsafe`
    INSERT INTO positions (user_id, asset, quote_asset, qty, cost, realized, fills, global_seq)
    SELECT u, a, q, qty::numeric, cost::numeric, realized::numeric, fills, ${globalSeq}
    FROM unnest(${pgArray(
      rows.map((r) => r.userId),
      'text',
    )},
                ${pgArray(
                  rows.map((r) => r.asset),
                  'text',
                )},
                ${pgArray(
                  rows.map((r) => r.quoteAsset),
                  'text',
                )},
                ${pgArray(
                  rows.map((r) => r.qty.toString()),
                  'text',
                )},
                ${pgArray(
                  rows.map((r) => r.cost.toString()),
                  'text',
                )},
                ${pgArray(
                  rows.map((r) => r.realized.toString()),
                  'text',
                )},
                ${pgArray(
                  rows.map((r) => r.fills),
                  'int8',
                )})
      AS t(u, a, q, qty, cost, realized, fills)
    ON CONFLICT (user_id, asset, quote_asset) DO UPDATE SET
      qty = EXCLUDED.qty, cost = EXCLUDED.cost, realized = EXCLUDED.realized, fills = EXCLUDED.fills,
      global_seq = EXCLUDED.global_seq, updated_at = now()`);
}

/** What one sell leg realized (quote minor units), keyed by its place in the journal. */
export interface RealizedRow {
  readonly userId: string;
  readonly marketId: string;
  readonly globalSeq: number;
  /** The leg's index among its record's legs. */
  readonly n: number;
  readonly t: number;
  readonly pnl: bigint;
}

export async function insertRealized(tx: CommonQueryMethods, rows: readonly RealizedRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(sql.unsafe`
    INSERT INTO realized_pnl (user_id, market_id, global_seq, n, t, pnl)
    SELECT u, m, g, n, to_timestamp(t / 1000.0), p::numeric
    FROM unnest(${pgArray(
      rows.map((r) => r.userId),
      'text',
    )},
                ${pgArray(
                  rows.map((r) => r.marketId),
                  'text',
                )},
                ${pgArray(
                  rows.map((r) => r.globalSeq),
                  'int8',
                )},
                ${pgArray(
                  rows.map((r) => r.n),
                  'int4',
                )},
                ${pgArray(
                  rows.map((r) => r.t),
                  'float8',
                )},
                ${pgArray(
                  rows.map((r) => r.pnl.toString()),
                  'text',
                )}) AS x(u, m, g, n, t, p)
    ON CONFLICT DO NOTHING`);
}

/** Forgets every position and the consumer's cursor: the next round rebuilds them from the journal. */
export async function resetPortfolio(pool: DatabasePool): Promise<void> {
  await pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`
      SELECT 1 FROM projection_cursors WHERE projection = ${PORTFOLIO_CONSUMER} FOR UPDATE`);
    await tx.query(sql.unsafe`DELETE FROM positions`);
    await tx.query(sql.unsafe`DELETE FROM realized_pnl`);
    await tx.query(sql.unsafe`DELETE FROM projection_cursors WHERE projection = ${PORTFOLIO_CONSUMER}`);
  });
}
