import type { CandleInterval } from '../protocol/messages.ts';

/*
 * OHLCV candles of one market and one interval, built incrementally from committed fills (prices in
 * ticks, volumes in lots: integers, never floats).
 *
 * Contract (test/unit/candles.test.ts checks it against a brute-force recomputation):
 * - A candle's open time `t` is the trade time rounded down to the interval, counted from the Unix
 *   epoch (UTC: hours start on the hour). o/h/l/c are the first/highest/lowest/last trade price in
 *   it, v the sum of the quantities.
 * - Trade time never goes backwards: a trade stamped earlier than the one before it (the actor's
 *   clock stepped back) counts at the earlier trade's time. So the candles are a function of the
 *   committed trade sequence alone, whatever the timer did, and a rebuild from the trades table
 *   gives the same ones.
 * - Reads have no gaps: an interval without trades, after the first trade, is a flat candle
 *   o = h = l = c = the previous close, v = 0. Only candles with trades are stored.
 * - A candle is closed once a later interval has opened, by a trade in it or by `tick(now)`. Each
 *   close is reported once by `takeClosed`; a trade that arrives late for an interval the timer
 *   already closed (its commit outran the timer's grace) still counts in its own interval, and that
 *   candle is reported closed again with its corrected values.
 */

export const CANDLE_INTERVAL_MS: Readonly<Record<CandleInterval, number>> = {
  '1m': 60_000,
  '5m': 300_000,
  '1h': 3_600_000,
};

/** A candle in the core's units: prices in ticks, volume in lots. */
export interface Candle {
  /** Open time, ms since the epoch, a multiple of the interval. */
  readonly t: number;
  readonly o: number;
  readonly h: number;
  readonly l: number;
  readonly c: number;
  readonly v: number;
}

interface StoredCandle {
  readonly t: number;
  readonly o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  /** Changed since the last `takeDirty`. */
  dirty: boolean;
  /** In the closed list waiting for `takeClosed`. */
  closing: boolean;
}

export interface CandleRangeQuery {
  /** First open time wanted (rounded down to the interval); default: `limit` candles before `to`. */
  readonly from?: number | undefined;
  /** Last open time wanted (rounded down); default: the open interval. */
  readonly to?: number | undefined;
  /** Most candles returned (the earliest ones when `from` is given, else the latest). */
  readonly limit: number;
}

/** Fewer stale entries than this at the front are left in place (trimming is amortized). */
const COMPACT_AT = 1_024;

export class CandleSeries {
  readonly interval: CandleInterval;
  readonly intervalMs: number;
  readonly #retentionMs: number;
  /** Candles with trades, oldest first, from #head on (entries before it are expired). */
  #candles: StoredCandle[] = [];
  #head = 0;
  /** Time of the last trade as counted (never decreasing). */
  #lastTs = Number.NEGATIVE_INFINITY;
  /** Open time of the open interval: the newest trade's interval, or later once the timer moved it. */
  #openT = Number.NEGATIVE_INFINITY;
  #closed: StoredCandle[] = [];
  #changed = false;
  #dirty: StoredCandle[] = [];

  /**
   * `retentionMs`: candles opened more than this before the open interval are dropped (the newest
   * always stays). The rule depends on the open interval only, so a series rebuilt from a superset
   * of the kept candles and ticked to the same time keeps the same ones.
   */
  constructor(interval: CandleInterval, retentionMs: number) {
    this.interval = interval;
    this.intervalMs = CANDLE_INTERVAL_MS[interval];
    this.#retentionMs = retentionMs;
  }

  /**
   * Seeds the series with stored candles (oldest first, each with trades), before any trade. They
   * are not reported as changed or closed, and not marked for saving.
   */
  load(candles: readonly Candle[]): void {
    if (this.#candles.length > 0) throw new Error('CandleSeries.load: the series already has candles');
    let previous = Number.NEGATIVE_INFINITY;
    for (const { t, o, h, l, c, v } of candles) {
      if (t <= previous || t % this.intervalMs !== 0) {
        throw new Error(`CandleSeries.load: open times must ascend and align to ${this.interval}, got ${t}`);
      }
      previous = t;
      this.#candles.push({ t, o, h, l, c, v, dirty: false, closing: false });
    }
    if (previous !== Number.NEGATIVE_INFINITY) {
      this.#openT = previous;
      this.#lastTs = previous;
      this.#trim();
    }
  }

  /** Counts one fill. */
  trade(price: number, qty: number, ts: number): void {
    if (ts > this.#lastTs) this.#lastTs = ts;
    const time = this.#lastTs;
    const candles = this.#candles;
    const last = candles[candles.length - 1];
    let candle: StoredCandle;
    // Time never goes back, so a time before the newest candle's end is in it. The check spares
    // most trades the % on a double (times are past 2^31, so it is a floating-point modulo): the
    // three series and the stats went from ~130 to ~100 ns of CPU per trade (bench/marketdata.ts).
    const t =
      last !== undefined && time < last.t + this.intervalMs ? last.t : time - (time % this.intervalMs);
    if (last !== undefined && last.t === t) {
      candle = last;
      if (price > candle.h) candle.h = price;
      else if (price < candle.l) candle.l = price;
      candle.c = price;
      candle.v += qty;
    } else {
      if (last !== undefined && last.t === this.#openT) this.#close(last);
      candle = { t, o: price, h: price, l: price, c: price, v: qty, dirty: false, closing: false };
      candles.push(candle);
      if (t > this.#openT) this.#openT = t;
      this.#trim();
    }
    if (!candle.dirty) {
      candle.dirty = true;
      this.#dirty.push(candle);
    }
    if (t < this.#openT) {
      // Late for an interval the timer closed: report it again; the flat open candle follows its close.
      this.#close(candle);
    }
    this.#changed = true;
  }

  /** Opens the interval of `now` when it is later than the open one, closing the open candle. */
  tick(now: number): void {
    const t = now - (now % this.intervalMs);
    if (t <= this.#openT) return;
    const last = this.#candles[this.#candles.length - 1];
    if (last?.t === this.#openT) this.#close(last);
    this.#openT = t;
    // Before the first trade there is no flat candle to show.
    if (last !== undefined) {
      this.#changed = true;
      this.#trim();
    }
  }

  /** The open interval's candle (flat when it has no trade yet); undefined before the first trade. */
  current(): Candle | undefined {
    const last = this.#candles[this.#candles.length - 1];
    if (last === undefined) return undefined;
    if (last.t === this.#openT) return last;
    return flat(this.#openT, last.c);
  }

  /** The newest candle with trades. */
  lastTraded(): Candle | undefined {
    return this.#candles[this.#candles.length - 1];
  }

  /** Candles closed since the last call, each with its final values, oldest close first. */
  takeClosed(): readonly Candle[] {
    const closed = this.#closed;
    if (closed.length === 0) return closed;
    for (const candle of closed) candle.closing = false;
    this.#closed = [];
    return closed;
  }

  /** Whether the open candle changed (a trade, or the timer opened an interval) since the last call. */
  takeChanged(): boolean {
    const changed = this.#changed;
    this.#changed = false;
    return changed;
  }

  /** Candles changed since the last call (copies: they may change again while being saved). */
  takeDirty(): Candle[] {
    const out: Candle[] = [];
    for (const candle of this.#dirty) {
      candle.dirty = false;
      out.push({ t: candle.t, o: candle.o, h: candle.h, l: candle.l, c: candle.c, v: candle.v });
    }
    this.#dirty = [];
    return out;
  }

  /**
   * Candles with open times in [from, to], gaps filled with flat candles, oldest first. Starts no
   * earlier than the oldest candle kept, ends no later than the open interval (or the interval of
   * `now` when given and later).
   */
  range(query: CandleRangeQuery, now?: number): Candle[] {
    const candles = this.#candles;
    const newest = candles[candles.length - 1];
    if (newest === undefined || query.limit <= 0) return [];
    const ms = this.intervalMs;
    const open = now === undefined ? this.#openT : Math.max(this.#openT, now - (now % ms));
    const to = Math.min(query.to === undefined ? open : query.to - (query.to % ms), open);
    let from = query.from === undefined ? to - (query.limit - 1) * ms : query.from - (query.from % ms);
    const oldest = candles[this.#head]!;
    if (from < oldest.t) from = oldest.t;
    const out: Candle[] = [];
    // The first stored candle at or after `from`; the one before it gives the close to fill from.
    let i = this.#search(from);
    let close = i > this.#head ? candles[i - 1]!.c : undefined;
    for (let t = from; t <= to && out.length < query.limit; t += ms) {
      const candle = candles[i];
      if (candle !== undefined && candle.t === t) {
        out.push({ t, o: candle.o, h: candle.h, l: candle.l, c: candle.c, v: candle.v });
        close = candle.c;
        i++;
      } else if (close !== undefined) {
        out.push(flat(t, close));
      }
    }
    return out;
  }

  /** Index of the first stored candle with t >= `t` (candles.length when none). */
  #search(t: number): number {
    const candles = this.#candles;
    let lo = this.#head;
    let hi = candles.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (candles[mid]!.t < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #close(candle: StoredCandle): void {
    if (candle.closing) return;
    candle.closing = true;
    this.#closed.push(candle);
  }

  /** Drops candles older than the retention, keeping the newest; compacts the array now and then. */
  #trim(): void {
    const candles = this.#candles;
    const horizon = this.#openT - this.#retentionMs;
    const lastIndex = candles.length - 1;
    while (this.#head < lastIndex && candles[this.#head]!.t < horizon) this.#head++;
    if (this.#head >= COMPACT_AT && this.#head * 2 >= candles.length) {
      this.#candles = candles.slice(this.#head);
      this.#head = 0;
    }
  }
}

function flat(t: number, close: number): Candle {
  return { t, o: close, h: close, l: close, c: close, v: 0 };
}
