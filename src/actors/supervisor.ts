import type { InspectionEvent } from 'xstate';
import type { LifecycleState } from '../../machines/marketLifecycle.ts';
import type { Ledger, LedgerSnapshot, Posting } from './ledger/index.ts';
import { MarketActor, MarketFault, type Envelope, type MarketState } from './market/marketActor.ts';
import {
  LEDGER_JOURNAL_ID,
  type BatchSink,
  type CommandResult,
  type DepositCommand,
  type JournalBatch,
  type MarketCommand,
  type MarketDefinition,
} from './market/types.ts';

/** What the actor-state visualizer and metrics see: XState's own inspection plus mailbox figures. */
export type ActorInspection =
  | { readonly type: 'xstate'; readonly marketId: string; readonly event: InspectionEvent }
  | {
      readonly type: 'market.batch';
      readonly marketId: string;
      readonly symbol: string;
      readonly state: LifecycleState;
      readonly batchSize: number;
      readonly mailboxDepth: number;
      readonly processed: number;
    }
  | {
      readonly type: 'market.fault';
      readonly marketId: string;
      readonly symbol: string;
      readonly message: string;
    }
  | { readonly type: 'market.recovered'; readonly marketId: string; readonly symbol: string };

export interface SupervisorOptions {
  readonly ledger: Ledger;
  readonly sink: BatchSink;
  readonly mailboxSize?: number;
  readonly batchSize?: number;
  /** Batches between in-memory rebuild points (snapshots of the book and lifecycle). */
  readonly checkpointEvery?: number;
  readonly inspect?: (event: ActorInspection) => void;
  /**
   * A fault the supervisor cannot contain: a batch whose ledger postings can no longer be undone
   * (a commit failed after other markets had already used funds that batch moved). Default: fail
   * stop, by rethrowing outside any promise so the process exits; nothing unacknowledged is lost and
   * durable recovery rebuilds the exchange.
   */
  readonly onFatal?: (error: Error) => void;
}

export interface MarketInfo {
  readonly id: string;
  readonly symbol: string;
  readonly state: LifecycleState;
  readonly status: 'running' | 'halted';
  readonly mailboxDepth: number;
  readonly processed: number;
}

interface Supervised {
  readonly actor: MarketActor;
  halted: boolean;
  scheduled: boolean;
  committing: boolean;
  batches: number;
}

/** The whole exchange's in-memory state at one instant where it equals the committed journal. */
export interface ExchangeState {
  /** Every market, in the order it was added. */
  readonly markets: readonly { readonly id: string; readonly symbol: string; readonly state: MarketState }[];
  readonly ledger: LedgerSnapshot;
  /** The last `@ledger` sequence number used: recovery continues it (resumeLedgerSeq). */
  readonly ledgerSeq: number;
}

export interface AddMarketOptions {
  readonly baseDecimals: number;
  readonly quoteDecimals: number;
  readonly initial?: MarketState | undefined;
  readonly beforeCommand?: ((command: MarketCommand) => void) | undefined;
}

const unavailable = (symbol: string): CommandResult => ({
  ok: false,
  code: 'unavailable',
  message: `market ${symbol} is recovering; nothing was accepted`,
});

/**
 * Owns the market actors: routes commands by symbol, drains each mailbox one batch per turn of the
 * event loop, hands batches to the sink and releases replies after the commit. A market whose actor
 * throws halts, has its batch undone (ledger postings reversed, book and lifecycle rebuilt from the
 * last checkpoint) and resumes; the other markets never notice.
 */
export class Supervisor {
  private readonly markets = new Map<string, Supervised>();
  private readonly mailboxSize: number;
  private readonly batchSize: number;
  private readonly checkpointEvery: number;
  private idleWaiters: (() => void)[] = [];
  private quiescenceWaiters: ((state: ExchangeState) => void)[] = [];
  /** Sequence of the `@ledger` journal records (credits); recovery resumes it. */
  private ledgerSeq = 0;
  private creditsCommitting = 0;

  constructor(private readonly options: SupervisorOptions) {
    this.mailboxSize = options.mailboxSize ?? 10_000;
    this.batchSize = options.batchSize ?? 512;
    this.checkpointEvery = options.checkpointEvery ?? 1_000;
  }

  addMarket(definition: MarketDefinition, options: AddMarketOptions): MarketActor {
    if (this.markets.has(definition.symbol)) throw new Error(`market ${definition.symbol} already exists`);
    const inspect = this.options.inspect;
    const actor = new MarketActor({
      definition,
      ledger: this.options.ledger,
      baseDecimals: options.baseDecimals,
      quoteDecimals: options.quoteDecimals,
      mailboxSize: this.mailboxSize,
      batchSize: this.batchSize,
      initial: options.initial,
      beforeCommand: options.beforeCommand,
      inspect:
        inspect &&
        ((event) => {
          inspect({ type: 'xstate', marketId: definition.id, event });
        }),
    });
    this.markets.set(definition.symbol, {
      actor,
      halted: false,
      scheduled: false,
      committing: false,
      batches: 0,
    });
    return actor;
  }

  actor(symbol: string): MarketActor | undefined {
    return this.markets.get(symbol)?.actor;
  }

  list(): MarketInfo[] {
    return [...this.markets.values()].map(({ actor, halted }) => ({
      id: actor.definition.id,
      symbol: actor.definition.symbol,
      state: actor.state,
      status: halted ? 'halted' : 'running',
      mailboxDepth: actor.mailbox.size,
      processed: actor.processed,
    }));
  }

  /** Queues a command; `reply` is called once, after its batch is committed (or at once on refusal). */
  send(symbol: string, command: MarketCommand, ts: number, reply: (result: CommandResult) => void): void {
    const market = this.markets.get(symbol);
    if (market === undefined) {
      reply({ ok: false, code: 'unknown_market', message: `no market ${symbol}` });
    } else if (market.halted) {
      reply(unavailable(symbol));
    } else if (!market.actor.mailbox.offer({ command, ts, reply })) {
      reply({ ok: false, code: 'overloaded', message: `market ${symbol} is busy; try again` });
    } else {
      this.schedule(market);
    }
  }

  submit(symbol: string, command: MarketCommand, ts: number): Promise<CommandResult> {
    return new Promise((resolve) => {
      this.send(symbol, command, ts, resolve);
    });
  }

  /**
   * Credits `amount` (minor units) of `asset` to the user's available balance, journaled as a
   * `@ledger` record through the sink: answers once that record is committed. A refused deposit
   * (unknown asset, non-positive amount) changes nothing; a failed commit reverses the postings and
   * answers `unavailable`.
   */
  async credit(userId: string, asset: string, amount: bigint, ts: number): Promise<CommandResult> {
    const { ledger, sink } = this.options;
    const applied = ledger.deposit(userId, asset, amount);
    if (!applied.ok) return { ok: false, code: applied.code, message: applied.message };
    const seq = ++this.ledgerSeq;
    const command: DepositCommand = { kind: 'deposit', userId, asset, amount };
    const result: CommandResult = { ok: true, seq, events: [] };
    const record: JournalBatch = {
      marketId: LEDGER_JOURNAL_ID,
      symbol: LEDGER_JOURNAL_ID,
      state: 'active',
      entries: [{ seq, ts, command, result, postings: applied.postings }],
    };
    this.creditsCommitting++;
    try {
      await sink.commit(record);
    } catch (error) {
      // Its number is not reused (credits may be outstanding behind it): `@ledger` records can
      // have gaps in their seq, which recovery allows.
      const reversed = applied.postings.map((p) => ({ ...p, amount: -p.amount })).reverse();
      const undone = ledger.apply(reversed);
      if (!undone.ok) {
        this.fatal(new Error(`cannot undo the credit of ${asset} to ${userId}: ${undone.message}`));
      }
      return {
        ok: false,
        code: 'unavailable',
        message: `the credit was not journaled (${String(error)}); nothing was credited`,
      };
    } finally {
      this.creditsCommitting--;
      this.settled();
      this.quiesced();
    }
    return result;
  }

  /** Recovery: the last `@ledger` sequence number in the journal, continued by the next credit. */
  resumeLedgerSeq(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < this.ledgerSeq) {
      throw new RangeError(`ledger sequence ${seq} would go back from ${this.ledgerSeq}`);
    }
    this.ledgerSeq = seq;
  }

  /** Resolves once every mailbox is empty and no batch is being committed (tests, shutdown). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Calls `take`, synchronously, with the state of every market and of the ledger at the next
   * instant where nothing processed is uncommitted: no batch or credit is being committed and no
   * market is halted (mailboxes may hold commands: they have not touched any state yet). At such
   * an instant memory is exactly the committed journal, so `take` may pair the state with the
   * sink's last committed position (durable snapshots, src/persistence/snapshots.ts). Resolves with
   * what `take` returns; rejects with what it throws. Under load such an instant comes right after a
   * flush has committed every outstanding batch, before the next drain (drains run on setImmediate).
   */
  atQuiescence<T>(take: (state: ExchangeState) => T): Promise<T> {
    const result = new Promise<T>((resolve, reject) => {
      this.quiescenceWaiters.push((state) => {
        try {
          resolve(take(state));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
    this.quiesced();
    return result;
  }

  private isQuiescent(): boolean {
    if (this.creditsCommitting > 0) return false;
    for (const m of this.markets.values()) if (m.committing || m.halted) return false;
    return true;
  }

  private quiesced(): void {
    if (this.quiescenceWaiters.length === 0 || !this.isQuiescent()) return;
    const waiters = this.quiescenceWaiters;
    this.quiescenceWaiters = [];
    const state: ExchangeState = {
      markets: [...this.markets.values()].map(({ actor }) => ({
        id: actor.definition.id,
        symbol: actor.definition.symbol,
        state: actor.currentState(),
      })),
      ledger: this.options.ledger.snapshot(),
      ledgerSeq: this.ledgerSeq,
    };
    for (const waiter of waiters) waiter(state);
  }

  private isIdle(): boolean {
    if (this.creditsCommitting > 0) return false;
    for (const m of this.markets.values()) {
      if (m.actor.mailbox.size > 0 || m.committing || m.scheduled || m.halted) return false;
    }
    return true;
  }

  private schedule(market: Supervised): void {
    if (market.scheduled || market.committing || market.halted) return;
    market.scheduled = true;
    setImmediate(() => void this.drain(market));
  }

  private async drain(market: Supervised): Promise<void> {
    market.scheduled = false;
    const { actor } = market;
    const { sink } = this.options;
    if (sink.canAccept?.() === false) {
      // Backpressure: wait for the sink to drain instead of growing its queue.
      market.scheduled = true;
      const resume = () => void this.drain(market);
      if (sink.whenAccepting === undefined) setTimeout(resume, 1);
      else void sink.whenAccepting().then(resume);
      return;
    }
    let batch: ReturnType<MarketActor['processBatch']>;
    try {
      batch = actor.processBatch();
    } catch (error) {
      if (!(error instanceof MarketFault)) throw error;
      this.halt(market, error.message, error.envelopes, error.postings, error.marks);
      return;
    }
    if (batch === undefined) {
      this.settled();
      return;
    }
    market.committing = true;
    try {
      await this.options.sink.commit(batch.output);
    } catch (error) {
      market.committing = false;
      const postings = batch.output.entries.flatMap((e) => e.postings);
      this.halt(market, `commit failed: ${String(error)}`, batch.envelopes, postings, batch);
      return;
    }
    market.committing = false;
    const { entries } = batch.output;
    for (let i = 0; i < entries.length; i++) batch.envelopes[i]!.reply(entries[i]!.result);
    if (++market.batches % this.checkpointEvery === 0) actor.checkpointNow();
    this.options.inspect?.({
      type: 'market.batch',
      marketId: actor.definition.id,
      symbol: actor.definition.symbol,
      state: batch.output.state,
      batchSize: entries.length,
      mailboxDepth: actor.mailbox.size,
      processed: actor.processed,
    });
    if (actor.mailbox.size > 0) this.schedule(market);
    else this.settled();
    this.quiesced();
  }

  /**
   * Undoes an uncommitted batch: reverses its ledger postings, rebuilds the market, answers its
   * commands `unavailable` (none was acknowledged) and resumes on the next turn.
   */
  private halt(
    market: Supervised,
    message: string,
    envelopes: Envelope[],
    postings: Posting[],
    marks: { readonly replayMark: number; readonly seqMark: number },
  ) {
    const { actor } = market;
    const { id, symbol } = actor.definition;
    market.halted = true;
    this.options.inspect?.({ type: 'market.fault', marketId: id, symbol, message });
    const reversed = postings.map((p) => ({ ...p, amount: -p.amount })).reverse();
    if (reversed.length > 0) {
      const undone = this.options.ledger.apply(reversed);
      if (!undone.ok) {
        this.fatal(new Error(`cannot undo the ledger postings of ${symbol}: ${undone.message}`));
        return;
      }
    }
    for (const envelope of envelopes) envelope.reply(unavailable(symbol));
    setImmediate(() => {
      actor.rebuild(marks.replayMark, marks.seqMark);
      market.halted = false;
      this.options.inspect?.({ type: 'market.recovered', marketId: id, symbol });
      if (actor.mailbox.size > 0) this.schedule(market);
      else this.settled();
      this.quiesced();
    });
  }

  private fatal(error: Error): void {
    const onFatal =
      this.options.onFatal ??
      ((e: Error) =>
        setImmediate(() => {
          throw e;
        }));
    onFatal(error);
  }

  private settled(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
