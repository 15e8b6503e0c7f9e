import { z } from 'zod/v4';
import type { ListedMarket } from '../../actors/catalog.ts';
import { fillView } from '../../services/fillView.ts';
import { FillsCursor, type History } from '../../services/history.ts';
import type { Route } from '../http.ts';
import { decodeCursor, pageHeaders } from './cursor.ts';
import { errorReply, json } from './router.ts';

/*
 * GET /fills (issue 20; not in PROTOCOL.md's table, which lets the server add routes): the
 * caller's fills, newest first, paged like GET /orders (same role, `limit` default 100 and at most
 * 1000, the opaque `cursor`, `X-Next-Cursor`). Each item is the `fills` channel's push without
 * `op`, fee included: the history the contract puts on HTTP ("trades and fills: nothing" on `sub`).
 */

const BASE = '/api/v1';
const LIMIT_DEFAULT = 100;
const LIMIT_MAX = 1_000;

const FillsQuery = z.object({
  market: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(LIMIT_MAX).default(LIMIT_DEFAULT),
});

export function registerFillRoutes(
  route: Route,
  history: Pick<History, 'fills'>,
  market: (idOrSymbol: string) => ListedMarket | undefined,
): void {
  route('get', `${BASE}/fills`, { role: 'trader' }, async ({ query, principal }) => {
    const parsed = FillsQuery.safeParse({
      market: query.get('market') ?? undefined,
      limit: query.get('limit') ?? undefined,
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return errorReply('bad_request', `${issue?.path.join('.') ?? 'query'}: ${issue?.message ?? 'invalid'}`);
    }
    let only: ListedMarket | undefined;
    if (parsed.data.market !== undefined) {
      only = market(parsed.data.market);
      if (only === undefined) return errorReply('unknown_market', `no market ${parsed.data.market}`);
    }
    const cursor = decodeCursor(FillsCursor, query.get('cursor'));
    if (!cursor.ok) return errorReply(cursor.code, cursor.message);
    const read = await history.fills({
      userId: principal!.userId,
      market: only,
      limit: parsed.data.limit,
      cursor: cursor.value,
    });
    if (!read.ok) return errorReply(read.code, read.message);
    return {
      ...json(
        200,
        read.value.fills.map((f) => fillView(f.market, f.record)),
      ),
      headers: pageHeaders(read.value.next),
    };
  });
}
