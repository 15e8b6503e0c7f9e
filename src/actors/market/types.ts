import type { LifecycleEvent, LifecycleNotice, LifecycleState } from '../../../machines/marketLifecycle.ts';
import type {
  AmendCommand,
  BookEvent,
  CancelAllCommand,
  CancelCommand,
  PlaceCommand,
} from '../book/types.ts';
import type { Posting } from '../ledger/index.ts';
import type { MarketMoneySpec } from '../money.ts';

/** A market as listed: symbol, assets, money rules and fees. */
export interface MarketDefinition {
  readonly id: string;
  readonly symbol: string;
  readonly baseAsset: string;
  readonly quoteAsset: string;
  readonly money: MarketMoneySpec;
  readonly makerFeeBps: number;
  readonly takerFeeBps: number;
  /** Most open orders the book holds. */
  readonly maxOrders: number;
}

/**
 * Commands reach an actor already parsed: integers in ticks and lots, users authenticated. Order
 * commands are the engine's, except that the actor assigns the order id of a placement.
 */
export type MarketCommand =
  | Omit<PlaceCommand, 'orderId'>
  | CancelCommand
  | AmendCommand
  | CancelAllCommand
  | { readonly kind: 'lifecycle'; readonly event: LifecycleEvent };

export type MarketErrorCode =
  | 'bad_request'
  | 'market_not_active'
  | 'insufficient_funds'
  | 'duplicate_client_order_id'
  | 'would_match'
  | 'fok_unfilled'
  | 'not_found'
  | 'overloaded'
  | 'invalid_transition'
  | 'unavailable'
  | 'unknown_market';

export type CommandResult =
  | {
      readonly ok: true;
      /** The market's sequence number of this command. */
      readonly seq: number;
      /** The order placed (place) or named (cancel, amend). */
      readonly orderId?: number | undefined;
      readonly events: readonly BookEvent[];
      readonly transition?: LifecycleNotice | undefined;
    }
  | { readonly ok: false; readonly code: MarketErrorCode; readonly message: string };

/** One processed command and everything it caused, in order. */
export interface BatchEntry {
  readonly seq: number;
  readonly ts: number;
  readonly command: MarketCommand;
  readonly result: CommandResult;
  readonly postings: readonly Posting[];
}

/** The ordered output of one drained mailbox batch: what persistence journals and publication sends. */
export interface BatchOutput {
  readonly marketId: string;
  readonly symbol: string;
  readonly entries: readonly BatchEntry[];
  readonly state: LifecycleState;
}

/** Where batches go (persistence, publication). Acks are released once `commit` has resolved. */
export interface BatchSink {
  commit(batch: BatchOutput): void | Promise<void>;
  /** False while the sink is full: markets hold their mailboxes (which then answer `overloaded`). */
  canAccept?(): boolean;
  /** Resolves when canAccept() turns true again; without it the supervisor polls. */
  whenAccepting?(): Promise<void>;
}
