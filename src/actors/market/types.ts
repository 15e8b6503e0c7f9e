import type { LifecycleEvent, LifecycleNotice, LifecycleState } from '../../../machines/marketLifecycle.ts';
import type {
  AmendCommand,
  BookEvent,
  CancelAllCommand,
  CancelCommand,
  ExpireCommand,
  PlaceCommand,
  PlaceOcoCommand,
} from '../book/types.ts';
import type { FundingCommand } from '../funding/commands.ts';
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
  | ExpireCommand
  /** Issue 14: the actor assigns both legs' ids (the stop leg's is the limit leg's + 1). */
  | Omit<PlaceOcoCommand, 'orderId' | 'stopOrderId'>
  | { readonly kind: 'lifecycle'; readonly event: LifecycleEvent };

export type MarketErrorCode =
  | 'bad_request'
  | 'market_not_active'
  | 'compliance'
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
      /**
       * A cancel's order: the quantity it had filled when canceled, for the `canceled` reply
       * (PROTOCOL v1.1). Live only: not journaled (a replay sends no replies).
       */
      readonly filledQty?: number | undefined;
    }
  | { readonly ok: false; readonly code: MarketErrorCode; readonly message: string };

/**
 * A credit to a user's available balance from outside the exchange. Not a market command: the
 * supervisor applies it to the ledger and journals it as a record of the pseudo-market `@ledger`.
 */
export interface DepositCommand {
  readonly kind: 'deposit';
  readonly userId: string;
  readonly asset: string;
  readonly amount: bigint;
}

/**
 * A trend signal (issue 19, src/trends): not a market command; journaled as a record of the
 * pseudo-market `@trends`, which changes no state (recovery skips it) and which the fold turns into
 * `trend.detected` / `market.breakout` domain events. The score is in hundredths of a point
 * (0..10000), the sentiment in basis points (−10000..10000), the price in the market's ticks.
 */
export type TrendSignalCommand =
  | {
      readonly kind: 'trend_detected';
      readonly symbol: string;
      readonly topic: string;
      readonly marketId?: string | undefined;
      readonly scoreCenti: number;
      readonly sentimentBp: number;
    }
  | {
      readonly kind: 'market_breakout';
      readonly marketId: string;
      readonly symbol: string;
      readonly direction: 'up' | 'down';
      readonly price: number;
    };

/** The commands of `@ledger` records: admin credits, and funding's (src/actors/funding, issue 15). */
export type LedgerCommand = DepositCommand | FundingCommand;

/** Every command the journal holds: a market's, a ledger command of `@ledger`, a signal of `@trends`. */
export type JournalCommand = MarketCommand | LedgerCommand | TrendSignalCommand;

export function isLedgerCommand(command: JournalCommand): command is LedgerCommand {
  const { kind } = command;
  return kind === 'deposit' || kind === 'deposit_credit' || kind === 'deposit_fail' || kind === 'withdrawal';
}

/** The market id (and symbol) of the journal records of ledger commands (deposits). */
export const LEDGER_JOURNAL_ID = '@ledger';

/** The market id (and symbol) of the journal records of trend signals (issue 19). */
export const TRENDS_JOURNAL_ID = '@trends';

/** One processed command and everything it caused, in order. */
export interface BatchEntry<C extends JournalCommand = MarketCommand> {
  readonly seq: number;
  readonly ts: number;
  readonly command: C;
  readonly result: CommandResult;
  readonly postings: readonly Posting[];
  /**
   * The id the edge gave the command (ROLE=gateway → engine, docs/scale-out.md "Commands"): a
   * command redelivered to a new owner after a failover is recognised by it and answered with this
   * entry's result. Absent for commands of ROLE=all.
   */
  readonly commandId?: string;
}

/** The ordered output of one drained mailbox batch: what persistence journals and publication sends. */
export interface BatchOutput<C extends JournalCommand = MarketCommand> {
  readonly marketId: string;
  readonly symbol: string;
  readonly entries: readonly BatchEntry<C>[];
  readonly state: LifecycleState;
}

/** What the journal holds: a market's batch, or a `@ledger` record of deposits. */
export type JournalBatch = BatchOutput<JournalCommand>;

/** Where batches go (persistence, publication). Acks are released once `commit` has resolved. */
export interface BatchSink {
  commit(batch: JournalBatch): void | Promise<void>;
  /** False while the sink is full: markets hold their mailboxes (which then answer `overloaded`). */
  canAccept?(): boolean;
  /** Resolves when canAccept() turns true again; without it the supervisor polls. */
  whenAccepting?(): Promise<void>;
}
