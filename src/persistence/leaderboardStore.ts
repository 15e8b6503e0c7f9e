import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';

/*
 * Leaderboard profiles and boards (migration 1763800000113). Boards join the opted-in profiles, so
 * a user who never opted in, or opted out, is never on one; rows carry display names only.
 */

export async function saveProfile(
  pool: CommonQueryMethods,
  userId: string,
  displayName: string,
  optIn: boolean,
): Promise<'saved' | 'name_taken'> {
  const taken = await pool.maybeOne(sql.type(z.object({ user_id: z.string() }))`
    SELECT user_id FROM leaderboard_profiles WHERE display_name = ${displayName} AND user_id <> ${userId}`);
  if (taken !== null) return 'name_taken';
  try {
    await pool.query(sql.unsafe`
      INSERT INTO leaderboard_profiles (user_id, display_name, opt_in) VALUES (${userId}, ${displayName}, ${optIn})
      ON CONFLICT (user_id) DO UPDATE SET display_name = EXCLUDED.display_name, opt_in = EXCLUDED.opt_in,
        updated_at = now()`);
  } catch (error) {
    // Another user took the name between the check and the write (the unique index decides).
    if ((error as { cause?: { code?: string } }).cause?.code === '23505') return 'name_taken';
    throw error;
  }
  return 'saved';
}

const Entry = z.object({ display_name: z.string(), value: z.string() });
const Ranked = z.object({ user_id: z.string(), value: z.string() });

/** The opted-in users of the market since `from` in rank order (value, then display name), at most `limit`. */
export async function rankedUsers(
  pool: CommonQueryMethods,
  marketId: string,
  by: 'volume' | 'realizedPnl',
  from: number,
  limit: number,
): Promise<{ userId: string; value: bigint }[]> {
  const rows = await pool.any(sql.type(Ranked)`
    SELECT t.user_id, t.value::text AS value
    FROM (${totalsOf(marketId, by, from)}) t JOIN leaderboard_profiles p ON p.user_id = t.user_id AND p.opt_in
    ORDER BY t.value DESC, p.display_name LIMIT ${limit}`);
  return rows.map((r) => ({ userId: r.user_id, value: BigInt(r.value) }));
}

/** Replaces a stored board (the job's run) in one transaction. */
export async function storeBoard(
  pool: DatabasePool,
  key: { marketId: string; period: string; by: 'volume' | 'realizedPnl' },
  entries: readonly { userId: string; value: bigint }[],
  computedAt: number,
): Promise<void> {
  const at = new Date(computedAt).toISOString();
  await pool.transaction(async (tx) => {
    await tx.query(sql.unsafe`
      DELETE FROM leaderboard_entries WHERE market_id = ${key.marketId} AND period = ${key.period} AND by = ${key.by}`);
    if (entries.length > 0)
      await tx.query(sql.unsafe`
        INSERT INTO leaderboard_entries (market_id, period, by, rank, user_id, value, computed_at)
        SELECT ${key.marketId}, ${key.period}, ${key.by}, r.rank, r.user_id, r.value, ${at}::timestamptz
        FROM unnest(${sql.array(
          entries.map((_, i) => i + 1),
          'int4',
        )}::int4[], ${sql.array(
          entries.map((e) => e.userId),
          'text',
        )}::text[], ${sql.array(
          entries.map((e) => e.value.toString()),
          'numeric',
        )}::numeric[]) AS r(rank, user_id, value)`);
    await tx.query(sql.unsafe`
      INSERT INTO leaderboard_runs (market_id, period, by, computed_at) VALUES (${key.marketId}, ${key.period}, ${key.by}, ${at}::timestamptz)
      ON CONFLICT (market_id, period, by) DO UPDATE SET computed_at = EXCLUDED.computed_at`);
  });
}

/**
 * A stored board's top `limit` of those still opted in (display names only), and when it was
 * computed; undefined when the job never computed it.
 */
export async function storedBoard(
  pool: CommonQueryMethods,
  key: { marketId: string; period: string; by: 'volume' | 'realizedPnl' },
  limit: number,
): Promise<{ computedAt: number; entries: { displayName: string; value: bigint }[] } | undefined> {
  const run = await pool.maybeOneFirst(sql.type(z.object({ at: z.string() }))`
    SELECT (extract(epoch FROM computed_at) * 1000)::int8::text AS at FROM leaderboard_runs
    WHERE market_id = ${key.marketId} AND period = ${key.period} AND by = ${key.by}`);
  if (run === null) return undefined;
  const rows = await pool.any(sql.type(Entry)`
    SELECT p.display_name, e.value::text AS value FROM leaderboard_entries e
    JOIN leaderboard_profiles p ON p.user_id = e.user_id AND p.opt_in
    WHERE e.market_id = ${key.marketId} AND e.period = ${key.period} AND e.by = ${key.by}
    ORDER BY e.rank LIMIT ${limit}`);
  return {
    computedAt: Number(run),
    entries: rows.map((r) => ({ displayName: r.display_name, value: BigInt(r.value) })),
  };
}

/** Top `limit` opted-in users of the market since `from`: by lots traded (both sides) or by realized PnL. */
export async function board(
  pool: CommonQueryMethods,
  marketId: string,
  by: 'volume' | 'realizedPnl',
  from: number,
  limit: number,
): Promise<{ displayName: string; value: bigint }[]> {
  const totals = totalsOf(marketId, by, from);
  const rows = await pool.any(sql.type(Entry)`
    SELECT p.display_name, t.value::text AS value
    FROM (${totals}) t JOIN leaderboard_profiles p ON p.user_id = t.user_id AND p.opt_in
    ORDER BY t.value DESC, p.display_name LIMIT ${limit}`);
  return rows.map((r) => ({ displayName: r.display_name, value: BigInt(r.value) }));
}

function totalsOf(marketId: string, by: 'volume' | 'realizedPnl', from: number) {
  const since = sql.fragment`to_timestamp(${from} / 1000.0)`;
  return by === 'volume'
    ? sql.fragment`
        SELECT u AS user_id, sum(qty) AS value FROM (
          SELECT maker_user_id AS u, qty FROM trades WHERE market_id = ${marketId} AND ts >= ${since}
          UNION ALL
          SELECT taker_user_id AS u, qty FROM trades WHERE market_id = ${marketId} AND ts >= ${since}
        ) sides GROUP BY u`
    : sql.fragment`
        SELECT user_id, sum(pnl) AS value FROM realized_pnl
        WHERE market_id = ${marketId} AND t >= ${since} GROUP BY user_id`;
}
