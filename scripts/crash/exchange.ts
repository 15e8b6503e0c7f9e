import type { StoredCatalog } from '../../src/persistence/catalogStore.ts';
import { Ledger } from '../../src/actors/ledger/index.ts';
import type { BookEvent, LevelEvent } from '../../src/actors/book/types.ts';
import type { BatchSink } from '../../src/actors/market/types.ts';
import { Supervisor } from '../../src/actors/supervisor.ts';

/**
 * What the crash test's exchange is made of, shared by the child that is killed
 * (scripts/crash-child.ts, the real exchange of src/app.ts) and the checker that recovers it
 * afterwards (scripts/crash/harness.ts): the assets, markets and users of the first start.
 */

export const CRASH_ASSETS = [
  { symbol: 'USDC', decimals: 6, kind: 'stable' },
  { symbol: 'BTC', decimals: 8, kind: 'crypto' },
  { symbol: 'ETH', decimals: 18, kind: 'crypto' },
] as const;

/** The markets the child lists on its first start (the admin's listMarket body). */
export const CRASH_MARKETS = [
  {
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
  },
  {
    symbol: 'ETH-USDC',
    baseAsset: 'ETH',
    quoteAsset: 'USDC',
    priceDecimals: 2,
    qtyDecimals: 3,
    tickSize: '0.05',
    lotSize: '0.001',
    minQty: '0.001',
    maxQty: '1000',
    makerFeeBps: 5,
    takerFeeBps: 25,
  },
] as const;

/** The users of the load: `count` of them, u1…uN. */
export function crashUsers(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `u${i + 1}`);
}

/** What each user is credited on the first start (decimal amounts): far more than the load spends. */
export const CRASH_CREDITS: Readonly<Record<string, string>> = {
  BTC: '1000',
  ETH: '1000',
  USDC: '10000000',
};

/** The market a ready line describes: what the checker needs to read its orders over HTTP. */
export interface ReadyMarket {
  readonly id: string;
  readonly symbol: string;
  readonly qtyDecimals: number;
  readonly lotSize: string;
}

/** One line of the child's stdout: `ready` once booted (the gateway listening). */
export interface ReadyLine {
  readonly type: 'ready';
  readonly port: number;
  readonly recoveredRecords: number;
  readonly snapshotGlobalSeq: number;
  readonly markets: readonly ReadyMarket[];
}

/** A periodic snapshot begins (`start`) or has committed (`done`, with the global_seq it holds). */
export interface SnapshotLine {
  readonly type: 'snapshot';
  readonly phase: 'start' | 'done';
  readonly globalSeq?: number;
}

/** A book event as acknowledged (level events, which are market data, left out). */
export type AckedEvent = Exclude<BookEvent, LevelEvent>;

/** One acknowledged (ok) command, written after its reply arrived, i.e. after its batch committed. */
export interface AckLine {
  readonly type: 'ack';
  readonly market: string;
  readonly seq: number;
  readonly orderId: number | null;
  readonly kind: string;
  /** The result's book events, in order (the outcome). */
  readonly events: readonly AckedEvent[];
}

export type ChildLine = ReadyLine | SnapshotLine | AckLine;

export interface CrashExchange {
  readonly ledger: Ledger;
  readonly supervisor: Supervisor;
}

/** A fresh ledger and supervisor with the stored catalog's assets and markets, nothing processed. */
export function buildExchange(catalog: StoredCatalog, sink: BatchSink): CrashExchange {
  const ledger = new Ledger();
  const decimals = new Map(catalog.assets.map((a) => [a.symbol, a.decimals]));
  for (const [asset, places] of decimals) ledger.defineAsset(asset, places);
  const supervisor = new Supervisor({ ledger, sink });
  for (const definition of catalog.markets) {
    supervisor.addMarket(definition, {
      baseDecimals: decimals.get(definition.baseAsset)!,
      quoteDecimals: decimals.get(definition.quoteAsset)!,
    });
  }
  return { ledger, supervisor };
}

/** A small seeded PRNG (mulberry32): the same seed drives the same load. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
