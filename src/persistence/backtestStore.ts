import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';

/*
 * The `backtests` rows (migration 1763800000110) and the bars a back-test replays from the
 * exchange's own trades. Results are stored as the JSON the API answers (decimal strings for
 * money); the bound on runs a user has going is checked and the row inserted under a per-user
 * advisory lock, so two requests at once cannot both pass it.
 */

export type BacktestStatus = 'queued' | 'running' | 'done' | 'failed';

export interface BacktestRow {
  readonly id: string;
  readonly userId: string;
  readonly status: BacktestStatus;
  readonly config: unknown;
  readonly result: unknown;
  readonly error: string | undefined;
  readonly createdAt: number;
}

/** A page position: the last row's (createdAt, id). */
export interface BacktestPosition {
  readonly createdAt: number;
  readonly id: string;
}

const Row = z.object({
  id: z.string(),
  user_id: z.string(),
  status: z.enum(['queued', 'running', 'done', 'failed']),
  config: z.unknown(),
  result: z.unknown(),
  error: z.string().nullable(),
  created_at: z.string(),
});

const COLUMNS = sql.fragment`id, user_id, status, config, result, error,
  (extract(epoch FROM created_at) * 1000)::int8::text AS created_at`;

function rowOf(row: z.infer<typeof Row>): BacktestRow {
  return {
    id: row.id,
    userId: row.user_id,
    status: row.status,
    config: row.config,
    result: row.result ?? undefined,
    error: row.error ?? undefined,
    createdAt: Number(row.created_at),
  };
}

/** Inserts a queued run unless the user has `maxActive` queued or running already (then false). */
export async function insertBacktest(
  pool: DatabasePool,
  run: { readonly id: string; readonly userId: string; readonly config: unknown },
  maxActive: number,
): Promise<boolean> {
  return pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`SELECT pg_advisory_xact_lock(hashtext('backtests'), hashtext(${run.userId}))`);
    const active = await tx.oneFirst(sql.type(z.object({ n: z.number() }))`
      SELECT count(*)::int4 AS n FROM backtests
      WHERE user_id = ${run.userId} AND status IN ('queued', 'running')`);
    if (active >= maxActive) return false;
    await tx.query(sql.unsafe`
      INSERT INTO backtests (id, user_id, status, config)
      VALUES (${run.id}, ${run.userId}, 'queued', ${sql.jsonb(run.config as never)})`);
    return true;
  });
}

export async function getBacktest(pool: CommonQueryMethods, id: string): Promise<BacktestRow | undefined> {
  const row = await pool.maybeOne(sql.type(Row)`SELECT ${COLUMNS} FROM backtests WHERE id = ${id}`);
  return row === null ? undefined : rowOf(row);
}

/**
 * The user's runs newest first, `limit` after `after`; results and the config's candles left out
 * (the list is a summary: a page of a thousand runs never carries their series).
 */
export async function listBacktests(
  pool: CommonQueryMethods,
  userId: string,
  limit: number,
  after: BacktestPosition | undefined,
): Promise<BacktestRow[]> {
  const before =
    after === undefined
      ? sql.fragment``
      : sql.fragment`AND (created_at, id) < (to_timestamp(${after.createdAt} / 1000.0), ${after.id})`;
  const rows = await pool.any(sql.type(Row)`
    SELECT id, user_id, status, config - 'candles' AS config, NULL AS result, error,
      (extract(epoch FROM created_at) * 1000)::int8::text AS created_at
    FROM backtests WHERE user_id = ${userId} ${before}
    ORDER BY created_at DESC, id DESC LIMIT ${limit}`);
  return rows.map(rowOf);
}

/** queued → running (false when it is not queued: another attempt took it, or it ended). */
export async function startBacktest(pool: CommonQueryMethods, id: string): Promise<boolean> {
  const started = await pool.maybeOne(sql.type(z.object({ id: z.string() }))`
    UPDATE backtests SET status = 'running', started_at = now()
    WHERE id = ${id} AND status IN ('queued', 'running') RETURNING id`);
  return started !== null;
}

export async function finishBacktest(
  pool: CommonQueryMethods,
  id: string,
  outcome: { readonly result: unknown } | { readonly error: string },
): Promise<void> {
  if ('result' in outcome)
    await pool.query(sql.unsafe`
      UPDATE backtests SET status = 'done', result = ${sql.jsonb(outcome.result as never)}, finished_at = now()
      WHERE id = ${id}`);
  else
    await pool.query(sql.unsafe`
      UPDATE backtests SET status = 'failed', error = ${outcome.error}, finished_at = now()
      WHERE id = ${id}`);
}

/** A bar of a market's trades: time in ms, prices in ticks, volume in lots. */
export interface TradeBar {
  readonly t: number;
  readonly o: number;
  readonly h: number;
  readonly l: number;
  readonly c: number;
  readonly v: number;
  /** Trades in the bar, and their Σ price × qty (ticks × lots, exact). */
  readonly n: number;
  readonly notional: bigint;
}

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
 * The market's trades in [from, to) as bars of `intervalMs`, aligned to the epoch, in time order;
 * only intervals with a trade have a bar. At most `limit` bars. Open and close are the first and
 * last trade by journal position (global_seq, then the trade id's place in its batch).
 */
export async function tradeBars(
  pool: CommonQueryMethods,
  marketId: string,
  from: number,
  to: number,
  intervalMs: number,
  limit: number,
): Promise<TradeBar[]> {
  const rows = await pool.any(sql.type(BarRow)`
    SELECT (extract(epoch FROM b) * 1000)::int8::text AS t, o::text, h::text, l::text, c::text, v::text,
      n::text, notional::text
    FROM (
      SELECT date_bin(make_interval(secs => ${intervalMs / 1000}), ts, 'epoch') AS b,
        (array_agg(price ORDER BY global_seq, length(id), id))[1] AS o,
        max(price) AS h, min(price) AS l,
        (array_agg(price ORDER BY global_seq DESC, length(id) DESC, id DESC))[1] AS c,
        sum(qty) AS v, count(*) AS n, sum(price::numeric * qty) AS notional
      FROM trades
      WHERE market_id = ${marketId}
        AND ts >= to_timestamp(${from} / 1000.0) AND ts < to_timestamp(${to} / 1000.0)
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

/** Per market with trades in [from, to): count, lots, and the first and last price (ticks). */
export interface MarketWindowRow {
  readonly marketId: string;
  readonly trades: number;
  readonly lots: bigint;
  readonly first: number;
  readonly last: number;
}

const MarketWindow = z.object({
  market_id: z.string(),
  trades: z.string(),
  lots: z.string(),
  first: z.string(),
  last: z.string(),
});

export async function marketWindows(
  pool: CommonQueryMethods,
  from: number,
  to: number,
): Promise<MarketWindowRow[]> {
  const rows = await pool.any(sql.type(MarketWindow)`
    SELECT market_id, count(*)::text AS trades, sum(qty)::text AS lots,
      (array_agg(price ORDER BY global_seq, length(id), id))[1]::text AS first,
      (array_agg(price ORDER BY global_seq DESC, length(id) DESC, id DESC))[1]::text AS last
    FROM trades
    WHERE ts >= to_timestamp(${from} / 1000.0) AND ts < to_timestamp(${to} / 1000.0)
    GROUP BY market_id`);
  return rows.map((r) => ({
    marketId: r.market_id,
    trades: Number(r.trades),
    lots: BigInt(r.lots),
    first: Number(r.first),
    last: Number(r.last),
  }));
}

const JournalRecordRow = z.object({ record: z.instanceof(Buffer) });

/**
 * The journal records of one market in seq order (the `book` fill model replays them), at most
 * `limit` (a caller asks for one more than its bound to know it was passed).
 */
export async function marketJournalRecords(
  pool: CommonQueryMethods,
  marketId: string,
  limit: number,
): Promise<Buffer[]> {
  const rows = await pool.any(sql.type(JournalRecordRow)`
    SELECT record FROM journal WHERE market_id = ${marketId} ORDER BY seq_to LIMIT ${limit}`);
  return rows.map((row) => row.record);
}
