import { createRequire } from 'node:module';
import type sortedBTree from 'sorted-btree';
import type { Trail } from './orderStore.ts';

// See priceLadder.ts for why sorted-btree is loaded with require().
const BTree = (createRequire(import.meta.url)('sorted-btree') as typeof sortedBTree).default;
type BTree<K, V> = sortedBTree.default<K, V>;

/**
 * One side's pending trailing stops grouped by anchor (types.ts, Trailing stops). A fill at p moves
 * every buy stop anchored above p (sell: below) to anchor p: the groups beyond p are taken whole,
 * so a fill costs one key comparison unless it moves something, and each move costs O(log n).
 */
export class TrailGroups {
  private readonly groups: BTree<number, Set<number>> = new BTree<number, Set<number>>();
  /** Pending trailing stops on this side. */
  size = 0;
  /** The anchor a fill must pass to move something (largest for buys, smallest for sells), kept current. */
  private extreme = 0;

  constructor(
    /** Buy stops trail the lowest price (they move when a trade goes below their anchor). */
    readonly buys: boolean,
  ) {}

  join(slot: number, trail: Trail): void {
    this.groupAt(trail.anchor).add(slot);
    trail.active = true;
    this.size++;
  }

  /** Joins moved stops (their trails' anchors already `anchor`) to one group. */
  joinAll(slots: readonly number[], trails: ReadonlyMap<number, Trail>, anchor: number): void {
    const group = this.groupAt(anchor);
    for (const slot of slots) {
      group.add(slot);
      trails.get(slot)!.active = true;
    }
    this.size += slots.length;
  }

  private groupAt(anchor: number): Set<number> {
    let group = this.groups.get(anchor);
    if (group === undefined) {
      group = new Set();
      this.groups.set(anchor, group);
      if (this.size === 0 || (this.buys ? anchor > this.extreme : anchor < this.extreme))
        this.extreme = anchor;
    }
    return group;
  }

  leave(slot: number, trail: Trail): void {
    if (!trail.active) return;
    trail.active = false;
    const group = this.groups.get(trail.anchor)!;
    group.delete(slot);
    if (group.size === 0) {
      this.groups.delete(trail.anchor);
      if (trail.anchor === this.extreme)
        this.extreme = (this.buys ? this.groups.maxKey() : this.groups.minKey()) ?? 0;
    }
    this.size--;
  }

  /** Whether a fill at `price` moves some stop of this side. */
  movesAt(price: number): boolean {
    if (this.size === 0) return false;
    return this.buys ? this.extreme > price : this.extreme < price;
  }

  /** Removes and returns the stops a fill at `price` moves (their trails left inactive). */
  takeBeyond(price: number): number[] {
    const out: number[] = [];
    for (;;) {
      const anchor = this.buys ? this.groups.maxKey() : this.groups.minKey();
      if (anchor === undefined || (this.buys ? anchor <= price : anchor >= price)) {
        this.extreme = anchor ?? 0;
        return out;
      }
      const group = this.groups.get(anchor)!;
      for (const slot of group) out.push(slot);
      this.size -= group.size;
      this.groups.delete(anchor);
    }
  }
}

/** The trailing distance at the trail's anchor, in ticks. */
export function trailDistance(trail: Trail): number {
  if (!trail.bps) return trail.offset;
  const distance = Number((BigInt(trail.anchor) * BigInt(trail.offset)) / 10_000n);
  return distance < 1 ? 1 : distance;
}

/** A trailing stop's stopPrice at its anchor: above it for a buy, below it (at least 1) for a sell. */
export function trailStop(trail: Trail, buy: boolean): number {
  const distance = trailDistance(trail);
  if (buy) return trail.anchor + distance;
  return trail.anchor - distance < 1 ? 1 : trail.anchor - distance;
}

/** The limit a triggered trailing stop executes at: limitOffset beyond its stopPrice (at least 1). */
export function trailLimit(stopPrice: number, limitOffset: number, buy: boolean): number {
  if (buy) return stopPrice + limitOffset;
  return stopPrice - limitOffset < 1 ? 1 : stopPrice - limitOffset;
}
