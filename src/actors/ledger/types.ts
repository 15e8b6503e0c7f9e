/**
 * The ledger's contract: postings in minor units of an asset, results with codes, plain snapshots.
 *
 * Amounts are bigints in the asset's minor units (10^-decimals): an 18-decimal token does not fit
 * a JS number. Every balance change is a posting set summing to zero per asset (double entry).
 */

/** Receives the fees the market actor computes; an ordinary account that never goes negative. */
export const FEE_ACCOUNT = '@fees';
/**
 * The world outside the exchange: its balance is minus (deposits − withdrawals), so every asset
 * sums to zero across all accounts. The only account allowed below zero, and never a party.
 */
export const EXTERNAL_ACCOUNT = '@external';

export type Bucket = 'available' | 'locked';
export type PostingKind = 'deposit' | 'withdrawal' | 'lock' | 'unlock' | 'trade' | 'fee';

export interface Posting {
  readonly account: string;
  readonly asset: string;
  readonly bucket: Bucket;
  /** Signed: credit > 0, debit < 0. */
  readonly amount: bigint;
  readonly kind: PostingKind;
}

export type LedgerErrorCode = 'insufficient_funds' | 'bad_request';

export interface LedgerOk {
  readonly ok: true;
  /** Exactly what was applied, in order; replaying them with `apply` reproduces the change. */
  readonly postings: readonly Posting[];
}

export interface LedgerFailure {
  readonly ok: false;
  readonly code: LedgerErrorCode;
  readonly message: string;
}

/** An expected refusal is a value; a failed operation changes nothing (not even creates a row). */
export type LedgerResult = LedgerOk | LedgerFailure;

export interface Balance {
  readonly available: bigint;
  readonly locked: bigint;
}

export interface AssetBalance extends Balance {
  readonly asset: string;
}

/** Sums over every account but the external one (users and fees). */
export interface AssetTotals extends Balance {
  /** Deposits − withdrawals = −(external balance) = available + locked when the ledger is sound. */
  readonly netDeposits: bigint;
}

/**
 * One fill, as the market actor computes it: quoteAmount = price × qty in quote minor units, fees
 * in bps rounded up to a whole minor unit (feeOf), each in the asset its payer receives. The buyer pays quoteAmount and
 * receives baseAmount − buyerFee; the seller pays baseAmount and receives quoteAmount − sellerFee.
 */
export interface TradeSettlement {
  readonly buyer: string;
  readonly seller: string;
  readonly baseAsset: string;
  readonly quoteAsset: string;
  readonly baseAmount: bigint;
  readonly quoteAmount: bigint;
  /** In baseAsset, 0 ≤ buyerFee ≤ baseAmount. */
  readonly buyerFee: bigint;
  /** In quoteAsset, 0 ≤ sellerFee ≤ quoteAmount. */
  readonly sellerFee: bigint;
  /** Pay from the order's lock (resting or locked taker order) or straight from available. */
  readonly buyerQuoteFromLocked: boolean;
  readonly sellerBaseFromLocked: boolean;
}

/** Plain JSON-safe data: bigints as decimal strings, rows in the ledger's own order. */
export interface LedgerSnapshot {
  readonly assets: readonly { readonly symbol: string; readonly decimals: number }[];
  readonly accounts: readonly {
    readonly account: string;
    readonly balances: readonly {
      readonly asset: string;
      readonly available: string;
      readonly locked: string;
    }[];
  }[];
}

/** A broken invariant: a caller's accounting bug or corrupt data. The market halts and is rebuilt. */
export class LedgerInvariantError extends Error {
  constructor(message: string) {
    super(`ledger invariant: ${message}`);
    this.name = 'LedgerInvariantError';
  }
}

/** Bad configuration (an asset definition), thrown once at listing or boot. */
export class LedgerConfigError extends Error {
  constructor(message: string) {
    super(`ledger config: ${message}`);
    this.name = 'LedgerConfigError';
  }
}
