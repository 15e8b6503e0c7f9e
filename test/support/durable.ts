import type { DatabasePool } from 'slonik';
import { Ledger } from '../../src/actors/ledger/index.ts';
import type { MarketDefinition } from '../../src/actors/market/types.ts';
import { Supervisor } from '../../src/actors/supervisor.ts';
import { JournalWriter } from '../../src/persistence/journalWriter.ts';
import { ASSET_DECIMALS, BTC_USDC, ETH_USDC, GOLD_USDC } from './markets.ts';

/** An exchange on the durable path: the test assets, a JournalWriter as sink, the markets registered. */
export interface DurableExchange {
  readonly ledger: Ledger;
  readonly supervisor: Supervisor;
  readonly writer: JournalWriter;
}

export function registerMarket(supervisor: Supervisor, definition: MarketDefinition): void {
  supervisor.addMarket(definition, {
    baseDecimals: ASSET_DECIMALS[definition.baseAsset]!,
    quoteDecimals: ASSET_DECIMALS[definition.quoteAsset]!,
  });
}

export async function openDurableExchange(
  pool: DatabasePool,
  markets: readonly MarketDefinition[],
): Promise<DurableExchange> {
  const ledger = new Ledger();
  for (const [asset, decimals] of Object.entries(ASSET_DECIMALS)) ledger.defineAsset(asset, decimals);
  const writer = await JournalWriter.open(pool, { flushIntervalMs: 2 });
  const supervisor = new Supervisor({ ledger, sink: writer, batchSize: 4 });
  for (const definition of markets) registerMarket(supervisor, definition);
  return { ledger, supervisor, writer };
}

/** The markets the durable-path tests trade. */
export const DURABLE_MARKETS: readonly MarketDefinition[] = [BTC_USDC, ETH_USDC, GOLD_USDC];

/** Everything recovery (from the journal, or from a snapshot and the journal after it) must reproduce. */
export function recoverableState(
  { ledger, supervisor }: DurableExchange,
  markets: readonly MarketDefinition[] = DURABLE_MARKETS,
) {
  return {
    ledger: ledger.snapshot(),
    markets: markets.map(({ symbol }) => {
      const actor = supervisor.actor(symbol)!;
      return {
        symbol,
        state: actor.state,
        book: actor.orderBook.snapshot(),
        market: actor.currentState(),
        terms: new Map(actor.openOrderTerms),
      };
    }),
  };
}
