import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets, RawSocket } from './fixtures.ts';

/*
 * Issue 12, section 4 (contract behaviour) over real sockets against the whole exchange: token
 * expiry on a WebSocket session, unstorable text at the boundary, complianceDocuments as ids, the
 * bad_request / unknown_market precedence, HEAD, too many request headers, the `canceled` reply's
 * outcome, and paged lists with X-Next-Cursor.
 */

// HTTP bodies are JSON of many shapes; these tests read them field by field.
/* eslint-disable @typescript-eslint/no-unsafe-member-access */

let running: RunningExchange;
let rid = 0;
const next = () => ++rid;

beforeAll(async () => {
  running = await runExchange({ RATE_ORDERS_PER_S: '10000', RATE_ORDERS_BURST: '10000' });
  await listMarkets(running);
  await running.credit('alice', 'USDC', '1000000');
  await running.credit('alice', 'BTC', '100');
  await running.credit('bob', 'USDC', '1000000');
  await running.credit('bob', 'BTC', '100');
});

afterAll(async () => {
  await running.stop();
});

async function authed(userId: string, token?: string): Promise<RawSocket> {
  const socket = await RawSocket.open(running.ws);
  const reply = await socket.request(
    { op: 'auth', token: token ?? (await running.token(userId, ['trader'])) },
    next(),
  );
  expect(reply).toMatchObject({ op: 'authed', userId });
  return socket;
}

const limit = (side: 'buy' | 'sell', price: string, qty: string, extra: Record<string, unknown> = {}) => ({
  op: 'place',
  market: 'BTC-USDC',
  side,
  type: 'limit',
  price,
  qty,
  ...extra,
});

/** Waits for `read` to satisfy `done` (the projections trail the journal), or fails. */
const registration = (tokenSymbol: string, assetDetails: Record<string, unknown>) => ({
  name: `${tokenSymbol} tower`,
  assetType: 'real_estate',
  tokenSymbol,
  tokenName: `${tokenSymbol} Token`,
  totalSupply: '1000',
  quoteAsset: 'USDC',
  priceDecimals: 2,
  qtyDecimals: 2,
  tickSize: '0.01',
  lotSize: '0.01',
  minQty: '0.01',
  assetDetails,
});

describe('token expiry', () => {
  it('finding 4: token exp ends WS authentication (private streams stop, order entry unauthorized)', async () => {
    const expiresAt = Math.floor(Date.now() / 1000) + 2;
    const short = await running.token('alice', ['trader'], expiresAt);
    const socket = await authed('alice', short);
    expect(await socket.request({ op: 'sub', ch: 'orders' }, next())).toMatchObject({ op: 'subbed' });
    // A second connection of alice, with a long token, to see when her order pushes go out.
    const watcher = await authed('alice');
    expect(await watcher.request({ op: 'sub', ch: 'orders' }, next())).toMatchObject({ op: 'subbed' });

    const ended = await socket.next((m) => m.op === 'error' && m.rid === undefined, 5_000);
    expect(ended).toMatchObject({ code: 'unauthorized' });
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt * 1000);
    expect(await socket.request(limit('buy', '10.00', '0.0001'), next())).toMatchObject({
      op: 'error',
      code: 'unauthorized',
    });
    expect(await socket.request({ op: 'sub', ch: 'balances' }, next())).toMatchObject({
      code: 'unauthorized',
    });

    // Alice's next order push reaches the watcher, but no longer the expired session: the pong
    // after it on that socket proves nothing was queued before it.
    const placed = await watcher.request(limit('buy', '10.00', '0.0001'), next());
    expect(placed).toMatchObject({ op: 'accepted' });
    await watcher.next((m) => m.op === 'order' && m.orderId === placed.orderId);
    expect(await socket.request({ op: 'ping' }, next())).toMatchObject({ op: 'pong' });
    expect(socket.received.filter((m) => m.op === 'order')).toEqual([]);

    // A new auth restores the session.
    expect(
      await socket.request({ op: 'auth', token: await running.token('alice', ['trader']) }, next()),
    ).toMatchObject({
      op: 'authed',
    });
    expect(
      await socket.request({ op: 'cancel', market: 'BTC-USDC', orderId: placed.orderId }, next()),
    ).toMatchObject({
      op: 'canceled',
    });
    socket.close();
    watcher.close();
  });

  it('finding 4: token exp ends the authentication given at upgrade (?token=)', async () => {
    const short = await running.token('bob', ['trader'], Math.floor(Date.now() / 1000) + 1);
    const socket = await RawSocket.open(`${running.ws}?token=${short}`);
    expect(await socket.request({ op: 'cancel_all', market: 'BTC-USDC' }, next())).toMatchObject({
      op: 'canceled_all',
    });
    expect(await socket.next((m) => m.op === 'error' && m.rid === undefined, 5_000)).toMatchObject({
      code: 'unauthorized',
    });
    expect(await socket.request({ op: 'cancel_all', market: 'BTC-USDC' }, next())).toMatchObject({
      code: 'unauthorized',
    });
    socket.close();
  });

  it('finding 4: orders placed with cancelOnDisconnect are still canceled when the connection closes after exp', async () => {
    const socket = await RawSocket.open(running.ws);
    const short = await running.token('dave', ['trader'], Math.floor(Date.now() / 1000) + 1);
    await running.credit('dave', 'USDC', '1000');
    expect(
      await socket.request({ op: 'auth', token: short, cancelOnDisconnect: true }, next()),
    ).toMatchObject({
      op: 'authed',
    });
    expect(await socket.request(limit('buy', '10.00', '0.0100'), next())).toMatchObject({ status: 'open' });
    await socket.next((m) => m.op === 'error' && m.rid === undefined, 5_000);
    socket.close();
    const token = await running.token('dave', ['trader']);
    await eventually(
      async () =>
        ((await running.request('GET', '/api/v1/orders?status=open', { token })).body as unknown[]).length ===
        0,
      { what: 'the order to be canceled on disconnect' },
    );
  });

  it('finding 4: the SDK forgets its session when the token exp ends it', async () => {
    const client = await running.client(
      await running.token('bob', ['trader'], Math.floor(Date.now() / 1000) + 1),
    );
    expect(client.session).toMatchObject({ userId: 'bob' });
    await eventually(() => client.session === undefined, {
      what: 'the session to end at exp',
      timeoutMs: 5_000,
    });
  });
});

describe('unstorable text', () => {
  it('finding 4: NUL in register name answers 400 bad_request, not 503', async () => {
    const issuer = await running.token('issuer-1', ['issuer']);
    const cases: Record<string, unknown>[] = [
      { ...registration('NULA', {}), name: 'bad\u0000name' },
      registration('NULB', { location: 'lone \ud800 surrogate' }),
      registration('NULC', { attributes: { 'key\u0000': 'v' } }),
      registration('NULD', { complianceDocuments: ['\udc00doc'] }),
    ];
    for (const body of cases) {
      const answer = await running.request('POST', '/api/v1/markets/register', { token: issuer, body });
      expect(answer, JSON.stringify(body)).toMatchObject({
        status: 400,
        body: { error: { code: 'bad_request' } },
      });
    }
    expect((await running.request('GET', '/api/v1/markets/NULA-USDC')).status).toBe(404);
  });

  // A lone surrogate cannot travel in MessagePack's UTF-8 (the decoder reads one as U+FFFD): NUL can.
  it('finding 4: NUL in a WebSocket field answers bad_request, not unknown_market', async () => {
    const socket = await authed('alice');
    for (const market of ['BTC-USDC\u0000', '\u0000']) {
      expect(await socket.request(limit('buy', '10.00', '0.0001', { market }), next())).toMatchObject({
        op: 'error',
        code: 'bad_request',
      });
      expect(await socket.request({ op: 'sub', ch: 'book', market }, next())).toMatchObject({
        code: 'bad_request',
      });
    }
    socket.close();
  });
});

describe('registration', () => {
  it('finding 4: complianceDocuments accepts document ids and /details returns them as sent', async () => {
    const issuer = await running.token('issuer-2', ['issuer']);
    const documents = [
      'DOC-2026-0001',
      'kyc/deed 17.pdf',
      { name: 'Title deed', url: 'https://example.org/deed.pdf' },
    ];
    const registered = await running.request('POST', '/api/v1/markets/register', {
      token: issuer,
      body: registration('DOCS', { complianceDocuments: documents }),
    });
    expect(registered.status).toBe(201);
    const details = await running.request('GET', `/api/v1/markets/${registered.body.id}/details`);
    expect(details.status).toBe(200);
    expect(details.body.asset.complianceDocuments).toEqual(documents);
  });
});

describe('error precedence', () => {
  it('finding 4: bad_request is checked before unknown_market (WS place, amend, HTTP POST /orders)', async () => {
    const socket = await authed('alice');
    const nope = { market: 'NOPE-USDC' };
    for (const bad of [
      limit('buy', '10.00', 'abc', nope),
      limit('buy', '10.00', '0', nope),
      { ...limit('buy', '10.00', '1', nope), price: undefined },
      { ...limit('sell', '10.00', '1', nope), type: 'market' },
      { op: 'amend', market: 'NOPE-USDC', orderId: 'x:1', qty: '-1' },
      { op: 'amend', market: 'NOPE-USDC', orderId: 'x:1', price: '1e3' },
    ]) {
      expect(await socket.request(bad, next()), JSON.stringify(bad)).toMatchObject({ code: 'bad_request' });
    }
    expect(await socket.request(limit('buy', '10.00', '1', nope), next())).toMatchObject({
      code: 'unknown_market',
    });
    socket.close();

    const token = await running.token('alice', ['trader']);
    const http = await running.request('POST', '/api/v1/orders', {
      token,
      body: { market: 'NOPE-USDC', side: 'buy', type: 'limit', qty: '1' },
    });
    expect(http).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
  });
});

describe('HTTP surface', () => {
  it('finding 4: HEAD is answered wherever GET is, with its status and headers and no body', async () => {
    for (const path of [
      '/health',
      '/api/v1/markets',
      '/api/v1/markets/BTC-USDC/book',
      '/api/v1/markets/BTC-USDC',
    ]) {
      const get = await fetch(`${running.http}${path}`);
      const getBody = await get.arrayBuffer();
      const head = await fetch(`${running.http}${path}`, { method: 'HEAD' });
      expect(head.status, path).toBe(get.status);
      expect(head.headers.get('content-type'), path).toBe(get.headers.get('content-type'));
      const length = Number(head.headers.get('content-length'));
      // /health carries live figures (historyLag.ms): its length may differ by a digit between the
      // two requests; every other route here answers the same body to both.
      if (path === '/health') expect(length, path).toBeGreaterThan(0);
      else expect(length, path).toBe(getBody.byteLength);
      expect((await head.arrayBuffer()).byteLength, path).toBe(0);
    }
    const missing = await fetch(`${running.http}/api/v1/nothing-here`, { method: 'HEAD' });
    expect(missing.status).toBe(404);
    expect((await missing.arrayBuffer()).byteLength).toBe(0);
  });

  it('finding 4: too many request headers answer 431 at once, not a 10 s hang', async () => {
    const { port } = new URL(running.http);
    const started = Date.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1');
      let data = '';
      socket.on('data', (chunk: Buffer) => {
        data += chunk.toString('latin1');
        if (data.includes('\r\n')) {
          socket.destroy();
          resolve(data);
        }
      });
      socket.on('close', () => {
        resolve(data);
      });
      socket.on('error', reject);
      let head = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n';
      // About 3 KiB: under uWS's default 4 KiB limit, which alone let this wait 10 s.
      for (let i = 0; i < 200; i++) head += `X-Header-${i}: v\r\n`;
      socket.write(`${head}\r\n`);
    });
    expect(answer.startsWith('HTTP/1.1 431 ')).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    // An ordinary request still passes.
    expect((await fetch(`${running.http}/health`)).status).toBe(200);
  });
});

describe('replies name the outcome', () => {
  it('finding 4: canceled carries status "canceled" and filledQty (WS and HTTP DELETE /orders/:id)', async () => {
    const alice = await authed('alice');
    const bob = await authed('bob');
    const ask = await alice.request(limit('sell', '20000.00', '1.0000'), next());
    expect(ask).toMatchObject({ op: 'accepted', status: 'open' });
    expect(await bob.request(limit('buy', '20000.00', '0.4000'), next())).toMatchObject({ status: 'filled' });
    expect(await alice.request({ op: 'cancel', market: 'BTC-USDC', orderId: ask.orderId }, next())).toEqual({
      op: 'canceled',
      rid,
      orderId: ask.orderId,
      status: 'canceled',
      filledQty: '0.4000',
      remainingQty: '0.6000',
    });

    const resting = await alice.request(
      limit('sell', '30000.00', '0.2500', { clientOrderId: 'http-cancel' }),
      next(),
    );
    const token = await running.token('alice', ['trader']);
    const deleted = await running.request('DELETE', `/api/v1/orders/${String(resting.orderId)}`, { token });
    expect(deleted).toMatchObject({
      status: 200,
      body: { orderId: resting.orderId, status: 'canceled', filledQty: '0.0000', remainingQty: '0.2500' },
    });
    alice.close();
    bob.close();
  });
});

describe('paged lists', () => {
  /** Follows X-Next-Cursor from `path` to the last page; answers the pages. */
  async function pages(path: string, token?: string): Promise<Record<string, unknown>[][]> {
    const out: Record<string, unknown>[][] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 50; i++) {
      const url = `${running.http}${path}${cursor === null ? '' : `&cursor=${cursor}`}`;
      const response = await fetch(url, {
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
      expect(response.status).toBe(200);
      out.push((await response.json()) as Record<string, unknown>[]);
      cursor = response.headers.get('x-next-cursor');
      if (cursor === null) return out;
    }
    throw new Error('more than 50 pages');
  }

  it('finding 4: GET /orders pages with limit and an opaque cursor (X-Next-Cursor) past the first page', async () => {
    const carol = await running.token('carol', ['trader']);
    await running.credit('carol', 'USDC', '1000000');
    const socket = await authed('carol', carol);
    const canceled: string[] = [];
    for (let i = 0; i < 7; i++) {
      const placed = await socket.request(limit('buy', `${100 + i}.00`, '0.0100'), next());
      await socket.request({ op: 'cancel', market: 'BTC-USDC', orderId: placed.orderId }, next());
      canceled.push(String(placed.orderId));
    }
    const open: string[] = [];
    for (let i = 0; i < 2; i++)
      open.push(String((await socket.request(limit('buy', '50.00', '0.0100'), next())).orderId));
    socket.close();
    await eventually(
      async () => {
        const answer = await running.request('GET', '/api/v1/orders?status=canceled&limit=1000', {
          token: carol,
        });
        return (answer.body as unknown[]).length === 7;
      },
      { what: 'the cancels to be projected' },
    );

    const listed = await pages('/api/v1/orders?limit=3', carol);
    expect(listed.map((page) => page.length)).toEqual([3, 3, 3]);
    const ids = listed.flat().map((o) => String(o.orderId));
    // Open ones first, then the closed ones most recently changed first; each exactly once.
    expect(ids).toEqual([...open, ...canceled.toReversed()]);

    const closedOnly = await pages('/api/v1/orders?status=canceled&limit=4', carol);
    expect(closedOnly.map((page) => page.length)).toEqual([4, 3]);
    expect(closedOnly.flat().map((o) => o.orderId)).toEqual(canceled.toReversed());
  });

  it('finding 4: GET /markets/:id/trades pages newest first with X-Next-Cursor', async () => {
    const alice = await authed('alice');
    const bob = await authed('bob');
    for (let i = 0; i < 5; i++) {
      await alice.request(limit('sell', '15000.00', '0.0010'), next());
      expect(await bob.request(limit('buy', '15000.00', '0.0010'), next())).toMatchObject({
        status: 'filled',
      });
    }
    alice.close();
    bob.close();
    const all = await eventually(
      async () => {
        const answer = await running.request('GET', '/api/v1/markets/BTC-USDC/trades?limit=1000');
        const body = answer.body as Record<string, unknown>[];
        return body.length >= 6 && body;
      },
      { what: 'the trades to be projected' },
    );
    const listed = await pages('/api/v1/markets/BTC-USDC/trades?limit=4');
    expect(listed.slice(0, -1).every((page) => page.length === 4)).toBe(true);
    expect(listed.flat()).toEqual(all);
    const seqs = listed.flat().map((t) => Number(t.seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
  });

  it('finding 4: a cursor the list did not give answers 400 bad_request', async () => {
    const token = await running.token('carol', ['trader']);
    const forged = Buffer.from(JSON.stringify({ seq: -1 })).toString('base64url');
    for (const path of [
      '/api/v1/markets/BTC-USDC/trades?cursor=not*base64',
      `/api/v1/markets/BTC-USDC/trades?cursor=${forged}`,
      `/api/v1/orders?cursor=${Buffer.from('{"open":[1,2]}').toString('base64url')}`,
      `/api/v1/orders?cursor=${'A'.repeat(2000)}`,
    ]) {
      const answer = await running.request('GET', path, { token });
      expect(answer, path).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    }
  });
});
