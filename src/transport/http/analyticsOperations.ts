import { z } from 'zod/v4';
import { ProfileBody } from '../../analytics/leaderboards.ts';
import { BacktestConfig, INTERVALS as ANALYTICS_INTERVALS } from '../../analytics/backtest/config.ts';

/*
 * The descriptions of the analytics routes (src/transport/http/backtests.ts and the portfolio and
 * analytics routes beside it), spread into OPERATIONS (http/operations.ts), which types them.
 */

const BASE = '/api/v1';

const Performance = z.object({
  totalReturn: z.number(),
  cagr: z.number().nullable(),
  sharpe: z.number(),
  sortino: z.number(),
  maxDrawdown: z.number(),
  winRate: z.number(),
  profitFactor: z.number().nullable(),
  exposure: z.number(),
  totalTrades: z.number().int(),
});
const Backtest = z.object({
  id: z.string(),
  status: z.enum(['queued', 'running', 'done', 'failed']),
  config: z.record(z.string(), z.unknown()),
  createdAt: z.number().int(),
  params: z.record(z.string(), z.unknown()).optional(),
  performance: Performance.optional(),
  trades: z
    .array(
      z.object({
        t: z.number().int(),
        side: z.enum(['buy', 'sell']),
        price: z.string(),
        qty: z.string(),
        fee: z.string(),
      }),
    )
    .optional(),
  equity: z.array(z.object({ t: z.number().int(), equity: z.string() })).optional(),
  sweep: z
    .array(z.object({ params: z.record(z.string(), z.unknown()), performance: Performance }))
    .optional(),
  error: z.string().optional(),
});

/** (Typed where it is spread: OPERATIONS checks each entry is an OperationDoc.) */
const Money = z.string().nullable();
const Portfolio = z.object({
  in: z.string(),
  equity: z.string(),
  positions: z.array(
    z.object({
      asset: z.string(),
      quoteAsset: z.string(),
      qty: z.string(),
      avgPrice: Money,
      lastPrice: Money,
      value: Money,
      unrealizedPnl: Money,
      realizedPnl: Money,
    }),
  ),
  cash: z.array(z.object({ asset: z.string(), available: z.string(), locked: z.string() })),
  realizedPnl: z.string(),
  unrealizedPnl: z.string(),
  unpriced: z.array(z.string()),
});

const MarketReport = z.object({
  market: z.string(),
  interval: z.enum(ANALYTICS_INTERVALS),
  from: z.number().int(),
  to: z.number().int(),
  candles: z.array(
    z.object({
      t: z.number().int(),
      o: z.string(),
      h: z.string(),
      l: z.string(),
      c: z.string(),
      v: z.string(),
    }),
  ),
  vwap: z.string().nullable(),
  returns: z.object({ mean: z.number(), stdev: z.number() }),
  volatility: z.number(),
  volume: z.string(),
  trades: z.number().int(),
});
const MarketSummary = z.object({
  market: z.string(),
  trades: z.number().int(),
  volume: z.string(),
  first: z.string(),
  last: z.string(),
  change: z.number(),
});
const millis = (name: string, description: string) => ({
  name,
  schema: z.number().int().min(0),
  description,
});

export const ANALYTICS_OPERATIONS = {
  [`get ${BASE}/portfolio/history`]: {
    summary: "The caller's equity over time in `in`: the last recorded point of each interval",
    tag: 'analytics',
    query: [
      {
        name: 'in',
        schema: z.string().regex(/^[A-Z0-9]{1,16}$/),
        description: 'an asset of PORTFOLIO_HISTORY_IN',
      },
      {
        name: 'interval',
        schema: z.enum(ANALYTICS_INTERVALS).default('1h'),
        description: 'bucket (default 1h)',
      },
      millis('from', 'start, ms (default: 30 days before to)'),
      millis('to', 'end, ms, exclusive (default: now)'),
    ],
    ok: { status: 200, shape: z.array(z.object({ t: z.number().int(), equity: z.string() })) },
    errors: ['bad_request'],
  },
  [`get ${BASE}/admin/analytics/markets`]: {
    summary: "Operators' market report over a window: markets by trades, top movers by |change|",
    tag: 'analytics',
    query: [
      millis('from', 'window start, ms (default: 24 h before to)'),
      millis('to', 'window end, ms (default: now)'),
    ],
    ok: {
      status: 200,
      shape: z.object({
        from: z.number().int(),
        to: z.number().int(),
        byVolume: z.array(MarketSummary),
        topMovers: z.array(MarketSummary),
      }),
    },
    errors: ['bad_request'],
  },
  [`post ${BASE}/leaderboard/profile`]: {
    summary: 'Opt in to (or out of) the leaderboards under a display name',
    tag: 'analytics',
    body: { schema: ProfileBody },
    ok: { status: 200, shape: ProfileBody },
    errors: ['bad_request', 'conflict'],
  },
  [`get ${BASE}/leaderboards`]: {
    summary: "A market's top traders over a period by volume or realized PnL (opted-in display names only)",
    tag: 'analytics',
    query: [
      { name: 'market', schema: z.string(), description: 'market id or symbol' },
      { name: 'period', schema: z.enum(['24h', '7d', '30d']).default('24h'), description: 'default 24h' },
      {
        name: 'by',
        schema: z.enum(['volume', 'realizedPnl']).default('volume'),
        description: 'default volume',
      },
    ],
    ok: {
      status: 200,
      shape: z.object({
        market: z.string(),
        period: z.string(),
        by: z.string(),
        entries: z.array(z.object({ rank: z.number().int(), displayName: z.string(), value: z.string() })),
        computedAt: z.number().int().optional().meta({
          description: 'when the update-market-stats job computed the board (absent: computed on this read)',
        }),
      }),
    },
    errors: ['bad_request', 'unknown_market'],
  },
  [`get ${BASE}/analytics/markets/:id`]: {
    summary: "A market's candles, VWAP, returns, realized volatility, volume and trade count over a window",
    tag: 'analytics',
    query: [
      {
        name: 'interval',
        schema: z.enum(ANALYTICS_INTERVALS).default('1h'),
        description: 'candle interval (default 1h)',
      },
      millis('from', 'window start, ms (default: 24 h before to)'),
      millis('to', 'window end, ms, exclusive (default: now)'),
    ],
    ok: { status: 200, shape: MarketReport },
    errors: ['bad_request', 'unknown_market'],
  },
  [`get ${BASE}/portfolio`]: {
    summary: "The caller's positions from fills, cash and equity, valued in `in` at the last prices",
    tag: 'analytics',
    query: [
      { name: 'in', schema: z.string().regex(/^[A-Z0-9]{1,16}$/), description: 'the asset to value in' },
    ],
    ok: { status: 200, shape: Portfolio },
    errors: ['bad_request'],
  },
  [`post ${BASE}/backtests`]: {
    summary: 'Queue a back-test (a sweep when params hold arrays); poll GET /backtests/:id',
    tag: 'analytics',
    body: { schema: BacktestConfig },
    ok: { status: 202, shape: z.object({ id: z.string(), status: z.literal('queued') }) },
    errors: ['bad_request', 'unknown_market', 'rate_limited', 'unavailable'],
  },
  [`get ${BASE}/backtests/:id`]: {
    summary: "One of the caller's back-tests, with its result once done",
    tag: 'analytics',
    ok: { status: 200, shape: Backtest },
    errors: ['not_found'],
  },
  [`get ${BASE}/backtests/:id/report.html`]: {
    summary: 'The HTML report of a done back-test: equity and drawdown as SVG, metrics, trades (a download)',
    tag: 'analytics',
    ok: { status: 200, shape: 'html' },
    errors: ['not_found', 'conflict'],
  },
  [`get ${BASE}/backtests/:id/trades.csv`]: {
    summary: "A done back-test's trades as CSV (t,side,price,qty,fee)",
    tag: 'analytics',
    ok: { status: 200, shape: 'text' },
    errors: ['not_found', 'conflict'],
  },
  [`get ${BASE}/backtests/:id/equity.csv`]: {
    summary: "A done back-test's equity curve as CSV (t,equity)",
    tag: 'analytics',
    ok: { status: 200, shape: 'text' },
    errors: ['not_found', 'conflict'],
  },
  [`get ${BASE}/backtests`]: {
    summary: "The caller's back-tests, newest first (without their results)",
    tag: 'analytics',
    query: [
      {
        name: 'limit',
        schema: z.number().int().min(1).max(1000).default(100),
        description: 'items per page (default 100, at most 1000)',
      },
      { name: 'cursor', schema: z.string(), description: 'the X-Next-Cursor of the previous page (opaque)' },
    ],
    ok: { status: 200, shape: { list: Backtest }, paged: true },
  },
} as const;
