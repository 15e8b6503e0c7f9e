import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod/v4';
import { helpOnly } from './lib/cli.ts';
import { standInEnv, startPaymentsStandIn, type PaymentsStandInOptions } from './payments/standIn.ts';

export { startPaymentsStandIn, standInEnv, type PaymentsStandIn } from './payments/standIn.ts';

/*
 * `npm run dev:payments`: loopback stand-ins of Paystack, PayFast and Ozow on one port
 * (scripts/payments/standIn.ts has their API). It prints the environment the exchange needs to
 * use them; start the exchange with it, create a deposit (POST /api/v1/deposits), open its
 * redirectUrl and press Pay: the stand-in sends the provider's notification to the exchange.
 */

/** Development secrets, shared by the stand-in and the exchange it prints the env for. */
export const DEV_PAYMENT_SECRETS: PaymentsStandInOptions = {
  paystack: { secretKey: 'sk_test_development_only', webhookUrl: '' },
  payfast: { merchantId: '10000100', merchantKey: '46f0cd694581a', passphrase: 'development-passphrase' },
  ozow: {
    siteCode: 'DEV-DEV-001',
    privateKey: 'development-ozow-private-key',
    apiKey: 'development-ozow-api-key',
  },
};

const Env = z.object({
  PAYMENTS_PORT: z.coerce.number().int().min(0).max(65_535).default(4200),
  /** The exchange's port (its Paystack webhook route is on it). */
  PORT: z.coerce.number().int().min(1).max(65_535).default(3000),
});

const USAGE = `usage: npm run dev:payments

Loopback stand-ins of Paystack, PayFast and Ozow (one HTTP server). Prints the environment the
exchange needs to use them (PAYSTACK_*, PAYFAST_*, OZOW_*). Then POST /api/v1/deposits, open the
answer's redirectUrl (PayFast: post its formFields there) and press Pay.

Environment:
  PAYMENTS_PORT   port of the stand-ins (default 4200)
  PORT            the exchange's port, where Paystack webhooks go (default 3000)`;

async function main(): Promise<void> {
  helpOnly('npm run dev:payments --', USAGE);
  const parsed = Env.safeParse(process.env);
  if (!parsed.success) throw new Error(`invalid environment: ${z.prettifyError(parsed.error)}`);
  const { PAYMENTS_PORT: port, PORT: exchangePort } = parsed.data;
  const options: PaymentsStandInOptions = {
    ...DEV_PAYMENT_SECRETS,
    port,
    paystack: {
      ...DEV_PAYMENT_SECRETS.paystack,
      webhookUrl: `http://127.0.0.1:${exchangePort}/api/v1/webhooks/paystack`,
    },
  };
  const standIn = await startPaymentsStandIn(options);
  console.log(`[payments] Paystack, PayFast and Ozow stand-ins on ${standIn.url}; start the exchange with:`);
  for (const [key, value] of Object.entries(standInEnv(standIn, options)))
    console.log(`export ${key}='${value}'`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void standIn.close().then(() => process.exit(0));
    });
  }
}

const entry = process.argv[1];
if (entry !== undefined && realpathSync(entry) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`dev:payments: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
