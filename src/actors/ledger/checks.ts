import type { BalanceRow, BalanceStore } from './balanceStore.ts';
import { EXTERNAL_ACCOUNT } from './types.ts';
import type { LedgerFailure, Posting } from './types.ts';

/** Why a request or posting set is refused; the human message is free text. */
export function badRequest(message: string): LedgerFailure {
  return { ok: false, code: 'bad_request', message };
}

export function insufficientFunds(message: string): LedgerFailure {
  return { ok: false, code: 'insufficient_funds', message };
}

/** The common checks of a single-asset operation by a user, in the order they are reported. */
export function checkRequest(
  store: BalanceStore,
  user: string,
  asset: string,
  amount: bigint,
): LedgerFailure | undefined {
  if (!store.assets.has(asset)) return badRequest(`unknown asset ${asset}`);
  return checkParty(user) ?? (amount > 0n ? undefined : badRequest(`amount must be > 0, got ${amount}`));
}

export function checkParty(user: string): LedgerFailure | undefined {
  if (user === '') return badRequest('account id is empty');
  if (user === EXTERNAL_ACCOUNT) return badRequest(`${EXTERNAL_ACCOUNT} cannot be a party`);
  return undefined;
}

const BUCKETS: ReadonlySet<string> = new Set(['available', 'locked']);
const KINDS: ReadonlySet<string> = new Set(['deposit', 'withdrawal', 'lock', 'unlock', 'trade', 'fee']);

/**
 * Validates an arbitrary posting set against the current balances as one unit: known assets and
 * shapes, a zero sum per asset, and no balance but the external one below zero after all of it
 * (several postings may hit the same row, so deltas are netted first). Off the hot path: replay
 * and recovery use it; the operations check their own few rows directly.
 */
export function checkPostings(store: BalanceStore, postings: readonly Posting[]): LedgerFailure | undefined {
  const sums = new Map<string, bigint>();
  const deltas = new Map<string, Map<string, BalanceRow>>();
  for (const { account, asset, bucket, amount, kind } of postings) {
    if (!store.assets.has(asset)) return badRequest(`unknown asset ${asset}`);
    if (account === '') return badRequest('account id is empty');
    if (!BUCKETS.has(bucket)) return badRequest(`unknown bucket ${bucket}`);
    if (!KINDS.has(kind)) return badRequest(`unknown posting kind ${kind}`);
    if (account === EXTERNAL_ACCOUNT && bucket === 'locked') {
      return badRequest(`${EXTERNAL_ACCOUNT} has no locked bucket`);
    }
    sums.set(asset, (sums.get(asset) ?? 0n) + amount);
    let byAsset = deltas.get(account);
    if (byAsset === undefined) {
      byAsset = new Map<string, BalanceRow>();
      deltas.set(account, byAsset);
    }
    const delta = byAsset.get(asset) ?? { available: 0n, locked: 0n };
    delta[bucket] += amount;
    byAsset.set(asset, delta);
  }
  for (const [asset, sum] of sums) {
    if (sum !== 0n) return badRequest(`postings of ${asset} sum to ${sum}, not 0`);
  }
  for (const [account, byAsset] of deltas) {
    if (account === EXTERNAL_ACCOUNT) continue;
    for (const [asset, delta] of byAsset) {
      const row = store.row(account, asset);
      const available = (row?.available ?? 0n) + delta.available;
      const locked = (row?.locked ?? 0n) + delta.locked;
      if (available < 0n || locked < 0n) {
        return insufficientFunds(`${account} would hold ${available} available, ${locked} locked ${asset}`);
      }
    }
  }
  return undefined;
}

/** Every broken ledger invariant, as messages; empty when the ledger is sound. */
export function findViolations(store: BalanceStore): string[] {
  const violations: string[] = [];
  const sums = new Map<string, bigint>();
  for (const [account, rows] of store.accounts) {
    for (const [asset, { available, locked }] of rows) {
      if (!store.assets.has(asset)) violations.push(`${account} holds undefined asset ${asset}`);
      if (account === EXTERNAL_ACCOUNT) {
        if (locked !== 0n) violations.push(`${account} has ${locked} locked ${asset}`);
      } else if (available < 0n || locked < 0n) {
        violations.push(`${account} has negative ${asset}: ${available} available, ${locked} locked`);
      }
      sums.set(asset, (sums.get(asset) ?? 0n) + available + locked);
    }
  }
  for (const [asset, sum] of sums) {
    if (sum !== 0n) violations.push(`${asset} sums to ${sum} over all accounts, not 0`);
  }
  return violations;
}
