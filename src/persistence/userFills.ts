import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

/*
 * A user's fills from the trades projection (GET /api/v1/fills, issue 20): each trade is one fill
 * of its maker and one of its taker, read through the per-role indexes of migration
 * 1763800000190 (user, ts DESC, global_seq DESC) and merged. Rows come back in the projection's
 * units (price in ticks, qty in lots); the transport formats them and adds the fee from the
 * market's terms (fee rates are fixed at listing, so the fee is what settlement charged).
 */

export type Liquidity = 'maker' | 'taker';

export interface FillRecord {
  readonly tradeId: string;
  readonly marketId: string;
  readonly orderId: string;
  /** The user's side in the trade. */
  readonly side: 'buy' | 'sell';
  readonly liquidity: Liquidity;
  readonly price: number;
  readonly qty: number;
  /** Epoch ms. */
  readonly ts: number;
  readonly position: FillPosition;
}

/**
 * A fill's place in the listing, newest first: the trade's exact time (epoch µs), its journal
 * record, the market command and fill number of its id (`marketId:seq:n`), then the role (a user
 * may be both sides of one trade). Commit order, and a strict order: the page position.
 */
export type FillPosition = readonly [
  tsMicros: number,
  globalSeq: number,
  seq: number,
  n: number,
  liquidity: Liquidity,
];

export interface FillQuery {
  readonly userId: string;
  readonly marketId?: string | undefined;
  readonly limit: number;
  /** Only fills after this one in the listing's order (keyset pagination). */
  readonly after?: FillPosition | undefined;
}

const FillRow = z.object({
  id: z.string(),
  market_id: z.string(),
  order_id: z.string(),
  side: z.enum(['buy', 'sell']),
  liquidity: z.enum(['maker', 'taker']),
  price: z.string(),
  qty: z.string(),
  ts: z.string(),
  ts_us: z.string(),
  global_seq: z.string(),
  seq: z.string(),
  n: z.string(),
});

function int(text: string, what: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`fills: ${what} ${text} is not a safe integer`);
  return value;
}

/** The user's fills, newest first; with `after`, those that follow it. At most `limit`. */
export async function userFills(
  db: Pick<CommonQueryMethods, 'any'>,
  query: FillQuery,
): Promise<FillRecord[]> {
  const branch = (role: Liquidity) => {
    const user = role === 'maker' ? sql.fragment`t.maker_user_id` : sql.fragment`t.taker_user_id`;
    const order = role === 'maker' ? sql.fragment`t.maker_order_id` : sql.fragment`t.taker_order_id`;
    // The maker's side is the other one of the taker's.
    const side =
      role === 'maker'
        ? sql.fragment`CASE t.taker_side WHEN 'buy' THEN 'sell' ELSE 'buy' END`
        : sql.fragment`t.taker_side`;
    const conditions = [sql.fragment`${user} = ${query.userId}`];
    if (query.marketId !== undefined) conditions.push(sql.fragment`t.market_id = ${query.marketId}`);
    const { after } = query;
    if (after !== undefined) {
      // int8 µs since the epoch times a 1 µs interval is exact (timestamps are µs integers).
      const at = sql.fragment`('epoch'::timestamptz + ${after[0]}::int8 * interval '1 microsecond')`;
      // The index range starts at the cursor's time; the rest of the order is checked per row.
      conditions.push(sql.fragment`t.ts <= ${at}`);
      conditions.push(sql.fragment`(t.ts, t.global_seq, (m.parts)[1]::int8, (m.parts)[2]::int8, ${role}::text)
        < (${at}, ${after[1]}::int8, ${after[2]}::int8, ${after[3]}::int8, ${after[4]}::text)`);
    }
    return sql.fragment`(
      SELECT t.id, t.market_id, ${order} AS order_id, ${side} AS side, ${role}::text AS liquidity,
        t.price, t.qty, t.ts, t.global_seq, (m.parts)[1]::int8 AS seq, (m.parts)[2]::int8 AS n
      FROM trades t, LATERAL (SELECT regexp_match(t.id, ':([0-9]+):([0-9]+)$') AS parts) m
      WHERE ${sql.join(conditions, sql.fragment` AND `)}
      ORDER BY t.ts DESC, t.global_seq DESC, seq DESC, n DESC
      LIMIT ${query.limit})`;
  };
  const rows = await db.any(sql.type(FillRow)`
    SELECT id, market_id, order_id, side, liquidity, price::text AS price, qty::text AS qty,
      (extract(epoch FROM ts) * 1000)::int8::text AS ts,
      (extract(epoch FROM ts) * 1000000)::int8::text AS ts_us,
      global_seq::text AS global_seq, seq::text AS seq, n::text AS n
    FROM (${branch('maker')} UNION ALL ${branch('taker')}) f
    ORDER BY f.ts DESC, f.global_seq DESC, f.seq DESC, f.n DESC, f.liquidity DESC
    LIMIT ${query.limit}`);
  return rows.map((row) => ({
    tradeId: row.id,
    marketId: row.market_id,
    orderId: row.order_id,
    side: row.side,
    liquidity: row.liquidity,
    price: int(row.price, 'price'),
    qty: int(row.qty, 'qty'),
    ts: int(row.ts, 'ts'),
    position: [
      int(row.ts_us, 'ts'),
      int(row.global_seq, 'global_seq'),
      int(row.seq, 'seq'),
      int(row.n, 'n'),
      row.liquidity,
    ],
  }));
}
