import { IdIndex } from './idIndex.ts';
import { NONE, type OrderStore } from './orderStore.ts';
import type { OrderRef } from './types.ts';

interface UserOrders {
  head: number;
  /** Only for users who name orders by clientOrderId. */
  byClientId: Map<string, number> | undefined;
}

/**
 * Index of a book's open orders (resting and pending stops): id → slot for O(1) cancel, and per user
 * a list through the store's userPrev/userNext columns for cancel-all and clientOrderId lookups. A
 * user with no open order has no entry, so the index never outgrows the book.
 */
export class OpenOrders {
  private readonly byId: IdIndex;
  private readonly users = new Map<string, UserOrders>();

  constructor(private readonly store: OrderStore) {
    this.byId = new IdIndex(store);
  }

  get size(): number {
    return this.byId.size;
  }

  /** The slot of the open order with this id, whoever owns it. */
  slotOf(orderId: number): number | undefined {
    return this.byId.get(orderId);
  }

  byClientId(userId: string, clientOrderId: string): number | undefined {
    return this.users.get(userId)?.byClientId?.get(clientOrderId);
  }

  /** The slot of the user's open order named by id (or by clientOrderId when no id is given). */
  find(ref: OrderRef): number | undefined {
    if (ref.orderId === undefined) return this.byClientId(ref.userId, ref.clientOrderId!);
    const slot = this.byId.get(ref.orderId);
    return slot !== undefined && this.store.userId[slot] === ref.userId ? slot : undefined;
  }

  ofUser(userId: string): number[] {
    const out: number[] = [];
    const next = this.store.userNext;
    for (let slot = this.users.get(userId)?.head ?? NONE; slot !== NONE; slot = next[slot]!) out.push(slot);
    return out;
  }

  add(slot: number): void {
    const s = this.store;
    const orderId = s.orderId[slot]!;
    if (!this.byId.add(orderId, slot)) throw new Error(`order id ${orderId} is already open`);
    const userId = s.userId[slot]!;
    let user = this.users.get(userId);
    if (user === undefined) {
      user = { head: NONE, byClientId: undefined };
      this.users.set(userId, user);
    }
    s.userPrev[slot] = NONE;
    s.userNext[slot] = user.head;
    if (user.head !== NONE) s.userPrev[user.head] = slot;
    user.head = slot;
    const clientOrderId = s.clientOrderId[slot];
    if (clientOrderId !== undefined) (user.byClientId ??= new Map()).set(clientOrderId, slot);
  }

  remove(slot: number): void {
    const s = this.store;
    this.byId.delete(s.orderId[slot]!);
    const userId = s.userId[slot]!;
    const user = this.users.get(userId)!;
    const prev = s.userPrev[slot]!;
    const next = s.userNext[slot]!;
    if (prev === NONE) user.head = next;
    else s.userNext[prev] = next;
    if (next !== NONE) s.userPrev[next] = prev;
    const clientOrderId = s.clientOrderId[slot];
    if (clientOrderId !== undefined) user.byClientId?.delete(clientOrderId);
    if (user.head === NONE) this.users.delete(userId);
  }
}
