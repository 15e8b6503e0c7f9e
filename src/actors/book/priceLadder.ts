import { createRequire } from 'node:module';
import type sortedBTree from 'sorted-btree';

// sorted-btree is CommonJS with `exports.default`; loaders disagree on what a default import of it
// gives (Node: module.exports, esbuild/vite: the class), while require() is the same everywhere.
const BTree = (createRequire(import.meta.url)('sorted-btree') as typeof sortedBTree).default;
type BTree<K, V> = sortedBTree.default<K, V>;
import type { Order } from './order.ts';
import type { LevelChanges } from './levelChanges.ts';

/** One price with its orders in arrival order (an intrusive doubly linked FIFO). */
export class Level {
  head: Order | undefined = undefined;
  tail: Order | undefined = undefined;
  /** Sum of the remaining quantity of its orders, kept incrementally. */
  total = 0;
  /** Command number in which this level was last noted as changed (see LevelChanges). */
  notedIn = -1;

  constructor(
    readonly price: number,
    readonly ladder: PriceLadder,
  ) {}
}

/**
 * The levels of one side, in priority order: ascending prices (asks, buy stops) or descending ones
 * (bids, sell stops). The front level is cached, so the best price is O(1); a price → level map makes
 * joining an existing level O(1); the B+ tree keeps order, so a new level costs O(log n) and top-N
 * depth walks only N levels.
 */
export class PriceLadder {
  front: Level | undefined = undefined;
  private readonly byPrice = new Map<number, Level>();
  private readonly sorted: BTree<number, Level>;

  constructor(
    /** 1: ascending prices come first; -1: descending. */
    readonly direction: 1 | -1,
    readonly isSell: boolean,
    /** Book sides report level changes; stop ladders have none. */
    private readonly changes?: LevelChanges,
  ) {
    this.sorted = new BTree<number, Level>(undefined, direction === 1 ? ascending : descending);
  }

  get levelCount(): number {
    return this.byPrice.size;
  }

  level(price: number): Level | undefined {
    return this.byPrice.get(price);
  }

  /** True when `price` is at or ahead of `bound` in this ladder's order. */
  reaches(price: number, bound: number): boolean {
    return this.direction === 1 ? price <= bound : price >= bound;
  }

  append(order: Order, price: number): Level {
    let level = this.byPrice.get(price);
    if (level === undefined) {
      level = new Level(price, this);
      this.byPrice.set(price, level);
      this.sorted.set(price, level);
      if (this.front === undefined || this.reaches(price, this.front.price)) this.front = level;
    }
    this.changes?.note(level);
    order.level = level;
    order.prev = level.tail;
    order.next = undefined;
    if (level.tail === undefined) level.head = order;
    else level.tail.next = order;
    level.tail = order;
    level.total += order.remaining;
    return level;
  }

  /** Unlinks the order (its remaining leaves the level total) and drops the level when empty. */
  unlink(order: Order): void {
    const level = order.level!;
    this.changes?.note(level);
    if (order.prev === undefined) level.head = order.next;
    else order.prev.next = order.next;
    if (order.next === undefined) level.tail = order.prev;
    else order.next.prev = order.prev;
    level.total -= order.remaining;
    order.level = order.prev = order.next = undefined;
    if (level.head === undefined) this.dropLevel(level);
  }

  /** Takes `qty` off a resting order in place, keeping its priority; the caller unlinks it at zero. */
  reduce(order: Order, qty: number): void {
    const level = order.level!;
    this.changes?.note(level);
    order.remaining -= qty;
    level.total -= qty;
  }

  private dropLevel(level: Level): void {
    this.byPrice.delete(level.price);
    this.sorted.delete(level.price);
    if (this.front === level) this.front = this.sorted.nextHigherPair(level.price)?.[1];
  }

  /** Levels in priority order from the front; stops after `limit` levels when limit > 0. */
  *levels(limit = 0): Generator<Level> {
    if (this.front === undefined) return;
    let n = 0;
    for (const [, level] of this.sorted.entries(this.front.price)) {
      yield level;
      if (++n === limit) return;
    }
  }

  /** Best `n` levels as [price, total]; n = 0 gives all. */
  depth(n: number): [number, number][] {
    const out: [number, number][] = [];
    for (const level of this.levels(n)) out.push([level.price, level.total]);
    return out;
  }
}

const ascending = (a: number, b: number): number => a - b;
const descending = (a: number, b: number): number => b - a;
