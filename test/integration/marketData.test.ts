import { createPool, sql, type DatabasePool } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ListedMarket } from '../../src/actors/catalog.ts';
import { Ledger } from '../../src/actors/ledger/index.ts';
import type { JournalBatch, MarketDefinition } from '../../src/actors/market/types.ts';
import { createMarketMoney } from '../../src/actors/money.ts';
import { Supervisor } from '../../src/actors/supervisor.ts';
import {
  CANDLE_INTERVALS,
  MarketDataService,
  type MarketDataPublication,
} from '../../src/marketdata/marketData.ts';
import { JournalWriter } from '../../src/persistence/journalWriter.ts';
import { loadMarketData, saveMarketData } from '../../src/persistence/marketDataStore.ts';
import { Projector } from '../../src/persistence/projector.ts';
import { useTestDatabase } from '../support/database.ts';
import {
  ASSET_DECIMALS,
  BTC_USDC,
  ETH_USDC,
  expectOk,
  limit,
  lifecycle,
  PATH_TO,
} from '../support/markets.ts';

/**
 * Market data against a real Postgres: committed trades through the Supervisor, the journal writer
 * and the projector; candles and stats saved while trading goes on; a restarted service (stored
 * candles plus the trades projection after them) reads exactly what the live one did, whether the
 * last save was recent, stale, or never happened.
 */

const database = useTestDatabase('marketdata');
const MARKETS: readonly MarketDefinition[] = [BTC_USDC, ETH_USDC];
const HOUR = 3_600_000;

let pool: DatabasePool;

beforeAll(async () => {
  pool = await createPool(database.get().url, { maximumPoolSize: 3 });
});

afterAll(async () => {
  await pool.end();
});

function listed(definition: MarketDefinition): ListedMarket {
  const baseDecimals = ASSET_DECIMALS[definition.baseAsset]!;
  const quoteDecimals = ASSET_DECIMALS[definition.quoteAsset]!;
  return {
    definition,
    money: createMarketMoney({ ...definition.money, baseDecimals, quoteDecimals }),
    baseDecimals,
    quoteDecimals,
  };
}

/** Everything a client can read: each interval's gap-free candles and the ticker, as of `now`. */
function reads(service: MarketDataService, now: number) {
  return MARKETS.map(({ symbol }) => ({
    ticker: service.tickerSnapshot(symbol),
    candles: CANDLE_INTERVALS.map((interval) => service.candles(symbol, interval, 0, now, 1_000, now)),
    open: CANDLE_INTERVALS.map((interval) => service.candleSnapshot(symbol, interval)),
  }));
}

async function restarted(now: number): Promise<MarketDataService> {
  const service = new MarketDataService();
  for (const definition of MARKETS) {
    const stored = await loadMarketData(pool, definition.id, { now, horizonMs: service.horizonMs });
    service.addMarket(listed(definition), { stored, now });
  }
  return service;
}

describe('MarketDataService with Postgres', () => {
  it('saves candles and stats while trading and a restart rebuilds the same reads', async () => {
    const ledger = new Ledger();
    for (const [asset, decimals] of Object.entries(ASSET_DECIMALS)) ledger.defineAsset(asset, decimals);
    const writer = await JournalWriter.open(pool, { flushIntervalMs: 2 });
    const live = new MarketDataService();
    for (const definition of MARKETS) live.addMarket(listed(definition));
    const pushes: MarketDataPublication[] = [];
    const supervisor = new Supervisor({
      ledger,
      sink: writer,
      publish: (batch: JournalBatch) => pushes.push(...live.onBatch(batch)),
    });
    for (const definition of MARKETS) {
      supervisor.addMarket(definition, {
        baseDecimals: ASSET_DECIMALS[definition.baseAsset]!,
        quoteDecimals: ASSET_DECIMALS[definition.quoteAsset]!,
      });
    }
    const projector = new Projector(pool);
    let clock = 1_763_800_000_000;
    for (const { symbol } of MARKETS) {
      for (const type of PATH_TO.active) expectOk(await supervisor.submit(symbol, lifecycle(type), clock));
    }
    for (const [asset, amount] of [
      ['BTC', 10n ** 12n],
      ['ETH', 10n ** 24n],
      ['USDC', 10n ** 14n],
    ] as const) {
      expectOk(await supervisor.credit('alice', asset, amount, clock));
      expectOk(await supervisor.credit('bob', asset, amount, clock));
    }

    // A deterministic walk: bursts, minutes and hours of quiet, and a jump past the 24h window.
    let state = 7;
    const next = (n: number) => {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
      return state % n;
    };
    const trade = async () => {
      const gap = next(10);
      clock += gap < 6 ? next(20_000) : gap < 9 ? next(8 * 60_000) : next(3 * HOUR);
      const btc = 100_00 + next(500);
      const eth = 40 * (50 + next(30)); // on ETH-USDC's 0.05 tick
      const [taker, maker] = next(2) === 0 ? (['bob', 'alice'] as const) : (['alice', 'bob'] as const);
      const side = taker === 'bob' ? 'buy' : 'sell';
      const makerSide = side === 'buy' ? 'sell' : 'buy';
      const qty = 1 + next(40);
      expectOk(await supervisor.submit(BTC_USDC.symbol, limit(maker, makerSide, btc, qty), clock));
      expectOk(await supervisor.submit(BTC_USDC.symbol, limit(taker, side, btc, qty), clock));
      if (next(3) > 0) {
        expectOk(await supervisor.submit(ETH_USDC.symbol, limit(maker, makerSide, eth, qty), clock));
        expectOk(await supervisor.submit(ETH_USDC.symbol, limit(taker, side, eth, qty), clock));
      }
    };
    const catchUp = async () => {
      await supervisor.idle();
      while ((await projector.runOnce()) > 0);
    };

    // Never saved: the restart replays the whole trades projection.
    for (let i = 0; i < 40; i++) await trade();
    await catchUp();
    expect(reads(await restarted(clock), clock)).toEqual(reads(live, clock));

    // Saved half-way, then more trades that were never saved (the process died before the next save).
    const persistence = live.persist((changes) => saveMarketData(pool, changes), { intervalMs: 60_000 });
    await persistence.flush();
    for (let i = 0; i < 60; i++) await trade();
    clock += 25 * HOUR;
    for (let i = 0; i < 60; i++) await trade();
    await catchUp();
    const now = clock + 30_000;
    live.tick(now);
    expect(reads(await restarted(now), now)).toEqual(reads(live, now));

    // Saved up to date: the stored rows are the traded candles and the stats of the live service.
    await persistence.stop();
    const after = await restarted(now);
    expect(reads(after, now)).toEqual(reads(live, now));
    const counts = await pool.any(
      sql.type(z.object({ market_id: z.string(), interval: z.string(), n: z.number() }))`
        SELECT market_id, interval, count(*)::int AS n FROM price_candles GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    for (const { market_id, interval, n } of counts) {
      const symbol = MARKETS.find((m) => m.id === market_id)!.symbol;
      const traded = live.candles(symbol, interval, 0, now, 1_000, now)!.filter((c) => !/^0\.0+$/.test(c.v));
      expect(n).toBeGreaterThanOrEqual(traded.length); // older ones past the 1m read window too
    }
    const stats = await pool.one(
      sql.type(z.object({ last_price: z.string(), volume_24h: z.string(), change_24h: z.string() }))`
        SELECT last_price::text, volume_24h::text, change_24h::text FROM market_stats WHERE market_id = ${BTC_USDC.id}`,
    );
    const ticker = live.tickerSnapshot(BTC_USDC.symbol)!;
    expect(listed(BTC_USDC).money.formatPrice(Number(stats.last_price))).toBe(ticker.last);
    expect(listed(BTC_USDC).money.formatQty(Number(stats.volume_24h))).toBe(ticker.volume24h);
    expect(listed(BTC_USDC).money.formatPrice(Number(stats.change_24h))).toBe(ticker.change24h);

    // Pushes happened along the way: candle closes and tickers of both markets.
    expect(
      pushes.some((p) => p.topic === 'candles/BTC-USDC/1m' && 'closed' in p.message && p.message.closed),
    ).toBe(true);
    expect(pushes.some((p) => p.topic === 'ticker/ETH-USDC')).toBe(true);
    await writer.close();
  });
});
