import { z } from 'zod/v4';
import { INTERVALS, type Interval } from '../../analytics/backtest/config.ts';
import type { Outcome } from '../../protocol/errors.ts';
import type { Route } from '../http.ts';
import { errorReply, outcomeReply } from './router.ts';

/*
 * GET /portfolio?in=ASSET (PROTOCOL v1.1): the trader's positions, cash and equity valued in `in`
 * (src/analytics/portfolio/portfolio.ts says how).
 */

/** What the route calls (src/analytics/portfolio/portfolio.ts implements it). */
export interface PortfolioRoutesService {
  view(userId: string, target: string): Promise<Outcome<object>>;
}

export interface EquityHistoryRoutesService {
  history(
    userId: string,
    target: string,
    interval: Interval,
    range: { from?: number; to?: number },
    now: number,
  ): Promise<Outcome<object[]>>;
}

const HistoryQuery = z.object({
  in: z.string().regex(/^[A-Z0-9]{1,16}$/),
  interval: z.enum(INTERVALS).default('1h'),
  from: z.coerce.number().int().min(0).max(8.64e15).optional(),
  to: z.coerce.number().int().min(0).max(8.64e15).optional(),
});

const ASSET = /^[A-Z0-9]{1,16}$/;

export function registerPortfolioRoutes(
  route: Route,
  portfolio: PortfolioRoutesService,
  history: EquityHistoryRoutesService,
): void {
  route('get', '/api/v1/portfolio/history', { role: 'trader' }, async ({ query, principal }) => {
    const parsed = HistoryQuery.safeParse({
      in: query.get('in') ?? undefined,
      interval: query.get('interval') ?? undefined,
      from: query.get('from') ?? undefined,
      to: query.get('to') ?? undefined,
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return errorReply('bad_request', `${issue?.path.join('.') ?? 'query'}: ${issue?.message ?? 'invalid'}`);
    }
    const { in: target, interval, from, to } = parsed.data;
    const range = { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) };
    return outcomeReply(await history.history(principal!.userId, target, interval, range, Date.now()));
  });

  route('get', '/api/v1/portfolio', { role: 'trader' }, async ({ query, principal }) => {
    const target = query.get('in');
    if (target === null || !ASSET.test(target))
      return errorReply('bad_request', 'in: required, an asset symbol such as USDC');
    return outcomeReply(await portfolio.view(principal!.userId, target));
  });
}
