import { z } from 'zod/v4';
import { OzowNotification } from '../../funding/providers/ozow.ts';
import { PaystackEvent } from '../../funding/providers/paystack.ts';

/*
 * The funding routes' descriptions (PROTOCOL v1.1, Funding; http/funding.ts registers the routes),
 * spread into OPERATIONS. The bodies are the schemas the handlers parse.
 */

const BASE = '/api/v1';
const decimal = z.string().regex(/^\d+(\.\d+)?$/);

export const DepositBody = z.strictObject({
  asset: z.string().min(1).max(16),
  amount: z.string().min(1).max(40),
  provider: z.enum(['paystack', 'payfast', 'ozow']),
  email: z.email().max(200).optional(),
  returnUrl: z
    .url({ protocol: /^https?$/ })
    .max(500)
    .optional(),
});

export const WithdrawalBody = z.strictObject({
  asset: z.string().min(1).max(16),
  amount: z.string().min(1).max(40),
  destination: z.string().min(1).max(100),
});

export const WithdrawalDecisionBody = z.strictObject({ reason: z.string().max(500).optional() });

export const WITHDRAWAL_STATUSES = [
  'pending_approval',
  'approved',
  'submitted',
  'confirmed',
  'rejected',
  'failed',
] as const;

const DepositCreated = z.object({
  id: z.uuid(),
  status: z.literal('pending'),
  provider: z.enum(['paystack', 'payfast', 'ozow']),
  reference: z.string(),
  asset: z.string(),
  amount: decimal,
  redirectUrl: z.string(),
  formFields: z.record(z.string(), z.string()).optional(),
});

const Deposit = z.object({
  id: z.uuid(),
  status: z.enum(['pending', 'completed', 'failed']),
  provider: z.enum(['paystack', 'payfast', 'ozow', 'chain']),
  reference: z.string().optional().describe("a provider's reference (absent for a chain deposit)"),
  txHash: z.string().optional().describe('a chain deposit: the transaction that paid it'),
  asset: z.string(),
  amount: decimal,
  createdAt: z.number().int(),
  completedAt: z.number().int().optional(),
  failureReason: z.string().optional(),
});

const Withdrawal = z.object({
  id: z.uuid(),
  status: z.enum(WITHDRAWAL_STATUSES),
  asset: z.string(),
  amount: decimal,
  destination: z.string(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  userId: z.string().optional(),
  txHash: z.string().optional(),
  reason: z.string().optional(),
});

const page = [
  {
    name: 'limit',
    schema: z.number().int().min(1).max(1000).default(100),
    description: 'items per page (default 100, at most 1000)',
  },
  { name: 'cursor', schema: z.string(), description: 'the X-Next-Cursor of the previous page (opaque)' },
] as const;

const Handled = z.object({
  status: z.enum(['processed', 'duplicate', 'refused']),
  reason: z.string().optional(),
});
const retried = {
  503: 'the provider API or the journal is unreachable: nothing changed, the provider retries',
};

/** Typed where they are spread (OPERATIONS, operations.ts): importing OperationDoc here would be a cycle. */
export const FUNDING_OPERATIONS = {
  [`get ${BASE}/admin/reconciliation`]: {
    summary: 'Per token and deposit address: balanceOf on chain against the ledger, and the drift',
    tag: 'funding',
    ok: {
      status: 200,
      shape: z.object({
        checkedAt: z.number().int(),
        drifted: z.number().int(),
        rows: z.array(
          z.object({
            asset: z.string(),
            token: z.string(),
            userId: z.string(),
            address: z.string(),
            onChain: decimal,
            ledger: decimal,
            drift: z.string(),
          }),
        ),
      }),
    },
    errors: ['unavailable'],
  },
  [`get ${BASE}/funding/address`]: {
    summary: "The user's custodial deposit address on the exchange's chain (assigned on first ask)",
    tag: 'funding',
    ok: { status: 200, shape: z.object({ address: z.string(), chainId: z.number().int() }) },
    errors: ['unavailable'],
  },
  [`post ${BASE}/deposits`]: {
    summary: 'Open a fiat deposit with a payment provider (Paystack, PayFast form, Ozow redirect)',
    tag: 'funding',
    body: { schema: DepositBody },
    ok: { status: 201, shape: DepositCreated },
    errors: ['not_found', 'unavailable', 'rate_limited'],
  },
  [`get ${BASE}/deposits`]: {
    summary: 'Own deposits, newest first',
    tag: 'funding',
    query: page,
    ok: { status: 200, shape: { list: Deposit }, paged: true },
  },
  [`get ${BASE}/deposits/:id`]: {
    summary: 'One own deposit',
    tag: 'funding',
    ok: { status: 200, shape: Deposit },
    errors: ['not_found'],
  },
  [`post ${BASE}/webhooks/paystack`]: {
    summary: 'Paystack events (x-paystack-signature: HMAC-SHA512 of the raw body)',
    tag: 'webhooks',
    signature: true,
    body: { schema: PaystackEvent },
    ok: { status: 200, shape: Handled },
    more: retried,
  },
  [`post ${BASE}/webhooks/payfast`]: {
    summary: 'PayFast ITNs (form fields, MD5 signature with the passphrase, source allowlist, validate)',
    tag: 'webhooks',
    signature: true,
    body: {
      schema: z.record(z.string(), z.string()).describe('application/x-www-form-urlencoded, in posted order'),
    },
    ok: { status: 200, shape: 'text' },
    more: retried,
  },
  [`post ${BASE}/webhooks/ozow`]: {
    summary: 'Ozow notifications (form fields, SHA-512 Hash; confirmed by GetTransactionByReference)',
    tag: 'webhooks',
    signature: true,
    body: { schema: OzowNotification.describe('application/x-www-form-urlencoded') },
    ok: { status: 200, shape: Handled },
    more: retried,
  },
  [`post ${BASE}/withdrawals`]: {
    summary: 'Request a withdrawal: the amount is locked at once, an admin approves it',
    tag: 'funding',
    body: { schema: WithdrawalBody },
    ok: { status: 201, shape: Withdrawal },
    errors: ['not_found', 'insufficient_funds', 'unavailable'],
  },
  [`get ${BASE}/withdrawals`]: {
    summary: 'Own withdrawals, newest first',
    tag: 'funding',
    query: page,
    ok: { status: 200, shape: { list: Withdrawal }, paged: true },
  },
  [`get ${BASE}/withdrawals/:id`]: {
    summary: 'One own withdrawal',
    tag: 'funding',
    ok: { status: 200, shape: Withdrawal },
    errors: ['not_found'],
  },
  [`get ${BASE}/admin/withdrawals`]: {
    summary: 'Withdrawals to review (by status), newest first',
    tag: 'admin',
    query: [
      ...page,
      { name: 'status', schema: z.enum(WITHDRAWAL_STATUSES), description: 'only withdrawals in this status' },
    ],
    ok: { status: 200, shape: { list: Withdrawal }, paged: true },
  },
  [`post ${BASE}/admin/withdrawals/:id/approve`]: {
    summary: 'Approve a withdrawal: its payout starts (process-withdrawal job)',
    tag: 'admin',
    body: { schema: WithdrawalDecisionBody, optional: true },
    ok: { status: 200, shape: Withdrawal },
    errors: ['not_found', 'invalid_transition', 'unavailable'],
  },
  [`post ${BASE}/admin/withdrawals/:id/reject`]: {
    summary: 'Reject a withdrawal: its lock is released with the reason',
    tag: 'admin',
    body: { schema: WithdrawalDecisionBody, optional: true },
    ok: { status: 200, shape: Withdrawal },
    errors: ['not_found', 'invalid_transition', 'unavailable'],
  },
} as const;
