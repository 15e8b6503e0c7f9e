import type { Logger } from 'pino';
import type * as UWS from 'uWebSockets.js';
import uWS from './transport/uws.ts';
import { Catalog, type ListedMarket } from './actors/catalog.ts';
import { ComplianceRegistry, type RwaLeg } from './actors/compliance.ts';
import { Ledger } from './actors/ledger/index.ts';
import type { JournalBatch } from './actors/market/types.ts';
import { Supervisor } from './actors/supervisor.ts';
import { chainRuntime, type ChainRuntime } from './chainRuntime.ts';
import type { Config } from './config.ts';
import { createEntityPermissions } from './integrations/config.ts';
import { startEntityPermissionsIntegration } from './integrations/index.ts';
import { startJobQueue } from './jobs/queue.ts';
import { priceSourceOf } from './marketdata/config.ts';
import { MarketDataService } from './marketdata/marketData.ts';
import { CommittedEventStream } from './events/stream.ts';
import { MarketDataPublisher } from './marketdata/publisher.ts';
import { startReferencePriceJob } from './marketdata/referencePrices.ts';
import { insertAsset, insertMarket, loadCatalog } from './persistence/catalogStore.ts';
import { loadComplianceRecords, saveComplianceRecord } from './persistence/complianceStore.ts';
import { insertRegistration, loadMarketAssets, updateMarketAsset } from './persistence/issuanceStore.ts';
import {
  loadMarketData,
  loadReferencePrices,
  saveMarketData,
  saveReferencePrices,
} from './persistence/marketDataStore.ts';
import { listMarketEvents, recentTransitions } from './persistence/lifecycleHistory.ts';
import { durableMarketRebuild } from './persistence/marketRebuild.ts';
import { JournalWriter } from './persistence/journalWriter.ts';
import { journalObserver } from './persistence/metrics.ts';
import { migrate } from './persistence/migrate.ts';
import { Ownership } from './persistence/owner.ts';
import { createDatabasePool } from './persistence/pool.ts';
import { tradeCounts } from './persistence/history.ts';
import { Projector } from './persistence/projector.ts';
import { recover, type RecoveryStats } from './persistence/recovery.ts';
import { scheduleSnapshots, takeSnapshot, type SnapshotResult } from './persistence/snapshots.ts';
import { Admin } from './services/admin.ts';
import { Authenticator, type Principal } from './transport/auth.ts';
import { ComplianceAdmin, SyncAllowlistPayload } from './services/complianceAdmin.ts';
import { failure, success } from './protocol/errors.ts';
import { registerComplianceRoutes } from './transport/http/issuance.ts';
import type { RegisteredRoute } from './transport/http/router.ts';
import { DeployTokenPayload, Issuance, type Authorize } from './services/issuance.ts';
import { registerWebSocket } from './transport/gateway.ts';
import type { Publication } from './transport/publication.ts';
import { createInspectionFeed } from './transport/inspection.ts';
import { assertPortFree, listenExclusive } from './transport/listen.ts';
import { devPagesEnabled, registerStatic } from './transport/static.ts';
import { registerHttp } from './transport/http.ts';
import {
  countOrder,
  countRejection,
  countTrades,
  observe,
  supervisorObserver,
  type JobQueueSource,
} from './transport/http/metrics.ts';
import { OrderEntry, wireOrderId } from './services/orderEntry.ts';
import { RateLimiter, sourceKey } from './transport/rateLimit.ts';
import { UserOrders } from './services/userOrders.ts';

/*
 * The composition root: builds the exchange from its parts and wires the sinks (DESIGN.md): the
 * journal writer under the supervisor, publication after commit, persistence handed to the actors
 * and the transport as functions. `npm start` (src/main.ts) and the tests both start it this way,
 * on a real Postgres and real sockets.
 */

export interface Exchange {
  /** The port the gateway listens on (PORT, or the one the OS chose for PORT=0). */
  readonly port: number;
  readonly catalog: Catalog;
  readonly supervisor: Supervisor;
  readonly ledger: Ledger;
  readonly admin: Admin;
  readonly auth: Authenticator;
  readonly chain: ChainRuntime;
  readonly issuance: Issuance;
  /** What recovery replayed at this start (the crash test reports it). */
  readonly recovered: RecoveryStats;
  /** The HTTP routes as registered (each described in /api/v1/openapi.json). */
  readonly httpRoutes: readonly RegisteredRoute[];
  /** Stops accepting connections, drains, snapshots, lets the projections catch up, closes. */
  close(): Promise<void>;
}

/** What the process around the exchange hears of (src/main.ts; the crash test kills at snapshots). */
export interface ExchangeHooks {
  /**
   * The connection holding the database's ownership lock is gone: the journal writer refuses
   * every commit from now on (another exchange may own the database already), so the process
   * should exit without a clean shutdown (src/main.ts does). The exchange logs it either way.
   */
  readonly onOwnershipLost?: (error: Error) => void;
  /** A periodic snapshot begins (the state is about to be taken and written). */
  readonly snapshotStarting?: () => void;
  /** A periodic snapshot committed. */
  readonly snapshotTaken?: (result: SnapshotResult) => void;
}

/**
 * Starts the exchange, or throws before changing anything: DatabaseOwnedError (persistence/owner.ts)
 * when another exchange owns the database, PortInUseError (transport/listen.ts) when PORT is taken.
 * The ownership lock comes first, so the migrations too run only in the owner.
 */
export async function startExchange(
  config: Config,
  log: Logger,
  hooks: ExchangeHooks = {},
): Promise<Exchange> {
  const databaseUrl = config.DATABASE_URL;
  if (databaseUrl === undefined) throw new Error('DATABASE_URL is required (npm start provides one)');
  const ownership = await Ownership.acquire(databaseUrl, {
    onChange: (change, detail) => {
      if (change === 'suspended')
        log.warn({ detail }, 'database ownership lock connection lost; regaining it');
      else log.info({ detail }, 'database ownership lock regained');
    },
  });
  try {
    await assertPortFree(config.HOST, config.PORT);
    return await startOwned(config, log, hooks, databaseUrl, ownership);
  } catch (error) {
    await ownership.release();
    throw error;
  }
}

async function startOwned(
  config: Config,
  log: Logger,
  hooks: ExchangeHooks,
  databaseUrl: string,
  ownership: Ownership,
): Promise<Exchange> {
  const applied = await migrate(databaseUrl);
  log.info({ applied }, applied.length === 0 ? 'database schema up to date' : 'migrations applied');
  const token = await ownership.claim();
  log.info({ token, backendPid: ownership.backendPid }, 'database owned by this exchange');
  ownership.onLost((error) => {
    log.fatal({ err: error }, 'database ownership lost: journal writes refused from now on');
    hooks.onOwnershipLost?.(error);
  });
  const pool = await createDatabasePool(databaseUrl);
  // The projector's lag figures follow every flush (set once the projector exists).
  let noteCommitted: (globalSeq: number) => void = () => undefined;
  const writer = await JournalWriter.open(pool, {
    fence: ownership,
    onCommitted: (globalSeq) => {
      noteCommitted(globalSeq);
    },
    observe: journalObserver,
  });

  let publish: (publications: readonly Publication[]) => void = () => undefined;
  const publisher = new MarketDataPublisher();
  const userOrders = new UserOrders(config.MAX_OPEN_ORDERS_PER_USER);
  // Candles and 24h stats from committed trades (src/marketdata/marketData.ts).
  const marketData = new MarketDataService({
    closeGraceMs: config.CANDLE_CLOSE_GRACE_MS,
    quotes: (symbol) => {
      const book = publisher.bookSnapshot(symbol, 10);
      return { bid: book?.bids[0]?.[0], ask: book?.asks[0]?.[0] };
    },
  });
  // The committed event stream's in-process consumers, in order (src/events/stream.ts).
  const events = new CommittedEventStream();
  events.subscribe({
    name: 'publisher',
    onCommitted: ({ batch, events: domainEvents }) => {
      publish(publisher.publish(batch, domainEvents));
    },
  });
  events.subscribe(userOrders);
  // After the publisher: the ticker's bid/ask read the book this batch left.
  events.subscribe({
    name: 'marketData',
    onCommitted: ({ batch }) => {
      publish(marketData.onBatch(batch));
    },
  });
  const ledger = new Ledger();
  const catalog = new Catalog();
  const compliance = new ComplianceRegistry(await loadComplianceRecords(pool));
  // The visualizer's feed: the supervisor's inspection stream, throttled, on the admin-only channel.
  const inspection = createInspectionFeed({
    throttleMs: 250,
    publish: (publications) => {
      publish(publications);
    },
    symbolOf: (marketId) => catalog.market(marketId)?.definition.symbol,
    markets: () => supervisor.list(),
  });
  // Filled once the services exist; the admit gate and the jobs read it only later.
  const late: { issuance?: Issuance } = {};
  const supervisor = new Supervisor({
    ledger,
    sink: writer,
    mailboxSize: config.MAILBOX_SIZE,
    inspect: inspection.inspect,
    observe: supervisorObserver,
    rebuildMarket: durableMarketRebuild(pool),
    // Markets moving an RWA (base or quote): only compliant holders add exposure (checked in the
    // actor for places, amends that reprice or grow, and stops as they trigger).
    admit: (market, userId) => {
      const { baseAsset, quoteAsset } = market;
      const baseRwa = catalog.asset(baseAsset)?.kind === 'rwa';
      const quoteRwa = catalog.asset(quoteAsset)?.kind === 'rwa';
      if (!baseRwa && !quoteRwa) return undefined;
      const legs: RwaLeg[] = [];
      for (const asset of baseRwa ? (quoteRwa ? [baseAsset, quoteAsset] : [baseAsset]) : [quoteAsset]) {
        const attributes = late.issuance?.recordOfToken(asset)?.details.attributes;
        const requiresAccreditation =
          typeof attributes === 'object' &&
          attributes !== null &&
          (attributes as Record<string, unknown>).requiresAccreditation === true;
        legs.push({ asset, requiresAccreditation });
      }
      return compliance.marketRefusal(userId, legs, Date.now());
    },
    publish: (batch: JournalBatch) => {
      countTrades(batch);
      events.publish(batch);
    },
  });
  const stored = await loadCatalog(pool);
  for (const asset of stored.assets) {
    catalog.addAsset(asset);
    ledger.defineAsset(asset.symbol, asset.decimals);
  }
  for (const definition of stored.markets) {
    const listed = catalog.addMarket(definition);
    supervisor.addMarket(definition, {
      baseDecimals: listed.baseDecimals,
      quoteDecimals: listed.quoteDecimals,
    });
  }
  const recovered = await recover(pool, { ledger, supervisor });
  log.info({ ...recovered, markets: stored.markets.length }, 'recovered from the journal');

  // The projections catch up before the gateway opens: trade seqs continue from them.
  const projector = new Projector(pool, {
    onError: (error) => {
      log.warn({ err: error }, 'projection round failed');
    },
  });
  while ((await projector.runOnce()) > 0);
  // The visualizer lists the journaled transitions, as /events does (a snapshot replays none).
  for (const [marketId, transitions] of await recentTransitions(pool, inspection.historyLimit)) {
    inspection.seedHistory(marketId, transitions);
  }
  noteCommitted = (globalSeq) => {
    projector.noteCommitted(globalSeq);
  };
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
    publish(marketData.tick(Date.now()));
  }, 1_000);
  candleTimer.unref();

  const auth = new Authenticator(config.JWT_SECRET);
  const maxLag = config.PROJECTION_MAX_LAG_RECORDS;
  const orders = new OrderEntry({
    catalog,
    supervisor,
    userOrders,
    // History reads come from the projections: past the bound, new places wait for them.
    admission: () => {
      const lag = projector.lagRecords(); // follows every flush (onCommitted)
      return lag <= maxLag
        ? undefined
        : failure('overloaded', `projections trail the journal by ${lag} records; try again shortly`);
    },
    limiter: new RateLimiter(config.RATE_ORDERS_PER_S, config.RATE_ORDERS_BURST),
    observe: { order: countOrder, rejection: countRejection },
  });
  const admin = new Admin({
    catalog,
    supervisor,
    ledger,
    store: {
      insertAsset: (asset) => insertAsset(pool, asset),
      insertMarket: (market) => insertMarket(pool, market),
    },
    onMarketAdded: follow,
  });

  // --- Issuance: entity permissions, the chain, the job queues --------------------------------
  const { permissions } = createEntityPermissions(config);
  // Webhook and polling decisions go through the same issuance service (set below).
  const integration = startEntityPermissionsIntegration({
    config,
    pool,
    log,
    decide: async (decision) => {
      const decided = await late.issuance!.decide({
        marketId: decision.marketId,
        decision: decision.decision,
        reason: decision.reason,
        actor: decision.actor,
        metadata: { ...decision.metadata, eventId: decision.eventId },
      });
      if (decided.ok) return { ok: true };
      const code =
        decided.code === 'invalid_transition' || decided.code === 'unknown_market'
          ? decided.code
          : 'unavailable';
      return { ok: false, code, message: decided.message };
    },
  });
  const authorize: Authorize = async ({ principal, action, entityId, context }) => {
    const decided = await permissions.authorize({
      principalId: principal.userId,
      principalType: 'user',
      entityId,
      action,
      context: { ...context, roles: principal.roles },
    });
    if (!decided.ok) return failure('unavailable', decided.message);
    if (decided.value.allowed) return success(undefined);
    const why = decided.value.reasons.join('; ');
    return failure('forbidden', `${action} on ${entityId} is not allowed${why === '' ? '' : `: ${why}`}`);
  };
  const chain = chainRuntime(config, log);
  const redisUrl = config.REDIS_URL;
  const prefix = `rwa:${new URL(databaseUrl).pathname.slice(1) || 'exchange'}`;
  const queues: (JobQueueSource & { close(): Promise<void> })[] = [];
  // /metrics reads these at scrape time (mailbox depth per market, jobs per queue and state).
  observe({ markets: () => supervisor.list(), jobQueues: queues });
  const noRedis = () => Promise.reject(new Error('REDIS_URL is not set: jobs cannot run'));
  const deployQueue =
    redisUrl === undefined
      ? undefined
      : await startJobQueue({
          name: 'deploy-token',
          redisUrl,
          prefix,
          payload: DeployTokenPayload,
          attempts: config.DEPLOY_ATTEMPTS,
          backoffMs: config.DEPLOY_BACKOFF_MS,
          log,
          run: ({ marketId }, attempt) => late.issuance!.runDeployment(marketId, attempt),
        });
  const allowlistQueue =
    redisUrl === undefined
      ? undefined
      : await startJobQueue({
          name: 'sync-allowlist',
          redisUrl,
          prefix,
          payload: SyncAllowlistPayload,
          attempts: 8,
          backoffMs: config.DEPLOY_BACKOFF_MS,
          log,
          run: async ({ asset, wallet, allowed }) => {
            const market = catalog.listMarkets().find((m) => m.definition.baseAsset === asset);
            const contract = market && late.issuance!.record(market.definition.id)?.contractAddress;
            // Not deployed yet: the deployment's own allowlist starts from the records then.
            if (contract === undefined) return;
            await (await chain.client()).setAllowlisted(contract, wallet, allowed);
          },
        });
  for (const queue of [deployQueue, allowlistQueue]) if (queue !== undefined) queues.push(queue);
  const priceSource = priceSourceOf(config);
  if (priceSource !== undefined && redisUrl !== undefined) {
    queues.push(
      await startReferencePriceJob({
        redisUrl,
        prefix,
        intervalMs: config.PRICE_FETCH_INTERVAL_MS,
        source: priceSource,
        log,
        markets: () => catalog.listMarkets(),
        store: (prices, fetchedAt) =>
          saveReferencePrices(
            pool,
            prices.map((p) => ({ marketId: p.marketId, price: p.price, sourceKey: p.sourceKey, fetchedAt })),
          ),
        onPrices: (prices) => {
          for (const { marketId, price } of prices) publish(marketData.setIndexPrice(marketId, price));
        },
      }),
    );
  }

  const issuance = new Issuance({
    catalog,
    supervisor,
    ledger,
    authorize,
    records: await loadMarketAssets(pool),
    store: {
      insertRegistration: (asset, market, record, registered) =>
        insertRegistration(pool, asset, market, record, registered),
      updateMarketAsset: (marketId, change) => updateMarketAsset(pool, marketId, change),
      // The transitions come from the journal through the projector: wait for what is committed.
      listMarketEvents: async (marketId) => {
        await projector.waitFor(projector.committedGlobalSeq, config.HISTORY_WAIT_MS);
        return listMarketEvents(pool, marketId);
      },
    },
    queue: {
      enqueueDeploy: (marketId, round) =>
        deployQueue === undefined
          ? noRedis()
          : deployQueue.enqueue(`deploy-${marketId}-${round}`, { marketId }),
    },
    deployer: {
      deploy: async (token, options) => {
        const client = await chain.client();
        return client.deployRwaToken(token, options);
      },
    },
    onMarketAdded: follow,
  });
  late.issuance = issuance;
  const complianceAdmin = new ComplianceAdmin({
    catalog,
    registry: compliance,
    save: (record, actorId) => saveComplianceRecord(pool, record, actorId),
    syncAllowlist: (asset, wallet, allowed) =>
      allowlistQueue === undefined
        ? noRedis()
        : allowlistQueue.enqueue(`allowlist-${asset}-${wallet}-${allowed}-${Date.now()}`, {
            asset,
            wallet,
            allowed,
          }),
    cancelOpenOrders: async (userId, asset) => {
      const trading = catalog
        .listMarkets()
        .filter((m) => m.definition.baseAsset === asset || m.definition.quoteAsset === asset);
      let count = 0;
      for (const market of trading) {
        const canceled = await orders.cancelAll({ userId, roles: ['trader'] }, market.definition.symbol, {
          exempt: true,
        });
        if (canceled.ok) count += canceled.value.count;
      }
      return count;
    },
  });

  const app = uWS.App();
  const ws = registerWebSocket(app, {
    auth,
    orders,
    catalog,
    marketData: {
      bookSnapshot: (symbol, depth) => publisher.bookSnapshot(symbol, depth),
      lifecycleSnapshot: (symbol) => publisher.lifecycleSnapshot(symbol),
      openOrders: (userId) => publisher.openOrders(userId),
      balances: (userId) => publisher.balances(userId),
      setAudience: (hasSubscribers) => {
        publisher.setAudience(hasSubscribers);
      },
      tickerSnapshot: (symbol) => marketData.tickerSnapshot(symbol),
      candleSnapshot: (symbol, interval) => marketData.candleSnapshot(symbol, interval),
    },
    limits: {
      maxFrameBytes: config.WS_MAX_FRAME_BYTES,
      maxBackpressureBytes: config.WS_MAX_BACKPRESSURE_BYTES,
      idleTimeoutSeconds: config.WS_IDLE_TIMEOUT_S,
      maxSubscriptions: config.WS_MAX_SUBSCRIPTIONS,
      framesPerSecond: config.WS_RATE_FRAMES_PER_S,
      framesBurst: config.WS_RATE_FRAMES_BURST,
      subsPerSecond: config.WS_RATE_SUBS_PER_S,
      subsBurst: config.WS_RATE_SUBS_BURST,
      snapshotBytesPerSecond: config.WS_RATE_SNAPSHOT_BYTES_PER_S,
      snapshotBytesBurst: config.WS_RATE_SNAPSHOT_BYTES_BURST,
      maxPendingRequests: config.WS_MAX_PENDING_REQUESTS,
      maxConnections: config.WS_MAX_CONNECTIONS,
      maxConnectionsPerIp: config.WS_MAX_CONNECTIONS_PER_IP,
      maxTrackedOrders: config.MAX_OPEN_ORDERS_PER_USER,
    },
    orderIsOpen: (userId, orderId) => userOrders.isOpen(userId, orderId),
    log,
    actors: inspection,
    cancelOnDisconnect: (principal: Principal, placed) => {
      for (const [orderId, market] of placed) {
        if (!userOrders.isOpen(principal.userId, orderId)) continue;
        orders.cancel(principal, { market, orderId }, (outcome) => {
          if (!outcome.ok && outcome.code !== 'not_found') {
            log.warn({ orderId, code: outcome.code }, 'cancel on disconnect failed');
          }
        });
      }
    },
  });
  publish = (publications) => {
    ws.publish(publications);
  };
  const httpRoutes = registerHttp(app, {
    auth,
    orders,
    admin,
    catalog,
    supervisor,
    ledger,
    marketData: publisher,
    candles: marketData,
    pool,
    maxBodyBytes: config.HTTP_MAX_BODY_BYTES,
    maxPendingRequests: config.HTTP_MAX_PENDING_REQUESTS,
    maxPendingPerIp: config.HTTP_MAX_PENDING_REQUESTS_PER_IP,
    bodyTimeoutMs: config.HTTP_BODY_TIMEOUT_MS,
    connections: ws.connections,
    issuance: { issuance, authorize },
    extraRoutes: [
      (route) => {
        registerComplianceRoutes(route, complianceAdmin);
      },
      (route) => {
        route(
          'post',
          '/api/v1/webhooks/entity-permissions',
          { body: 'raw', headers: ['x-signature', 'x-amz-sns-message-type'] },
          async ({ rawBody, headers, remoteAddress }) => {
            const answer = await integration.handleWebhook({
              sourceAddress: sourceKey(remoteAddress),
              rawBody: rawBody ?? Buffer.alloc(0),
              headers: {
                signature: headers['x-signature'] === '' ? undefined : headers['x-signature'],
                snsMessageType:
                  headers['x-amz-sns-message-type'] === '' ? undefined : headers['x-amz-sns-message-type'],
              },
              now: Date.now(),
            });
            return { status: answer.status, json: answer.body };
          },
        );
      },
    ],
    history: {
      caughtUp: () => projector.waitFor(projector.committedGlobalSeq, config.HISTORY_WAIT_MS),
      lag: () => ({ records: projector.lagRecords(), ms: projector.lagMs() }),
      maxWaitMs: config.HISTORY_WAIT_MS,
    },
    health: async () => ({
      redis: deployQueue === undefined ? 'not_configured' : await redisHealth(deployQueue),
      chain: await chain.health(),
    }),
    log,
  });

  // The dashboard and the visualizer, built before start (`npm run build:web`, which npm start,
  // npm test and npm run demo run first); the exchange serves what is there and builds nothing.
  registerStatic(app, {
    root: config.WEB_DIR,
    routes: { '/': 'dashboard/index.html', '/dev/actors': 'actors/index.html' },
    devOnly: { paths: ['/dev/actors'], enabled: devPagesEnabled(config.NODE_ENV) },
  });

  let listenSocket: UWS.us_listen_socket | undefined;
  // Everything this start opened, in reverse; the snapshot only after serving (a start that
  // could not listen leaves the database as recovery found it).
  const shutdown = async (snapshot: boolean): Promise<void> => {
    if (listenSocket !== undefined) uWS.us_listen_socket_close(listenSocket);
    inspection.stop();
    clearInterval(candleTimer);
    app.close();
    supervisor.stopExpiries();
    await supervisor.idle();
    await snapshots.stop();
    // Not once the ownership is lost: another exchange may own the database by now.
    const owned = ownership.lost() === undefined;
    if (snapshot && owned) {
      // Like the last projection round below: the journal holds everything, a snapshot only
      // shortens the next recovery, so a failure (after one retry) is a warning, not a failed stop.
      const take = () => takeSnapshot(pool, { supervisor, writer });
      await take()
        .catch(take)
        .then(
          (result) => {
            log.info(result, 'snapshot taken at shutdown');
          },
          (error: unknown) => {
            log.warn({ err: error }, 'no snapshot at shutdown; the next start replays the journal');
          },
        );
    }
    await writer.close();
    await marketDataSaver.stop();
    await projector.stop();
    // The last round is a courtesy (the next start catches up anyway): a pooled connection whose
    // backend Postgres ended (an outage just past) fails its first query, so one retry, then a warning.
    if (snapshot && owned) {
      await projector
        .runOnce()
        .catch(() => projector.runOnce())
        .catch((error: unknown) => {
          log.warn({ err: error }, 'projections not caught up at shutdown; the next start catches up');
        });
    }
    await integration.close();
    for (const queue of queues) await queue.close();
    await chain.close();
    await pool.end();
    await ownership.release();
  };
  try {
    listenSocket = await listenExclusive(app, config.HOST, config.PORT);
  } catch (error) {
    await shutdown(false);
    throw error;
  }
  const port = uWS.us_socket_local_port(listenSocket);
  // Only names us to a second exchange: a failure here is the lost ownership's to report.
  await ownership.recordPort(port).catch((error: unknown) => {
    log.warn({ err: error }, 'the owner record has no port');
  });
  log.info({ host: config.HOST, port }, 'gateway listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    catalog,
    supervisor,
    ledger,
    admin,
    auth,
    chain,
    issuance,
    recovered,
    httpRoutes,
    close: () => {
      closing ??= shutdown(true);
      return closing;
    },
  };
}

/** Redis answers (through the deploy queue's connection) within a second. */
async function redisHealth(queue: { pending(): Promise<number> }): Promise<'ok' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'down'>((resolve) => {
    timer = setTimeout(() => {
      resolve('down');
    }, 1_000);
  });
  try {
    return await Promise.race([
      queue.pending().then(
        () => 'ok' as const,
        () => 'down' as const,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
