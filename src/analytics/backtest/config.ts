import { z } from 'zod/v4';
import { scanDecimal, unitsBig, pow10n } from '../../actors/money/decimal.ts';
import { failure, type Outcome } from '../../protocol/errors.ts';
import { MAX_PRICE_SUM, type Series } from './series.ts';
import type { AnyStrategy } from './strategy.ts';
import { STRATEGIES } from './strategies/index.ts';

/*
 * A back-test's config (PROTOCOL v1.1, POST /backtests), parsed with zod at the boundary. Every
 * refusal is `bad_request` with the field named first (`candles[3].h: ...`): an unknown strategy,
 * parameters the strategy refuses (`fast` ≥ `slow`), fewer bars than its longest window, candles out
 * of time order, `h` < `l`, a price that is not a plain decimal, capital that is not positive.
 * `params` values that are arrays make a sweep: the grid of every combination, each checked by the
 * strategy, bounded in size.
 */

export const INTERVAL_MS = {
  '1m': 60_000,
  '5m': 300_000,
  '15m': 900_000,
  '1h': 3_600_000,
  '4h': 14_400_000,
  '1d': 86_400_000,
} as const;
export type Interval = keyof typeof INTERVAL_MS;
export const INTERVALS = Object.keys(INTERVAL_MS) as [Interval, ...Interval[]];

export const METRICS = [
  'totalReturn',
  'cagr',
  'sharpe',
  'sortino',
  'maxDrawdown',
  'winRate',
  'profitFactor',
  'exposure',
  'totalTrades',
] as const;
export type MetricName = (typeof METRICS)[number];

const Decimal = z
  .string()
  .max(40)
  .refine((s) => scanDecimal(s) !== undefined, {
    message: 'must be a plain decimal string such as "101.25"',
  });
/** A positive decimal string; a safe integer number is read as its digits. */
const Capital = z
  .preprocess((v) => (typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v), z.string().max(40))
  .refine((s) => !s.startsWith('-'), {
    message: 'must be positive (capital cannot be negative)',
    abort: true,
  })
  .refine((s) => scanDecimal(s) !== undefined, {
    message: 'must be a plain decimal string such as "10000.00"',
    abort: true,
  })
  .refine((s) => scanDecimal(s)?.isZero === false, { message: 'must be positive' });
const Millis = z.number().int().min(0).max(8.64e15);
const Scalar = z.union([z.number(), z.string().max(64), z.boolean()]);

export const CandleInput = z
  .object({
    t: Millis,
    o: Decimal,
    h: Decimal,
    l: Decimal,
    c: Decimal,
    v: Decimal.optional(),
    viralityScore: z.number().optional(),
    sentiment: z.number().optional(),
  })
  .strict();
export type CandleInput = z.infer<typeof CandleInput>;

export const BacktestConfig = z
  .object({
    strategy: z
      .object({
        id: z.string().min(1).max(64),
        params: z
          .record(z.string().max(64), z.union([Scalar, z.array(Scalar).min(1).max(1_000)]))
          .default({}),
      })
      .strict(),
    initialCapital: Capital,
    feeBps: z.number().int().min(0).max(1_000).default(0),
    slippageBps: z.number().int().min(0).max(1_000).default(0),
    fill: z.enum(['next_open', 'book']).default('next_open'),
    interval: z.enum(INTERVALS),
    market: z.string().min(1).max(64).optional(),
    from: Millis.optional(),
    to: Millis.optional(),
    candles: z.array(CandleInput).min(1).optional(),
    riskFreeRate: z.number().min(-1).max(1).optional(),
    /** The sweep's ranking (descending; maxDrawdown ascending). */
    rankBy: z.enum(METRICS).default('sharpe'),
    /** Decimals of the quantities bought (candles mode; a market's own otherwise). */
    qtyDecimals: z.number().int().min(0).max(12).default(8),
  })
  .strict()
  .check((ctx) => {
    const config = ctx.value;
    const issue = (path: string, message: string): void => {
      ctx.issues.push({ code: 'custom', path: [path], message, input: config });
    };
    const history = config.market !== undefined || config.from !== undefined || config.to !== undefined;
    if (config.candles !== undefined && history) issue('candles', 'give candles or market+from+to, not both');
    else if (config.candles === undefined) {
      for (const field of ['market', 'from', 'to'] as const)
        if (config[field] === undefined) issue(field, 'required without candles (market+from+to)');
      if (config.from !== undefined && config.to !== undefined && config.from >= config.to)
        issue('to', 'must be after from');
    }
    if (config.fill === 'book' && config.candles !== undefined)
      issue('fill', 'book replays a market: needs market+from+to');
  });
export type BacktestConfig = z.output<typeof BacktestConfig>;

export interface Limits {
  readonly maxBars: number;
  readonly maxSweep: number;
}

/** A parsed config with its strategy and the parameter sets of its grid (one when no sweep). */
export interface Plan {
  readonly config: BacktestConfig;
  readonly strategy: AnyStrategy;
  readonly paramSets: readonly Readonly<Record<string, unknown>>[];
  /** The longest window over the grid: the fewest bars the data must have. */
  readonly longestWindow: number;
}

/** The config's shape, strategy and grid; the data is checked by `seriesFromCandles` / `checkSeries`. */
export function planOf(body: unknown, limits: Limits): Outcome<Plan> {
  const parsed = BacktestConfig.safeParse(body);
  if (!parsed.success) return failure('bad_request', describe(parsed.error));
  const config = parsed.data;
  const strategy = STRATEGIES.get(config.strategy.id);
  if (strategy === undefined)
    return failure(
      'bad_request',
      `strategy.id: unknown strategy ${config.strategy.id} (one of ${[...STRATEGIES.keys()].join(', ')})`,
    );
  const grid = gridOf(config.strategy.params, limits.maxSweep);
  if (!grid.ok) return grid;
  const paramSets: Record<string, unknown>[] = [];
  let longestWindow = 1;
  for (const raw of grid.value) {
    const checked = strategy.params.safeParse(raw);
    if (!checked.success) {
      const combo = grid.value.length > 1 ? ` (in the sweep at ${JSON.stringify(raw)})` : '';
      return failure('bad_request', describe(checked.error, ['strategy', 'params']) + combo);
    }
    paramSets.push(checked.data);
    longestWindow = Math.max(longestWindow, strategy.longestWindow(checked.data));
  }
  if (config.candles !== undefined && config.candles.length > limits.maxBars)
    return failure('bad_request', `candles: at most ${limits.maxBars} bars per run`);
  return { ok: true, value: { config, strategy, paramSets, longestWindow } };
}

/** The cartesian product of the params (arrays are the swept axes), in axis order, bounded. */
function gridOf(
  params: Readonly<Record<string, unknown>>,
  maxSweep: number,
): Outcome<Record<string, unknown>[]> {
  let grid: Record<string, unknown>[] = [{}];
  for (const [name, value] of Object.entries(params)) {
    const values: readonly unknown[] = Array.isArray(value) ? value : [value];
    if (grid.length * values.length > maxSweep)
      return failure('bad_request', `strategy.params: a sweep runs at most ${maxSweep} parameter sets`);
    grid = grid.flatMap((set) => values.map((v) => ({ ...set, [name]: v })));
  }
  return { ok: true, value: grid };
}

/** The request's candles as a series, or the first bad field. */
export function seriesFromCandles(candles: readonly CandleInput[], plan: Plan): Outcome<Series> {
  const n = candles.length;
  let priceScale = 0;
  for (const bar of candles)
    for (const price of [bar.o, bar.h, bar.l, bar.c]) priceScale = Math.max(priceScale, fracLen(price));
  if (priceScale > 12) return failure('bad_request', 'candles: prices have at most 12 decimals');
  const units = (s: string) => Number(unitsBig(s, scanDecimal(s)!, priceScale));
  const series = {
    length: n,
    t: new Float64Array(n),
    o: new Float64Array(n),
    h: new Float64Array(n),
    l: new Float64Array(n),
    c: new Float64Array(n),
    v: new Float64Array(n),
    priceScale,
    ...(plan.strategy.needs === undefined
      ? {}
      : { viralityScore: new Float64Array(n), sentiment: new Float64Array(n) }),
  };
  const maxPrice = Math.floor(MAX_PRICE_SUM / plan.longestWindow);
  for (let i = 0; i < n; i++) {
    const bar = candles[i]!;
    const at = `candles[${i}]`;
    if (i > 0 && bar.t <= candles[i - 1]!.t)
      return failure('bad_request', `${at}.t: candles must be in time order, each after the one before`);
    const [o, h, l, c] = [units(bar.o), units(bar.h), units(bar.l), units(bar.c)];
    if (h < l) return failure('bad_request', `${at}.h: h is below l`);
    if (o < l || o > h) return failure('bad_request', `${at}.o: o is outside l..h`);
    if (c < l || c > h) return failure('bad_request', `${at}.c: c is outside l..h`);
    if (l <= 0) return failure('bad_request', `${at}.l: prices must be positive`);
    if (h > maxPrice)
      return failure(
        'bad_request',
        `${at}.h: too large for exact sums over a ${plan.longestWindow}-bar window`,
      );
    series.t[i] = bar.t;
    series.o[i] = o;
    series.h[i] = h;
    series.l[i] = l;
    series.c[i] = c;
    series.v[i] = bar.v === undefined ? 0 : Number(bar.v);
    if (series.viralityScore !== undefined && series.sentiment !== undefined) {
      if (bar.viralityScore === undefined || bar.sentiment === undefined)
        return failure(
          'bad_request',
          `${at}.${bar.viralityScore === undefined ? 'viralityScore' : 'sentiment'}: ${plan.strategy.id} needs viralityScore and sentiment on every candle`,
        );
      series.viralityScore[i] = bar.viralityScore;
      series.sentiment[i] = bar.sentiment;
    }
  }
  const enough = checkLength(series, plan, 'candles');
  return enough.ok ? { ok: true, value: series } : enough;
}

/** Data of any source has at least the longest window's bars. */
export function checkLength(series: Series, plan: Plan, field: string): Outcome<void> {
  return series.length < plan.longestWindow
    ? failure(
        'bad_request',
        `${field}: ${series.length} bars are fewer than the strategy's longest window (${plan.longestWindow})`,
      )
    : { ok: true, value: undefined };
}

/** initialCapital in cash units (10^-(priceScale + qtyScale)), or why not. */
export function initialCashOf(config: BacktestConfig, cashScale: number): Outcome<bigint> {
  const text = config.initialCapital;
  const shape = scanDecimal(text)!;
  if (shape.fracLen > cashScale)
    return failure('bad_request', `initialCapital: at most ${cashScale} decimals here`);
  const cash = unitsBig(text, shape, cashScale);
  if (cash >= pow10n(30)) return failure('bad_request', 'initialCapital: too large');
  return { ok: true, value: cash };
}

function fracLen(s: string): number {
  return scanDecimal(s)?.fracLen ?? 0;
}

/** The first issue, its path written as a field (`candles[3].h`), then its message. */
export function describe(error: z.ZodError, prefix: readonly PropertyKey[] = []): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid config';
  const path = [...prefix, ...issue.path]
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`))
    .join('');
  return path === '' ? issue.message : `${path}: ${issue.message}`;
}
