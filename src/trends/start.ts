import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import type { Catalog } from '../actors/catalog.ts';
import type { BatchSink, JournalBatch } from '../actors/market/types.ts';
import type { Config } from '../config.ts';
import type { Admin } from '../services/admin.ts';
import { DEFAULT_THRESHOLDS, SignalDetector, SignalJournal } from './signals.ts';
import { TrendService } from './trendService.ts';
import { TrendStore } from './trendStore.ts';

/** What the composition root hands the trend markets (stage 7, src/app/services.ts). */
export interface TrendDependencies {
  readonly config: Config;
  readonly log: Logger;
  readonly pool: DatabasePool;
  /** The journal writer: signals are `@trends` records. */
  readonly sink: BatchSink;
  /** The committed event stream's in-process side. */
  readonly publish: (batch: JournalBatch) => void;
  readonly catalog: Catalog;
  readonly admin: Admin;
  readonly setIndexPrice: (marketId: string, price: string) => void;
  readonly volume24h: (marketId: string) => string | undefined;
  /** The per-token rate limit of ingestion. */
  readonly allow: (subject: string) => boolean;
}

/** The trend service, loaded from its tables (its markets' index prices set). */
export async function startTrends(deps: TrendDependencies): Promise<TrendService> {
  const { config, log, pool } = deps;
  const store = new TrendStore(pool);
  const detector = new SignalDetector({
    ...DEFAULT_THRESHOLDS,
    detectScoreCenti: Math.round(config.TREND_DETECT_SCORE * 100),
    breakoutBps: config.TREND_BREAKOUT_BPS,
  });
  const signals = new SignalJournal({
    sink: deps.sink,
    publish: deps.publish,
    lastSeq: await store.lastSignalSeq(),
  });
  return TrendService.start({
    store,
    catalog: deps.catalog,
    createAsset: (asset) => deps.admin.createAsset(asset),
    listMarket: (body, actor) => deps.admin.listMarket(body, actor),
    setIndexPrice: deps.setIndexPrice,
    volume24h: deps.volume24h,
    detector,
    signals,
    allow: deps.allow,
    log: log.child({ component: 'trends' }),
  });
}
