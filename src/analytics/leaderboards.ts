import type { CommonQueryMethods } from 'slonik';
import { z } from 'zod/v4';
import type { ListedMarket } from '../actors/catalog.ts';
import { formatUnits } from '../actors/money/decimal.ts';
import { board, saveProfile } from '../persistence/leaderboardStore.ts';
import { failure, type Outcome } from '../protocol/errors.ts';
import { describe } from './backtest/config.ts';

/*
 * Leaderboards (issue 18): top traders of a market over a period, by volume (lots traded, both
 * sides, as the base asset's quantity) or by realized PnL (what their sells realized, in the quote
 * asset), for users who opted in, under their display names, never their ids. Computed on read from
 * the trades projection and the portfolio consumer's realized_pnl (the top ten).
 */

export const PERIODS = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const;
export const ProfileBody = z
  .object({
    displayName: z.string().regex(/^[A-Za-z0-9_-]{3,32}$/, '3 to 32 of A-Z, a-z, 0-9, _ and -'),
    optIn: z.boolean(),
  })
  .strict();
const TOP = 10;

export class Leaderboards {
  constructor(
    private readonly pool: CommonQueryMethods,
    private readonly market: (idOrSymbol: string) => ListedMarket | undefined,
  ) {}

  async saveProfile(
    userId: string,
    body: unknown,
  ): Promise<Outcome<{ displayName: string; optIn: boolean }>> {
    const parsed = ProfileBody.safeParse(body);
    if (!parsed.success) return failure('bad_request', describe(parsed.error));
    const { displayName, optIn } = parsed.data;
    const saved = await saveProfile(this.pool, userId, displayName, optIn);
    if (saved === 'name_taken') return failure('conflict', `displayName: ${displayName} is taken`);
    return { ok: true, value: { displayName, optIn } };
  }

  async board(
    idOrSymbol: string,
    period: keyof typeof PERIODS,
    by: 'volume' | 'realizedPnl',
    now: number,
  ): Promise<Outcome<object>> {
    const listed = this.market(idOrSymbol);
    if (listed === undefined) return failure('unknown_market', `no market ${idOrSymbol}`);
    const rows = await board(this.pool, listed.definition.id, by, now - PERIODS[period], TOP);
    const { money } = listed.definition;
    const value = (v: bigint) =>
      by === 'volume'
        ? formatUnits(v * listed.money.lotUnits, money.qtyDecimals)
        : formatUnits(v, listed.quoteDecimals);
    return {
      ok: true,
      value: {
        market: listed.definition.symbol,
        period,
        by,
        entries: rows.map((r, i) => ({ rank: i + 1, displayName: r.displayName, value: value(r.value) })),
      },
    };
  }
}
