import { z } from 'zod/v4';
import { DevTokenBody } from './devSignIn.ts';
import { ClusterStatusShape } from './cluster.ts';
import { SystemSnapshotShape } from './system.ts';

/**
 * The descriptions of the web pages' routes (issue 20: http/devSignIn.ts, http/system.ts,
 * http/fills.ts), spread
 * into OPERATIONS (operations.ts checks their shape).
 */

const BASE = '/api/v1';

const decimal = z.string().regex(/^-?[0-9]+(\.[0-9]+)?$/);

/** An item of GET /fills: the `fill` push without `op` (PROTOCOL.md, fills). */
export const FillShape = z.object({
  orderId: z.string(),
  tradeId: z.string(),
  market: z.string(),
  side: z.enum(['buy', 'sell']),
  price: decimal,
  qty: decimal,
  fee: decimal.meta({ description: 'charged in feeAsset, the asset received (rounded up)' }),
  feeAsset: z.string(),
  liquidity: z.enum(['maker', 'taker']),
  ts: z.number().int().nonnegative(),
});

export const WEB_OPERATIONS = {
  [`post ${BASE}/dev/token`]: {
    summary: 'Development sign-in: mints a 12 h token for a user id and roles (NODE_ENV=development only)',
    tag: 'operations',
    body: { schema: DevTokenBody },
    ok: {
      status: 201,
      shape: z.object({ token: z.string(), userId: z.string(), roles: z.array(z.string()) }),
    },
    errors: ['not_found'],
  },
  [`get ${BASE}/admin/system`]: {
    summary:
      "Every actor's figures for the visualizer: supervisor and markets, journal writer, durable consumers' cursors and lag, job queues, chain client",
    tag: 'admin',
    ok: { status: 200, shape: SystemSnapshotShape },
  },
  [`get ${BASE}/admin/cluster`]: {
    summary:
      'Scale-out (issue 22): the live engines, and for each market the engine holding its lease, the lease epoch and the epoch fenced in Postgres',
    tag: 'admin',
    ok: { status: 200, shape: ClusterStatusShape },
  },
  [`get ${BASE}/fills`]: {
    summary:
      "The caller's fills, newest first, with their fees (each trade is a fill of its maker and of its taker)",
    tag: 'orders',
    query: [
      { name: 'market', schema: z.string().min(1).max(64), description: 'only this market (id or symbol)' },
      {
        name: 'limit',
        schema: z.number().int().min(1).max(1000).default(100),
        description: 'items per page (default 100, at most 1000)',
      },
      { name: 'cursor', schema: z.string(), description: 'the X-Next-Cursor of the previous page (opaque)' },
    ],
    ok: { status: 200, shape: { list: FillShape }, paged: true },
    errors: ['unknown_market', 'unavailable'],
  },
} as const;
