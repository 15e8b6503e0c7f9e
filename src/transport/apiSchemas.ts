import { z } from 'zod/v4';
import { LIFECYCLE_STATES } from '../../machines/marketLifecycle.ts';
import { ACCEPTED_STATUSES, ORDER_STATUSES } from '../protocol/messages.ts';
import { HTTP_STATUS } from '../protocol/errors.ts';

/*
 * The shapes the server answers (PROTOCOL.md), as zod schemas for the published documents
 * (OpenAPI at /api/v1/openapi.json, AsyncAPI at /api/v1/asyncapi.json). The server builds its
 * answers elsewhere (http/views.ts, the publisher); these describe them, and the request schemas
 * of schemas.ts describe what it parses.
 */

const decimal = z
  .string()
  .regex(/^-?[0-9]+(\.[0-9]+)?$/)
  .meta({ description: 'a decimal string with exactly the market (or asset) decimals' });
const timestamp = z.number().int().nonnegative().meta({ description: 'milliseconds since the Unix epoch' });
const side = z.enum(['buy', 'sell']);
const orderType = z.enum(['limit', 'market', 'stop_limit', 'stop_market', 'trailing_stop']);
const level = z.tuple([decimal, decimal]).meta({ description: '[price, qty]' });

export const ErrorCodeSchema = z.enum(Object.keys(HTTP_STATUS) as [keyof typeof HTTP_STATUS]);

/** Every HTTP error answer: `{error:{code, message, requestId?}}`. */
export const ErrorBody = z.object({
  error: z.object({
    code: ErrorCodeSchema,
    message: z.string(),
    requestId: z.string().optional().meta({ description: 'the X-Request-Id of the request' }),
  }),
});

export const Market = z.object({
  id: z.string(),
  symbol: z.string().meta({ description: 'BASE-QUOTE' }),
  status: z.enum(LIFECYCLE_STATES),
  baseAsset: z.string(),
  quoteAsset: z.string(),
  priceDecimals: z.number().int(),
  qtyDecimals: z.number().int(),
  tickSize: decimal,
  lotSize: decimal,
  minQty: decimal,
  maxQty: decimal,
  minNotional: decimal.optional(),
  makerFeeBps: z.number().int(),
  takerFeeBps: z.number().int(),
  name: z.string().optional(),
  assetType: z.string().optional(),
  tokenSymbol: z.string().optional(),
  tokenName: z.string().optional(),
  totalSupply: decimal.optional(),
  issuerId: z.string().optional(),
  contractAddress: z.string().optional(),
  deploymentTxHash: z.string().optional(),
  deployError: z.string().optional(),
  rejectedReason: z.string().optional(),
  approvedAt: timestamp.optional(),
  activatedAt: timestamp.optional(),
});

export const MarketDetails = Market.extend({
  asset: z
    .record(z.string(), z.unknown())
    .nullable()
    .meta({ description: 'the registered asset details, as sent (null for a market listed directly)' }),
  /** Issue 19: the latest RWA valuation (POST /markets/:id/valuations), when there is one. */
  valuation: z.record(z.string(), z.unknown()).optional(),
});

export const MarketEvent = z.object({
  eventType: z.string().meta({ description: 'market.registered, market.approved, market.paused, …' }),
  actorId: z.string(),
  actorType: z.string(),
  decision: z.string().optional(),
  reason: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  ts: timestamp,
});

export const Book = z.object({
  market: z.string(),
  seq: z.number().int().nonnegative(),
  bids: z.array(level).meta({ description: 'best (highest) first' }),
  asks: z.array(level).meta({ description: 'best (lowest) first' }),
  checksum: z
    .number()
    .int()
    .nonnegative()
    .meta({ description: 'CRC-32 of the best 10 levels (PROTOCOL.md)' }),
});

export const Trade = z.object({
  market: z.string(),
  seq: z.number().int().positive(),
  tradeId: z.string(),
  price: decimal,
  qty: decimal,
  side: side.meta({ description: "the taker's side" }),
  ts: timestamp,
  settlement: z
    .enum(['pending', 'settled', 'failed'])
    .optional()
    .meta({ description: 'on chain, in markets whose assets have tokens (PROTOCOL v1.1 Chain)' }),
  settlementTx: z.string().optional().meta({ description: 'the settlement transaction, once settled' }),
});

export const Candle = z.object({
  market: z.string(),
  interval: z.enum(['1m', '5m', '1h']),
  t: timestamp.meta({ description: 'open time' }),
  o: decimal,
  h: decimal,
  l: decimal,
  c: decimal,
  v: decimal,
  closed: z.boolean(),
});

export const Order = z.object({
  orderId: z.string(),
  clientOrderId: z.string().optional(),
  market: z.string(),
  side,
  type: orderType,
  status: z.enum(ORDER_STATUSES),
  price: decimal.optional(),
  stopPrice: decimal.optional(),
  qty: decimal,
  filledQty: decimal,
  remainingQty: decimal,
  avgPrice: decimal.optional(),
  ts: timestamp,
});

export const Balance = z.object({ asset: z.string(), available: decimal, locked: decimal });

export const Accepted = z.object({
  orderId: z.string(),
  clientOrderId: z.string().optional(),
  status: z.enum(ACCEPTED_STATUSES),
  filledQty: decimal,
  remainingQty: decimal,
});

export const Canceled = z.object({
  orderId: z.string(),
  clientOrderId: z.string().optional(),
  status: z.literal('canceled'),
  filledQty: decimal,
  remainingQty: decimal,
});

export const CanceledAll = z.object({ count: z.number().int().nonnegative() });

export const Asset = z.object({
  symbol: z.string(),
  decimals: z.number().int(),
  kind: z.enum(['crypto', 'stable', 'rwa', 'fiat']),
});

export const Credited = z.object({
  userId: z.string(),
  asset: z.string(),
  amount: decimal,
  available: decimal.meta({ description: "the account's balance after the credit" }),
  locked: decimal,
});

export const ComplianceRecord = z
  .object({
    userId: z.string(),
    asset: z.string(),
    kycStatus: z.enum(['pending', 'approved', 'rejected']),
    allowlisted: z.boolean(),
    accredited: z.boolean(),
    expiresAt: timestamp.optional(),
    walletAddress: z.string().optional(),
    canceledOrders: z.number().int().optional().meta({ description: 'set answers: open orders canceled' }),
  })
  .loose();

export const Health = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    postgres: z.enum(['ok', 'down']),
    redis: z.string(),
    chain: z.string(),
    history: z.enum(['ok', 'catching_up']).optional(),
    historyLag: z.object({ records: z.number().int(), ms: z.number().int() }).optional(),
  })
  .loose();

export const Status = z.object({ status: z.string() });

/** The entity-permissions webhook payload (direct), or an SNS envelope carrying it in `Message`. */
export const EntityPermissionsEvent = z.union([
  z.object({
    event_id: z.string(),
    event_type: z.enum(['market.approved', 'market.rejected']),
    payload: z.object({
      market_id: z.string(),
      entity_id: z.string(),
      decision: z.string(),
      reason: z.string().optional(),
    }),
    context: z.object({ actor_id: z.string() }),
  }),
  z.object({ Type: z.string(), Message: z.string() }).loose().meta({ description: 'an SNS envelope' }),
]);

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1, AsyncAPI 3.0), without its `$schema`. */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const converted = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete converted.$schema;
  return converted;
}
