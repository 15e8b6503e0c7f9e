import { createRequire } from 'node:module';
import type sortedBTree from 'sorted-btree';
import type { Side } from '../actors/book/types.ts';
import type { MarketMoney } from '../actors/money.ts';
import { bookChecksum, CHECKSUM_LEVELS } from '../protocol/checksum.ts';
import { BOOK_DEPTHS, type BookDepth, type BookLevel } from '../protocol/messages.ts';

// sorted-btree is CommonJS with `exports.default`; see src/actors/book/priceLadder.ts for why require().
const BTree = (createRequire(import.meta.url)('sorted-btree') as typeof sortedBTree).default;
type BTree<K, V> = sortedBTree.default<K, V>;

/** One level on the wire: [price, qty] with the market's decimals; qty "0" removes it (deltas only). */
export type WireLevel = BookLevel;

export interface WireBook {
  /** Best (highest) first. */
  readonly bids: WireLevel[];
  /** Best (lowest) first. */
  readonly asks: WireLevel[];
}

/** What one depth window's subscribers are sent for one committed batch. */
export interface BookWindowDelta extends WireBook {
  readonly depth: BookDepth;
}

/** The result of a batch that changed the book: one delta per window, the shared seq and checksum. */
export interface BookFeedUpdate {
  readonly seq: number;
  /** Of the best 10 levels per side after the batch: the same for every window. */
  readonly checksum: number;
  /** In BOOK_DEPTHS order (the windows asked for). */
  readonly deltas: readonly BookWindowDelta[];
}

export interface BookFeedSnapshot extends WireBook {
  readonly seq: number;
  readonly checksum: number;
}

/** A level's new total (0 = gone), as the engine's `level` events carry it. */
export interface LevelChange {
  readonly side: Side;
  readonly price: number;
  readonly qty: number;
}

/** Levels as the engine's `depth(side, 0)` gives them: [price ticks, total lots], best first. */
export interface InitialLevels {
  readonly bids: readonly (readonly [number, number])[];
  readonly asks: readonly (readonly [number, number])[];
}

export interface BookFeedOptions {
  /** The book sequence to continue from (recovery); 0 for a new market. */
  readonly seq?: number | undefined;
}

/** A level whose total a batch changed: its totals before and after the batch (0 = absent). */
interface ChangedLevel {
  readonly price: number;
  readonly before: number;
  readonly after: number;
}

const REMOVED = '0';
/**
 * Snapshots kept per market for the current seq (one per depth asked for, the oldest dropped
 * first): the usual depths (10, 50, all) always fit, and an HTTP caller cycling through odd
 * depths costs a rebuild, never memory.
 */
const SNAPSHOT_CACHE_DEPTHS = 8;
const WINDOWS = BOOK_DEPTHS.filter((n) => n > 0);
const DEEPEST_WINDOW = Math.max(...WINDOWS);

/**
 * One side of the published book: price (ticks) → total (lots), in priority order. `bound` values
 * are prices of the N-th best level; `undefined` means the side has fewer than N levels, so a
 * window of N covers the whole side.
 */
class FeedSide {
  readonly levels: BTree<number, number>;

  constructor(
    /** 1: asks (ascending prices first); -1: bids. */
    readonly direction: 1 | -1,
    initial: readonly (readonly [number, number])[],
  ) {
    const compare = direction === 1 ? ascending : descending;
    this.levels = new BTree<number, number>(
      initial.map(([price, qty]) => [price, qty]),
      compare,
    );
  }

  /** True when `price` is at or ahead of `bound` (the window reaching to `bound` holds it). */
  within(price: number, bound: number | undefined): boolean {
    return bound === undefined || (this.direction === 1 ? price <= bound : price >= bound);
  }

  /** The price of the N-th best level for each window N > 0, walking at most the deepest window. */
  bounds(): Map<number, number | undefined> {
    const out = new Map<number, number | undefined>();
    let n = 0;
    for (const [price] of this.levels.entries()) {
      n++;
      if (WINDOWS.includes(n as BookDepth)) out.set(n, price);
      if (n === DEEPEST_WINDOW) break;
    }
    return out;
  }

  /** Best `n` levels (n = 0: all) as [price, qty] integers. */
  best(n: number): [number, number][] {
    const out: [number, number][] = [];
    if (n === 0) return this.levels.toArray();
    for (const entry of this.levels.entries()) {
      out.push([entry[0], entry[1]]);
      if (out.length === n) break;
    }
    return out;
  }

  /**
   * Levels strictly behind `from` and at or ahead of `to`, in priority order (`from` undefined:
   * none, as no level is behind an unbounded window). Used to find levels that crossed a window's
   * edge without changing.
   */
  *between(from: number | undefined, to: number | undefined): Generator<[number, number]> {
    if (from === undefined) return;
    for (const [price, qty] of this.levels.entries(from)) {
      if (price === from) continue;
      if (!this.within(price, to)) return;
      yield [price, qty];
    }
  }

  /** Collapses the batch's changes of this side (the last per price wins) to those that differ. */
  changed(changes: readonly LevelChange[], side: Side): ChangedLevel[] {
    const last = new Map<number, number>();
    for (const change of changes) if (change.side === side) last.set(change.price, change.qty);
    const out: ChangedLevel[] = [];
    for (const [price, after] of last) {
      const before = this.levels.get(price) ?? 0;
      if (before !== after) out.push({ price, before, after });
    }
    return out.sort((a, b) => this.direction * (a.price - b.price));
  }

  apply(changed: readonly ChangedLevel[]): void {
    for (const { price, after } of changed) {
      if (after === 0) this.levels.delete(price);
      else this.levels.set(price, after);
    }
  }
}

/**
 * The published view of one market's book: what subscribers have been sent, which may lag the
 * live engine book while later batches are still being committed. It turns each committed batch's
 * level changes into one delta per depth window (PROTOCOL.md `book`): for all levels, every changed
 * level; for a window of N, exactly what keeps a client's book the best N levels per side (changed
 * levels inside the window, levels entering it with their full qty, levels leaving it with "0").
 *
 * Cost per batch: O(k log L) for k changed levels in a book of L, plus O(N) per window for its
 * edge (the N-th level before and after) and the levels that crossed it; never a scan of the book.
 */
export class BookFeed {
  readonly #money: MarketMoney;
  readonly #bids: FeedSide;
  readonly #asks: FeedSide;
  #seq: number;
  #checksum: number;
  /** Snapshots of the current seq by depth: built once, shared by every reader until a change. */
  readonly #snapshots = new Map<number, BookFeedSnapshot>();

  constructor(money: MarketMoney, initial: InitialLevels, options: BookFeedOptions = {}) {
    const seq = options.seq ?? 0;
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`book seq must be >= 0, got ${seq}`);
    this.#money = money;
    this.#bids = new FeedSide(-1, initial.bids);
    this.#asks = new FeedSide(1, initial.asks);
    this.#seq = seq;
    this.#checksum = this.#computeChecksum();
  }

  /** The book sequence of the last published change (0: none yet). */
  get seq(): number {
    return this.#seq;
  }

  get checksum(): number {
    return this.#checksum;
  }

  /**
   * Publishes all level changes of one committed batch (several per price allowed: the last one
   * wins). Returns undefined when the batch left every level as it was (no seq step). `wanted`
   * picks the windows whose delta is built (default all; the others are left out of `deltas`):
   * the view, seq and checksum advance all the same.
   */
  applyBatch(
    changes: readonly LevelChange[],
    wanted: (depth: BookDepth) => boolean = all,
  ): BookFeedUpdate | undefined {
    const bidChanges = this.#bids.changed(changes, 'buy');
    const askChanges = this.#asks.changed(changes, 'sell');
    if (bidChanges.length === 0 && askChanges.length === 0) return undefined;
    const depths = BOOK_DEPTHS.filter(wanted);
    const windowed = depths.some((depth) => depth !== 0);
    const bidBefore = windowed ? this.#bids.bounds() : undefined;
    const askBefore = windowed ? this.#asks.bounds() : undefined;
    this.#bids.apply(bidChanges);
    this.#asks.apply(askChanges);
    const bidAfter = windowed ? this.#bids.bounds() : undefined;
    const askAfter = windowed ? this.#asks.bounds() : undefined;
    this.#seq++;
    this.#checksum = this.#computeChecksum();
    this.#snapshots.clear();
    const deltas = depths.map((depth): BookWindowDelta =>
      depth === 0
        ? { depth, bids: this.#allChanged(bidChanges), asks: this.#allChanged(askChanges) }
        : {
            depth,
            bids: this.#windowDelta(this.#bids, bidChanges, bidBefore?.get(depth), bidAfter?.get(depth)),
            asks: this.#windowDelta(this.#asks, askChanges, askBefore?.get(depth), askAfter?.get(depth)),
          },
    );
    return { seq: this.#seq, checksum: this.#checksum, deltas };
  }

  /**
   * The best `depth` levels per side (0: all) of the published view, with its seq and checksum.
   * Until the next change every call for the same depth answers the same frozen object (a depth
   * that covers both sides whole is depth 0), so its readers can encode it once, keyed by identity:
   * 4,000 levels a side took ~3 ms to format and encode, per subscriber, before (issue 12 §3).
   */
  snapshot(depth: number): BookFeedSnapshot {
    if (!Number.isSafeInteger(depth) || depth < 0) throw new RangeError(`depth must be >= 0, got ${depth}`);
    const key = depth >= Math.max(this.#bids.levels.length, this.#asks.levels.length) ? 0 : depth;
    const cached = this.#snapshots.get(key);
    if (cached !== undefined) return cached;
    const built: BookFeedSnapshot = Object.freeze({
      seq: this.#seq,
      bids: this.#format(this.#bids.best(key)),
      asks: this.#format(this.#asks.best(key)),
      checksum: this.#checksum,
    });
    if (this.#snapshots.size >= SNAPSHOT_CACHE_DEPTHS) {
      this.#snapshots.delete(this.#snapshots.keys().next().value!);
    }
    this.#snapshots.set(key, built);
    return built;
  }

  /** Best `n` levels per side (0: all) as integers: [price ticks, total lots]. */
  levels(side: Side, n: number): [number, number][] {
    return (side === 'buy' ? this.#bids : this.#asks).best(n);
  }

  #allChanged(changed: readonly ChangedLevel[]): WireLevel[] {
    return changed.map(({ price, after }) => this.#level(price, after));
  }

  /**
   * What a client holding exactly the best N levels (those at or ahead of `before`) needs to hold
   * the best N after the batch (those at or ahead of `after`). `side` already holds the new state.
   */
  #windowDelta(
    side: FeedSide,
    changed: readonly ChangedLevel[],
    before: number | undefined,
    after: number | undefined,
  ): WireLevel[] {
    const out: [number, number][] = [];
    for (const level of changed) {
      const wasIn = level.before > 0 && side.within(level.price, before);
      const isIn = level.after > 0 && side.within(level.price, after);
      if (isIn) out.push([level.price, level.after]);
      else if (wasIn) out.push([level.price, 0]);
    }
    if (before !== after) {
      const changedPrices = new Set(changed.map((c) => c.price));
      // The window now reaches deeper: unchanged levels behind the old edge enter with their qty.
      // It now stops earlier: unchanged levels behind the new edge (within the old one) leave.
      const deeper = before !== undefined && (after === undefined || !side.within(after, before));
      const crossed = deeper ? side.between(before, after) : side.between(after, before);
      for (const [price, qty] of crossed) {
        if (!changedPrices.has(price)) out.push([price, deeper ? qty : 0]);
      }
      out.sort((a, b) => side.direction * (a[0] - b[0]));
    }
    return out.map(([price, qty]) => this.#level(price, qty));
  }

  #level(price: number, qty: number): WireLevel {
    return [this.#money.formatPrice(price), qty === 0 ? REMOVED : this.#money.formatQty(qty)];
  }

  #format(levels: readonly [number, number][]): WireLevel[] {
    return levels.map(([price, qty]) => this.#level(price, qty));
  }

  #computeChecksum(): number {
    return bookChecksum(
      this.#format(this.#bids.best(CHECKSUM_LEVELS)),
      this.#format(this.#asks.best(CHECKSUM_LEVELS)),
    );
  }
}

const all = (): boolean => true;
const ascending = (a: number, b: number): number => a - b;
const descending = (a: number, b: number): number => b - a;
