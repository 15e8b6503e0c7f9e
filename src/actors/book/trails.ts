import type { Trail } from './orderStore.ts';

/**
 * One side's pending trailing stops grouped by anchor (types.ts, Trailing stops). A fill at p moves
 * every buy stop anchored above p (sell: below) to anchor p. Every anchor is at or behind the last
 * trade price in the stops' favour (a buy's anchor is the lowest trade since it was placed, the
 * last trade among them), so a new stop joins at the extreme end and a fill takes the groups at
 * that end: the groups are an array sorted by anchor, extreme last, used as a stack (a restored
 * book, whose stops join in any order, inserts by binary search). A fill that moves nothing costs
 * one comparison; the groups it moves become one (the largest one's Set, relabelled).
 */
export class TrailGroups {
  /** Anchors, ascending for buys and descending for sells: the extreme (the one fills reach first) last. */
  private readonly anchors: number[] = [];
  private readonly groups: Set<number>[] = [];
  /** Pending trailing stops on this side. */
  size = 0;

  constructor(
    /** Buy stops trail the lowest price (they move when a trade goes below their anchor). */
    readonly buys: boolean,
  ) {}

  join(slot: number, trail: Trail): void {
    this.groupAt(trail.anchor).add(slot);
    trail.active = true;
    this.size++;
  }

  /** Whether a fill at `price` moves some stop of this side. */
  movesAt(price: number): boolean {
    const { anchors } = this;
    if (anchors.length === 0) return false;
    const extreme = anchors[anchors.length - 1]!;
    return this.buys ? extreme > price : extreme < price;
  }

  /**
   * Moves the groups a fill at `price` passes to anchor `price`, as one group, and appends their
   * slots to `out` (in no particular order). The trails' anchors are the caller's to set.
   */
  moveBeyond(price: number, out: number[]): void {
    const { anchors, groups, buys } = this;
    let merged: Set<number> | undefined;
    while (anchors.length !== 0) {
      const anchor = anchors[anchors.length - 1]!;
      if (buys ? anchor <= price : anchor >= price) break;
      anchors.pop();
      const group = groups.pop()!;
      for (const slot of group) out.push(slot);
      if (merged === undefined) merged = group;
      else if (group.size > merged.size) {
        for (const slot of merged) group.add(slot);
        merged = group;
      } else for (const slot of group) merged.add(slot);
    }
    if (merged === undefined) return;
    // A group at `price` itself (a stop placed at that last price) stays the extreme: join it.
    const top = anchors.length - 1;
    if (top >= 0 && anchors[top] === price) {
      for (const slot of merged) groups[top]!.add(slot);
    } else {
      anchors.push(price);
      groups.push(merged);
    }
  }

  leave(slot: number, trail: Trail): void {
    if (!trail.active) return;
    trail.active = false;
    const i = this.indexOf(trail.anchor);
    const group = this.groups[i]!;
    group.delete(slot);
    if (group.size === 0) {
      this.anchors.splice(i, 1);
      this.groups.splice(i, 1);
    }
    this.size--;
  }

  private groupAt(anchor: number): Set<number> {
    const { anchors, groups } = this;
    const i = this.indexOf(anchor);
    if (i < anchors.length && anchors[i] === anchor) return groups[i]!;
    const group = new Set<number>();
    if (i === anchors.length) {
      anchors.push(anchor);
      groups.push(group);
    } else {
      anchors.splice(i, 0, anchor);
      groups.splice(i, 0, group);
    }
    return group;
  }

  /** The index of `anchor`, or where it would go (binary search; the extreme end first). */
  private indexOf(anchor: number): number {
    const { anchors, buys } = this;
    const n = anchors.length;
    if (n === 0) return 0;
    const last = anchors[n - 1]!;
    if (last === anchor) return n - 1;
    if (buys ? anchor > last : anchor < last) return n;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const a = anchors[mid]!;
      if (buys ? a < anchor : a > anchor) lo = mid + 1;
      else hi = mid;
    }
    return lo;
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
