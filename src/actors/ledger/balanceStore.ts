import type { Posting } from './types.ts';

/** One (account, asset) row. Mutable on purpose: the hot path updates it in place. */
export interface BalanceRow {
  available: bigint;
  locked: bigint;
}

/**
 * The ledger's state: asset decimals and a Map per account of per-asset rows. Rows are created in
 * posting order, the first time a posting touches them, so an operation and the replay of its
 * postings (`apply`) leave identical maps, iteration order included.
 */
export class BalanceStore {
  readonly assets = new Map<string, number>();
  readonly accounts = new Map<string, Map<string, BalanceRow>>();

  row(account: string, asset: string): BalanceRow | undefined {
    return this.accounts.get(account)?.get(asset);
  }

  available(account: string, asset: string): bigint {
    return this.row(account, asset)?.available ?? 0n;
  }

  locked(account: string, asset: string): bigint {
    return this.row(account, asset)?.locked ?? 0n;
  }

  /** Applies postings already validated as a whole; never fails. */
  commit(postings: readonly Posting[]): void {
    for (const { account, asset, bucket, amount } of postings) {
      const row = this.rowOrCreate(account, asset);
      if (bucket === 'available') row.available += amount;
      else row.locked += amount;
    }
  }

  rowOrCreate(account: string, asset: string): BalanceRow {
    let rows = this.accounts.get(account);
    if (rows === undefined) {
      rows = new Map();
      this.accounts.set(account, rows);
    }
    let row = rows.get(asset);
    if (row === undefined) {
      row = { available: 0n, locked: 0n };
      rows.set(asset, row);
    }
    return row;
  }
}
