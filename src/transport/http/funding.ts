import { z } from 'zod/v4';
import type { ChainDeposits } from '../../funding/chainDeposits.ts';
import type { Deposits } from '../../funding/deposits.ts';
import type { Reconciliation } from '../../funding/reconciliation.ts';
import type { FundingWebhooks, ProviderAnswer, ProviderNotification } from '../../funding/webhooks.ts';
import type { Withdrawals } from '../../funding/withdrawals.ts';
import { RateLimiter, sourceKey } from '../rateLimit.ts';
import type { Route } from '../http.ts';
import { decodeCursor, pageHeaders } from './cursor.ts';
import {
  DepositBody,
  WITHDRAWAL_STATUSES,
  WithdrawalBody,
  WithdrawalDecisionBody,
} from './fundingOperations.ts';
import { errorReply, json, outcomeReply, type HttpReply, type HttpRequest } from './router.ts';

/*
 * The funding routes of PROTOCOL v1.1 (Funding): deposits through the payment providers, their
 * notifications (raw bodies: the signatures are over the bytes), and withdrawals with approval.
 */

export interface FundingRoutes {
  readonly deposits: Deposits;
  readonly webhooks: FundingWebhooks;
  readonly withdrawals: Withdrawals;
  /** Custody addresses (GET /funding/address); absent: the route answers 503. */
  readonly chain?: Pick<ChainDeposits, 'address'>;
  /** GET /admin/reconciliation; absent: the route answers 503. */
  readonly reconciliation?: Pick<Reconciliation, 'run'>;
  /**
   * Provider notifications per source address (one budget for the three webhook routes): beyond,
   * 429 before the body is read or anything checked. Unset: unlimited.
   */
  readonly webhookRate?: { readonly perSecond: number; readonly burst: number };
}

const BASE = '/api/v1';
const LIST_LIMIT_DEFAULT = 100;
const LIST_LIMIT_MAX = 1_000;

const ReasonBody = WithdrawalDecisionBody.optional();
const Position = z.strictObject({ t: z.number(), id: z.uuid() });
const WithdrawalStatus = z.enum(WITHDRAWAL_STATUSES);

const issues = (error: z.ZodError) =>
  error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');

function page(query: URLSearchParams) {
  const text = query.get('limit');
  const limit = text === null ? LIST_LIMIT_DEFAULT : Number(text);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > LIST_LIMIT_MAX) {
    return {
      ok: false as const,
      reply: errorReply('bad_request', `limit must be an integer 1..${LIST_LIMIT_MAX}`),
    };
  }
  const cursor = decodeCursor(Position, query.get('cursor'));
  if (!cursor.ok) return { ok: false as const, reply: errorReply(cursor.code, cursor.message) };
  return { ok: true as const, limit, after: cursor.value };
}

const providerReply = (answer: ProviderAnswer): HttpReply =>
  answer.json === undefined
    ? { status: answer.status, text: answer.text ?? '', contentType: 'text/plain' }
    : json(answer.status, answer.json);

function notification(request: HttpRequest, signatureHeader?: string): ProviderNotification {
  const signature = signatureHeader === undefined ? '' : (request.headers[signatureHeader] ?? '');
  return {
    rawBody: request.rawBody ?? Buffer.alloc(0),
    signature: signature === '' ? undefined : signature,
    sourceAddress: sourceKey(request.remoteAddress),
  };
}

export function registerFundingRoutes(route: Route, funding: FundingRoutes): void {
  const { deposits, webhooks, withdrawals, webhookRate } = funding;
  const limiter =
    webhookRate === undefined ? undefined : new RateLimiter(webhookRate.perSecond, webhookRate.burst);
  const admit = limiter === undefined ? undefined : (source: string) => limiter.take(source);

  route('get', `${BASE}/funding/address`, { role: 'trader' }, async ({ principal }) => {
    if (funding.chain === undefined) return errorReply('unavailable', 'no chain custody on this exchange');
    try {
      return json(200, await funding.chain.address(principal!.userId));
    } catch (error) {
      return errorReply(
        'unavailable',
        `no deposit address: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  });

  route('get', `${BASE}/admin/reconciliation`, { role: 'admin' }, async () => {
    if (funding.reconciliation === undefined) return errorReply('unavailable', 'no chain on this exchange');
    try {
      return json(200, await funding.reconciliation.run());
    } catch (error) {
      return errorReply(
        'unavailable',
        `the chain could not be read: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  });

  route('post', `${BASE}/deposits`, { role: 'trader', body: true, headers: ['host'] }, async (request) => {
    const parsed = DepositBody.safeParse(request.body);
    if (!parsed.success) return errorReply('bad_request', issues(parsed.error));
    const host = request.headers.host ?? '';
    const origin = `http://${/^[A-Za-z0-9.:[\]-]{1,255}$/.test(host) ? host : '127.0.0.1'}`;
    return outcomeReply(await deposits.create(request.principal!.userId, parsed.data, origin), 201);
  });

  route('get', `${BASE}/deposits`, { role: 'trader' }, async ({ principal, query }) => {
    const p = page(query);
    if (!p.ok) return p.reply;
    const { items, next } = await deposits.list(principal!.userId, p.limit, p.after);
    return { ...json(200, items), headers: pageHeaders(next) };
  });

  route('get', `${BASE}/deposits/:id`, { role: 'trader' }, async ({ principal, params }) =>
    outcomeReply(await deposits.get(principal!.userId, params[0]!)),
  );

  route(
    'post',
    `${BASE}/webhooks/paystack`,
    { body: 'raw', headers: ['x-paystack-signature'], admit },
    async (request) => providerReply(await webhooks.paystack(notification(request, 'x-paystack-signature'))),
  );
  route('post', `${BASE}/webhooks/payfast`, { body: 'raw', admit }, async (request) =>
    providerReply(await webhooks.payfast(notification(request))),
  );
  route('post', `${BASE}/webhooks/ozow`, { body: 'raw', admit }, async (request) =>
    providerReply(await webhooks.ozow(notification(request))),
  );

  route('post', `${BASE}/withdrawals`, { role: 'trader', body: true }, async ({ principal, body }) => {
    const parsed = WithdrawalBody.safeParse(body);
    if (!parsed.success) return errorReply('bad_request', issues(parsed.error));
    return outcomeReply(await withdrawals.request(principal!.userId, parsed.data), 201);
  });

  route('get', `${BASE}/withdrawals`, { role: 'trader' }, async ({ principal, query }) => {
    const p = page(query);
    if (!p.ok) return p.reply;
    const { items, next } = await withdrawals.list({ userId: principal!.userId }, p.limit, p.after);
    return { ...json(200, items), headers: pageHeaders(next) };
  });

  route('get', `${BASE}/withdrawals/:id`, { role: 'trader' }, async ({ principal, params }) =>
    outcomeReply(await withdrawals.get(params[0]!, principal!.userId)),
  );

  route('get', `${BASE}/admin/withdrawals`, { role: 'admin' }, async ({ query }) => {
    const p = page(query);
    if (!p.ok) return p.reply;
    const statusText = query.get('status');
    const status = statusText === null ? undefined : WithdrawalStatus.safeParse(statusText);
    if (status !== undefined && !status.success)
      return errorReply('bad_request', `unknown status ${statusText}`);
    const { items, next } = await withdrawals.list({ status: status?.data }, p.limit, p.after);
    return { ...json(200, items), headers: pageHeaders(next) };
  });

  for (const decision of ['approve', 'reject'] as const) {
    route(
      'post',
      `${BASE}/admin/withdrawals/:id/${decision}`,
      { role: 'admin', body: true },
      async ({ params, body, principal }) => {
        const parsed = ReasonBody.safeParse(body ?? undefined);
        if (!parsed.success) return errorReply('bad_request', issues(parsed.error));
        const reason = parsed.data?.reason;
        const done =
          decision === 'approve'
            ? await withdrawals.approve(params[0]!, principal!.userId, reason)
            : await withdrawals.reject(params[0]!, principal!.userId, reason);
        return outcomeReply(done);
      },
    );
  }
}
