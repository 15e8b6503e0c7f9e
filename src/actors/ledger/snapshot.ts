import type { BalanceRow, BalanceStore } from './balanceStore.ts';
import { findViolations } from './checks.ts';
import { LedgerConfigError, LedgerInvariantError } from './types.ts';
import type { LedgerSnapshot } from './types.ts';

const INTEGER = /^-?(0|[1-9][0-9]*)$/;
const MAX_ASSET_DECIMALS = 255;

export function checkAssetDefinition(symbol: string, decimals: number): void {
  if (symbol === '') throw new LedgerConfigError('asset symbol is empty');
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > MAX_ASSET_DECIMALS) {
    throw new LedgerConfigError(`asset ${symbol}: decimals must be an integer in 0..255, got ${decimals}`);
  }
}

/** Rows in the store's own order, so restoring gives the same iteration order as the original. */
export function takeSnapshot(store: BalanceStore): LedgerSnapshot {
  return {
    assets: [...store.assets].map(([symbol, decimals]) => ({ symbol, decimals })),
    accounts: [...store.accounts].map(([account, rows]) => ({
      account,
      balances: [...rows].map(([asset, row]) => ({
        asset,
        available: row.available.toString(),
        locked: row.locked.toString(),
      })),
    })),
  };
}

/**
 * Loads a snapshot into an empty store. Snapshots are durable data the ledger wrote itself, so
 * anything malformed or unbalanced is corruption: it throws rather than restoring a ledger that
 * would break the invariants later.
 */
export function loadSnapshot(store: BalanceStore, snapshot: LedgerSnapshot): void {
  for (const { symbol, decimals } of snapshot.assets) {
    checkAssetDefinition(symbol, decimals);
    if (store.assets.has(symbol)) throw new LedgerInvariantError(`snapshot defines ${symbol} twice`);
    store.assets.set(symbol, decimals);
  }
  for (const { account, balances } of snapshot.accounts) {
    if (store.accounts.has(account)) throw new LedgerInvariantError(`snapshot lists ${account} twice`);
    const rows = new Map<string, BalanceRow>();
    store.accounts.set(account, rows);
    for (const { asset, available, locked } of balances) {
      if (rows.has(asset)) throw new LedgerInvariantError(`snapshot lists ${account} ${asset} twice`);
      rows.set(asset, { available: parseAmount(available), locked: parseAmount(locked) });
    }
  }
  const violations = findViolations(store);
  if (violations.length > 0) throw new LedgerInvariantError(`snapshot: ${violations.join('; ')}`);
}

function parseAmount(text: string): bigint {
  if (!INTEGER.test(text)) throw new LedgerInvariantError(`snapshot amount is not an integer: ${text}`);
  return BigInt(text);
}
