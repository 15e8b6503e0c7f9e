import { z } from 'zod/v4';
import { ORDER_STATUSES } from '../../protocol/messages.ts';
import * as api from '../apiSchemas.ts';
import { FUNDING_OPERATIONS } from './fundingOperations.ts';
import { SETTLEMENT_OPERATIONS } from './settlementOperations.ts';
import { ANALYTICS_OPERATIONS } from './analyticsOperations.ts';
import { NOTIFICATION_OPERATIONS } from './notificationOperations.ts';
import { WEB_OPERATIONS } from './webOperations.ts';
import type { ErrorCode } from '../../protocol/errors.ts';
import {
  AssetBody,
  ComplianceBody,
  CreditBody,
  DecisionBody,
  MarketBody,
  PlaceRequest,
  ReasonBody,
  RegisterBody,
} from '../../protocol/schemas.ts';
import { TREND_OPERATIONS } from './trendOperations.ts';

/*
 * One description per HTTP route, keyed `method pattern` exactly as the route is registered with
 * the router (src/transport/http.ts, http/issuance.ts, http/webhooks.ts): its summary,
 * the zod schema its handler parses, its query parameters, its success answer and the codes it
 * answers. http/openapi.ts turns these and the router's record (role, body) into the document; a
 * route registered without a description here fails test/wire/apiDocs.test.ts.
 */

export type Shape = z.ZodType | { readonly list: z.ZodType } | 'text' | 'html';

export interface QueryParam {
  readonly name: string;
  readonly schema: z.ZodType;
  readonly description: string;
}

export interface OperationDoc {
  readonly summary: string;
  readonly tag:
    | 'operations'
    | 'admin'
    | 'markets'
    | 'orders'
    | 'issuance'
    | 'webhooks'
    | 'docs'
    | 'funding'
    | 'analytics'
    | 'notifications';
  /** The body the handler parses; `optional` when it may be empty. */
  readonly body?: { readonly schema: z.ZodType; readonly optional?: boolean };
  readonly query?: readonly QueryParam[];
  /** The success answer. `paged`: the list pages with `limit`/`cursor` and answers `X-Next-Cursor`. */
  readonly ok: { readonly status: number; readonly shape: Shape; readonly paged?: boolean };
  /** The codes the handler answers, besides those of the router (auth, body, bounds). */
  readonly errors?: readonly ErrorCode[];
  /** Authenticated by a signature header instead of a bearer token. */
  readonly signature?: boolean;
  /** More statuses the route answers, with their meaning. */
  readonly more?: Readonly<Record<number, string>>;
}

const BASE = '/api/v1';
const limit = (max: number, fallback: number): QueryParam => ({
  name: 'limit',
  schema: z.number().int().min(1).max(max).default(fallback),
  description: `items per page (default ${fallback}, at most ${max})`,
});
const cursor: QueryParam = {
  name: 'cursor',
  schema: z.string(),
  description: 'the X-Next-Cursor of the previous page (opaque)',
};
const marketQuery = (description: string): QueryParam => ({
  name: 'market',
  schema: z.string().min(1).max(64),
  description,
});

/** Every route the server registers, `method pattern` as given to the router. */
export const OPERATIONS: Readonly<Record<string, OperationDoc>> = {
  ...TREND_OPERATIONS,
  // PROTOCOL v1.1, Funding (issue 15).
  ...FUNDING_OPERATIONS,
  // PROTOCOL v1.1, Chain: minting and settlement (issue 16).
  ...SETTLEMENT_OPERATIONS,
  'get /health': {
    summary: 'Health of the exchange and its dependencies (503 when Postgres is unreachable)',
    tag: 'operations',
    ok: { status: 200, shape: api.Health },
    more: { 503: 'Postgres is unreachable (the body is the same health object)' },
  },
  'get /metrics': { summary: 'Prometheus metrics', tag: 'operations', ok: { status: 200, shape: 'text' } },
  'get /docs': { summary: 'This API as a readable page', tag: 'docs', ok: { status: 200, shape: 'html' } },
  [`get ${BASE}/openapi.json`]: {
    summary: 'This document (OpenAPI 3.1)',
    tag: 'docs',
    ok: { status: 200, shape: z.record(z.string(), z.unknown()) },
  },
  [`get ${BASE}/asyncapi.json`]: {
    summary: 'The WebSocket API (AsyncAPI 3.0)',
    tag: 'docs',
    ok: { status: 200, shape: z.record(z.string(), z.unknown()) },
  },
  [`get ${BASE}/webhooks/health`]: {
    summary: 'Webhook receiver health',
    tag: 'webhooks',
    ok: { status: 200, shape: api.Status },
  },
  [`post ${BASE}/webhooks/entity-permissions`]: {
    summary: 'Approval decisions of the entity-permissions service (direct, or an SNS envelope)',
    tag: 'webhooks',
    signature: true,
    body: { schema: api.EntityPermissionsEvent },
    ok: {
      status: 200,
      shape: z.object({ status: z.enum(['processed', 'duplicate', 'confirmed', 'ignored']) }),
    },
    errors: ['invalid_transition', 'forbidden'],
  },
  [`post ${BASE}/assets`]: {
    summary: 'Define an asset',
    tag: 'admin',
    body: { schema: AssetBody },
    ok: { status: 201, shape: api.Asset },
    errors: ['conflict'],
  },
  [`post ${BASE}/markets`]: {
    summary: 'List a pair of existing assets directly (active at once)',
    tag: 'admin',
    body: { schema: MarketBody },
    ok: { status: 201, shape: api.Market },
    errors: ['conflict', 'not_found'],
  },
  [`post ${BASE}/admin/credit`]: {
    summary: 'Credit an account (an off-chain deposit, ledger-posted and audited)',
    tag: 'admin',
    body: { schema: CreditBody },
    ok: { status: 200, shape: api.Credited },
    errors: ['not_found'],
  },
  [`post ${BASE}/admin/compliance`]: {
    summary: "Set a user's compliance for one real-world asset",
    tag: 'admin',
    body: { schema: ComplianceBody },
    ok: { status: 200, shape: api.ComplianceRecord },
    errors: ['not_found'],
  },
  [`get ${BASE}/admin/compliance/:userId`]: {
    summary: "A user's compliance records",
    tag: 'admin',
    ok: { status: 200, shape: { list: api.ComplianceRecord } },
  },
  [`get ${BASE}/markets`]: {
    summary: 'Every market',
    tag: 'markets',
    ok: { status: 200, shape: { list: api.Market } },
  },
  [`get ${BASE}/markets/:id`]: {
    summary: 'One market',
    tag: 'markets',
    ok: { status: 200, shape: api.Market },
    errors: ['unknown_market'],
  },
  [`get ${BASE}/markets/:id/details`]: {
    summary: 'A market with its registered asset details',
    tag: 'issuance',
    ok: { status: 200, shape: api.MarketDetails },
    errors: ['unknown_market'],
  },
  [`get ${BASE}/markets/:id/events`]: {
    summary: "A market's lifecycle and approval history, oldest first",
    tag: 'issuance',
    ok: { status: 200, shape: { list: api.MarketEvent } },
    errors: ['unknown_market'],
  },
  [`get ${BASE}/markets/:id/book`]: {
    summary: "The market's order book (the WebSocket snapshot's fields)",
    tag: 'markets',
    query: [
      {
        name: 'depth',
        schema: z.number().int().min(0).default(50),
        description: 'levels per side (0: all)',
      },
    ],
    ok: { status: 200, shape: api.Book },
    errors: ['unknown_market'],
  },
  [`get ${BASE}/markets/:id/trades`]: {
    summary: "The market's trades, newest first",
    tag: 'markets',
    query: [limit(1000, 100), cursor],
    ok: { status: 200, shape: { list: api.Trade }, paged: true },
    errors: ['unknown_market'],
  },
  [`get ${BASE}/markets/:id/candles`]: {
    summary: 'Candles of committed trades (no gaps: empty intervals repeat the close with v 0)',
    tag: 'markets',
    query: [
      { name: 'interval', schema: z.enum(['1m', '5m', '1h']).default('1m'), description: 'candle width' },
      { name: 'from', schema: z.number().int().min(0), description: 'first open time (ms)' },
      { name: 'to', schema: z.number().int().min(0), description: 'last open time (ms)' },
      limit(1000, 500),
    ],
    ok: { status: 200, shape: { list: api.Candle } },
    errors: ['unknown_market'],
  },
  [`post ${BASE}/markets/register`]: {
    summary: 'Register an RWA market and its asset (status pending_approval)',
    tag: 'issuance',
    body: { schema: RegisterBody },
    ok: { status: 201, shape: api.Market },
    errors: ['conflict', 'not_found'],
  },
  [`post ${BASE}/markets/:id/approve`]: {
    summary: 'Approve or reject a registered market',
    tag: 'issuance',
    body: { schema: DecisionBody },
    ok: { status: 200, shape: api.Market },
    errors: ['unknown_market', 'invalid_transition'],
  },
  [`post ${BASE}/markets/:id/activate`]: {
    summary: '(Re)start token deployment',
    tag: 'issuance',
    ok: { status: 200, shape: api.Market },
    errors: ['unknown_market', 'invalid_transition'],
  },
  ...Object.fromEntries(
    (['pause', 'resume', 'archive'] as const).map((action) => [
      `post ${BASE}/markets/:id/${action}`,
      {
        summary: `Lifecycle: ${action} the market`,
        tag: 'issuance',
        body: { schema: ReasonBody, optional: true },
        ok: { status: 200, shape: api.Market },
        errors: ['unknown_market', 'invalid_transition'],
      } satisfies OperationDoc,
    ]),
  ),
  [`post ${BASE}/orders`]: {
    summary: 'Place an order (answers once it and its immediate fills are committed)',
    tag: 'orders',
    body: { schema: PlaceRequest },
    ok: { status: 201, shape: api.Accepted },
    errors: [
      'unknown_market',
      'market_not_active',
      'compliance',
      'duplicate_client_order_id',
      'insufficient_funds',
      'would_match',
      'fok_unfilled',
      'too_many_open_orders',
    ],
  },
  [`get ${BASE}/orders`]: {
    summary: "The caller's orders: open ones first, then closed ones, most recent first",
    tag: 'orders',
    query: [
      marketQuery('only this market (id or symbol)'),
      { name: 'status', schema: z.enum(ORDER_STATUSES), description: 'only orders in this status' },
      limit(1000, 100),
      cursor,
    ],
    ok: { status: 200, shape: { list: api.Order }, paged: true },
    errors: ['unknown_market'],
  },
  [`del ${BASE}/orders/:orderId`]: {
    summary: 'Cancel one of the caller’s orders',
    tag: 'orders',
    ok: { status: 200, shape: api.Canceled },
    errors: ['not_found', 'market_not_active'],
  },
  [`del ${BASE}/orders`]: {
    summary: 'Cancel all the caller’s open orders (in one market, or all)',
    tag: 'orders',
    query: [marketQuery('only this market (symbol)')],
    ok: { status: 200, shape: api.CanceledAll },
    errors: ['unknown_market'],
  },
  [`get ${BASE}/balances`]: {
    summary: "The caller's balances",
    tag: 'orders',
    ok: { status: 200, shape: { list: api.Balance } },
  },
  ...ANALYTICS_OPERATIONS,
  // Notifications (PROTOCOL v1.1): http/notificationOperations.ts.
  ...NOTIFICATION_OPERATIONS,
  // The web pages' routes (issue 20): http/webOperations.ts.
  ...WEB_OPERATIONS,
};

/** The request bodies, published by name under components/schemas. */
export const BODY_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  PlaceRequest,
  AssetBody,
  MarketBody,
  CreditBody,
  RegisterBody,
  DecisionBody,
  ReasonBody,
  ComplianceBody,
  EntityPermissionsEvent: api.EntityPermissionsEvent,
};

/** The answers, published by name under components/schemas. */
export const ANSWER_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  Error: api.ErrorBody,
  Market: api.Market,
  MarketDetails: api.MarketDetails,
  MarketEvent: api.MarketEvent,
  Book: api.Book,
  Trade: api.Trade,
  Candle: api.Candle,
  Order: api.Order,
  Balance: api.Balance,
  Accepted: api.Accepted,
  Canceled: api.Canceled,
  CanceledAll: api.CanceledAll,
  Asset: api.Asset,
  Credited: api.Credited,
  ComplianceRecord: api.ComplianceRecord,
  Health: api.Health,
};
