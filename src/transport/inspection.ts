import type { InspectionEvent } from 'xstate';
import type { ActorInspection } from '../actors/supervisor.ts';
import type { InProcessConsumer } from '../events/stream.ts';
import type { Publication } from '../protocol/topics.ts';
import {
  ACTORS_TOPIC,
  type ActorsMessage,
  type ActorTransition,
  type ListedActor,
  type MarketFigures,
  type MarketUpdate,
  type SupervisorFigures,
} from './actorsChannel.ts';
import { WithdrawalActors, type ListedWithdrawal } from './withdrawalActors.ts';

/*
 * The server side of the admin-only `actors` channel (the actor-state visualizer, web/actors).
 * It folds the supervisor's inspection stream (XState inspection events of each market's
 * lifecycle actor, plus mailbox figures after each committed batch) into one small record per
 * market, and publishes what changed at most once per throttle window: a hot market committing
 * thousands of batches a second costs its subscribers one message per window, carrying the latest
 * state, the transitions since the previous message, processed/s over the window, the last batch
 * size and the mailbox depth. Folding is a few field writes per event, so it stays on even when
 * nobody watches; the gateway encodes a publication only when the topic has subscribers.
 *
 * XState reports a transition when the actor processes it, before its batch is committed: the
 * page may show a lifecycle change a few milliseconds before the `lifecycle` channel does, and,
 * if that batch's commit fails, a change that is then undone (the market faults, is rebuilt, and
 * transitions replayed while it recovers are flagged `replayed`).
 */

export * from './actorsChannel.ts';
export type { ListedWithdrawal } from './withdrawalActors.ts';

/** Transitions kept per market for a new subscriber's snapshot. */
export const HISTORY_LIMIT = 20;
/** Transitions a single update carries per market; older ones of the window are counted, not sent. */
export const UPDATE_TRANSITIONS_LIMIT = 20;

export interface InspectionFeedOptions {
  /** At most one publication per this many ms (default 250). */
  readonly throttleMs?: number;
  /** Where publications go (the gateway's publish). */
  readonly publish?: (publications: readonly Publication[]) => void;
  /** A market's symbol by id, for XState events (they carry the id only). */
  readonly symbolOf?: (marketId: string) => string | undefined;
  /** The supervisor's markets, read by snapshot() (a late-bound `() => supervisor.list()`). */
  readonly markets?: () => readonly ListedActor[];
  /** Default Date.now. */
  readonly now?: () => number;
  /** An asset's decimals, for withdrawals' amounts (default 2). */
  readonly decimalsOf?: (asset: string) => number | undefined;
}

export interface InspectionFeed {
  /** Give this to SupervisorOptions.inspect. */
  readonly inspect: (event: ActorInspection) => void;
  /** Every market's current figures and recent transitions, for a new subscriber. */
  snapshot(): ActorsMessage;
  /**
   * Replaces a market's recent transitions with these (the journaled ones, oldest first): at start,
   * once recovery is done, so a market restored from a snapshot (which replays no transition) shows
   * the transitions it took, as GET /markets/:id/events does.
   */
  seedHistory(marketId: string, transitions: readonly ActorTransition[]): void;
  /** Transitions kept per market (HISTORY_LIMIT). */
  readonly historyLimit: number;
  /**
   * Withdrawals as actors (withdrawalActors.ts): subscribe this to the committed event stream; it
   * folds each `withdrawal.changed` and publishes with the markets' throttled messages.
   */
  readonly withdrawals: InProcessConsumer;
  /** The open withdrawals at start (the funding register's, after recovery). */
  seedWithdrawals(listed: readonly ListedWithdrawal[]): void;
  /** Publishes what is pending now (tests, shutdown). */
  flush(): void;
  /** Cancels the pending publication. */
  stop(): void;
}

interface MarketRecord {
  readonly marketId: string;
  symbol: string;
  machine: string;
  state: string;
  /** XState reported this market's state: batches (committed later, pipelined) no longer set it. */
  followsXState: boolean;
  status: 'running' | 'halted';
  mailboxDepth: number;
  /** Since the previous publication (see MarketFigures.peakMailboxDepth). */
  peakDepth: number;
  lastBatchSize: number;
  processed: number;
  batches: number;
  faults: number;
  lastFault: string | undefined;
  processedPerSec: number;
  /** `processed` and time at the previous publication: the window processed/s is computed over. */
  windowProcessed: number;
  windowStart: number;
  /** Since the previous publication. */
  pending: ActorTransition[];
  droppedTransitions: number;
  readonly history: ActorTransition[];
  dirty: boolean;
}

const MACHINE_DEFAULT = 'marketLifecycle';

export function createInspectionFeed(options: InspectionFeedOptions = {}): InspectionFeed {
  const throttleMs = options.throttleMs ?? 250;
  if (!(Number.isFinite(throttleMs) && throttleMs >= 0)) {
    throw new RangeError(`throttleMs must be a non-negative number, got ${throttleMs}`);
  }
  const now = options.now ?? Date.now;
  const markets = new Map<string, MarketRecord>();
  let recoveries = 0;
  let supervisorDirty = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastPublished = -Infinity;
  const withdrawals = new WithdrawalActors(options.decimalsOf ?? (() => undefined), now);

  const record = (marketId: string, symbol?: string): MarketRecord => {
    let market = markets.get(marketId);
    if (market === undefined) {
      const t = now();
      market = {
        marketId,
        symbol: symbol ?? options.symbolOf?.(marketId) ?? marketId,
        machine: MACHINE_DEFAULT,
        state: 'unknown',
        followsXState: false,
        status: 'running',
        mailboxDepth: 0,
        peakDepth: 0,
        lastBatchSize: 0,
        processed: 0,
        batches: 0,
        faults: 0,
        lastFault: undefined,
        processedPerSec: 0,
        windowProcessed: 0,
        windowStart: t,
        pending: [],
        droppedTransitions: 0,
        history: [],
        dirty: true,
      };
      markets.set(marketId, market);
      supervisorDirty = true;
    } else if (symbol !== undefined && market.symbol !== symbol) {
      market.symbol = symbol;
    }
    return market;
  };

  const changed = (market: MarketRecord | undefined): void => {
    if (market !== undefined) market.dirty = true;
    schedule();
  };

  /** Leading edge after a quiet window, then at most once per window. */
  const schedule = (): void => {
    if (timer !== undefined) return;
    const wait = Math.max(0, lastPublished + throttleMs - now());
    timer = setTimeout(() => {
      timer = undefined;
      flush();
    }, wait);
  };

  const onXState = (market: MarketRecord, event: InspectionEvent): void => {
    if (event.type !== '@xstate.snapshot' && event.type !== '@xstate.transition') return;
    const snapshot = event.snapshot as { value?: unknown; machine?: { id?: unknown } };
    if (snapshot.value === undefined) return;
    if (typeof snapshot.machine?.id === 'string') market.machine = snapshot.machine.id;
    market.followsXState = true;
    const to = stateName(snapshot.value);
    const from = market.state;
    if (to === from) return;
    market.state = to;
    // `xstate.init`: an actor (re)started in a state (creation, restore), not a transition taken.
    if (event.event.type !== 'xstate.init' && from !== 'unknown') {
      const ts = (event.event as { ts?: unknown }).ts;
      const transition: ActorTransition = {
        from,
        to,
        event: event.event.type,
        ts: typeof ts === 'number' ? ts : now(),
        ...(market.status === 'halted' ? { replayed: true } : {}),
      };
      market.pending.push(transition);
      if (market.pending.length > UPDATE_TRANSITIONS_LIMIT) {
        market.pending.shift();
        market.droppedTransitions++;
      }
      market.history.push(transition);
      if (market.history.length > HISTORY_LIMIT) market.history.shift();
    }
    changed(market);
  };

  const inspect = (event: ActorInspection): void => {
    switch (event.type) {
      case 'xstate':
        onXState(record(event.marketId), event.event);
        return;
      case 'market.batch': {
        const market = record(event.marketId, event.symbol);
        // A batch's state is as of its processing; with batches pipelined a newer transition may
        // already have been reported, and must not be overwritten (nor its reverse missed).
        if (!market.followsXState) market.state = event.state;
        market.mailboxDepth = event.mailboxDepth;
        market.peakDepth = Math.max(market.peakDepth, event.batchSize + event.mailboxDepth);
        market.lastBatchSize = event.batchSize;
        market.processed = event.processed;
        market.batches++;
        changed(market);
        return;
      }
      case 'market.fault': {
        const market = record(event.marketId, event.symbol);
        market.status = 'halted';
        market.faults++;
        market.lastFault = event.message;
        supervisorDirty = true;
        changed(market);
        return;
      }
      case 'market.recovered': {
        const market = record(event.marketId, event.symbol);
        market.status = 'running';
        recoveries++;
        supervisorDirty = true;
        changed(market);
        return;
      }
    }
  };

  const supervisorFigures = (): SupervisorFigures => {
    let halted = 0;
    let mailboxDepth = 0;
    let processedPerSec = 0;
    let faults = 0;
    for (const m of markets.values()) {
      if (m.status === 'halted') halted++;
      mailboxDepth += m.mailboxDepth;
      processedPerSec += m.processedPerSec;
      faults += m.faults;
    }
    return { markets: markets.size, halted, mailboxDepth, processedPerSec, faults, recoveries };
  };

  const figures = (m: MarketRecord): MarketFigures => ({
    marketId: m.marketId,
    symbol: m.symbol,
    machine: m.machine,
    state: m.state,
    status: m.status,
    mailboxDepth: m.mailboxDepth,
    peakMailboxDepth: Math.max(m.peakDepth, m.mailboxDepth),
    processedPerSec: m.processedPerSec,
    lastBatchSize: m.lastBatchSize,
    processed: m.processed,
    batches: m.batches,
    faults: m.faults,
    ...(m.lastFault === undefined ? {} : { lastFault: m.lastFault }),
  });

  function flush(): void {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    const t = now();
    const updates: MarketUpdate[] = [];
    let busy = false;
    for (const m of markets.values()) {
      if (!m.dirty) continue;
      const elapsed = t - m.windowStart;
      const done = Math.max(0, m.processed - m.windowProcessed);
      m.processedPerSec = elapsed > 0 ? Math.round((done * 1000) / elapsed) : m.processedPerSec;
      m.windowProcessed = m.processed;
      m.windowStart = t;
      updates.push({
        ...figures(m),
        transitions: m.pending,
        ...(m.droppedTransitions > 0 ? { droppedTransitions: m.droppedTransitions } : {}),
      });
      const peakAboveDepth = m.peakDepth > m.mailboxDepth;
      m.pending = [];
      m.droppedTransitions = 0;
      m.peakDepth = 0;
      // A market that was busy gets one more message after it goes quiet, so its rate falls to 0
      // and its window's peak to the depth now (a window whose batches were counted in the one
      // before has rate 0 but a peak: the page kept showing that peak).
      m.dirty = m.processedPerSec > 0 || peakAboveDepth;
      busy ||= m.dirty;
    }
    const changedWithdrawals = withdrawals.drain();
    if (updates.length === 0 && !supervisorDirty && changedWithdrawals.length === 0) return;
    supervisorDirty = false;
    lastPublished = t;
    const message: ActorsMessage = {
      op: 'actors',
      kind: 'update',
      ts: t,
      supervisor: supervisorFigures(),
      markets: updates,
      ...(changedWithdrawals.length === 0 ? {} : { withdrawals: changedWithdrawals }),
    };
    options.publish?.([{ topic: ACTORS_TOPIC, message }]);
    if (busy) schedule();
  }

  return {
    inspect,
    snapshot(): ActorsMessage {
      for (const listed of options.markets?.() ?? []) {
        const m = record(listed.id, listed.symbol);
        if (m.state === 'unknown') m.state = listed.state;
        m.status = listed.status;
        m.mailboxDepth = listed.mailboxDepth;
        if (m.batches === 0 && m.processed === 0) {
          // Heard of only now: its count so far is not this window's work.
          m.processed = listed.processed;
          m.windowProcessed = listed.processed;
        }
      }
      const list: MarketUpdate[] = [...markets.values()].map((m) => ({
        ...figures(m),
        transitions: [...m.history],
      }));
      const shown = withdrawals.snapshot();
      return {
        op: 'actors',
        kind: 'snapshot',
        ts: now(),
        supervisor: supervisorFigures(),
        markets: list,
        withdrawals: shown.withdrawals,
        ...(shown.omitted > 0 ? { withdrawalsOmitted: shown.omitted } : {}),
      };
    },
    withdrawals: {
      name: 'actors.withdrawals',
      onCommitted({ events }) {
        let any = false;
        for (const event of events) {
          if (event.type === 'withdrawal.changed') any = withdrawals.note(event) || any;
        }
        if (any) schedule();
      },
    },
    seedWithdrawals(listed: readonly ListedWithdrawal[]): void {
      withdrawals.seed(listed);
      schedule();
    },
    historyLimit: HISTORY_LIMIT,
    seedHistory(marketId: string, transitions: readonly ActorTransition[]): void {
      const market = record(marketId);
      market.history.length = 0;
      market.history.push(...transitions.slice(-HISTORY_LIMIT));
      changed(market);
    },
    flush,
    stop(): void {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** `"active"`, or for a machine with nested states `"parent.child"` (parallel regions joined by `,`). */
export function stateName(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .map(([key, child]) => {
        const inner = stateName(child);
        return inner === '' ? key : `${key}.${inner}`;
      })
      .join(',');
  }
  return '';
}
