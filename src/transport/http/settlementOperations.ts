import { z } from 'zod/v4';
import { MintBody } from '../../funding/mints.ts';

/*
 * The descriptions of the settlement and mint routes (PROTOCOL v1.1, Chain; http/settlement.ts
 * registers them), spread into OPERATIONS.
 */

const BASE = '/api/v1';
const decimal = z.string().regex(/^\d+(\.\d+)?$/);

export const SETTLEMENT_STATUSES = ['pending', 'submitted', 'settled', 'failed'] as const;

const Mint = z.object({
  id: z.string(),
  marketId: z.string(),
  asset: z.string(),
  amount: decimal,
  status: z.enum(['pending', 'submitted', 'credited', 'failed']),
  txHash: z.string().optional(),
  reason: z.string().optional(),
});

const SettlementItem = z.object({
  tradeId: z.string(),
  marketId: z.string(),
  roundId: z.number().int(),
  status: z.enum(SETTLEMENT_STATUSES),
  txHash: z.string().optional(),
  attempts: z.number().int(),
  reason: z.string().optional(),
  ts: z.number().int(),
});

/** Typed where they are spread (OPERATIONS, operations.ts). */
export const SETTLEMENT_OPERATIONS = {
  [`post ${BASE}/markets/:id/mint`]: {
    summary:
      "Mint more of an active RWA market's token to its issuer (the mint-token job); the credit follows the receipt",
    tag: 'issuance',
    body: { schema: MintBody },
    ok: { status: 202, shape: Mint },
    errors: ['unknown_market', 'forbidden', 'market_not_active', 'unavailable'],
  },
  [`get ${BASE}/admin/settlements`]: {
    summary:
      'Trades by the status of their settlement round (failed: what an operator must look at), oldest first',
    tag: 'admin',
    query: [
      { name: 'status', schema: z.enum(SETTLEMENT_STATUSES).default('failed'), description: 'round status' },
      {
        name: 'limit',
        schema: z.number().int().min(1).max(1000).default(100),
        description: 'items per page (default 100, at most 1000)',
      },
      { name: 'cursor', schema: z.string(), description: 'the X-Next-Cursor of the previous page (opaque)' },
    ],
    ok: { status: 200, shape: { list: SettlementItem }, paged: true },
    errors: ['unavailable'],
  },
} as const;
