import WebSocket from 'ws';
import {
  ExchangeClient,
  type LifecycleMessage,
  type Role,
  type WebSocketConstructor,
} from '../../src/client/index.ts';
import { specOf, type MarketSpec } from './market.ts';

/*
 * The demo's set-up, over the HTTP API as a real operator, issuer and admin would do it: the assets
 * and a crypto pair listed directly, an RWA market registered by an issuer, approved by an admin and
 * deployed by the exchange's job (watched on the `lifecycle` channel until it is `active`), then the
 * bot users' compliance records and balances. Everything is idempotent: on a database of an earlier
 * demo it finds the markets and only tops up what is missing.
 */

export interface DemoApi {
  /** `http://HOST:PORT`. */
  readonly http: string;
  /** `ws://HOST:PORT/ws`. */
  readonly ws: string;
  /** A token for a user with these roles (the exchange's `auth.mint`, or a JWT signed with its secret). */
  readonly mint: (userId: string, roles: readonly Role[]) => Promise<string>;
  readonly WebSocket?: WebSocketConstructor;
  readonly log?: (line: string) => void;
}

export interface HttpAnswer {
  readonly status: number;
  // JSON of many shapes, read field by field.
  readonly body: Record<string, unknown> & {
    readonly error?: { readonly code?: string; readonly message?: string };
  };
}

export async function api(
  http: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${http}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = { text };
  }
  return { status: response.status, body: body as HttpAnswer['body'] };
}

function expectOk(what: string, answer: HttpAnswer, also: readonly number[] = []): HttpAnswer {
  if (answer.status >= 300 && !also.includes(answer.status)) {
    throw new Error(`${what}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  return answer;
}

export const DEMO_CRYPTO_MARKET = {
  symbol: 'BTC-USDC',
  baseAsset: 'BTC',
  quoteAsset: 'USDC',
  priceDecimals: 2,
  qtyDecimals: 4,
  tickSize: '0.01',
  lotSize: '0.0001',
  minQty: '0.0001',
  maxQty: '100',
  makerFeeBps: 10,
  takerFeeBps: 20,
} as const;

export const DEMO_ASSETS = [
  { symbol: 'USDC', decimals: 6, kind: 'stable' },
  { symbol: 'BTC', decimals: 8, kind: 'crypto' },
] as const;

/** The RWA market the demo registers (its symbol is `LUXAPT-USDC`). */
export function demoRegistration(tokenSymbol: string) {
  return {
    name: 'Rue du Demo 12, Luxembourg: 3-bedroom apartment (demo)',
    assetType: 'real_estate',
    tokenSymbol,
    tokenName: `${tokenSymbol} Luxembourg Apartment Token`,
    totalSupply: '20000',
    quoteAsset: 'USDC',
    priceDecimals: 2,
    qtyDecimals: 2,
    tickSize: '0.01',
    lotSize: '0.01',
    minQty: '0.01',
    makerFeeBps: 10,
    takerFeeBps: 20,
    assetDetails: {
      valuation: '2500000',
      currency: 'EUR',
      location: 'Luxembourg',
      attributes: { demo: true, bedrooms: 3, surfaceM2: 110 },
    },
  } as const;
}

export interface RwaMarket {
  readonly spec: MarketSpec;
  readonly id: string;
  /** The lifecycle transitions seen on the `lifecycle` channel during this set-up, `from>to`. */
  readonly transitions: readonly string[];
  /** Whether this set-up registered it (false: found from an earlier demo). */
  readonly registered: boolean;
}

export interface DemoMarkets {
  readonly crypto: MarketSpec;
  readonly rwa: RwaMarket;
}

export interface PrepareOptions extends DemoApi {
  /** Token symbol of the RWA market; default `LUXAPT`. */
  readonly rwaToken?: string;
  /** How long the token deployment may take; default 180 s (the first one starts anvil and compiles). */
  readonly activationTimeoutMs?: number;
}

/** Lists the crypto pair and takes the RWA market to `active` (or finds them so). */
export async function prepareMarkets(options: PrepareOptions): Promise<DemoMarkets> {
  const { http, log = () => undefined } = options;
  const admin = await options.mint('demo-admin', ['admin']);

  for (const asset of DEMO_ASSETS) {
    // 409 conflict: it exists (an earlier demo, or `npm start`'s seed).
    expectOk(
      `asset ${asset.symbol}`,
      await api(http, 'POST', '/api/v1/assets', { token: admin, body: asset }),
      [409],
    );
  }

  let crypto = await api(http, 'GET', `/api/v1/markets/${DEMO_CRYPTO_MARKET.symbol}`);
  if (crypto.status === 404) {
    crypto = expectOk(
      `listing ${DEMO_CRYPTO_MARKET.symbol}`,
      await api(http, 'POST', '/api/v1/markets', { token: admin, body: DEMO_CRYPTO_MARKET }),
    );
    log(`listed ${DEMO_CRYPTO_MARKET.symbol}`);
  }
  expectOk(`market ${DEMO_CRYPTO_MARKET.symbol}`, crypto);
  if (crypto.body.status === 'paused') {
    expectOk(
      'resume',
      await api(http, 'POST', `/api/v1/markets/${String(crypto.body.id)}/resume`, { token: admin }),
    );
  } else if (crypto.body.status !== 'active') {
    throw new Error(`${DEMO_CRYPTO_MARKET.symbol} is ${String(crypto.body.status)}: it cannot be traded`);
  }

  const rwa = await prepareRwaMarket(options, admin);
  return { crypto: specOf(crypto.body), rwa };
}

async function prepareRwaMarket(options: PrepareOptions, admin: string): Promise<RwaMarket> {
  const { http, log = () => undefined } = options;
  const token = options.rwaToken ?? 'LUXAPT';
  const symbol = `${token}-USDC`;
  const timeoutMs = options.activationTimeoutMs ?? 180_000;

  let market = await api(http, 'GET', `/api/v1/markets/${symbol}`);
  let registered = false;
  if (market.status === 404) {
    const issuer = await options.mint('demo-issuer', ['issuer']);
    market = expectOk(
      `registering ${symbol}`,
      await api(http, 'POST', '/api/v1/markets/register', { token: issuer, body: demoRegistration(token) }),
    );
    registered = true;
    log(`${symbol}: registered by demo-issuer (${String(market.body.status)})`);
  }
  expectOk(`market ${symbol}`, market);
  const id = String(market.body.id);
  const status = String(market.body.status);
  if (status === 'active') {
    return { spec: specOf(market.body), id, transitions: [], registered };
  }

  // Watch the lifecycle as the dashboard does.
  const watcher = new ExchangeClient({ url: options.ws, WebSocket: options.WebSocket ?? WebSocket });
  await watcher.connect();
  const transitions: string[] = [];
  let wake: () => void = () => undefined;
  let current = status;
  await watcher.subscribe('lifecycle', { market: symbol }, (message: LifecycleMessage) => {
    current = message.to;
    if (message.from !== null) {
      transitions.push(`${message.from}>${message.to}`);
      log(`${symbol}: ${message.from} → ${message.to} (${message.event})`);
    }
    wake();
  });
  try {
    if (current === 'pending_approval') {
      log(`${symbol}: demo-admin approves it; a job deploys its token on the chain`);
      expectOk(
        `approving ${symbol}`,
        await api(http, 'POST', `/api/v1/markets/${id}/approve`, {
          token: admin,
          body: { decision: 'approved', reason: 'demo: documents reviewed' },
        }),
      );
    } else if (current === 'approved') {
      expectOk(
        `activating ${symbol}`,
        await api(http, 'POST', `/api/v1/markets/${id}/activate`, { token: admin }),
      );
    } else if (current === 'paused') {
      expectOk('resume', await api(http, 'POST', `/api/v1/markets/${id}/resume`, { token: admin }));
    } else if (current !== 'activating' && current !== 'active') {
      throw new Error(
        `${symbol} is ${current}: it cannot be traded (drop the demo database, or set DEMO_RWA_TOKEN to another symbol)`,
      );
    }
    const deadline = Date.now() + timeoutMs;
    while (current !== 'active') {
      if (Date.now() > deadline)
        throw new Error(`${symbol} did not become active in ${timeoutMs} ms (${current})`);
      // A deployment that gave up falls back from activating to approved.
      if (transitions.at(-1) === 'activating>approved') {
        const now = await api(http, 'GET', `/api/v1/markets/${id}`);
        throw new Error(
          `${symbol}: token deployment failed: ${JSON.stringify(now.body.deployError ?? 'unknown error')}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      // Also read it over HTTP, in case a push was missed.
      if (current !== 'active') {
        const now = await api(http, 'GET', `/api/v1/markets/${id}`);
        if (now.body.status === 'active') current = 'active';
      }
    }
  } finally {
    watcher.close();
  }
  market = expectOk(`market ${symbol}`, await api(http, 'GET', `/api/v1/markets/${id}`));
  log(`${symbol}: active, token contract ${String(market.body.contractAddress)}`);
  return { spec: specOf(market.body), id, transitions, registered };
}

export interface DemoUser {
  readonly userId: string;
  /** Balance each asset is topped up to when it has less than half of it. */
  readonly balances: Readonly<Record<string, string>>;
  /** RWA assets the user gets an approved, allowlisted compliance record for. */
  readonly compliance: readonly string[];
}

/** Compliance records and credits (admin API) for the bot users; returns their trader tokens. */
export async function prepareUsers(demo: DemoApi, users: readonly DemoUser[]): Promise<Map<string, string>> {
  const { http } = demo;
  const admin = await demo.mint('demo-admin', ['admin']);
  const tokens = new Map<string, string>();
  for (const user of users) {
    const token = await demo.mint(user.userId, ['trader']);
    tokens.set(user.userId, token);
    for (const asset of user.compliance) {
      expectOk(
        `compliance of ${user.userId}`,
        await api(http, 'POST', '/api/v1/admin/compliance', {
          token: admin,
          body: { userId: user.userId, asset, kycStatus: 'approved', allowlisted: true, accredited: false },
        }),
      );
    }
    const held = expectOk(
      `balances of ${user.userId}`,
      await api(http, 'GET', '/api/v1/balances', { token }),
    );
    const rows = held.body as unknown as readonly { asset: string; available: string; locked: string }[];
    for (const [asset, target] of Object.entries(user.balances)) {
      const row = rows.find((r) => r.asset === asset);
      const have = row === undefined ? 0 : Number(row.available) + Number(row.locked);
      if (have >= Number(target) / 2) continue;
      expectOk(
        `credit of ${user.userId}`,
        await api(http, 'POST', '/api/v1/admin/credit', {
          token: admin,
          body: { userId: user.userId, asset, amount: target },
        }),
      );
    }
  }
  return tokens;
}

/** The last traded price of a market, or undefined when it never traded. */
export async function lastPrice(http: string, symbol: string): Promise<number | undefined> {
  const trades = await api(http, 'GET', `/api/v1/markets/${symbol}/trades?limit=1`);
  if (trades.status !== 200 || !Array.isArray(trades.body)) return undefined;
  const [latest] = trades.body as unknown as readonly { price?: unknown }[];
  return typeof latest?.price === 'string' ? Number(latest.price) : undefined;
}
