import type { Logger } from 'pino';
import type uWS from 'uWebSockets.js';
import { z } from 'zod/v4';
import type { Catalog, ListedMarket } from '../actors/catalog.ts';
import type { Ledger } from '../actors/ledger/index.ts';
import type { Supervisor } from '../actors/supervisor.ts';
import type { BalanceMessage, BookMessage, OrderMessage } from '../protocol/messages.ts';
import type { Admin } from '../services/admin.ts';
import { OrdersCursor, TradesCursor, type History } from '../services/history.ts';
import type { Authenticator, Principal } from './auth.ts';
import { failure, type Outcome } from '../protocol/errors.ts';
import { observe, metricsContentType, renderMetrics } from './http/metrics.ts';
import { decodeCursor, pageHeaders } from './http/cursor.ts';
import {
  createRouter,
  errorReply,
  json,
  outcomeReply,
  type HttpReply,
  type RegisteredRoute,
} from './http/router.ts';
import { registerIssuanceRoutes } from './http/issuance.ts';
import { openApiDocument, registerApiDocs } from './http/openapi.ts';
import { marketView, orderView, tradeView, withoutOp } from './http/views.ts';
import { bookSnapshotEncodings } from './limitMetrics.ts';
import type { Authorize, Issuance } from '../services/issuance.ts';
import type { Accepted, Canceled, OrderEntry } from '../services/orderEntry.ts';
import { AssetBody, CreditBody, describeIssues, MarketBody, PlaceRequest } from '../protocol/schemas.ts';

/*
 * The JSON half of the gateway (PROTOCOL.md, HTTP), on the same uWS app as /ws: health and
 * metrics, admin operations, market reads, and order entry with the same rules and codes as the
 * WebSocket (both go through OrderEntry). In-memory state answers what is live (books, open
 * orders, balances); the relational projections answer history (trades, closed orders).
 */

/** The in-memory reads of the market-data publisher (src/marketdata/publisher.ts), as of the last committed batch. */
export interface HttpMarketData {
  bookSnapshot(symbol: string, depth: number): BookMessage | undefined;
  /** `market` (id or symbol) narrows to one market. */
  openOrders(userId: string, market?: string): readonly OrderMessage[];
  balances(userId: string): readonly BalanceMessage[];
}

export interface HttpOptions {
  readonly auth: Authenticator;
  readonly orders: OrderEntry;
  readonly admin: Admin;
  readonly catalog: Catalog;
  readonly supervisor: Supervisor;
  readonly ledger: Ledger;
  readonly marketData: HttpMarketData;
  /** Trades and orders, live and past (src/services/history.ts); /health asks it about Postgres. */
  readonly history: History;
  /** Largest request body; a larger one is answered 413. */
  readonly maxBodyBytes: number;
  /** Requests served at once, in all and per address (default: no bound); a body's deadline (default 10 s). */
  readonly maxPendingRequests?: number;
  readonly maxPendingPerIp?: number;
  readonly bodyTimeoutMs?: number;
  readonly log: Logger;
  /** Open WebSocket connections (the gateway's `connections`), for the metrics gauge. */
  readonly connections?: () => number;
  /** Candle reads (src/marketdata/marketData.ts). */
  readonly candles?: {
    candles(
      market: string,
      interval: '1m' | '5m' | '1h',
      from?: number,
      to?: number,
      limit?: number,
      now?: number,
    ): object[] | undefined;
  };
  /** RWA issuance routes (registration, approval, lifecycle actions, details and events). */
  readonly issuance?: {
    readonly issuance: Issuance;
    readonly authorize: Authorize;
    /** The latest RWA valuation of a market (issue 19), shown on its details. */
    readonly valuation?: (marketId: string) => Promise<object | undefined>;
  };
  /** More routes (webhooks), registered before the catch-all. */
  readonly extraRoutes?: readonly ((route: Route) => void)[];
  /** Health of Redis and the chain, when the exchange has them. */
  readonly health?: () => Promise<{ redis: string; chain: string }>;
  /**
   * The on-chain settlement of trades (PROTOCOL v1.1 Chain), per trade id; undefined for a market
   * whose assets have no tokens (its trades carry no `settlement`).
   */
  readonly tradeSettlement?: (
    marketId: string,
    tradeIds: readonly string[],
  ) => Promise<
    | ReadonlyMap<
        string,
        { readonly settlement: 'pending' | 'settled' | 'failed'; readonly settlementTx?: string }
      >
    | undefined
  >;
}

export type Route = ReturnType<typeof createRouter>;

const BASE = '/api/v1';
const BOOK_DEPTH_DEFAULT = 50;
const LIST_LIMIT_DEFAULT = 100;
const LIST_LIMIT_MAX = 1_000;

/** Registers the routes; answers them as registered (the published document describes each). */
export function registerHttp(app: uWS.TemplatedApp, options: HttpOptions): readonly RegisteredRoute[] {
  const { catalog, supervisor, marketData, orders, admin, log, history } = options;
  const route = createRouter(app, {
    auth: options.auth,
    maxBodyBytes: options.maxBodyBytes,
    maxPendingRequests: options.maxPendingRequests ?? Number.POSITIVE_INFINITY,
    maxPendingPerIp: options.maxPendingPerIp ?? Number.POSITIVE_INFINITY,
    bodyTimeoutMs: options.bodyTimeoutMs ?? 10_000,
    log,
  });
  if (options.connections !== undefined) observe({ connections: options.connections });

  const status = (market: ListedMarket) => supervisor.actor(market.definition.symbol)?.state ?? 'draft';
  const findMarket = (idOrSymbol: string): Outcome<ListedMarket> => {
    const market = catalog.market(idOrSymbol);
    return market === undefined
      ? failure('unknown_market', `no market ${idOrSymbol}`)
      : { ok: true, value: market };
  };

  // --- Operations ---------------------------------------------------------------------------

  route('get', '/health', {}, async () => {
    const [{ postgres, ...projections }, others] = await Promise.all([
      history.health(),
      options.health?.() ?? Promise.resolve({ redis: 'not_configured', chain: 'not_configured' }),
    ]);
    const up = postgres === 'ok';
    return json(up ? 200 : 503, { status: up ? 'ok' : 'unavailable', postgres, ...others, ...projections });
  });

  route('get', '/metrics', {}, async () => ({
    status: 200,
    text: await renderMetrics(),
    contentType: metricsContentType,
  }));

  route('get', `${BASE}/webhooks/health`, {}, () => json(200, { status: 'ok' }));

  // --- Admin --------------------------------------------------------------------------------

  route('post', `${BASE}/assets`, { role: 'admin', body: true }, async ({ body }) => {
    const parsed = parse(AssetBody, body);
    if (!parsed.ok) return errorReply(parsed.code, parsed.message);
    return outcomeReply(await admin.createAsset(parsed.value), 201);
  });

  route('post', `${BASE}/markets`, { role: 'admin', body: true }, async ({ body, principal }) => {
    const parsed = parse(MarketBody, body);
    if (!parsed.ok) return errorReply(parsed.code, parsed.message);
    const listed = await admin.listMarket(parsed.value, { id: principal!.userId, type: 'admin' });
    if (!listed.ok) return errorReply(listed.code, listed.message);
    return json(201, marketView(listed.value, status(listed.value)));
  });

  route('post', `${BASE}/admin/credit`, { role: 'admin', body: true }, async ({ body }) => {
    const parsed = parse(CreditBody, body);
    if (!parsed.ok) return errorReply(parsed.code, parsed.message);
    const { userId, asset, amount } = parsed.value;
    return outcomeReply(await admin.credit(userId, asset, amount));
  });

  // --- Market reads -------------------------------------------------------------------------

  const record = (m: ListedMarket) => options.issuance?.issuance.record(m.definition.id);
  route('get', `${BASE}/markets`, {}, () =>
    json(
      200,
      catalog.listMarkets().map((m) => marketView(m, status(m), record(m))),
    ),
  );

  route('get', `${BASE}/markets/:id`, {}, ({ params }) => {
    const market = findMarket(params[0]!);
    if (!market.ok) return errorReply(market.code, market.message);
    return json(200, marketView(market.value, status(market.value), record(market.value)));
  });

  route('get', `${BASE}/markets/:id/book`, {}, ({ params, query }) => {
    const market = findMarket(params[0]!);
    if (!market.ok) return errorReply(market.code, market.message);
    const depth = intParam(query, 'depth', BOOK_DEPTH_DEFAULT, 0, Number.MAX_SAFE_INTEGER);
    if (!depth.ok) return errorReply(depth.code, depth.message);
    return bookReply(market.value.definition.symbol, depth.value);
  });

  route('get', `${BASE}/markets/:id/trades`, {}, async ({ params, query }) => {
    const market = findMarket(params[0]!);
    if (!market.ok) return errorReply(market.code, market.message);
    const limit = intParam(query, 'limit', LIST_LIMIT_DEFAULT, 1, LIST_LIMIT_MAX);
    if (!limit.ok) return errorReply(limit.code, limit.message);
    const cursor = decodeCursor(TradesCursor, query.get('cursor'));
    if (!cursor.ok) return errorReply(cursor.code, cursor.message);
    const read = await history.trades(market.value, limit.value, cursor.value);
    if (!read.ok) return errorReply(read.code, read.message);
    const settled = await options.tradeSettlement?.(
      market.value.definition.id,
      read.value.trades.map((t) => t.id),
    );
    return {
      ...json(
        200,
        read.value.trades.map((t) => tradeView(market.value, t, settled?.get(t.id))),
      ),
      headers: pageHeaders(read.value.next),
    };
  });

  // Candles of committed trades, open time aligned to the interval, no gaps (empty minutes repeat
  // the previous close with v 0).
  route('get', `${BASE}/markets/:id/candles`, {}, ({ params, query }) => {
    const market = findMarket(params[0]!);
    if (!market.ok) return errorReply(market.code, market.message);
    const interval = query.get('interval') ?? '1m';
    if (interval !== '1m' && interval !== '5m' && interval !== '1h') {
      return errorReply('bad_request', 'interval must be 1m, 5m or 1h');
    }
    const from = intParam(query, 'from', 0, 0, Number.MAX_SAFE_INTEGER);
    const to = intParam(query, 'to', Number.MAX_SAFE_INTEGER, 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(query, 'limit', 500, 1, LIST_LIMIT_MAX);
    if (!from.ok) return errorReply(from.code, from.message);
    if (!to.ok) return errorReply(to.code, to.message);
    if (!limit.ok) return errorReply(limit.code, limit.message);
    const read = options.candles?.candles(
      market.value.definition.symbol,
      interval,
      query.get('from') === null ? undefined : from.value,
      query.get('to') === null ? undefined : to.value,
      limit.value,
      Date.now(),
    );
    return json(200, read ?? []);
  });

  /*
   * The body of each book snapshot, serialized once: the publisher answers the same object for a
   * market, depth and seq until the book changes (200 concurrent reads of a 4,000-level book
   * stalled the loop 552 ms when each one formatted and serialized it, issue 12 §3).
   */
  const bookBodies = new WeakMap<object, string>();
  function bookReply(symbol: string, depth: number): HttpReply {
    const snapshot = marketData.bookSnapshot(symbol, depth);
    if (snapshot === undefined) return errorReply('unknown_market', `no book for ${symbol}`);
    let body = bookBodies.get(snapshot);
    if (body === undefined) {
      const { market, seq, bids, asks, checksum } = snapshot;
      body = JSON.stringify({ market, seq, bids, asks, checksum });
      bookBodies.set(snapshot, body);
      bookSnapshotEncodings.inc({ format: 'json' });
    }
    return { status: 200, text: body, contentType: 'application/json' };
  }

  // --- Order entry --------------------------------------------------------------------------

  route('post', `${BASE}/orders`, { role: 'trader', body: true }, async ({ body, principal }) => {
    const parsed = parse(PlaceRequest, body);
    if (!parsed.ok) return errorReply(parsed.code, parsed.message);
    const placed = await new Promise<Outcome<Accepted>>((resolve) => {
      orders.place(principal!, parsed.value, resolve);
    });
    return outcomeReply(placed, 201);
  });

  route('del', `${BASE}/orders/:orderId`, { role: 'trader' }, async ({ params, principal }) => {
    const orderId = params[0]!;
    const market = catalog.market(orderId.slice(0, Math.max(0, orderId.lastIndexOf(':'))));
    if (market === undefined) return errorReply('not_found', `no order ${orderId}`);
    const canceled = await new Promise<Outcome<Canceled>>((resolve) => {
      orders.cancel(principal!, { market: market.definition.symbol, orderId }, resolve);
    });
    return outcomeReply(canceled);
  });

  // Not in PROTOCOL.md's table (the server may add routes): cancel_all over HTTP.
  route('del', `${BASE}/orders`, { role: 'trader' }, async ({ query, principal }) => {
    const symbol = query.get('market') ?? undefined;
    return outcomeReply(await orders.cancelAll(principal!, symbol));
  });

  route('get', `${BASE}/orders`, { role: 'trader' }, async ({ query, principal }) => {
    const listed = await listOrders(principal!, query);
    if (!listed.ok) return errorReply(listed.code, listed.message);
    return { ...json(200, listed.value.orders), headers: pageHeaders(listed.value.next) };
  });

  route('get', `${BASE}/balances`, { role: 'trader' }, ({ principal }) =>
    json(200, marketData.balances(principal!.userId).map(withoutOp)),
  );

  async function listOrders(
    principal: Principal,
    query: URLSearchParams,
  ): Promise<Outcome<{ orders: object[]; next: OrdersCursor | undefined }>> {
    const marketName = query.get('market');
    let market: ListedMarket | undefined;
    if (marketName !== null) {
      const found = findMarket(marketName);
      if (!found.ok) return found;
      market = found.value;
    }
    const limit = intParam(query, 'limit', LIST_LIMIT_DEFAULT, 1, LIST_LIMIT_MAX);
    if (!limit.ok) return limit;
    const cursor = decodeCursor(OrdersCursor, query.get('cursor'));
    if (!cursor.ok) return cursor;
    const listed = await history.orders({
      userId: principal.userId,
      market,
      status: query.get('status') ?? undefined,
      limit: limit.value,
      cursor: cursor.value,
    });
    if (!listed.ok) return listed;
    const orders = listed.value.orders.map((item) =>
      'open' in item ? withoutOp(item.open) : orderView(item.market, item.closed),
    );
    return { ok: true, value: { orders, next: listed.value.next } };
  }

  if (options.issuance !== undefined)
    registerIssuanceRoutes(route, {
      ...options.issuance,
      catalog,
      supervisor,
      historyBehind: () => history.behind(),
    });
  for (const register of options.extraRoutes ?? []) register(route);
  registerApiDocs(route);

  // Last: every path and method nothing above matched.
  route('any', '/*', {}, ({ method, path }) => errorReply('not_found', `no route ${method} ${path}`));
  const { undocumented } = openApiDocument(route.registered());
  if (undocumented.length > 0) {
    log.warn(
      { routes: undocumented.map((r) => `${r.method} ${r.pattern}`) },
      'routes missing from the OpenAPI document',
    );
  }
  return route.registered();
}

function parse<S extends z.ZodType>(schema: S, body: unknown): Outcome<z.infer<S>> {
  const parsed = schema.safeParse(body);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : failure('bad_request', describeIssues(parsed.error));
}

function intParam(
  query: URLSearchParams,
  name: string,
  fallback: number,
  min: number,
  max: number,
): Outcome<number> {
  const text = query.get(name);
  if (text === null || text === '') return { ok: true, value: fallback };
  const value = /^[0-9]{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    return failure('bad_request', `${name} must be an integer from ${min} to ${max}`);
  }
  return { ok: true, value };
}
