import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { Asset } from '../actors/catalog.ts';
import type { FundingCommand } from '../actors/funding/index.ts';
import { formatAssetAmount, parseAssetAmount } from '../actors/money.ts';
import type { FundingOutcome } from '../actors/supervisor.ts';
import { errorText, failure, success, type Outcome } from '../protocol/errors.ts';
import { ProviderUnavailable } from './providers/http.ts';
import type { Providers } from './providers/index.ts';
import { ozowRedirectUrl } from './providers/ozow.ts';
import { payfastFormFields } from './providers/payfast.ts';
import { KeyedSerializer } from './serialize.ts';
import type { DepositProvider, DepositRow, FundingStore, PagePosition, Provider } from './store.ts';

/*
 * Fiat deposits (PROTOCOL v1.1, Funding). POST /deposits opens a pending deposit with the chosen
 * provider; the provider's notification (webhooks.ts parses and authenticates it) comes to
 * `settle`, which confirms it with the provider's API and credits the ledger through the journal
 * exactly once:
 *   - one settle at a time per deposit (KeyedSerializer), so concurrent duplicates see the first's
 *     outcome instead of racing it;
 *   - the credit is the `@ledger` deposit_credit command keyed by the deposit id, which the
 *     supervisor's funding register refuses a second time (also after a restart: recovery rebuilds
 *     the register from the journal), so even two exchanges' worth of retries cannot credit twice.
 * A deposit's row follows the journal (written after its commit; `reconcile` repairs the rows at
 * start when the process died in between).
 */

/** Fiat assets funded through providers: 2 decimals, so a minor unit is the providers' subunit. */
export const FIAT_DECIMALS = 2;
/** Currencies PayFast and Ozow take (South African rand). */
const RAND_ONLY = ['ZAR'];

export interface DepositsOptions {
  readonly store: FundingStore;
  readonly providers: Providers;
  readonly asset: (symbol: string) => Asset | undefined;
  /** The supervisor's funding path (journaled `@ledger` command). */
  readonly fund: (command: FundingCommand, ts: number) => Promise<FundingOutcome>;
  /** The funding register's word on a deposit (credited or failed, as journaled). */
  readonly journaled: (depositId: string) => 'completed' | 'failed' | undefined;
  readonly maxPendingPerUser: number;
  /** FUNDING_PUBLIC_URL, when set. */
  readonly publicUrl: string | undefined;
  readonly log: Logger;
  readonly clock?: () => number;
}

export interface DepositRequest {
  readonly asset: string;
  readonly amount: string;
  readonly provider: Provider;
  readonly email?: string | undefined;
  readonly returnUrl?: string | undefined;
}

export interface DepositCreated {
  readonly id: string;
  readonly status: 'pending';
  readonly provider: Provider;
  readonly reference: string;
  readonly asset: string;
  readonly amount: string;
  readonly redirectUrl: string;
  readonly formFields?: Record<string, string>;
}

export interface DepositView {
  readonly id: string;
  readonly status: DepositRow['status'];
  readonly provider: DepositProvider;
  /** A provider's reference; a chain deposit has `txHash` instead. */
  readonly reference?: string;
  readonly txHash?: string;
  readonly asset: string;
  readonly amount: string;
  readonly createdAt: number;
  readonly completedAt?: number;
  readonly failureReason?: string;
}

/** What a provider's notification claims (authenticated already), in the deposit's terms. */
export interface Notice {
  readonly provider: Provider;
  readonly reference: string;
  /** The amount in minor units, when the notification names one (undefined: unreadable or absent). */
  readonly amount: bigint | undefined;
  readonly currency: string | undefined;
  /** `paid`: says the payment succeeded; `failed`: says it failed for good; `other`: neither. */
  readonly outcome: 'paid' | 'failed' | 'other';
  readonly statusText: string;
  readonly sourceAddress: string;
}

/** The provider's own answer about the deposit (its API), in the deposit's terms. */
export interface Confirmation {
  readonly outcome: 'paid' | 'failed' | 'pending' | 'unknown';
  readonly amount: bigint | undefined;
  readonly currency: string | undefined;
  readonly statusText: string;
}

export type Settled =
  | { readonly kind: 'credited' | 'duplicate'; readonly depositId: string }
  /** Nothing credited, reason recorded; `final` when the deposit failed for good. */
  | {
      readonly kind: 'refused';
      readonly depositId: string | undefined;
      readonly reason: string;
      readonly final: boolean;
    }
  /** The provider's API or the journal could not be reached: nothing changed, a retry may credit. */
  | { readonly kind: 'retry'; readonly depositId: string; readonly reason: string };

export class Deposits {
  readonly #settling = new KeyedSerializer();
  readonly #clock: () => number;

  constructor(private readonly options: DepositsOptions) {
    this.#clock = options.clock ?? Date.now;
  }

  async create(userId: string, request: DepositRequest, origin: string): Promise<Outcome<DepositCreated>> {
    const { store, providers, maxPendingPerUser } = this.options;
    const asset = this.options.asset(request.asset);
    if (asset === undefined) return failure('not_found', `unknown asset ${request.asset}`);
    if (asset.kind !== 'fiat')
      return failure('bad_request', `${asset.symbol} is not a fiat asset (fund it on chain)`);
    if (asset.decimals !== FIAT_DECIMALS) {
      return failure(
        'bad_request',
        `${asset.symbol} has ${asset.decimals} decimals; providers count in ${FIAT_DECIMALS}`,
      );
    }
    const amount = parseAssetAmount(request.amount, asset.decimals);
    if (!amount.ok) return failure('bad_request', amount.message);
    if (providers[request.provider] === undefined) {
      return failure('unavailable', `provider ${request.provider} is not configured on this exchange`);
    }
    if (request.provider !== 'paystack' && !RAND_ONLY.includes(asset.symbol)) {
      return failure('bad_request', `${request.provider} takes ${RAND_ONLY.join(', ')} only`);
    }
    if ((await store.pendingDepositCount(userId)) >= maxPendingPerUser) {
      return failure('rate_limited', `at most ${maxPendingPerUser} deposits may be pending at once`);
    }
    const id = randomUUID();
    const reference = `D${id.replaceAll('-', '')}`;
    const base = (this.options.publicUrl ?? origin).replace(/\/+$/, '');
    const notifyUrl = `${base}/api/v1/webhooks/${request.provider}`;
    const returnUrl = request.returnUrl ?? `${base}/`;
    const decimal = formatAssetAmount(amount.value, asset.decimals);
    let redirectUrl: string;
    let formFields: Record<string, string> | undefined;
    try {
      ({ redirectUrl, formFields } = await this.#open(request, {
        reference,
        amount: amount.value,
        decimal,
        currency: asset.symbol,
        notifyUrl,
        returnUrl,
        userId,
      }));
    } catch (error) {
      if (!(error instanceof ProviderUnavailable)) throw error;
      return failure('unavailable', `${request.provider} could not open the payment: ${error.message}`);
    }
    try {
      await store.insertDeposit({
        id,
        userId,
        provider: request.provider,
        reference,
        asset: asset.symbol,
        amount: amount.value,
        redirectUrl,
        formFields,
        createdAt: this.#clock(),
      });
    } catch (error) {
      return failure('unavailable', `the deposit was not stored: ${errorText(error)}`);
    }
    return success({
      id,
      status: 'pending',
      provider: request.provider,
      reference,
      asset: asset.symbol,
      amount: decimal,
      redirectUrl,
      ...(formFields === undefined ? {} : { formFields }),
    });
  }

  async #open(
    request: DepositRequest,
    p: {
      reference: string;
      amount: bigint;
      decimal: string;
      currency: string;
      notifyUrl: string;
      returnUrl: string;
      userId: string;
    },
  ): Promise<{ redirectUrl: string; formFields?: Record<string, string> }> {
    const { providers } = this.options;
    if (request.provider === 'paystack') {
      const paystack = providers.paystack!;
      const email = request.email ?? `${encodeURIComponent(p.userId)}@users.exchange.invalid`;
      const opened = await paystack.client.initialize({
        email,
        amount: p.amount,
        currency: p.currency,
        reference: p.reference,
        callbackUrl: p.returnUrl,
      });
      return { redirectUrl: opened.authorizationUrl };
    }
    if (request.provider === 'payfast') {
      const payfast = providers.payfast!;
      const formFields = payfastFormFields(
        {
          merchant_id: payfast.merchantId,
          merchant_key: payfast.merchantKey,
          return_url: p.returnUrl,
          cancel_url: p.returnUrl,
          notify_url: p.notifyUrl,
          email_address: request.email,
          m_payment_id: p.reference,
          amount: p.decimal,
          item_name: `Deposit ${p.reference}`,
        },
        payfast.passphrase,
      );
      return { redirectUrl: `${payfast.baseUrl}/eng/process`, formFields };
    }
    const ozow = providers.ozow!;
    const redirectUrl = ozowRedirectUrl(
      ozow.baseUrl,
      {
        SiteCode: ozow.siteCode,
        CountryCode: 'ZA',
        CurrencyCode: p.currency,
        Amount: p.decimal,
        TransactionReference: p.reference,
        BankReference: p.reference.slice(0, 20),
        Customer: request.email ?? p.userId,
        CancelUrl: p.returnUrl,
        ErrorUrl: p.returnUrl,
        SuccessUrl: p.returnUrl,
        NotifyUrl: p.notifyUrl,
        IsTest: ozow.isTest ? 'true' : 'false',
      },
      ozow.privateKey,
    );
    return { redirectUrl };
  }

  async get(userId: string, id: string): Promise<Outcome<DepositView>> {
    if (!UUID.test(id)) return failure('not_found', `no deposit ${id}`);
    const row = await this.options.store.deposit(userId, id);
    return row === undefined ? failure('not_found', `no deposit ${id}`) : success(this.view(row));
  }

  async list(userId: string, limit: number, after: PagePosition | undefined) {
    const rows = await this.options.store.deposits(userId, limit + 1, after);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map((row) => this.view(row)),
      next: rows.length > limit && last !== undefined ? { t: last.createdAt, id: last.id } : undefined,
    };
  }

  view(row: DepositRow): DepositView {
    const decimals = this.options.asset(row.asset)?.decimals ?? FIAT_DECIMALS;
    return {
      id: row.id,
      status: row.status,
      provider: row.provider,
      // A chain deposit's reference is `<txHash>:<logIndex>` (one transaction can pay several).
      ...(row.provider === 'chain' ? { txHash: row.reference.split(':')[0]! } : { reference: row.reference }),
      asset: row.asset,
      amount: formatAssetAmount(row.amount, decimals),
      createdAt: row.createdAt,
      ...(row.completedAt === undefined ? {} : { completedAt: row.completedAt }),
      ...(row.failureReason === undefined ? {} : { failureReason: row.failureReason }),
    };
  }

  /**
   * A notification that could not be trusted (bad signature, source, body): recorded, counted,
   * nothing else. Logged at debug only: a stranger can post these at will (the table is pruned,
   * the counter is what to alert on).
   */
  async refuse(provider: Provider, reference: string | undefined, reason: string, sourceAddress: string) {
    const { store, log } = this.options;
    refusals.inc({ provider });
    const deposit = reference === undefined ? undefined : await store.depositByReference(provider, reference);
    await store.recordRefusal({ depositId: deposit?.id, provider, reference, reason, sourceAddress });
    log.debug({ provider, reference, reason, sourceAddress }, 'deposit notification refused');
  }

  /** An authenticated notification: confirmed with `confirm` (the provider's API), then credited once. */
  async settle(notice: Notice, confirm: (deposit: DepositRow) => Promise<Confirmation>): Promise<Settled> {
    const { store } = this.options;
    const deposit = await store.depositByReference(notice.provider, notice.reference);
    if (deposit === undefined) {
      const reason = `unknown reference ${notice.reference.slice(0, 100)}`;
      await this.refuse(notice.provider, notice.reference, reason, notice.sourceAddress);
      return { kind: 'refused', depositId: undefined, reason, final: true };
    }
    return this.#settling.run(deposit.id, () => this.#settle(deposit, notice, confirm));
  }

  async #settle(
    deposit: DepositRow,
    notice: Notice,
    confirm: (deposit: DepositRow) => Promise<Confirmation>,
  ): Promise<Settled> {
    const { store } = this.options;
    const journaled = this.options.journaled(deposit.id);
    if (journaled !== undefined) {
      await store.settleDeposit(deposit.id, journaled, this.#clock());
      return journaled === 'completed'
        ? { kind: 'duplicate', depositId: deposit.id }
        : {
            kind: 'refused',
            depositId: deposit.id,
            reason: `deposit ${deposit.id} failed already`,
            final: true,
          };
    }
    const claimed = this.#mismatch(deposit, notice.amount, notice.currency, 'notified');
    if (claimed !== undefined) return this.#fail(deposit, claimed, notice.sourceAddress);
    if (notice.outcome === 'other') {
      return this.#refuseOpen(
        deposit,
        `status ${notice.statusText} does not complete a deposit`,
        notice.sourceAddress,
      );
    }
    let confirmation: Confirmation;
    try {
      confirmation = await confirm(deposit);
    } catch (error) {
      if (!(error instanceof ProviderUnavailable)) throw error;
      const reason = `${deposit.provider} API unavailable: ${error.message}`;
      await store.recordRefusal({
        depositId: deposit.id,
        provider: deposit.provider,
        reference: deposit.reference,
        reason,
        sourceAddress: notice.sourceAddress,
      });
      return { kind: 'retry', depositId: deposit.id, reason };
    }
    if (confirmation.outcome === 'failed' || notice.outcome === 'failed') {
      const reason = `${deposit.provider} says ${confirmation.statusText}`;
      return confirmation.outcome === 'paid'
        ? this.#refuseOpen(deposit, `notified failed, ${reason}`, notice.sourceAddress)
        : this.#fail(deposit, reason, notice.sourceAddress);
    }
    if (confirmation.outcome !== 'paid') {
      const reason = `${deposit.provider} does not confirm it: ${confirmation.statusText}`;
      return this.#refuseOpen(deposit, reason, notice.sourceAddress);
    }
    const confirmedMismatch = this.#mismatch(
      deposit,
      confirmation.amount,
      confirmation.currency,
      'confirmed',
    );
    if (confirmedMismatch !== undefined) return this.#fail(deposit, confirmedMismatch, notice.sourceAddress);
    const ts = this.#clock();
    const credited = await this.options.fund(
      {
        kind: 'deposit_credit',
        depositId: deposit.id,
        userId: deposit.userId,
        asset: deposit.asset,
        amount: deposit.amount,
        provider: deposit.provider,
        reference: deposit.reference,
      },
      ts,
    );
    if (!credited.ok && credited.code !== 'duplicate') {
      return { kind: 'retry', depositId: deposit.id, reason: credited.message };
    }
    await store.settleDeposit(deposit.id, 'completed', ts);
    this.options.log.info(
      { depositId: deposit.id, provider: deposit.provider, userId: deposit.userId, asset: deposit.asset },
      credited.ok ? 'deposit credited' : 'deposit credited already',
    );
    return { kind: credited.ok ? 'credited' : 'duplicate', depositId: deposit.id };
  }

  #mismatch(deposit: DepositRow, amount: bigint | undefined, currency: string | undefined, what: string) {
    const decimals = FIAT_DECIMALS;
    if (amount !== undefined && amount !== deposit.amount) {
      return `amount mismatch: ${what} ${formatAssetAmount(amount, decimals)}, deposit ${formatAssetAmount(deposit.amount, decimals)}`;
    }
    if (currency !== undefined && currency.toUpperCase() !== deposit.asset) {
      return `currency mismatch: ${what} ${currency}, deposit ${deposit.asset}`;
    }
    return undefined;
  }

  async #refuseOpen(deposit: DepositRow, reason: string, sourceAddress: string): Promise<Settled> {
    await this.options.store.recordRefusal({
      depositId: deposit.id,
      provider: deposit.provider,
      reference: deposit.reference,
      reason,
      sourceAddress,
    });
    return { kind: 'refused', depositId: deposit.id, reason, final: false };
  }

  /** Fails the deposit for good: journaled (deposit.changed failed), the reason on its row. */
  async #fail(deposit: DepositRow, reason: string, sourceAddress: string): Promise<Settled> {
    const { store, log } = this.options;
    const ts = this.#clock();
    const failed = await this.options.fund(
      {
        kind: 'deposit_fail',
        depositId: deposit.id,
        userId: deposit.userId,
        asset: deposit.asset,
        amount: deposit.amount,
        provider: deposit.provider,
        reference: deposit.reference,
        reason,
      },
      ts,
    );
    if (!failed.ok && failed.code === 'unavailable')
      return { kind: 'retry', depositId: deposit.id, reason: failed.message };
    await store.recordRefusal({
      depositId: deposit.id,
      provider: deposit.provider,
      reference: deposit.reference,
      reason,
      sourceAddress,
    });
    await store.settleDeposit(deposit.id, 'failed', ts, reason);
    log.warn({ depositId: deposit.id, provider: deposit.provider, reason }, 'deposit failed');
    return { kind: 'refused', depositId: deposit.id, reason, final: true };
  }

  /**
   * A chain deposit that sync-blockchain saw final (issue 16): its row, then the credit, keyed by
   * `depositId` (derived from the log), which the funding register refuses a second time. Answers
   * `retry` when the journal could not take it (nothing credited; the next sync run tries again).
   */
  async creditChain(d: {
    readonly depositId: string;
    readonly userId: string;
    readonly asset: string;
    readonly amount: bigint;
    readonly reference: string;
  }): Promise<'credited' | 'duplicate' | { readonly retry: string }> {
    const { store, log } = this.options;
    const ts = this.#clock();
    await store.insertChainDeposit({ id: d.depositId, createdAt: ts, ...d });
    const credited = await this.options.fund({ kind: 'deposit_credit', provider: 'chain', ...d }, ts);
    if (!credited.ok && credited.code !== 'duplicate') return { retry: credited.message };
    await store.settleDeposit(d.depositId, 'completed', ts);
    if (credited.ok)
      log.info({ depositId: d.depositId, userId: d.userId, asset: d.asset }, 'chain deposit credited');
    return credited.ok ? 'credited' : 'duplicate';
  }

  /** At start: rows still pending whose outcome the journal holds (the process died in between). */
  async reconcile(): Promise<number> {
    const { store } = this.options;
    let repaired = 0;
    for (const row of await store.pendingDeposits()) {
      const journaled = this.options.journaled(row.id);
      if (journaled === undefined) continue;
      await store.settleDeposit(row.id, journaled, this.#clock());
      repaired++;
    }
    return repaired;
  }
}

const refusals = new Counter({
  name: 'exchange_deposit_notification_refusals_total',
  help: 'Provider notifications refused before they could be trusted (bad signature, source address, unknown reference)',
  labelNames: ['provider'] as const,
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
