import { EXTERNAL_ACCOUNT, FEE_ACCOUNT } from './types.ts';
import type { Posting, TradeSettlement } from './types.ts';

/**
 * Posting sets for each operation, built from amounts already validated by the ledger. Each set
 * sums to zero per asset, and so does each kind within it (a trade's legs and its fees balance
 * separately), which keeps the journal readable. Zero-amount postings are never emitted.
 */

export function depositPostings(user: string, asset: string, amount: bigint): Posting[] {
  return [
    { account: EXTERNAL_ACCOUNT, asset, bucket: 'available', amount: -amount, kind: 'deposit' },
    { account: user, asset, bucket: 'available', amount, kind: 'deposit' },
  ];
}

export function withdrawalPostings(user: string, asset: string, amount: bigint): Posting[] {
  return [
    { account: user, asset, bucket: 'available', amount: -amount, kind: 'withdrawal' },
    { account: EXTERNAL_ACCOUNT, asset, bucket: 'available', amount, kind: 'withdrawal' },
  ];
}

export function lockPostings(user: string, asset: string, amount: bigint): Posting[] {
  return [
    { account: user, asset, bucket: 'available', amount: -amount, kind: 'lock' },
    { account: user, asset, bucket: 'locked', amount, kind: 'lock' },
  ];
}

export function unlockPostings(user: string, asset: string, amount: bigint): Posting[] {
  return [
    { account: user, asset, bucket: 'locked', amount: -amount, kind: 'unlock' },
    { account: user, asset, bucket: 'available', amount, kind: 'unlock' },
  ];
}

/** Gross legs first (quote then base), then each fee out of what its payer received. */
export function tradePostings(t: TradeSettlement): Posting[] {
  const { buyer, seller, baseAsset, quoteAsset, baseAmount, quoteAmount, buyerFee, sellerFee } = t;
  const postings: Posting[] = [
    {
      account: buyer,
      asset: quoteAsset,
      bucket: t.buyerQuoteFromLocked ? 'locked' : 'available',
      amount: -quoteAmount,
      kind: 'trade',
    },
    { account: seller, asset: quoteAsset, bucket: 'available', amount: quoteAmount, kind: 'trade' },
    {
      account: seller,
      asset: baseAsset,
      bucket: t.sellerBaseFromLocked ? 'locked' : 'available',
      amount: -baseAmount,
      kind: 'trade',
    },
    { account: buyer, asset: baseAsset, bucket: 'available', amount: baseAmount, kind: 'trade' },
  ];
  if (buyerFee > 0n) {
    postings.push(
      { account: buyer, asset: baseAsset, bucket: 'available', amount: -buyerFee, kind: 'fee' },
      { account: FEE_ACCOUNT, asset: baseAsset, bucket: 'available', amount: buyerFee, kind: 'fee' },
    );
  }
  if (sellerFee > 0n) {
    postings.push(
      { account: seller, asset: quoteAsset, bucket: 'available', amount: -sellerFee, kind: 'fee' },
      { account: FEE_ACCOUNT, asset: quoteAsset, bucket: 'available', amount: sellerFee, kind: 'fee' },
    );
  }
  return postings;
}
