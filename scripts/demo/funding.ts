import { DEV_PAYMENT_SECRETS } from '../dev-payments.ts';
import { standInEnv, startPaymentsStandIn, type PaymentsStandIn } from '../payments/standIn.ts';

/*
 * The demo's fiat funding (issue 15): unless the environment names real providers
 * (PAYSTACK_SECRET_KEY set), the loopback stand-ins of Paystack, PayFast and Ozow run in the demo's
 * process and the exchange is pointed at them; once it is up, one user is funded through each
 * provider end to end, as a customer would (open the payment page, press Pay), so the flow is
 * there to watch and to repeat by hand (docs/funding.md).
 */

/** Starts the stand-ins and adds their env to `env` (before the exchange's config is read). */
export async function startDemoPayments(env: NodeJS.ProcessEnv): Promise<PaymentsStandIn | undefined> {
  if (env.PAYSTACK_SECRET_KEY !== undefined || env.DEMO_PAYMENTS === 'false') return undefined;
  const standIn = await startPaymentsStandIn(DEV_PAYMENT_SECRETS);
  Object.assign(env, standInEnv(standIn, DEV_PAYMENT_SECRETS));
  return standIn;
}

export interface DemoFunding {
  readonly http: string;
  readonly standIn: PaymentsStandIn;
  readonly mint: (userId: string, roles: ('trader' | 'admin')[]) => Promise<string>;
  readonly log: (line: string) => void;
  /** Who is funded (default `demo-funded`). */
  readonly userId?: string;
}

async function api(http: string, method: string, path: string, token: string, body?: unknown) {
  const response = await fetch(`${http}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Funds the user with 100.00 through each provider; answers the deposits' final statuses. */
export async function fundThroughEachProvider(options: DemoFunding): Promise<Record<string, string>> {
  const { http, standIn, log } = options;
  const userId = options.userId ?? 'demo-funded';
  standIn.paystackWebhookUrl = `${http}/api/v1/webhooks/paystack`;
  const admin = await options.mint('demo-admin', ['admin']);
  for (const symbol of ['NGN', 'ZAR']) {
    const created = await api(http, 'POST', '/api/v1/assets', admin, { symbol, decimals: 2, kind: 'fiat' });
    // A later run on the same database has them already.
    if (created.status !== 201 && created.status !== 400 && created.status !== 409) {
      throw new Error(`asset ${symbol}: ${created.status} ${JSON.stringify(created.body)}`);
    }
  }
  const token = await options.mint(userId, ['trader']);
  const statuses: Record<string, string> = {};
  for (const [provider, asset] of [
    ['paystack', 'NGN'],
    ['payfast', 'ZAR'],
    ['ozow', 'ZAR'],
  ] as const) {
    const created = await api(http, 'POST', '/api/v1/deposits', token, { asset, amount: '100.00', provider });
    if (created.status !== 201)
      throw new Error(`${provider} deposit: ${created.status} ${JSON.stringify(created.body)}`);
    const { id, reference, redirectUrl, formFields } = created.body as {
      id: string;
      reference: string;
      redirectUrl: string;
      formFields?: Record<string, string>;
    };
    // The customer opens the payment page (PayFast: the signed form is posted to it), presses Pay.
    await fetch(redirectUrl, {
      method: formFields === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: formFields === undefined ? undefined : new URLSearchParams(formFields).toString(),
    });
    await fetch(`${standIn.url}/pay/${reference}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'outcome=paid',
    });
    const read = await api(http, 'GET', `/api/v1/deposits/${id}`, token);
    statuses[provider] = String(read.body.status);
    log(`funded ${userId} with 100.00 ${asset} through ${provider}: deposit ${id} ${statuses[provider]}`);
  }
  return statuses;
}
