/**
 * A page's rows from the domain events of its journal records (src/events/fold.ts, the fold the
 * publisher uses too). Orders follow their events through src/events/orders.ts (applyOrderChange,
 * statusOf: filled_qty = qty − remaining). Lifecycle events give market_lifecycle_events rows
 * (the transition the machine recorded, or the refusal); credits give audit_log rows.
 */

import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { AcceptedEvent } from '../../actors/book/types.ts';
import type { Posting } from '../../actors/ledger/index.ts';
import { LEDGER_JOURNAL_ID, type JournalBatch } from '../../actors/market/types.ts';
import type { DomainEvent, LifecycleRefused, LifecycleTransition } from '../../events/domain.ts';
import { foldBatch } from '../../events/fold.ts';
import { tradeId, wireOrderId } from '../../events/ids.ts';
import { applyOrderChange, type OrderChange } from '../../events/orders.ts';
import { ProjectionError, safeInteger } from './relational.ts';
import { PostingColumns, type AuditRow, type LifecycleRow, type OrderState, type TradeRow } from './rows.ts';

const OrderRow = z.object({
  id: z.string(),
  qty: z.string(),
  remaining: z.string(),
  price: z.string().nullable(),
  stop_price: z.string().nullable(),
  status: z.string(),
});

function isoTime(ts: number): string {
  const date = new Date(ts);
  if (Number.isNaN(date.getTime())) throw new ProjectionError(`bad entry ts ${ts}`);
  return date.toISOString();
}

/**
 * A change to an order not created in the page, applied once its row is loaded: the event itself,
 * not a closure (tsx's keepNames wraps every named closure in a __name() call, ~2% of the server's
 * CPU in bench:ws when #event made three per event).
 */
interface PendingChange {
  readonly orderId: number;
  readonly change: OrderChange;
  readonly globalSeq: number;
  readonly ts: string;
}

/** A change's effect on one of its orders (orders.ts), and when the order last changed. */
function applyChange(
  order: OrderState,
  orderId: number,
  change: OrderChange,
  globalSeq: number,
  ts: string,
): void {
  applyOrderChange(order, orderId, change);
  order.updatedGlobalSeq = globalSeq;
  order.updatedAt = ts;
}

/**
 * The effects of one page, gathered in memory from the domain events of its records (the one fold,
 * src/events/fold.ts): orders created in it, changes to orders created before (applied once their
 * rows are loaded), trades, postings, balance deltas, lifecycle and audit rows.
 */
export class PageState {
  readonly orders = new Map<string, OrderState>();
  /** Changes, in journal order, to orders not created in this page (applied after load). */
  readonly pendingChanges = new Map<string, PendingChange[]>();
  readonly trades: TradeRow[] = [];
  readonly postings = new PostingColumns();
  /** The record being applied: its postings rows by account and asset (an index into postings). */
  readonly #recordPostings = new Map<string, number>();
  readonly deltas = new Map<string, { account: string; asset: string; available: bigint; locked: bigint }>();
  readonly lifecycle: LifecycleRow[] = [];
  readonly audit: AuditRow[] = [];
  entries = 0;
  /** The events of the record being applied (one array for the page). */
  readonly #events: DomainEvent[] = [];

  apply(globalSeq: number, batch: JournalBatch): void {
    const { marketId } = batch;
    this.entries += batch.entries.length;
    const events = this.#events;
    events.length = 0;
    this.#recordPostings.clear();
    foldBatch(batch, events);
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      switch (event.type) {
        case 'balance.changed':
          this.#postings(marketId, globalSeq, this.#isoTime(event.ts), event.postings);
          break;
        case 'lifecycle.transition':
        case 'lifecycle.refused':
          this.#lifecycle(marketId, globalSeq, event);
          break;
        case 'credit':
          if (marketId !== LEDGER_JOURNAL_ID)
            throw new ProjectionError(`a deposit in market record ${globalSeq}`);
          this.audit.push({
            globalSeq,
            entryIndex: event.entry,
            ledgerSeq: event.seq,
            kind: 'deposit',
            account: event.userId,
            asset: event.asset,
            amount: event.amount,
            ts: this.#isoTime(event.ts),
          });
          break;
        case 'order.accepted':
          this.#accepted(marketId, globalSeq, this.#isoTime(event.ts), event.order);
          break;
        case 'fill': {
          const { fill } = event;
          const ts = this.#isoTime(event.ts);
          const takerKey = wireOrderId(marketId, fill.takerOrderId);
          const makerKey = wireOrderId(marketId, fill.makerOrderId);
          this.trades.push({
            id: tradeId(marketId, event.seq, event.n),
            marketId,
            makerOrderId: makerKey,
            takerOrderId: takerKey,
            makerUserId: fill.makerUserId,
            takerUserId: fill.takerUserId,
            takerSide: fill.takerSide,
            price: fill.price,
            qty: fill.qty,
            ts,
            globalSeq,
          });
          this.#change(takerKey, fill.takerOrderId, fill, globalSeq, ts);
          this.#change(makerKey, fill.makerOrderId, fill, globalSeq, ts);
          break;
        }
        case 'order.changed':
          this.#change(
            wireOrderId(marketId, event.orderId),
            event.orderId,
            event.change,
            globalSeq,
            this.#isoTime(event.ts),
          );
          break;
        case 'order.closed':
        case 'book.level':
          break;
      }
    }
    events.length = 0;
  }

  #postings(marketId: string, globalSeq: number, ts: string, postings: readonly Posting[]): void {
    const ps = this.postings;
    const rows = this.#recordPostings;
    for (let postingIndex = 0; postingIndex < postings.length; postingIndex++) {
      const posting = postings[postingIndex]!;
      const key = `${posting.account}\u0000${posting.asset}`;
      let row = rows.get(key);
      if (row === undefined) {
        row = ps.globalSeq.length;
        ps.globalSeq.push(globalSeq);
        ps.account.push(posting.account);
        ps.asset.push(posting.asset);
        ps.marketId.push(marketId);
        ps.available.push(0n);
        ps.locked.push(0n);
        ps.count.push(0);
        ps.ts.push(ts);
        rows.set(key, row);
      }
      ps.count[row]!++;
      ps.ts[row] = ts;
      let delta = this.deltas.get(key);
      if (delta === undefined) {
        delta = { account: posting.account, asset: posting.asset, available: 0n, locked: 0n };
        this.deltas.set(key, delta);
      }
      if (posting.bucket === 'available') {
        ps.available[row]! += posting.amount;
        delta.available += posting.amount;
      } else {
        ps.locked[row]! += posting.amount;
        delta.locked += posting.amount;
      }
    }
  }

  #lastTs = Number.NaN;
  #lastIso = '';

  /** isoTime, remembering the last: consecutive entries mostly share their millisecond. */
  #isoTime(ts: number): string {
    if (ts !== this.#lastTs) {
      this.#lastIso = isoTime(ts);
      this.#lastTs = ts;
    }
    return this.#lastIso;
  }

  #lifecycle(marketId: string, globalSeq: number, event: LifecycleTransition | LifecycleRefused): void {
    const notice = event.type === 'lifecycle.transition' ? event.notice : undefined;
    const command = event.event;
    const actor = notice?.actor ?? command.actor;
    const refused = event.type === 'lifecycle.refused' ? event : undefined;
    this.lifecycle.push({
      marketId,
      marketSeq: event.seq,
      lifecycleSeq: notice?.seq ?? null,
      outcome: notice === undefined ? 'rejected' : 'transition',
      from: notice?.from ?? null,
      to: notice?.to ?? null,
      eventType: notice?.event ?? command.type,
      actorId: actor.id,
      actorType: actor.type,
      reason: (notice === undefined ? command.reason : notice.reason) ?? null,
      errorCode: refused?.code ?? null,
      errorMessage: refused?.message ?? null,
      contractAddress: notice?.contractAddress ?? null,
      txHash: notice?.deploymentTxHash ?? null,
      deployError: notice?.deployError ?? null,
      metadata: command.metadata === undefined ? null : JSON.stringify(command.metadata),
      ts: isoTime(notice?.ts ?? command.ts),
      globalSeq,
    });
  }

  #accepted(marketId: string, globalSeq: number, ts: string, event: AcceptedEvent): void {
    const key = wireOrderId(marketId, event.orderId);
    if (this.orders.has(key) || this.pendingChanges.has(key)) {
      throw new ProjectionError(`order ${key} accepted twice`);
    }
    this.orders.set(key, {
      id: key,
      isNew: true,
      marketId,
      orderId: event.orderId,
      userId: event.userId,
      clientOrderId: event.clientOrderId ?? null,
      side: event.side,
      type: event.orderType,
      tif: event.tif,
      price: event.price ?? null,
      stopPrice: event.stopPrice ?? null,
      qty: event.qty,
      remaining: event.qty,
      pending: false,
      canceled: false,
      createdGlobalSeq: globalSeq,
      updatedGlobalSeq: globalSeq,
      createdAt: ts,
      updatedAt: ts,
    });
  }

  /** Applies a change to an order of the page now, or keeps it for after the order is loaded. */
  #change(key: string, orderId: number, change: OrderChange, globalSeq: number, ts: string): void {
    const order = this.orders.get(key);
    if (order !== undefined) {
      applyChange(order, orderId, change, globalSeq, ts);
      return;
    }
    const pending: PendingChange = { orderId, change, globalSeq, ts };
    const list = this.pendingChanges.get(key);
    if (list === undefined) this.pendingChanges.set(key, [pending]);
    else list.push(pending);
  }

  /**
   * Loads the orders this page changes but did not create: from `recent` (the page before, whose
   * statement may still be in flight) or else from the table.
   */
  async load(pool: DatabasePool, recent: ReadonlyMap<string, OrderState> | undefined): Promise<void> {
    const ids: string[] = [];
    for (const key of this.pendingChanges.keys()) {
      const order = recent?.get(key);
      if (order === undefined) ids.push(key);
      else this.orders.set(key, { ...order, isNew: false });
    }
    if (ids.length === 0) return;
    const rows = await pool.any(sql.type(OrderRow)`
      SELECT id, qty::text AS qty, remaining::text AS remaining, price::text AS price,
        stop_price::text AS stop_price, status
      FROM orders WHERE id = ANY(${sql.array(ids, 'text')})`);
    for (const row of rows) {
      this.orders.set(row.id, {
        id: row.id,
        isNew: false,
        // Only the fields below are written back for an existing order.
        marketId: '',
        orderId: 0,
        userId: '',
        clientOrderId: null,
        side: 'buy',
        type: 'limit',
        tif: 'GTC',
        price: row.price === null ? null : safeInteger(row.price, 'price'),
        // Written back too: a trailing stop's moves change it.
        stopPrice: row.stop_price === null ? null : safeInteger(row.stop_price, 'stop_price'),
        qty: safeInteger(row.qty, 'qty'),
        remaining: safeInteger(row.remaining, 'remaining'),
        pending: row.status === 'pending_trigger',
        canceled: row.status === 'canceled',
        createdGlobalSeq: 0,
        updatedGlobalSeq: 0,
        createdAt: '',
        updatedAt: '',
      });
    }
    const missing = ids.filter((key) => !this.orders.has(key));
    if (missing.length > 0) throw new ProjectionError(`events for unknown orders ${missing.join(', ')}`);
  }

  /** Applies the changes to loaded orders (each order's changes in journal order). */
  resolve(): void {
    for (const [key, changes] of this.pendingChanges) {
      const order = this.orders.get(key)!;
      for (const { orderId, change, globalSeq, ts } of changes)
        applyChange(order, orderId, change, globalSeq, ts);
    }
  }
}
