import { Ledger } from '../../src/actors/ledger/index.ts';
import type { BatchSink, MarketDefinition } from '../../src/actors/market/types.ts';
import { Supervisor } from '../../src/actors/supervisor.ts';
import { ASSET_DECIMALS, BTC_USDC, ETH_USDC } from '../../test/support/markets.ts';

/**
 * What the crash test's exchange is made of, shared by the child that is killed
 * (scripts/crash-child.ts) and the checker that recovers it afterwards (scripts/crash/harness.ts):
 * the same two markets, assets and users, built the same way.
 */

export const CRASH_MARKETS: readonly MarketDefinition[] = [BTC_USDC, ETH_USDC];

export const CRASH_USERS: readonly string[] = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];

/** What each user is credited on the first start (minor units): far more than the load spends. */
export const CRASH_CREDITS: Readonly<Record<string, bigint>> = {
  BTC: 1_000n * 10n ** 8n,
  ETH: 1_000n * 10n ** 18n,
  USDC: 10_000_000n * 10n ** 6n,
};

/** One line of the child's stdout: `ready` once booted, then one `ack` per acknowledged command. */
export interface ReadyLine {
  readonly type: 'ready';
  readonly recoveredEntries: number;
}

export interface AckedFill {
  readonly maker: number;
  readonly taker: number;
  readonly qty: number;
  readonly price: number;
}

export interface AckLine {
  readonly type: 'ack';
  readonly market: string;
  readonly seq: number;
  readonly orderId: number | null;
  readonly kind: string;
  /** The event types of the result, in order (the outcome). */
  readonly events: readonly string[];
  readonly fills: readonly AckedFill[];
}

export interface CrashExchange {
  readonly ledger: Ledger;
  readonly supervisor: Supervisor;
}

/** A fresh ledger and supervisor with both markets added and no command processed. */
export function buildExchange(sink: BatchSink): CrashExchange {
  const ledger = new Ledger();
  for (const [asset, decimals] of Object.entries(ASSET_DECIMALS)) ledger.defineAsset(asset, decimals);
  const supervisor = new Supervisor({ ledger, sink });
  for (const definition of CRASH_MARKETS) {
    supervisor.addMarket(definition, {
      baseDecimals: ASSET_DECIMALS[definition.baseAsset]!,
      quoteDecimals: ASSET_DECIMALS[definition.quoteAsset]!,
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
