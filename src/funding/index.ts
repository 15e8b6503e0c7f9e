import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import type { Catalog } from '../actors/catalog.ts';
import type { LedgerEntry, Supervisor } from '../actors/supervisor.ts';
import type { Config } from '../config.ts';
import { openJobQueue, type JobPlacement, type OpenedJobQueue } from '../jobs/queue.ts';
import type { CommittedEventStream } from '../events/stream.ts';
import type { Publication } from '../protocol/topics.ts';
import type { ChainClient } from '../chain/client.ts';
import { custodyKeys } from '../chain/custody.ts';
import { ChainStore } from '../persistence/chainStore.ts';
import { ChainDeposits, SyncBlockchainPayload, type ChainToken } from './chainDeposits.ts';
import { ChainPayouts } from './chainPayouts.ts';
import { ReconcileChainPayload, Reconciliation } from './reconciliation.ts';
import { DurableConsumerRunner } from '../persistence/durableConsumers.ts';
import { SettlementStore } from '../persistence/settlementStore.ts';
import { MintTokenPayload, Mints, type MintMarket } from './mints.ts';
import {
  ChainSettlement,
  ExecuteSettlementPayload,
  SettlementConsumer,
  type SettledMarket,
} from './settlement.ts';
import { Deposits } from './deposits.ts';
import { fundingPushes } from './pushes.ts';
import { PaystackPayouts, type PayoutRail } from './payouts.ts';
import { configured, providersOf } from './providers/index.ts';
import { FundingStore } from './store.ts';
import { FundingWebhooks } from './webhooks.ts';
import { ProcessWithdrawalPayload, Withdrawals } from './withdrawals.ts';

/*
 * Fiat funding (issue 15), built in one call from the composition root's stage 7 (services): the
 * deposits and their providers' webhooks, withdrawals and the `process-withdrawal` queue and
 * worker. At start the rows are reconciled with the journal (through the supervisor's funding
 * register) and payouts a dead worker left are resumed.
 */

export interface Funding {
  readonly deposits: Deposits;
  readonly webhooks: FundingWebhooks;
  readonly withdrawals: Withdrawals;
  /** Custody addresses and chain deposits (issue 16). */
  readonly chain: ChainDeposits;
  /** On-chain balances of the deposit addresses against the ledger (GET /admin/reconciliation). */
  readonly reconciliation: Reconciliation;
  /** Settlement rounds and mints in Postgres (GET /admin/settlements, the trades' `settlement`). */
  readonly settlementStore: SettlementStore;
  /** execute-blockchain-settlement (when the chain is configured; tests call `run` directly). */
  readonly settlement: ChainSettlement | undefined;
  /** POST /markets/:id/mint and the mint-token job. */
  readonly mints: Mints;
  /** The trades' `settlement` (GET /markets/:id/trades); undefined for a market without tokens. */
  tradeSettlement(
    marketId: string,
    tradeIds: readonly string[],
  ): Promise<
    Map<string, { settlement: 'pending' | 'settled' | 'failed'; settlementTx?: string }> | undefined
  >;
  /** Provider notifications per source address (the webhook routes' rate limit). */
  readonly webhookRate: { readonly perSecond: number; readonly burst: number };
  /** Stops the worker and closes the queue (shutdown). */
  close(): Promise<void>;
}

export interface FundingDeps {
  readonly config: Config & { readonly DATABASE_URL: string };
  /** Where the queues' work runs (src/app/roles.ts); default here. */
  readonly placement?: JobPlacement;
  readonly log: Logger;
  readonly pool: DatabasePool;
  readonly catalog: Catalog;
  readonly supervisor: Supervisor;
  /** Where funding commands go (default the supervisor; a gateway's: the `@ledger` owner engine). */
  readonly ledgerEntry?: LedgerEntry;
  /** The committed event stream (the `funding` channel's pushes come from it). */
  readonly committed: CommittedEventStream;
  /** Where pushes go (the gateway subscribes to it). */
  readonly pushes: (publications: readonly Publication[]) => void;
  /** More payout rails (the on-chain issue's); the fiat rail (Paystack) is added when configured. */
  readonly rails?: readonly PayoutRail[];
  /** The exchange's chain (custody addresses, the sync-blockchain job). */
  readonly chain: {
    readonly client: () => Promise<ChainClient>;
    /** The tokens to follow (bound assets and deployed RWA tokens). */
    readonly tokens: () => readonly ChainToken[];
    /** The ledger's balance of a user in an asset, available + locked (reconciliation). */
    readonly ledgerBalance: (userId: string, asset: string) => bigint;
    /** Why the user may not move this RWA now (compliance), or undefined. */
    readonly refusal: (userId: string, asset: string) => string | undefined;
    /** A user got a deposit address: allowlist it where their compliance says so. */
    readonly onAddressAssigned?: (userId: string, address: string) => Promise<void>;
    /** A market's assets (settlement rounds take the trades of markets with tokens). */
    readonly market: (marketId: string) => SettledMarket | undefined;
    /** An RWA market's issuer and token (POST /markets/:id/mint). */
    readonly mintMarket: (marketId: string) => MintMarket | undefined;
    /** A mint raised the token's totalSupply on chain to this. */
    readonly onSupply?: (marketId: string, totalSupply: bigint) => Promise<void>;
  };
}

export async function startFunding(deps: FundingDeps): Promise<Funding> {
  const { config, pool, catalog, supervisor } = deps;
  const log = deps.log.child({ area: 'funding' });
  const store = new FundingStore(pool);
  const providers = providersOf(config);
  const entry = deps.ledgerEntry ?? supervisor;
  const fund = entry.fund.bind(entry);
  const asset = (symbol: string) => catalog.asset(symbol);
  const deposits = new Deposits({
    store,
    providers,
    asset,
    fund,
    journaled: (id) => supervisor.funding.depositStatus(id),
    maxPendingPerUser: config.FUNDING_MAX_PENDING_DEPOSITS_PER_USER,
    publicUrl: config.FUNDING_PUBLIC_URL,
    log,
  });
  const webhooks = new FundingWebhooks(deposits, providers);
  const chainStore = new ChainStore(pool, config.CHAIN_ID);
  const keys = custodyKeys(config.CHAIN_CUSTODY_MNEMONIC);
  const chain = new ChainDeposits({
    chain: deps.chain.client,
    chainId: config.CHAIN_ID,
    store: chainStore,
    keys,
    deposits,
    tokens: deps.chain.tokens,
    confirmations: config.CHAIN_CONFIRMATIONS,
    pageBlocks: config.CHAIN_SYNC_PAGE_BLOCKS,
    maxPages: config.CHAIN_SYNC_MAX_PAGES,
    startBlock: config.CHAIN_SYNC_START_BLOCK,
    ...(deps.chain.onAddressAssigned === undefined
      ? {}
      : { onAddressAssigned: deps.chain.onAddressAssigned }),
    log: log.child({ job: 'sync-blockchain' }),
  });
  deps.committed.subscribe(fundingPushes((symbol) => catalog.asset(symbol)?.decimals, deps.pushes));

  let queue: OpenedJobQueue<typeof ProcessWithdrawalPayload> | undefined;
  let syncQueue: OpenedJobQueue<typeof SyncBlockchainPayload> | undefined;
  let reconcileQueue: OpenedJobQueue<typeof ReconcileChainPayload> | undefined;
  let settlementQueue: OpenedJobQueue<typeof ExecuteSettlementPayload> | undefined;
  let mintQueue: OpenedJobQueue<typeof MintTokenPayload> | undefined;
  const settlementStore = new SettlementStore(pool, config.CHAIN_ID);
  const address = async (userId: string) =>
    (await chainStore.allocateCustody(userId, (index) => keys.address(index))).address;
  const mints = new Mints({
    chain: deps.chain.client,
    store: settlementStore,
    market: deps.chain.mintMarket,
    address,
    fund,
    enqueue: (mintId) =>
      mintQueue === undefined
        ? Promise.reject(new Error('REDIS_URL is not set: mints cannot run'))
        : mintQueue.enqueue(`mint-${mintId}`, { mintId }),
    ...(deps.chain.onSupply === undefined ? {} : { onSupply: deps.chain.onSupply }),
    confirmations: config.CHAIN_CONFIRMATIONS,
    log: log.child({ job: 'mint-token' }),
  });
  let formRounds: (() => Promise<unknown>) | undefined;
  const reconciliation = new Reconciliation({
    chain: deps.chain.client,
    store: chainStore,
    tokens: deps.chain.tokens,
    ledgerBalance: deps.chain.ledgerBalance,
    log: log.child({ job: 'reconcile-chain' }),
    // With settlement on: the rounds of what is committed first, then their unsettled movements.
    unsettled: async () => {
      if (formRounds === undefined) return new Map();
      await formRounds();
      const deltas = await settlementStore.unsettledDeltas();
      return new Map(deltas.map((d) => [`${d.account}\u0000${d.asset}`, d.amount]));
    },
  });
  const prefix = `rwa:${new URL(config.DATABASE_URL).pathname.slice(1) || 'exchange'}`;
  if (config.REDIS_URL !== undefined) {
    queue = await openJobQueue({
      name: 'process-withdrawal',
      redisUrl: config.REDIS_URL,
      prefix,
      placement: deps.placement,
      payload: ProcessWithdrawalPayload,
      attempts: config.WITHDRAWAL_ATTEMPTS,
      backoffMs: config.WITHDRAWAL_BACKOFF_MS,
      log,
    });
  }
  const rails: PayoutRail[] = [
    ...(deps.rails ?? []),
    new ChainPayouts({
      chain: deps.chain.client,
      store: chainStore,
      keys,
      token: (asset) => deps.chain.tokens().find((t) => t.asset === asset.symbol),
      refusal: deps.chain.refusal,
      confirmations: config.CHAIN_CONFIRMATIONS,
    }),
  ];
  if (providers.paystack !== undefined) rails.push(new PaystackPayouts(providers.paystack.client));
  const withdrawals = new Withdrawals({
    store,
    rails,
    asset,
    fund,
    journaled: (id) => supervisor.funding.withdrawal(id),
    enqueue: (withdrawalId) =>
      queue === undefined
        ? Promise.reject(new Error('REDIS_URL is not set: withdrawals cannot be paid out'))
        : queue.enqueue(`withdrawal-${withdrawalId}`, { withdrawalId }),
    log,
  });

  const repaired = await deposits.reconcile();
  await withdrawals.resume(supervisor.funding.openWithdrawals());
  await queue?.work(({ withdrawalId }, attempt) => withdrawals.process(withdrawalId, attempt));
  // sync-blockchain: only against a configured chain (a local anvil is started on first use, which
  // an exchange that never touches the chain should not pay for).
  const onChain = config.CHAIN_RPC_URL !== undefined || config.CHAIN_TEST_USDC;
  if (config.REDIS_URL !== undefined && onChain && config.CHAIN_SYNC_INTERVAL_MS > 0) {
    syncQueue = await openJobQueue({
      name: 'sync-blockchain',
      redisUrl: config.REDIS_URL,
      prefix,
      placement: deps.placement,
      payload: SyncBlockchainPayload,
      attempts: 1,
      schedule: { everyMs: config.CHAIN_SYNC_INTERVAL_MS, data: {} },
      concurrency: 1,
      logDone: 'debug',
      log,
    });
    await syncQueue.work(async () => {
      await chain.sync();
    });
    reconcileQueue = await openJobQueue({
      name: 'reconcile-chain',
      redisUrl: config.REDIS_URL,
      prefix,
      placement: deps.placement,
      payload: ReconcileChainPayload,
      attempts: 1,
      schedule: { everyMs: config.CHAIN_RECONCILE_INTERVAL_MS, data: {} },
      concurrency: 1,
      logDone: 'debug',
      log,
    });
    await reconcileQueue.work(async () => {
      await reconciliation.run();
    });
  }
  if (config.REDIS_URL !== undefined) {
    mintQueue = await openJobQueue({
      name: 'mint-token',
      redisUrl: config.REDIS_URL,
      prefix,
      placement: deps.placement,
      payload: MintTokenPayload,
      attempts: config.MINT_ATTEMPTS,
      backoffMs: config.MINT_BACKOFF_MS,
      log,
    });
    await mintQueue.work(({ mintId }, attempt) => mints.run(mintId, attempt));
    // Mints a dead worker (or a job out of attempts) left unfinished: queued again, under a new id.
    const queued = mintQueue;
    const resumedAt = Date.now();
    for (const mintId of await settlementStore.openMints(1_000))
      await queued.enqueue(`mint-${mintId}-resumed-${resumedAt}`, { mintId });
  }
  // execute-blockchain-settlement: where sync-blockchain runs (a configured chain).
  let settlement: ChainSettlement | undefined;
  if (config.REDIS_URL !== undefined && onChain && config.SETTLEMENT_INTERVAL_MS > 0) {
    const consumer = new SettlementConsumer({
      store: settlementStore,
      market: deps.chain.market,
      tokens: deps.chain.tokens,
      maxTradesPerRound: config.SETTLEMENT_ROUND_MAX_TRADES,
    });
    const runner = new DurableConsumerRunner(pool, consumer, {
      pageSize: config.SETTLEMENT_ROUND_MAX_TRADES,
      onError: (error) => log.error({ err: error }, 'settlement rounds not formed'),
    });
    formRounds = () => runner.runOnce();
    settlement = new ChainSettlement({
      chain: deps.chain.client,
      store: settlementStore,
      custody: chainStore,
      keys,
      tokens: deps.chain.tokens,
      formRounds: () => runner.runOnce(),
      refusal: deps.chain.refusal,
      confirmations: config.CHAIN_CONFIRMATIONS,
      attempts: config.SETTLEMENT_ATTEMPTS,
      backoffMs: config.SETTLEMENT_BACKOFF_MS,
      maxRoundsPerRun: 20,
      log: log.child({ job: 'execute-blockchain-settlement' }),
    });
    const executor = settlement;
    settlementQueue = await openJobQueue({
      name: 'execute-blockchain-settlement',
      redisUrl: config.REDIS_URL,
      prefix,
      placement: deps.placement,
      payload: ExecuteSettlementPayload,
      attempts: 1,
      schedule: { everyMs: config.SETTLEMENT_INTERVAL_MS, data: {} },
      concurrency: 1,
      logDone: 'debug',
      keepEnded: 100,
      log,
    });
    await settlementQueue.work(async () => {
      await executor.run();
    });
  }
  log.info({ providers: configured(providers), rails: rails.map((r) => r.name), repaired }, 'funding ready');
  return {
    deposits,
    webhooks,
    withdrawals,
    chain,
    reconciliation,
    settlementStore,
    settlement,
    mints,
    async tradeSettlement(marketId, tradeIds) {
      const market = deps.chain.market(marketId);
      if (settlement === undefined || market === undefined) return undefined;
      const tokens = new Set(deps.chain.tokens().map((t) => t.asset));
      if (!tokens.has(market.baseAsset) && !tokens.has(market.quoteAsset)) return undefined;
      const known = await settlementStore.ofTrades(pool, tradeIds);
      type Shown = { settlement: 'pending' | 'settled' | 'failed'; settlementTx?: string };
      return new Map(
        tradeIds.map((id): [string, Shown] => {
          const row = known.get(id);
          if (row?.status === 'settled')
            return [
              id,
              { settlement: 'settled', ...(row.txHash === undefined ? {} : { settlementTx: row.txHash }) },
            ];
          return [id, { settlement: row?.status === 'failed' ? 'failed' : 'pending' }];
        }),
      );
    },
    webhookRate: { perSecond: config.FUNDING_WEBHOOK_RATE_PER_S, burst: config.FUNDING_WEBHOOK_RATE_BURST },
    close: async () => {
      await settlementQueue?.close();
      await mintQueue?.close();
      await reconcileQueue?.close();
      await syncQueue?.close();
      await queue?.close();
    },
  };
}
