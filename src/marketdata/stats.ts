import type { Candle } from './candles.ts';

/*
 * 24-hour rolling statistics of one market, kept incrementally from committed fills (prices in
 * ticks, volume in lots).
 *
 * The window is minute-grained: at a time in minute M (minutes since the epoch) it holds the trades
 * of minutes M-1439 … M, i.e. the last 23h59m to 24h. Each minute is a bucket in a ring of 1440, so
 * a trade costs O(1); a bucket's figures leave the window when time passes it (`advance`), which is
 * amortized: each bucket expires once, and high/low are rescanned (1440 buckets) only when the
 * bucket leaving held the high or the low, at most once per advance.
 *
 * - last: the last trade's price (ever, not only in the window).
 * - high/low/volume: over the window; undefined / 0 when it has no trade.
 * - reference (the price 24h ago): the last trade before the window; for a market whose first trade
 *   is inside the window, that first trade's price. change = last − reference.
 * Trade time never goes backwards (as in candles.ts): an earlier-stamped trade counts at the time of
 * the one before it. test/unit/stats.test.ts checks all of it against a brute-force window.
 */

export const STATS_WINDOW_MINUTES = 1_440;
const MINUTE_MS = 60_000;

export interface RollingStatsView {
  readonly last: number | undefined;
  readonly high: number | undefined;
  readonly low: number | undefined;
  /** Lots traded in the window. */
  readonly volume: number;
  /** The price 24h ago (see above); undefined before the first trade. */
  readonly reference: number | undefined;
  /** Time (ms) of the last trade as counted. */
  readonly lastTradeTs: number | undefined;
}

export class RollingStats {
  /** Per ring slot: the minute it holds (-1: empty), and that minute's high, low, close and volume. */
  readonly #minute = new Float64Array(STATS_WINDOW_MINUTES).fill(-1);
  readonly #high = new Float64Array(STATS_WINDOW_MINUTES);
  readonly #low = new Float64Array(STATS_WINDOW_MINUTES);
  readonly #close = new Float64Array(STATS_WINDOW_MINUTES);
  readonly #volume = new Float64Array(STATS_WINDOW_MINUTES);
  /** The window's newest minute. */
  #now = Number.NEGATIVE_INFINITY;
  #lastTs = Number.NEGATIVE_INFINITY;
  #last: number | undefined;
  #first: number | undefined;
  /** Close of the newest minute that left the window. */
  #expiredClose: number | undefined;
  #windowHigh = Number.NEGATIVE_INFINITY;
  #windowLow = Number.POSITIVE_INFINITY;
  #windowVolume = 0;

  /** Counts one fill. */
  trade(price: number, qty: number, ts: number): void {
    this.#add(price, price, price, price, qty, ts);
  }

  /**
   * Counts a minute of trades at once: a stored 1m candle, what a rebuild after a restart feeds
   * (its open time `t` stands for their time).
   */
  addMinute(minute: Candle): void {
    this.#add(minute.o, minute.h, minute.l, minute.c, minute.v, minute.t);
  }

  /**
   * Moves the window to the minute of `now` (later only); returns whether any figure changed (a
   * bucket with trades left the window).
   */
  advance(now: number): boolean {
    const minute = Math.floor(now / MINUTE_MS);
    if (minute <= this.#now) return false;
    const previous = this.#now;
    this.#now = minute;
    if (previous === Number.NEGATIVE_INFINITY) return false;
    // The old window's minutes up to minute-1440 leave it, oldest first.
    const last = Math.min(previous, minute - STATS_WINDOW_MINUTES);
    let expired = false;
    let rescan = false;
    for (let gone = previous - STATS_WINDOW_MINUTES + 1; gone <= last; gone++) {
      const slot = slotOf(gone);
      if (this.#minute[slot] !== gone) continue;
      expired = true;
      this.#expiredClose = this.#close[slot]!;
      this.#windowVolume -= this.#volume[slot]!;
      if (this.#high[slot]! >= this.#windowHigh || this.#low[slot]! <= this.#windowLow) rescan = true;
      this.#minute[slot] = -1;
    }
    if (rescan) this.#rescan();
    return expired;
  }

  view(): RollingStatsView {
    const empty = this.#windowHigh === Number.NEGATIVE_INFINITY;
    return {
      last: this.#last,
      high: empty ? undefined : this.#windowHigh,
      low: empty ? undefined : this.#windowLow,
      volume: this.#windowVolume,
      reference: this.#expiredClose ?? this.#first,
      lastTradeTs: this.#last === undefined ? undefined : this.#lastTs,
    };
  }

  #add(open: number, high: number, low: number, close: number, qty: number, ts: number): void {
    if (ts > this.#lastTs) this.#lastTs = ts;
    const minute = Math.floor(this.#lastTs / MINUTE_MS);
    if (minute > this.#now) this.advance(this.#lastTs);
    this.#first ??= open;
    this.#last = close;
    if (minute < this.#now - STATS_WINDOW_MINUTES + 1) {
      // Before the window (a trade stamped earlier than a timer's advance): it is 24h-old history.
      this.#expiredClose = close;
      return;
    }
    const slot = slotOf(minute);
    if (this.#minute[slot] !== minute) {
      this.#minute[slot] = minute;
      this.#high[slot] = high;
      this.#low[slot] = low;
      this.#volume[slot] = qty;
    } else {
      if (high > this.#high[slot]!) this.#high[slot] = high;
      if (low < this.#low[slot]!) this.#low[slot] = low;
      this.#volume[slot] = this.#volume[slot]! + qty;
    }
    this.#close[slot] = close;
    if (high > this.#windowHigh) this.#windowHigh = high;
    if (low < this.#windowLow) this.#windowLow = low;
    this.#windowVolume += qty;
  }

  #rescan(): void {
    let high = Number.NEGATIVE_INFINITY;
    let low = Number.POSITIVE_INFINITY;
    for (let slot = 0; slot < STATS_WINDOW_MINUTES; slot++) {
      if (this.#minute[slot] === -1) continue;
      if (this.#high[slot]! > high) high = this.#high[slot]!;
      if (this.#low[slot]! < low) low = this.#low[slot]!;
    }
    this.#windowHigh = high;
    this.#windowLow = low;
  }
}

function slotOf(minute: number): number {
  const slot = minute % STATS_WINDOW_MINUTES;
  return slot < 0 ? slot + STATS_WINDOW_MINUTES : slot;
}
