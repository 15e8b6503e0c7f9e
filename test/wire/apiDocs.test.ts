import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATCH_ALL } from '../../src/transport/http/router.ts';
import { openApiPath, operationKey } from '../../src/transport/http/openapi.ts';
import { OPERATIONS } from '../../src/transport/http/operations.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { ETH_USDC, listMarkets, RawSocket } from './fixtures.ts';

/*
 * Issue 13: the published API is described by the code. Over real HTTP and WebSocket: every
 * registered route has its operation in /api/v1/openapi.json (and every operation a route), the
 * document is valid OpenAPI 3.1 whose refs resolve, real answers match the documented schemas,
 * /docs is a self-contained page, and the AsyncAPI document covers the ops the gateway answers.
 */

type Json = Record<string, unknown>;
const METHOD = { get: 'get', post: 'post', put: 'put', del: 'delete' } as const;

let running: RunningExchange;
let openapi: Json;
let asyncapi: Json;

beforeAll(async () => {
  running = await runExchange();
  await listMarkets(running);
  openapi = (await running.request('GET', '/api/v1/openapi.json')).body as Json;
  asyncapi = (await running.request('GET', '/api/v1/asyncapi.json')).body as Json;
}, 60_000);

afterAll(async () => {
  await running.stop();
});

/** The value a local `$ref` ("#/a/b") points at, or undefined. */
function pointer(document: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let at: unknown = document;
  for (const part of ref.slice(2).split('/')) {
    at =
      typeof at === 'object' && at !== null
        ? (at as Json)[part.replace(/~1/g, '/').replace(/~0/g, '~')]
        : undefined;
  }
  return at;
}

/** Every `$ref` in the document. */
function refs(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refs(item, found);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key === '$ref' && typeof item === 'string') found.push(item);
      else refs(item, found);
    }
  }
  return found;
}

/** The schema with its refs replaced by what they point at (the documents' schemas are not recursive). */
function inline(document: Json, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => inline(document, item));
  if (typeof value !== 'object' || value === null) return value;
  const { $ref: target, ...rest } = value as Json;
  if (typeof target === 'string') return inline(document, pointer(document, target));
  return Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, inline(document, v)]));
}

const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
function expectMatches(schema: unknown, value: unknown, what: string): void {
  const validate = ajv.compile(schema as object);
  if (!validate(value)) {
    throw new Error(
      `${what} does not match its schema: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(value).slice(0, 400)}`,
    );
  }
}

/** Calls the route and checks the answer against the schema the document gives for its status. */
async function documented(
  method: 'get' | 'post' | 'del',
  template: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: unknown }> {
  const answer = await running.request(METHOD[method].toUpperCase(), path, options);
  const operation = (openapi.paths as Record<string, Record<string, Json>>)[template]?.[METHOD[method]];
  expect(operation, `${method} ${template}`).toBeDefined();
  const response = (operation!.responses as Record<string, Json>)[String(answer.status)];
  expect(
    response,
    `${method} ${path} answered an undocumented ${answer.status}: ${JSON.stringify(answer.body)}`,
  ).toBeDefined();
  const media = (response!.content as Record<string, { schema: unknown }> | undefined)?.['application/json'];
  if (media !== undefined)
    expectMatches(inline(openapi, media.schema), answer.body, `${method} ${path} ${answer.status}`);
  return answer;
}

describe('issue 13: the published API', () => {
  it('issue 13: every registered HTTP route has its operation (role, body, answers) in /api/v1/openapi.json, and every operation a route', () => {
    const paths = openapi.paths as Record<string, Record<string, Json>>;
    const routes = running.exchange.httpRoutes.filter((r) => r.pattern !== CATCH_ALL);
    expect(routes.length).toBeGreaterThan(25);
    const missing: string[] = [];
    for (const route of routes) {
      expect(route.method).not.toBe('any');
      const operation = paths[openApiPath(route.pattern)]?.[METHOD[route.method as keyof typeof METHOD]];
      if (operation === undefined) {
        missing.push(operationKey(route));
        continue;
      }
      // What the router enforces is what the document says.
      if (route.role === undefined) expect(operation['x-role'], operationKey(route)).toBeUndefined();
      else {
        expect(operation['x-role'], operationKey(route)).toBe(route.role);
        expect(operation.security).toEqual([{ bearer: [] }]);
        expect(Object.keys(operation.responses as Json)).toEqual(expect.arrayContaining(['401', '403']));
      }
      if (route.body !== false) {
        const body = operation.requestBody as { content: Record<string, { schema: unknown }> } | undefined;
        expect(body?.content['application/json']?.schema, `${operationKey(route)} body`).toBeDefined();
      }
      const statuses = Object.keys(operation.responses as Json);
      expect(
        statuses.some((s) => s.startsWith('2')),
        `${operationKey(route)} success`,
      ).toBe(true);
      const params = [...route.pattern.matchAll(/:([A-Za-z]+)/g)].map(([, name]) => name);
      const declared = ((operation.parameters ?? []) as { name: string; in: string }[])
        .filter((p) => p.in === 'path')
        .map((p) => p.name);
      expect(declared, operationKey(route)).toEqual(params);
    }
    expect(missing, 'routes without an operation').toEqual([]);

    const operations = Object.entries(paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m} ${path}`),
    );
    const registered = new Set(
      routes.map((r) => `${METHOD[r.method as keyof typeof METHOD]} ${openApiPath(r.pattern)}`),
    );
    expect(
      operations.filter((o) => !registered.has(o)),
      'operations without a route',
    ).toEqual([]);
    expect(operations).toHaveLength(routes.length);
    // The descriptions describe nothing that is not registered.
    const keys = new Set(routes.map(operationKey));
    expect(
      Object.keys(OPERATIONS).filter((k) => !keys.has(k)),
      'stale descriptions',
    ).toEqual([]);
  });

  it('issue 13: the OpenAPI document is valid OpenAPI 3.1, every $ref resolves and every operation has answers', async () => {
    expect(openapi.openapi).toBe('3.1.0');
    const info = openapi.info as { title?: unknown; version?: unknown };
    expect(typeof info.title).toBe('string');
    expect(typeof info.version).toBe('string');
    const result = await new Validator().validate(openapi);
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    expect(result.valid).toBe(true);
    const unresolved = refs(openapi).filter((ref) => pointer(openapi, ref) === undefined);
    expect(unresolved).toEqual([]);
    for (const [path, methods] of Object.entries(openapi.paths as Record<string, Record<string, Json>>)) {
      for (const [method, operation] of Object.entries(methods)) {
        expect(Object.keys(operation.responses as Json).length, `${method} ${path}`).toBeGreaterThan(0);
      }
    }
    // Paged lists name their next page.
    const trades = (openapi.paths as Record<string, Record<string, Json>>)['/api/v1/markets/{id}/trades']!
      .get!;
    expect(
      ((trades.responses as Record<string, Json>)['200']!.headers as Json)['X-Next-Cursor'],
    ).toBeDefined();
  });

  it('issue 13: real answers of the routes match the schemas the document gives for their status', async () => {
    const trader = await running.token('docs-trader', ['trader']);
    const other = await running.token('docs-other', ['trader']);
    const admin = await running.token('docs-admin', ['admin']);
    await documented('post', '/api/v1/admin/credit', '/api/v1/admin/credit', {
      token: admin,
      body: { userId: 'docs-trader', asset: 'USDC', amount: '1000' },
    });
    await running.credit('docs-other', 'BTC', '1');
    const sell = { market: 'BTC-USDC', side: 'sell', type: 'limit', qty: '0.01', price: '100.00' };
    await documented('post', '/api/v1/orders', '/api/v1/orders', { token: other, body: sell });
    const buy = {
      market: 'BTC-USDC',
      side: 'buy',
      type: 'limit',
      qty: '0.02',
      price: '100.00',
      clientOrderId: 'docs-1',
    };
    const placed = await documented('post', '/api/v1/orders', '/api/v1/orders', { token: trader, body: buy });
    expect(placed.status).toBe(201);
    const rest = await documented('post', '/api/v1/orders', '/api/v1/orders', {
      token: trader,
      body: { ...buy, clientOrderId: 'docs-2', price: '90.00' },
    });
    expect(rest.status).toBe(201);

    for (const [template, path] of [
      ['/health', '/health'],
      ['/api/v1/markets', '/api/v1/markets'],
      ['/api/v1/markets/{id}', '/api/v1/markets/BTC-USDC'],
      ['/api/v1/markets/{id}/details', '/api/v1/markets/BTC-USDC/details'],
      ['/api/v1/markets/{id}/events', '/api/v1/markets/BTC-USDC/events'],
      ['/api/v1/markets/{id}/book', '/api/v1/markets/BTC-USDC/book?depth=10'],
      ['/api/v1/markets/{id}/trades', '/api/v1/markets/BTC-USDC/trades?limit=1'],
      ['/api/v1/markets/{id}/candles', '/api/v1/markets/BTC-USDC/candles?interval=1m'],
      ['/api/v1/webhooks/health', '/api/v1/webhooks/health'],
    ] as const) {
      expect((await documented('get', template, path)).status, path).toBe(200);
    }
    const trades = await documented('get', '/api/v1/markets/{id}/trades', '/api/v1/markets/BTC-USDC/trades');
    expect(trades.body).toHaveLength(1);
    const orders = await documented('get', '/api/v1/orders', '/api/v1/orders?limit=1', { token: trader });
    expect(orders.body).toHaveLength(1);
    await documented('get', '/api/v1/balances', '/api/v1/balances', { token: trader });
    const id = (rest.body as { orderId: string }).orderId;
    const canceled = await documented(
      'del',
      '/api/v1/orders/{orderId}',
      `/api/v1/orders/${encodeURIComponent(id)}`,
      {
        token: trader,
      },
    );
    expect(canceled.status).toBe(200);
    await documented('del', '/api/v1/orders', '/api/v1/orders?market=BTC-USDC', { token: trader });
    // Errors too: unknown market, missing token, wrong role, bad body.
    expect((await documented('get', '/api/v1/markets/{id}', '/api/v1/markets/NOPE-USDC')).status).toBe(404);
    expect((await documented('get', '/api/v1/balances', '/api/v1/balances')).status).toBe(401);
    expect((await documented('get', '/api/v1/balances', '/api/v1/balances', { token: admin })).status).toBe(
      403,
    );
    const bad = await documented('post', '/api/v1/orders', '/api/v1/orders', {
      token: trader,
      body: { market: 'BTC-USDC' },
    });
    expect(bad.status).toBe(400);
  });

  it('issue 13: /docs is one self-contained HTML page listing every operation and WebSocket op (works offline)', async () => {
    const response = await fetch(`${running.http}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    const page = await response.text();
    expect(page).not.toMatch(/<script|<link|<img|<iframe|@import|src=/i);
    // Links stay on this server.
    expect(
      [...page.matchAll(/href="([^"]*)"/g)].map(([, href]) => href).filter((h) => !/^[#/]/.test(h!)),
    ).toEqual([]);
    for (const [path, methods] of Object.entries(openapi.paths as Record<string, Json>)) {
      for (const method of Object.keys(methods))
        expect(page, `${method} ${path}`).toContain(`${method.toUpperCase()}</span>${path}`);
    }
    for (const op of ['auth', 'ping', 'sub', 'unsub', 'place', 'amend', 'cancel', 'cancel_all']) {
      expect(page).toContain(`request ${op}<`);
    }
    const head = await fetch(`${running.http}/docs`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBe(Buffer.byteLength(page));
  });

  it('issue 13: the AsyncAPI document describes each WebSocket op and push, and real frames match it', async () => {
    expect(asyncapi.asyncapi).toBe('3.0.0');
    expect(refs(asyncapi).filter((ref) => pointer(asyncapi, ref) === undefined)).toEqual([]);
    const messages = (
      asyncapi.channels as { ws: { address: string; messages: Record<string, { payload: unknown }> } }
    ).ws;
    expect(messages.address).toBe('/ws');
    const operations = asyncapi.operations as Record<
      string,
      { action: string; messages: { $ref: string }[] }
    >;
    const received = Object.entries(operations)
      .filter(([, o]) => o.action === 'receive')
      .map(([name]) => name);
    expect(received.sort()).toEqual([
      'amend',
      'auth',
      'cancel',
      'cancel_all',
      'ping',
      'place',
      'place_oco',
      'sub',
      'unsub',
    ]);
    for (const push of [
      'book',
      'trade',
      'lifecycle',
      'candle',
      'ticker',
      'order',
      'fill',
      'balance',
      'error',
    ]) {
      expect(operations[`push_${push}`]?.action, push).toBe('send');
    }

    // Each documented op is answered by the gateway with a documented reply, and every frame
    // (replies and pushes) matches its message's payload schema.
    const token = await running.token('docs-ws', ['trader']);
    await running.credit('docs-ws', 'USDC', '100');
    const socket = await RawSocket.open(running.ws);
    let rid = 0;
    const ask = async (message: Json, reply: string) => {
      const answer = await socket.request(message, ++rid);
      expect(answer.op, JSON.stringify(answer)).toBe(reply);
      expectMatches(inline(asyncapi, messages.messages[reply]?.payload), answer, `reply ${reply}`);
      return answer;
    };
    const checked = new Set<string>();
    /** Waits for a push and checks it against its message's schema. */
    const take = async (match: (m: Json) => boolean) => {
      const push = await socket.next(match);
      const op = String(push.op);
      expectMatches(inline(asyncapi, messages.messages[op]?.payload), push, `push ${op}`);
      checked.add(op);
    };
    await ask({ op: 'ping' }, 'pong');
    await ask({ op: 'auth', token }, 'authed');
    await ask({ op: 'sub', ch: 'book', market: ETH_USDC.symbol, depth: 10 }, 'subbed');
    for (const ch of ['trades', 'lifecycle', 'ticker', 'candles'])
      await ask({ op: 'sub', ch, market: ETH_USDC.symbol }, 'subbed');
    for (const ch of ['orders', 'fills', 'balances']) await ask({ op: 'sub', ch }, 'subbed');
    const placed = await ask(
      { op: 'place', market: ETH_USDC.symbol, side: 'buy', type: 'limit', qty: '0.01', price: '50.00' },
      'accepted',
    );
    await ask({ op: 'amend', market: ETH_USDC.symbol, orderId: placed.orderId, price: '51.00' }, 'amended');
    await ask({ op: 'cancel', market: ETH_USDC.symbol, orderId: placed.orderId }, 'canceled');
    // Issue 14: an OCO, canceled (both legs) by the cancel_all below.
    await ask(
      {
        op: 'place_oco',
        market: ETH_USDC.symbol,
        side: 'buy',
        qty: '0.01',
        price: '50.00',
        stopPrice: '60.00',
        stopLimitPrice: '61.00',
      },
      'accepted_oco',
    );
    await ask({ op: 'cancel_all', market: ETH_USDC.symbol }, 'canceled_all');
    // A trade, for the trade and fill pushes.
    const seller = await running.token('docs-seller', ['trader']);
    await running.credit('docs-seller', 'ETH', '1');
    const resting = await running.request('POST', '/api/v1/orders', {
      token: seller,
      body: { market: ETH_USDC.symbol, side: 'sell', type: 'limit', qty: '0.01', price: '55.00' },
    });
    expect(resting.status).toBe(201);
    await ask(
      {
        op: 'place',
        market: ETH_USDC.symbol,
        side: 'buy',
        type: 'limit',
        qty: '0.01',
        price: '55.00',
        tif: 'IOC',
      },
      'accepted',
    );
    await take((m) => m.op === 'fill');
    await take((m) => m.op === 'trade');
    await ask({ op: 'unsub', ch: 'book', market: ETH_USDC.symbol }, 'unsubbed');
    const refused = await ask(
      { op: 'place', market: 'NOPE-USDC', side: 'buy', type: 'limit', qty: '1', price: '1' },
      'error',
    );
    expect(refused.code).toBe('unknown_market');
    await take((m) => m.op === 'order' && m.status === 'canceled');
    // An unsolicited error: a text frame.
    socket.sendRaw('not msgpack', false);
    await take((m) => m.op === 'error' && m.code === 'bad_frame');
    socket.close();

    const seen = new Set<string>();
    for (const frame of socket.received) {
      const op = String(frame.op);
      seen.add(op);
      const message = messages.messages[op];
      expect(message, `frame op ${op}`).toBeDefined();
      expectMatches(inline(asyncapi, message!.payload), frame, `frame ${op}`);
    }
    expect([...seen]).toEqual(expect.arrayContaining(['book', 'lifecycle', 'ticker', 'order', 'balance']));
    expect([...checked]).toEqual(expect.arrayContaining(['fill', 'trade', 'order', 'error']));
  });
});
