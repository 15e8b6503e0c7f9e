/**
 * The committed event stream's events: what one committed journal record (a market's batch, or a
 * `@ledger` record of deposits) says happened, in order, as typed domain events. fold.ts makes
 * them; the reply, the publisher, the open-order index and the projector consume them (stream.ts).
 *
 * Each event names its command: `seq` (the market's, or the ledger's, sequence number), `ts` (the
 * command's time, ms) and `entry` (its index in the batch). The payloads are the journal's own
 * objects (book events, postings, lifecycle notices), not copies: consumers must not change them.
 *
 * Per entry, in this order: `balance.changed` (its postings, when it has any), then the
 * command's own: `lifecycle.transition` / `lifecycle.refused` or `credit`, then the book's events
 * as the book emitted them (`order.accepted`, `fill`, `order.changed`, `book.level`; an archive's
 * cancels follow its transition), each `order.closed` right after the event that closed the order
 * (a fill to 0, a cancel).
 */

import type { LifecycleEvent, LifecycleNotice } from '../../machines/marketLifecycle.ts';
import type { AcceptedEvent, FillEvent, LevelEvent } from '../actors/book/types.ts';
import type { Posting } from '../actors/ledger/index.ts';
import type { MarketErrorCode } from '../actors/market/types.ts';
import type { OrderChange } from './orders.ts';

interface At {
  /** The command's sequence number in its market (or in `@ledger`). */
  readonly seq: number;
  /** The command's time, ms since epoch. */
  readonly ts: number;
  /** The command's index in its batch. */
  readonly entry: number;
}

/** The book accepted an order (it may fill, rest, wait as a stop or be canceled next). */
export interface OrderAccepted extends At {
  readonly type: 'order.accepted';
  readonly order: AcceptedEvent;
}

/** A change to one order other than a fill: rested, pending, triggered, canceled, amended, decremented. */
export interface OrderChanged extends At {
  readonly type: 'order.changed';
  readonly orderId: number;
  readonly change: Exclude<OrderChange, FillEvent>;
}

/** A trade: it changes its taker and its maker. `n` numbers the fills of the command from 0. */
export interface Fill extends At {
  readonly type: 'fill';
  readonly n: number;
  readonly fill: FillEvent;
}

/** An order left the open set: filled (a fill took it to 0) or canceled. */
export interface OrderClosed extends At {
  readonly type: 'order.closed';
  readonly orderId: number;
  readonly userId: string;
  readonly reason: 'filled' | 'canceled';
}

/** A price level's new total (0: gone), as the book reports it at the end of a command. */
export interface BookLevel extends At {
  readonly type: 'book.level';
  readonly level: LevelEvent;
}

/** The command's postings to the ledger, in order (available and locked buckets of accounts). */
export interface BalanceChanged extends At {
  readonly type: 'balance.changed';
  readonly postings: readonly Posting[];
}

/** The market's lifecycle machine took a transition (`event` is the command's event). */
export interface LifecycleTransition extends At {
  readonly type: 'lifecycle.transition';
  readonly event: LifecycleEvent;
  readonly notice: LifecycleNotice;
}

/** A lifecycle command the machine refused (it changed nothing; audited all the same). */
export interface LifecycleRefused extends At {
  readonly type: 'lifecycle.refused';
  readonly event: LifecycleEvent;
  readonly code: MarketErrorCode;
  readonly message: string;
}

/** A deposit credited a user's available balance (a `@ledger` record; its postings come before it). */
export interface Credit extends At {
  readonly type: 'credit';
  readonly userId: string;
  readonly asset: string;
  readonly amount: bigint;
}

/**
 * A fiat or chain deposit changed status (funding, issue 15): `completed` comes from the `@ledger`
 * record whose postings credited it (they come before it); `failed` from a `@ledger` record without
 * postings. Consumers: the `funding` channel, the notifier (`deposit_completed`).
 */
export interface DepositChanged extends At {
  readonly type: 'deposit.changed';
  readonly userId: string;
  readonly depositId: string;
  readonly status: 'completed' | 'failed';
  readonly asset: string;
  readonly amount: bigint;
  /** `paystack`, `payfast`, `ozow`, or `chain`. */
  readonly provider: string;
  /** The provider's reference, or the chain transaction's hash. */
  readonly reference: string;
  readonly reason?: string;
}

/**
 * A withdrawal changed status (issue 15): each change is a `@ledger` record, with the postings that
 * lock (requested), release (rejected, failed) or debit (confirmed) its amount, none otherwise.
 */
export interface WithdrawalChanged extends At {
  readonly type: 'withdrawal.changed';
  readonly userId: string;
  readonly withdrawalId: string;
  readonly status: 'pending_approval' | 'approved' | 'submitted' | 'confirmed' | 'rejected' | 'failed';
  readonly asset: string;
  readonly amount: bigint;
  readonly destination: string;
  readonly reason?: string;
  readonly txHash?: string;
}

/** A topic crossed the trend thresholds (issue 19; thresholds documented there). */
export interface TrendDetected extends At {
  readonly type: 'trend.detected';
  readonly symbol: string;
  readonly topic: string;
  /** The trend market listed for the symbol, when there is one. */
  readonly marketId?: string;
  readonly viralityScore: number;
  readonly sentiment: number;
}

/** A market's price broke out of its recent range (issue 19; thresholds documented there). */
export interface MarketBreakout extends At {
  readonly type: 'market.breakout';
  readonly marketId: string;
  readonly symbol: string;
  readonly direction: 'up' | 'down';
  /** The price that broke out, in ticks. */
  readonly price: number;
}

export type DomainEvent =
  | OrderAccepted
  | OrderChanged
  | Fill
  | OrderClosed
  | BookLevel
  | BalanceChanged
  | LifecycleTransition
  | LifecycleRefused
  | Credit
  | DepositChanged
  | WithdrawalChanged
  | TrendDetected
  | MarketBreakout;

export type DomainEventType = DomainEvent['type'];
