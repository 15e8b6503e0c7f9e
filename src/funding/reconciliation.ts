import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { z } from 'zod/v4';
import { formatAssetAmount } from '../actors/money.ts';
import type { ChainClient } from '../chain/client.ts';
import type { ChainStore } from '../persistence/chainStore.ts';
import type { ChainToken } from './chainDeposits.ts';

/*
 * Reconciliation (issue 16, GET /admin/reconciliation and the `reconcile-chain` job): for every
 * token and deposit address, balanceOf on chain against what the ledger holds for that user in
 * that asset (available + locked). Every trade settles in the ledger at once and none moves on
 * chain yet, so the ledger's balance is its settled balance; a difference is drift, exported per
 * asset as a gauge and logged as an error (the alert). Pairs where both sides are zero are left out.
 */

export interface ReconciliationRow {
  readonly asset: string;
  readonly token: string;
  readonly userId: string;
  readonly address: string;
  /** Decimal strings in the asset's decimals; drift = onChain − ledger. */
  readonly onChain: string;
  readonly ledger: string;
  readonly drift: string;
}

export interface ReconciliationReport {
  readonly checkedAt: number;
  readonly rows: readonly ReconciliationRow[];
  /** Rows whose drift is not zero. */
  readonly drifted: number;
}

export interface ReconciliationOptions {
  readonly chain: () => Promise<ChainClient>;
  readonly store: ChainStore;
  readonly tokens: () => readonly ChainToken[];
  /** The ledger's balance of the user in the asset (available + locked), base units. */
  readonly ledgerBalance: (userId: string, asset: string) => bigint;
  readonly log: Logger;
  readonly clock?: () => number;
  /**
   * The ledger movements of trades not settled on chain yet (their rounds pending, submitted or
   * failed), keyed `userId\u0000asset`: taken out of the ledger's side, which is then its settled
   * balance. Absent: no settlement runs, and the ledger's balance is the settled one.
   */
  readonly unsettled?: () => Promise<ReadonlyMap<string, bigint>>;
}

/** balanceOf calls in flight at once (one node; the pairs are users × tokens). */
const PARALLEL_READS = 8;

export const ReconcileChainPayload = z.object({});

export class Reconciliation {
  constructor(private readonly options: ReconciliationOptions) {}

  async run(): Promise<ReconciliationReport> {
    const { store, log } = this.options;
    const chain = await this.options.chain();
    const unsettled = (await this.options.unsettled?.()) ?? new Map<string, bigint>();
    const custody = await store.custodyAddresses();
    const tokens = this.options.tokens();
    const pairs = tokens.flatMap((token) => custody.map((holder) => ({ token, holder })));
    const rows: ReconciliationRow[] = [];
    const driftByAsset = new Map<string, number>(tokens.map((t) => [t.asset, 0]));
    for (let i = 0; i < pairs.length; i += PARALLEL_READS) {
      const slice = pairs.slice(i, i + PARALLEL_READS);
      const balances = await Promise.all(
        slice.map((p) => chain.balanceOf(p.token.address, p.holder.address)),
      );
      slice.forEach(({ token, holder }, j) => {
        const onChain = balances[j]!;
        const ledger =
          this.options.ledgerBalance(holder.userId, token.asset) -
          (unsettled.get(`${holder.userId}\u0000${token.asset}`) ?? 0n);
        if (onChain === 0n && ledger === 0n) return;
        const drift = onChain - ledger;
        if (drift !== 0n) driftByAsset.set(token.asset, (driftByAsset.get(token.asset) ?? 0) + 1);
        const text = (v: bigint) => formatAssetAmount(v, token.decimals);
        rows.push({
          asset: token.asset,
          token: token.address,
          userId: holder.userId,
          address: holder.address,
          onChain: text(onChain),
          ledger: text(ledger),
          drift: drift < 0n ? `-${text(-drift)}` : text(drift),
        });
      });
    }
    let drifted = 0;
    for (const [asset, count] of driftByAsset) {
      driftGauge.set({ asset }, count);
      drifted += count;
    }
    runs.inc({ outcome: drifted === 0 ? 'clean' : 'drift' });
    if (drifted > 0) {
      const sample = rows.filter((r) => !/^-?0(\.0*)?$/.test(r.drift)).slice(0, 20);
      log.error({ drifted, sample }, 'chain balances drift from the ledger');
    }
    return { checkedAt: (this.options.clock ?? Date.now)(), rows, drifted };
  }
}

const driftGauge = new Gauge({
  name: 'exchange_chain_reconciliation_drift_addresses',
  help: 'Deposit addresses whose on-chain balance differs from the ledger, per asset (last reconciliation)',
  labelNames: ['asset'] as const,
});
const runs = new Counter({
  name: 'exchange_chain_reconciliations_total',
  help: 'Reconciliation runs, by outcome (clean or drift)',
  labelNames: ['outcome'] as const,
});
