/**
 * The fold of journal records into a page's rows. Order status comes from the book events:
 * accepted (+ rested) → open; fills → partially_filled / filled (filled_qty = qty − remaining);
 * canceled → canceled; pending → pending_trigger; triggered → back to the fill-derived status;
 * amended → the new price, qty and remaining. Lifecycle commands give market_lifecycle_events rows
 * (the transition the machine recorded, or the refusal); accepted deposits give audit_log rows.
 */

import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { LifecycleEvent } from '../../../machines/marketLifecycle.ts';
import type { BookEvent } from '../../actors/book/types.ts';
import { LEDGER_JOURNAL_ID, type BatchEntry, type JournalCommand } from '../../actors/market/types.ts';
import type { decodeBatch } from '../journalCodec.ts';
import { ProjectionError, safeInteger } from './relational.ts';
import {
  PostingColumns,
  PostingEntries,
  type AuditRow,
  type LifecycleRow,
  type OrderState,
  type TradeRow,
} from './rows.ts';

const OrderRow = z.object({
  id: z.string(),
  qty: z.string(),
  remaining: z.string(),
  price: z.string().nullable(),
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
  readonly event: BookEvent;
  readonly globalSeq: number;
  readonly ts: string;
}

/** An event's effect on one of its orders (`orderId` tells a fill's taker from its maker). */
function applyChange(
  order: OrderState,
  orderId: number,
  event: BookEvent,
  globalSeq: number,
  ts: string,
): void {
  switch (event.type) {
    case 'fill':
      order.remaining = orderId === event.takerOrderId ? event.takerRemaining : event.makerRemaining;
      break;
    case 'rested':
      order.remaining = event.remaining;
      order.price = event.price;
      order.pending = false;
      break;
    case 'pending':
      order.pending = true;
      break;
    case 'triggered':
      order.pending = false;
      break;
    case 'canceled':
      order.remaining = event.remaining;
      order.canceled = true;
      order.pending = false;
      break;
    case 'amended':
      order.price = event.price;
      order.qty = event.qty;
      order.remaining = event.remaining;
      break;
    case 'decremented':
      order.qty -= event.qty;
      order.remaining = event.remaining;
      break;
    case 'accepted':
    case 'rejected':
    case 'level':
      return;
  }
  order.updatedGlobalSeq = globalSeq;
  order.updatedAt = ts;
}

/**
 * The effects of one page, gathered in memory: orders created in it, changes to orders created
 * before (applied once their rows are loaded), trades, postings, balance deltas, lifecycle and
 * audit rows.
 */
export class PageState {
  readonly orders = new Map<string, OrderState>();
  /** Changes, in journal order, to orders not created in this page (applied after load). */
  readonly pendingChanges = new Map<string, PendingChange[]>();
  readonly trades: TradeRow[] = [];
  readonly postings = new PostingColumns();
  readonly postingEntries = new PostingEntries();
  readonly deltas = new Map<string, { account: string; asset: string; available: bigint; locked: bigint }>();
  readonly lifecycle: LifecycleRow[] = [];
  readonly audit: AuditRow[] = [];
  entries = 0;

  apply(globalSeq: number, batch: ReturnType<typeof decodeBatch>): void {
    const { marketId } = batch;
    this.entries += batch.entries.length;
    const { entries } = batch;
    for (let entryIndex = 0; entryIndex < entries.length; entryIndex++) {
      const entry = entries[entryIndex]!;
      const ts = this.#isoTime(entry.ts);
      const ps = this.postings;
      const es = this.postingEntries;
      if (entry.postings.length > 0) {
        es.globalSeq.push(globalSeq);
        es.index.push(entryIndex);
        es.marketId.push(marketId);
        es.ts.push(ts);
      }
      const entryRef = es.globalSeq.length;
      const { postings } = entry;
      for (let postingIndex = 0; postingIndex < postings.length; postingIndex++) {
        const posting = postings[postingIndex]!;
        ps.entry.push(entryRef);
        ps.index.push(postingIndex);
        ps.account.push(posting.account);
        ps.asset.push(posting.asset);
        ps.bucket.push(posting.bucket);
        ps.amount.push(posting.amount.toString());
        ps.kind.push(posting.kind);
        const key = `${posting.account}\u0000${posting.asset}`;
        let delta = this.deltas.get(key);
        if (delta === undefined) {
          delta = { account: posting.account, asset: posting.asset, available: 0n, locked: 0n };
          this.deltas.set(key, delta);
        }
        if (posting.bucket === 'available') delta.available += posting.amount;
        else delta.locked += posting.amount;
      }
      const { command } = entry;
      if (command.kind === 'lifecycle') this.#lifecycle(marketId, globalSeq, entry, command.event);
      else if (command.kind === 'deposit') {
        if (marketId !== LEDGER_JOURNAL_ID)
          throw new ProjectionError(`a deposit in market record ${globalSeq}`);
        if (entry.result.ok) {
          this.audit.push({
            globalSeq,
            entryIndex,
            ledgerSeq: entry.seq,
            kind: 'deposit',
            account: command.userId,
            asset: command.asset,
            amount: command.amount,
            ts,
          });
        }
      }
      if (!entry.result.ok) continue;
      let fills = 0;
      for (const event of entry.result.events) {
        this.#event(marketId, globalSeq, entry.seq, ts, event, fills);
        if (event.type === 'fill') fills++;
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

  #lifecycle(
    marketId: string,
    globalSeq: number,
    entry: BatchEntry<JournalCommand>,
    event: LifecycleEvent,
  ): void {
    const { result } = entry;
    if (result.ok && result.transition === undefined) return;
    const notice = result.ok ? result.transition : undefined;
    const actor = notice?.actor ?? event.actor;
    this.lifecycle.push({
      marketId,
      marketSeq: entry.seq,
      lifecycleSeq: notice?.seq ?? null,
      outcome: notice === undefined ? 'rejected' : 'transition',
      from: notice?.from ?? null,
      to: notice?.to ?? null,
      eventType: notice?.event ?? event.type,
      actorId: actor.id,
      actorType: actor.type,
      reason: (notice === undefined ? event.reason : notice.reason) ?? null,
      errorCode: result.ok ? null : result.code,
      errorMessage: result.ok ? null : result.message,
      contractAddress: notice?.contractAddress ?? null,
      txHash: notice?.deploymentTxHash ?? null,
      deployError: notice?.deployError ?? null,
      ts: isoTime(notice?.ts ?? event.ts),
      globalSeq,
    });
  }

  #event(
    marketId: string,
    globalSeq: number,
    seq: number,
    ts: string,
    event: BookEvent,
    /** Fills of the entry before this event: numbers a fill's trade. */
    fillsBefore: number,
  ): void {
    switch (event.type) {
      case 'accepted': {
        const key = `${marketId}:${event.orderId}`;
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
        return;
      }
      case 'fill': {
        const takerKey = `${marketId}:${event.takerOrderId}`;
        const makerKey = `${marketId}:${event.makerOrderId}`;
        this.trades.push({
          id: `${marketId}:${seq}:${fillsBefore}`,
          marketId,
          makerOrderId: makerKey,
          takerOrderId: takerKey,
          makerUserId: event.makerUserId,
          takerUserId: event.takerUserId,
          takerSide: event.takerSide,
          price: event.price,
          qty: event.qty,
          ts,
          globalSeq,
        });
        this.#change(takerKey, event.takerOrderId, event, globalSeq, ts);
        this.#change(makerKey, event.makerOrderId, event, globalSeq, ts);
        return;
      }
      case 'rested':
      case 'pending':
      case 'triggered':
      case 'canceled':
      case 'amended':
      case 'decremented':
        this.#change(`${marketId}:${event.orderId}`, event.orderId, event, globalSeq, ts);
        return;
      case 'rejected':
      case 'level':
        return;
    }
  }

  /** Applies an event to an order of the page now, or keeps it for after the order is loaded. */
  #change(key: string, orderId: number, event: BookEvent, globalSeq: number, ts: string): void {
    const order = this.orders.get(key);
    if (order !== undefined) {
      applyChange(order, orderId, event, globalSeq, ts);
      return;
    }
    const change: PendingChange = { orderId, event, globalSeq, ts };
    const list = this.pendingChanges.get(key);
    if (list === undefined) this.pendingChanges.set(key, [change]);
    else list.push(change);
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
      SELECT id, qty::text AS qty, remaining::text AS remaining, price::text AS price, status
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
        stopPrice: null,
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
      for (const { orderId, event, globalSeq, ts } of changes)
        applyChange(order, orderId, event, globalSeq, ts);
    }
  }
}
