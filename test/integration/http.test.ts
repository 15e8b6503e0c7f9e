import { pino } from 'pino';
import type { DatabasePool } from 'slonik';
import type * as UWS from 'uWebSockets.js';
import uWS from '../../src/transport/uws.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderMessage, TradeMessage } from '../../src/protocol/messages.ts';
import { bookChecksum } from '../../src/protocol/checksum.ts';
import { Authenticator } from '../../src/transport/auth.ts';
import { registerHttp, type HttpOptions } from '../../src/transport/http.ts';
import { History, type HistoryOptions } from '../../src/services/history.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';

/*
 * PROTOCOL.md's HTTP table over real sockets against the whole exchange (src/app.ts on a fresh
 * database): every route, the auth failures, each error status, body limits, and the path from
 * placing orders through a fill to the trades, orders and balances reads.
 */

const MAX_BODY = 4_096;
const emptyChecksum = bookChecksum([], []);
const BTC_USDC = {
  symbol: 'BTC-USDC',
  baseAsset: 'BTC',
  quoteAsset: 'USDC',
  priceDecimals: 2,
  qtyDecimals: 4,
  tickSize: '0.01',
  lotSize: '0.0001',
  minQty: '0.0001',
};

let x: RunningExchange;
let admin: string;
let alice: string;
let bob: string;
let carol: string;
let issuer: string;
let market: { id: string; symbol: string };

type Json = Record<string, unknown>;

/** x.request with a typed body (the support helper answers `any`); the caller names the shape it expects. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
async function call<T = Json>(
  method: string,
  path: string,
  options?: { token?: string; body?: unknown },
): Promise<{ status: number; body: T }> {
  const answer: { status: number; body: unknown } = await x.request(method, path, options);
  return answer as { status: number; body: T };
}

function withoutOp(message: object): Json {
  const rest: Json = { ...message };
  delete rest.op;
  return rest;
}

function place(token: string, body: Json) {
  return call('POST', '/api/v1/orders', { token, body: { market: 'BTC-USDC', type: 'limit', ...body } });
}

beforeAll(async () => {
  x = await runExchange({
    HTTP_MAX_BODY_BYTES: String(MAX_BODY),
    RATE_ORDERS_BURST: '100',
    RATE_ORDERS_PER_S: '1',
  });
  admin = await x.token('root', ['admin']);
  alice = await x.token('alice', ['trader']);
  bob = await x.token('bob', ['trader']);
  carol = await x.token('carol', ['trader']);
  issuer = await x.token('ivy', ['issuer']);
  await x.asset('USDC', 6, 'stable');
  await x.asset('BTC', 8);
  market = (await x.market(BTC_USDC)) as { id: string; symbol: string };
  await x.credit('alice', 'USDC', '1000');
  await x.credit('bob', 'BTC', '1');
});

afterAll(async () => {
  await x.stop();
});

describe('operations', () => {
  it('GET /health answers ok with Postgres up', async () => {
    const r = await call('GET', '/health');
    const { historyLag, ...body } = r.body as { historyLag: { records: number; ms: number } };
    expect({ status: r.status, body }).toEqual({
      status: 200,
      body: { status: 'ok', postgres: 'ok', redis: 'ok', chain: 'not_started', history: 'ok' },
    });
    expect(Object.keys(historyLag).sort()).toEqual(['ms', 'records']);
  });

  it('GET /metrics serves Prometheus text with the gateway metrics', async () => {
    await call('GET', '/api/v1/markets');
    const response = await fetch(`${x.http}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toMatch(
      /exchange_http_requests_total\{route="\/api\/v1\/markets",method="GET",status="200"\} [1-9]/,
    );
    expect(text).toContain('exchange_http_request_duration_seconds_bucket');
    expect(text).toMatch(/exchange_ws_connections [0-9]+/);
  });

  it('GET /webhooks/health answers ok', async () => {
    expect(await call('GET', '/api/v1/webhooks/health')).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('an unknown route or method answers 404 not_found', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/nothing'],
      ['GET', '/api/v1/markets/BTC-USDC/nothing'],
      ['PUT', '/api/v1/orders'],
      ['PATCH', '/api/v1/markets'],
      ['POST', '/api/v1/markets/BTC-USDC/teleport'],
      ['POST', '/webhooks/entity-permissions'],
    ] as const) {
      const r = await call(method, path, { token: admin });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body).toMatchObject({ error: { code: 'not_found', message: `no route ${method} ${path}` } });
    }
  });
});

describe('auth', () => {
  const protectedRoutes: readonly (readonly [string, string, 'admin' | 'trader'])[] = [
    ['POST', '/api/v1/assets', 'admin'],
    ['POST', '/api/v1/markets', 'admin'],
    ['POST', '/api/v1/admin/credit', 'admin'],
    ['POST', '/api/v1/orders', 'trader'],
    ['DELETE', '/api/v1/orders/x:1', 'trader'],
    ['GET', '/api/v1/orders', 'trader'],
    ['GET', '/api/v1/balances', 'trader'],
  ];

  it('a missing or malformed Authorization header answers 401 unauthorized', async () => {
    for (const [method, path] of protectedRoutes) {
      const none = await call(method, path, { body: method === 'POST' ? {} : undefined });
      expect(none.status, `${method} ${path}`).toBe(401);
      expect(none.body).toMatchObject({ error: { code: 'unauthorized' } });
      const response = await fetch(`${x.http}${path}`, {
        method,
        headers: { authorization: `Basic ${alice}` },
      });
      expect(response.status).toBe(401);
    }
  });

  it('a bad signature, an expired token or a malformed token answers 401 unauthorized', async () => {
    const forged = await new Authenticator('another-secret-of-sufficient-length').mint('alice', [
      'trader',
      'admin',
    ]);
    const expired = await x.token('alice', ['trader', 'admin'], Math.floor(Date.now() / 1000) - 10);
    for (const token of [forged, expired, 'not.a.jwt', `${alice}x`]) {
      for (const [method, path] of protectedRoutes) {
        const r = await call(method, path, { token, body: method === 'POST' ? {} : undefined });
        expect(r.status, `${method} ${path}`).toBe(401);
        expect(r.body).toMatchObject({ error: { code: 'unauthorized' } });
      }
    }
  });

  it('a token without the route role answers 403 forbidden (roles do not include one another)', async () => {
    for (const [method, path, role] of protectedRoutes) {
      for (const token of role === 'admin' ? [alice, issuer] : [admin, issuer]) {
        const r = await call(method, path, { token, body: method === 'POST' ? {} : undefined });
        expect(r.status, `${method} ${path}`).toBe(403);
        expect(r.body).toMatchObject({ error: { code: 'forbidden' } });
      }
    }
  });
});

describe('bodies', () => {
  it('bad JSON, a missing body or a non-object answers 400 bad_request', async () => {
    for (const body of ['{', 'null', '"text"', '[]', '']) {
      const response = await fetch(`${x.http}/api/v1/assets`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body,
      });
      expect(response.status, body).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: 'bad_request' } });
    }
  });

  it('a body over the limit answers 413 (declared length or streamed), and the server serves on', async () => {
    const big = JSON.stringify({ symbol: 'X', decimals: 1, kind: 'crypto', pad: 'x'.repeat(MAX_BODY) });
    const declared = await call('POST', '/api/v1/assets', { token: admin, body: JSON.parse(big) });
    expect(declared.status).toBe(413);
    expect(declared.body).toMatchObject({ error: { code: 'bad_request' } });
    const chunks = new TextEncoder().encode(big);
    const streamed = await fetch(`${x.http}/api/v1/assets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}` },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < chunks.length; i += 512) controller.enqueue(chunks.slice(i, i + 512));
          controller.close();
        },
      }),
      duplex: 'half',
    });
    expect(streamed.status).toBe(413);
    const huge = await fetch(`${x.http}/api/v1/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice}` },
      body: 'x'.repeat(2_000_000),
    });
    expect(huge.status).toBe(413);
    expect((await call('GET', '/health')).status).toBe(200);
  });

  it('a body just under the limit is read', async () => {
    const body = { symbol: 'PAD', decimals: 2, kind: 'fiat', pad: 'x'.repeat(MAX_BODY - 100) };
    expect(JSON.stringify(body).length).toBeLessThanOrEqual(MAX_BODY);
    const r = await call('POST', '/api/v1/assets', { token: admin, body });
    expect(r).toEqual({ status: 201, body: { symbol: 'PAD', decimals: 2, kind: 'fiat' } });
  });
});

describe('admin', () => {
  it('POST /assets creates an asset (201), refuses duplicates (409) and bad ones (400)', async () => {
    const created = await call('POST', '/api/v1/assets', {
      token: admin,
      body: { symbol: 'ETH', decimals: 18, kind: 'crypto' },
    });
    expect(created).toEqual({ status: 201, body: { symbol: 'ETH', decimals: 18, kind: 'crypto' } });
    const again = await call('POST', '/api/v1/assets', {
      token: admin,
      body: { symbol: 'ETH', decimals: 18, kind: 'crypto' },
    });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: { code: 'conflict' } });
    for (const body of [
      { symbol: 'eth', decimals: 18, kind: 'crypto' },
      { symbol: 'ETH2', decimals: -1, kind: 'crypto' },
      { symbol: 'ETH2', decimals: 8, kind: 'gold' },
      { symbol: 'ETH2', decimals: 8 },
    ]) {
      const r = await call('POST', '/api/v1/assets', { token: admin, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body).toMatchObject({ error: { code: 'bad_request' } });
    }
  });

  it('POST /markets lists a pair active at once and answers the market (201)', async () => {
    expect(market).toMatchObject({
      symbol: 'BTC-USDC',
      status: 'active',
      baseAsset: 'BTC',
      quoteAsset: 'USDC',
      priceDecimals: 2,
      qtyDecimals: 4,
      tickSize: '0.01',
      lotSize: '0.0001',
      minQty: '0.0001',
    });
    expect(typeof market.id).toBe('string');
    const eth = await call('POST', '/api/v1/markets', {
      token: admin,
      body: {
        symbol: 'ETH-USDC',
        baseAsset: 'ETH',
        quoteAsset: 'USDC',
        priceDecimals: 2,
        qtyDecimals: 3,
        tickSize: '0.05',
        lotSize: '0.001',
        minQty: '0.010',
        maxQty: '100',
        makerFeeBps: 5,
        takerFeeBps: 10,
      },
    });
    expect(eth.status).toBe(201);
    expect(eth.body).toMatchObject({
      symbol: 'ETH-USDC',
      status: 'active',
      tickSize: '0.05',
      minQty: '0.010',
      maxQty: '100.000',
      makerFeeBps: 5,
      takerFeeBps: 10,
    });
  });

  it('POST /markets refuses duplicates (409), unknown assets (404) and bad specs (400)', async () => {
    const duplicate = await call('POST', '/api/v1/markets', { token: admin, body: BTC_USDC });
    expect(duplicate.status).toBe(409);
    const unknown = await call('POST', '/api/v1/markets', {
      token: admin,
      body: { ...BTC_USDC, symbol: 'DOGE-USDC', baseAsset: 'DOGE' },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: { code: 'not_found' } });
    for (const body of [
      { ...BTC_USDC, symbol: 'USDC-BTC' },
      { ...BTC_USDC, symbol: 'BTC-PAD', quoteAsset: 'PAD' }, // 2 + 4 decimals > PAD's 2
      { ...BTC_USDC, symbol: 'BTC-ETH', quoteAsset: 'ETH', tickSize: '0.001' },
      { ...BTC_USDC, priceDecimals: '2' },
    ]) {
      const r = await call('POST', '/api/v1/markets', { token: admin, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body).toMatchObject({ error: { code: 'bad_request' } });
    }
  });

  it('POST /admin/credit credits an account and answers its balance', async () => {
    const r = await call('POST', '/api/v1/admin/credit', {
      token: admin,
      body: { userId: 'carol', asset: 'USDC', amount: '50.5' },
    });
    expect(r).toEqual({
      status: 200,
      body: {
        userId: 'carol',
        asset: 'USDC',
        amount: '50.500000',
        available: '50.500000',
        locked: '0.000000',
      },
    });
    const unknown = await call('POST', '/api/v1/admin/credit', {
      token: admin,
      body: { userId: 'carol', asset: 'DOGE', amount: '1' },
    });
    expect(unknown.status).toBe(404);
    for (const amount of ['0', '-1', '1.0000001', 'abc']) {
      const bad = await call('POST', '/api/v1/admin/credit', {
        token: admin,
        body: { userId: 'carol', asset: 'USDC', amount },
      });
      expect(bad.status, amount).toBe(400);
      expect(bad.body).toMatchObject({ error: { code: 'bad_request' } });
    }
  });
});

describe('market reads', () => {
  it('GET /markets lists the markets; /markets/:id takes the id or the symbol', async () => {
    const list = await call<{ symbol: string }[]>('GET', '/api/v1/markets');
    expect(list.status).toBe(200);
    expect(list.body.map((m) => m.symbol).sort()).toEqual(['BTC-USDC', 'ETH-USDC']);
    const bySymbol = await call('GET', '/api/v1/markets/BTC-USDC');
    const byId = await call('GET', `/api/v1/markets/${market.id}`);
    expect(bySymbol).toEqual({ status: 200, body: market });
    expect(byId).toEqual({ status: 200, body: market });
    const unknown = await call('GET', '/api/v1/markets/NOPE-USDC');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: { code: 'unknown_market' } });
  });

  it('GET /markets/:id/book, /trades and /candles answer 404 unknown_market for an unknown market', async () => {
    for (const path of ['book', 'trades', 'candles']) {
      const r = await call('GET', `/api/v1/markets/NOPE-USDC/${path}`);
      expect(r.status, path).toBe(404);
      expect(r.body).toMatchObject({ error: { code: 'unknown_market' } });
    }
  });

  it('GET /markets/:id/book of an empty market, and bad depth or limit values', async () => {
    const book = await call('GET', '/api/v1/markets/ETH-USDC/book');
    expect(book.status).toBe(200);
    expect(book.body).toEqual({ market: 'ETH-USDC', seq: 0, bids: [], asks: [], checksum: emptyChecksum });
    for (const path of [
      'book?depth=-1',
      'book?depth=abc',
      'book?depth=1.5',
      'trades?limit=0',
      'trades?limit=5000',
    ]) {
      const r = await call('GET', `/api/v1/markets/ETH-USDC/${path}`);
      expect(r.status, path).toBe(400);
      expect(r.body).toMatchObject({ error: { code: 'bad_request' } });
    }
  });

  it('GET /markets/:id/candles answers [] for now', async () => {
    expect(await call('GET', `/api/v1/markets/${market.id}/candles?interval=1m`)).toEqual({
      status: 200,
      body: [],
    });
  });
});

describe('order entry and the read path', () => {
  it('place → fill → trades, orders and balances, matching what the WebSocket pushed', async () => {
    const watcher = await x.client();
    const pushed: TradeMessage[] = [];
    await watcher.subscribe('trades', { market: 'BTC-USDC' }, (m) => pushed.push(m));
    const bobClient = await x.client(bob);
    const bobOrders: OrderMessage[] = [];
    await bobClient.subscribe('orders', {}, (m) => bobOrders.push(m));

    const ask = await place(bob, { side: 'sell', qty: '0.5', price: '100', clientOrderId: 'ask-1' });
    const askId = String(ask.body.orderId);
    expect(askId).toMatch(new RegExp(`^${market.id}:[0-9]+$`));
    expect(ask).toEqual({
      status: 201,
      body: {
        orderId: askId,
        clientOrderId: 'ask-1',
        status: 'open',
        filledQty: '0.0000',
        remainingQty: '0.5000',
      },
    });

    const book = await call<{ seq: number; checksum: number }>('GET', '/api/v1/markets/BTC-USDC/book');
    expect(book.status).toBe(200);
    expect(book.body).toMatchObject({ market: 'BTC-USDC', bids: [], asks: [['100.00', '0.5000']] });
    expect(book.body.seq).toBeGreaterThan(0);
    expect(typeof book.body.checksum).toBe('number');

    const open = await call<Json[]>('GET', '/api/v1/orders', { token: bob });
    expect(open.status).toBe(200);
    expect(open.body).toHaveLength(1);
    expect(open.body[0]).toMatchObject({
      orderId: askId,
      clientOrderId: 'ask-1',
      market: 'BTC-USDC',
      status: 'open',
    });
    expect(open.body[0]).not.toHaveProperty('op');

    const bid = await place(alice, { side: 'buy', qty: '0.2', price: '100.00' });
    const bidId = String(bid.body.orderId);
    expect(bid).toEqual({
      status: 201,
      body: { orderId: bidId, status: 'filled', filledQty: '0.2000', remainingQty: '0.0000' },
    });

    // The projections trail the journal by a projector round: reads of history are polled.
    const trades = await eventually(
      async () => {
        const r = await call<Json[]>('GET', '/api/v1/markets/BTC-USDC/trades');
        return r.body.length === 1 && r;
      },
      { what: 'the trade in GET /trades' },
    );
    expect(trades.status).toBe(200);
    expect(trades.body).toHaveLength(1);
    expect(trades.body[0]).toMatchObject({
      market: 'BTC-USDC',
      seq: 1,
      price: '100.00',
      qty: '0.2000',
      side: 'buy',
    });
    expect(typeof trades.body[0]?.tradeId).toBe('string');
    expect(typeof trades.body[0]?.ts).toBe('number');
    await eventually(() => pushed.length === 1, { what: 'the trade pushed' });
    expect(trades.body[0]).toEqual(withoutOp(pushed[0]!));

    const filled = await eventually(
      async () => {
        const r = await call<Json[]>('GET', '/api/v1/orders?status=filled', { token: alice });
        return r.body.length === 1 && r;
      },
      { what: 'the filled order in GET /orders' },
    );
    expect(filled.body).toHaveLength(1);
    expect(typeof filled.body[0]?.ts).toBe('number');
    expect(filled.body[0]).toEqual({
      orderId: bidId,
      market: 'BTC-USDC',
      side: 'buy',
      type: 'limit',
      status: 'filled',
      price: '100.00',
      qty: '0.2000',
      filledQty: '0.2000',
      remainingQty: '0.0000',
      avgPrice: '100.00',
      ts: filled.body[0]?.ts,
    });

    const partial = await call<Json[]>('GET', `/api/v1/orders?status=partially_filled&market=${market.id}`, {
      token: bob,
    });
    expect(partial.body).toHaveLength(1);
    expect(partial.body[0]).toMatchObject({
      orderId: askId,
      status: 'partially_filled',
      filledQty: '0.2000',
      remainingQty: '0.3000',
    });
    expect(partial.body[0]).toEqual(withoutOp(bobOrders.at(-1)!));
    expect((await call('GET', '/api/v1/orders?status=open', { token: bob })).body).toEqual([]);

    const byAsset = (rows: Json[]) =>
      [...rows].sort((a, b) => String(a.asset).localeCompare(String(b.asset)));
    const aliceBalances = await call<Json[]>('GET', '/api/v1/balances', { token: alice });
    expect(aliceBalances.status).toBe(200);
    expect(byAsset(aliceBalances.body)).toEqual([
      { asset: 'BTC', available: '0.20000000', locked: '0.00000000' },
      { asset: 'USDC', available: '980.000000', locked: '0.000000' },
    ]);
    const bobBalances = await call<Json[]>('GET', '/api/v1/balances', { token: bob });
    expect(byAsset(bobBalances.body)).toEqual([
      { asset: 'BTC', available: '0.50000000', locked: '0.30000000' },
      { asset: 'USDC', available: '20.000000', locked: '0.000000' },
    ]);
    expect(
      (await call('GET', '/api/v1/balances', { token: await x.token('nobody', ['trader']) })).body,
    ).toEqual([]);

    const canceled = await call('DELETE', `/api/v1/orders/${encodeURIComponent(askId)}`, { token: bob });
    expect(canceled).toEqual({
      status: 200,
      body: { orderId: askId, status: 'canceled', filledQty: '0.2000', remainingQty: '0.3000' },
    });
    const history = await eventually(
      async () => {
        const r = await call<Json[]>('GET', '/api/v1/orders?status=canceled', { token: bob });
        return r.body.length === 1 && r;
      },
      { what: 'the canceled order in GET /orders' },
    );
    expect(history.body).toHaveLength(1);
    expect(history.body[0]).toMatchObject({
      orderId: askId,
      clientOrderId: 'ask-1',
      status: 'canceled',
      qty: '0.5000',
      filledQty: '0.2000',
      remainingQty: '0.3000',
      avgPrice: '100.00',
    });
    const all = await call<Json[]>('GET', '/api/v1/orders?market=BTC-USDC', { token: bob });
    expect(all.body.map((o) => o.orderId)).toEqual([askId]);
  });

  it('newest trades first, limited, with seq counting the market trades', async () => {
    await place(bob, { side: 'sell', qty: '0.1', price: '101' });
    await place(bob, { side: 'sell', qty: '0.1', price: '102' });
    await place(alice, { side: 'buy', qty: '0.2', price: '102', tif: 'IOC' });
    const trades = await eventually(
      async () => {
        const r = await call<Json[]>('GET', '/api/v1/markets/BTC-USDC/trades?limit=2');
        return r.body[0]?.seq === 3 && r;
      },
      { what: 'trade 3 in GET /trades' },
    );
    expect(trades.body.map((t) => [t.seq, t.price])).toEqual([
      [3, '102.00'],
      [2, '101.00'],
    ]);
  });

  it('order entry errors answer the protocol codes and statuses', async () => {
    const cases: [Record<string, unknown>, number, string][] = [
      [{ side: 'buy', qty: '0.1' }, 400, 'bad_request'], // limit without price
      [{ side: 'buy', qty: '0.00001', price: '100' }, 400, 'bad_request'], // off the lot
      [{ side: 'hold', qty: '0.1', price: '100' }, 400, 'bad_request'],
      [{ side: 'buy', qty: '0.1', price: '100', market: 'NOPE-USDC' }, 404, 'unknown_market'],
      [{ side: 'buy', qty: '100', price: '100' }, 422, 'insufficient_funds'],
      [{ side: 'sell', qty: '0.1', price: '1', postOnly: true }, 422, 'would_match'],
      [{ side: 'buy', qty: '0.1', price: '1000', tif: 'FOK' }, 422, 'fok_unfilled'],
    ];
    const aliceBid = await place(alice, { side: 'buy', qty: '0.1', price: '50', clientOrderId: 'bid-a' });
    expect(aliceBid.status).toBe(201); // what bob's post-only sell would match
    for (const [body, status, code] of cases) {
      const r = await place(code === 'would_match' ? bob : alice, body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.body).toMatchObject({ error: { code: code } });
    }
    const duplicate = await place(alice, { side: 'buy', qty: '0.1', price: '40', clientOrderId: 'bid-a' });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body).toMatchObject({ error: { code: 'duplicate_client_order_id' } });

    // Another user's order, a malformed id and an already closed one: not_found.
    for (const [token, id] of [
      [carol, aliceBid.body.orderId as string],
      [alice, 'nonsense'],
      [alice, `${market.id}:999999`],
      [alice, `${market.id}:abc`],
    ] as const) {
      const r = await call('DELETE', `/api/v1/orders/${encodeURIComponent(id)}`, { token });
      expect(r.status, id).toBe(404);
      expect(r.body).toMatchObject({ error: { code: 'not_found' } });
    }

    const bad = await call('GET', '/api/v1/orders?status=lost', { token: alice });
    expect(bad.status).toBe(400);
    const unknown = await call('GET', '/api/v1/orders?market=NOPE-USDC', { token: alice });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: { code: 'unknown_market' } });
  });

  it('DELETE /orders?market cancels every open order of the user there', async () => {
    await place(carol, { side: 'buy', qty: '0.1', price: '10' });
    await place(carol, { side: 'buy', qty: '0.1', price: '11' });
    const r = await call('DELETE', '/api/v1/orders?market=BTC-USDC', { token: carol });
    expect(r).toEqual({ status: 200, body: { count: 2 } });
    expect((await call('GET', '/api/v1/orders?status=open', { token: carol })).body).toEqual([]);
  });

  it('a market that is not active answers 422 market_not_active', async () => {
    const symbol = 'ETH-USDC';
    const actor = { id: 'root', type: 'admin' } as const;
    const paused = await x.exchange.supervisor.submit(
      symbol,
      { kind: 'lifecycle', event: { type: 'lifecycle.pause', actor, ts: Date.now() } },
      Date.now(),
    );
    expect(paused.ok).toBe(true);
    expect((await call('GET', `/api/v1/markets/${symbol}`)).body.status).toBe('paused');
    const r = await place(alice, { market: symbol, side: 'buy', qty: '0.1', price: '10' });
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({ error: { code: 'market_not_active' } });
  });

  it('past the rate limit order entry answers 429 rate_limited', async () => {
    const spammer = await x.token('spammer', ['trader']);
    const answers = await Promise.all(
      Array.from({ length: 130 }, () =>
        call('DELETE', `/api/v1/orders/${encodeURIComponent(`${market.id}:999999`)}`, {
          token: spammer,
        }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses).toContain(404);
    expect(statuses).toContain(429);
    expect(answers.find((a) => a.status === 429)?.body).toMatchObject({ error: { code: 'rate_limited' } });
  });

  it('the WebSocket connection gauge counts open connections', async () => {
    const before = await connectionGauge();
    const client = await x.client();
    expect(await connectionGauge()).toBe(before + 1);
    client.close();
    await eventually(async () => (await connectionGauge()) === before, { what: 'the connection gauge back' });
    expect(await connectionGauge()).toBe(before);
  });
});

async function connectionGauge(): Promise<number> {
  const text = (await call<string>('GET', '/metrics')).body;
  const match = /^exchange_ws_connections ([0-9]+)$/m.exec(text);
  return Number(match?.[1]);
}

describe('GET /health when Postgres does not answer', () => {
  /** The routes on an app of their own, with only what /health reads: a stand-in pool. */
  async function healthWith(pool: Pick<DatabasePool, 'oneFirst'>) {
    const app = uWS.App();
    registerHttp(app, {
      history: new History({
        pool: { ...pool, any: () => Promise.reject(new Error('not read here')) } as HistoryOptions['pool'],
        openOrders: () => [],
        market: () => undefined,
      }),
      maxBodyBytes: 1_000,
      log: pino({ level: 'silent' }),
      auth: new Authenticator('x'.repeat(32)),
    } as Partial<HttpOptions> as HttpOptions);
    const listen = await new Promise<UWS.us_listen_socket>((resolve, reject) => {
      app.listen('127.0.0.1', 0, (socket) => {
        if (socket === false) reject(new Error('no port'));
        else resolve(socket);
      });
    });
    try {
      const started = Date.now();
      const response = await fetch(`http://127.0.0.1:${uWS.us_socket_local_port(listen)}/health`);
      return { status: response.status, body: await response.json(), ms: Date.now() - started };
    } finally {
      uWS.us_listen_socket_close(listen);
      app.close();
    }
  }

  const down = { status: 'unavailable', postgres: 'down', redis: 'not_configured', chain: 'not_configured' };

  it('answers 503 naming postgres when the query fails', async () => {
    const r = await healthWith({ oneFirst: () => Promise.reject(new Error('connect ECONNREFUSED')) });
    expect(r).toMatchObject({ status: 503, body: down });
  });

  it('answers 503 after about a second when Postgres hangs', async () => {
    const r = await healthWith({ oneFirst: () => new Promise<never>(() => undefined) });
    expect(r).toMatchObject({ status: 503, body: down });
    expect(r.ms).toBeGreaterThanOrEqual(900);
    expect(r.ms).toBeLessThan(2_500);
  });
});
