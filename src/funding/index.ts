import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import type { Catalog } from '../actors/catalog.ts';
import type { Supervisor } from '../actors/supervisor.ts';
import type { Config } from '../config.ts';
import { openJobQueue, type OpenedJobQueue } from '../jobs/queue.ts';
import type { CommittedEventStream } from '../events/stream.ts';
import type { Publication } from '../protocol/topics.ts';
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
  deps.committed.subscribe(fundingPushes((symbol) => catalog.asset(symbol)?.decimals, deps.pushes));

  let queue: OpenedJobQueue<typeof ProcessWithdrawalPayload> | undefined;
  if (config.REDIS_URL !== undefined) {
    queue = await openJobQueue({
      name: 'process-withdrawal',
      redisUrl: config.REDIS_URL,
      prefix: `rwa:${new URL(config.DATABASE_URL).pathname.slice(1) || 'exchange'}`,
      payload: ProcessWithdrawalPayload,
      attempts: config.WITHDRAWAL_ATTEMPTS,
      backoffMs: config.WITHDRAWAL_BACKOFF_MS,
      log,
    });
  }
  const rails: PayoutRail[] = [...(deps.rails ?? [])];
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
  log.info({ providers: configured(providers), rails: rails.map((r) => r.name), repaired }, 'funding ready');
  return {
    deposits,
    webhooks,
    withdrawals,
    webhookRate: { perSecond: config.FUNDING_WEBHOOK_RATE_PER_S, burst: config.FUNDING_WEBHOOK_RATE_BURST },
    close: async () => {
      await queue?.close();
    },
  };
}
