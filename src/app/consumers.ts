import type { Logger } from 'pino';
import type { ListedMarket } from '../actors/catalog.ts';
import type { Config } from '../config.ts';
import { Fanout } from '../events/fanout.ts';
import { MarketDataService } from '../marketdata/marketData.ts';
import { MarketDataPublisher } from '../marketdata/publisher.ts';
import { tradeCounts } from '../persistence/history.ts';
import { recentTransitions } from '../persistence/lifecycleHistory.ts';
import { loadMarketData, loadReferencePrices, saveMarketData } from '../persistence/marketDataStore.ts';
import { Projector } from '../persistence/projector.ts';
import { scheduleSnapshots, type SnapshotResult, type SnapshotSchedule } from '../persistence/snapshots.ts';
import { startTimeSeriesHousekeeping } from '../persistence/timeSeries.ts';
import { wireOrderId } from '../services/orderEntry.ts';
import { UserOrders } from '../services/userOrders.ts';
import { countTrades } from '../transport/http/metrics.ts';
import { createInspectionFeed, type InspectionFeed } from '../transport/inspection.ts';
import type { Publication } from '../protocol/topics.ts';
import type { Core } from './core.ts';
import type { Storage } from './storage.ts';

/**
 * Stage 5 of the composition root: the consumers of the committed event stream. In process, right
 * after each commit and in order: the market-data publisher (books, trades, orders, fills,
 * balances, lifecycle), then candles and tickers (the ticker's bid/ask read the book the batch
 * left), and the open-order index; their pushes go out through `pushes`, which the gateway
 * subscribes to. Durable: the projector (relational history, its own position in Postgres),
 * caught up before the gateway opens (trade seqs continue from it). Also the snapshot schedule and
 * the market-data saver.
 */
export interface Consumers {
  readonly publisher: MarketDataPublisher;
  readonly marketData: MarketDataService;
  readonly projector: Projector;
  readonly userOrders: UserOrders;
  readonly inspection: InspectionFeed;
  /** What every consumer publishes to subscribers, in order. */
  readonly pushes: Fanout<readonly Publication[]>;
  /**
   * The durable consumers' pushes (in-app notifications, positions), each after its page
   * committed; forwarded to `pushes`. In a cluster they are made where the consumer runs (a
   * worker), which relays them to the gateways (src/app/cluster/replica.ts).
   */
  readonly consumerPushes: Fanout<readonly Publication[]>;
  /** Starts following a market listed after start (admin, issuance). */
  readonly follow: (listed: ListedMarket) => void;
  readonly snapshots: SnapshotSchedule;
  /** Stops the visualizer's and the candles' timers (the first step of shutdown). */
  stopTimers(): void;
  /** Saves the last market-data changes and stops the saver (after the writer closed). */
  stopSaver(): Promise<void>;
  /** Stops the time-series housekeeping of trades and candles (a round in flight finishes). */
  stopHousekeeping(): Promise<void>;
}

export interface ConsumerHooks {
  readonly snapshotStarting?: () => void;
  readonly snapshotTaken?: (result: SnapshotResult) => void;
}

export async function startConsumers(
  config: Config,
  log: Logger,
  storage: Storage,
  core: Core,
  hooks: ConsumerHooks,
): Promise<Consumers> {
  const { pool, writer } = storage;
  const { catalog, supervisor, ledger, committed } = core;
  const pushes = new Fanout<readonly Publication[]>();
  const consumerPushes = new Fanout<readonly Publication[]>();
  consumerPushes.subscribe(pushes.emit);
  const userOrders = new UserOrders(config.MAX_OPEN_ORDERS_PER_USER);
  const publisher = new MarketDataPublisher();
  const marketData = new MarketDataService({
    closeGraceMs: config.CANDLE_CLOSE_GRACE_MS,
    quotes: (symbol) => {
      const book = publisher.bookSnapshot(symbol, 10);
      return { bid: book?.bids[0]?.[0], ask: book?.asks[0]?.[0] };
    },
  });
  // The visualizer's feed: the supervisor's inspection stream, throttled, on the admin-only channel.
  const inspection = createInspectionFeed({
    throttleMs: 250,
    publish: pushes.emit,
    symbolOf: (marketId) => catalog.market(marketId)?.definition.symbol,
    markets: () => supervisor.list(),
    decimalsOf: (asset) => catalog.asset(asset)?.decimals,
  });
  core.inspections.subscribe(inspection.inspect);
  // Withdrawals as actors (issue 15): the open ones now, their changes from the committed stream.
  inspection.seedWithdrawals(
    supervisor.funding.openWithdrawals().map(([withdrawalId, w]) => ({ withdrawalId, ...w })),
  );
  committed.subscribe(inspection.withdrawals);

  // Trades' and candles' monthly partitions, made ahead before the projector writes (and hourly).
  const stopHousekeeping = await startTimeSeriesHousekeeping({
    pool,
    retention: { tradesDays: config.TRADES_RETENTION_DAYS, candlesDays: config.CANDLES_RETENTION_DAYS },
    everyMs: config.TIME_SERIES_HOUSEKEEPING_MS,
    onRound: ({ moved, dropped }) => {
      if ([...Object.values(moved), ...Object.values(dropped)].some((n) => n > 0))
        log.info({ moved, dropped }, 'time-series partitions: months moved out of the defaults, or dropped');
    },
    onError: (error) => {
      log.warn({ err: error }, 'time-series housekeeping failed; the next tick retries');
    },
  });
  // The projections catch up before the gateway opens: trade seqs continue from them.
  const projector = new Projector(pool, {
    gate: storage.consumerGate,
    onError: (error) => {
      log.warn({ err: error }, 'projection round failed');
    },
  });
  while ((await projector.runOnce()) > 0);
  storage.flushed.subscribe((globalSeq) => {
    projector.noteCommitted(globalSeq);
  });
  // The visualizer lists the journaled transitions, as /events does (a snapshot replays none).
  for (const [marketId, transitions] of await recentTransitions(pool, inspection.historyLimit)) {
    inspection.seedHistory(marketId, transitions);
  }
  const trades = await tradeCounts(pool);
  const references = await loadReferencePrices(pool);
  const storedMarketData = new Map(
    await Promise.all(
      catalog.listMarkets().map(async (m) => {
        const stored = await loadMarketData(pool, m.definition.id, {
          now: Date.now(),
          horizonMs: marketData.horizonMs,
        });
        return [m.definition.id, stored] as const;
      }),
    ),
  );
  const follow = (listed: ListedMarket) => {
    const actor = supervisor.actor(listed.definition.symbol)!;
    // Book seq, orders' ts and avgPrice continue from the actor's state (OrderActivity); `ts` is
    // for orders of a snapshot written before it kept them (their last change is unknown).
    publisher.addMarket(listed, actor, { tradeSeq: trades.get(listed.definition.id) ?? 0, ts: Date.now() });
    marketData.addMarket(listed, {
      stored: storedMarketData.get(listed.definition.id),
      indexPrice: references.get(listed.definition.id)?.price,
      now: Date.now(),
    });
    const { resting, stops } = actor.orderBook.openOrders();
    for (const order of [...resting, ...stops]) {
      userOrders.add(order.userId, wireOrderId(listed.definition.id, order.orderId), order.clientOrderId);
    }
  };
  for (const listed of catalog.listMarkets()) follow(listed);
  publisher.addLedger(ledger, (asset) => catalog.asset(asset)?.decimals);
  // The committed event stream's in-process consumers, in this order (src/events/stream.ts).
  committed.subscribe({
    name: 'metrics',
    onCommitted: ({ batch }) => {
      countTrades(batch);
    },
  });
  committed.subscribe({
    name: 'publisher',
    onCommitted: ({ batch, events }) => {
      pushes.emit(publisher.publish(batch, events));
    },
  });
  committed.subscribe(userOrders);
  // After the publisher: the ticker's bid/ask read the book this batch left.
  committed.subscribe({
    name: 'marketData',
    onCommitted: ({ batch }) => {
      pushes.emit(marketData.onBatch(batch));
    },
  });

  const snapshots = scheduleSnapshots(
    pool,
    { supervisor, writer },
    {
      everyRecords: config.SNAPSHOT_EVERY_RECORDS,
      intervalMs: config.SNAPSHOT_INTERVAL_MS,
      onStart: hooks.snapshotStarting,
      onSnapshot: (result) => {
        log.info(result, 'snapshot taken');
        hooks.snapshotTaken?.(result);
      },
      onError: (error) => {
        log.warn({ err: error }, 'snapshot failed');
      },
    },
  );
  projector.start(config.PROJECTION_INTERVAL_MS);
  const marketDataSaver = marketData.persist((changes) => saveMarketData(pool, changes), {
    intervalMs: config.MARKETDATA_FLUSH_MS,
    onError: (error) => {
      log.warn({ err: error }, 'market data not saved');
    },
  });
  const candleTimer = setInterval(() => {
    pushes.emit(marketData.tick(Date.now()));
  }, 1_000);
  candleTimer.unref();

  return {
    publisher,
    marketData,
    projector,
    userOrders,
    inspection,
    pushes,
    consumerPushes,
    follow,
    snapshots,
    stopTimers() {
      inspection.stop();
      clearInterval(candleTimer);
    },
    stopSaver: () => marketDataSaver.stop(),
    stopHousekeeping,
  };
}
