// Over ~400 lines as one concept: the market actor. Executing a command live, replaying a journaled
// batch and rebuilding from a checkpoint drive the same book, lifecycle, settlement and sequence and
// must stay in step; funds, settlement, notional and order activity are already files of their own.
import { createActor, type Actor, type InspectionEvent } from 'xstate';
import {
  lifecycleState,
  marketLifecycleMachine,
  restoreLifecycleSnapshot,
  type LifecycleContext,
  type LifecycleEvent,
  type LifecycleNotice,
  type LifecycleState,
} from '../../../machines/marketLifecycle.ts';
import { acceptsOrder, type OrderAction } from '../../../machines/marketLifecyclePolicy.ts';
import { OrderBook } from '../book/orderBook.ts';
import { trailLimit, trailStop } from '../book/trails.ts';
import type {
  AmendCommand,
  BookCommand,
  BookEvent,
  BookSnapshot,
  PlaceCommand,
  PlaceOcoCommand,
  TriggerGate,
} from '../book/types.ts';
import { amendProblem, ocoProblem, placeProblem, refProblem } from '../book/validate.ts';
import type { Ledger, Posting } from '../ledger/index.ts';
import { Mailbox } from '../mailbox.ts';
import { createMarketMoney, type MarketMoney } from '../money.ts';
import { MarketFunds } from './funds.ts';
import { minNotionalProblem } from './notional.ts';
import { OrderActivity, type OrderActivitySnapshot } from './orderActivity.ts';
import { Settlement, type OrderTerms } from './settlement.ts';
import type {
  BatchEntry,
  BatchOutput,
  CommandResult,
  MarketCommand,
  MarketDefinition,
  MarketErrorCode,
} from './types.ts';

export interface Envelope {
  readonly command: MarketCommand;
  /** Milliseconds since the epoch, stamped at the edge: the core never reads a clock. */
  readonly ts: number;
  readonly reply: (result: CommandResult) => void;
  /** The edge's id of the command (a gateway's, ROLE=engine): journaled, so a retry is recognised. */
  readonly commandId?: string | undefined;
}

/** Everything needed to rebuild a market exactly: a snapshot plus the book and lifecycle inputs since. */
export interface MarketState {
  readonly seq: number;
  readonly nextOrderId: number;
  readonly lifecycle: { readonly state: LifecycleState; readonly context: LifecycleContext };
  readonly book: BookSnapshot;
  /** Book seq and open orders' last-change ts and filled notional; absent in legacy snapshots. */
  readonly activity?: OrderActivitySnapshot | undefined;
}

/** Inputs that changed the book or the lifecycle, replayed on top of a MarketState after a fault. */
type ReplayItem =
  | {
      readonly kind: 'book';
      readonly seq: number;
      readonly command: BookCommand;
      readonly nextOrderId: number;
      /** Stops the trigger gate refused during the command: the rebuild refuses them again. */
      readonly refused: readonly number[] | undefined;
      readonly ts: number;
    }
  | { readonly kind: 'lifecycle'; readonly seq: number; readonly event: LifecycleEvent }
  /** The end of a batch: the book seq after it. */
  | { readonly kind: 'batch'; readonly bookSeq: number };

/**
 * The market's state at the end of a batch and where the replay stood then: it becomes the rebuild
 * point (checkpointAt) once that batch is committed.
 */
export interface RebuildPoint {
  readonly state: MarketState;
  readonly replayMark: number;
}

export interface MarketActorOptions {
  readonly definition: MarketDefinition;
  readonly baseDecimals: number;
  readonly quoteDecimals: number;
  readonly ledger: Ledger;
  readonly mailboxSize: number;
  readonly batchSize: number;
  readonly initial?: MarketState | undefined;
  readonly inspect?: ((event: InspectionEvent) => void) | undefined;
  /** Test hook for fault injection: runs before each command; a throw is a fault of this actor. */
  readonly beforeCommand?: ((command: MarketCommand) => void) | undefined;
  /**
   * Compliance gate (RWA markets): a refusal message, or undefined to admit. Asked for every
   * command that can add exposure: a place, an amend to a new price or a higher qty, and a stop
   * about to execute once triggered (refused: canceled with reason `compliance`). Consulted live
   * only: replay trusts the journal (a refused command changed nothing; a refused stop's
   * cancellation is in the journaled events, and replay refuses exactly those stops again).
   */
  readonly admit?: ((userId: string) => string | undefined) | undefined;
}

const fail = (code: MarketErrorCode, message: string): CommandResult => ({ ok: false, code, message });

/**
 * Where each market's lifecycle actor sends its transition notices. One provided machine serves
 * every market (provide() per market cost ~0.2 ms, a good part of a registration); the action
 * finds its market by the actor it runs in (XState's `self` is the actor createActor returned).
 */
const NOTICES = new WeakMap<object, (notice: LifecycleNotice) => void>();
const LIFECYCLE = marketLifecycleMachine.provide({
  actions: {
    notifyTransition: ({ self }: { self: object }, notice: LifecycleNotice) => {
      const sink = NOTICES.get(self);
      if (sink === undefined) throw new Error('a market lifecycle actor without its market');
      sink(notice);
    },
  },
});

/**
 * One market: its lifecycle actor gates what is accepted, its book matches, the shared ledger
 * holds the funds. A batch is processed synchronously, one command at a time in mailbox order;
 * its output goes to the sink and the replies wait for the commit (see Supervisor).
 */
export class MarketActor {
  readonly mailbox: Mailbox<Envelope>;
  readonly definition: MarketDefinition;
  private book!: OrderBook;
  private lifecycle!: Actor<typeof marketLifecycleMachine>;
  private settlement: Settlement;
  private readonly funds: MarketFunds;
  private readonly money: MarketMoney;
  /** What the book asks of a triggered stop while commands are processed live. */
  private readonly liveTriggerGate: TriggerGate | undefined;
  private seq = 0;
  private nextOrderId = 0;
  private activity!: OrderActivity;
  /** The entry ts of the command being processed (replay items carry it). */
  private commandTs = 0;
  private transition: LifecycleNotice | undefined;
  /** Last state from which a rebuild starts, and what changed the market since. */
  private checkpoint: MarketState;
  private replay: ReplayItem[] = [];
  /**
   * Replay marks are absolute (counted since the actor was created), so the marks of batches still
   * being committed stay valid when checkpointAt drops the replay before a newer rebuild point.
   */
  private replayBase = 0;
  processed = 0;

  constructor(private readonly options: MarketActorOptions) {
    const { definition } = options;
    this.definition = definition;
    this.mailbox = new Mailbox(options.mailboxSize);
    const money = (this.money = createMarketMoney({
      ...definition.money,
      baseDecimals: options.baseDecimals,
      quoteDecimals: options.quoteDecimals,
    }));
    const { admit } = options;
    this.liveTriggerGate = admit && ((userId: string) => admit(userId) === undefined);
    const funds = (this.funds = new MarketFunds(
      money,
      options.baseDecimals,
      options.quoteDecimals,
      definition.makerFeeBps,
      definition.takerFeeBps,
    ));
    this.settlement = new Settlement(
      options.ledger,
      funds,
      definition.baseAsset,
      definition.quoteAsset,
      new Map<number, OrderTerms>(),
    );
    this.checkpoint = options.initial ?? {
      seq: 0,
      nextOrderId: 0,
      lifecycle: { state: 'draft', context: { marketId: definition.id, seq: 0 } },
      book: new OrderBook({ maxOrders: definition.maxOrders, maxQty: money.maxLots }).snapshot(),
      activity: OrderActivity.empty().snapshot(),
    };
    this.restore(this.checkpoint);
  }

  get state(): LifecycleState {
    return lifecycleState(this.lifecycle.getSnapshot());
  }

  /** Read access for queries and tests (open orders, depth); the actor alone mutates it. */
  get orderBook(): OrderBook {
    return this.book;
  }

  get openOrderTerms(): ReadonlyMap<number, OrderTerms> {
    return this.settlement.terms;
  }

  /** Book seq and open orders' facts as of the last processed batch (read, never mutate). */
  get orderActivity(): OrderActivity {
    return this.activity;
  }

  /** Processes up to batchSize queued commands; throws when the market is faulty. */
  processBatch():
    { output: BatchOutput; envelopes: Envelope[]; replayMark: number; seqMark: number } | undefined {
    const envelopes = this.mailbox.take(this.options.batchSize);
    if (envelopes.length === 0) return undefined;
    const entries: BatchEntry[] = [];
    const replayMark = this.replayBase + this.replay.length;
    const seqMark = this.seq;
    let postings: Posting[] = [];
    this.book.beginBatch();
    try {
      for (const envelope of envelopes) {
        postings = [];
        this.options.beforeCommand?.(envelope.command);
        this.commandTs = envelope.ts;
        const result = this.execute(envelope.command, postings);
        if (result.ok) this.activity.apply(result.events, envelope.ts);
        entries.push(
          envelope.commandId === undefined
            ? { seq: this.seq, ts: envelope.ts, command: envelope.command, result, postings }
            : {
                seq: this.seq,
                ts: envelope.ts,
                command: envelope.command,
                result,
                postings,
                commandId: envelope.commandId,
              },
        );
      }
      this.endBatch();
    } catch (error) {
      const done = entries.flatMap((e) => e.postings);
      const undo = entries.at(-1)?.postings === postings ? done : done.concat(postings);
      throw new MarketFault(this, error, envelopes, undo, { replayMark, seqMark });
    }
    this.processed += envelopes.length;
    const output = {
      marketId: this.definition.id,
      symbol: this.definition.symbol,
      entries,
      state: this.state,
    };
    return { output, envelopes, replayMark, seqMark };
  }

  /** Sets a new rebuild point at the current state: only when nothing processed is uncommitted. */
  checkpointNow(): void {
    this.checkpointAt(this.rebuildPoint());
  }

  /** The current state and replay position, to become the rebuild point once committed. */
  rebuildPoint(): RebuildPoint {
    return { state: this.currentState(), replayMark: this.replayBase + this.replay.length };
  }

  /**
   * Makes `point` (taken after a batch that is now committed) the rebuild point, so replay stays
   * short; batches processed after it keep their marks.
   */
  checkpointAt(point: RebuildPoint): void {
    const drop = point.replayMark - this.replayBase;
    if (drop < 0 || drop > this.replay.length) {
      throw new Error(`market ${this.definition.symbol}: rebuild point ${point.replayMark} is out of range`);
    }
    this.checkpoint = point.state;
    this.replay.splice(0, drop);
    this.replayBase = point.replayMark;
  }

  currentState(): MarketState {
    const snapshot = this.lifecycle.getSnapshot();
    return {
      seq: this.seq,
      nextOrderId: this.nextOrderId,
      lifecycle: { state: lifecycleState(snapshot), context: snapshot.context },
      book: this.book.snapshot(),
      activity: this.activity.snapshot(),
    };
  }

  /**
   * Rebuilds the book and lifecycle from the checkpoint plus the inputs before `replayMark`, and
   * the sequence to `seqMark`: commands refused after the last input still used their numbers.
   */
  rebuild(replayMark: number, seqMark: number): void {
    const keep = replayMark - this.replayBase;
    if (keep < 0 || keep > this.replay.length) {
      throw new Error(`market ${this.definition.symbol}: replay mark ${replayMark} is out of range`);
    }
    this.replay.length = keep;
    this.lifecycle.stop();
    this.restore(this.checkpoint);
    for (const item of this.replay) {
      if (item.kind === 'batch') {
        this.activity.bookSeq = item.bookSeq;
        continue;
      }
      this.seq = item.seq;
      if (item.kind === 'book') {
        this.book.triggerGate = refusing(item.refused);
        this.activity.apply(this.book.execute(item.command), item.ts);
        this.nextOrderId = item.nextOrderId;
      } else {
        this.lifecycle.send(item.event);
      }
    }
    this.book.triggerGate = this.liveTriggerGate;
    this.seq = seqMark;
    this.rebuildTerms();
    this.transition = undefined;
  }

  /**
   * Rebuilds the market from a state of its own obtained elsewhere (the durable path: its latest
   * snapshot plus its committed journal records), which becomes the rebuild point. Only while
   * nothing processed is uncommitted: the replay is discarded.
   */
  rebuildFrom(state: MarketState): void {
    if (state.lifecycle.context.marketId !== this.definition.id) {
      throw new Error(
        `market ${this.definition.symbol}: the state is of market ${state.lifecycle.context.marketId}`,
      );
    }
    this.lifecycle.stop();
    this.replayBase += this.replay.length;
    this.replay = [];
    this.checkpoint = state;
    this.restore(state);
    this.transition = undefined;
  }

  /**
   * Recovery: re-runs one journal record's entries (one batch) against the book and lifecycle,
   * never the ledger (the caller applies the entries' journaled postings, the exact ledger effect).
   * Entries must come in seq order, starting after this market's current seq. What reached the book
   * or the lifecycle is re-executed as it was (a placement with the order id from its result); what
   * was refused before them only uses its seq. The book seq steps when the record changed the book,
   * as it did when the batch was processed. Call finishRecovery() after the last record: it sets
   * the rebuild point (replayed entries are not kept for rebuild(), so none may run in between).
   */
  replayBatch(entries: readonly BatchEntry[]): void {
    this.book.beginBatch();
    for (const entry of entries) {
      this.replayEntry(entry);
      if (entry.result.ok) this.activity.apply(entry.result.events, entry.ts);
    }
    if (this.book.endBatch()) this.activity.bookSeq++;
  }

  private replayEntry(entry: BatchEntry): void {
    const { symbol } = this.definition;
    if (entry.seq !== this.seq + 1) {
      throw new Error(`market ${symbol}: journal entry seq ${entry.seq} does not follow seq ${this.seq}`);
    }
    this.seq = entry.seq;
    this.processed++;
    const { result } = entry;
    // The journal decided which triggered stops the compliance gate refused: exactly those again.
    this.book.triggerGate = result.ok ? refusing(refusedStops(result.events)) : undefined;
    try {
      this.replayCommand(entry);
    } finally {
      this.book.triggerGate = this.liveTriggerGate;
    }
  }

  private replayCommand({ command, result, postings, seq }: BatchEntry): void {
    const { symbol } = this.definition;
    if (command.kind === 'lifecycle') {
      if (!result.ok) return;
      this.lifecycle.send(command.event);
      if (this.state === 'archived') {
        // As applyLifecycle: an archived market cancels every open order, users in sorted order.
        this.rebuildTerms();
        const users = new Set([...this.settlement.terms.values()].map((t) => t.userId));
        for (const userId of [...users].sort()) this.book.execute({ kind: 'cancel_all', userId });
      }
    } else if (command.kind === 'place') {
      if (result.ok) {
        const { orderId } = result;
        if (orderId !== this.nextOrderId + 1) {
          throw new Error(
            `market ${symbol}: journaled order id ${String(orderId)} at seq ${seq}, expected ${this.nextOrderId + 1}`,
          );
        }
        this.nextOrderId = orderId;
        // A market buy's budget (given, or computed from the balance) is in its `accepted` event.
        const marketBuy = isBudgeted(command);
        const accepted = result.events.find((e) => e.type === 'accepted' && e.orderId === orderId);
        const budget = marketBuy && accepted?.type === 'accepted' ? accepted.quoteBudget : undefined;
        this.book.execute(toBookPlace(command, orderId, budget));
      } else if (postings.length > 0) {
        // Funds were locked, so it reached the book, which refused it: it used an order id and
        // changed nothing else (a refusal before the book locks nothing).
        this.nextOrderId++;
      }
    } else if (command.kind === 'place_oco') {
      if (result.ok) {
        const { orderId } = result;
        if (orderId !== this.nextOrderId + 1) {
          throw new Error(
            `market ${symbol}: journaled OCO id ${String(orderId)} at seq ${seq}, expected ${this.nextOrderId + 1}`,
          );
        }
        this.nextOrderId = orderId + 1;
        this.book.execute(toBookOco(command, orderId));
      } else if (postings.length > 0) {
        // Locked and refused by the book: both legs' ids were used.
        this.nextOrderId += 2;
      }
    } else if (result.ok) {
      // A refused cancel or amend changed nothing in the book.
      this.book.execute(command);
    }
  }

  /**
   * Recovery from a durable snapshot: the market continues from `state` (its own earlier
   * currentState()) instead of its starting state. Only before anything was processed or replayed;
   * journal entries after the snapshot follow with replayEntry, then finishRecovery().
   */
  restoreState(state: MarketState): void {
    const { id, symbol } = this.definition;
    if (this.replay.length > 0 || this.seq !== this.checkpoint.seq) {
      throw new Error(`market ${symbol}: a snapshot can only be restored before anything is processed`);
    }
    if (state.lifecycle.context.marketId !== id) {
      throw new Error(`market ${symbol}: the snapshot is of market ${state.lifecycle.context.marketId}`);
    }
    this.lifecycle.stop();
    this.checkpoint = state;
    this.restore(state);
    this.transition = undefined;
  }

  /** The earliest expireAt among the book's open GTD orders (for the host's expiry scheduler). */
  nextExpiry(): number | undefined {
    return this.book.nextExpiry();
  }

  /** Ends a recovery: open-order terms from the book, and a rebuild point at the recovered state. */
  finishRecovery(): void {
    this.rebuildTerms();
    this.transition = undefined;
    this.checkpointNow();
  }

  private restore(state: MarketState): void {
    this.seq = state.seq;
    this.nextOrderId = state.nextOrderId;
    this.book = OrderBook.restore(state.book);
    this.activity = OrderActivity.restore(
      state.activity,
      [...state.book.resting, ...state.book.stops],
      state.seq,
    );
    this.lifecycle = createActor(LIFECYCLE, {
      input: { marketId: this.definition.id },
      snapshot: restoreLifecycleSnapshot(state.lifecycle.state, state.lifecycle.context, LIFECYCLE),
      inspect: this.options.inspect,
    });
    NOTICES.set(this.lifecycle, (notice) => void (this.transition = notice));
    this.lifecycle.start();
    this.book.triggerGate = this.liveTriggerGate;
    this.rebuildTerms();
  }

  /** Ends the batch being processed: the book seq steps when it changed the book. */
  private endBatch(): void {
    if (this.book.endBatch()) this.activity.bookSeq++;
    this.replay.push({ kind: 'batch', bookSeq: this.activity.bookSeq });
  }

  /** What the market holds funds for is a function of its open orders (see MarketFunds). */
  private rebuildTerms(): void {
    const { resting, stops } = this.book.openOrders();
    this.settlement.rebuild([...resting, ...stops]);
  }

  private execute(command: MarketCommand, postings: Posting[]): CommandResult {
    this.seq++;
    if (command.kind === 'lifecycle') return this.applyLifecycle(command.event, postings);
    // GTD expiry, emitted by the host's scheduler with the time in it: in any state (a paused market
    // still lets orders go), and journaled, so replay cancels exactly what it canceled.
    if (command.kind === 'expire') return this.bookResult(this.runBook(command, postings), undefined);
    // PROTOCOL: bad_request is answered before market_not_active when both apply.
    const problem = this.commandProblem(command);
    if (problem !== undefined) return fail('bad_request', problem);
    const action: OrderAction = command.kind === 'place_oco' ? 'place' : command.kind;
    const state = this.state;
    if (!acceptsOrder(state, action)) {
      return fail(
        'market_not_active',
        `market ${this.definition.symbol} is ${state}: ${action} is not accepted`,
      );
    }
    const refusal = this.exposureRefusal(command);
    if (refusal !== undefined) return fail('compliance', refusal);
    switch (command.kind) {
      case 'place':
        return this.place(command, postings);
      case 'place_oco':
        return this.placeOco(command, postings);
      case 'cancel': {
        const open = this.book.findOrder(command);
        const result = this.bookResult(this.runBook(command, postings), command.orderId);
        if (!result.ok || open === undefined) return result;
        return { ...result, filledQty: open.qty - open.remaining };
      }
      case 'amend':
        return this.amend(command, postings);
      case 'cancel_all':
        return this.bookResult(
          this.runBook({ kind: 'cancel_all', userId: command.userId }, postings),
          undefined,
        );
    }
  }

  /** Why an order command is malformed, whatever the market's state; undefined when well formed. */
  private commandProblem(command: OrderCommand): string | undefined {
    switch (command.kind) {
      case 'place': {
        // The entry ts is journaled with the command: the check replays as it ran.
        if (command.expireAt !== undefined && command.expireAt <= this.commandTs) {
          return 'expireAt must be in the future';
        }
        // PROTOCOL v1.1 "More order types": the budget of these two is what they lock.
        if (command.side === 'buy' && command.quoteBudget === undefined) {
          if (command.type === 'stop_market') return 'a stop_market buy needs quoteQty (its budget)';
          if (command.type === 'trailing_stop' && command.limitOffset === undefined) {
            return 'a trailing_stop buy without a limit offset needs quoteQty (its budget)';
          }
          if (command.type === 'market' && command.tif === 'FOK') {
            return 'a FOK market buy needs quoteQty (its budget)';
          }
        }
        return (
          placeProblem(command, this.book.config) ??
          minNotionalProblem(this.money, command.price, command.qty, command.quoteBudget)
        );
      }
      case 'amend': {
        const problem = amendProblem(command, this.book.config);
        if (problem !== undefined) return problem;
        // The order as amended must still meet minNotional (unknown orders: the book answers).
        const open = this.book.restingOrder(command);
        if (open === undefined) return undefined;
        return minNotionalProblem(
          this.money,
          command.price ?? open.price,
          command.qty ?? open.qty,
          undefined,
        );
      }
      case 'cancel':
        return refProblem(command);
      case 'cancel_all':
        return undefined;
      case 'place_oco': {
        // Its stop leg would be a stop_market buy, which needs a budget an OCO does not carry.
        if (command.side === 'buy' && command.stopLimitPrice === undefined) {
          return 'a buy OCO needs stopLimitPrice (a stop_market buy needs a budget)';
        }
        return (
          ocoProblem(command, this.book.config) ??
          minNotionalProblem(this.money, command.price, command.qty, undefined) ??
          minNotionalProblem(this.money, command.stopLimitPrice, command.qty, undefined)
        );
      }
    }
  }

  /**
   * Why the compliance gate refuses a command that adds exposure; undefined when it admits it or
   * the command adds none. An amend adds exposure when it loses priority (a new price or a higher
   * qty: it re-enters as an aggressive order); lowering the qty only reduces it and needs no check,
   * nor does an amend the book refuses anyway (unknown order, pending stop: its own answer).
   */
  private exposureRefusal(command: OrderCommand): string | undefined {
    const { admit } = this.options;
    if (admit === undefined) return undefined;
    if (command.kind === 'place' || command.kind === 'place_oco') return admit(command.userId);
    if (command.kind === 'amend' && this.amendAddsExposure(command)) return admit(command.userId);
    return undefined;
  }

  private amendAddsExposure(command: AmendCommand): boolean {
    const open = this.book.restingOrder(command);
    if (open === undefined) return false;
    const qty = command.qty ?? open.qty;
    const price = command.price ?? open.price;
    return qty > open.qty - open.remaining && (price !== open.price || qty > open.qty);
  }

  private place(command: Extract<MarketCommand, { kind: 'place' }>, postings: Posting[]): CommandResult {
    const { settlement, funds } = this;
    const marketBuy = isBudgeted(command);
    if (command.clientOrderId !== undefined && this.book.findOrder(command) !== undefined) {
      return fail('duplicate_client_order_id', `clientOrderId ${command.clientOrderId} is already in use`);
    }
    const asset = settlement.assetOf(command.side);
    let budget = command.quoteBudget;
    let need: bigint;
    if (marketBuy) {
      budget ??= funds.budgetFor(this.options.ledger.balance(command.userId, asset).available);
      need = funds.budgetNeed(budget);
    } else {
      need = settlement.need(command.side, this.initialPrice(command) ?? 0, command.qty);
    }
    if (need === 0n || !settlement.lock(command.userId, asset, need, postings)) {
      return fail('insufficient_funds', `not enough ${asset} available for this order`);
    }
    const orderId = ++this.nextOrderId;
    const bookCommand = toBookPlace(command, orderId, marketBuy ? budget : undefined);
    settlement.terms.set(orderId, {
      userId: command.userId,
      side: command.side,
      price: this.initialPrice(command) ?? 0,
      locked: marketBuy ? need : 0n,
      ...(command.type === 'trailing_stop' ? { qty: command.qty } : {}),
    });
    const events = this.book.place(bookCommand);
    this.pushReplay(bookCommand, events);
    const rejected = events[0]?.type === 'rejected' ? events[0] : undefined;
    if (rejected !== undefined) {
      settlement.terms.delete(orderId);
      settlement.unlock(command.userId, asset, need, postings);
      return fail(rejected.code, rejected.message);
    }
    settlement.apply(events, postings);
    return { ok: true, seq: this.seq, orderId, events };
  }

  /**
   * OCO (issue 14): one lock for the list, the larger of the legs' needs (the limit leg's price ×
   * qty or the stop leg's limit × qty for a buy; qty for a sell). The limit leg's terms hold its
   * own need, the stop leg's the rest (Settlement, OrderTerms.link); the list's id is the limit
   * leg's, the stop leg's the next.
   */
  private placeOco(
    command: Extract<MarketCommand, { kind: 'place_oco' }>,
    postings: Posting[],
  ): CommandResult {
    const { settlement } = this;
    const { userId, side, qty } = command;
    if (command.clientOrderId !== undefined && this.book.findOrder(command) !== undefined) {
      return fail('duplicate_client_order_id', `clientOrderId ${command.clientOrderId} is already in use`);
    }
    const asset = settlement.assetOf(side);
    const limitNeed = settlement.need(side, command.price, qty);
    const stopNeed = settlement.need(side, command.stopLimitPrice ?? 0, qty);
    const need = limitNeed > stopNeed ? limitNeed : stopNeed;
    if (need === 0n || !settlement.lock(userId, asset, need, postings)) {
      return fail('insufficient_funds', `not enough ${asset} available for this order`);
    }
    const orderId = ++this.nextOrderId;
    const stopOrderId = ++this.nextOrderId;
    const bookCommand = toBookOco(command, orderId);
    settlement.terms.set(orderId, {
      userId,
      side,
      price: command.price,
      locked: 0n,
      link: { partner: stopOrderId, stopLeg: false, extra: 0n, qty },
    });
    settlement.terms.set(stopOrderId, {
      userId,
      side,
      price: command.stopLimitPrice ?? 0,
      locked: 0n,
      link: { partner: orderId, stopLeg: true, extra: need - limitNeed, qty },
    });
    const events = this.book.placeOco(bookCommand);
    this.pushReplay(bookCommand, events);
    const rejected = events[0]?.type === 'rejected' ? events[0] : undefined;
    if (rejected !== undefined) {
      settlement.terms.delete(orderId);
      settlement.terms.delete(stopOrderId);
      settlement.unlock(userId, asset, need, postings);
      return fail(rejected.code, rejected.message);
    }
    settlement.apply(events, postings);
    return { ok: true, seq: this.seq, orderId, events };
  }

  /**
   * The limit price an order locks for: its own, or a trailing stop's first limit (from the book's
   * last price, as the book will compute it; none without a last price, which the book refuses).
   */
  private initialPrice(command: Extract<MarketCommand, { kind: 'place' }>): number | undefined {
    if (command.type !== 'trailing_stop') return command.price;
    const anchor = this.book.lastPrice;
    if (command.limitOffset === undefined || anchor === null) return undefined;
    const buy = command.side === 'buy';
    const trail = {
      offset: command.trailingBps ?? command.trailingOffset ?? 1,
      bps: command.trailingBps !== undefined,
      limitOffset: command.limitOffset,
      anchor,
      active: false,
    };
    return trailLimit(trailStop(trail, buy), command.limitOffset, buy);
  }

  private amend(command: Extract<MarketCommand, { kind: 'amend' }>, postings: Posting[]): CommandResult {
    const { settlement } = this;
    const open = this.book.findOrder(command);
    let delta = 0n;
    if (open?.price !== undefined && open.remaining > 0) {
      const filled = open.qty - open.remaining;
      const price = command.price ?? open.price;
      const remaining = Math.max(0, (command.qty ?? open.qty) - filled);
      delta =
        settlement.need(open.side, price, remaining) - settlement.need(open.side, open.price, open.remaining);
      if (delta > 0n && !settlement.lock(open.userId, settlement.assetOf(open.side), delta, postings)) {
        return fail(
          'insufficient_funds',
          `not enough ${settlement.assetOf(open.side)} available for this amend`,
        );
      }
    }
    const events = this.book.amend(command);
    this.pushReplay(command, events);
    const first = events[0];
    if (first?.type === 'rejected') {
      if (open !== undefined && delta > 0n)
        settlement.unlock(open.userId, settlement.assetOf(open.side), delta, postings);
      return fail(first.code, first.message);
    }
    if (open !== undefined && first?.type === 'amended') {
      if (delta < 0n) settlement.unlock(open.userId, settlement.assetOf(open.side), -delta, postings);
      settlement.terms.get(open.orderId)!.price = first.price;
    }
    settlement.apply(events, postings);
    return { ok: true, seq: this.seq, orderId: open?.orderId, events };
  }

  private runBook(command: BookCommand, postings: Posting[]): BookEvent[] {
    const events = this.book.execute(command);
    this.pushReplay(command, events);
    this.settlement.apply(events, postings);
    return events;
  }

  private pushReplay(command: BookCommand, events: readonly BookEvent[]): void {
    const refused = this.liveTriggerGate === undefined ? undefined : refusedStops(events);
    this.replay.push({
      kind: 'book',
      seq: this.seq,
      command,
      nextOrderId: this.nextOrderId,
      refused,
      ts: this.commandTs,
    });
  }

  private bookResult(events: BookEvent[], orderId: number | undefined): CommandResult {
    const first = events[0];
    if (first?.type === 'rejected') return fail(first.code, first.message);
    return { ok: true, seq: this.seq, orderId, events };
  }

  private applyLifecycle(event: LifecycleEvent, postings: Posting[]): CommandResult {
    const snapshot = this.lifecycle.getSnapshot();
    if (!snapshot.can(event)) {
      const state = lifecycleState(snapshot);
      return fail(
        'invalid_transition',
        `market ${this.definition.symbol} is ${state}: ${event.type} is not accepted`,
      );
    }
    this.transition = undefined;
    this.lifecycle.send(event);
    this.replay.push({ kind: 'lifecycle', seq: this.seq, event });
    const transition = this.transition as LifecycleNotice | undefined;
    // An archived market holds nothing: every open order is canceled and its funds released.
    const events: BookEvent[] = [];
    if (this.state === 'archived') {
      const users = new Set([...this.settlement.terms.values()].map((t) => t.userId));
      for (const userId of [...users].sort())
        events.push(...this.runBook({ kind: 'cancel_all', userId }, postings));
    }
    return { ok: true, seq: this.seq, events, transition };
  }
}

/**
 * Market and stop_market buys lock a quote budget (a market buy without one gets the available
 * balance as its budget; a stop_market buy must bring one) instead of price × qty.
 */
function isBudgeted(command: Pick<PlaceCommand, 'type' | 'side' | 'limitOffset'>): boolean {
  const trailingMarket = command.type === 'trailing_stop' && command.limitOffset === undefined;
  return (
    command.side === 'buy' && (command.type === 'market' || command.type === 'stop_market' || trailingMarket)
  );
}

/** Commands a user sends about orders (the lifecycle's and the scheduler's `expire` aside). */
type OrderCommand = Exclude<MarketCommand, { kind: 'lifecycle' } | { kind: 'expire' }>;

/** The stops a command's events show canceled by the trigger gate; undefined when none. */
function refusedStops(events: readonly BookEvent[]): number[] | undefined {
  let refused: number[] | undefined;
  for (const e of events)
    if (e.type === 'canceled' && e.reason === 'compliance') (refused ??= []).push(e.orderId);
  return refused;
}

/** A gate that refuses exactly `refused` (the journaled decisions); undefined refuses nothing. */
function refusing(refused: readonly number[] | undefined): TriggerGate | undefined {
  return refused === undefined ? undefined : (_userId, orderId) => !refused.includes(orderId);
}

/**
 * The engine's placement for a market's command. Written out field by field: on Node 20 a spread
 * that adds a property to a command object cost ~1.6 µs, most of the actor's per-order time
 * (bench/RESULTS.md, bench:actors).
 */
function toBookPlace(
  command: Omit<PlaceCommand, 'orderId'>,
  orderId: number,
  quoteBudget: number | undefined,
): PlaceCommand {
  return {
    kind: 'place',
    orderId,
    userId: command.userId,
    clientOrderId: command.clientOrderId,
    side: command.side,
    type: command.type,
    qty: command.qty,
    price: command.price,
    stopPrice: command.stopPrice,
    tif: command.tif,
    postOnly: command.postOnly,
    stp: command.stp,
    quoteBudget,
    expireAt: command.expireAt,
    displayQty: command.displayQty,
    trailingOffset: command.trailingOffset,
    trailingBps: command.trailingBps,
    limitOffset: command.limitOffset,
  };
}

/** The engine's OCO for a market's command: the limit leg (and list) `orderId`, the stop leg the next. */
function toBookOco(
  command: Omit<PlaceOcoCommand, 'orderId' | 'stopOrderId'>,
  orderId: number,
): PlaceOcoCommand {
  return {
    kind: 'place_oco',
    orderId,
    stopOrderId: orderId + 1,
    userId: command.userId,
    clientOrderId: command.clientOrderId,
    side: command.side,
    qty: command.qty,
    price: command.price,
    stopPrice: command.stopPrice,
    stopLimitPrice: command.stopLimitPrice,
    stp: command.stp,
  };
}

/** A fault while processing a batch: the Supervisor undoes the batch and rebuilds the market. */
export class MarketFault extends Error {
  constructor(
    readonly actor: MarketActor,
    override readonly cause: unknown,
    readonly envelopes: Envelope[],
    /** Every ledger change the batch made before the fault, in order: they must be undone. */
    readonly postings: Posting[],
    readonly marks: { replayMark: number; seqMark: number },
  ) {
    super(
      `market ${actor.definition.symbol} faulted: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
}
