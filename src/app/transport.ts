import type { Logger } from 'pino';
import type * as UWS from 'uWebSockets.js';
import type { Config } from '../config.ts';
import type { Principal } from '../services/principal.ts';
import { Authenticator } from '../transport/auth.ts';
import { registerWebSocket } from '../transport/gateway.ts';
import { registerHttp } from '../transport/http.ts';
import { registerFundingRoutes } from '../transport/http/funding.ts';
import { registerSettlementRoutes } from '../transport/http/settlement.ts';
import { registerComplianceRoutes } from '../transport/http/issuance.ts';
import type { RegisteredRoute } from '../transport/http/router.ts';
import { registerTrendRoutes } from '../transport/http/trends.ts';
import { registerWebhookRoutes } from '../transport/http/webhooks.ts';
import { registerBacktestRoutes } from '../transport/http/backtests.ts';
import { registerPortfolioRoutes } from '../transport/http/portfolio.ts';
import { registerMarketAnalyticsRoutes } from '../transport/http/marketAnalytics.ts';
import { registerLeaderboardRoutes } from '../transport/http/leaderboards.ts';
import { registerNotificationRoutes } from '../transport/http/notifications.ts';
import { registerDevSignIn } from '../transport/http/devSignIn.ts';
import { registerSystemRoute } from '../transport/http/system.ts';
import { registerFillRoutes } from '../transport/http/fills.ts';
import { clusterFigures, registerClusterRoute, type ClusterStatusBody } from '../transport/http/cluster.ts';
import { systemSnapshot } from './system.ts';
import { createMarketStatusFeed } from '../transport/marketStatus.ts';
import { startSystemPush } from '../transport/systemPush.ts';
import { ACTORS_TOPIC } from '../protocol/actors.ts';
import { listenExclusive } from '../transport/listen.ts';
import { devPagesEnabled, registerStatic } from '../transport/static.ts';
import uWS from '../transport/uws.ts';
import type { Consumers } from './consumers.ts';
import type { Core } from './core.ts';
import type { Jobs } from './jobs.ts';
import type { Services } from './services.ts';
import type { Storage } from './storage.ts';

/**
 * Stage 8 of the composition root: the uWS app with the WebSocket gateway (subscribed to the
 * consumers' pushes), the HTTP routes, the built web pages; then the exclusive listen.
 */
export interface Transport {
  readonly app: UWS.TemplatedApp;
  readonly auth: Authenticator;
  readonly httpRoutes: readonly RegisteredRoute[];
  /** Listens on HOST:PORT (exclusively): the port it got. */
  listen(): Promise<number>;
  /** Stops listening and closes every connection. */
  close(): void;
}

export function buildTransport(
  config: Config,
  log: Logger,
  core: Core,
  consumers: Consumers,
  services: Services,
  jobs: Jobs,
  storage: Storage,
  clusterStatus?: () => Promise<ClusterStatusBody>,
): Transport {
  const { catalog, supervisor, ledger } = core;
  const { publisher, marketData, userOrders, inspection } = consumers;
  const { orders, admin, issuance, authorize, complianceAdmin, history, integration, chain } = services;
  const app = uWS.App();
  const auth = new Authenticator(config.JWT_SECRET);
  // Issue 20: halted markets as `market_status` on the lifecycle channel. It publishes on a fault,
  // never before the gateway below exists.
  const marketStatus = createMarketStatusFeed((publications) => {
    ws.publish(publications);
  });
  const ws = registerWebSocket(app, {
    auth,
    orders,
    catalog,
    marketData: {
      bookSnapshot: (symbol, depth) => publisher.bookSnapshot(symbol, depth),
      lifecycleSnapshot: (symbol) => publisher.lifecycleSnapshot(symbol),
      marketStatusSnapshot: (symbol) => marketStatus.snapshot(symbol),
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
    onAuthenticated: (principal, origin) => {
      services.notifications.service
        .noteSession(principal.userId, origin.address, origin.device)
        .catch((error: unknown) => {
          log.warn({ err: error }, 'session origin not checked');
        });
    },
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
  consumers.pushes.subscribe((publications) => {
    ws.publish(publications);
  });
  core.inspections.subscribe(marketStatus.inspect);
  const readSystem = systemSnapshot({
    supervisor,
    writer: storage.writer,
    pool: storage.pool,
    queues: jobs.queues,
    chain,
    ...(clusterStatus === undefined ? {} : { cluster: async () => clusterFigures(await clusterStatus()) }),
    log,
  });
  // Issue 20: the same figures pushed to the visualizer while it listens (twice a second).
  const systemPush = startSystemPush({
    snapshot: readSystem,
    publish: (publications) => {
      ws.publish(publications);
    },
    listened: () => app.numSubscribers(ACTORS_TOPIC) > 0,
    everyMs: 500,
    log,
  });
  const deployQueue = jobs.deploy;
  const httpRoutes = registerHttp(app, {
    auth,
    orders,
    admin,
    catalog,
    supervisor,
    ledger,
    marketData: publisher,
    candles: marketData,
    history,
    maxBodyBytes: config.HTTP_MAX_BODY_BYTES,
    maxPendingRequests: config.HTTP_MAX_PENDING_REQUESTS,
    maxPendingPerIp: config.HTTP_MAX_PENDING_REQUESTS_PER_IP,
    bodyTimeoutMs: config.HTTP_BODY_TIMEOUT_MS,
    connections: ws.connections,
    issuance: { issuance, authorize, valuation: (marketId) => services.valuations.latest(marketId) },
    extraRoutes: [
      (route) => {
        registerComplianceRoutes(route, complianceAdmin);
      },
      (route) => {
        registerWebhookRoutes(route, integration);
      },
      (route) => {
        registerTrendRoutes(route, services.trends, services.valuations);
        registerFundingRoutes(route, services.funding);
        registerSettlementRoutes(route, {
          mints: services.funding.mints,
          settlements: services.funding.settlementStore,
          marketId: (idOrSymbol) => catalog.market(idOrSymbol)?.definition.id,
        });
        registerBacktestRoutes(route, services.analytics.backtests);
        registerPortfolioRoutes(route, services.analytics.portfolio, services.analytics.history);
        registerMarketAnalyticsRoutes(route, services.analytics.markets);
        registerLeaderboardRoutes(route, services.analytics.leaderboards);
        registerNotificationRoutes(route, services.notifications.service);
      },
      (route) => {
        registerDevSignIn(route, auth, config.NODE_ENV === 'development');
        registerFillRoutes(route, history, (idOrSymbol) => catalog.market(idOrSymbol));
        registerSystemRoute(route, readSystem);
        registerClusterRoute(
          route,
          clusterStatus ??
            (() =>
              Promise.resolve({
                role: 'all' as const,
                engines: [],
                markets: supervisor.list().map((m) => ({ marketId: m.id, symbol: m.symbol, owner: 'all' })),
                replicaGlobalSeq: storage.writer.stats().lastGlobalSeq,
              })),
        );
      },
    ],
    tradeSettlement: (marketId, tradeIds) => services.funding.tradeSettlement(marketId, tradeIds),
    health: async () => ({
      redis: deployQueue === undefined ? 'not_configured' : await redisHealth(deployQueue),
      chain: await chain.health(),
    }),
    log,
  });
  // The dashboard and the visualizer, built before start (`npm run build`, which npm start runs
  // first; npm test and npm run demo run `npm run build:web`); the exchange serves what is there.
  registerStatic(app, {
    root: config.WEB_DIR,
    routes: {
      '/': 'dashboard/index.html',
      '/dev/actors': 'actors/index.html',
      // Issue 20: the issuer's and the operator's pages (their data needs the roles, not the page).
      '/issuer': 'issuer/index.html',
      '/admin': 'admin/index.html',
    },
    devOnly: { paths: ['/dev/actors'], enabled: devPagesEnabled(config.NODE_ENV) },
  });

  let listenSocket: UWS.us_listen_socket | undefined;
  return {
    app,
    auth,
    httpRoutes,
    async listen() {
      listenSocket = await listenExclusive(app, config.HOST, config.PORT);
      return uWS.us_socket_local_port(listenSocket);
    },
    close() {
      systemPush.stop();
      if (listenSocket !== undefined) uWS.us_listen_socket_close(listenSocket);
      app.close();
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
