import { z } from 'zod/v4';
import { INTERVALS as ANALYTICS_INTERVALS, type Interval } from '../../analytics/backtest/config.ts';
import type { Outcome } from '../../protocol/errors.ts';
import type { Route } from '../http.ts';
import { errorReply, outcomeReply } from './router.ts';

/* GET /analytics/markets/:id?interval&from&to (PROTOCOL v1.1; src/analytics/marketAnalytics.ts). */

export interface MarketAnalyticsRoutesService {
  report(
    idOrSymbol: string,
    interval: Interval,
    range: { from?: number; to?: number },
    now: number,
  ): Promise<Outcome<object>>;
  operatorsReport(range: { from?: number; to?: number }, now: number): Promise<Outcome<object>>;
}

const Query = z.object({
  interval: z.enum(ANALYTICS_INTERVALS).default('1h'),
  from: z.coerce.number().int().min(0).max(8.64e15).optional(),
  to: z.coerce.number().int().min(0).max(8.64e15).optional(),
});

const Window = z.object({
  from: z.coerce.number().int().min(0).max(8.64e15).optional(),
  to: z.coerce.number().int().min(0).max(8.64e15).optional(),
});

export function registerMarketAnalyticsRoutes(route: Route, analytics: MarketAnalyticsRoutesService): void {
  route('get', '/api/v1/admin/analytics/markets', { role: 'admin' }, async ({ query }) => {
    const parsed = Window.safeParse({
      from: query.get('from') ?? undefined,
      to: query.get('to') ?? undefined,
    });
    if (!parsed.success) return errorReply('bad_request', 'from and to are integers (ms since the epoch)');
    const { from, to } = parsed.data;
    const range = { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) };
    return outcomeReply(await analytics.operatorsReport(range, Date.now()));
  });

  route('get', '/api/v1/analytics/markets/:id', {}, async ({ params, query }) => {
    const parsed = Query.safeParse({
      interval: query.get('interval') ?? undefined,
      from: query.get('from') ?? undefined,
      to: query.get('to') ?? undefined,
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return errorReply('bad_request', `${issue?.path.join('.') ?? 'query'}: ${issue?.message ?? 'invalid'}`);
    }
    const { interval, from, to } = parsed.data;
    const range = { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) };
    return outcomeReply(await analytics.report(params[0]!, interval, range, Date.now()));
  });
}
