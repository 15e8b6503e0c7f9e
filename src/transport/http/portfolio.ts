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

const ASSET = /^[A-Z0-9]{1,16}$/;

export function registerPortfolioRoutes(route: Route, portfolio: PortfolioRoutesService): void {
  route('get', '/api/v1/portfolio', { role: 'trader' }, async ({ query, principal }) => {
    const target = query.get('in');
    if (target === null || !ASSET.test(target))
      return errorReply('bad_request', 'in: required, an asset symbol such as USDC');
    return outcomeReply(await portfolio.view(principal!.userId, target));
  });
}
