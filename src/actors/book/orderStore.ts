import {
  HAS_SPARSE,
  SPARSE_BUDGET,
  SPARSE_EXPIRY,
  SPARSE_ICEBERG,
  SPARSE_LINK,
  isMarketLike,
  isTrailing,
  isPostOnly,
  isStop,
  sideOf,
  stpOf,
  tifOf,
  typeOf,
} from './flags.ts';
import type { OpenOrder } from './types.ts';

/** A trailing stop's rule (types.ts, Trailing stops) and its anchor. */
export interface Trail {
  /** Ticks, or basis points of the anchor when `bps`. */
  readonly offset: number;
  readonly bps: boolean;
  readonly limitOffset: number | undefined;
  anchor: number;
  /** Pending and trailing (false once triggered). */
  active: boolean;
}

/** "No slot": the end of a list, or an order that is on no level. */
export const NONE = -1;

const INITIAL_CAPACITY = 1024;

/**
 * The open orders of a book, stored column-wise in typed arrays and addressed by slot number; freed
 * slots are reused. A million resting orders are a few dozen arrays instead of a million objects:
 * the garbage collector has almost nothing to trace or move, and an order costs about 94 bytes,
 * its id index included (bench/RESULTS.md). Ids, prices and quantities are safe integers, exact in a Float64Array.
 */
export class OrderStore {
  orderId = new Float64Array(INITIAL_CAPACITY);
  /** Limit price in ticks; 0 for market-like orders. */
  price = new Float64Array(INITIAL_CAPACITY);
  /** Stop price in ticks; 0 when not a stop. */
  stopPrice = new Float64Array(INITIAL_CAPACITY);
  /** Total quantity in lots: original, or as amended. */
  qty = new Float64Array(INITIAL_CAPACITY);
  remaining = new Float64Array(INITIAL_CAPACITY);
  /** Side, type, tif, post-only and stp, packed (flags.ts). */
  flags = new Int32Array(INITIAL_CAPACITY);
  /** Index of the level the order rests or waits on (Levels), or NONE while it executes. */
  level = new Int32Array(INITIAL_CAPACITY);
  /** FIFO neighbours on its level; the free list also runs through `next`. */
  prev = new Int32Array(INITIAL_CAPACITY);
  next = new Int32Array(INITIAL_CAPACITY);
  /** Neighbours in its user's list of open orders. */
  userPrev = new Int32Array(INITIAL_CAPACITY);
  userNext = new Int32Array(INITIAL_CAPACITY);
  userId: string[] = [];
  clientOrderId: (string | undefined)[] = [];
  /**
   * By slot, only for the orders that have one: a stop_market buy's quote budget (tick×lot units)
   * and a GTD order's expiry (ms since epoch). Few orders carry either, so two more columns would
   * cost every order 16 B (bench:engine memory: 94 → 109 B/order) for nothing.
   */
  readonly budget = new Map<number, number>();
  readonly expireAt = new Map<number, number>();
  /**
   * An iceberg's largest slice, and while it rests its hidden part: for a resting iceberg
   * `remaining` is the shown slice (what its level counts), remaining + hidden its whole remaining.
   */
  readonly display = new Map<number, number>();
  readonly hidden = new Map<number, number>();
  /** A trailing stop's rule and anchor (set by the book, which also sets HAS_SPARSE; TRAILING says it has one). */
  readonly trail = new Map<number, Trail>();
  /** A linked OCO leg: its partner's slot and the list's id (set with HAS_SPARSE and SPARSE_LINK by the book). */
  readonly link = new Map<number, { readonly partner: number; readonly listId: number }>();

  private capacity = INITIAL_CAPACITY;
  private used = 0;
  private freeHead = NONE;

  /** `maxOpen` bounds growth: the open orders plus the one order being executed. */
  constructor(private readonly maxOpen: number) {}

  /** Takes a slot for a new order (not yet linked anywhere). */
  allocate(
    orderId: number,
    userId: string,
    clientOrderId: string | undefined,
    flags: number,
    price: number,
    stopPrice: number,
    qty: number,
    remaining: number,
    budget: number,
    expireAt: number,
    display = 0,
  ): number {
    let slot = this.freeHead;
    if (slot !== NONE) this.freeHead = this.next[slot]!;
    else {
      if (this.used === this.capacity) this.grow();
      slot = this.used++;
    }
    this.orderId[slot] = orderId;
    this.userId[slot] = userId;
    this.clientOrderId[slot] = clientOrderId;
    let sparse = 0;
    if (budget > 0) sparse |= HAS_SPARSE | SPARSE_BUDGET;
    if (expireAt > 0) sparse |= HAS_SPARSE | SPARSE_EXPIRY;
    if (display > 0) sparse |= HAS_SPARSE | SPARSE_ICEBERG;
    this.flags[slot] = flags | sparse;
    this.price[slot] = price;
    this.stopPrice[slot] = stopPrice;
    this.qty[slot] = qty;
    this.remaining[slot] = remaining;
    if (budget > 0) this.budget.set(slot, budget);
    if (expireAt > 0) this.expireAt.set(slot, expireAt);
    if (display > 0) this.display.set(slot, display);
    this.level[slot] = NONE;
    this.prev[slot] = this.next[slot] = this.userPrev[slot] = this.userNext[slot] = NONE;
    return slot;
  }

  release(slot: number): void {
    this.userId[slot] = '';
    this.clientOrderId[slot] = undefined;
    const flags = this.flags[slot]!;
    if ((flags & HAS_SPARSE) !== 0) {
      if ((flags & SPARSE_BUDGET) !== 0) this.budget.delete(slot);
      if ((flags & SPARSE_EXPIRY) !== 0) this.expireAt.delete(slot);
      if ((flags & SPARSE_ICEBERG) !== 0) {
        this.display.delete(slot);
        this.hidden.delete(slot);
      }
      if (isTrailing(flags)) this.trail.delete(slot);
      if ((flags & SPARSE_LINK) !== 0) this.link.delete(slot);
    }
    this.next[slot] = this.freeHead;
    this.freeHead = slot;
  }

  /** The order's whole remaining: for a resting iceberg its shown slice plus its hidden part. */
  remainingOf(slot: number): number {
    const remaining = this.remaining[slot]!;
    return (this.flags[slot]! & SPARSE_ICEBERG) === 0 ? remaining : remaining + (this.hidden.get(slot) ?? 0);
  }

  toOpenOrder(slot: number): OpenOrder {
    const flags = this.flags[slot]!;
    const open: { -readonly [K in keyof OpenOrder]: OpenOrder[K] } = {
      orderId: this.orderId[slot]!,
      userId: this.userId[slot]!,
      side: sideOf(flags),
      type: typeOf(flags),
      tif: tifOf(flags),
      postOnly: isPostOnly(flags),
      stp: stpOf(flags),
      qty: this.qty[slot]!,
      remaining: this.remainingOf(slot),
    };
    const clientOrderId = this.clientOrderId[slot];
    if (clientOrderId !== undefined) open.clientOrderId = clientOrderId;
    if (!isMarketLike(flags)) open.price = this.price[slot]!;
    if (isStop(flags)) open.stopPrice = this.stopPrice[slot]!;
    const budget = this.budget.get(slot);
    if (budget !== undefined) open.quoteBudget = budget;
    const expireAt = this.expireAt.get(slot);
    if (expireAt !== undefined) open.expireAt = expireAt;
    const display = this.display.get(slot);
    if (display !== undefined) open.displayQty = display;
    if (this.hidden.has(slot)) open.shownQty = this.remaining[slot]!;
    if (isTrailing(flags)) {
      const trail = this.trail.get(slot)!;
      if (trail.bps) open.trailingBps = trail.offset;
      else open.trailingOffset = trail.offset;
      if (trail.limitOffset !== undefined) open.limitOffset = trail.limitOffset;
      open.trailAnchor = trail.anchor;
    }
    const link = this.link.get(slot);
    if (link !== undefined) open.listId = link.listId;
    return open;
  }

  private grow(): void {
    const capacity = Math.min(this.capacity * 2, this.maxOpen + 1);
    if (capacity === this.capacity) throw new Error(`order store is full at ${capacity} slots`);
    this.orderId = grown(this.orderId, new Float64Array(capacity));
    this.price = grown(this.price, new Float64Array(capacity));
    this.stopPrice = grown(this.stopPrice, new Float64Array(capacity));
    this.qty = grown(this.qty, new Float64Array(capacity));
    this.remaining = grown(this.remaining, new Float64Array(capacity));
    this.flags = grown(this.flags, new Int32Array(capacity));
    this.level = grown(this.level, new Int32Array(capacity));
    this.prev = grown(this.prev, new Int32Array(capacity));
    this.next = grown(this.next, new Int32Array(capacity));
    this.userPrev = grown(this.userPrev, new Int32Array(capacity));
    this.userNext = grown(this.userNext, new Int32Array(capacity));
    this.capacity = capacity;
  }
}

function grown<T extends Float64Array | Int32Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
