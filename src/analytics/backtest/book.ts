import { OrderBook } from '../../actors/book/orderBook.ts';
import type {
  BookCommand,
  BookConfig,
  BookEvent,
  PlaceCommand,
  TriggerGate,
} from '../../actors/book/types.ts';
import type { BatchEntry, JournalCommand } from '../../actors/market/types.ts';
import {
  BacktestTimeout,
  type Fill,
  type FillSettings,
  type RoundTrip,
  type Simulation,
} from './nextOpen.ts';
import type { Series } from './series.ts';
import { HOLD, LONG, type Decider } from './strategy.ts';

/*
 * The `book` fill model (PROTOCOL v1.1; docs/analytics.md "book"). The market's recorded order
 * flow (its journal entries, in order) is replayed into a fresh src/actors/book OrderBook, the
 * exchange's own matching engine, and the strategy's orders go into that same book between
 * recorded commands, so they meet the resting liquidity as it was, behind the orders queued before
 * them. Two passes over the flow:
 *
 *   1. The recorded flow alone: its trades in [from, to) become the bars the strategy decides on
 *      (epoch-aligned intervals with a trade, as the history replay of next_open).
 *   2. The recorded flow again on a fresh book, with the strategy's order for bar i's decision
 *      placed right before the first recorded command at or after bar i's end (its close). The
 *      order is an IOC taker of the user BACKTEST_USER: a buy spends what the cash covers with the
 *      fee, a sell sells the whole position. With slippageBps = 0 it is a market order; with
 *      slippageBps > 0 a marketable limit at the bar's close moved against the trader by that many
 *      basis points (buy ⌊close × (1 + s)⌋, sell ⌈close × (1 − s)⌉, in ticks): the slippage is the
 *      worst price it accepts, the engine decides the price. Its fills are the engine's `fill`
 *      events of its order id; each is charged feeBps of its notional, rounded up (as next_open).
 *
 * Assumptions: the recorded flow is replayed as it was (same commands, same order ids, a market
 * buy's recorded budget, the compliance gate's recorded refusals) even where the strategy took
 * liquidity a recorded order met: the engine then does what it naturally does (the recorded taker
 * meets the next maker, or rests; a recorded cancel of an order the strategy filled is refused).
 * Nobody reacts to the strategy. Its orders never rest, so they only take; the bars (pass 1) do not
 * include its own trades. A decision on the last bar does not fill, and a fill is booked on the bar
 * after the decision, as next_open. Deterministic: no clock but the deadline, no randomness.
 */

/** The strategy's user in the simulated book: no recorded user can have it (ids are uuids). */
export const BACKTEST_USER = '@backtest';
/** The strategy's order ids: above every recorded id (those count up from 1). */
const STRATEGY_ID_BASE = 2 ** 52;
const BPS = 10_000n;
const CLOCK_EVERY = 65_536;

/** One recorded command as the engine takes it, with the journal's decisions it replays. */
export interface RecordedCommand {
  readonly ts: number;
  readonly command: BookCommand;
  /** The stops the compliance gate refused in this command (journaled), refused again; usually none. */
  readonly refused: readonly number[] | undefined;
}

/** Money of the market: how ticks and lots map to the series' price and quantity units. */
export interface BookMarket {
  readonly book: BookConfig;
  /** Price units (10^-priceScale) per tick. */
  readonly tickUnits: number;
  /** Quantity units (10^-qtyScale) per lot. */
  readonly lotUnits: number;
}

/**
 * The engine commands of a market's journal entries, as the market actor replays them
 * (marketActor.replayCommand): a placement that the market accepted with its order id (and a
 * market buy's budget from its `accepted` event); a cancel, amend, cancel_all or expire that
 * succeeded. Refused commands changed nothing in the book and are left out; lifecycle commands
 * are too (an archive's cancel_all per user is not replayed: the back-test ends at its window).
 */
export function recordedCommands(entries: readonly BatchEntry<JournalCommand>[]): RecordedCommand[] {
  const out: RecordedCommand[] = [];
  for (const { ts, command, result } of entries) {
    if (!result.ok) continue;
    const refused = refusedStops(result.events);
    switch (command.kind) {
      case 'place': {
        const orderId = result.orderId;
        if (orderId === undefined) continue;
        const accepted = result.events.find((e) => e.type === 'accepted' && e.orderId === orderId);
        const budgeted =
          command.side === 'buy' &&
          (command.type === 'market' ||
            command.type === 'stop_market' ||
            (command.type === 'trailing_stop' && command.limitOffset === undefined));
        const quoteBudget = budgeted && accepted?.type === 'accepted' ? accepted.quoteBudget : undefined;
        // Field by field, as the market actor's toBookPlace: every placement then has one shape
        // (decoded commands leave absent fields out, and a spread is slow on Node 20).
        const place: PlaceCommand = {
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
        out.push({ ts, command: place, refused });
        break;
      }
      case 'cancel':
        out.push({
          ts,
          command: {
            kind: 'cancel',
            userId: command.userId,
            orderId: command.orderId,
            clientOrderId: command.clientOrderId,
          },
          refused,
        });
        break;
      case 'amend':
        out.push({
          ts,
          command: {
            kind: 'amend',
            userId: command.userId,
            orderId: command.orderId,
            clientOrderId: command.clientOrderId,
            qty: command.qty,
            price: command.price,
          },
          refused,
        });
        break;
      case 'cancel_all':
        out.push({ ts, command: { kind: 'cancel_all', userId: command.userId }, refused });
        break;
      case 'expire':
        out.push({ ts, command: { kind: 'expire', now: command.now }, refused });
        break;
      default:
        break;
    }
  }
  return out;
}

function refusedStops(events: readonly BookEvent[]): number[] | undefined {
  let refused: number[] | undefined;
  for (const e of events)
    if (e.type === 'canceled' && e.reason === 'compliance') (refused ??= []).push(e.orderId);
  return refused;
}

function gateOf(refused: readonly number[] | undefined): TriggerGate | undefined {
  return refused === undefined ? undefined : (_userId, orderId) => !refused.includes(orderId);
}

/** Executes one recorded command with its journaled gate decisions. */
function replay(book: OrderBook, recorded: RecordedCommand): BookEvent[] {
  if (recorded.refused === undefined) return book.execute(recorded.command);
  book.triggerGate = gateOf(recorded.refused);
  try {
    return book.execute(recorded.command);
  } finally {
    book.triggerGate = undefined;
  }
}

/** Pass 1: the recorded flow's trades in [from, to) as bars (series units), and the commands replayed. */
export function recordedBars(
  flow: readonly RecordedCommand[],
  market: BookMarket,
  window: { readonly from: number; readonly to: number; readonly intervalMs: number },
  priceScale: number,
  qtyScale: number,
): Series {
  const book = new OrderBook(market.book);
  const { from, to, intervalMs } = window;
  const t: number[] = [];
  const o: number[] = [];
  const h: number[] = [];
  const l: number[] = [];
  const c: number[] = [];
  const v: number[] = [];
  for (const recorded of flow) {
    if (recorded.ts >= to) break;
    const events = replay(book, recorded);
    if (recorded.ts < from) continue;
    // Entry times are the market's clock, non-decreasing in practice; one that steps back joins
    // the latest bar, so bar times stay strictly increasing (as a Series needs).
    const latest = t.length === 0 ? Number.NEGATIVE_INFINITY : t[t.length - 1]!;
    const bucket = Math.max(Math.floor(recorded.ts / intervalMs) * intervalMs, latest);
    for (const e of events) {
      if (e.type !== 'fill') continue;
      const last = t.length - 1;
      if (last < 0 || t[last] !== bucket) {
        t.push(bucket);
        o.push(e.price);
        h.push(e.price);
        l.push(e.price);
        c.push(e.price);
        v.push(e.qty);
      } else {
        if (e.price > h[last]!) h[last] = e.price;
        if (e.price < l[last]!) l[last] = e.price;
        c[last] = e.price;
        v[last] = v[last]! + e.qty;
      }
    }
  }
  const prices = (ticks: number[]) => Float64Array.from(ticks, (p) => p * market.tickUnits);
  return {
    length: t.length,
    t: Float64Array.from(t),
    o: prices(o),
    h: prices(h),
    l: prices(l),
    c: prices(c),
    v: Float64Array.from(v, (lots) => (lots * market.lotUnits) / 10 ** qtyScale),
    priceScale,
  };
}

/**
 * Pass 2: the recorded flow with the strategy's orders, deciding on `series` (pass 1's bars of the
 * same flow and window). Cash is in units of 10^-(priceScale + qtyScale), as next_open's.
 */
export function simulateBook(
  flow: readonly RecordedCommand[],
  market: BookMarket,
  window: { readonly from: number; readonly to: number; readonly intervalMs: number },
  series: Series,
  decide: Decider,
  settings: FillSettings,
  /** Sees each recorded command's events in the simulated book (tests). */
  observe?: (recorded: RecordedCommand, events: readonly BookEvent[]) => void,
): Simulation {
  const book = new OrderBook(market.book);
  const n = series.length;
  const { to, intervalMs } = window;
  const tickUnits = BigInt(market.tickUnits);
  const lotUnits = BigInt(market.lotUnits);
  const cashPerTickLot = tickUnits * lotUnits;
  const feeBps = BigInt(settings.feeBps);
  const slippage = BigInt(settings.slippageBps);
  const deadline = settings.deadline ?? Number.POSITIVE_INFINITY;
  const fills: Fill[] = [];
  const roundTrips: RoundTrip[] = [];
  const equity: bigint[] = new Array<bigint>(n);
  const equityRatio = new Float64Array(n);
  let cash = settings.initialCash;
  let qty = 0n; // quantity units
  let entryCost = 0n;
  let entryBar = -1;
  let barsHolding = 0;
  let nextId = STRATEGY_ID_BASE;
  let cursor = 0;

  /** Places the strategy's order for a decision at bar i's close; its fills are booked on bar i + 1. */
  const execute = (target: number, i: number): void => {
    const closeTicks = BigInt(series.c[i]!) / tickUnits;
    const bar = i + 1;
    const orderId = ++nextId;
    let command: PlaceCommand;
    if (target === LONG) {
      // Notional + fee ≤ cash for any fills within the budget. Each fill's fee rounds up by less
      // than one cash unit, and there are at most as many fills as lots bought, which is at most
      // budget / best ask (every fill is at the best ask or above): that many units are reserved.
      const ask = BigInt(book.bestAsk() ?? 1);
      const budget =
        feeBps === 0n
          ? cash / cashPerTickLot
          : (cash * BPS * ask) / ((BPS + feeBps) * cashPerTickLot * ask + BPS);
      if (budget <= 0n) return;
      if (slippage === 0n) {
        const quoteBudget = Number(
          budget > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : budget,
        );
        command = place(orderId, 'buy', 'market', market.book.maxQty, undefined, quoteBudget);
      } else {
        const limit = (closeTicks * (BPS + slippage)) / BPS;
        if (limit <= 0n) return;
        const lots = budget / limit;
        if (lots <= 0n) return;
        const capped = lots > BigInt(market.book.maxQty) ? market.book.maxQty : Number(lots);
        command = place(orderId, 'buy', 'limit', capped, Number(limit), undefined);
      }
    } else {
      const lots = qty / lotUnits;
      if (lots <= 0n) return;
      const capped = lots > BigInt(market.book.maxQty) ? market.book.maxQty : Number(lots);
      const limit = slippage === 0n ? undefined : ceilDiv(closeTicks * (BPS - slippage), BPS);
      if (limit !== undefined && limit <= 0n)
        command = place(orderId, 'sell', 'market', capped, undefined, undefined);
      else
        command = place(
          orderId,
          'sell',
          limit === undefined ? 'market' : 'limit',
          capped,
          limit === undefined ? undefined : Number(limit),
          undefined,
        );
    }
    const wasFlat = qty === 0n;
    for (const e of book.execute(command)) {
      if (e.type !== 'fill' || e.takerOrderId !== orderId) continue;
      const price = BigInt(e.price) * tickUnits;
      const filled = BigInt(e.qty) * lotUnits;
      const notional = price * filled;
      const fee = ceilDiv(notional * feeBps, BPS);
      fills.push({ bar, side: command.side, price, qty: filled, fee });
      if (command.side === 'buy') {
        cash -= notional + fee;
        qty += filled;
        entryCost += notional + fee;
      } else {
        cash += notional - fee;
        const closing = qty === filled;
        // Cost released in proportion to what was sold (all of it when the position closes).
        const released = closing ? entryCost : (entryCost * filled) / qty;
        qty -= filled;
        entryCost -= released;
        roundTrips.push({ entryBar, exitBar: bar, pnl: notional - fee - released });
      }
    }
    if (wasFlat && qty > 0n) entryBar = bar;
  };

  for (let i = 0; i < n; i++) {
    // The recorded commands up to bar i's close.
    cursor = replayUntil(book, flow, cursor, Math.min(series.t[i]! + intervalMs, to), deadline, i, observe);
    const holding = qty > 0n;
    const value = holding ? cash + qty * BigInt(series.c[i]!) : cash;
    equity[i] = value;
    equityRatio[i] = Number(value);
    if (holding) barsHolding++;
    if (i + 1 < n) {
      const target = decide(i, holding);
      if (target === LONG && !holding) execute(LONG, i);
      else if (target !== LONG && target !== HOLD && holding) execute(target, i);
    }
  }
  return { fills, roundTrips, equity, equityRatio, barsHolding, finalCash: cash, finalQty: qty };
}

/**
 * Replays the recorded commands from `cursor` while their time is before `end`; the cursor after
 * them. A loop of its own, small and monomorphic, as the engine's own replay loop: inside
 * simulateBook's it ran markedly slower than the bare engine.
 */
function replayUntil(
  book: OrderBook,
  flow: readonly RecordedCommand[],
  cursor: number,
  end: number,
  deadline: number,
  bar: number,
  observe: ((recorded: RecordedCommand, events: readonly BookEvent[]) => void) | undefined,
): number {
  const count = flow.length;
  let at = cursor;
  while (at < count) {
    const recorded = flow[at]!;
    if (recorded.ts >= end) break;
    const events = recorded.refused === undefined ? book.execute(recorded.command) : replay(book, recorded);
    if (observe !== undefined) observe(recorded, events);
    at++;
    if ((at & (CLOCK_EVERY - 1)) === 0 && performance.now() > deadline) throw new BacktestTimeout(bar);
  }
  return at;
}

function place(
  orderId: number,
  side: 'buy' | 'sell',
  type: 'market' | 'limit',
  qty: number,
  price: number | undefined,
  quoteBudget: number | undefined,
): PlaceCommand {
  // Every field, in recordedCommands' order: the engine then sees one shape of placement (a second
  // shape made its property reads polymorphic for the whole replay).
  return {
    kind: 'place',
    orderId,
    userId: BACKTEST_USER,
    clientOrderId: undefined,
    side,
    type,
    qty,
    price,
    stopPrice: undefined,
    tif: 'IOC',
    postOnly: false,
    stp: 'cancel_taker',
    quoteBudget,
    expireAt: undefined,
    displayQty: undefined,
    trailingOffset: undefined,
    trailingBps: undefined,
    limitOffset: undefined,
  };
}

function ceilDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return q * b === a ? q : q + 1n;
}

/** The whole `book` run's input as a thread receives it (the journal's records of one market). */
export interface BookInput {
  readonly marketId: string;
  readonly market: BookMarket;
  readonly priceScale: number;
  readonly qtyScale: number;
  readonly window: { readonly from: number; readonly to: number; readonly intervalMs: number };
}

/**
 * The recorded flow of a market's journal batches (in seq order): their entries in order, each
 * batch checked to be of the market (a record of another market is an error, not skipped).
 */
export function flowOfBatches(
  marketId: string,
  batches: Iterable<{ readonly marketId: string; readonly entries: readonly BatchEntry<JournalCommand>[] }>,
): RecordedCommand[] {
  const flow: RecordedCommand[] = [];
  for (const batch of batches) {
    if (batch.marketId !== marketId)
      throw new Error(`a journal record of market ${batch.marketId} among the records of ${marketId}`);
    for (const recorded of recordedCommands(batch.entries)) flow.push(recorded);
  }
  return flow;
}
