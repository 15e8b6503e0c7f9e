import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExchangeClient } from '../../src/client/index.ts';
import type { LocalBook } from '../../src/client/index.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets, RawSocket } from './fixtures.ts';

/*
 * Trading over the wire with the SDK: both sides of a trade get their reply and their pushes in the
 * order the protocol promises, a third connection sees the trade and the book move, and SDK books
 * of every depth stay equal to the server's book (seq and checksum verified on every message)
 * through a random load.
 */

let running: RunningExchange;

beforeAll(async () => {
  running = await runExchange({ RATE_ORDERS_PER_S: '100000', RATE_ORDERS_BURST: '100000' });
  await listMarkets(running);
});

afterAll(async () => {
  await running.stop();
});

type Received = { op: string } & Record<string, unknown>;

async function trader(userId: string): Promise<{ client: ExchangeClient; log: Received[] }> {
  const client = await running.client(await running.token(userId, ['trader']));
  const log: Received[] = [];
  for (const ch of ['orders', 'fills', 'balances'] as const) {
    await client.subscribe(ch, {}, (message) => log.push(message as unknown as Received));
  }
  log.length = 0; // snapshots are not what these tests look at
  return { client, log };
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  await eventually(check, { what, timeoutMs, everyMs: 10 });
}

describe('two users trading', () => {
  it('gives both sides accepted, order, fill and balance pushes, and a third subscriber the trade and the book', async () => {
    await running.credit('alice', 'BTC', '2');
    await running.credit('bob', 'USDC', '100000');
    const alice = await trader('alice');
    const bob = await trader('bob');
    const watcher = await running.client();
    const trades: Received[] = [];
    await watcher.subscribe('trades', { market: 'BTC-USDC' }, (m) => trades.push(m as unknown as Received));
    const books: { bids: string[][]; asks: string[][] }[] = [];
    const bookSub = await watcher.subscribeBook('BTC-USDC', 10, (book: LocalBook) => {
      books.push({ bids: book.bids().map((l) => [...l]), asks: book.asks().map((l) => [...l]) });
    });

    const ask = await alice.client.place({
      market: 'BTC-USDC',
      side: 'sell',
      type: 'limit',
      price: '30000.00',
      qty: '1.0000',
    });
    expect(ask).toMatchObject({ status: 'open', filledQty: '0.0000', remainingQty: '1.0000' });

    const accepted = await bob.client.place({
      market: 'BTC-USDC',
      side: 'buy',
      type: 'limit',
      price: '30000.00',
      qty: '0.4000',
    });
    expect(accepted).toMatchObject({ status: 'filled', filledQty: '0.4000', remainingQty: '0.0000' });
    await until(() => bob.log.some((m) => m.op === 'balance' && m.asset === 'BTC'), "bob's BTC balance");
    await until(() => alice.log.some((m) => m.op === 'fill'), "alice's fill");
    await until(() => trades.length === 1, 'the trade on the public channel');

    const bobFill = bob.log.find((m) => m.op === 'fill');
    expect(bobFill).toMatchObject({
      orderId: accepted.orderId,
      market: 'BTC-USDC',
      side: 'buy',
      price: '30000.00',
      qty: '0.4000',
      liquidity: 'taker',
      fee: '0.00080000', // 20 bps of the 0.4 BTC bob receives
      feeAsset: 'BTC',
    });
    const aliceFill = alice.log.find((m) => m.op === 'fill');
    expect(aliceFill).toMatchObject({
      orderId: ask.orderId,
      tradeId: bobFill?.tradeId,
      side: 'sell',
      liquidity: 'maker',
      fee: '12.000000', // 10 bps of the 12,000 USDC alice receives
      feeAsset: 'USDC',
    });
    expect(bob.log.find((m) => m.op === 'order')).toMatchObject({
      orderId: accepted.orderId,
      status: 'filled',
      filledQty: '0.4000',
      avgPrice: '30000.00',
    });
    expect(alice.log.filter((m) => m.op === 'order').at(-1)).toMatchObject({
      orderId: ask.orderId,
      status: 'partially_filled',
      filledQty: '0.4000',
      remainingQty: '0.6000',
    });
    const balance = (log: Received[], asset: string) =>
      log.filter((m) => m.op === 'balance' && m.asset === asset).at(-1);
    expect(balance(bob.log, 'BTC')).toMatchObject({ available: '0.39920000', locked: '0.00000000' });
    expect(balance(bob.log, 'USDC')).toMatchObject({ available: '88000.000000', locked: '0.000000' });
    expect(balance(alice.log, 'USDC')).toMatchObject({ available: '11988.000000' });
    expect(balance(alice.log, 'BTC')).toMatchObject({ available: '1.00000000', locked: '0.60000000' });

    expect(trades[0]).toMatchObject({
      op: 'trade',
      market: 'BTC-USDC',
      tradeId: bobFill?.tradeId,
      price: '30000.00',
      qty: '0.4000',
      side: 'buy',
    });
    await until(() => books.at(-1)?.asks[0]?.[1] === '0.6000', 'the book delta');
    expect(books.at(-1)).toEqual({ bids: [], asks: [['30000.00', '0.6000']] });
    expect(bookSub.resyncs).toBe(0);
    await alice.client.cancelAll();
  });
});

describe('ordering on one connection', () => {
  it('sends the accepted reply before the pushes its batch caused', async () => {
    await running.credit('dave', 'BTC', '1');
    await running.credit('erin', 'USDC', '100000');
    const maker = await trader('dave');
    await maker.client.place({
      market: 'BTC-USDC',
      side: 'sell',
      type: 'limit',
      price: '31000.00',
      qty: '0.1000',
    });
    const socket = await RawSocket.open(`${running.ws}?token=${await running.token('erin', ['trader'])}`);
    for (const [i, ch] of (['orders', 'fills', 'balances'] as const).entries())
      await socket.request({ op: 'sub', ch }, i + 1);
    socket.received.length = 0;
    socket.send({
      op: 'place',
      market: 'BTC-USDC',
      side: 'buy',
      type: 'limit',
      price: '31000.00',
      qty: '0.1000',
      rid: 9,
    });
    const arrived = () => socket.received.map((m) => m.op);
    await until(
      () => ['accepted', 'order', 'fill', 'balance'].every((op) => arrived().includes(op)),
      'reply and pushes',
    );
    // In arrival order: the reply first, then the batch's pushes.
    expect(arrived()[0]).toBe('accepted');
    expect(
      arrived()
        .slice(1)
        .every((op) => op === 'order' || op === 'fill' || op === 'balance'),
    ).toBe(true);
    socket.close();
  });
});

describe('SDK books under random load', () => {
  it('stay equal to the server book at every depth, with no resync', async () => {
    const users = ['u1', 'u2', 'u3', 'u4'];
    for (const user of users) {
      await running.credit(user, 'ETH', '1000');
      await running.credit(user, 'USDC', '10000000');
    }
    const clients = await Promise.all(
      users.map(async (u) => running.client(await running.token(u, ['trader']))),
    );
    // One connection per depth: a second `sub` to the same channel and market replaces the first.
    const subs = await Promise.all(
      ([10, 50, 0] as const).map(async (depth) =>
        (await running.client()).subscribeBook('ETH-USDC', depth, () => undefined),
      ),
    );
    const order = fc.record({
      user: fc.integer({ min: 0, max: users.length - 1 }),
      side: fc.constantFrom('buy' as const, 'sell' as const),
      kind: fc.constantFrom('limit', 'limit', 'limit', 'ioc', 'market', 'cancel'),
      ticks: fc.integer({ min: -40, max: 40 }),
      lots: fc.integer({ min: 1, max: 50 }),
    });
    const steps = fc.sample(order, { numRuns: 1_500, seed: 424242 });
    const open: string[][] = users.map(() => []);
    const pending: Promise<unknown>[] = [];
    for (const step of steps) {
      const client = clients[step.user]!;
      const price = (3000 + step.ticks * 0.25).toFixed(2); // test input only: the wire carries the string
      const qty = (step.lots / 100).toFixed(3);
      let request: Promise<unknown>;
      if (step.kind === 'cancel') {
        const id = open[step.user]!.shift();
        request =
          id === undefined
            ? Promise.resolve()
            : client.cancel({ market: 'ETH-USDC', orderId: id }).catch(() => undefined);
      } else if (step.kind === 'market') {
        request = client.place({ market: 'ETH-USDC', side: step.side, type: 'market', qty });
      } else {
        request = client
          .place({
            market: 'ETH-USDC',
            side: step.side,
            type: 'limit',
            price,
            qty,
            tif: step.kind === 'ioc' ? 'IOC' : 'GTC',
          })
          .then((reply) => {
            if (reply.status === 'open' || reply.status === 'partially_filled')
              open[step.user]!.push(reply.orderId);
          });
      }
      pending.push(request);
      if (pending.length >= 64) await Promise.all(pending.splice(0));
    }
    // Every reply is back, and a market publishes a batch in the turn it replies to it: the book
    // read below holds every order.
    await Promise.all(pending);
    const server = await running.request('GET', '/api/v1/markets/ETH-USDC/book?depth=0');
    expect(server.status).toBe(200);
    const serverBook = server.body as { seq: number; bids: string[][]; asks: string[][]; checksum: number };
    await until(
      () => subs.every((s) => s.book.seq === serverBook.seq),
      `the books to reach the server seq ${serverBook.seq} (at ${subs.map((s) => `${s.book.seq}/${s.resyncs}`).join(', ')})`,
    );
    expect(serverBook.seq).toBeGreaterThan(20); // one step per committed batch that changed the book
    for (const sub of subs) {
      const depth = sub.book.depth;
      const take = (side: string[][]) => (depth === 0 ? side : side.slice(0, depth));
      expect(sub.book.bids()).toEqual(take(serverBook.bids));
      expect(sub.book.asks()).toEqual(take(serverBook.asks));
      expect(sub.book.checksum()).toBe(serverBook.checksum);
      expect(sub.resyncs).toBe(0);
    }
    expect(serverBook.bids.length + serverBook.asks.length).toBeGreaterThan(20);
  });
});
