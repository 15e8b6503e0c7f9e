import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ActorInspection } from '../../src/actors/supervisor.ts';
import type { Publication } from '../../src/protocol/topics.ts';
import { createMarketStatusFeed } from '../../src/transport/marketStatus.ts';
import { LatestOnly } from '../../web/shared/latest.ts';
import { marketsStore, ordersStore, type FillView } from '../../web/shared/stores.ts';

/*
 * Issue 20, pure parts of the later flows: the `market_status` feed (halted on a fault, running on
 * recovery, once each, kept for the snapshot), the pages' LatestOnly tickets against a reference,
 * the fills store (pushed and paged fills each once), and the state order entry sees while a
 * market is halted.
 */

const fault = (symbol: string, message = 'commit failed: boom'): ActorInspection => ({
  type: 'market.fault',
  marketId: `id-${symbol}`,
  symbol,
  message,
});
const recovered = (symbol: string): ActorInspection => ({
  type: 'market.recovered',
  marketId: `id-${symbol}`,
  symbol,
});

describe('market_status feed', () => {
  it('pushes halted once per halt, running once on recovery, and keeps the halted for the snapshot', () => {
    const out: Publication[] = [];
    const feed = createMarketStatusFeed(
      (p) => out.push(...p),
      () => 42,
    );
    feed.inspect(fault('BTC-USDC'));
    feed.inspect(fault('BTC-USDC', 'another fault while halted'));
    expect(out).toEqual([
      {
        topic: 'lifecycle/BTC-USDC',
        message: {
          op: 'market_status',
          market: 'BTC-USDC',
          status: 'halted',
          ts: 42,
          reason: 'its last batch could not be committed: the market is being rebuilt',
        },
      },
    ]);
    // The fault's own text (SQL, stacks) never reaches clients.
    expect(JSON.stringify(out)).not.toContain('boom');
    expect(feed.snapshot('BTC-USDC')).toMatchObject({ status: 'halted' });
    expect(feed.snapshot('ETH-USDC')).toBeUndefined();
    feed.inspect(recovered('ETH-USDC'));
    expect(out).toHaveLength(1);
    feed.inspect(recovered('BTC-USDC'));
    expect(out[1]).toEqual({
      topic: 'lifecycle/BTC-USDC',
      message: { op: 'market_status', market: 'BTC-USDC', status: 'running', ts: 42 },
    });
    expect(feed.snapshot('BTC-USDC')).toBeUndefined();
  });
});

describe('LatestOnly', () => {
  it('lets only the newest read draw, whatever order the answers come back in', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.nat(), { maxLength: 8 }), (reads, order) => {
        const latest = new LatestOnly();
        const tickets = Array.from({ length: reads }, () => latest.take());
        // Answers in a permuted order: each draws only when it is the newest read (the reference).
        const arrival = [...tickets].sort(
          (a, b) => (order[a % order.length] ?? 0) - (order[b % order.length] ?? 0),
        );
        const drawn = arrival.filter((t) => latest.current(t));
        expect(drawn).toEqual([reads]);
      }),
    );
  });
});

describe('the fills store', () => {
  const fill = (tradeId: string, orderId = 'm:1'): FillView => ({
    orderId,
    tradeId,
    market: 'BTC-USDC',
    side: 'buy',
    price: '1.00',
    qty: '1.0000',
    fee: '0.0001',
    feeAsset: 'BTC',
    liquidity: 'taker',
    ts: 1,
  });

  it('keeps each fill once across pushes and pages, pushed ones first, later pages after', () => {
    ordersStore.trigger.reset();
    ordersStore.trigger.fill({ fill: fill('t3') });
    ordersStore.trigger.fillsPage({ items: [fill('t3'), fill('t2')], next: 'c1', append: false });
    ordersStore.trigger.fill({ fill: fill('t3') });
    // One trade, both sides the same user: two fills (two orders).
    ordersStore.trigger.fillsPage({ items: [fill('t1'), fill('t1', 'm:2')], next: undefined, append: true });
    const { fills, fillsNext } = ordersStore.getSnapshot().context;
    expect(fills.map((f) => `${f.tradeId}/${f.orderId}`)).toEqual(['t3/m:1', 't2/m:1', 't1/m:1', 't1/m:2']);
    expect(fillsNext).toBeUndefined();
  });
});

describe('order entry and a halted market', () => {
  it('sees halted while the supervisor halts the selected market, its lifecycle state otherwise', () => {
    marketsStore.trigger.selected({ symbol: 'BTC-USDC' });
    marketsStore.trigger.lifecycle({ market: 'BTC-USDC', state: 'active' });
    marketsStore.trigger.halted({ market: 'BTC-USDC', halted: true });
    expect(marketsStore.getSnapshot().context.lifecycle).toBe('halted');
    // A lifecycle push while halted (an admin's pause) is remembered, and shown once it runs.
    marketsStore.trigger.lifecycle({ market: 'BTC-USDC', state: 'paused' });
    expect(marketsStore.getSnapshot().context.lifecycle).toBe('halted');
    marketsStore.trigger.halted({ market: 'ETH-USDC', halted: false });
    expect(marketsStore.getSnapshot().context.lifecycle).toBe('halted');
    marketsStore.trigger.halted({ market: 'BTC-USDC', halted: false });
    expect(marketsStore.getSnapshot().context.lifecycle).toBe('paused');
  });
});
