import type { Logger } from 'pino';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { EXTERNAL_ACCOUNT } from '../../actors/ledger/types.ts';
import type { Core } from '../core.ts';

const HeadRow = z.object({ seq: z.string(), funds_at: z.string().nullable(), unfunded: z.boolean() });

/**
 * cluster_funds (the debit fence of money across engines, docs/scale-out.md) equals the journal's
 * available balances once seeded. The first engine on a database (or the first after a ROLE=all run
 * wrote past the seeded point) seeds it from its recovered ledger, under the head's lock, only if
 * nobody wrote since its recovery.
 */
export async function seedClusterFunds(
  pool: DatabasePool,
  core: Core,
  recovered: number,
  log: Logger,
): Promise<void> {
  await pool.transaction(async (tx) => {
    const head = await tx.one(sql.type(HeadRow)`
      SELECT seq::text AS seq, funds_at::text AS funds_at,
        EXISTS (SELECT 1 FROM journal WHERE writer IS NULL AND global_seq > coalesce(funds_at, -1)) AS unfunded
      FROM journal_head WHERE id = 1 FOR UPDATE`);
    if (head.funds_at !== null && !head.unfunded) return;
    if (Number(head.seq) !== recovered) {
      throw new Error(
        `cluster_funds needs seeding at global_seq ${head.seq} but this engine recovered to ${recovered}: start again`,
      );
    }
    const rows = availableBalances(core);
    await tx.query(sql.unsafe`DELETE FROM cluster_funds`);
    if (rows.length > 0) {
      await tx.query(sql.unsafe`
        INSERT INTO cluster_funds (account, asset, available)
        SELECT * FROM unnest(
          ${sql.array(
            rows.map((r) => r.account),
            'text',
          )},
          ${sql.array(
            rows.map((r) => r.asset),
            'text',
          )},
          ${sql.array(
            rows.map((r) => r.available),
            'numeric',
          )})`);
    }
    await tx.query(sql.unsafe`UPDATE journal_head SET funds_at = seq WHERE id = 1`);
    log.info({ accounts: rows.length, at: head.seq }, 'cluster_funds seeded from the journal');
  });
}

function availableBalances(core: Core): { account: string; asset: string; available: string }[] {
  const rows: { account: string; asset: string; available: string }[] = [];
  for (const account of core.ledger.snapshot().accounts) {
    if (account.account === EXTERNAL_ACCOUNT) continue;
    for (const b of account.balances)
      rows.push({ account: account.account, asset: b.asset, available: b.available });
  }
  return rows;
}
