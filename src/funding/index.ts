import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import type { Catalog } from '../actors/catalog.ts';
import type { Supervisor } from '../actors/supervisor.ts';
import type { Config } from '../config.ts';
import { openJobQueue, type OpenedJobQueue } from '../jobs/queue.ts';
import type { CommittedEventStream } from '../events/stream.ts';
import type { Publication } from '../protocol/topics.ts';
import type { ChainClient } from '../chain/client.ts';
import { custodyKeys } from '../chain/custody.ts';
import { ChainStore } from '../persistence/chainStore.ts';
import { ChainDeposits, SyncBlockchainPayload, type ChainToken } from './chainDeposits.ts';
import { ChainPayouts } from './chainPayouts.ts';
import { ReconcileChainPayload, Reconciliation } from './reconciliation.ts';
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
  /** Provider notifications per source address (the webhook routes' rate limit). */
  readonly webhookRate: { readonly perSecond: number; readonly burst: number };
  /** Stops the worker and closes the queue (shutdown). */
  close(): Promise<void>;
}

export interface FundingDeps {
  readonly config: Config & { readonly DATABASE_URL: string };
  readonly log: Logger;
  readonly pool: DatabasePool;
  readonly catalog: Catalog;
  readonly supervisor: Supervisor;
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
  };
}

export async function startFunding(deps: FundingDeps): Promise<Funding> {
  const { config, pool, catalog, supervisor } = deps;
  const log = deps.log.child({ area: 'funding' });
  const store = new FundingStore(pool);
  const providers = providersOf(config);
  const fund = supervisor.fund.bind(supervisor);
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
  const reconciliation = new Reconciliation({
    chain: deps.chain.client,
    store: chainStore,
    tokens: deps.chain.tokens,
    ledgerBalance: deps.chain.ledgerBalance,
    log: log.child({ job: 'reconcile-chain' }),
  });
  const prefix = `rwa:${new URL(config.DATABASE_URL).pathname.slice(1) || 'exchange'}`;
  if (config.REDIS_URL !== undefined) {
    queue = await openJobQueue({
      name: 'process-withdrawal',
      redisUrl: config.REDIS_URL,
      prefix,
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
  log.info({ providers: configured(providers), rails: rails.map((r) => r.name), repaired }, 'funding ready');
  return {
    deposits,
    webhooks,
    withdrawals,
    chain,
    reconciliation,
    webhookRate: { perSecond: config.FUNDING_WEBHOOK_RATE_PER_S, burst: config.FUNDING_WEBHOOK_RATE_BURST },
    close: async () => {
      await reconcileQueue?.close();
      await syncQueue?.close();
      await queue?.close();
    },
  };
}
