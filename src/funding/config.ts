import { z } from 'zod/v4';
import { commaList } from '../envShapes.ts';

/*
 * The environment of fiat funding (PROTOCOL v1.1, Funding: the providers' names), as a zod shape
 * src/config.ts spreads into its schema. A provider is offered by POST /deposits only when its
 * secrets are set; each base URL is configurable so tests and the demo run against the loopback
 * stand-ins (scripts/dev-payments.ts).
 */

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const secret = z.string().min(1).optional();
const list = commaList;

export const FUNDING_ENV = {
  PAYSTACK_SECRET_KEY: secret,
  PAYSTACK_BASE_URL: z.url().default('https://api.paystack.co'),
  PAYFAST_MERCHANT_ID: secret,
  PAYFAST_MERCHANT_KEY: secret,
  PAYFAST_PASSPHRASE: secret,
  PAYFAST_BASE_URL: z.url().default('https://www.payfast.co.za'),
  /** Addresses ITNs may come from (PayFast publishes its hosts' addresses). */
  PAYFAST_VALID_IPS: list(
    '197.97.145.144,197.97.145.145,197.97.145.146,197.97.145.147,197.97.145.148,197.97.145.149,' +
      '197.97.145.150,197.97.145.151,197.97.145.152,197.97.145.153,197.97.145.154,197.97.145.155,' +
      '197.97.145.156,197.97.145.157,197.97.145.158,197.97.145.159,41.74.179.194,41.74.179.195,' +
      '41.74.179.196,41.74.179.197,41.74.179.198,41.74.179.199,41.74.179.200,41.74.179.201,' +
      '41.74.179.202,41.74.179.203,41.74.179.204,41.74.179.205,41.74.179.206,41.74.179.207,' +
      '41.74.179.208,41.74.179.209,41.74.179.210,41.74.179.211,41.74.179.212,41.74.179.213,' +
      '41.74.179.214,41.74.179.215,41.74.179.216,41.74.179.217,41.74.179.218,41.74.179.219,' +
      '41.74.179.220,41.74.179.221,41.74.179.222,41.74.179.223',
  ),
  OZOW_SITE_CODE: secret,
  OZOW_PRIVATE_KEY: secret,
  OZOW_API_KEY: secret,
  OZOW_BASE_URL: z.url().default('https://pay.ozow.com'),
  OZOW_API_URL: z.url().default('https://api.ozow.com'),
  /** `true` marks Ozow payments as tests (IsTest); the stand-ins accept either. */
  OZOW_IS_TEST: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  /**
   * Where the providers reach this exchange (notify URLs) and send the customer back: the origin
   * of the exchange as seen from outside. Unset: the origin of the POST /deposits request.
   */
  FUNDING_PUBLIC_URL: z.url().optional(),
  /** One provider API call (confirmations, initialize, transfers), ms. */
  FUNDING_PROVIDER_TIMEOUT_MS: positiveInt(5_000),
  /**
   * Provider notifications (POST /webhooks/paystack|payfast|ozow) per second and burst, per source
   * address (an IPv6 /64): beyond, 429 before any work (PayFast and Ozow retry on non-200).
   */
  FUNDING_WEBHOOK_RATE_PER_S: positiveInt(100),
  FUNDING_WEBHOOK_RATE_BURST: positiveInt(500),
  /** The process-withdrawal job: attempts, first retry delay in ms (doubling). */
  WITHDRAWAL_ATTEMPTS: positiveInt(5),
  WITHDRAWAL_BACKOFF_MS: positiveInt(2_000),
  /** Deposits a user may have pending at once (each holds a row and a provider session). */
  FUNDING_MAX_PENDING_DEPOSITS_PER_USER: positiveInt(20),
};

export type FundingConfig = Readonly<z.infer<z.ZodObject<typeof FUNDING_ENV>>>;
