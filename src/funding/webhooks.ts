import { parseAssetAmount } from '../actors/money.ts';
import type { Confirmation, Deposits, Notice, Settled } from './deposits.ts';
import { FIAT_DECIMALS } from './deposits.ts';
import type { Providers } from './providers/index.ts';
import { OzowNotification, ozowNotificationValid, ozowTransactions } from './providers/ozow.ts';
import { itnSignatureValid, parseItn, payfastSourceAllowed, payfastValidate } from './providers/payfast.ts';
import { PaystackEvent, paystackSignatureValid } from './providers/paystack.ts';

/*
 * The providers' notifications (PROTOCOL v1.1, Funding), without the HTTP framework: the route
 * hands over the raw body, the signature header and the peer's address; this authenticates the
 * notification in the provider's own way (each digest compared in constant time), reads it into a
 * Notice and lets Deposits.settle confirm it with the provider's API and credit it once.
 *
 * Answers, as each provider expects them:
 *   Paystack  200 handled or already handled (unknown references and refusals included), 401 bad
 *             signature, 400 unreadable body, 503 when its verify API or the journal is down
 *             (Paystack retries).
 *   PayFast   200 whenever the ITN was read, refused or not (PayFast retries otherwise, and a refusal
 *             would not change), 400 unreadable, 503 when its validate API or the journal is down.
 *   Ozow      200 handled, 401 bad hash, 400 unreadable, 503 when GetTransactionByReference or the
 *             journal is down (Ozow retries non-200 answers; a repeat is handled as a duplicate).
 */

export interface ProviderNotification {
  readonly rawBody: Buffer;
  /** x-paystack-signature (Paystack only). */
  readonly signature: string | undefined;
  readonly sourceAddress: string;
}

export interface ProviderAnswer {
  readonly status: number;
  readonly json?: object;
  readonly text?: string;
}

const ok = (settled: Settled): ProviderAnswer => ({
  status: 200,
  json:
    settled.kind === 'refused'
      ? { status: 'refused', reason: settled.reason }
      : { status: settled.kind === 'credited' ? 'processed' : 'duplicate' },
});
const error = (status: number, code: string, message: string): ProviderAnswer => ({
  status,
  json: { error: { code, message } },
});
const answer = (settled: Settled): ProviderAnswer =>
  settled.kind === 'retry' ? error(503, 'unavailable', settled.reason) : ok(settled);

/** PayFast's and Ozow's decimal amounts in minor units (undefined when not a plain 2-decimal amount). */
function minorUnits(text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined;
  const parsed = parseAssetAmount(text.trim(), FIAT_DECIMALS);
  return parsed.ok ? parsed.value : undefined;
}

export class FundingWebhooks {
  constructor(
    private readonly deposits: Deposits,
    private readonly providers: Providers,
  ) {}

  async paystack(n: ProviderNotification): Promise<ProviderAnswer> {
    const paystack = this.providers.paystack;
    if (paystack === undefined) return error(404, 'not_found', 'Paystack is not configured');
    if (!paystackSignatureValid(n.rawBody, n.signature, paystack.secretKey)) {
      // The reference the untrusted body names, only to file the refusal under its deposit.
      const named = parseJson(n.rawBody, PaystackEvent)?.data.reference;
      await this.deposits.refuse('paystack', named, 'bad signature', n.sourceAddress);
      return error(401, 'unauthorized', 'x-paystack-signature does not match the body');
    }
    const event = parseJson(n.rawBody, PaystackEvent);
    if (event === undefined) return error(400, 'bad_request', 'not a Paystack event');
    const { data } = event;
    const outcome = event.event === 'charge.success' && data.status === 'success' ? 'paid' : 'other';
    const notice: Notice = {
      provider: 'paystack',
      reference: data.reference,
      amount: BigInt(data.amount),
      currency: data.currency,
      outcome: event.event === 'charge.failed' ? 'failed' : outcome,
      statusText: `${event.event}/${data.status}`,
      sourceAddress: n.sourceAddress,
    };
    return answer(await this.deposits.settle(notice, (deposit) => this.#verifyPaystack(deposit.reference)));
  }

  async #verifyPaystack(reference: string): Promise<Confirmation> {
    const verified = await this.providers.paystack!.client.verify(reference);
    if (verified === undefined)
      return { outcome: 'unknown', amount: undefined, currency: undefined, statusText: 'not found' };
    const outcome =
      verified.status === 'success'
        ? 'paid'
        : ['failed', 'reversed', 'abandoned'].includes(verified.status)
          ? 'failed'
          : 'pending';
    return { outcome, amount: verified.amount, currency: verified.currency, statusText: verified.status };
  }

  async payfast(n: ProviderNotification): Promise<ProviderAnswer> {
    const payfast = this.providers.payfast;
    if (payfast === undefined) return error(404, 'not_found', 'PayFast is not configured');
    const itn = parseItn(n.rawBody);
    const reference = itn.fields.get('m_payment_id');
    if (reference === undefined || reference === '' || reference.length > 100) {
      return error(400, 'bad_request', 'not a PayFast ITN (no m_payment_id)');
    }
    const read: ProviderAnswer = { status: 200, text: 'OK' };
    if (!itnSignatureValid(itn, payfast.passphrase)) {
      await this.deposits.refuse('payfast', reference, 'bad signature', n.sourceAddress);
      return read;
    }
    if (!payfastSourceAllowed(n.sourceAddress, payfast.validIps)) {
      await this.deposits.refuse(
        'payfast',
        reference,
        `source address ${n.sourceAddress} is not PayFast's`,
        n.sourceAddress,
      );
      return read;
    }
    if (itn.fields.get('merchant_id') !== undefined && itn.fields.get('merchant_id') !== payfast.merchantId) {
      await this.deposits.refuse('payfast', reference, 'another merchant_id', n.sourceAddress);
      return read;
    }
    const status = itn.fields.get('payment_status') ?? '';
    const amountText = itn.fields.get('amount_gross');
    const amount = minorUnits(amountText);
    if (amount === undefined) {
      await this.deposits.refuse(
        'payfast',
        reference,
        `amount_gross ${String(amountText)} is not an amount`,
        n.sourceAddress,
      );
      return read;
    }
    const notice: Notice = {
      provider: 'payfast',
      reference,
      amount,
      currency: undefined,
      outcome: status === 'COMPLETE' ? 'paid' : status === 'CANCELLED' ? 'failed' : 'other',
      statusText: status,
      sourceAddress: n.sourceAddress,
    };
    const settled = await this.deposits.settle(notice, async () => {
      const valid = await payfastValidate(payfast.baseUrl, itn.paramString, this.providers.timeoutMs);
      // VALID confirms the ITN as posted: its status and amount (checked above) are PayFast's.
      return valid
        ? {
            outcome: notice.outcome === 'failed' ? 'failed' : 'paid',
            amount,
            currency: undefined,
            statusText: status,
          }
        : {
            outcome: 'unknown',
            amount: undefined,
            currency: undefined,
            statusText: 'validate answered INVALID',
          };
    });
    return settled.kind === 'retry' ? answer(settled) : read;
  }

  async ozow(n: ProviderNotification): Promise<ProviderAnswer> {
    const ozow = this.providers.ozow;
    if (ozow === undefined) return error(404, 'not_found', 'Ozow is not configured');
    const fields = Object.fromEntries(new URLSearchParams(n.rawBody.toString('utf8')));
    const parsed = OzowNotification.safeParse(fields);
    if (!parsed.success) return error(400, 'bad_request', 'not an Ozow notification');
    const notification = parsed.data;
    const reference = notification.TransactionReference;
    if (!ozowNotificationValid(notification, ozow.privateKey)) {
      await this.deposits.refuse('ozow', reference, 'bad hash', n.sourceAddress);
      return error(401, 'unauthorized', 'Hash does not match the notification');
    }
    if (notification.SiteCode !== ozow.siteCode) {
      await this.deposits.refuse('ozow', reference, `site code ${notification.SiteCode}`, n.sourceAddress);
      return { status: 200, json: { status: 'refused', reason: 'another site code' } };
    }
    const status = notification.Status;
    const notice: Notice = {
      provider: 'ozow',
      reference,
      amount: minorUnits(notification.Amount),
      currency: notification.CurrencyCode,
      outcome:
        status === 'Complete' ? 'paid' : status === 'Cancelled' || status === 'Error' ? 'failed' : 'other',
      statusText: status,
      sourceAddress: n.sourceAddress,
    };
    if (notice.amount === undefined) {
      await this.deposits.refuse(
        'ozow',
        reference,
        `Amount ${notification.Amount} is not an amount`,
        n.sourceAddress,
      );
      return { status: 200, json: { status: 'refused', reason: 'unreadable amount' } };
    }
    const settled = await this.deposits.settle(notice, async () => {
      const transactions = await ozowTransactions(
        {
          apiUrl: ozow.apiUrl,
          apiKey: ozow.apiKey,
          siteCode: ozow.siteCode,
          timeoutMs: this.providers.timeoutMs,
        },
        reference,
      );
      const found =
        transactions.find((t) => t.transactionId === notification.TransactionId) ?? transactions[0];
      if (found === undefined)
        return { outcome: 'unknown', amount: undefined, currency: undefined, statusText: 'not found' };
      const outcome =
        found.status === 'Complete'
          ? 'paid'
          : ['Cancelled', 'Error'].includes(found.status)
            ? 'failed'
            : 'pending';
      return {
        outcome,
        amount: minorUnits(found.amount),
        currency: found.currencyCode,
        statusText: found.status,
      };
    });
    return answer(settled);
  }
}

function parseJson<T>(
  raw: Buffer,
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } },
) {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}
