import { bookChecksum } from '../protocol/checksum.ts';
import type { BookDepth, BookLevel, BookMessage, Decimal } from '../protocol/messages.ts';

/**
 * `ok`: applied and verified. `gap`: a delta whose `seq` is not the previous + 1 (or a delta before
 * any snapshot); it was not applied. `mismatch`: applied, but the checksum of the result differs
 * from the message's. After `gap` or `mismatch` the book is stale: every delta answers `gap` until
 * a snapshot replaces it (the client resubscribes for one).
 */
export type BookApplyResult = 'ok' | 'gap' | 'mismatch';

/**
 * One market's book as a client sees it on a subscription of depth N: replaced by snapshots,
 * updated by deltas, checked against `seq` and `checksum` (PROTOCOL.md, `book`). It keeps what the
 * server sends and trims nothing itself; the server's deltas keep it at N levels per side.
 */
export class LocalBook {
  readonly market: string;
  readonly depth: BookDepth;
  /** Best (highest) first. */
  #bids: BookLevel[] = [];
  /** Best (lowest) first. */
  #asks: BookLevel[] = [];
  #seq: number | undefined;
  #synced = false;

  constructor(market: string, depth: BookDepth) {
    this.market = market;
    this.depth = depth;
  }

  /** The `seq` of the last message applied; undefined before the first snapshot. */
  get seq(): number | undefined {
    return this.#seq;
  }

  /** Whether the book follows the stream: a snapshot applied and every message since verified. */
  get synced(): boolean {
    return this.#synced;
  }

  apply(message: BookMessage): BookApplyResult {
    if (message.market !== this.market) {
      throw new Error(`LocalBook of ${this.market} was given a book message of ${message.market}`);
    }
    if (message.kind === 'snapshot') {
      this.#bids = sortedLevels(message.bids, compareBids);
      this.#asks = sortedLevels(message.asks, compareAsks);
    } else {
      if (!this.#synced || this.#seq === undefined || message.seq !== this.#seq + 1) {
        this.#synced = false;
        return 'gap';
      }
      for (const level of message.bids) setLevel(this.#bids, level, compareBids);
      for (const level of message.asks) setLevel(this.#asks, level, compareAsks);
    }
    this.#seq = message.seq;
    this.#synced = this.checksum() === message.checksum;
    return this.#synced ? 'ok' : 'mismatch';
  }

  /** Bids, best first, at most `limit` of them (all by default). */
  bids(limit?: number): BookLevel[] {
    return this.#bids.slice(0, limit);
  }

  /** Asks, best first, at most `limit` of them (all by default). */
  asks(limit?: number): BookLevel[] {
    return this.#asks.slice(0, limit);
  }

  /** The protocol checksum of the book as it is now. */
  checksum(): number {
    return bookChecksum(this.#bids, this.#asks);
  }
}

type LevelOrder = (a: Decimal, b: Decimal) => number;

const compareAsks: LevelOrder = (a, b) => compareDecimals(a, b);
const compareBids: LevelOrder = (a, b) => compareDecimals(b, a);

function sortedLevels(levels: readonly BookLevel[], order: LevelOrder): BookLevel[] {
  return levels.filter(([, qty]) => !isZeroDecimal(qty)).sort((a, b) => order(a[0], b[0]));
}

/** Sets a level's new total in a side kept in `order`; a zero qty removes it. */
function setLevel(side: BookLevel[], level: BookLevel, order: LevelOrder): void {
  const [price, qty] = level;
  let low = 0;
  let high = side.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (order(side[mid]![0], price) < 0) low = mid + 1;
    else high = mid;
  }
  const found = low < side.length && order(side[low]![0], price) === 0;
  if (isZeroDecimal(qty)) {
    if (found) side.splice(low, 1);
  } else if (found) {
    side[low] = [price, qty];
  } else {
    side.splice(low, 0, [price, qty]);
  }
}

/** Whether a plain non-negative decimal string is zero (`"0"`, also `"0.00"`). */
export function isZeroDecimal(value: Decimal): boolean {
  return value === '0' || !/[1-9]/.test(value);
}

/**
 * Compares two plain non-negative decimal strings by value, exactly (no floats): negative when
 * `a < b`. Same-shaped strings (the server writes a market's prices with the same decimals) compare
 * as strings; otherwise leading zeros of the integer part and trailing zeros of the fraction are
 * ignored, so `"1.5"` equals `"01.50"`.
 */
export function compareDecimals(a: Decimal, b: Decimal): number {
  if (a.length === b.length && a.indexOf('.') === b.indexOf('.')) return a < b ? -1 : a > b ? 1 : 0;
  const [aInt, aFrac] = decimalParts(a);
  const [bInt, bFrac] = decimalParts(b);
  if (aInt.length !== bInt.length) return aInt.length - bInt.length;
  if (aInt !== bInt) return aInt < bInt ? -1 : 1;
  return aFrac < bFrac ? -1 : aFrac > bFrac ? 1 : 0;
}

/** Integer part without leading zeros, fraction without trailing zeros. */
function decimalParts(value: Decimal): [string, string] {
  const dot = value.indexOf('.');
  const int = (dot < 0 ? value : value.slice(0, dot)).replace(/^0+/, '');
  const frac = dot < 0 ? '' : value.slice(dot + 1).replace(/0+$/, '');
  return [int, frac];
}
