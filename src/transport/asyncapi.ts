import { z } from 'zod/v4';
import { LIFECYCLE_STATES } from '../../machines/marketLifecycle.ts';
import { ROLES } from '../protocol/messages.ts';
import * as api from './apiSchemas.ts';
import {
  AmendRequest,
  AuthRequest,
  CancelAllRequest,
  CancelRequest,
  CHANNELS,
  PlaceOcoRequest,
  PlaceRequest,
  rid,
  SubRequest,
  UnsubRequest,
} from '../protocol/schemas.ts';

/*
 * The published WebSocket API (AsyncAPI 3.0 at /api/v1/asyncapi.json): the /ws channel, each
 * request op the gateway parses (with the zod schema it parses it with) and its reply, and each
 * push. Frames are binary, one MessagePack map each (PROTOCOL.md, WebSocket); the payloads are
 * described as the maps they decode to.
 */

const decimal = z.string().regex(/^-?[0-9]+(\.[0-9]+)?$/);
const withRid = { rid: rid.optional().meta({ description: "the request's rid, echoed" }) };

/** The request ops: their fields (beside `op` and `rid`) and the replies they answer. */
const REQUESTS: Readonly<
  Record<
    string,
    { readonly fields?: z.ZodType; readonly replies: readonly string[]; readonly summary: string }
  >
> = {
  auth: { fields: AuthRequest, replies: ['authed'], summary: 'Authenticate the connection with a JWT' },
  ping: { replies: ['pong'], summary: 'Liveness' },
  sub: { fields: SubRequest, replies: ['subbed'], summary: 'Subscribe to a channel (then its snapshot)' },
  unsub: { fields: UnsubRequest, replies: ['unsubbed'], summary: 'Unsubscribe' },
  place: {
    fields: PlaceRequest,
    replies: ['accepted'],
    summary: 'Place an order (trader); answered once it and its immediate fills are committed',
  },
  place_oco: {
    fields: PlaceOcoRequest,
    replies: ['accepted_oco'],
    summary: 'Place an OCO (trader): a limit leg and a stop leg sharing one lock; one cancels the other',
  },
  amend: { fields: AmendRequest, replies: ['amended'], summary: 'Amend qty or price of an open order' },
  cancel: { fields: CancelRequest, replies: ['canceled'], summary: 'Cancel one open order' },
  cancel_all: { fields: CancelAllRequest, replies: ['canceled_all'], summary: 'Cancel all open orders' },
};

const reply = <T extends z.core.$ZodLooseShape>(op: string, shape: T) =>
  z.object({ op: z.literal(op), ...withRid, ...shape });
const push = <T extends z.core.$ZodLooseShape>(op: string, shape: T) =>
  z.object({ op: z.literal(op), ...shape });

const REPLIES: Readonly<Record<string, z.ZodType>> = {
  authed: reply('authed', { userId: z.string(), roles: z.array(z.enum(ROLES)) }),
  pong: reply('pong', { ts: z.number().int() }),
  subbed: reply('subbed', { ch: z.enum(CHANNELS), market: z.string().optional() }),
  unsubbed: reply('unsubbed', { ch: z.enum(CHANNELS), market: z.string().optional() }),
  accepted: reply('accepted', api.Accepted.shape),
  amended: reply('amended', { orderId: z.string(), price: decimal, qty: decimal, remainingQty: decimal }),
  accepted_oco: reply('accepted_oco', {
    listId: z.string().meta({ description: "the list's id: its limit leg's orderId" }),
    orders: z.array(
      z.object({ ...api.Accepted.shape, type: z.enum(['limit', 'stop_limit', 'stop_market']) }),
    ),
  }),
  canceled: reply('canceled', api.Canceled.shape),
  canceled_all: reply('canceled_all', api.CanceledAll.shape),
  error: push('error', {
    ...withRid,
    code: api.ErrorCodeSchema,
    message: z.string(),
    requestId: z.string().optional().meta({ description: "the request's correlation id" }),
  }).meta({
    description: 'the failure of a request (with its rid), or unsolicited (without)',
  }),
};

/** The pushes, by the channel that carries them. */
/** PROTOCOL v1.1, Funding: a deposit's or a withdrawal's new status. */
const FUNDING_PUSH = {
  id: z.string(),
  status: z.string(),
  asset: z.string(),
  amount: decimal,
  ts: z.number().int(),
  txHash: z.string().optional(),
  reason: z.string().optional(),
};

/** PROTOCOL v1.1, Portfolio: a position's new state (amounts in its quote asset). */
const POSITION_PUSH = {
  asset: z.string(),
  quoteAsset: z.string(),
  qty: decimal,
  avgPrice: decimal.nullable(),
  realizedPnl: decimal,
  fills: z.number().int().nonnegative(),
  seq: z.number().int().nonnegative(),
};

const PUSHES: Readonly<Record<string, { readonly channel: string; readonly schema: z.ZodType }>> = {
  book: { channel: 'book', schema: push('book', { ...api.Book.shape, kind: z.enum(['snapshot', 'delta']) }) },
  trade: { channel: 'trades', schema: push('trade', api.Trade.shape) },
  lifecycle: {
    channel: 'lifecycle',
    schema: push('lifecycle', {
      market: z.string(),
      seq: z.number().int().nonnegative(),
      from: z.enum(LIFECYCLE_STATES).nullable(),
      to: z.enum(LIFECYCLE_STATES),
      event: z.string(),
      ts: z.number().int(),
      actor: z.string().optional(),
      reason: z.string().optional(),
    }),
  },
  // Issue 20: the supervisor's halted markets, on the lifecycle channel (transport/marketStatus.ts).
  market_status: {
    channel: 'lifecycle',
    schema: push('market_status', {
      market: z.string(),
      status: z.enum(['running', 'halted']),
      ts: z.number().int(),
      reason: z.string().optional(),
    }),
  },
  candle: { channel: 'candles', schema: push('candle', api.Candle.shape) },
  ticker: {
    channel: 'ticker',
    schema: push('ticker', {
      market: z.string(),
      last: decimal.optional(),
      bid: decimal.optional(),
      ask: decimal.optional(),
      high24h: decimal.optional(),
      low24h: decimal.optional(),
      volume24h: decimal,
      change24h: decimal.optional(),
      changePct24h: decimal.optional(),
      indexPrice: decimal.optional(),
    }),
  },
  order: { channel: 'orders', schema: push('order', api.Order.shape) },
  fill: {
    channel: 'fills',
    schema: push('fill', {
      orderId: z.string(),
      tradeId: z.string(),
      market: z.string(),
      side: z.enum(['buy', 'sell']),
      price: decimal,
      qty: decimal,
      fee: decimal,
      feeAsset: z.string(),
      liquidity: z.enum(['maker', 'taker']),
      ts: z.number().int(),
    }),
  },
  balance: { channel: 'balances', schema: push('balance', api.Balance.shape) },
  deposit: { channel: 'funding', schema: push('deposit', FUNDING_PUSH) },
  withdrawal: { channel: 'funding', schema: push('withdrawal', FUNDING_PUSH) },
  notification: {
    channel: 'notifications',
    schema: push('notification', {
      id: z.string(),
      type: z.string(),
      title: z.string(),
      body: z.string(),
      data: z.record(z.string(), z.unknown()),
      ts: z.number().int(),
      read: z.boolean(),
    }),
  },
  position: { channel: 'positions', schema: push('position', POSITION_PUSH) },
  error: { channel: 'any', schema: REPLIES.error! },
};

/** The request ops the document describes (the wire test compares them with the gateway's). */
export const REQUEST_OPS: readonly string[] = Object.keys(REQUESTS);
export const PUSH_OPS: readonly string[] = Object.keys(PUSHES);

const messageRef = (name: string) => ({ $ref: `#/channels/ws/messages/${name}` });

function requestPayload(op: string, fields: z.ZodType | undefined): object {
  const envelope = {
    type: 'object',
    properties: { op: { const: op }, ...jsonProperties(withRid) },
    required: ['op'],
  };
  // The fields' schema may carry refinements (cancel/amend), so it is combined, not extended.
  return fields === undefined ? envelope : { allOf: [envelope, api.jsonSchema(fields, 'input')] };
}

function jsonProperties(shape: Record<string, z.ZodType>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(shape).map(([name, schema]) => [name, api.jsonSchema(schema, 'input')]),
  );
}

export function asyncApiDocument(): Record<string, unknown> {
  const messages: Record<string, unknown> = {};
  for (const [op, { fields, summary }] of Object.entries(REQUESTS)) {
    messages[op] = { name: op, title: `${op} request`, summary, payload: requestPayload(op, fields) };
  }
  for (const [op, schema] of Object.entries(REPLIES)) {
    messages[op] = { name: op, title: `${op} reply`, payload: api.jsonSchema(schema, 'output') };
  }
  for (const [op, { channel, schema }] of Object.entries(PUSHES)) {
    if (op === 'error') continue;
    messages[op] = {
      name: op,
      title: `${op} push`,
      summary: `on channel ${channel}`,
      payload: api.jsonSchema(schema, 'output'),
    };
  }
  const operations: Record<string, unknown> = {};
  for (const [op, { replies, summary }] of Object.entries(REQUESTS)) {
    operations[op] = {
      action: 'receive',
      summary,
      channel: { $ref: '#/channels/ws' },
      messages: [messageRef(op)],
      reply: { channel: { $ref: '#/channels/ws' }, messages: [...replies, 'error'].map(messageRef) },
    };
  }
  for (const [op, { channel }] of Object.entries(PUSHES)) {
    operations[`push_${op}`] = {
      action: 'send',
      summary: channel === 'any' ? 'an unsolicited error (bad_frame, …)' : `push on channel ${channel}`,
      channel: { $ref: '#/channels/ws' },
      messages: [messageRef(op)],
    };
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'RWA exchange WebSocket API',
      version: '1.1',
      description:
        'Binary frames, one plain MessagePack map each (PROTOCOL.md, WebSocket). Requests carry op and an ' +
        'optional rid that the reply echoes. Public channels: book, trades, lifecycle, candles, ticker; ' +
        'private (after auth): orders, fills, balances, funding, positions. The HTTP API is at /api/v1/openapi.json.',
    },
    defaultContentType: 'application/msgpack',
    servers: {
      exchange: {
        host: '{host}',
        protocol: 'ws',
        variables: { host: { default: 'localhost:3000', description: "the exchange's HOST:PORT" } },
      },
    },
    channels: {
      ws: {
        address: '/ws',
        title: 'The gateway',
        description: 'Optional ?token=JWT authenticates at upgrade (a bad token is refused 401).',
        servers: [{ $ref: '#/servers/exchange' }],
        messages,
        bindings: {
          ws: { query: { type: 'object', properties: { token: { type: 'string', description: 'a JWT' } } } },
        },
      },
    },
    operations,
  };
}
