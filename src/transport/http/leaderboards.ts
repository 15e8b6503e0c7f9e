import { z } from 'zod/v4';
import type { Outcome } from '../../protocol/errors.ts';
import type { Route } from '../http.ts';
import { errorReply, outcomeReply } from './router.ts';

/* POST /leaderboard/profile (opt in or out under a display name), GET /leaderboards (issue 18). */

export interface LeaderboardRoutesService {
  saveProfile(userId: string, body: unknown): Promise<Outcome<object>>;
  board(
    market: string,
    period: '24h' | '7d' | '30d',
    by: 'volume' | 'realizedPnl',
    now: number,
  ): Promise<Outcome<object>>;
}

export const BoardQuery = z.object({
  market: z.string().min(1).max(64),
  period: z.enum(['24h', '7d', '30d']).default('24h'),
  by: z.enum(['volume', 'realizedPnl']).default('volume'),
});

export function registerLeaderboardRoutes(route: Route, leaderboards: LeaderboardRoutesService): void {
  route('post', '/api/v1/leaderboard/profile', { role: 'trader', body: true }, async ({ body, principal }) =>
    outcomeReply(await leaderboards.saveProfile(principal!.userId, body)),
  );
  route('get', '/api/v1/leaderboards', {}, async ({ query }) => {
    const parsed = BoardQuery.safeParse({
      market: query.get('market') ?? undefined,
      period: query.get('period') ?? undefined,
      by: query.get('by') ?? undefined,
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return errorReply('bad_request', `${issue?.path.join('.') ?? 'query'}: ${issue?.message ?? 'invalid'}`);
    }
    const { market, period, by } = parsed.data;
    return outcomeReply(await leaderboards.board(market, period, by, Date.now()));
  });
}
