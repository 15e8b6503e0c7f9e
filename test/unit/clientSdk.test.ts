import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket as NodeWebSocket, WebSocketServer } from 'ws';
import { bookChecksum } from '../../src/protocol/checksum.ts';
import {
  ClientError,
  ExchangeClient,
  ExchangeError,
  type ExchangeClientOptions,
  type WebSocketConstructor,
  type WebSocketLike,
} from '../../src/client/client.ts';
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.ts';
import type { LocalBook } from '../../src/client/localBook.ts';
import type { BookLevel, BookMessage, OrderMessage, TradeMessage } from '../../src/protocol/messages.ts';

/**
 * ExchangeClient against a scripted in-memory socket: what it sends, how it matches replies by
 * `rid`, routes pushes and resynchronizes books. One test at the end runs it over a real `ws`
 * loopback connection, to check the binary frames and the `ws` package fit.
 */

type Message = Record<string, unknown>;

/** A WebSocket whose server side is the test: it records frames sent and delivers what the test pushes. */
class ScriptedSocket implements WebSocketLike {
  binaryType = 'blob';
  readyState = 0;
  readonly sent: Message[] = [];
  onopen: ((event: never) => void) | null = null;
  onerror: ((event: never) => void) | null = null;
  onclose: ((event: never) => void) | null = null;
  onmessage: ((event: never) => void) | null = null;

  constructor(readonly url: string) {}

  send(data: Uint8Array): void {
    const decoded = decodeMessage(data);
    if (!decoded.ok) throw new Error(`client sent an undecodable frame: ${decoded.reason}`);
    this.sent.push(decoded.message);
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.#fire('onclose', { code, reason });
  }

  // Server side.
  open(): void {
    this.readyState = 1;
    this.#fire('onopen', {});
  }

  push(message: object): void {
    const frame = encodeMessage(message);
    const buffer = frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength);
    this.#fire('onmessage', { data: buffer });
  }

  pushRaw(data: unknown): void {
    this.#fire('onmessage', { data });
  }

  /** The last request of this op the client sent. */
  last(op: string): Message {
    const found = this.sent.findLast((message) => message.op === op);
    if (found === undefined) throw new Error(`the client sent no ${op}`);
    return found;
  }

  /** Answers the last request of `op` with a reply carrying its rid. */
  reply(op: string, reply: Message): void {
    this.push({ ...reply, rid: this.last(op).rid });
  }

  #fire(handler: 'onopen' | 'onclose' | 'onmessage' | 'onerror', event: object): void {
    (this[handler] as ((event: object) => void) | null)?.(event);
  }
}

let sockets: ScriptedSocket[] = [];
const ScriptedWebSocket: WebSocketConstructor = class extends ScriptedSocket {
  constructor(url: string) {
    super(url);
    sockets.push(this);
  }
};

afterEach(() => {
  sockets = [];
  vi.useRealTimers();
});

async function connected(
  options: Partial<ExchangeClientOptions> = {},
): Promise<[ExchangeClient, ScriptedSocket]> {
  const client = new ExchangeClient({
    url: 'ws://exchange.test/ws',
    WebSocket: ScriptedWebSocket,
    ...options,
  });
  const connecting = client.connect();
  const socket = sockets.at(-1)!;
  socket.open();
  if (options.token !== undefined) socket.reply('auth', { op: 'authed', userId: 'u1', roles: ['trader'] });
  await connecting;
  return [client, socket];
}

const MARKET = 'LUXAPT-USDC';

function book(
  kind: 'snapshot' | 'delta',
  seq: number,
  bids: BookLevel[],
  asks: BookLevel[],
  after: { bids: BookLevel[]; asks: BookLevel[] },
): BookMessage {
  return {
    op: 'book',
    market: MARKET,
    kind,
    seq,
    bids,
    asks,
    checksum: bookChecksum(after.bids, after.asks),
  };
}

describe('ExchangeClient: connection and requests', () => {
  it('opens a binary socket and authenticates with the token before connect() resolves', async () => {
    const [client, socket] = await connected({ token: 'jwt', cancelOnDisconnect: true });
    expect(socket.url).toBe('ws://exchange.test/ws');
    expect(socket.binaryType).toBe('arraybuffer');
    expect(socket.sent).toEqual([{ op: 'auth', rid: 1, token: 'jwt', cancelOnDisconnect: true }]);
    expect(client.session).toEqual({ userId: 'u1', roles: ['trader'] });
    expect(client.connected).toBe(true);
  });

  it('rejects connect() when the token is refused, and closes', async () => {
    const client = new ExchangeClient({ url: 'ws://x/ws', WebSocket: ScriptedWebSocket, token: 'bad' });
    const connecting = client.connect();
    const socket = sockets.at(-1)!;
    socket.open();
    socket.reply('auth', { op: 'error', code: 'unauthorized', message: 'bad token' });
    await expect(connecting).rejects.toMatchObject({ name: 'ExchangeError', code: 'unauthorized' });
    expect(socket.readyState).toBe(3);
  });

  it('rejects connect() when the socket closes before it opens', async () => {
    const client = new ExchangeClient({ url: 'ws://x/ws', WebSocket: ScriptedWebSocket });
    const connecting = client.connect();
    sockets.at(-1)!.close(1006, '');
    await expect(connecting).rejects.toBeInstanceOf(ClientError);
  });

  it('numbers requests and matches replies by rid, in any order', async () => {
    const [client, socket] = await connected();
    const first = client.place({ market: MARKET, side: 'buy', type: 'limit', qty: '1.000', price: '10.00' });
    const second = client.cancel({ market: MARKET, clientOrderId: 'c-1' });
    expect(socket.sent).toEqual([
      { op: 'place', rid: 1, market: MARKET, side: 'buy', type: 'limit', qty: '1.000', price: '10.00' },
      { op: 'cancel', rid: 2, market: MARKET, clientOrderId: 'c-1' },
    ]);
    socket.push({ op: 'canceled', rid: 2, orderId: 'o-7', clientOrderId: 'c-1', remainingQty: '0.500' });
    socket.push({
      op: 'accepted',
      rid: 1,
      orderId: 'o-8',
      status: 'open',
      filledQty: '0.000',
      remainingQty: '1.000',
    });
    await expect(second).resolves.toMatchObject({ op: 'canceled', orderId: 'o-7' });
    await expect(first).resolves.toMatchObject({ op: 'accepted', orderId: 'o-8', status: 'open' });
  });

  it('sends ping, amend and cancel_all with their fields, and leaves out absent ones', async () => {
    const [client, socket] = await connected();
    void client.ping();
    void client.amend({ market: MARKET, orderId: 'o-1', qty: '2.000' });
    void client.cancelAll();
    void client.cancelAll(MARKET);
    expect(socket.sent).toEqual([
      { op: 'ping', rid: 1 },
      { op: 'amend', rid: 2, market: MARKET, orderId: 'o-1', qty: '2.000' },
      { op: 'cancel_all', rid: 3 },
      { op: 'cancel_all', rid: 4, market: MARKET },
    ]);
  });

  it('rejects with an ExchangeError carrying code, message and rid', async () => {
    const [client, socket] = await connected();
    const placing = client.place({ market: MARKET, side: 'sell', type: 'market', qty: '1.000' });
    socket.reply('place', { op: 'error', code: 'insufficient_funds', message: 'not enough LUXAPT' });
    const error: unknown = await placing.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExchangeError);
    expect(error).toMatchObject({ code: 'insufficient_funds', message: 'not enough LUXAPT', rid: 1 });
  });

  it('rejects a reply of the wrong op for its rid', async () => {
    const [client, socket] = await connected();
    const pinging = client.ping();
    socket.reply('ping', { op: 'canceled_all', count: 0 });
    await expect(pinging).rejects.toMatchObject({ kind: 'unexpected_reply' });
  });

  it('times out a request without reply and reports a late error to onError', async () => {
    const onError = vi.fn();
    const [client, socket] = await connected({ requestTimeoutMs: 50, onError });
    vi.useFakeTimers();
    const pinging = client.ping();
    const outcome = pinging.catch((e: unknown) => e);
    vi.advanceTimersByTime(49);
    socket.push({ op: 'error', rid: 2, code: 'not_found', message: 'a rid nobody sent' });
    vi.advanceTimersByTime(1);
    expect(await outcome).toMatchObject({ name: 'ClientError', kind: 'timeout', rid: 1 });
    socket.reply('ping', { op: 'error', code: 'overloaded', message: 'late' });
    expect(onError.mock.calls.map(([e]) => [(e as ExchangeError).code, (e as ExchangeError).rid])).toEqual([
      ['not_found', 2],
      ['overloaded', 1],
    ]);
  });

  it('rejects pending requests on close, tells onClose, and refuses requests afterwards', async () => {
    const onClose = vi.fn();
    const [client, socket] = await connected({ onClose });
    const pinging = client.ping();
    socket.close(1011, 'server restart');
    await expect(pinging).rejects.toMatchObject({ kind: 'closed' });
    expect(onClose).toHaveBeenCalledWith({ code: 1011, reason: 'server restart' });
    expect(client.connected).toBe(false);
    await expect(client.ping()).rejects.toMatchObject({ kind: 'closed' });
    await expect(client.connect()).rejects.toBeInstanceOf(ClientError);
  });

  it('close() rejects pending requests at once', async () => {
    const [client, socket] = await connected();
    const pinging = client.ping();
    client.close();
    await expect(pinging).rejects.toMatchObject({ kind: 'closed' });
    expect(socket.readyState).toBe(3);
  });

  it('sends unsolicited errors and undecodable frames to onError', async () => {
    const onError = vi.fn();
    const [, socket] = await connected({ onError });
    socket.push({ op: 'error', code: 'rate_limited', message: 'slow down' });
    socket.pushRaw(new Uint8Array([0x92, 0x01, 0x02]).buffer);
    socket.pushRaw('{"op":"pong"}');
    const errors = onError.mock.calls.map(([e]) => e as Error);
    expect(errors[0]).toBeInstanceOf(ExchangeError);
    expect(errors[0]).toMatchObject({ code: 'rate_limited', rid: undefined });
    expect(errors.slice(1)).toMatchObject([{ kind: 'bad_frame' }, { kind: 'bad_frame' }]);
  });
});

describe('ExchangeClient: subscriptions', () => {
  const trade = (market: string, seq: number): TradeMessage => ({
    op: 'trade',
    market,
    seq,
    tradeId: `t-${seq}`,
    price: '10.00',
    qty: '1.000',
    side: 'buy',
    ts: 1_700_000_000_000 + seq,
  });

  it('routes pushes by op and market, and stops after unsubscribe', async () => {
    const [client, socket] = await connected();
    const received: TradeMessage[] = [];
    const subscribing = client.subscribe('trades', { market: MARKET }, (m) => received.push(m));
    expect(socket.last('sub')).toEqual({ op: 'sub', rid: 1, ch: 'trades', market: MARKET });
    socket.reply('sub', { op: 'subbed', ch: 'trades', market: MARKET });
    const unsubscribe = await subscribing;
    socket.push(trade(MARKET, 1));
    socket.push(trade('OTHER-USDC', 1));
    socket.push({ op: 'ticker', market: MARKET, last: '1', bid: '1', ask: '1', high24h: '1', low24h: '1' });
    const unsubscribing = unsubscribe();
    expect(socket.last('unsub')).toEqual({ op: 'unsub', rid: 2, ch: 'trades', market: MARKET });
    socket.push(trade(MARKET, 2));
    socket.reply('unsub', { op: 'unsubbed', ch: 'trades', market: MARKET });
    await unsubscribing;
    expect(received.map((m) => [m.market, m.seq])).toEqual([[MARKET, 1]]);
  });

  it('drops the subscription when the server refuses it', async () => {
    const [client, socket] = await connected();
    const received: unknown[] = [];
    const subscribing = client.subscribe('trades', { market: 'NOPE-USDC' }, (m) => received.push(m));
    socket.reply('sub', { op: 'error', code: 'unknown_market', message: 'no such market' });
    await expect(subscribing).rejects.toMatchObject({ code: 'unknown_market' });
    socket.push(trade('NOPE-USDC', 1));
    expect(received).toEqual([]);
  });

  it('routes private pushes without market, and checks which channels take a market', async () => {
    const [client, socket] = await connected({ token: 'jwt' });
    const orders: OrderMessage[] = [];
    const subscribing = client.subscribe('orders', {}, (m) => orders.push(m));
    expect(socket.last('sub')).toEqual({ op: 'sub', rid: 2, ch: 'orders' });
    socket.reply('sub', { op: 'subbed', ch: 'orders' });
    await subscribing;
    const order: OrderMessage = {
      op: 'order',
      orderId: 'o-1',
      market: MARKET,
      side: 'buy',
      type: 'limit',
      status: 'open',
      price: '10.00',
      qty: '1.000',
      filledQty: '0.000',
      remainingQty: '1.000',
      ts: 1_700_000_000_000,
    };
    socket.push(order);
    socket.push({ ...order, market: 'OTHER-USDC', orderId: 'o-2' });
    socket.push({ op: 'fill', orderId: 'o-1', market: MARKET });
    expect(orders.map((m) => m.orderId)).toEqual(['o-1', 'o-2']);
    await expect(client.subscribe('balances', { market: MARKET }, () => undefined)).rejects.toThrow(
      /private/,
    );
    await expect(client.subscribe('ticker', {}, () => undefined)).rejects.toThrow(/needs a market/);
  });

  it('delivers candles of the subscribed interval only', async () => {
    const [client, socket] = await connected();
    const intervals: string[] = [];
    const subscribing = client.subscribe('candles', { market: MARKET, interval: '5m' }, (m) =>
      intervals.push(m.interval),
    );
    expect(socket.last('sub')).toEqual({ op: 'sub', rid: 1, ch: 'candles', market: MARKET, interval: '5m' });
    socket.reply('sub', { op: 'subbed', ch: 'candles', market: MARKET });
    await subscribing;
    const candle = {
      op: 'candle',
      market: MARKET,
      t: 0,
      o: '1',
      h: '1',
      l: '1',
      c: '1',
      v: '0',
      closed: false,
    };
    socket.push({ ...candle, interval: '1m' });
    socket.push({ ...candle, interval: '5m' });
    expect(intervals).toEqual(['5m']);
  });

  it('replaces a subscription to the same channel and market; the old handle then does nothing', async () => {
    const [client, socket] = await connected();
    const first: number[] = [];
    const second: number[] = [];
    const subscribingFirst = client.subscribe('trades', { market: MARKET }, (m) => first.push(m.seq));
    socket.reply('sub', { op: 'subbed', ch: 'trades', market: MARKET });
    const unsubscribeFirst = await subscribingFirst;
    const subscribingSecond = client.subscribe('trades', { market: MARKET }, (m) => second.push(m.seq));
    socket.reply('sub', { op: 'subbed', ch: 'trades', market: MARKET });
    await subscribingSecond;
    socket.push(trade(MARKET, 5));
    await unsubscribeFirst();
    expect(socket.sent.filter((m) => m.op === 'unsub')).toEqual([]);
    socket.push(trade(MARKET, 6));
    expect(first).toEqual([]);
    expect(second).toEqual([5, 6]);
  });

  it('reports a throwing callback to onError and keeps delivering', async () => {
    const onError = vi.fn();
    const [client, socket] = await connected({ onError });
    const seen: number[] = [];
    const subscribing = client.subscribe('trades', { market: MARKET }, (m) => {
      seen.push(m.seq);
      if (m.seq === 1) throw new Error('callback bug');
    });
    socket.reply('sub', { op: 'subbed', ch: 'trades', market: MARKET });
    await subscribing;
    socket.push(trade(MARKET, 1));
    socket.push(trade(MARKET, 2));
    expect(seen).toEqual([1, 2]);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]![0]).toMatchObject({ kind: 'handler', cause: new Error('callback bug') });
  });
});

describe('ExchangeClient: book subscriptions', () => {
  const bids: BookLevel[] = [['10.00', '1.000']];
  const asks: BookLevel[] = [['11.00', '2.000']];
  const withBid = { bids: [['10.50', '1.000'], ...bids] as BookLevel[], asks };

  async function bookSubscribed(onResync = vi.fn()) {
    const [client, socket] = await connected();
    const updates: string[] = [];
    const onUpdate = (b: LocalBook) => updates.push(`${b.seq}:${b.bids().length}`);
    const subscribing = client.subscribeBook(MARKET, 10, onUpdate, { onResync });
    expect(socket.last('sub')).toEqual({ op: 'sub', rid: 1, ch: 'book', market: MARKET, depth: 10 });
    socket.reply('sub', { op: 'subbed', ch: 'book', market: MARKET });
    const subscription = await subscribing;
    socket.push(book('snapshot', 4, bids, asks, { bids, asks }));
    return { client, socket, subscription, updates, onResync };
  }

  it('keeps a LocalBook from the snapshot and deltas and hands it to onUpdate', async () => {
    const { subscription, socket, updates } = await bookSubscribed();
    socket.push(book('delta', 5, [['10.50', '1.000']], [], withBid));
    expect(updates).toEqual(['4:1', '5:2']);
    expect(subscription.book.bids()).toEqual(withBid.bids);
    expect(subscription.resyncs).toBe(0);
  });

  it('resubscribes on a gap, ignores deltas until the fresh snapshot, and counts it', async () => {
    const { client, subscription, socket, updates, onResync } = await bookSubscribed();
    socket.push(book('delta', 6, [['10.50', '1.000']], [], withBid));
    expect(onResync).toHaveBeenCalledWith('gap', subscription.book);
    expect(subscription.resyncs).toBe(1);
    expect(client.resyncs).toBe(1);
    expect(socket.last('sub')).toEqual({ op: 'sub', rid: 2, ch: 'book', market: MARKET, depth: 10 });
    socket.push(book('delta', 7, [], [], withBid));
    socket.reply('sub', { op: 'subbed', ch: 'book', market: MARKET });
    socket.push(book('snapshot', 9, withBid.bids, asks, withBid));
    socket.push(book('delta', 10, [['10.50', '0']], [], { bids, asks }));
    expect(updates).toEqual(['4:1', '9:2', '10:1']);
    expect(subscription.resyncs).toBe(1);
    expect(socket.sent.filter((m) => m.op === 'sub')).toHaveLength(2);
  });

  it('resubscribes on a checksum mismatch', async () => {
    const { subscription, socket, onResync } = await bookSubscribed();
    socket.push(book('delta', 5, [['10.50', '1.000']], [], { bids, asks }));
    expect(onResync).toHaveBeenCalledWith('mismatch', subscription.book);
    expect(subscription.resyncs).toBe(1);
    expect(socket.sent.filter((m) => m.op === 'sub')).toHaveLength(2);
  });

  it('tries again on the next delta when a resubscription fails', async () => {
    const onError = vi.fn();
    const [client, socket] = await connected({ onError });
    const subscribing = client.subscribeBook(MARKET, 10, () => undefined);
    socket.reply('sub', { op: 'subbed', ch: 'book', market: MARKET });
    const subscription = await subscribing;
    socket.push(book('snapshot', 4, bids, asks, { bids, asks }));
    socket.push(book('delta', 6, [], [], { bids, asks }));
    socket.reply('sub', { op: 'error', code: 'rate_limited', message: 'slow down' });
    await vi.waitFor(() => {
      expect(onError).toHaveBeenCalledWith(expect.objectContaining({ code: 'rate_limited' }));
    });
    socket.push(book('delta', 7, [], [], { bids, asks }));
    expect(subscription.resyncs).toBe(2);
    expect(socket.sent.filter((m) => m.op === 'sub')).toHaveLength(3);
  });

  it('unsubscribes', async () => {
    const { subscription, socket, updates } = await bookSubscribed();
    const unsubscribing = subscription.unsubscribe();
    expect(socket.last('unsub')).toEqual({ op: 'unsub', rid: 2, ch: 'book', market: MARKET });
    socket.reply('unsub', { op: 'unsubbed', ch: 'book', market: MARKET });
    await unsubscribing;
    socket.push(book('delta', 5, [['10.50', '1.000']], [], withBid));
    expect(updates).toEqual(['4:1']);
  });
});

describe('ExchangeClient over a real ws connection', () => {
  it('exchanges binary MessagePack frames with a ws server', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', resolve));
    const frames: { binary: boolean; message: Message }[] = [];
    server.on('connection', (ws) => {
      ws.on('message', (data: Buffer, isBinary) => {
        const decoded = decodeMessage(new Uint8Array(data));
        if (!decoded.ok) throw new Error(decoded.reason);
        frames.push({ binary: isBinary, message: decoded.message });
        ws.send(encodeMessage({ op: 'pong', rid: decoded.message.rid, ts: 1_700_000_000_123 }));
      });
    });
    const { port } = server.address() as { port: number };
    const client = new ExchangeClient({ url: `ws://127.0.0.1:${port}`, WebSocket: NodeWebSocket });
    try {
      await client.connect();
      const pong = await client.ping();
      expect(pong).toEqual({ op: 'pong', rid: 1, ts: 1_700_000_000_123 });
      expect(frames).toEqual([{ binary: true, message: { op: 'ping', rid: 1 } }]);
    } finally {
      client.close();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    }
  });
});
