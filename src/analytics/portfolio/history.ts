import type { DatabasePool } from 'slonik';
import { formatUnits } from '../../actors/money/decimal.ts';
import {
  accountsWithBalances,
  dropEquityPartitionsBefore,
  ensureEquityPartitions,
  equityHistory,
  insertEquityPoints,
} from '../../persistence/equityStore.ts';
import { failure, type Outcome } from '../../protocol/errors.ts';
import { INTERVAL_MS, type Interval } from '../backtest/config.ts';
import type { Portfolio } from './portfolio.ts';

/*
 * Equity history (issue 18; GET /portfolio/history?in&interval&from&to): every `everyMs` the
 * exchange records each user's equity (every balance valued at the last prices, as GET /portfolio
 * computes it) in each asset of PORTFOLIO_HISTORY_IN, at t = the start of that period, so a repeated
 * recording of a period overwrites its own point. The read answers the last point of each
 * `interval` bucket in [from, to). Partitions are made ahead and dropped past retention at each
 * recording (src/persistence/equityStore.ts). Users: those with a projected balance, at most
 * PORTFOLIO_HISTORY_MAX_USERS per recording.
 */

export interface EquityHistoryOptions {
  readonly pool: DatabasePool;
  readonly portfolio: Portfolio;
  readonly assets: readonly string[];
  readonly everyMs: number;
  readonly retentionDays: number;
  readonly maxUsers: number;
  readonly assetDecimals: (asset: string) => number | undefined;
}

const MAX_POINTS = 10_000;
const DAY_MS = 86_400_000;

export class EquityHistory {
  constructor(private readonly options: EquityHistoryOptions) {}

  /** One recording at `now`: partitions, then every user's points, then retention. */
  async record(now: number): Promise<number> {
    const { pool, portfolio, assets, everyMs, retentionDays, maxUsers } = this.options;
    await ensureEquityPartitions(pool, now);
    const users = await accountsWithBalances(pool, maxUsers);
    const points = portfolio.equities(users, assets);
    await insertEquityPoints(pool, Math.floor(now / everyMs) * everyMs, points);
    await dropEquityPartitionsBefore(pool, now - retentionDays * DAY_MS);
    return points.length;
  }

  async history(
    userId: string,
    target: string,
    interval: Interval,
    range: { from?: number; to?: number },
    now: number,
  ): Promise<Outcome<{ t: number; equity: string }[]>> {
    const decimals = this.options.assetDecimals(target);
    if (decimals === undefined) return failure('bad_request', `in: no asset ${target}`);
    if (!this.options.assets.includes(target))
      return failure('bad_request', `in: equity is recorded in ${this.options.assets.join(', ')} only`);
    const to = range.to ?? now;
    const from = range.from ?? to - 30 * DAY_MS;
    if (from >= to) return failure('bad_request', 'to: must be after from');
    const points = await equityHistory(
      this.options.pool,
      userId,
      target,
      INTERVAL_MS[interval],
      from,
      to,
      MAX_POINTS,
    );
    return { ok: true, value: points.map((p) => ({ t: p.t, equity: formatUnits(p.equity, decimals) })) };
  }
}
