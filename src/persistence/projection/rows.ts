/** The rows of one page: what the fold gathers in memory and the statement writes. */

import type { OrderType, Side, TimeInForce } from '../../actors/book/types.ts';

export type { AcceptedOrderStatus as OrderStatus } from '../../events/orders.ts';

/** An order's projected state while a page is applied. */
export interface OrderState {
  readonly id: string;
  readonly isNew: boolean;
  marketId: string;
  orderId: number;
  userId: string;
  clientOrderId: string | null;
  side: Side;
  type: OrderType;
  tif: TimeInForce;
  price: number | null;
  stopPrice: number | null;
  qty: number;
  remaining: number;
  pending: boolean;
  canceled: boolean;
  createdGlobalSeq: number;
  updatedGlobalSeq: number;
  createdAt: string;
  updatedAt: string;
}

export interface TradeRow {
  id: string;
  marketId: string;
  makerOrderId: string;
  takerOrderId: string;
  makerUserId: string;
  takerUserId: string;
  takerSide: Side;
  price: number;
  qty: number;
  ts: string;
  globalSeq: number;
}

/**
 * A page's ledger_postings rows as columns: per journal record and account's asset, the sums of
 * the record's postings to each bucket (migration 1763800000201).
 */
export class PostingColumns {
  readonly globalSeq: number[] = [];
  readonly account: string[] = [];
  readonly asset: string[] = [];
  readonly marketId: string[] = [];
  readonly available: bigint[] = [];
  readonly locked: bigint[] = [];
  readonly count: number[] = [];
  readonly ts: string[] = [];
}

export interface LifecycleRow {
  marketId: string;
  marketSeq: number;
  lifecycleSeq: number | null;
  outcome: 'transition' | 'rejected';
  from: string | null;
  to: string | null;
  eventType: string;
  actorId: string;
  actorType: string;
  reason: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  contractAddress: string | null;
  txHash: string | null;
  deployError: string | null;
  /** The command's event metadata as JSON text (LifecycleEventBase.metadata). */
  metadata: string | null;
  ts: string;
  globalSeq: number;
}

export interface AuditRow {
  globalSeq: number;
  entryIndex: number;
  ledgerSeq: number;
  kind: 'deposit';
  account: string;
  asset: string;
  amount: bigint;
  ts: string;
}
