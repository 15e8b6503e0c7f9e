import type { Logger } from 'pino';
import { chainRuntime, type ChainRuntime } from '../chainRuntime.ts';
import type { Config } from '../config.ts';
import { startFunding, type Funding } from '../funding/index.ts';
import { createEntityPermissions } from '../integrations/config.ts';
import {
  startEntityPermissionsIntegration,
  type EntityPermissionsIntegration,
} from '../integrations/index.ts';
import { insertAsset, insertMarket } from '../persistence/catalogStore.ts';
import { ChainStore } from '../persistence/chainStore.ts';
import { saveComplianceRecord } from '../persistence/complianceStore.ts';
import { custodyKeys } from '../chain/custody.ts';
import { knownTokens } from '../funding/chainDeposits.ts';
import { ensureTestUsdc } from '../funding/testUsdc.ts';
import { insertRegistration, updateMarketAsset } from '../persistence/issuanceStore.ts';
import { listMarketEvents } from '../persistence/lifecycleHistory.ts';
import { failure } from '../protocol/errors.ts';
import { Admin } from '../services/admin.ts';
import { authorizeWith } from '../services/authorization.ts';
import { ComplianceAdmin } from '../services/complianceAdmin.ts';
import { History } from '../services/history.ts';
import { Issuance, type Authorize } from '../services/issuance.ts';
import { OrderEntry } from '../services/orderEntry.ts';
import type { Replica } from './cluster/replica.ts';
import { countOrder, countRejection } from '../transport/http/metrics.ts';
import { RateLimiter } from '../transport/rateLimit.ts';
import { startTrends } from '../trends/start.ts';
import { startTrendPullJob } from '../trends/trendPull.ts';
import { RwaValuations, startValuationJob } from '../trends/valuations.ts';
import type { TrendService } from '../trends/trendService.ts';
import { startAnalytics, type Analytics } from './analytics.ts';
import { startNotifications, type Notifications } from '../notifications/index.ts';
import type { Consumers } from './consumers.ts';
import type { Core } from './core.ts';
import type { Jobs } from './jobs.ts';
import { jobPlacement } from './roles.ts';
import type { Storage } from './storage.ts';

/**
 * Stage 7 of the composition root: the application services (src/services), each handed what it
 * uses; then the workers of the job queues, which run service methods; then the entity-permissions
 * integration, whose webhook and polling decisions go through issuance.
 */
export interface Services {
  readonly orders: OrderEntry;
  readonly admin: Admin;
  readonly issuance: Issuance;
  readonly authorize: Authorize;
  readonly complianceAdmin: ComplianceAdmin;
  readonly history: History;
  readonly integration: EntityPermissionsIntegration;
  readonly chain: ChainRuntime;
  readonly trends: TrendService;
  readonly valuations: RwaValuations;
  /** The pull-trends and update-token-metadata jobs (when configured), closed at shutdown. */
  readonly trendJobs: readonly { close(): Promise<void> }[];
  /** Fiat deposits, provider webhooks, withdrawals (src/funding, issue 15). */
  readonly funding: Funding;
  readonly analytics: Analytics;
  readonly notifications: Notifications;
}

export async function buildServices(
  config: Config & { readonly DATABASE_URL: string },
  log: Logger,
  storage: Storage,
  core: Core,
  consumers: Consumers,
  jobs: Jobs,
  cluster?: Pick<Replica, 'route' | 'ledger' | 'submit' | 'catalogChanged'>,
): Promise<Services> {
  const { pool } = storage;
  const { catalog, supervisor, ledger, compliance, records } = core;
  const { projector, publisher, userOrders, follow } = consumers;
  const maxLag = config.PROJECTION_MAX_LAG_RECORDS;
  const orders = new OrderEntry({
    catalog,
    supervisor,
    route: cluster?.route,
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
    ledgerEntry: cluster?.ledger,
    submit: cluster?.submit,
    ledger,
    // In a cluster, every engine and gateway loads the new rows (src/app/cluster/catalogSync.ts).
    store: {
      insertAsset: async (asset) => {
        await insertAsset(pool, asset);
        cluster?.catalogChanged();
      },
      insertMarket: async (market) => {
        await insertMarket(pool, market);
        cluster?.catalogChanged();
      },
    },
    onMarketAdded: follow,
  });
  const history = new History({
    pool,
    progress: {
      caughtUp: () => projector.waitFor(projector.committedGlobalSeq, config.HISTORY_WAIT_MS),
      lag: () => ({ records: projector.lagRecords(), ms: projector.lagMs() }),
      maxWaitMs: config.HISTORY_WAIT_MS,
    },
    openOrders: (userId, marketId) => publisher.openOrders(userId, marketId),
    market: (marketId) => catalog.market(marketId),
  });

  const noRedis = () => Promise.reject(new Error('REDIS_URL is not set: jobs cannot run'));
  const chain = chainRuntime(config, log);
  const authorize = authorizeWith(createEntityPermissions(config).permissions);
  const { deploy, allowlist } = jobs;
  const custody = new ChainStore(pool, config.CHAIN_ID);
  const custodyKeyring = custodyKeys(config.CHAIN_CUSTODY_MNEMONIC);
  const issuance = new Issuance({
    catalog,
    supervisor,
    ledgerEntry: cluster?.ledger,
    submit: cluster?.submit,
    ledger,
    authorize,
    records,
    store: {
      insertRegistration: async (asset, market, record, registered) => {
        await insertRegistration(pool, asset, market, record, registered);
        cluster?.catalogChanged();
      },
      updateMarketAsset: (marketId, change) => updateMarketAsset(pool, marketId, change),
      // The transitions come from the journal through the projector: wait for what is committed.
      listMarketEvents: async (marketId) => {
        await projector.waitFor(projector.committedGlobalSeq, config.HISTORY_WAIT_MS);
        return listMarketEvents(pool, marketId);
      },
    },
    queue: {
      enqueueDeploy: (marketId, round) =>
        deploy === undefined ? noRedis() : deploy.enqueue(`deploy-${marketId}-${round}`, { marketId }),
    },
    deployer: {
      deploy: async (token, options) => (await chain.client()).deployRwaToken(token, options),
      setAllowlisted: async (contract, wallet, allowed) => {
        await (await chain.client()).setAllowlisted(contract, wallet, allowed);
      },
    },
    onMarketAdded: follow,
    // Primary issuance (issue 16): the supply goes to the issuer's deposit address and account.
    issuerAddress: async (issuerId) =>
      (await custody.allocateCustody(issuerId, (index) => custodyKeyring.address(index))).address,
  });
  const syncAllowlist = (asset: string, wallet: string, allowed: boolean) =>
    allowlist === undefined
      ? noRedis()
      : allowlist.enqueue(`allowlist-${asset}-${wallet}-${allowed}-${Date.now()}`, {
          asset,
          wallet,
          allowed,
        });
  const complianceAdmin = new ComplianceAdmin({
    catalog,
    registry: compliance,
    save: async (record, actorId) => {
      await saveComplianceRecord(pool, record, actorId);
      cluster?.catalogChanged();
    },
    syncAllowlist,
    cancelOpenOrders: (userId, asset) => orders.cancelHolding(userId, asset),
    custodyAddress: async (userId) => (await custody.custody(userId))?.address,
  });

  await deploy?.work(({ marketId }, attempt) => issuance.runDeployment(marketId, attempt));
  await allowlist?.work((job) => issuance.syncAllowlist(job));
  const integration = startEntityPermissionsIntegration({
    config,
    pool,
    log,
    decide: (decision) => issuance.decideDelivered(decision),
  });
  // Trend markets (issue 19): listed through the admin, priced on every metrics update.
  const trendLimiter = new RateLimiter(config.TRENDS_RATE_PER_S, config.TRENDS_RATE_BURST);
  const trends = await startTrends({
    config,
    log,
    pool,
    sink: storage.writer,
    publish: (batch) => {
      core.committed.publish(batch);
    },
    catalog,
    admin,
    setIndexPrice: (marketId, price) => {
      consumers.pushes.emit(consumers.marketData.setIndexPrice(marketId, price));
    },
    volume24h: (marketId) => consumers.marketData.tickerSnapshot(marketId)?.volume24h,
    allow: (subject) => trendLimiter.take(subject),
  });
  const valuations = new RwaValuations({
    pool,
    catalog,
    records: core.records,
    setIndexPrice: (marketId, price) => {
      consumers.pushes.emit(consumers.marketData.setIndexPrice(marketId, price));
    },
    log,
  });
  await valuations.start();
  const trendJobs: { close(): Promise<void> }[] = [];
  const { REDIS_URL: redisUrl, TREND_SOURCES: trendSources, RWA_VALUATION_SOURCE_URL: valuationUrl } = config;
  if (redisUrl !== undefined && trendSources !== undefined) {
    trendJobs.push(
      await startTrendPullJob({
        redisUrl,
        prefix: jobs.prefix,
        placement: jobPlacement(config.ROLE),
        intervalMs: config.TREND_PULL_INTERVAL_MS,
        sources: trendSources,
        trends,
        log,
      }),
    );
  }
  if (redisUrl !== undefined && valuationUrl !== undefined) {
    trendJobs.push(
      await startValuationJob({
        redisUrl,
        prefix: jobs.prefix,
        placement: jobPlacement(config.ROLE),
        intervalMs: config.RWA_VALUATION_INTERVAL_MS,
        url: valuationUrl,
        valuations,
        log,
      }),
    );
  }
  const analytics = await startAnalytics(config, log, storage, core, consumers, jobs.backtests);
  // Notifications: the notifier (a durable consumer), in-app pushes, the channels' queues.
  const notifications = await startNotifications({
    config,
    log,
    pool,
    catalog,
    publish: consumers.consumerPushes.emit,
    flushed: storage.flushed,
    prefix: jobs.prefix,
    placement: jobPlacement(config.ROLE),
    gate: storage.consumerGate,
  });
  if (config.CHAIN_TEST_USDC)
    await ensureTestUsdc({
      chain: () => chain.client(),
      asset: (symbol) => catalog.asset(symbol),
      createAsset: (asset) => admin.createAsset(asset),
      log,
    });
  const funding = await startFunding({
    config,
    placement: jobPlacement(config.ROLE),
    log,
    pool,
    catalog,
    supervisor,
    ledgerEntry: cluster?.ledger,
    committed: core.committed,
    pushes: consumers.pushes.emit,
    chain: {
      client: () => chain.client(),
      tokens: () => knownTokens(catalog.listAssets(), core.records.all()),
      refusal: (userId, asset) => compliance.refusal(userId, asset, false, Date.now()),
      ledgerBalance: (userId, asset) => {
        const { available, locked } = ledger.balance(userId, asset);
        return available + locked;
      },
      // A new deposit address joins the allowlists its owner's compliance records grant.
      onAddressAssigned: async (userId, address) => {
        for (const record of compliance.forUser(userId))
          if (record.allowlisted) await syncAllowlist(record.asset, address, true);
      },
      market: (marketId) => catalog.market(marketId)?.definition,
      // Minting (issue 16): an RWA market's issuer and token; active once its token is deployed.
      mintMarket: (marketId) => {
        const market = catalog.market(marketId);
        const record = market === undefined ? undefined : records.get(market.definition.id);
        if (market === undefined || record === undefined) return undefined;
        return {
          marketId: market.definition.id,
          issuerId: record.issuerId,
          tokenSymbol: record.tokenSymbol,
          decimals: catalog.asset(record.tokenSymbol)?.decimals ?? 18,
          contractAddress: record.contractAddress,
          active: supervisor.actor(market.definition.symbol)?.state === 'active',
        };
      },
      onSupply: (marketId, totalSupply) => issuance.supplyRaised(marketId, totalSupply),
    },
  });
  return {
    orders,
    admin,
    issuance,
    authorize,
    complianceAdmin,
    history,
    integration,
    chain,
    trends,
    valuations,
    trendJobs,
    funding,
    analytics,
    notifications,
  };
}
