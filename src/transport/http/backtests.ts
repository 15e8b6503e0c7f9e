import { z } from 'zod/v4';
import type { Outcome } from '../../protocol/errors.ts';
import type { Route } from '../http.ts';
import { decodeCursor, pageHeaders } from './cursor.ts';
import { errorReply, json, outcomeReply } from './router.ts';

/*
 * POST /backtests, GET /backtests/:id, GET /backtests (PROTOCOL v1.1, Portfolio, analytics,
 * back-testing): the trader's own runs. The body is parsed by the service (its zod config names the
 * bad field); the routes add the role, paging and the 202.
 */

/** What the routes call (src/analytics/backtests.ts implements it). */
export interface BacktestRoutesService {
  submit(userId: string, body: unknown): Promise<Outcome<{ id: string; status: 'queued' }>>;
  get(userId: string, id: string): Promise<Outcome<object>>;
  export(
    userId: string,
    id: string,
    kind: 'report.html' | 'trades.csv' | 'equity.csv',
  ): Promise<Outcome<{ text: string; contentType: string; filename: string }>>;
  list(
    userId: string,
    limit: number,
    after: { createdAt: number; id: string } | undefined,
  ): Promise<{ items: object[]; next: unknown }>;
}

const BASE = '/api/v1';
export const BacktestsCursor = z
  .object({ createdAt: z.number().int().min(0), id: z.string().max(64) })
  .strict();
const Limit = z.coerce.number().int().min(1).max(1_000).default(100);

export function registerBacktestRoutes(route: Route, backtests: BacktestRoutesService): void {
  route('post', `${BASE}/backtests`, { role: 'trader', body: true }, async ({ body, principal }) =>
    outcomeReply(await backtests.submit(principal!.userId, body), 202),
  );

  route('get', `${BASE}/backtests/:id`, { role: 'trader' }, async ({ params, principal }) =>
    outcomeReply(await backtests.get(principal!.userId, params[0]!)),
  );

  for (const kind of ['report.html', 'trades.csv', 'equity.csv'] as const)
    route('get', `${BASE}/backtests/:id/${kind}`, { role: 'trader' }, async ({ params, principal }) => {
      const exported = await backtests.export(principal!.userId, params[0]!, kind);
      if (!exported.ok) return errorReply(exported.code, exported.message);
      const { text, contentType, filename } = exported.value;
      return {
        status: 200,
        text,
        contentType,
        headers: { 'content-disposition': `attachment; filename="${filename}"` },
      };
    });

  route('get', `${BASE}/backtests`, { role: 'trader' }, async ({ query, principal }) => {
    const limit = Limit.safeParse(query.get('limit') ?? undefined);
    if (!limit.success) return errorReply('bad_request', 'limit must be an integer from 1 to 1000');
    const cursor = decodeCursor(BacktestsCursor, query.get('cursor'));
    if (!cursor.ok) return errorReply(cursor.code, cursor.message);
    const page = await backtests.list(principal!.userId, limit.data, cursor.value);
    return { ...json(200, page.items), headers: pageHeaders(page.next) };
  });
}
