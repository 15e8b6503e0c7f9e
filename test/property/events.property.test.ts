import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OrderType, SelfTradePrevention, TimeInForce } from '../../src/actors/book/types.ts';
import { Ledger } from '../../src/actors/ledger/index.ts';
import type { MarketCommand } from '../../src/actors/market/types.ts';
import { Supervisor } from '../../src/actors/supervisor.ts';
import type { DomainEvent } from '../../src/events/domain.ts';
import { foldBatch } from '../../src/events/fold.ts';
import {
  applyOrderChange,
  isClosed,
  placementSummary,
  statusOf,
  type OrderProgress,
} from '../../src/events/orders.ts';
import { decodeBatch, encodeBatch } from '../../src/persistence/journalCodec.ts';
import {
  ASSET_DECIMALS,
  BTC_USDC,
  lifecycle,
  limit,
  marketOrder,
  MemorySink,
  PATH_TO,
} from '../support/markets.ts';

/*
 * The one fold (src/events/fold.ts) against the real book as its reference: random commands go
 * through a Supervisor and MarketActor; every committed batch, encoded and decoded as the journal
 * holds it, is folded, and the order states the events give (through src/events/orders.ts) are
 * the open orders the book reports, with the status the book's figures imply; every order the
 * events close is one the book no longer holds, closed exactly once; the placement reply's figures
 * agree with the state the events leave.
 */

const BTC = BTC_USDC.symbol;
const USERS = ['ann', 'bob', 'cat'] as const;
const CLIENT_IDS = ['c1', 'c2', 'c3'] as const;

const user = fc.constantFrom(...USERS);
const clientOrderId = fc.option(fc.constantFrom(...CLIENT_IDS), { nil: undefined });
const price = fc.integer({ min: 97, max: 103 }).map((p) => p * 100);
const side = fc.constantFrom('buy' as const, 'sell' as const);
const stp = fc.constantFrom<SelfTradePrevention>('cancel_taker', 'cancel_maker', 'cancel_both', 'decrement');
const qty = fc.integer({ min: 1, max: 6 }).map((q) => q * 100);

const command: fc.Arbitrary<MarketCommand> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        user,
        side,
        price,
        qty,
        clientOrderId,
        fc.constantFrom<TimeInForce>('GTC', 'GTC', 'IOC', 'FOK'),
        stp,
      )
      .map(([u, s, p, q, c, tif, mode]) => limit(u, s, p, q, { clientOrderId: c, tif, stp: mode })),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(user, side, qty, stp).map(([u, s, q, mode]) => marketOrder(u, s, q, { stp: mode })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(user, side, price, qty, fc.constantFrom<OrderType>('stop_limit', 'stop_market'), clientOrderId)
      .map(([u, s, p, q, type, c]) =>
        type === 'stop_limit'
          ? limit(u, s, p, q, { type, stopPrice: p, clientOrderId: c })
          : marketOrder(u, s, q, { type, stopPrice: p, tif: 'GTC', clientOrderId: c }),
      ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(user, fc.constantFrom(...CLIENT_IDS))
      .map(([u, c]): MarketCommand => ({ kind: 'cancel', userId: u, clientOrderId: c })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(user, fc.constantFrom(...CLIENT_IDS), fc.option(price, { nil: undefined }), qty)
      .map(([u, c, p, q]): MarketCommand => ({
        kind: 'amend',
        userId: u,
        clientOrderId: c,
        price: p,
        qty: q,
      })),
  },
  { weight: 1, arbitrary: user.map((u): MarketCommand => ({ kind: 'cancel_all', userId: u })) },
);
const plans = fc.array(fc.array(command, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 15 });

interface Followed extends OrderProgress {
  readonly userId: string;
}

describe('the fold of committed batches', () => {
  it('gives the order states the book holds, closes each finished order once, and agrees with the reply', async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(plans, async (plan) => {
        const ledger = new Ledger();
        for (const [asset, decimals] of Object.entries(ASSET_DECIMALS)) ledger.defineAsset(asset, decimals);
        const sink = new MemorySink();
        const supervisor = new Supervisor({ ledger, sink });
        const actor = supervisor.addMarket(BTC_USDC, { baseDecimals: 8, quoteDecimals: 6 });
        for (const type of PATH_TO.active) await supervisor.submit(BTC, lifecycle(type), 1);
        for (const u of USERS) {
          ledger.deposit(u, 'USDC', 10n ** 12n);
          ledger.deposit(u, 'BTC', 10n ** 12n);
        }
        const replies: { orderId: number; summary: ReturnType<typeof placementSummary> }[] = [];
        let ts = 10;
        for (const commands of plan) {
          ts++;
          const results = await Promise.all(commands.map((c) => supervisor.submit(BTC, c, ts)));
          results.forEach((result, i) => {
            if (commands[i]!.kind === 'place' && result.ok && result.orderId !== undefined) {
              replies.push({
                orderId: result.orderId,
                summary: placementSummary(result.events, result.orderId),
              });
            }
          });
        }

        const orders = new Map<number, Followed>();
        const closed = new Set<number>();
        for (const committed of sink.batches) {
          const batch = decodeBatch(encodeBatch(committed));
          const events = foldBatch(batch);
          expect(foldBatch(committed)).toEqual(events);
          let lastEntry = -1;
          let fills = 0;
          for (const event of events) {
            expect(event.entry).toBeGreaterThanOrEqual(lastEntry);
            if (event.entry !== lastEntry) fills = 0;
            lastEntry = event.entry;
            follow(event, orders, closed);
            const kind = event.type === 'order.changed' ? event.change.type : event.type;
            seen.set(kind, (seen.get(kind) ?? 0) + 1);
            if (event.type === 'fill') expect(event.n).toBe(fills++);
          }
        }

        const { resting, stops } = actor.orderBook.openOrders();
        const open = [
          ...resting.map((o) => ({ o, pending: false })),
          ...stops.map((o) => ({ o, pending: true })),
        ];
        expect([...orders.keys()].sort((a, b) => a - b)).toEqual(
          open.map(({ o }) => o.orderId).sort((a, b) => a - b),
        );
        for (const { o, pending } of open) {
          const state = orders.get(o.orderId)!;
          expect(state).toMatchObject({ userId: o.userId, qty: o.qty, remaining: o.remaining, pending });
          if (!pending) expect(state.price).toBe(o.price);
          expect(statusOf(state)).toBe(
            pending ? 'pending_trigger' : o.remaining < o.qty ? 'partially_filled' : 'open',
          );
        }
        for (const id of closed) expect(orders.has(id)).toBe(false);
        for (const { orderId, summary } of replies) {
          expect(summary).toBeDefined();
          expect(summary!.remainingQty + summary!.filledQty).toBeGreaterThan(0);
          // An order the placement left open is open in the book unless a later command closed it.
          if (summary!.status === 'filled' || summary!.status === 'canceled') {
            expect(closed.has(orderId)).toBe(true);
          }
        }
      }),
      { numRuns: 200 },
    );
    // The runs went through every kind of change.
    for (const kind of [
      'fill',
      'rested',
      'pending',
      'triggered',
      'canceled',
      'amended',
      'decremented',
      'order.closed',
    ]) {
      expect(seen.get(kind) ?? 0, kind).toBeGreaterThan(0);
    }
  });
});

/** Applies one event to the followed orders, as the publisher and the projector do. */
function follow(event: DomainEvent, orders: Map<number, Followed>, closed: Set<number>): void {
  switch (event.type) {
    case 'order.accepted': {
      const { order } = event;
      expect(orders.has(order.orderId) || closed.has(order.orderId)).toBe(false);
      orders.set(order.orderId, {
        userId: order.userId,
        price: order.price,
        qty: order.qty,
        remaining: order.qty,
        pending: false,
        canceled: false,
      });
      return;
    }
    case 'fill':
      for (const id of [event.fill.takerOrderId, event.fill.makerOrderId]) {
        const order = orders.get(id);
        expect(order).toBeDefined();
        applyOrderChange(order!, id, event.fill);
      }
      return;
    case 'order.changed': {
      const order = orders.get(event.orderId);
      expect(order).toBeDefined();
      applyOrderChange(order!, event.orderId, event.change);
      return;
    }
    case 'order.closed': {
      const order = orders.get(event.orderId);
      expect(order).toBeDefined();
      expect(isClosed(order!)).toBe(true);
      expect(statusOf(order!)).toBe(event.reason);
      expect(order!.userId).toBe(event.userId);
      orders.delete(event.orderId);
      closed.add(event.orderId);
      return;
    }
    default:
      return;
  }
}
