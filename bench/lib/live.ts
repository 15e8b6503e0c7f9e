import type { BookEvent, Side } from '../../src/actors/book/types.ts';

/**
 * The resting orders of a book as the stream generator sees them: a dense id list with O(1)
 * swap-remove (for "a random live order") plus each order's owner, side and price. Kept up to date
 * from the engine's events, so cancels and amends always name orders that really rest.
 */
export class LiveOrders {
  private readonly ids: number[] = [];
  /** orderId → index in `ids`, -1 when not live. */
  private readonly pos: Int32Array;
  readonly owner: Uint16Array;
  readonly sell: Uint8Array;
  readonly price: Int32Array;

  constructor(maxOrderId: number) {
    this.pos = new Int32Array(maxOrderId + 1).fill(-1);
    this.owner = new Uint16Array(maxOrderId + 1);
    this.sell = new Uint8Array(maxOrderId + 1);
    this.price = new Int32Array(maxOrderId + 1);
  }

  get size(): number {
    return this.ids.length;
  }

  /** Notes an order's attributes when its place command is generated. */
  describe(orderId: number, owner: number, side: Side, price: number): void {
    this.owner[orderId] = owner;
    this.sell[orderId] = side === 'sell' ? 1 : 0;
    this.price[orderId] = price;
  }

  has(orderId: number): boolean {
    return this.pos[orderId]! >= 0;
  }

  /** Uniformly random live order id (the caller checks size > 0). */
  pick(random: number): number {
    return this.ids[random % this.ids.length]!;
  }

  add(orderId: number): void {
    if (this.pos[orderId]! >= 0) return;
    this.pos[orderId] = this.ids.length;
    this.ids.push(orderId);
  }

  remove(orderId: number): void {
    const i = this.pos[orderId]!;
    if (i < 0) return;
    const last = this.ids.pop()!;
    if (last !== orderId) {
      this.ids[i] = last;
      this.pos[last] = i;
    }
    this.pos[orderId] = -1;
  }

  /** Applies one command's events: rested orders join, filled-out and canceled ones leave. */
  apply(events: readonly BookEvent[]): void {
    for (const ev of events) {
      switch (ev.type) {
        case 'rested':
          this.add(ev.orderId);
          this.price[ev.orderId] = ev.price;
          break;
        case 'fill':
          if (ev.makerRemaining === 0) this.remove(ev.makerOrderId);
          if (ev.takerRemaining === 0) this.remove(ev.takerOrderId);
          break;
        case 'canceled':
          this.remove(ev.orderId);
          break;
        case 'amended':
          this.price[ev.orderId] = ev.price;
          break;
        default:
          break;
      }
    }
  }
}
