import { wireOrderId } from '../events/ids.ts';
import type { CommittedBatch, InProcessConsumer } from '../events/stream.ts';

/**
 * Who has which orders open, across every market: the checks order entry makes before a command
 * reaches a market. A user's clientOrderIds are unique among their open orders exchange-wide
 * (PROTOCOL.md); a market's book only sees its own. A place reserves its clientOrderId and a slot
 * of the user's open-order limit while it is in flight; the reply confirms or releases them and
 * the committed event stream's `order.closed` (an in-process consumer, after the publisher)
 * releases them for good.
 */
export class UserOrders implements InProcessConsumer {
  readonly name = 'userOrders';

  private readonly users = new Map<
    string,
    { open: Map<string, string | undefined>; coids: Set<string>; inFlight: number }
  >();

  constructor(private readonly maxOpenPerUser: number) {}

  private user(userId: string) {
    let user = this.users.get(userId);
    if (user === undefined) {
      user = { open: new Map(), coids: new Set(), inFlight: 0 };
      this.users.set(userId, user);
    }
    return user;
  }

  /** Reserves a place: 'duplicate' or 'limit' when it may not go ahead. */
  reserve(userId: string, clientOrderId: string | undefined): 'ok' | 'duplicate' | 'limit' {
    const user = this.user(userId);
    if (clientOrderId !== undefined && user.coids.has(clientOrderId)) return 'duplicate';
    if (user.open.size + user.inFlight >= this.maxOpenPerUser) return 'limit';
    if (clientOrderId !== undefined) user.coids.add(clientOrderId);
    user.inFlight++;
    return 'ok';
  }

  /** The place was answered: `orderId` when the order is open now, undefined when it is not. */
  settle(userId: string, clientOrderId: string | undefined, openOrderId: string | undefined): void {
    const user = this.user(userId);
    user.inFlight--;
    if (openOrderId !== undefined) user.open.set(openOrderId, clientOrderId);
    else if (clientOrderId !== undefined) user.coids.delete(clientOrderId);
    this.forget(userId, user);
  }

  /** An order already open (start-up, from the recovered books). */
  add(userId: string, orderId: string, clientOrderId: string | undefined): void {
    const user = this.user(userId);
    user.open.set(orderId, clientOrderId);
    if (clientOrderId !== undefined) user.coids.add(clientOrderId);
  }

  /** An order left the open set (filled or canceled). */
  closed(userId: string, orderId: string): void {
    const user = this.users.get(userId);
    if (user === undefined || !user.open.has(orderId)) return;
    const clientOrderId = user.open.get(orderId);
    user.open.delete(orderId);
    if (clientOrderId !== undefined) user.coids.delete(clientOrderId);
    this.forget(userId, user);
  }

  /** A committed batch: the orders it closed leave the open set. */
  onCommitted({ batch, events }: CommittedBatch): void {
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (event.type === 'order.closed')
        this.closed(event.userId, wireOrderId(batch.marketId, event.orderId));
    }
  }

  isOpen(userId: string, orderId: string): boolean {
    return this.users.get(userId)?.open.has(orderId) ?? false;
  }

  openCount(userId: string): number {
    return this.users.get(userId)?.open.size ?? 0;
  }

  private forget(userId: string, user: { open: Map<string, unknown>; inFlight: number }): void {
    if (user.open.size === 0 && user.inFlight === 0) this.users.delete(userId);
  }
}
