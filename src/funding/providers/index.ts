import type { FundingConfig } from '../config.ts';
import type { Provider } from '../store.ts';
import { PaystackClient } from './paystack.ts';

/** The providers this exchange is configured for (their secrets set), built once at start. */
export interface Providers {
  readonly paystack?: { readonly client: PaystackClient; readonly secretKey: string };
  readonly payfast?: {
    readonly merchantId: string;
    readonly merchantKey: string;
    readonly passphrase: string | undefined;
    readonly baseUrl: string;
    readonly validIps: readonly string[];
  };
  readonly ozow?: {
    readonly siteCode: string;
    readonly privateKey: string;
    readonly apiKey: string;
    readonly baseUrl: string;
    readonly apiUrl: string;
    readonly isTest: boolean;
  };
  readonly timeoutMs: number;
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

export function providersOf(config: FundingConfig): Providers {
  const timeoutMs = config.FUNDING_PROVIDER_TIMEOUT_MS;
  const secretKey = config.PAYSTACK_SECRET_KEY;
  const { PAYFAST_MERCHANT_ID: merchantId, PAYFAST_MERCHANT_KEY: merchantKey } = config;
  const { OZOW_SITE_CODE: siteCode, OZOW_PRIVATE_KEY: privateKey, OZOW_API_KEY: apiKey } = config;
  return {
    timeoutMs,
    ...(secretKey === undefined
      ? {}
      : {
          paystack: {
            secretKey,
            client: new PaystackClient({
              secretKey,
              baseUrl: trimSlash(config.PAYSTACK_BASE_URL),
              timeoutMs,
            }),
          },
        }),
    ...(merchantId === undefined || merchantKey === undefined
      ? {}
      : {
          payfast: {
            merchantId,
            merchantKey,
            passphrase: config.PAYFAST_PASSPHRASE,
            baseUrl: trimSlash(config.PAYFAST_BASE_URL),
            validIps: config.PAYFAST_VALID_IPS,
          },
        }),
    ...(siteCode === undefined || privateKey === undefined || apiKey === undefined
      ? {}
      : {
          ozow: {
            siteCode,
            privateKey,
            apiKey,
            baseUrl: trimSlash(config.OZOW_BASE_URL),
            apiUrl: trimSlash(config.OZOW_API_URL),
            isTest: config.OZOW_IS_TEST,
          },
        }),
  };
}

export function configured(providers: Providers): Provider[] {
  return (['paystack', 'payfast', 'ozow'] as const).filter((p) => providers[p] !== undefined);
}
