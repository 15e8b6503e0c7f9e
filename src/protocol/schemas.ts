import { z } from 'zod/v4';

/*
 * Every client input of PROTOCOL.md, parsed at the boundary. Shapes only: decimal strings are
 * checked against the market's money rules by order entry (service.ts), which knows the market.
 * Unknown extra fields are ignored; missing or mistyped ones answer `bad_request`.
 */

const decimal = z.string().min(1).max(64);
const marketName = z.string().min(1).max(64);
export const clientOrderId = z.string().regex(/^[A-Za-z0-9_-]{1,36}$/, '1-36 characters of A-Z a-z 0-9 _ -');
const orderId = z.string().min(1).max(128);

export const rid = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const PlaceRequest = z.object({
  market: marketName,
  side: z.enum(['buy', 'sell']),
  type: z.enum(['limit', 'market', 'stop_limit', 'stop_market', 'trailing_stop']),
  qty: decimal.optional(),
  price: decimal.optional(),
  stopPrice: decimal.optional(),
  tif: z.enum(['GTC', 'IOC', 'FOK', 'GTD']).optional(),
  postOnly: z.boolean().optional(),
  stp: z.enum(['cancel_taker', 'cancel_maker', 'cancel_both', 'decrement']).optional(),
  clientOrderId: clientOrderId.optional(),
  quoteQty: decimal.optional(),
  /** GTD only: ms since epoch. */
  expireAt: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  /** Iceberg: a GTC/GTD limit or stop_limit shows at most this much at its price. */
  displayQty: decimal.optional(),
  /** trailing_stop: the trailing distance as a price (decimal) or in basis points (one of them). */
  trailingOffset: decimal.optional(),
  trailingBps: z.number().int().min(1).max(10_000).optional(),
  /** trailing_stop: once triggered, a limit this far beyond the stop price (a price distance). */
  limitOffset: decimal.optional(),
});
export type PlaceRequest = z.infer<typeof PlaceRequest>;

/** PROTOCOL v1.1 "More order types": OCO, a limit leg and a stop leg sharing one lock. */
export const PlaceOcoRequest = z.object({
  market: marketName,
  side: z.enum(['buy', 'sell']),
  qty: decimal,
  price: decimal,
  stopPrice: decimal,
  stopLimitPrice: decimal.optional(),
  stp: z.enum(['cancel_taker', 'cancel_maker', 'cancel_both', 'decrement']).optional(),
  clientOrderId: clientOrderId.optional(),
});
export type PlaceOcoRequest = z.infer<typeof PlaceOcoRequest>;

const orderRef = { market: marketName, orderId: orderId.optional(), clientOrderId: clientOrderId.optional() };
const named = (r: { orderId?: string | undefined; clientOrderId?: string | undefined }) =>
  r.orderId !== undefined || r.clientOrderId !== undefined;
const namedMessage = { message: 'give orderId or clientOrderId' };

export const CancelRequest = z.object(orderRef).refine(named, namedMessage);
export type CancelRequest = z.infer<typeof CancelRequest>;

export const AmendRequest = z
  .object({ ...orderRef, qty: decimal.optional(), price: decimal.optional() })
  .refine(named, namedMessage)
  .refine((r) => r.qty !== undefined || r.price !== undefined, { message: 'give qty or price' });
export type AmendRequest = z.infer<typeof AmendRequest>;

export const CancelAllRequest = z.object({ market: marketName.optional() });

export const AuthRequest = z.object({
  token: z.string().min(1).max(4096),
  cancelOnDisconnect: z.boolean().optional(),
});

export const CHANNELS = [
  'book',
  'trades',
  'lifecycle',
  'candles',
  'ticker',
  'orders',
  'fills',
  'balances',
  // PROTOCOL v1.1, Funding: deposits' and withdrawals' status changes (issue 15).
  'funding',
  // In-app notifications (PROTOCOL v1.1, Notifications).
  'notifications',
  // PROTOCOL v1.1, Portfolio: a position's new qty, average price and realized PnL (issue 18).
  'positions',
  // The admin-only actor-state stream of the visualizer (src/transport/inspection.ts).
  'actors',
] as const;
export type Channel = (typeof CHANNELS)[number];
export const PRIVATE_CHANNELS: ReadonlySet<Channel> = new Set([
  'orders',
  'fills',
  'balances',
  'funding',
  'notifications',
  'positions',
]);

export const SubRequest = z.object({
  ch: z.enum(CHANNELS),
  market: marketName.optional(),
  depth: z.union([z.literal(10), z.literal(50), z.literal(0)]).optional(),
  interval: z.enum(['1m', '5m', '1h']).optional(),
});
export const UnsubRequest = z.object({ ch: z.enum(CHANNELS), market: marketName.optional() });

/** HTTP bodies (PROTOCOL.md, HTTP). */
export const CreditBody = z.object({
  userId: z.string().min(1).max(128),
  asset: z.string().min(1).max(16),
  amount: decimal,
});

export const AssetBody = z.object({
  symbol: z.string().min(1).max(16),
  decimals: z.number().int().min(0).max(36),
  kind: z.enum(['crypto', 'stable', 'rwa', 'fiat']),
  /** The ERC-20 of a stable or crypto asset on the exchange's chain (issue 16). */
  contractAddress: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, 'an address: 0x and 40 hex digits')
    .optional(),
});

/** A market's money and fees, as POST /markets and POST /markets/register take them. */
export const TradingTerms = z.object({
  priceDecimals: z.number().int().min(0).max(18),
  qtyDecimals: z.number().int().min(0).max(18),
  tickSize: decimal,
  lotSize: decimal,
  minQty: decimal,
  maxQty: decimal.optional(),
  /** PROTOCOL v1.1: the smallest order notional in quote units; checked by the catalog. */
  minNotional: decimal.optional(),
  makerFeeBps: z.number().int().min(0).max(1000).optional(),
  takerFeeBps: z.number().int().min(0).max(1000).optional(),
});

export const MarketBody = z.object({
  symbol: z.string().min(3).max(33),
  baseAsset: z.string().min(1).max(16),
  quoteAsset: z.string().min(1).max(16),
  ...TradingTerms.shape,
});
export type MarketBody = z.infer<typeof MarketBody>;

export const ASSET_TYPES = [
  'real_estate',
  'corporate_stock',
  'government_bond',
  'commodity',
  'private_equity',
  'art_collectible',
  'carbon_credit',
  'other',
] as const;

const text = (max: number) => z.string().trim().min(1).max(max);
/** A compliance document's id in the issuer's system: kept exactly as sent (no trimming). */
const documentId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^\S(.*\S)?$/, 'a document id has no leading or trailing spaces');

/** POST /markets/register (issuer): an RWA market and its asset (PROTOCOL.md, HTTP). */
export const RegisterBody = z.object({
  name: text(200),
  assetType: z.enum(ASSET_TYPES),
  tokenSymbol: z.string().regex(/^[A-Z][A-Z0-9]{0,15}$/, '1-16 of A-Z and 0-9, starting with a letter'),
  tokenName: text(100),
  totalSupply: decimal,
  quoteAsset: z.string().min(1).max(16),
  ...TradingTerms.shape,
  assetDetails: z
    .object({
      valuation: decimal.optional(),
      currency: z.string().min(1).max(16).optional(),
      location: text(500).optional(),
      // Document ids as issuers' systems send them, or descriptions (PROTOCOL v1.1); kept as sent.
      complianceDocuments: z
        .array(
          z.union([
            documentId,
            z.object({ name: text(200), url: z.url().max(2000), hash: z.string().max(200).optional() }),
          ]),
        )
        .max(50)
        .optional(),
      regulatoryInfo: z
        .record(z.string().max(100), z.union([z.string().max(2000), z.number(), z.boolean()]))
        .optional(),
      attributes: z
        .record(z.string().max(100), z.union([z.string().max(2000), z.number(), z.boolean()]))
        .optional(),
    })
    .optional(),
});
export type RegisterBody = z.infer<typeof RegisterBody>;

export const DecisionBody = z.object({
  decision: z.enum(['approved', 'rejected']),
  reason: text(1000).optional(),
});

export const ReasonBody = z.object({ reason: text(1000).optional() });

/** POST /admin/compliance: a user's compliance for one real-world asset. */
export const ComplianceBody = z.object({
  userId: z.string().min(1).max(128),
  asset: z.string().min(1).max(16),
  kycStatus: z.enum(['pending', 'approved', 'rejected']),
  allowlisted: z.boolean(),
  accredited: z.boolean().default(false),
  /** Milliseconds since the epoch. */
  expiresAt: z.number().int().positive().max(8.64e15).optional(),
  walletAddress: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/)
    .optional(),
  /**
   * When the record leaves the user without compliance: cancel the user's open orders in every
   * market moving the asset (default). `false` leaves them for review (they cannot be amended up
   * or trigger, but resting ones can still fill as makers).
   */
  cancelOpenOrders: z.boolean().default(true),
});

/** The first problem of a failed parse, as one readable line. */
export function describeIssues(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid request';
  const path = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return `${path}${issue.message}`;
}
