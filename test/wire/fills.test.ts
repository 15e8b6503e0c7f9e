import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExchangeClient, FillMessage } from '../../src/client/index.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets } from './fixtures.ts';

/*
 * Issue 20: GET /fills, the caller's fills paged like GET /orders (trader role, `limit`, opaque
 * `cursor`, X-Next-Cursor), each the `fills` push without `op`, fee included. The pages, walked
 * to the end, hold exactly the fills the `fills` channel pushed, newest first, for both roles.
 */

let running: RunningExchange;
let alice: ExchangeClient;
let bob: ExchangeClient;
let aliceToken: string;
const pushed: FillMessage[] = [];

beforeAll(async () => {
  running = await runExchange();
  await listMarkets(running);
  await running.credit('alice', 'USDC', '1000000');
  await running.credit('bob', 'BTC', '10');
  await running.credit('bob', 'USDC', '1000000');
  aliceToken = await running.token('alice', ['trader']);
  alice = await running.client(aliceToken);
  bob = await running.client(await running.token('bob', ['trader']));
  await alice.subscribe('fills', {}, (fill) => {
    pushed.push(fill);
  });
});

afterAll(async () => {
  await running.stop();
});

async function page(
  token: string,
  query: string,
): Promise<{ status: number; items: Record<string, unknown>[]; next: string | null }> {
  const response = await fetch(`${running.http}/api/v1/fills${query}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = (await response.json()) as Record<string, unknown>[];
  return { status: response.status, items: body, next: response.headers.get('x-next-cursor') };
}

describe('issue 20: GET /fills', () => {
  it('needs the trader role', async () => {
    expect((await running.request('GET', '/api/v1/fills')).status).toBe(401);
    const issuer = await running.token('alice', ['issuer']);
    expect((await running.request('GET', '/api/v1/fills', { token: issuer })).status).toBe(403);
  });

  it('pages through every fill of both roles, newest first, with the fees the channel pushed', async () => {
    // Alice takes three of bob's asks (taker), then bob takes two of her bids (she is maker).
    for (const price of ['30000.00', '30001.00', '30002.00'])
      await bob.place({ market: 'BTC-USDC', side: 'sell', type: 'limit', price, qty: '0.1000' });
    await alice.place({ market: 'BTC-USDC', side: 'buy', type: 'limit', price: '30002.00', qty: '0.3000' });
    await alice.place({ market: 'BTC-USDC', side: 'buy', type: 'limit', price: '29000.00', qty: '0.2000' });
    await bob.place({ market: 'BTC-USDC', side: 'sell', type: 'limit', price: '29000.00', qty: '0.0500' });
    await bob.place({ market: 'BTC-USDC', side: 'sell', type: 'limit', price: '29000.00', qty: '0.0700' });
    await eventually(() => (pushed.length === 5 ? true : undefined), { what: 'five fills pushed' });

    const seen: Record<string, unknown>[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const answer = await page(aliceToken, `?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`);
      expect(answer.status).toBe(200);
      expect(answer.items.length).toBeLessThanOrEqual(2);
      seen.push(...answer.items);
      cursor = answer.next;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(3);
    const expected = [...pushed].reverse().map((fill) => {
      const { op, ...rest } = fill;
      expect(op).toBe('fill');
      return rest;
    });
    // Newest first; within one order's fills the same order as pushed, reversed.
    expect(seen).toEqual(expected);
    expect(seen.filter((f) => f.liquidity === 'maker')).toHaveLength(2);
    // BTC-USDC charges 10/20 bps: a taker buy pays in BTC, rounded up; nothing is free.
    expect(seen.every((f) => f.fee !== '0.00000000' && f.fee !== '0.000000')).toBe(true);
  });

  it('narrows to a market, refuses an unknown one and a cursor it did not give', async () => {
    expect((await page(aliceToken, '?market=ETH-USDC')).items).toEqual([]);
    expect((await page(aliceToken, '?market=BTC-USDC&limit=1000')).items).toHaveLength(5);
    expect((await page(aliceToken, '?market=NOPE-USDC')).status).toBe(404);
    expect((await page(aliceToken, '?cursor=bm9wZQ')).status).toBe(400);
    expect((await page(aliceToken, '?limit=1001')).status).toBe(400);
    expect((await page(aliceToken, '?limit=0')).status).toBe(400);
  });

  it('answers another user only their own fills', async () => {
    const carol = await running.token('carol', ['trader']);
    expect((await page(carol, '')).items).toEqual([]);
    const bobs = await page(await running.token('bob', ['trader']), '?limit=1000');
    expect(bobs.items).toHaveLength(5);
    expect(bobs.items.every((f) => String(f.orderId).length > 0)).toBe(true);
  });
});
