import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyLeg, emptyPosition } from '../../src/analytics/portfolio/positions.ts';
import type { PositionMessage } from '../../src/protocol/pushes.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets, ORDER_RATES } from '../wire/fixtures.ts';

/*
 * Issue 18, the private `positions` channel over real WebSockets (the SDK client): a fill
 * becomes a `position` push with the new qty, avgPrice and realizedPnl once the durable consumer
 * `portfolio` committed it, on the trader's own topic only. BTC-USDC: maker 10 / taker 20 bps,
 * BTC 8 decimals, USDC 6.
 */

let x: RunningExchange;
let alice: string;
let bob: string;
let carol: string;

beforeAll(async () => {
  x = await runExchange(ORDER_RATES);
  alice = await x.token('alice', ['trader']);
  bob = await x.token('bob', ['trader']);
  carol = await x.token('carol', ['trader']);
  await listMarkets(x);
  await x.credit('alice', 'USDC', '100000');
  await x.credit('bob', 'BTC', '10');
}, 60_000);

afterAll(async () => {
  await x.stop();
});

async function order(token: string, side: 'buy' | 'sell', price: string, qty: string): Promise<void> {
  const r = await x.request('POST', '/api/v1/orders', {
    token,
    body: { market: 'BTC-USDC', type: 'limit', side, price, qty },
  });
  expect(r.status).toBe(201);
}

async function subscribed(token: string): Promise<PositionMessage[]> {
  const client = await x.client(token);
  const pushes: PositionMessage[] = [];
  await client.subscribe('positions', {}, (message) => pushes.push(message));
  return pushes;
}

describe('the private positions channel', () => {
  it('pushes the new position after a fill, to its owner only', async () => {
    const [mine, bobs, carols] = await Promise.all([subscribed(alice), subscribed(bob), subscribed(carol)]);

    // bob rests 2 BTC at 100, alice takes them: she receives 2 − 0.004 (20 bps) for 200 USDC.
    await order(bob, 'sell', '100.00', '2.0000');
    await order(alice, 'buy', '100.00', '2.0000');
    await eventually(() => mine.length === 1 && bobs.length === 1);
    expect(mine[0]).toMatchObject({
      op: 'position',
      asset: 'BTC',
      quoteAsset: 'USDC',
      qty: '1.99600000',
      avgPrice: '100.200400', // 200 / 1.996, rounded down to USDC's decimals
      realizedPnl: '0.000000',
      fills: 1,
    });
    // bob's sell was of deposited BTC: no cost, the proceeds less his 10 bps maker fee realized.
    expect(bobs[0]).toMatchObject({
      asset: 'BTC',
      qty: '0.00000000',
      avgPrice: null,
      realizedPnl: '199.800000',
    });

    // alice sells 1 BTC at 120 to bob (bob rests the buy): realized against her average cost.
    await x.credit('bob', 'USDC', '1000');
    await order(bob, 'buy', '120.00', '1.0000');
    await order(alice, 'sell', '120.00', '1.0000');
    await eventually(() => mine.length === 2 && bobs.length === 2);
    const expected = [
      { side: 'buy' as const, base: 200_000_000n, quote: 200_000_000n, fee: 400_000n },
      { side: 'sell' as const, base: 100_000_000n, quote: 120_000_000n, fee: 240_000n },
    ].reduce(
      (position, leg) =>
        applyLeg(position, { ...leg, userId: 'alice', asset: 'BTC', quoteAsset: 'USDC', ts: 0 }),
      emptyPosition('alice', 'BTC', 'USDC'),
    );
    expect(expected.realized).toBe(19_559_600n); // 119.76 − 200 × 1 / 1.996 (rounded down)
    expect(mine[1]).toMatchObject({
      qty: '0.99600000',
      avgPrice: '100.200401',
      realizedPnl: '19.559600',
      fills: 2,
    });
    expect(mine[1]!.seq).toBeGreaterThan(mine[0]!.seq);
    expect(bobs[1]).toMatchObject({ qty: '0.99900000', fills: 2 });

    // carol, subscribed all along, saw none of it; nobody saw another's position.
    expect(carols).toEqual([]);
    expect(mine.every((p) => p.qty !== bobs[0]!.qty && p.qty !== bobs[1]!.qty)).toBe(true);
  });

  it('refuses the channel without auth', async () => {
    const client = await x.client();
    await expect(client.subscribe('positions', {}, () => undefined)).rejects.toThrow(/auth/);
  });
});
