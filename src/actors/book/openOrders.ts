import type { Order } from './order.ts';
import type { OrderRef } from './types.ts';

interface UserOrders {
  head: Order | undefined;
  /** Only for users who name orders by clientOrderId. */
  byClientId: Map<string, Order> | undefined;
}

/**
 * Index of a book's open orders (resting and pending stops): by id for O(1) cancel, and per user
 * (an intrusive list through the orders) for cancel-all and clientOrderId lookups. A user with no
 * open order has no entry, so the index never outgrows the book.
 */
export class OpenOrders {
  private readonly byId = new Map<number, Order>();
  private readonly users = new Map<string, UserOrders>();

  get size(): number {
    return this.byId.size;
  }

  get(orderId: number): Order | undefined {
    return this.byId.get(orderId);
  }

  byClientId(userId: string, clientOrderId: string): Order | undefined {
    return this.users.get(userId)?.byClientId?.get(clientOrderId);
  }

  /** The user's open order named by id (or by clientOrderId when no id is given). */
  find(ref: OrderRef): Order | undefined {
    if (ref.orderId === undefined) return this.byClientId(ref.userId, ref.clientOrderId!);
    const order = this.byId.get(ref.orderId);
    return order?.userId === ref.userId ? order : undefined;
  }

  ofUser(userId: string): Order[] {
    const out: Order[] = [];
    for (let o = this.users.get(userId)?.head; o !== undefined; o = o.userNext) out.push(o);
    return out;
  }

  add(order: Order): void {
    if (this.byId.has(order.orderId)) throw new Error(`order id ${order.orderId} is already open`);
    this.byId.set(order.orderId, order);
    let user = this.users.get(order.userId);
    if (user === undefined) {
      user = { head: undefined, byClientId: undefined };
      this.users.set(order.userId, user);
    }
    order.userPrev = undefined;
    order.userNext = user.head;
    if (user.head !== undefined) user.head.userPrev = order;
    user.head = order;
    if (order.clientOrderId !== undefined) (user.byClientId ??= new Map()).set(order.clientOrderId, order);
  }

  remove(order: Order): void {
    this.byId.delete(order.orderId);
    const user = this.users.get(order.userId)!;
    if (order.userPrev === undefined) user.head = order.userNext;
    else order.userPrev.userNext = order.userNext;
    if (order.userNext !== undefined) order.userNext.userPrev = order.userPrev;
    order.userPrev = order.userNext = undefined;
    if (order.clientOrderId !== undefined) user.byClientId?.delete(order.clientOrderId);
    if (user.head === undefined) this.users.delete(order.userId);
  }
}
