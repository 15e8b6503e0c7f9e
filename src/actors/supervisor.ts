// Over ~400 lines as one concept: the supervisor. Routing commands, draining mailboxes, committing
// batches in order and undoing a failed flush share one state per market (its batches in flight).
import type { InspectionEvent } from 'xstate';
import type { LifecycleState } from '../../machines/marketLifecycle.ts';
import { FundingRegister, type FundingCommand, type FundingRefusal } from './funding/index.ts';
import type { Ledger, LedgerSnapshot, Posting } from './ledger/index.ts';
import {
  MarketActor,
  MarketFault,
  type Envelope,
  type MarketState,
  type RebuildPoint,
} from './market/marketActor.ts';
import {
  LEDGER_JOURNAL_ID,
  type BatchSink,
  type CommandResult,
  type DepositCommand,
  type JournalBatch,
  type LedgerCommand,
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

/** What a durable rebuild needs to know of a market (SupervisorOptions.rebuildMarket). */
export interface MarketRebuildRequest {
  readonly definition: MarketDefinition;
  readonly baseDecimals: number;
  readonly quoteDecimals: number;
  /** The market sequence its committed journal records end at: the rebuilt state must have it. */
  readonly seq: number;
}

export interface SupervisorOptions {
  readonly ledger: Ledger;
  /**
   * Where batches are committed. Contract: a failed commit fails every commit called after it that
   * is not yet settled (the JournalWriter rejects the failed flush and everything queued behind it,
   * newest first), since a market's later batches were computed on top of the failed one.
   */
  readonly sink: BatchSink;
  readonly mailboxSize?: number;
  readonly batchSize?: number;
  /**
   * Batches a market may have processed and handed to the sink but not yet seen committed (default
   * 4): the market processes its next batch while earlier ones commit, so matching, encoding and the
   * flush overlap. Replies are still released strictly in batch order, each after its commit.
   */
  readonly maxBatchesInFlight?: number;
  /** Batches between in-memory rebuild points (snapshots of the book and lifecycle). */
  readonly checkpointEvery?: number;
  readonly inspect?: (event: ActorInspection) => void;
  /**
   * The clock of the GTD expiry scheduler (default Date.now): read here, in the host, never in a
   * market, and sent to it inside the `expire` command.
   */
  readonly now?: (() => number) | undefined;
  /** Figures of the matching core (metrics are a sink: the actors never see what records them). */
  readonly observe?: SupervisorObserver;
  /**
   * Called with every committed batch (a market's, or a `@ledger` credit record), after its replies
   * have been released and in commit order per market: market data and private pushes are
   * published from here, so nothing is published before it is durable.
   */
  readonly publish?: (batch: JournalBatch) => void;
  /**
   * Compliance gate of every market (RWA markets): a refusal message answers `compliance` to a
   * place or an amend that adds exposure (it never reaches the book), and cancels a triggered stop
   * (reason `compliance`) instead of executing it (see MarketActorOptions.admit). Consulted live
   * only (replay trusts the journal), so it may read state that changes.
   */
  readonly admit?: (market: MarketDefinition, userId: string) => string | undefined;
  /**
   * The durable rebuild of a market after a fault or a failed commit (issue 5 §4): its state from
   * its latest durable snapshot plus its committed journal records (src/persistence/marketRebuild.ts).
   * Called once every batch of the market has settled. When absent, or when it rejects (Postgres is
   * unreachable, as it may well be after a failed commit), the market is rebuilt from its in-memory
   * rebuild point instead, which is exact too.
   */
  readonly rebuildMarket?: (market: MarketRebuildRequest) => Promise<MarketState>;
  /**
   * How long a market waits for `rebuildMarket` before rebuilding from memory instead (default
   * 5,000 ms): a journal that hangs (an exhausted pool, a dead connection) must not keep the market
   * halted for ever.
   */
  readonly rebuildTimeoutMs?: number;
  /**
   * A fault the supervisor cannot contain: a batch whose ledger postings can no longer be undone
   * (a commit failed after other markets had already used funds that batch moved). Default: fail
   * stop, by rethrowing outside any promise so the process exits; nothing unacknowledged is lost and
   * durable recovery rebuilds the exchange.
   */
  readonly onFatal?: (error: Error) => void;
}

export interface SupervisorObserver {
  /** One mailbox batch processed (matched, postings applied), before it goes to the sink. */
  batchProcessed(symbol: string, commands: number, seconds: number): void;
}

export interface MarketInfo {
  readonly id: string;
  readonly symbol: string;
  readonly state: LifecycleState;
  readonly status: 'running' | 'halted';
  readonly mailboxDepth: number;
  readonly processed: number;
}

/** A batch processed and handed to the sink, not yet released. */
interface InFlight {
  readonly output: JournalBatch;
  readonly envelopes: Envelope[];
  /** Where the market stood before this batch: the rebuild target when it is undone. */
  readonly replayMark: number;
  readonly seqMark: number;
  /** Taken after this batch when a new rebuild point was due; adopted once it is committed. */
  readonly point: RebuildPoint | undefined;
  status: 'committing' | 'committed' | 'undone';
}

interface Supervised {
  readonly actor: MarketActor;
  readonly baseDecimals: number;
  readonly quoteDecimals: number;
  /** Faulted or a commit failed: refusing commands until its batches settle and it is rebuilt. */
  halted: boolean;
  scheduled: boolean;
  /** In processing order; the head is released as soon as it is committed. */
  readonly inFlight: InFlight[];
  /** Where to rebuild to (the oldest undone batch's marks), while halted. */
  rebuildTo: { replayMark: number; seqMark: number } | undefined;
  rebuilding: boolean;
  /** Batches processed since the last rebuild point was taken. */
  sinceCheckpoint: number;
  /** The GTD expiry timer: when it fires, and the timer itself (issue 14). */
  expiryAt: number | undefined;
  expiryTimer: NodeJS.Timeout | undefined;
  /** An `expire` command is on its way: no other is armed until it is answered. */
  expiring: boolean;
}

/** setTimeout's longest delay; a later expiry re-arms when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A halted market's expiry is retried after this long. */
const EXPIRY_RETRY_MS = 1_000;

/** A funding command's answer (Supervisor.fund): journaled at `seq`, or refused and nothing changed. */
export type FundingOutcome =
  | { readonly ok: true; readonly seq: number }
  | FundingRefusal
  | { readonly ok: false; readonly code: 'unavailable'; readonly message: string };

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

const reversed = (postings: readonly Posting[]): Posting[] =>
  postings.map((p) => ({ ...p, amount: -p.amount })).reverse();

/**
 * Owns the market actors: routes commands by symbol, drains each mailbox one batch per turn of the
 * event loop, hands batches to the sink and releases replies after the commit, in batch order.
 *
 * Pipelined: a market processes its next batch while up to `maxBatchesInFlight` earlier ones are
 * being committed, so the group-commit writer takes several batches of each market per flush and
 * matching overlaps the database. A market whose actor throws, or one of whose commits fails, halts:
 * every batch of it that will not be committed is undone, newest first (ledger postings reversed,
 * commands answered `unavailable`), batches already on their way may still commit and are answered
 * normally, and once all have settled the market is rebuilt (from the durable path when
 * `rebuildMarket` is given, else from its in-memory rebuild point) and resumes. The other markets
 * never notice.
 */
export class Supervisor {
  private readonly markets = new Map<string, Supervised>();
  private readonly mailboxSize: number;
  private readonly batchSize: number;
  private readonly checkpointEvery: number;
  private readonly maxBatchesInFlight: number;
  private idleWaiters: (() => void)[] = [];
  private quiescenceWaiters: ((state: ExchangeState) => void)[] = [];
  /** Sequence of the `@ledger` journal records (credits); recovery resumes it. */
  private ledgerSeq = 0;
  /** What funding commands did (issue 15): consulted before each one, rebuilt by recovery. */
  readonly funding = new FundingRegister();
  private creditsCommitting = 0;
  private expiriesStopped = false;
  /** Which markets this process sends expiries to (an engine: the ones it owns); default all. */
  private expiryGate: (marketId: string) => boolean = () => true;

  constructor(private readonly options: SupervisorOptions) {
    this.mailboxSize = options.mailboxSize ?? 10_000;
    this.batchSize = options.batchSize ?? 512;
    this.checkpointEvery = options.checkpointEvery ?? 1_000;
    this.maxBatchesInFlight = options.maxBatchesInFlight ?? 4;
    if (!Number.isSafeInteger(this.maxBatchesInFlight) || this.maxBatchesInFlight < 1) {
      throw new RangeError('maxBatchesInFlight must be a positive integer');
    }
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
      admit: this.options.admit && ((userId: string) => this.options.admit?.(definition, userId)),
      inspect:
        inspect &&
        ((event) => {
          inspect({ type: 'xstate', marketId: definition.id, event });
        }),
    });
    this.markets.set(definition.symbol, {
      actor,
      baseDecimals: options.baseDecimals,
      quoteDecimals: options.quoteDecimals,
      halted: false,
      scheduled: false,
      inFlight: [],
      rebuildTo: undefined,
      rebuilding: false,
      sinceCheckpoint: 0,
      expiryAt: undefined,
      expiryTimer: undefined,
      expiring: false,
    });
    this.armExpiry(this.markets.get(definition.symbol)!);
    return actor;
  }

  /** Arms every market's GTD expiry timer (after a recovery changed their books behind its back). */
  armExpiries(): void {
    for (const market of this.markets.values()) this.armExpiry(market);
  }

  /**
   * Sends expiries only to the markets `gate` lets through (an engine: the markets it owns and
   * serves, docs/scale-out.md); the others' timers are cleared. Call `armExpiries()` when what the
   * gate answers changes (a market taken or handed over).
   */
  expireOnly(gate: (marketId: string) => boolean): void {
    this.expiryGate = gate;
    this.armExpiries();
  }

  /** Stops the expiry timers for good (shutdown: nothing may reach a sink being closed). */
  stopExpiries(): void {
    this.expiriesStopped = true;
    for (const market of this.markets.values()) {
      clearTimeout(market.expiryTimer);
      market.expiryTimer = market.expiryAt = undefined;
    }
  }

  /**
   * Keeps one timer per market at its earliest GTD expiry. When it fires, the market gets
   * `{kind:"expire", now}`: time enters the deterministic core as a journaled command.
   */
  private armExpiry(market: Supervised, retryAt?: number): void {
    if (this.expiriesStopped || market.expiring) return;
    const at = this.expiryGate(market.actor.definition.id)
      ? (retryAt ?? market.actor.nextExpiry())
      : undefined;
    if (at === market.expiryAt) return;
    clearTimeout(market.expiryTimer);
    market.expiryAt = at;
    market.expiryTimer = undefined;
    if (at === undefined) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at - this.now()));
    market.expiryTimer = setTimeout(() => {
      this.expireDue(market);
    }, delay);
    // Never what keeps the process alive.
    market.expiryTimer.unref();
  }

  private expireDue(market: Supervised): void {
    market.expiryTimer = market.expiryAt = undefined;
    const now = this.now();
    const due = market.actor.nextExpiry();
    if (due === undefined || !this.expiryGate(market.actor.definition.id)) return;
    if (market.halted) {
      this.armExpiry(market, now + EXPIRY_RETRY_MS);
    } else if (due > now) {
      this.armExpiry(market);
    } else {
      // Answered once committed (or refused: busy, halted): then the next expiry is armed, or
      // this one retried.
      market.expiring = true;
      this.send(market.actor.definition.symbol, { kind: 'expire', now }, now, (result) => {
        market.expiring = false;
        this.armExpiry(market, result.ok ? undefined : this.now() + EXPIRY_RETRY_MS);
      });
    }
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
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
  send(
    symbol: string,
    command: MarketCommand,
    ts: number,
    reply: (result: CommandResult) => void,
    commandId?: string,
  ): void {
    const market = this.markets.get(symbol);
    if (market === undefined) {
      reply({ ok: false, code: 'unknown_market', message: `no market ${symbol}` });
    } else if (market.halted) {
      reply(unavailable(symbol));
    } else if (
      !market.actor.mailbox.offer(
        commandId === undefined ? { command, ts, reply } : { command, ts, reply, commandId },
      )
    ) {
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
   * answers `unavailable`. `commandId` (a cluster's request id) is journaled with the entry, so a
   * redelivered request is answered from the journal instead of crediting twice.
   */
  async credit(
    userId: string,
    asset: string,
    amount: bigint,
    ts: number,
    commandId?: string,
  ): Promise<CommandResult> {
    const applied = this.options.ledger.deposit(userId, asset, amount);
    if (!applied.ok) return { ok: false, code: applied.code, message: applied.message };
    const command: DepositCommand = { kind: 'deposit', userId, asset, amount };
    return this.commitLedger(command, applied.postings, ts, `the credit of ${asset} to ${userId}`, {
      commandId,
    });
  }

  /**
   * A funding command (issue 15: a deposit credited or failed, a withdrawal's change), checked by
   * the funding register and applied to it and the ledger at once, synchronously, then journaled as
   * a `@ledger` record: answers once that record is committed. A refusal (`duplicate`: this deposit
   * was credited already, or the withdrawal is in that state; `invalid_transition`;
   * `insufficient_funds`) changes nothing; a failed commit undoes both and answers `unavailable`.
   */
  async fund(command: FundingCommand, ts: number, commandId?: string): Promise<FundingOutcome> {
    const applied = this.funding.apply(command, this.options.ledger);
    if (!applied.ok) return applied;
    const id = command.kind === 'withdrawal' ? command.withdrawalId : command.depositId;
    const result = await this.commitLedger(command, applied.postings, ts, `${command.kind} ${id}`, {
      commandId,
      undo: () => {
        applied.undo();
      },
    });
    return result.ok
      ? { ok: true, seq: result.seq }
      : { ok: false, code: 'unavailable', message: result.message };
  }

  private async commitLedger(
    command: LedgerCommand,
    postings: readonly Posting[],
    ts: number,
    what: string,
    { commandId, undo }: { commandId?: string | undefined; undo?: () => void },
  ): Promise<CommandResult> {
    const { ledger, sink } = this.options;
    const seq = ++this.ledgerSeq;
    const result: CommandResult = { ok: true, seq, events: [] };
    const entry = { seq, ts, command, result, postings };
    const record: JournalBatch = {
      marketId: LEDGER_JOURNAL_ID,
      symbol: LEDGER_JOURNAL_ID,
      state: 'active',
      entries: [commandId === undefined ? entry : { ...entry, commandId }],
    };
    this.creditsCommitting++;
    try {
      await sink.commit(record);
    } catch (error) {
      // Its number is not reused (credits may be outstanding behind it): `@ledger` records can
      // have gaps in their seq, which recovery allows.
      const undone = ledger.apply(reversed(postings));
      undo?.();
      if (!undone.ok) {
        this.fatal(new Error(`cannot undo ${what}: ${undone.message}`));
      }
      return {
        ok: false,
        code: 'unavailable',
        message: `${what} was not journaled (${String(error)}); nothing changed`,
      };
    } finally {
      this.creditsCommitting--;
      this.settled();
      this.quiesced();
    }
    this.options.publish?.(record);
    return result;
  }

  /** The last `@ledger` sequence number used (a replica of the shared journal follows others'). */
  get ledgerSequence(): number {
    return this.ledgerSeq;
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
   * what `take` returns; rejects with what it throws. With batches pipelined such an instant may
   * never come under sustained load, so while anyone waits for it no market starts a new batch:
   * the batches in flight commit, `take` runs, and the markets resume.
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
    for (const m of this.markets.values()) if (m.inFlight.length > 0 || m.halted) return false;
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
    // Markets held back for this instant (see atQuiescence) go on.
    for (const market of this.markets.values()) if (market.actor.mailbox.size > 0) this.schedule(market);
  }

  /**
   * Whether one market has nothing queued, scheduled or being committed (a cluster engine hands a
   * market over once it is: its other markets may stay busy).
   */
  isMarketIdle(symbol: string): boolean {
    if (symbol === LEDGER_JOURNAL_ID) return this.creditsCommitting === 0;
    const m = this.markets.get(symbol);
    return m === undefined || (m.actor.mailbox.size === 0 && m.inFlight.length === 0 && !m.scheduled);
  }

  private isIdle(): boolean {
    if (this.creditsCommitting > 0) return false;
    for (const m of this.markets.values()) {
      if (m.actor.mailbox.size > 0 || m.inFlight.length > 0 || m.scheduled || m.halted) return false;
    }
    return true;
  }

  private schedule(market: Supervised): void {
    if (market.scheduled || market.halted || market.inFlight.length >= this.maxBatchesInFlight) return;
    market.scheduled = true;
    setImmediate(() => {
      this.drain(market);
    });
  }

  /** Processes one batch of the market and hands it to the sink; the next waits for the next turn. */
  private drain(market: Supervised): void {
    market.scheduled = false;
    if (market.halted || market.inFlight.length >= this.maxBatchesInFlight) return;
    // Held for atQuiescence: rescheduled by quiesced().
    if (this.quiescenceWaiters.length > 0) return;
    const { actor } = market;
    const { sink } = this.options;
    if (sink.canAccept?.() === false) {
      // Backpressure: wait for the sink to drain instead of growing its queue.
      market.scheduled = true;
      const resume = () => {
        this.drain(market);
      };
      if (sink.whenAccepting === undefined) setTimeout(resume, 1);
      else void sink.whenAccepting().then(resume);
      return;
    }
    let batch: ReturnType<MarketActor['processBatch']>;
    const { observe } = this.options;
    // The clock is read only when someone listens.
    const started = observe === undefined ? 0 : performance.now();
    try {
      batch = actor.processBatch();
    } catch (error) {
      if (!(error instanceof MarketFault)) throw error;
      this.fault(market, error);
      return;
    }
    if (batch === undefined) {
      this.settled();
      return;
    }
    if (observe !== undefined) {
      const seconds = (performance.now() - started) / 1000;
      observe.batchProcessed(actor.definition.symbol, batch.output.entries.length, seconds);
    }
    let point: RebuildPoint | undefined;
    if (++market.sinceCheckpoint >= this.checkpointEvery) {
      point = actor.rebuildPoint();
      market.sinceCheckpoint = 0;
    }
    const flight: InFlight = { ...batch, point, status: 'committing' };
    market.inFlight.push(flight);
    let committed: void | Promise<void>;
    try {
      committed = sink.commit(batch.output);
    } catch (error) {
      committed = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    Promise.resolve(committed).then(
      () => {
        this.committed(market, flight);
      },
      (error: unknown) => {
        this.commitFailed(market, flight, error);
      },
    );
    this.armExpiry(market);
    if (actor.mailbox.size > 0) this.schedule(market);
  }

  /** Marks a batch committed and releases, in batch order, every committed batch at the head. */
  private committed(market: Supervised, flight: InFlight): void {
    const { actor } = market;
    if (flight.status === 'undone') {
      this.fatal(
        new Error(
          `market ${actor.definition.symbol}: the sink committed a batch after an earlier one of the ` +
            `market failed; it was undone in memory`,
        ),
      );
      return;
    }
    flight.status = 'committed';
    const { inFlight } = market;
    while (inFlight[0]?.status === 'committed') {
      const head = inFlight.shift()!;
      const { entries } = head.output;
      for (let i = 0; i < entries.length; i++) head.envelopes[i]!.reply(entries[i]!.result);
      this.options.publish?.(head.output);
      if (head.point !== undefined) actor.checkpointAt(head.point);
      this.options.inspect?.({
        type: 'market.batch',
        marketId: actor.definition.id,
        symbol: actor.definition.symbol,
        state: head.output.state,
        batchSize: entries.length,
        mailboxDepth: actor.mailbox.size,
        processed: actor.processed,
      });
    }
    if (market.halted) this.recoverWhenSettled(market);
    else if (actor.mailbox.size > 0) this.schedule(market);
    this.settled();
    this.quiesced();
  }

  /**
   * A commit failed: this batch and every later one of the market are undone, newest first. The
   * JournalWriter rejects a failed flush newest first across markets, so undoing in the rejection
   * handlers reverses postings in exactly the reverse of processing order. Earlier batches still
   * committing settle on their own.
   */
  private commitFailed(market: Supervised, flight: InFlight, error: unknown): void {
    if (flight.status === 'undone') return;
    if (flight.status === 'committed') throw new Error('a commit settled twice');
    const { inFlight } = market;
    const from = inFlight.indexOf(flight);
    this.halt(market, `commit failed: ${String(error)}`);
    for (let i = inFlight.length - 1; i >= from; i--) {
      const undone = inFlight[i]!;
      undone.status = 'undone';
      if (
        !this.undo(
          market,
          undone.output.entries.flatMap((e) => e.postings),
          undone.envelopes,
        )
      )
        return;
    }
    inFlight.length = from;
    market.rebuildTo = { replayMark: flight.replayMark, seqMark: flight.seqMark };
    this.recoverWhenSettled(market);
  }

  /** The actor threw: its batch is undone at once (it is the newest anywhere: nothing ran since). */
  private fault(market: Supervised, fault: MarketFault): void {
    this.halt(market, fault.message);
    if (!this.undo(market, fault.postings, fault.envelopes)) return;
    market.rebuildTo = fault.marks;
    this.recoverWhenSettled(market);
  }

  private halt(market: Supervised, message: string): void {
    if (market.halted) return;
    market.halted = true;
    const { id, symbol } = market.actor.definition;
    this.options.inspect?.({ type: 'market.fault', marketId: id, symbol, message });
  }

  /** Reverses a batch's postings and answers its commands `unavailable`; false when fatal. */
  private undo(market: Supervised, postings: readonly Posting[], envelopes: readonly Envelope[]): boolean {
    const { symbol } = market.actor.definition;
    if (postings.length > 0) {
      const undone = this.options.ledger.apply(reversed(postings));
      if (!undone.ok) {
        this.fatal(new Error(`cannot undo the ledger postings of ${symbol}: ${undone.message}`));
        return false;
      }
    }
    for (const envelope of envelopes) envelope.reply(unavailable(symbol));
    return true;
  }

  /**
   * Once none of a halted market's batches is still committing, rebuilds it to the state after its
   * last committed batch and resumes it, on a later turn.
   */
  private recoverWhenSettled(market: Supervised): void {
    if (market.rebuilding || market.inFlight.length > 0) return;
    const target = market.rebuildTo;
    if (target === undefined) return;
    market.rebuilding = true;
    setImmediate(() => void this.rebuild(market, target));
  }

  private async rebuild(
    market: Supervised,
    target: { readonly replayMark: number; readonly seqMark: number },
  ): Promise<void> {
    const { actor } = market;
    const { id, symbol } = actor.definition;
    const { rebuildMarket, rebuildTimeoutMs = 5_000 } = this.options;
    let durable: MarketState | undefined;
    if (rebuildMarket !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      try {
        durable = await Promise.race([
          rebuildMarket({
            definition: actor.definition,
            baseDecimals: market.baseDecimals,
            quoteDecimals: market.quoteDecimals,
            seq: target.seqMark,
          }),
          new Promise<undefined>((resolve) => {
            timer = setTimeout(() => {
              resolve(undefined);
            }, rebuildTimeoutMs);
          }),
        ]);
      } catch {
        // Unreachable journal: the in-memory rebuild point gives the same state.
        durable = undefined;
      } finally {
        clearTimeout(timer);
      }
    }
    if (durable !== undefined && durable.seq !== target.seqMark) {
      market.rebuilding = false;
      this.fatal(
        new Error(
          `market ${symbol}: its committed journal ends at seq ${durable.seq}, memory says ${target.seqMark}`,
        ),
      );
      return;
    }
    if (durable === undefined) actor.rebuild(target.replayMark, target.seqMark);
    else actor.rebuildFrom(durable);
    market.sinceCheckpoint = 0;
    market.rebuildTo = undefined;
    market.rebuilding = false;
    market.halted = false;
    this.options.inspect?.({ type: 'market.recovered', marketId: id, symbol });
    if (actor.mailbox.size > 0) this.schedule(market);
    this.settled();
    this.quiesced();
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

/**
 * Where `@ledger` commands go: the supervisor itself (ROLE=all, the engine owning `@ledger`), or a
 * gateway's route to that owner over NATS (src/app/cluster/router.ts, docs/scale-out.md).
 */
export type LedgerEntry = Pick<Supervisor, 'credit' | 'fund'>;
