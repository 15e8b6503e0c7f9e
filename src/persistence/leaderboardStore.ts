import { sql, type CommonQueryMethods } from 'slonik';
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

/** Top `limit` opted-in users of the market since `from`: by lots traded (both sides) or by realized PnL. */
export async function board(
  pool: CommonQueryMethods,
  marketId: string,
  by: 'volume' | 'realizedPnl',
  from: number,
  limit: number,
): Promise<{ displayName: string; value: bigint }[]> {
  const since = sql.fragment`to_timestamp(${from} / 1000.0)`;
  const totals =
    by === 'volume'
      ? sql.fragment`
          SELECT u AS user_id, sum(qty) AS value FROM (
            SELECT maker_user_id AS u, qty FROM trades WHERE market_id = ${marketId} AND ts >= ${since}
            UNION ALL
            SELECT taker_user_id AS u, qty FROM trades WHERE market_id = ${marketId} AND ts >= ${since}
          ) sides GROUP BY u`
      : sql.fragment`
          SELECT user_id, sum(pnl) AS value FROM realized_pnl
          WHERE market_id = ${marketId} AND t >= ${since} GROUP BY user_id`;
  const rows = await pool.any(sql.type(Entry)`
    SELECT p.display_name, t.value::text AS value
    FROM (${totals}) t JOIN leaderboard_profiles p ON p.user_id = t.user_id AND p.opt_in
    ORDER BY t.value DESC, p.display_name LIMIT ${limit}`);
  return rows.map((r) => ({ displayName: r.display_name, value: BigInt(r.value) }));
}
