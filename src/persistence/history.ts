import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { OrderStatus } from './projector.ts';

/*
 * Reads of the relational projections (src/persistence/projector.ts) for the HTTP history routes:
 * a market's recent trades and a user's orders. Rows come back in the projection's units (price in
 * ticks, qty in lots, time in epoch ms); the transport formats them with the market's money. The
 * projections trail the journal by a projector round or more: the HTTP routes first wait until
 * they hold what was committed before the request (Projector.waitFor, HISTORY_WAIT_MS).
 */

/** A trade as projected, with its ordinal among the market's trades (1 = the market's first). */
export interface TradeRecord {
  readonly id: string;
  readonly marketId: string;
  readonly seq: number;
  readonly price: number;
  readonly qty: number;
  readonly takerSide: 'buy' | 'sell';
  readonly ts: number;
}

export interface OrderRecord {
  readonly id: string;
  readonly marketId: string;
  readonly clientOrderId: string | undefined;
  readonly side: 'buy' | 'sell';
  readonly type: 'limit' | 'market' | 'stop_limit' | 'stop_market' | 'trailing_stop';
  readonly status: OrderStatus;
  readonly price: number | undefined;
  readonly stopPrice: number | undefined;
  readonly qty: number;
  readonly filledQty: number;
  readonly remaining: number;
  /** Σ price × qty of the order's fills, in tick × lot units (exact, as text would overflow a double). */
  readonly filledNotional: bigint;
  /** Lots the fills add up to (equals filledQty once the projection has every fill). */
  readonly filledLots: number;
  readonly updatedAt: number;
  /** The journal position of its last change: with `id`, its place in the user's history. */
  readonly updatedGlobalSeq: number;
}

/** Where a page of a user's orders ends: the last order's (updatedGlobalSeq, id). */
export interface OrderPosition {
  readonly updatedGlobalSeq: number;
  readonly id: string;
}

export interface OrderQuery {
  readonly userId: string;
  readonly marketId?: string | undefined;
  /** Only these statuses; every status when omitted. */
  readonly statuses?: readonly OrderStatus[] | undefined;
  readonly limit: number;
  /** Only orders after this one in the listing's order (keyset pagination). */
  readonly after?: OrderPosition | undefined;
}

const TradeRow = z.object({
  id: z.string(),
  market_id: z.string(),
  seq: z.string(),
  price: z.string(),
  qty: z.string(),
  taker_side: z.enum(['buy', 'sell']),
  ts: z.string(),
});

const OrderRow = z.object({
  id: z.string(),
  market_id: z.string(),
  client_order_id: z.string().nullable(),
  side: z.enum(['buy', 'sell']),
  type: z.enum(['limit', 'market', 'stop_limit', 'stop_market', 'trailing_stop']),
  status: z.enum(['open', 'partially_filled', 'filled', 'canceled', 'pending_trigger']),
  price: z.string().nullable(),
  stop_price: z.string().nullable(),
  qty: z.string(),
  filled_qty: z.string(),
  remaining: z.string(),
  notional: z.string(),
  lots: z.string(),
  updated_at: z.string(),
  updated_global_seq: z.string(),
});

export class HistoryError extends Error {
  constructor(message: string) {
    super(`history: ${message}`);
    this.name = 'HistoryError';
  }
}

function int(text: string, what: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new HistoryError(`${what} ${text} is not a safe integer`);
  return value;
}

/**
 * The market's newest trades, newest first; with `beforeSeq`, only those older than that trade
 * (keyset pagination: a page's last `seq`). Trade ids are `marketId:entrySeq:n`, so (global_seq,
 * entry seq, n) is commit order; `seq` is the trade's rank in it. The projection stores no per-market
 * trade counter, so the rank is counted over the market's trades on each call (linear in them).
 */
export async function recentTrades(
  db: Pick<CommonQueryMethods, 'any'>,
  marketId: string,
  limit: number,
  beforeSeq?: number,
): Promise<TradeRecord[]> {
  const before = beforeSeq === undefined ? sql.fragment`` : sql.fragment`WHERE seq < ${beforeSeq}`;
  const rows = await db.any(sql.type(TradeRow)`
    SELECT id, market_id, seq::text AS seq, price::text AS price, qty::text AS qty, taker_side,
      (extract(epoch FROM ts) * 1000)::int8::text AS ts
    FROM (
      SELECT t.*, row_number() OVER (
          ORDER BY t.global_seq, (m.parts)[1]::int8, (m.parts)[2]::int8
        ) AS seq
      FROM trades t, LATERAL (SELECT regexp_match(t.id, ':([0-9]+):([0-9]+)$') AS parts) m
      WHERE t.market_id = ${marketId}
    ) ranked
    ${before}
    ORDER BY seq DESC
    LIMIT ${limit}`);
  return rows.map((row) => ({
    id: row.id,
    marketId: row.market_id,
    seq: int(row.seq, 'trade seq'),
    price: int(row.price, 'price'),
    qty: int(row.qty, 'qty'),
    takerSide: row.taker_side,
    ts: int(row.ts, 'ts'),
  }));
}

/**
 * The user's orders, most recently changed first (then by id, descending), each with what its fills
 * add up to; with `after`, only those that follow it in that order (keyset pagination).
 */
export async function userOrders(
  db: Pick<CommonQueryMethods, 'any'>,
  query: OrderQuery,
): Promise<OrderRecord[]> {
  const conditions = [sql.fragment`o.user_id = ${query.userId}`];
  if (query.marketId !== undefined) conditions.push(sql.fragment`o.market_id = ${query.marketId}`);
  if (query.statuses !== undefined) {
    conditions.push(sql.fragment`o.status = ANY(${sql.array([...query.statuses], 'text')})`);
  }
  if (query.after !== undefined) {
    const { updatedGlobalSeq, id } = query.after;
    conditions.push(sql.fragment`(o.updated_global_seq, o.id) < (${updatedGlobalSeq}, ${id})`);
  }
  const rows = await db.any(sql.type(OrderRow)`
    SELECT o.id, o.market_id, o.client_order_id, o.side, o.type, o.status, o.price::text AS price,
      o.stop_price::text AS stop_price, o.qty::text AS qty, o.filled_qty::text AS filled_qty,
      o.remaining::text AS remaining,
      (coalesce(maker.notional, 0) + coalesce(taker.notional, 0))::text AS notional,
      (coalesce(maker.lots, 0) + coalesce(taker.lots, 0))::text AS lots,
      (extract(epoch FROM o.updated_at) * 1000)::int8::text AS updated_at,
      o.updated_global_seq::text AS updated_global_seq
    FROM orders o
    LEFT JOIN LATERAL (
      SELECT sum(t.price::numeric * t.qty) AS notional, sum(t.qty) AS lots
      FROM trades t WHERE t.maker_order_id = o.id
    ) maker ON true
    LEFT JOIN LATERAL (
      SELECT sum(t.price::numeric * t.qty) AS notional, sum(t.qty) AS lots
      FROM trades t WHERE t.taker_order_id = o.id
    ) taker ON true
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY o.updated_global_seq DESC, o.id DESC
    LIMIT ${query.limit}`);
  return rows.map((row) => ({
    id: row.id,
    marketId: row.market_id,
    clientOrderId: row.client_order_id ?? undefined,
    side: row.side,
    type: row.type,
    status: row.status,
    price: row.price === null ? undefined : int(row.price, 'price'),
    stopPrice: row.stop_price === null ? undefined : int(row.stop_price, 'stop price'),
    qty: int(row.qty, 'qty'),
    filledQty: int(row.filled_qty, 'filled qty'),
    remaining: int(row.remaining, 'remaining'),
    filledNotional: BigInt(row.notional),
    filledLots: int(row.lots, 'lots'),
    updatedAt: int(row.updated_at, 'updated_at'),
    updatedGlobalSeq: int(row.updated_global_seq, 'updated_global_seq'),
  }));
}

const TradeCount = z.object({ market_id: z.string(), trades: z.string() });

/**
 * Trades per market in the projection: the trade `seq` each market's publisher continues after a
 * restart (read once the projector has caught up with the journal).
 */
export async function tradeCounts(pool: CommonQueryMethods): Promise<Map<string, number>> {
  const rows = await pool.any(
    sql.type(TradeCount)`SELECT market_id, count(*)::text AS trades FROM trades GROUP BY market_id`,
  );
  return new Map(rows.map((r) => [r.market_id, Number(r.trades)]));
}
