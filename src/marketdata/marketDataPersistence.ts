import type { CandleRow, MarketDataChanges, MarketStatsRow } from '../persistence/marketDataStore.ts';

export interface MarketDataPersistence {
  /** Saves what changed now (after any save in progress). */
  flush(): Promise<void>;
  /** Stops the timer and saves what is left. */
  stop(): Promise<void>;
}

/**
 * Saves `take()`'s changes every `intervalMs` with `save` (off the hot path). A failed save is
 * reported and its rows are written again with the next one (newer values of the same rows win).
 */
export function persistChanges(
  take: () => MarketDataChanges,
  save: (changes: MarketDataChanges) => Promise<void>,
  options: { readonly intervalMs: number; readonly onError?: (error: unknown) => void },
): MarketDataPersistence {
  let leftover: MarketDataChanges = { candles: [], stats: [] };
  let running: Promise<void> = Promise.resolve();
  const flushOnce = async () => {
    const changes = merge(leftover, take());
    leftover = { candles: [], stats: [] };
    try {
      await save(changes);
    } catch (error) {
      leftover = changes;
      options.onError?.(error);
    }
  };
  const flush = () => (running = running.then(flushOnce));
  const timer = setInterval(() => void flush(), options.intervalMs);
  timer.unref();
  return {
    flush,
    async stop() {
      clearInterval(timer);
      await flush();
    },
  };
}

function merge(older: MarketDataChanges, newer: MarketDataChanges): MarketDataChanges {
  if (older.candles.length === 0 && older.stats.length === 0) return newer;
  const candles = new Map<string, CandleRow>();
  for (const row of [...older.candles, ...newer.candles]) {
    candles.set(`${row.marketId}\u0000${row.interval}\u0000${row.t}`, row);
  }
  const stats = new Map<string, MarketStatsRow>();
  for (const row of [...older.stats, ...newer.stats]) stats.set(row.marketId, row);
  return { candles: [...candles.values()], stats: [...stats.values()] };
}
