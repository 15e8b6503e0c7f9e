import { createRequire } from 'node:module';
import type sortedBTree from 'sorted-btree';
import type { LevelChanges } from './levelChanges.ts';
import { NONE, type OrderStore } from './orderStore.ts';

// sorted-btree is CommonJS with `exports.default`; loaders disagree on what a default import of it
// gives (Node: module.exports, esbuild/vite: the class), while require() is the same everywhere.
const BTree = (createRequire(import.meta.url)('sorted-btree') as typeof sortedBTree).default;
type BTree<K, V> = sortedBTree.default<K, V>;

/** One price with its orders in arrival order: a doubly linked FIFO through the store's slots. */
export class Level {
  head = NONE;
  tail = NONE;
  /** Sum of the remaining quantity of its orders, kept incrementally. */
  total = 0;
  /** Command number in which this level was last noted as changed, and its total then (LevelChanges). */
  notedIn = -1;
  totalBefore = 0;
  /** Batch in which this level was first noted, and its total then (LevelChanges.beginBatch). */
  batchNotedIn = -1;
  batchBefore = 0;
  /** Neighbours in its ladder's priority order: walking and dropping the front cost no tree search. */
  better: Level | undefined = undefined;
  worse: Level | undefined = undefined;

  constructor(
    /** Its index in the book's level table: what an order's `level` column holds. */
    public index: number,
    /** Fixed while the level lives (a stop ladder's spare level gets a new one when reused). */
    public price: number,
    readonly ladder: PriceLadder,
  ) {}
}

/** All live levels of a book by index, so an order finds its level from one Int32 column. */
export class LevelTable {
  private readonly levels: (Level | undefined)[] = [];
  private readonly free: number[] = [];

  create(price: number, ladder: PriceLadder): Level {
    const index = this.free.pop() ?? this.levels.length;
    const level = new Level(index, price, ladder);
    this.levels[index] = level;
    return level;
  }

  get(index: number): Level {
    return this.levels[index]!;
  }

  /** A dropped level of a ladder without level events (a stop ladder) back in use at `price`. */
  reuse(level: Level, price: number): Level {
    const index = this.free.pop() ?? this.levels.length;
    level.index = index;
    level.price = price;
    this.levels[index] = level;
    return level;
  }

  release(level: Level): void {
    this.levels[level.index] = undefined;
    this.free.push(level.index);
  }
}

/**
 * The levels of one side, in priority order: ascending prices (asks, buy stops) or descending ones
 * (bids, sell stops). The front level is cached, so the best price is O(1); a price → level map makes
 * joining an existing level O(1); levels are linked in priority order, so top-N depth walks only N
 * levels. A new level finds its place by walking that list while the ladder holds at most
 * SMALL_LADDER levels (stop ladders, thin books: no tree to keep), and through a B+ tree in
 * O(log n) once it holds more (the tree is built then, and dropped again below half of it).
 */
export class PriceLadder {
  front: Level | undefined = undefined;
  private readonly byPrice = new Map<number, Level>();
  /** Only while the ladder holds more than SMALL_LADDER levels (see above). */
  private sorted: BTree<number, Level> | undefined = undefined;
  /**
   * Dropped levels kept for reuse, only in a ladder without level events (stop ladders, where a
   * trailing stop's move drops one level and makes another): LevelChanges needs the book sides'
   * levels never reused.
   */
  private readonly spare: Level[] = [];

  constructor(
    /** 1: ascending prices come first; -1: descending. */
    readonly direction: 1 | -1,
    readonly isSell: boolean,
    private readonly store: OrderStore,
    private readonly table: LevelTable,
    /** Book sides report level changes; stop ladders have none. */
    private readonly changes?: LevelChanges,
  ) {}

  level(price: number): Level | undefined {
    return this.byPrice.get(price);
  }

  /** True when `price` is at or ahead of `bound` in this ladder's order. */
  reaches(price: number, bound: number): boolean {
    return this.direction === 1 ? price <= bound : price >= bound;
  }

  /** Appends the order at the back of the level at `price`, creating the level when needed. */
  append(slot: number, price: number): void {
    const s = this.store;
    let level = this.byPrice.get(price);
    if (level === undefined) {
      const spare = this.spare.pop();
      level = spare === undefined ? this.table.create(price, this) : this.table.reuse(spare, price);
      this.byPrice.set(price, level);
      if (this.sorted !== undefined) this.sorted.set(price, level);
      else if (this.byPrice.size > SMALL_LADDER) this.buildTree(level);
      this.linkLevel(level);
    }
    this.changes?.note(level);
    s.level[slot] = level.index;
    s.prev[slot] = level.tail;
    s.next[slot] = NONE;
    if (level.tail === NONE) level.head = slot;
    else s.next[level.tail] = slot;
    level.tail = slot;
    level.total += s.remaining[slot]!;
  }

  /** Unlinks the order (its remaining leaves the level total) and drops the level when empty. */
  unlink(slot: number): void {
    const s = this.store;
    const level = this.table.get(s.level[slot]!);
    this.changes?.note(level);
    const prev = s.prev[slot]!;
    const next = s.next[slot]!;
    if (prev === NONE) level.head = next;
    else s.next[prev] = next;
    if (next === NONE) level.tail = prev;
    else s.prev[next] = prev;
    level.total -= s.remaining[slot]!;
    s.level[slot] = s.prev[slot] = s.next[slot] = NONE;
    if (level.head === NONE) this.dropLevel(level);
  }

  /** Takes `qty` off a resting order in place, keeping its priority; the caller unlinks it at zero. */
  reduce(slot: number, qty: number): void {
    const level = this.table.get(this.store.level[slot]!);
    this.changes?.note(level);
    this.store.remaining[slot]! -= qty;
    level.total -= qty;
  }

  /** Links a new level between its neighbours in priority order (the tree, if any, already holds it). */
  private linkLevel(level: Level): void {
    const front = this.front;
    if (front === undefined || this.reaches(level.price, front.price)) {
      level.worse = front;
      if (front !== undefined) front.better = level;
      this.front = level;
      return;
    }
    let better: Level;
    if (this.sorted !== undefined) {
      // The tree's order is priority order: its "lower" neighbour is the better level.
      better = this.sorted.nextLowerPair(level.price)![1];
    } else {
      better = front;
      while (better.worse !== undefined && this.reaches(better.worse.price, level.price))
        better = better.worse;
    }
    level.better = better;
    level.worse = better.worse;
    if (better.worse !== undefined) better.worse.better = level;
    better.worse = level;
  }

  /** The ladder outgrew SMALL_LADDER: a tree of its levels (the listed ones and the new one). */
  private buildTree(added: Level): void {
    const tree = new BTree<number, Level>(undefined, this.direction === 1 ? ascending : descending);
    for (let level = this.front; level !== undefined; level = level.worse) tree.set(level.price, level);
    tree.set(added.price, added);
    this.sorted = tree;
  }

  /**
   * Moves the order to the back of its level with `qty` more remaining (an iceberg's next slice,
   * after its shown one reached 0): the level stays, its total grows by qty.
   */
  requeue(slot: number, qty: number): void {
    const s = this.store;
    const level = this.table.get(s.level[slot]!);
    this.changes?.note(level);
    const next = s.next[slot]!;
    if (next !== NONE) {
      const prev = s.prev[slot]!;
      if (prev === NONE) level.head = next;
      else s.next[prev] = next;
      s.prev[next] = prev;
      s.prev[slot] = level.tail;
      s.next[slot] = NONE;
      s.next[level.tail] = slot;
      level.tail = slot;
    }
    s.remaining[slot]! += qty;
    level.total += qty;
  }

  private dropLevel(level: Level): void {
    this.byPrice.delete(level.price);
    if (this.sorted !== undefined) {
      if (this.byPrice.size > SMALL_LADDER / 2) this.sorted.delete(level.price);
      else this.sorted = undefined;
    }
    const { better, worse } = level;
    if (better === undefined) this.front = worse;
    else better.worse = worse;
    if (worse !== undefined) worse.better = better;
    level.better = level.worse = undefined;
    this.table.release(level);
    if (this.changes === undefined && this.spare.length < MAX_SPARE_LEVELS) {
      level.head = level.tail = NONE;
      level.total = 0;
      this.spare.push(level);
    }
  }

  /** Levels in priority order from the front; stops after `limit` levels when limit > 0. */
  *levels(limit = 0): Generator<Level> {
    let n = 0;
    for (let level = this.front; level !== undefined; level = level.worse) {
      yield level;
      if (++n === limit) return;
    }
  }

  /** Best `n` levels as [price, total]; n = 0 gives all. */
  depth(n: number): [number, number][] {
    const out: [number, number][] = [];
    let count = 0;
    for (let level = this.front; level !== undefined && (n === 0 || count < n); level = level.worse) {
      out.push([level.price, level.total]);
      count++;
    }
    return out;
  }

  /** Slots of all orders in priority order. */
  *slots(): Generator<number> {
    for (const level of this.levels()) {
      for (let slot = level.head; slot !== NONE; slot = this.store.next[slot]!) yield slot;
    }
  }
}

/**
 * Levels a ladder links by walking its list (at most this many steps per new level) before it
 * keeps a tree: below it a walk is cheaper than a tree's insert and delete (bench/RESULTS.md).
 */
const SMALL_LADDER = 32;

/** Spare levels a stop ladder keeps (more would only hold memory a burst of cancels freed). */
const MAX_SPARE_LEVELS = 64;

const ascending = (a: number, b: number): number => a - b;
const descending = (a: number, b: number): number => b - a;
