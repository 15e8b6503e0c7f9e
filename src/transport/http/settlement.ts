import { z } from 'zod/v4';
import type { Mints } from '../../funding/mints.ts';
import type { ListedSettlement, RoundStatus } from '../../funding/settlement.ts';
import { hasRole } from '../auth.ts';
import type { Route } from '../http.ts';
import { decodeCursor, pageHeaders } from './cursor.ts';
import { errorReply, json, outcomeReply } from './router.ts';
import { SETTLEMENT_STATUSES } from './settlementOperations.ts';

/*
 * The chain routes of PROTOCOL v1.1 (Chain) beyond custody and reconciliation: POST
 * /markets/:id/mint (the market's issuer or an admin) and the operators' list of trades by
 * settlement status, GET /admin/settlements?status=failed.
 */

export interface SettlementRoutes {
  /** Absent: both routes answer 503 (no chain on this exchange). */
  readonly mints?: Pick<Mints, 'request'>;
  readonly settlements?: {
    listTrades(
      status: RoundStatus,
      limit: number,
      after?: { roundId: number; tradeId: string },
    ): Promise<ListedSettlement[]>;
  };
  /** A market id or symbol → the market id. */
  readonly marketId: (idOrSymbol: string) => string | undefined;
}

const BASE = '/api/v1';
const Position = z.strictObject({ roundId: z.number().int().nonnegative(), tradeId: z.string().max(200) });
const Status = z.enum(SETTLEMENT_STATUSES);
const LIMIT_MAX = 1_000;

export function registerSettlementRoutes(route: Route, routes: SettlementRoutes): void {
  route(
    'post',
    `${BASE}/markets/:id/mint`,
    { role: ['issuer', 'admin'], body: true },
    async ({ params, body, principal }) => {
      if (routes.mints === undefined) return errorReply('unavailable', 'no chain on this exchange');
      const marketId = routes.marketId(params[0]!);
      if (marketId === undefined) return errorReply('unknown_market', `no market ${params[0]!}`);
      const who = { userId: principal!.userId, admin: hasRole(principal, 'admin') };
      return outcomeReply(await routes.mints.request(who, marketId, body), 202);
    },
  );

  route('get', `${BASE}/admin/settlements`, { role: 'admin' }, async ({ query }) => {
    if (routes.settlements === undefined) return errorReply('unavailable', 'no chain on this exchange');
    const status = Status.safeParse(query.get('status') ?? 'failed');
    if (!status.success) return errorReply('bad_request', `unknown status ${query.get('status') ?? ''}`);
    const text = query.get('limit');
    const limit = text === null ? 100 : Number(text);
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > LIMIT_MAX)
      return errorReply('bad_request', `limit must be an integer 1..${LIMIT_MAX}`);
    const cursor = decodeCursor(Position, query.get('cursor'));
    if (!cursor.ok) return errorReply(cursor.code, cursor.message);
    const rows = await routes.settlements.listTrades(status.data, limit + 1, cursor.value);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    const next =
      rows.length > limit && last !== undefined
        ? { roundId: last.roundId, tradeId: last.tradeId }
        : undefined;
    return {
      ...json(
        200,
        page.map(({ error, txHash, ...row }) => ({
          ...row,
          ...(txHash === undefined ? {} : { txHash }),
          ...(error === undefined ? {} : { reason: error }),
        })),
      ),
      headers: pageHeaders(next),
    };
  });
}
