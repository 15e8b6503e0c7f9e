import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BookMessage, TradeMessage } from '../../src/protocol/messages.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets, RawSocket } from './fixtures.ts';

/*
 * Backpressure (issue 6, section 3): a subscriber that stops reading is dropped by the server at
 * its buffer limit (WS_MAX_BACKPRESSURE_BYTES, here 64 KiB) while a fast subscriber of the same
 * streams receives every book delta and every trade, in sequence, and ends with the server's book.
 */

const BACKPRESSURE = 64 * 1024;
const MARKET = 'ETH-USDC';

let running: RunningExchange;

beforeAll(async () => {
  running = await runExchange({
    WS_MAX_BACKPRESSURE_BYTES: String(BACKPRESSURE),
    RATE_ORDERS_PER_S: '1000000',
    RATE_ORDERS_BURST: '1000000',
    // The slow subscriber's resubscriptions are what fills its buffer: not held back by the sub
    // and snapshot-bytes buckets.
    WS_RATE_SUBS_PER_S: '1000',
    WS_RATE_SUBS_BURST: '1000',
    WS_RATE_SNAPSHOT_BYTES_PER_S: '1000000000',
    WS_RATE_SNAPSHOT_BYTES_BURST: '1000000000',
  });
  await listMarkets(running);
  await running.credit('seller', 'ETH', '1000000');
  await running.credit('buyer', 'USDC', '1000000000');
});

afterAll(async () => {
  await running.stop();
});

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  await eventually(check, { what, timeoutMs, everyMs: 10 });
}

/** The TCP socket under a `ws` WebSocket (not in its typings). */
const tcp = (socket: RawSocket): Socket => (socket.ws as unknown as { _socket: Socket })._socket;

const consecutive = (seqs: readonly number[]) => seqs.every((seq, i) => i === 0 || seq === seqs[i - 1]! + 1);

describe.concurrent('slow and idle connections', () => {
  it('drops a subscriber that stops reading while a fast one receives every message in sequence', async () => {
    const seller = await running.client(await running.token('seller', ['trader']));
    const buyer = await running.client(await running.token('buyer', ['trader']));
    // A deep book first: 3,000 resting bids at distinct prices (a snapshot of all levels is ~70 KB).
    const BIDS = 3_000;
    const bids = await Promise.all(
      Array.from({ length: BIDS }, (_, i) =>
        buyer.place({ market: MARKET, side: 'buy', type: 'limit', price: `${100 + i}.00`, qty: '0.001' }),
      ),
    );
    expect(bids.every((b) => b.status === 'open')).toBe(true);
    let orders = BIDS;

    // The slow subscriber: book (all levels) and trades, then it stops reading its TCP socket.
    const slow = await RawSocket.open(running.ws);
    slow.ws.on('error', () => undefined); // its writes may meet the server's close
    expect(await slow.request({ op: 'sub', ch: 'book', market: MARKET, depth: 0 }, 1)).toMatchObject({
      op: 'subbed',
    });
    expect(await slow.request({ op: 'sub', ch: 'trades', market: MARKET }, 2)).toMatchObject({
      op: 'subbed',
    });
    await slow.next((m) => m.op === 'book' && m.kind === 'snapshot');
    slow.ws.pause();
    expect(slow.ws.isPaused).toBe(true);
    const bytesReadAtPause = tcp(slow).bytesRead;
    const receivedAtPause = slow.received.length;

    // The fast subscriber: the SDK's book of all levels and the trades, every seq recorded.
    const fast = await running.client();
    const bookSeqs: number[] = [];
    const bookSub = await fast.subscribeBook(MARKET, 0, (book) => bookSeqs.push(book.seq!));
    const tradeSeqs: number[] = [];
    await fast.subscribe('trades', { market: MARKET }, (trade: TradeMessage) => tradeSeqs.push(trade.seq));

    // The load: rounds of a ladder of asks at distinct prices above the bids, all sent at once,
    // then a market buy that takes the whole ladder (one trade per ask); a last ladder stays.
    // Publications alone would take long to fill this connection: on loopback the kernel buffers
    // megabytes for a socket that does not read (a send buffer autotuned for a 64 KB MSS), ~160
    // bytes per order here. So the slow client also asks, without reading, for fresh snapshots of
    // the deep book (a client resyncing in a loop): the server's buffer for it grows past the
    // limit within a few rounds either way.
    const ROUNDS = 20;
    const LADDER = 100;
    const RESUBSCRIBE = 6;
    let trades = 0;
    let bytesReadMidway = 0;
    const ladderQty = Array.from({ length: LADDER }, (_, i) => 1 + (i % 3)).reduce((a, b) => a + b, 0);
    const ladder = async () => {
      const asks = await Promise.all(
        Array.from({ length: LADDER }, (_, i) =>
          seller.place({
            market: MARKET,
            side: 'sell',
            type: 'limit',
            price: `${5000 + i}.00`,
            qty: `${1 + (i % 3)}.000`,
          }),
        ),
      );
      expect(asks.every((a) => a.status === 'open')).toBe(true);
      orders += LADDER;
    };
    let rid = 10;
    for (let round = 0; round < ROUNDS; round++) {
      if (round === ROUNDS / 2) bytesReadMidway = tcp(slow).bytesRead;
      for (let i = 0; i < RESUBSCRIBE; i++)
        slow.send({ op: 'sub', ch: 'book', market: MARKET, depth: 0, rid: rid++ });
      await ladder();
      const taken = await buyer.place({
        market: MARKET,
        side: 'buy',
        type: 'market',
        qty: `${ladderQty}.000`,
      });
      expect(taken).toMatchObject({ status: 'filled', filledQty: `${ladderQty}.000` });
      orders += 1;
      trades += LADDER;
    }
    // Every reply is back, and a market publishes a batch in the turn it replies to it: the book
    // read below holds every order.
    await ladder();
    const server = (await running.request('GET', `/api/v1/markets/${MARKET}/book?depth=0`)).body as {
      seq: number;
      bids: string[][];
      asks: string[][];
      checksum: number;
    };

    // The slow one really stopped reading. A paused net.Socket still takes what one read from the
    // kernel brings (up to its stream buffer) and ws may still parse frames of it; then nothing:
    // not a byte read from the kernel in the second half of the load, a few messages at most.
    const bytesRead = tcp(slow).bytesRead;
    expect(bytesRead - bytesReadAtPause).toBeLessThanOrEqual(256 * 1024);
    expect(bytesRead).toBe(bytesReadMidway);
    expect(slow.received.length - receivedAtPause).toBeLessThanOrEqual(2 * RESUBSCRIBE);

    // The fast one got every delta and every trade, in sequence, and holds the server's book.
    await until(
      () => bookSub.book.seq === server.seq && tradeSeqs.length >= trades,
      `the fast book at seq ${server.seq} (at ${bookSub.book.seq}) and ${trades} trades (got ${tradeSeqs.length})`,
    );
    expect(bookSub.resyncs).toBe(0);
    expect(consecutive(bookSeqs)).toBe(true);
    expect(bookSeqs.at(-1)).toBe(server.seq);
    expect(bookSeqs.length).toBeGreaterThan(2 * ROUNDS); // a ladder and a sweep per round, at least
    expect(tradeSeqs).toHaveLength(trades);
    expect(consecutive(tradeSeqs)).toBe(true);
    expect(bookSub.book.bids()).toEqual(server.bids);
    expect(bookSub.book.asks()).toEqual(server.asks);
    expect(bookSub.book.checksum()).toBe(server.checksum);

    // The slow one, reading again, finds what the server had sent before it dropped the
    // connection - a gapless prefix that stops short of the end - and then the close.
    // (It may know already: a write of its own, a `sub`, met the server's reset.)
    const closedWhilePaused = slow.closed;
    slow.ws.resume();
    await until(() => slow.closed, 'the slow subscriber to see its connection closed', 10_000);
    const slowBook = slow.received.filter((m) => m.op === 'book') as unknown as BookMessage[];
    const slowTrades = slow.received.filter((m) => m.op === 'trade') as unknown as TradeMessage[];
    // Deltas continue the previous message's seq; a snapshot (a resubscription's) may repeat it.
    expect(
      slowBook.every((m, i) => i === 0 || m.seq === slowBook[i - 1]!.seq + (m.kind === 'delta' ? 1 : 0)),
    ).toBe(true);
    expect(consecutive(slowTrades.map((m) => m.seq))).toBe(true);
    expect(slowBook.at(-1)?.seq ?? 0).toBeLessThan(server.seq);
    expect(slowTrades.length).toBeLessThan(trades);
    console.log(
      `backpressure: ${orders} orders, ${trades} trades, book seq ${server.seq}; the slow subscriber ` +
        `got ${slowBook.length} book and ${slowTrades.length} trade messages (${tcp(slow).bytesRead} bytes) ` +
        `before close ${slow.closeCode}${closedWhilePaused ? ', seen while paused' : ''}`,
    );
  }, 60_000);

  it('closes a connection that stays silent past WS_IDLE_TIMEOUT_S, and keeps one that answers pings', async () => {
    // uWS's smallest useful idle timeout is 8 s (4 s granularity): this runs beside the test above.
    const idle = await runExchange({ WS_IDLE_TIMEOUT_S: '8' });
    try {
      const silent = await RawSocket.open(idle.ws);
      silent.ws.on('error', () => undefined);
      const alive = await RawSocket.open(idle.ws); // ws answers the server's pings by itself
      expect(await silent.request({ op: 'ping' }, 1)).toMatchObject({ op: 'pong' });
      expect(await alive.request({ op: 'ping' }, 1)).toMatchObject({ op: 'pong' });
      const opened = Date.now();
      silent.ws.pause(); // reads nothing from now on: neither pings nor anything else
      // The time window under test: past the idle timeout (8 s, checked every 4 s) plus a margin.
      await new Promise((resolve) => setTimeout(resolve, 13_000));
      silent.ws.resume();
      await until(() => silent.closed, 'the silent connection to be closed', 3_000);
      expect(alive.closed).toBe(false);
      expect(await alive.request({ op: 'ping' }, 2)).toMatchObject({ op: 'pong', rid: 2 });
      console.log(`idle: silent connection closed (${silent.closeCode}) within ${Date.now() - opened} ms`);
      alive.close();
    } finally {
      await idle.stop();
    }
  }, 60_000);
});
