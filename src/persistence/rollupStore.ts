import { sql, type CommonQueryMethods, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import type { MarketWindowRow, TradeBar } from './backtestStore.ts';
import {
  dropMonthlyPartitionsBefore,
  ensureMonthlyPartitions,
  ensureMonthsAhead,
  monthStart,
  type MonthlyPartitioned,
} from './monthlyPartitions.ts';
import { pgArray } from './projection/pgArray.ts';

/*
 * trade_rollups (migration 1763800000114): monthly partitions made ahead and dropped past
 * retention, the consumer's deltas upserted, and reads by range. A read of [from, to) is cut into
 * pieces (decompose): the widest bucket that fits whole, finer buckets at its edges, the raw
 * `trades` only for the sub-minute ends; the pieces are combined with the order keys of their
 * open and close, so the answer equals the aggregation of the raw trades over the range.
 */

export const ROLLUP_STEPS = { '1m': 60_000, '5m': 300_000, '1h': 3_600_000, '1d': 86_400_000 } as const;
export type RollupStep = keyof typeof ROLLUP_STEPS;
const STEPS_ASCENDING: readonly RollupStep[] = ['1m', '5m', '1h', '1d'];

const TRADE_ROLLUPS: MonthlyPartitioned = { table: 'trade_rollups' };

/** The month's start (UTC), as ms. */
export function monthOf(ms: number, add = 0): number {
  return monthStart(ms, add).getTime();
}

/** The partitions of these months exist afterwards. */
export function ensureRollupMonths(pool: CommonQueryMethods, months: readonly number[]): Promise<void> {
  return ensureMonthlyPartitions(pool, TRADE_ROLLUPS, months);
}

/** This month's and the next's partitions, made ahead. */
export function ensureRollupPartitions(pool: CommonQueryMethods, now: number): Promise<void> {
  return ensureMonthsAhead(pool, TRADE_ROLLUPS, now);
}

/** Drops the monthly partitions that end at or before `cutoff` (whole months only); how many. */
export function dropRollupPartitionsBefore(pool: CommonQueryMethods, cutoff: number): Promise<number> {
  return dropMonthlyPartitionsBefore(pool, TRADE_ROLLUPS, cutoff);
}

export interface RollupDelta {
  readonly marketId: string;
  readonly bucket: RollupStep;
  readonly t: number;
  readonly o: number;
  readonly h: number;
  readonly l: number;
  readonly c: number;
  readonly v: bigint;
  readonly notional: bigint;
  readonly n: number;
  readonly oSeq: number;
  readonly oId: string;
  readonly cSeq: number;
  readonly cId: string;
  readonly tMin: number;
  readonly tMax: number;
}

/** Adds deltas of later trades onto their rows (the open stays, the close is the delta's). */
export async function upsertRollups(tx: CommonQueryMethods, rows: readonly RollupDelta[]): Promise<void> {
  if (rows.length === 0) return;
  const col = <T>(f: (row: RollupDelta) => T) => rows.map(f);
  await tx.query(sql.unsafe`
    INSERT INTO trade_rollups (market_id, bucket, t, o, h, l, c, v, notional, n, o_seq, o_id, c_seq, c_id,
      t_min, t_max)
    SELECT * FROM unnest(
      ${pgArray(
        col((r) => r.marketId),
        'text',
      )}, ${pgArray(
        col((r) => r.bucket),
        'text',
      )},
      ${pgArray(
        col((r) => new Date(r.t).toISOString()),
        'timestamptz',
      )},
      ${pgArray(
        col((r) => r.o),
        'int8',
      )}, ${pgArray(
        col((r) => r.h),
        'int8',
      )}, ${pgArray(
        col((r) => r.l),
        'int8',
      )},
      ${pgArray(
        col((r) => r.c),
        'int8',
      )}, ${pgArray(
        col((r) => r.v.toString()),
        'numeric',
      )},
      ${pgArray(
        col((r) => r.notional.toString()),
        'numeric',
      )}, ${pgArray(
        col((r) => r.n),
        'int8',
      )},
      ${pgArray(
        col((r) => r.oSeq),
        'int8',
      )}, ${pgArray(
        col((r) => r.oId),
        'text',
      )},
      ${pgArray(
        col((r) => r.cSeq),
        'int8',
      )}, ${pgArray(
        col((r) => r.cId),
        'text',
      )},
      ${pgArray(
        col((r) => new Date(r.tMin).toISOString()),
        'timestamptz',
      )},
      ${pgArray(
        col((r) => new Date(r.tMax).toISOString()),
        'timestamptz',
      )})
    ON CONFLICT (market_id, bucket, t) DO UPDATE SET
      h = greatest(trade_rollups.h, EXCLUDED.h), l = least(trade_rollups.l, EXCLUDED.l),
      c = EXCLUDED.c, c_seq = EXCLUDED.c_seq, c_id = EXCLUDED.c_id,
      v = trade_rollups.v + EXCLUDED.v, notional = trade_rollups.notional + EXCLUDED.notional,
      n = trade_rollups.n + EXCLUDED.n,
      t_min = least(trade_rollups.t_min, EXCLUDED.t_min), t_max = greatest(trade_rollups.t_max, EXCLUDED.t_max)`);
}

/** A piece of a range: a bucket's rows over [from, to) (aligned to it), or the raw trades. */
export interface Piece {
  readonly source: RollupStep | 'raw';
  readonly from: number;
  readonly to: number;
}

/**
 * [from, to) as pieces: the widest of `steps` whose aligned part is not empty, then the same for
 * the edges with the narrower steps, the raw trades for what no step covers. In time order.
 */
export function decompose(from: number, to: number, steps: readonly RollupStep[] = STEPS_ASCENDING): Piece[] {
  if (from >= to) return [];
  if (steps.length === 0) return [{ source: 'raw', from, to }];
  const widest = steps[steps.length - 1]!;
  const narrower = steps.slice(0, -1);
  const step = ROLLUP_STEPS[widest];
  const a = Math.ceil(from / step) * step;
  const b = Math.floor(to / step) * step;
  if (a >= b) return decompose(from, to, narrower);
  return [...decompose(from, a, narrower), { source: widest, from: a, to: b }, ...decompose(b, to, narrower)];
}

/** The steps that divide `intervalMs` (bars of it may be made of their rows). */
export function stepsDividing(intervalMs: number): RollupStep[] {
  return STEPS_ASCENDING.filter((s) => intervalMs % ROLLUP_STEPS[s] === 0);
}

const ms = (value: number) => sql.fragment`to_timestamp(${value} / 1000.0)`;

/** The pieces as rows of (market_id, t, o, h, l, c, v, notional, n, o_seq, o_id, c_seq, c_id). */
function piecesQuery(pieces: readonly Piece[], marketId: string | undefined): FragmentSqlToken {
  const market = (column: FragmentSqlToken) =>
    marketId === undefined ? sql.fragment`TRUE` : sql.fragment`${column} = ${marketId}`;
  const parts = pieces.map((p) => {
    if (p.source === 'raw') {
      // A sub-minute piece (inside one minute): a market's 1m row whose trades all lie inside the
      // piece stands for them; the raw trades otherwise.
      const minute = Math.floor(p.from / ROLLUP_STEPS['1m']) * ROLLUP_STEPS['1m'];
      const usable = sql.fragment`bucket = '1m' AND t = ${ms(minute)} AND t_min >= ${ms(p.from)} AND t_max < ${ms(p.to)}`;
      return sql.fragment`
        SELECT market_id, t, o, h, l, c, v, notional, n, o_seq, o_id, c_seq, c_id
        FROM trade_rollups WHERE ${market(sql.fragment`market_id`)} AND ${usable}
        UNION ALL
        SELECT market_id, ts AS t, price AS o, price AS h, price AS l, price AS c, qty::numeric AS v,
          price::numeric * qty AS notional, 1::int8 AS n, global_seq AS o_seq, id AS o_id,
          global_seq AS c_seq, id AS c_id
        FROM trades WHERE ${market(sql.fragment`market_id`)}
          AND ts >= ${ms(p.from)} AND ts < ${ms(p.to)}
          AND NOT EXISTS (SELECT FROM trade_rollups r WHERE ${
            // One market: uncorrelated, a one-time filter (the trades are not scanned when the row stands).
            marketId === undefined
              ? sql.fragment`r.market_id = trades.market_id`
              : sql.fragment`r.market_id = ${marketId}`
          } AND ${usable})`;
    }
    return sql.fragment`
      SELECT market_id, t, o, h, l, c, v, notional, n, o_seq, o_id, c_seq, c_id
      FROM trade_rollups WHERE ${market(sql.fragment`market_id`)}
        AND bucket = ${p.source} AND t >= ${ms(p.from)} AND t < ${ms(p.to)}`;
  });
  return parts.length === 0
    ? sql.fragment`SELECT NULL::text AS market_id, NULL::timestamptz AS t, 0::int8 AS o, 0::int8 AS h, 0::int8 AS l,
        0::int8 AS c, 0::numeric AS v, 0::numeric AS notional, 0::int8 AS n, 0::int8 AS o_seq, ''::text AS o_id,
        0::int8 AS c_seq, ''::text AS c_id WHERE FALSE`
    : sql.fragment`${sql.join(parts, sql.fragment` UNION ALL `)}`;
}

const OPEN = sql.fragment`(array_agg(o ORDER BY o_seq, length(o_id), o_id))[1]`;
const CLOSE = sql.fragment`(array_agg(c ORDER BY c_seq DESC, length(c_id) DESC, c_id DESC))[1]`;

const BarRow = z.object({
  t: z.string(),
  o: z.string(),
  h: z.string(),
  l: z.string(),
  c: z.string(),
  v: z.string(),
  n: z.string(),
  notional: z.string(),
});

/**
 * A market's bars of `intervalMs` (aligned to the epoch) over [from, to), those with a trade, from
 * the rollups (and the raw trades at sub-minute ends): equal to tradeBars over the same range.
 */
export async function rollupBars(
  pool: CommonQueryMethods,
  marketId: string,
  from: number,
  to: number,
  intervalMs: number,
  limit: number,
): Promise<TradeBar[]> {
  const pieces = decompose(from, to, stepsDividing(intervalMs));
  const rows = await pool.any(sql.type(BarRow)`
    SELECT (extract(epoch FROM b) * 1000)::int8::text AS t, o::text, h::text, l::text, c::text, v::text,
      n::text, notional::text
    FROM (
      SELECT date_bin(make_interval(secs => ${intervalMs / 1000}), t, 'epoch') AS b,
        ${OPEN} AS o, max(h) AS h, min(l) AS l, ${CLOSE} AS c,
        sum(v) AS v, sum(n) AS n, sum(notional) AS notional
      FROM (${piecesQuery(pieces, marketId)}) pieces
      GROUP BY b
    ) bars
    ORDER BY b LIMIT ${limit}`);
  return rows.map((r) => ({
    t: Number(r.t),
    o: Number(r.o),
    h: Number(r.h),
    l: Number(r.l),
    c: Number(r.c),
    v: Number(r.v),
    n: Number(r.n),
    notional: BigInt(r.notional),
  }));
}

const WindowRow = z.object({
  market_id: z.string(),
  trades: z.string(),
  lots: z.string(),
  first: z.string(),
  last: z.string(),
});

/** Per market with trades in [from, to): as marketWindows, from the rollups. */
export async function rollupWindows(
  pool: CommonQueryMethods,
  from: number,
  to: number,
): Promise<MarketWindowRow[]> {
  const rows = await pool.any(sql.type(WindowRow)`
    SELECT market_id, sum(n)::text AS trades, sum(v)::text AS lots, ${OPEN}::text AS first, ${CLOSE}::text AS last
    FROM (${piecesQuery(decompose(from, to), undefined)}) pieces
    GROUP BY market_id`);
  return rows.map((r) => ({
    marketId: r.market_id,
    trades: Number(r.trades),
    lots: BigInt(r.lots),
    first: Number(r.first),
    last: Number(r.last),
  }));
}
