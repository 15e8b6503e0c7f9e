import type { BookEvent, OpenOrder } from '../book/types.ts';

/**
 * What the market's committed batches say of its book and open orders beyond what the book holds
 * (PROTOCOL v1.1 "Sequences survive restarts"): the book seq, and per open order the time of its
 * last change and the notional of its fills. A fold of the journaled events, kept in the market's
 * state (snapshotted, replayed), so a restart continues it instead of starting over; the publisher
 * starts from it (src/marketdata/publisher.ts). Deterministic: time comes in with each command.
 */

/** One open order's facts; a field is undefined when a legacy snapshot did not carry it. */
export interface OrderFacts {
  /** The entry ts of its last change (accepted, fill, rested, pending, triggered, amended). */
  ts: number | undefined;
  /** Σ price × qty of its fills, in tick×lot units. */
  filledNotional: bigint | undefined;
}

/** Plain form of the activity (market snapshots): open orders by ascending id. */
export interface OrderActivitySnapshot {
  /** Batches that changed the book (the book `seq` last published). */
  readonly bookSeq: number;
  readonly orders: readonly {
    readonly orderId: number;
    readonly ts?: number | undefined;
    /** Decimal string (it may pass 2^53). */
    readonly filledNotional?: string | undefined;
  }[];
}

export class OrderActivity {
  /** Batches that changed the book (net), as the publisher's book seq counts them. */
  bookSeq: number;
  readonly #orders = new Map<number, OrderFacts>();

  private constructor(bookSeq: number) {
    this.bookSeq = bookSeq;
  }

  /**
   * The activity of a snapshot, for the book it was taken with. Without one (a market snapshot
   * written before activity was kept; recovery replays the journal rather than restore such a
   * state) the book seq continues from `legacyBookSeq` (the market's command seq: never below the
   * batches that changed the book, so it never goes back) and the orders have no known ts; their
   * filled notional is known only when nothing filled yet.
   */
  static restore(
    snapshot: OrderActivitySnapshot | undefined,
    open: readonly OpenOrder[],
    legacyBookSeq: number,
  ): OrderActivity {
    if (snapshot === undefined) {
      const activity = new OrderActivity(legacyBookSeq);
      for (const order of open) {
        activity.#orders.set(order.orderId, {
          ts: undefined,
          filledNotional: order.remaining === order.qty ? 0n : undefined,
        });
      }
      return activity;
    }
    const activity = new OrderActivity(snapshot.bookSeq);
    for (const { orderId, ts, filledNotional } of snapshot.orders) {
      activity.#orders.set(orderId, {
        ts,
        filledNotional: filledNotional === undefined ? undefined : BigInt(filledNotional),
      });
    }
    return activity;
  }

  static empty(): OrderActivity {
    return new OrderActivity(0);
  }

  /** The facts of an open order; undefined for one it never saw. */
  order(orderId: number): Readonly<OrderFacts> | undefined {
    return this.#orders.get(orderId);
  }

  /** Folds one committed command's book events, stamped with its entry ts. */
  apply(events: readonly BookEvent[], ts: number): void {
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      switch (event.type) {
        case 'accepted':
          this.#orders.set(event.orderId, { ts, filledNotional: 0n });
          break;
        case 'fill': {
          const notional = BigInt(event.price) * BigInt(event.qty);
          this.#filled(event.takerOrderId, event.takerRemaining, notional, ts);
          this.#filled(event.makerOrderId, event.makerRemaining, notional, ts);
          break;
        }
        case 'rested':
        case 'pending':
        case 'triggered':
        case 'amended':
        case 'decremented':
          this.#touch(event.orderId, ts);
          break;
        case 'canceled':
          this.#orders.delete(event.orderId);
          break;
        case 'rejected':
        case 'level':
          break;
      }
    }
  }

  snapshot(): OrderActivitySnapshot {
    const orders = [...this.#orders]
      .sort((a, b) => a[0] - b[0])
      .map(([orderId, { ts, filledNotional }]) => ({
        orderId,
        ...(ts === undefined ? {} : { ts }),
        ...(filledNotional === undefined ? {} : { filledNotional: filledNotional.toString() }),
      }));
    return { bookSeq: this.bookSeq, orders };
  }

  #touch(orderId: number, ts: number): OrderFacts {
    let facts = this.#orders.get(orderId);
    if (facts === undefined) this.#orders.set(orderId, (facts = { ts, filledNotional: undefined }));
    else facts.ts = ts;
    return facts;
  }

  #filled(orderId: number, remaining: number, notional: bigint, ts: number): void {
    if (remaining === 0) {
      this.#orders.delete(orderId);
      return;
    }
    const facts = this.#touch(orderId, ts);
    if (facts.filledNotional !== undefined) facts.filledNotional += notional;
  }
}
