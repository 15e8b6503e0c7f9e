import { sql, type CommonQueryMethods, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';

/*
 * The per-market fence (docs/scale-out.md, "Leases and fencing"), Kleppmann's fencing token
 * checked where the write lands: the `market_epochs` row of a market holds the epoch of its
 * current owner (the revision of its lease, lease.ts). The exchange-wide fence of
 * persistence/owner.ts does the same for the whole database with one row; this one has a row per
 * market, so several engines write one journal, each fenced for its own markets.
 *
 * - claimMarketEpoch: a new owner, after taking the lease and before recovering or writing,
 *   raises the row to its epoch. It waits for the FOR SHARE locks of batches in flight, so when
 *   it returns no batch of an older owner can still commit. It never lowers an epoch: an owner
 *   that took the lease, paused, and comes back after someone newer claimed is refused here.
 * - marketEpochFence: the CTE and condition an INSERT puts around its rows, so the batch is
 *   written only if every market in it still has the writer's epoch, in the same statement.
 */

export interface MarketEpoch {
  readonly marketId: string;
  readonly epoch: number;
}

export type EpochClaim =
  | { readonly claimed: true; readonly epoch: number }
  /** A newer owner claimed the market already: ours is stale, nothing was changed. */
  | { readonly claimed: false; readonly current: number };

const Row = z.object({ epoch: z.string() });

/** Raises the market's epoch to ours (idempotent for the same epoch), or says whose is newer. */
export async function claimMarketEpoch(
  db: CommonQueryMethods,
  claim: MarketEpoch & { readonly holder: string },
): Promise<EpochClaim> {
  const claimed = await db.maybeOne(sql.type(Row)`
    INSERT INTO market_epochs (market_id, epoch, holder)
    VALUES (${claim.marketId}, ${claim.epoch}::int8, ${claim.holder})
    ON CONFLICT (market_id) DO UPDATE
      SET epoch = excluded.epoch, holder = excluded.holder,
        -- The same epoch claimed again (a retry) keeps the time it was first claimed.
        claimed_at = CASE WHEN market_epochs.epoch = excluded.epoch
          THEN market_epochs.claimed_at ELSE now() END
      WHERE market_epochs.epoch <= excluded.epoch
    RETURNING epoch::text AS epoch`);
  if (claimed !== null) return { claimed: true, epoch: Number(claimed.epoch) };
  const current = await db.one(
    sql.type(Row)`SELECT epoch::text AS epoch FROM market_epochs WHERE market_id = ${claim.marketId}`,
  );
  return { claimed: false, current: Number(current.epoch) };
}

/** The epoch each market has now (for /admin/cluster and tests). */
export async function marketEpochs(db: CommonQueryMethods): Promise<Map<string, number>> {
  const claims = await marketClaims(db);
  return new Map([...claims].map(([marketId, claim]) => [marketId, claim.epoch]));
}

export interface MarketClaim {
  readonly epoch: number;
  /** The claiming writer (engine id + a per-start suffix). */
  readonly holder: string;
  /** When this epoch was claimed, ms since the Unix epoch (the row's `claimed_at`). */
  readonly claimedAt: number;
}

const ClaimRow = z.object({
  market_id: z.string(),
  epoch: z.string(),
  holder: z.string(),
  claimed_at: z.number(),
});

/** Each market's fence row: its epoch, who claimed it and when (for /admin/cluster). */
export async function marketClaims(db: CommonQueryMethods): Promise<Map<string, MarketClaim>> {
  const rows = await db.any(
    sql.type(ClaimRow)`
      SELECT market_id, epoch::text AS epoch, holder,
        floor(extract(epoch FROM claimed_at) * 1000)::float8 AS claimed_at
      FROM market_epochs`,
  );
  return new Map(
    rows.map((r) => [
      r.market_id,
      { epoch: Number(r.epoch), holder: r.holder, claimedAt: Math.trunc(r.claimed_at) },
    ]),
  );
}

export interface EpochFence {
  /** `market_fence AS (...)`: goes in the statement's WITH list (next to others, comma separated). */
  readonly cte: FragmentSqlToken;
  /** True while every market of the batch still has the writer's epoch: the INSERT's WHERE. */
  readonly holds: FragmentSqlToken;
}

/**
 * The fence of a batch writing to `markets` (each once; a market with two epochs is a bug and
 * throws). Usage, one statement in the commit's transaction:
 *
 *   WITH ${fence.cte} INSERT INTO journal (...) SELECT ... FROM unnest(...) WHERE ${fence.holds}
 *
 * and a row count short of the batch means the batch was refused (nothing of it was written).
 * The rows read hold FOR SHARE until the transaction ends, so a claim waits for it.
 */
export function marketEpochFence(markets: readonly MarketEpoch[]): EpochFence {
  const epochs = new Map<string, number>();
  for (const { marketId, epoch } of markets) {
    const seen = epochs.get(marketId);
    if (seen !== undefined && seen !== epoch) {
      throw new Error(`a batch writes market ${marketId} with two epochs (${seen} and ${epoch})`);
    }
    epochs.set(marketId, epoch);
  }
  if (epochs.size === 0) throw new Error('a fenced batch needs at least one market');
  return {
    cte: sql.fragment`market_fence AS (
      SELECT count(*) AS held FROM (
        SELECT 1 FROM market_epochs e
        JOIN unnest(${sql.array([...epochs.keys()], 'text')}, ${sql.array([...epochs.values()], 'int8')})
          AS c(market_id, epoch) ON e.market_id = c.market_id AND e.epoch = c.epoch
        FOR SHARE OF e
      ) locked
    )`,
    holds: sql.fragment`(SELECT held FROM market_fence) = ${epochs.size}`,
  };
}
