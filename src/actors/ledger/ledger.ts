import { BalanceStore } from './balanceStore.ts';
import {
  badRequest,
  checkParty,
  checkPostings,
  checkRequest,
  findViolations,
  insufficientFunds,
} from './checks.ts';
import {
  depositPostings,
  lockPostings,
  tradePostings,
  unlockPostings,
  withdrawalPostings,
} from './postings.ts';
import { checkAssetDefinition, loadSnapshot, takeSnapshot } from './snapshot.ts';
import { EXTERNAL_ACCOUNT, LedgerConfigError, LedgerInvariantError } from './types.ts';
import type {
  AssetBalance,
  AssetTotals,
  Balance,
  LedgerFailure,
  LedgerResult,
  LedgerSnapshot,
  Posting,
  TradeSettlement,
} from './types.ts';

/**
 * The in-memory double-entry ledger: available and locked balances per (account, asset), changed
 * only by posting sets that sum to zero per asset. Pure and deterministic (no clock, no I/O), so a
 * snapshot plus the journal's postings replayed with `apply` rebuilds it exactly.
 *
 * Each operation validates first and then commits, so a refusal changes nothing. The operations
 * check only the rows they debit; `apply` checks any posting set as a whole.
 */
export class Ledger {
  #store = new BalanceStore();

  static restore(snapshot: LedgerSnapshot): Ledger {
    const ledger = new Ledger();
    loadSnapshot(ledger.#store, snapshot);
    return ledger;
  }

  /**
   * Recovery: takes a snapshot's balances into this ledger in place (the market actors already hold
   * this object, so `restore`'s new ledger would not do). Only a ledger that has posted nothing can
   * load one. Assets it defines must have the snapshot's decimals; those the snapshot lacks (added
   * to the configuration since) are kept, after the snapshot's.
   */
  load(snapshot: LedgerSnapshot): void {
    if (this.#store.accounts.size > 0) {
      throw new LedgerInvariantError('a snapshot can only be loaded into a ledger that has posted nothing');
    }
    const loaded = new BalanceStore();
    loadSnapshot(loaded, snapshot);
    for (const [symbol, decimals] of this.#store.assets) {
      const known = loaded.assets.get(symbol);
      if (known === undefined) loaded.assets.set(symbol, decimals);
      else if (known !== decimals) {
        throw new LedgerConfigError(`asset ${symbol} has ${decimals} decimals, the snapshot ${known}`);
      }
    }
    this.#store = loaded;
  }

  /** Idempotent for the same decimals; redefining an asset with other decimals is bad config. */
  defineAsset(symbol: string, decimals: number): void {
    checkAssetDefinition(symbol, decimals);
    const known = this.#store.assets.get(symbol);
    if (known !== undefined && known !== decimals) {
      throw new LedgerConfigError(`asset ${symbol} already has ${known} decimals, not ${decimals}`);
    }
    this.#store.assets.set(symbol, decimals);
  }

  decimalsOf(asset: string): number | undefined {
    return this.#store.assets.get(asset);
  }

  deposit(user: string, asset: string, amount: bigint): LedgerResult {
    return (
      checkRequest(this.#store, user, asset, amount) ?? this.#commit(depositPostings(user, asset, amount))
    );
  }

  /** From available only: locked funds belong to open orders. */
  withdraw(user: string, asset: string, amount: bigint): LedgerResult {
    const refused =
      checkRequest(this.#store, user, asset, amount) ?? this.#needAvailable(user, asset, amount);
    return refused ?? this.#commit(withdrawalPostings(user, asset, amount));
  }

  lock(user: string, asset: string, amount: bigint): LedgerResult {
    const refused =
      checkRequest(this.#store, user, asset, amount) ?? this.#needAvailable(user, asset, amount);
    return refused ?? this.#commit(lockPostings(user, asset, amount));
  }

  /** Releasing more than is locked means the caller lost track of its own locks: it throws. */
  unlock(user: string, asset: string, amount: bigint): LedgerResult {
    const refused = checkRequest(this.#store, user, asset, amount);
    if (refused !== undefined) return refused;
    this.#needLocked(user, asset, amount);
    return this.#commit(unlockPostings(user, asset, amount));
  }

  /**
   * Settles one fill as one posting set. Refused (`bad_request`) for unknown or equal assets, a
   * non-positive amount, or a fee outside 0..its amount; `insufficient_funds` when a side pays from
   * available and is short. A side paying from locked that is short is the actor's bug: it throws.
   */
  settleTrade(trade: TradeSettlement): LedgerResult {
    const refused = this.#checkTrade(trade);
    if (refused !== undefined) return refused;
    return this.#commit(tradePostings(trade));
  }

  /** Any posting set, validated as a whole and applied atomically; the replay path. */
  apply(postings: readonly Posting[]): LedgerResult {
    return checkPostings(this.#store, postings) ?? this.#commit(postings);
  }

  balance(account: string, asset: string): Balance {
    const row = this.#store.row(account, asset);
    return { available: row?.available ?? 0n, locked: row?.locked ?? 0n };
  }

  /** The assets the account has a row for (touched at least once), in the order they appeared. */
  balancesOf(account: string): AssetBalance[] {
    const rows = this.#store.accounts.get(account);
    if (rows === undefined) return [];
    return [...rows].map(([asset, { available, locked }]) => ({ asset, available, locked }));
  }

  totals(asset: string): AssetTotals {
    let available = 0n;
    let locked = 0n;
    for (const [account, rows] of this.#store.accounts) {
      const row = rows.get(asset);
      if (row === undefined || account === EXTERNAL_ACCOUNT) continue;
      available += row.available;
      locked += row.locked;
    }
    return { available, locked, netDeposits: -this.#store.available(EXTERNAL_ACCOUNT, asset) };
  }

  /** Every broken invariant as a message (no negative balance but the external one; each asset sums to 0). */
  checkInvariants(): string[] {
    return findViolations(this.#store);
  }

  snapshot(): LedgerSnapshot {
    return takeSnapshot(this.#store);
  }

  #commit(postings: readonly Posting[]): LedgerResult {
    this.#store.commit(postings);
    return { ok: true, postings };
  }

  #needAvailable(user: string, asset: string, amount: bigint): LedgerFailure | undefined {
    const available = this.#store.available(user, asset);
    if (available >= amount) return undefined;
    return insufficientFunds(`${user} has ${available} ${asset} available, needs ${amount}`);
  }

  #needLocked(user: string, asset: string, amount: bigint): void {
    const locked = this.#store.locked(user, asset);
    if (locked < amount)
      throw new LedgerInvariantError(`${user} has ${locked} ${asset} locked, not ${amount}`);
  }

  #checkTrade(t: TradeSettlement): LedgerFailure | undefined {
    const { baseAsset, quoteAsset, baseAmount, quoteAmount, buyerFee, sellerFee } = t;
    if (!this.#store.assets.has(baseAsset)) return badRequest(`unknown asset ${baseAsset}`);
    if (!this.#store.assets.has(quoteAsset)) return badRequest(`unknown asset ${quoteAsset}`);
    if (baseAsset === quoteAsset) return badRequest(`base and quote are both ${baseAsset}`);
    const party = checkParty(t.buyer) ?? checkParty(t.seller);
    if (party !== undefined) return party;
    if (baseAmount <= 0n || quoteAmount <= 0n) return badRequest('trade amounts must be > 0');
    if (buyerFee < 0n || buyerFee > baseAmount)
      return badRequest(`buyer fee ${buyerFee} outside 0..${baseAmount}`);
    if (sellerFee < 0n || sellerFee > quoteAmount) {
      return badRequest(`seller fee ${sellerFee} outside 0..${quoteAmount}`);
    }
    if (t.buyerQuoteFromLocked) this.#needLocked(t.buyer, quoteAsset, quoteAmount);
    if (t.sellerBaseFromLocked) this.#needLocked(t.seller, baseAsset, baseAmount);
    return (
      (t.buyerQuoteFromLocked ? undefined : this.#needAvailable(t.buyer, quoteAsset, quoteAmount)) ??
      (t.sellerBaseFromLocked ? undefined : this.#needAvailable(t.seller, baseAsset, baseAmount))
    );
  }
}
