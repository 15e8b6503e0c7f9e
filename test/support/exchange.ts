import { pino, type Logger } from 'pino';
import WebSocket from 'ws';
import { startExchange, type Exchange } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { ExchangeClient } from '../../src/client/index.ts';
import type { Role } from '../../src/transport/auth.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

/**
 * A whole exchange for over-the-wire tests: its own fresh database, the real composition root
 * (src/app.ts), the gateway on an OS-chosen port of 127.0.0.1. Helpers mint tokens, call the HTTP
 * API and open SDK clients over real sockets.
 */
export interface RunningExchange {
  readonly exchange: Exchange;
  readonly database: TestDatabase;
  readonly http: string;
  readonly ws: string;
  token(userId: string, roles: readonly Role[], expiresIn?: string | number): Promise<string>;
  /** A JSON request; answers status and parsed body. */
  request(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown },
    // JSON of many shapes: tests read it with toMatchObject.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
  ): Promise<{ status: number; body: any }>;
  /** An SDK client, connected (and authenticated when a token is given). */
  client(token?: string, options?: { cancelOnDisconnect?: boolean }): Promise<ExchangeClient>;
  /** Admin shortcuts: define an asset, list a market (active at once), credit a user. */
  asset(symbol: string, decimals: number, kind?: 'crypto' | 'stable' | 'rwa' | 'fiat'): Promise<void>;
  market(body: Record<string, unknown>): Promise<Record<string, unknown>>;
  credit(userId: string, asset: string, amount: string): Promise<void>;
  stop(): Promise<void>;
}

export interface RunExchangeOptions {
  /** The exchange's logger (default: pino at LOG_LEVEL, silent in tests). */
  readonly log?: Logger | undefined;
  /** Start on this database (a restart of an exchange on it) instead of a fresh one; stop() keeps it. */
  readonly database?: TestDatabase | undefined;
}

export async function runExchange(
  env: Record<string, string> = {},
  options: RunExchangeOptions = {},
): Promise<RunningExchange> {
  const database = options.database ?? (await createTestDatabase('wire'));
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: database.url,
    // Jobs (BullMQ) need Redis: npm test provides one; a direct vitest run uses the local server.
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/1',
    DEPLOY_BACKOFF_MS: '200',
    ...env,
  });
  const exchange = await startExchange(config, options.log ?? pino({ level: config.LOG_LEVEL }));
  const http = `http://127.0.0.1:${exchange.port}`;
  const ws = `ws://127.0.0.1:${exchange.port}/ws`;
  const clients: ExchangeClient[] = [];
  const adminToken = await exchange.auth.mint('test-admin', ['admin']);

  const request: RunningExchange['request'] = async (method, path, options = {}) => {
    const headers: Record<string, string> = {};
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${http}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON (metrics): the text itself.
    }
    return { status: response.status, body };
  };
  const expectOk = (what: string, r: { status: number; body: unknown }) => {
    if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as Record<string, unknown>;
  };

  return {
    exchange,
    database,
    http,
    ws,
    token: (userId, roles, expiresIn) => exchange.auth.mint(userId, roles, expiresIn),
    request,
    async client(token, options) {
      const client = new ExchangeClient({ url: ws, WebSocket, requestTimeoutMs: 15_000 });
      await client.connect();
      clients.push(client);
      if (token !== undefined) await client.auth(token, options);
      return client;
    },
    async asset(symbol, decimals, kind = 'crypto') {
      expectOk(
        `asset ${symbol}`,
        await request('POST', '/api/v1/assets', { token: adminToken, body: { symbol, decimals, kind } }),
      );
    },
    async market(body) {
      return expectOk(
        `market ${String(body.symbol)}`,
        await request('POST', '/api/v1/markets', { token: adminToken, body }),
      );
    },
    async credit(userId, asset, amount) {
      expectOk(
        `credit ${userId}`,
        await request('POST', '/api/v1/admin/credit', { token: adminToken, body: { userId, asset, amount } }),
      );
    },
    async stop() {
      for (const client of clients) client.close();
      await exchange.close();
      if (options.database === undefined) await database.drop();
    },
  };
}
