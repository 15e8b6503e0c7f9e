import { createHmac } from 'node:crypto';
import { z } from 'zod/v4';
import { call, parseAnswer, ProviderUnavailable, sameHex } from './http.ts';

/*
 * Paystack (PROTOCOL v1.1, Funding): transaction initialize and verify for deposits, transfers for
 * payouts, and the webhook signature (lower-case hex HMAC-SHA512 of the raw body under the secret
 * key, header x-paystack-signature). Amounts are in subunits, as Paystack counts them.
 */

export interface PaystackOptions {
  readonly secretKey: string;
  readonly baseUrl: string;
  readonly timeoutMs: number;
}

const Envelope = <T extends z.ZodType>(data: T) =>
  z.object({ status: z.boolean(), message: z.string().optional(), data: data.optional() });
const Initialized = Envelope(z.object({ authorization_url: z.string(), reference: z.string() }));
const Verified = Envelope(
  z.object({ status: z.string(), reference: z.string(), amount: z.number().int(), currency: z.string() }),
);
const Transfer = Envelope(
  z.object({
    status: z.string(),
    reference: z.string(),
    transfer_code: z.string().optional(),
    amount: z.number().int().optional(),
    reason: z.string().nullish(),
  }),
);

/** The webhook's body as far as the exchange reads it (charge.success and its kin). */
export const PaystackEvent = z.object({
  event: z.string().max(64),
  data: z.object({
    reference: z.string().min(1).max(100),
    amount: z.number().int().nonnegative(),
    currency: z.string().min(1).max(8),
    status: z.string().max(32),
  }),
});
export type PaystackEvent = z.infer<typeof PaystackEvent>;

export function paystackSignature(rawBody: Buffer, secretKey: string): string {
  return createHmac('sha512', secretKey).update(rawBody).digest('hex');
}

export function paystackSignatureValid(
  rawBody: Buffer,
  header: string | undefined,
  secretKey: string,
): boolean {
  if (header === undefined || !/^[0-9a-fA-F]{128}$/.test(header)) return false;
  return sameHex(paystackSignature(rawBody, secretKey), header);
}

export interface PaystackTransaction {
  readonly status: string;
  readonly reference: string;
  readonly amount: bigint;
  readonly currency: string;
}

export interface PaystackTransfer {
  readonly status: string;
  readonly reference: string;
  readonly transferCode: string | undefined;
  readonly reason: string | undefined;
}

export class PaystackClient {
  constructor(private readonly options: PaystackOptions) {}

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.options.secretKey}`, 'content-type': 'application/json' };
  }

  /** POST /transaction/initialize: the payment page's URL. */
  async initialize(body: {
    email: string;
    amount: bigint;
    currency: string;
    reference: string;
    callbackUrl?: string;
  }) {
    const { baseUrl, timeoutMs } = this.options;
    const response = await call(
      `${baseUrl}/transaction/initialize`,
      {
        method: 'POST',
        headers: this.headers(),
        body: JSON.stringify({
          email: body.email,
          amount: Number(body.amount),
          currency: body.currency,
          reference: body.reference,
          ...(body.callbackUrl === undefined ? {} : { callback_url: body.callbackUrl }),
        }),
      },
      timeoutMs,
    );
    const answer = parseAnswer(response, Initialized, 'paystack initialize');
    if (!answer.status || answer.data === undefined) {
      throw new ProviderUnavailable(`paystack initialize refused: ${answer.message ?? response.status}`);
    }
    return { authorizationUrl: answer.data.authorization_url };
  }

  /** GET /transaction/verify/:reference; undefined when Paystack does not know the reference. */
  async verify(reference: string): Promise<PaystackTransaction | undefined> {
    const { baseUrl, timeoutMs } = this.options;
    const response = await call(
      `${baseUrl}/transaction/verify/${encodeURIComponent(reference)}`,
      { method: 'GET', headers: this.headers() },
      timeoutMs,
    );
    if (response.status === 404) return undefined;
    const answer = parseAnswer(response, Verified, 'paystack verify');
    if (answer.data === undefined) return undefined;
    const { status, amount, currency } = answer.data;
    return { status, reference: answer.data.reference, amount: BigInt(amount), currency };
  }

  /**
   * POST /transfer from the balance to a recipient code. Paystack refuses a second transfer with
   * the same reference, so a retried payout cannot pay twice: a refusal as a duplicate answers
   * the transfer already made (verify).
   */
  async transfer(body: {
    amount: bigint;
    currency: string;
    recipient: string;
    reference: string;
  }): Promise<PaystackTransfer> {
    const { baseUrl, timeoutMs } = this.options;
    const response = await call(
      `${baseUrl}/transfer`,
      {
        method: 'POST',
        headers: this.headers(),
        body: JSON.stringify({
          source: 'balance',
          amount: Number(body.amount),
          currency: body.currency,
          recipient: body.recipient,
          reference: body.reference,
          reason: 'withdrawal',
        }),
      },
      timeoutMs,
    );
    const answer = parseAnswer(response, Transfer, 'paystack transfer');
    if (answer.status && answer.data !== undefined) return transferOf(answer.data);
    const existing = await this.verifyTransfer(body.reference);
    if (existing !== undefined) return existing;
    return {
      status: 'failed',
      reference: body.reference,
      transferCode: undefined,
      reason: answer.message ?? 'refused',
    };
  }

  /** GET /transfer/verify/:reference; undefined when no transfer has this reference. */
  async verifyTransfer(reference: string): Promise<PaystackTransfer | undefined> {
    const { baseUrl, timeoutMs } = this.options;
    const response = await call(
      `${baseUrl}/transfer/verify/${encodeURIComponent(reference)}`,
      { method: 'GET', headers: this.headers() },
      timeoutMs,
    );
    if (response.status === 404) return undefined;
    const answer = parseAnswer(response, Transfer, 'paystack transfer verify');
    return answer.status && answer.data !== undefined ? transferOf(answer.data) : undefined;
  }
}

function transferOf(data: z.infer<typeof Transfer>['data'] & object): PaystackTransfer {
  return {
    status: data.status,
    reference: data.reference,
    transferCode: data.transfer_code,
    reason: data.reason ?? undefined,
  };
}
