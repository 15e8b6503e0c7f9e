import WebSocket from 'ws';
import { ExchangeClient, type LocalBook } from '../../src/client/index.ts';
import { startMarketMaker, startTaker, type Bot, type BotStats, type MarketMaker } from './bots.ts';
import type { MarketSpec } from './market.ts';
import { randomWalk } from './random.ts';
import {
  lastPrice,
  prepareMarkets,
  prepareUsers,
  type DemoApi,
  type DemoMarkets,
  type DemoUser,
} from './setup.ts';

/*
 * The demo as a library: set-up (scripts/demo/setup.ts), then per market one market maker quoting a
 * ladder around a seeded random walk and a few takers trading against it, plus a watcher (a public
 * client on the book and trades channels) whose figures the CLI logs. Used by scripts/demo.ts
 * against its in-process exchange and by test/wire/demo.test.ts against a test exchange.
 */

export interface DemoOptions extends DemoApi {
  /** Seed of the price walks and the bots' choices. Default 1. */
  readonly seed?: number;
  readonly rwaToken?: string;
  /** Orders per side of each market maker. Default 8. */
  readonly levels?: number;
  /** Takers per market. Default 2. */
  readonly takersPerMarket?: number;
  /** Orders per second of each taker. Default 3. */
  readonly takerOrdersPerSecond?: number;
  /** Milliseconds between reference price steps. Default 500. */
  readonly stepMs?: number;
  /** Client-side order budget of each bot per second. Default 40. */
  readonly maxRequestsPerSecond?: number;
  readonly activationTimeoutMs?: number;
}

/** How each market is traded: prices in quote units, sizes in base units. */
interface MarketPlan {
  readonly spec: MarketSpec;
  readonly slug: string;
  readonly defaultPrice: number;
  readonly volatility: number;
  readonly halfSpreadBps: number;
  readonly stepBps: number;
  readonly makerQty: readonly [number, number];
  readonly takerQty: readonly [number, number];
  readonly makerBalances: Record<string, string>;
  readonly takerBalances: Record<string, string>;
  readonly compliance: readonly string[];
}

export interface MarketFigures {
  readonly symbol: string;
  /** Trades seen on the `trades` channel since the demo started. */
  readonly trades: number;
  readonly bidLevels: number;
  readonly askLevels: number;
  readonly last: string | undefined;
  readonly bookResyncs: number;
}

export interface Demo {
  readonly markets: DemoMarkets;
  readonly makers: readonly MarketMaker[];
  readonly takers: readonly Bot[];
  /** The bot users, by market symbol (maker first). */
  readonly users: ReadonlyMap<string, readonly string[]>;
  readonly tokens: ReadonlyMap<string, string>;
  figures(): MarketFigures[];
  botStats(): BotStats[];
  /** Stops the takers, then the makers (which cancel their orders), then the watcher. */
  stop(): Promise<void>;
}

export async function runDemo(options: DemoOptions): Promise<Demo> {
  const log = options.log ?? (() => undefined);
  const WebSocketClass = options.WebSocket ?? WebSocket;
  const seed = options.seed ?? 1;
  const markets = await prepareMarkets(options);
  const rwaBase = markets.rwa.spec.baseAsset;
  const plans: MarketPlan[] = [
    {
      spec: markets.crypto,
      slug: markets.crypto.baseAsset.toLowerCase(),
      defaultPrice: 64_000,
      volatility: 0.0006,
      halfSpreadBps: 3,
      stepBps: 4,
      makerQty: [0.02, 0.4],
      takerQty: [0.005, 0.3],
      makerBalances: { [markets.crypto.baseAsset]: '500', USDC: '100000000' },
      takerBalances: { [markets.crypto.baseAsset]: '200', USDC: '20000000' },
      compliance: [],
    },
    {
      spec: markets.rwa.spec,
      slug: rwaBase.toLowerCase(),
      defaultPrice: 125,
      volatility: 0.0009,
      halfSpreadBps: 10,
      stepBps: 12,
      makerQty: [2, 60],
      takerQty: [0.5, 40],
      makerBalances: { [rwaBase]: '10000', USDC: '5000000' },
      takerBalances: { [rwaBase]: '3000', USDC: '1000000' },
      compliance: [rwaBase],
    },
  ];

  const takersPerMarket = options.takersPerMarket ?? 2;
  const users = new Map<string, string[]>();
  const demoUsers: DemoUser[] = [];
  for (const plan of plans) {
    const maker = `demo-mm-${plan.slug}`;
    const takers = Array.from({ length: takersPerMarket }, (_, i) => `demo-taker-${plan.slug}-${i + 1}`);
    users.set(plan.spec.symbol, [maker, ...takers]);
    demoUsers.push({ userId: maker, balances: plan.makerBalances, compliance: plan.compliance });
    for (const taker of takers) {
      demoUsers.push({ userId: taker, balances: plan.takerBalances, compliance: plan.compliance });
    }
  }
  const tokens = await prepareUsers(options, demoUsers);
  log(`bot users funded: ${demoUsers.map((u) => u.userId).join(', ')}`);

  const watcher = await startWatcher(
    options.ws,
    WebSocketClass,
    plans.map((p) => p.spec.symbol),
  );
  const makers: MarketMaker[] = [];
  const takers: Bot[] = [];
  const onError = (bot: string, error: Error) => {
    log(`${bot}: ${error.message}`);
  };
  const common = {
    url: options.ws,
    WebSocket: WebSocketClass,
    maxRequestsPerSecond: options.maxRequestsPerSecond ?? 40,
    onError,
  };
  try {
    for (const [m, plan] of plans.entries()) {
      const [maker, ...takerUsers] = users.get(plan.spec.symbol)!;
      const start = (await lastPrice(options.http, plan.spec.symbol)) ?? plan.defaultPrice;
      const reference = randomWalk({
        start,
        seed: seed * 1_000 + m,
        volatility: plan.volatility,
        stepMs: options.stepMs ?? 500,
      });
      makers.push(
        await startMarketMaker({
          ...common,
          name: maker,
          token: tokens.get(maker!)!,
          seed: seed * 1_000 + 100 + m,
          market: plan.spec,
          reference,
          levels: options.levels ?? 8,
          halfSpreadBps: plan.halfSpreadBps,
          stepBps: plan.stepBps,
          qty: plan.makerQty,
        }),
      );
      for (const [t, taker] of takerUsers.entries()) {
        takers.push(
          await startTaker({
            ...common,
            name: taker,
            token: tokens.get(taker)!,
            seed: seed * 1_000 + 200 + m * 10 + t,
            market: plan.spec,
            ordersPerSecond: options.takerOrdersPerSecond ?? 3,
            qty: plan.takerQty,
            sweepLevels: 3,
          }),
        );
      }
      log(`${plan.spec.symbol}: ${maker} quoting around ${start}, ${takerUsers.length} takers`);
    }
  } catch (error) {
    for (const bot of [...takers, ...makers]) await bot.stop();
    watcher.close();
    throw error;
  }

  let stopped: Promise<void> | undefined;
  return {
    markets,
    makers,
    takers,
    users,
    tokens,
    figures: () => watcher.figures(),
    botStats: () => [...makers, ...takers].map((b) => b.stats),
    stop: () => {
      stopped ??= (async () => {
        await Promise.all(takers.map((t) => t.stop()));
        await Promise.all(makers.map((m) => m.stop()));
        watcher.close();
      })();
      return stopped;
    },
  };
}

interface Watcher {
  figures(): MarketFigures[];
  close(): void;
}

/** A public client on each market's book (depth 50) and trades: what the CLI prints. */
async function startWatcher(
  url: string,
  WebSocketClass: NonNullable<DemoOptions['WebSocket']>,
  symbols: readonly string[],
): Promise<Watcher> {
  const client = new ExchangeClient({ url, WebSocket: WebSocketClass });
  await client.connect();
  const state = new Map<string, { trades: number; last?: string; book?: LocalBook; resyncs: () => number }>();
  for (const symbol of symbols) {
    const entry: { trades: number; last?: string; book?: LocalBook; resyncs: () => number } = {
      trades: 0,
      resyncs: () => 0,
    };
    state.set(symbol, entry);
    await client.subscribe('trades', { market: symbol }, (trade) => {
      entry.trades++;
      entry.last = trade.price;
    });
    const subscription = await client.subscribeBook(symbol, 50, (book) => {
      entry.book = book;
    });
    entry.book = subscription.book;
    entry.resyncs = () => subscription.resyncs;
  }
  return {
    figures: () =>
      [...state].map(([symbol, entry]) => ({
        symbol,
        trades: entry.trades,
        bidLevels: entry.book?.bids().length ?? 0,
        askLevels: entry.book?.asks().length ?? 0,
        last: entry.last,
        bookResyncs: entry.resyncs(),
      })),
    close: () => {
      client.close();
    },
  };
}
