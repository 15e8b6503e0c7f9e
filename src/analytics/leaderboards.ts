import type { Logger } from 'pino';
import { startJobQueue, type JobPlacement, type JobQueue } from '../jobs/queue.ts';
import { z } from 'zod/v4';
import type { ListedMarket } from '../actors/catalog.ts';
import { formatUnits } from '../actors/money/decimal.ts';
import type { DatabasePool } from 'slonik';
import { board, rankedUsers, saveProfile, storeBoard, storedBoard } from '../persistence/leaderboardStore.ts';
import { failure, type Outcome } from '../protocol/errors.ts';
import { describe } from './backtest/config.ts';

/*
 * Leaderboards (issue 18): top traders of a market over a period, by volume (lots traded, both
 * sides, as the base asset's quantity) or by realized PnL (what their sells realized, in the quote
 * asset), for users who opted in, under their display names, never their ids, from the trades
 * projection and the portfolio consumer's realized_pnl. The `update-market-stats` job (update)
 * computes every market's boards per period and measure into leaderboard_entries (the top STORED
 * opted-in users); GET /leaderboards reads those (the top ten still opted in), or computes on read
 * a board the job has not computed yet.
 */

export const PERIODS = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const;
export const ProfileBody = z
  .object({
    displayName: z.string().regex(/^[A-Za-z0-9_-]{3,32}$/, '3 to 32 of A-Z, a-z, 0-9, _ and -'),
    optIn: z.boolean(),
  })
  .strict();
const TOP = 10;
/** Users a stored board keeps (opt-outs between runs still leave a full top ten). */
const STORED = 100;
const MEASURES = ['volume', 'realizedPnl'] as const;

export class Leaderboards {
  constructor(
    private readonly pool: DatabasePool,
    private readonly market: (idOrSymbol: string) => ListedMarket | undefined,
    private readonly markets: () => readonly ListedMarket[] = () => [],
  ) {}

  /** The `update-market-stats` job's run: every market's boards, per period and measure, as of now. */
  async update(now: number): Promise<number> {
    let boards = 0;
    for (const listed of this.markets()) {
      const marketId = listed.definition.id;
      for (const [period, ms] of Object.entries(PERIODS))
        for (const by of MEASURES) {
          const ranked = await rankedUsers(this.pool, marketId, by, now - ms, STORED);
          await storeBoard(this.pool, { marketId, period, by }, ranked, now);
          boards++;
        }
    }
    return boards;
  }

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
    const stored = await storedBoard(this.pool, { marketId: listed.definition.id, period, by }, TOP);
    const rows =
      stored?.entries ?? (await board(this.pool, listed.definition.id, by, now - PERIODS[period], TOP));
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
        // When the job computed the board (absent: computed on this read).
        ...(stored === undefined ? {} : { computedAt: stored.computedAt }),
      },
    };
  }
}

/** The `update-market-stats` job's payload: nothing (each run computes every board). */
export const UpdateMarketStatsPayload = z.object({}).strict();

/**
 * The `update-market-stats` BullMQ queue: a job scheduler every LEADERBOARD_REFRESH_MS whose worker
 * runs Leaderboards.update; without REDIS_URL there is no job and boards are computed on read.
 */
export async function startMarketStats(
  config: {
    readonly REDIS_URL?: string | undefined;
    readonly DATABASE_URL?: string | undefined;
    readonly LEADERBOARD_REFRESH_MS: number;
  },
  log: Logger,
  leaderboards: Leaderboards,
  placement?: JobPlacement,
): Promise<JobQueue<typeof UpdateMarketStatsPayload> | undefined> {
  if (config.REDIS_URL === undefined) return undefined;
  return startJobQueue({
    name: 'update-market-stats',
    redisUrl: config.REDIS_URL,
    prefix: `rwa:${config.DATABASE_URL === undefined ? 'exchange' : new URL(config.DATABASE_URL).pathname.slice(1) || 'exchange'}`,
    placement,
    payload: UpdateMarketStatsPayload,
    attempts: 1,
    schedule: { everyMs: config.LEADERBOARD_REFRESH_MS, data: {} },
    log,
    run: async () => {
      const boards = await leaderboards.update(Date.now());
      log.debug({ boards }, 'leaderboards updated');
    },
  });
}
