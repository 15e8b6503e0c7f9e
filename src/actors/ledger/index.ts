/**
 * The ledger: double-entry balances per (account, asset) in bigint minor units. See ledger.ts for
 * the contract, types.ts for postings, results and snapshots, fees.ts for fee rounding.
 */
export { Ledger } from './ledger.ts';
export { feeOf } from './fees.ts';
export { EXTERNAL_ACCOUNT, FEE_ACCOUNT, LedgerConfigError, LedgerInvariantError } from './types.ts';
export type {
  AssetBalance,
  AssetTotals,
  Balance,
  Bucket,
  LedgerErrorCode,
  LedgerFailure,
  LedgerOk,
  LedgerResult,
  LedgerSnapshot,
  Posting,
  PostingKind,
  TradeSettlement,
} from './types.ts';
