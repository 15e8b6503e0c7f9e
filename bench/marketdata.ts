/**
 * Market-data benchmark: `npm run bench:marketdata` (node --expose-gc --import tsx bench/marketdata.ts).
 * Progress on stderr; the last stdout line is one JSON object with the results (bench/RESULTS.md).
 *
 * Part 1 (here): the cost per committed trade of candles (1m, 5m, 1h) and 24h stats, over a
 * synthetic stream of 1M fills spanning ~28 hours (so the 24h window expires as it goes), for
 *   - ours: CandleSeries × 3 + RollingStats (what MarketDataService does per fill),
 *   - the service: MarketDataService.onBatch on batches of BATCH fills, pushes formatted included,
 *   - the peer: a naive implementation (a Map of candles per interval, a deque of the window's
 *     trades with a rescan when the high or low leaves), in the same run on the same stream;
 * and checks that ours and the peer end with the same candles and figures.
 * Part 2 (the dashboard in headless Chromium) is `browserFigures` below.
 */
import type { DatabasePool } from 'slonik';
import { benchAdminUrl, withBenchAdmin } from './lib/database.ts';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { pino } from 'pino';
import { sql } from 'slonik';
import WebSocket from 'ws';
import { fetchMarketSpec, randomWalk, startMarketMaker, startTaker, type Bot } from '../scripts/demo/bots.ts';
import { startExchange } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { launchChromium, openPage, screenshot } from '../test/browser/support.ts';
import type { BookEvent } from '../src/actors/book/types.ts';
import type { ListedMarket } from '../src/actors/catalog.ts';
import type { JournalBatch } from '../src/actors/market/types.ts';
import { createMarketMoney } from '../src/actors/money.ts';
import type { CandleInterval } from '../src/protocol/messages.ts';
import { CANDLE_INTERVAL_MS, CandleSeries, type Candle } from '../src/marketdata/candles.ts';
import { MarketDataService } from '../src/marketdata/marketData.ts';
import { RollingStats, type RollingStatsView } from '../src/marketdata/stats.ts';
import { Prng } from './lib/prng.ts';
import { measure, median, progress, round, type Rate } from './lib/stats.ts';
import { parseCommandLine } from '../scripts/lib/cli.ts';

const { values: flags } = parseCommandLine({
  name: 'npm run bench:marketdata --',
  usage: `usage: npm run bench:marketdata -- [--no-browser]

Cost per trade of candles and 24h stats against a naive peer, then the dashboard's figures in
headless Chromium. Progress on stderr; the last stdout line is one JSON object (bench/RESULTS.md).

  --no-browser   skip the dashboard part (no Chromium)
  -h, --help     this text`,
  options: { 'no-browser': { type: 'boolean', default: false } },
});

const SEED = 20251122;
const TRADES = 1_000_000;
const ROUNDS = 5;
/** Fills per committed batch in the service measurement. */
const BATCH = 10;
const T0 = 1_763_800_000_000;
const INTERVALS: readonly CandleInterval[] = ['1m', '5m', '1h'];
const MINUTE = 60_000;
const WINDOW = 1_440;

const loadBefore = loadavg()[0]!;
let sink = 0;

interface Stream {
  readonly price: Float64Array;
  readonly qty: Float64Array;
  readonly ts: Float64Array;
}

/** A random walk of prices around 10,000 ticks, 1–100 lots, 0–200 ms apart (mean 100 ms). */
function stream(seed: number, n: number): Stream {
  const prng = new Prng(seed);
  const price = new Float64Array(n);
  const qty = new Float64Array(n);
  const ts = new Float64Array(n);
  let p = 10_000;
  let t = T0;
  for (let i = 0; i < n; i++) {
    p = Math.max(1, p + prng.int(21) - 10);
    t += prng.int(201);
    price[i] = p;
    qty[i] = 1 + prng.int(100);
    ts[i] = t;
  }
  return { price, qty, ts };
}

// --- Ours ------------------------------------------------------------------------------------

interface Ours {
  readonly series: readonly CandleSeries[];
  readonly stats: RollingStats;
}

function newOurs(): Ours {
  return {
    series: INTERVALS.map((interval) => new CandleSeries(interval, 1e15)),
    stats: new RollingStats(),
  };
}

function runOurs(ours: Ours, s: Stream): void {
  const { series, stats } = ours;
  const [m1, m5, h1] = series as [CandleSeries, CandleSeries, CandleSeries];
  for (let i = 0; i < s.price.length; i++) {
    const price = s.price[i]!;
    const qty = s.qty[i]!;
    const ts = s.ts[i]!;
    m1.trade(price, qty, ts);
    m5.trade(price, qty, ts);
    h1.trade(price, qty, ts);
    stats.trade(price, qty, ts);
  }
  // What the service drains after each batch (here once: nothing accumulates but these lists).
  for (const one of series) {
    sink += one.takeClosed().length;
    one.takeChanged();
  }
}

// --- The service, batches of committed fills -------------------------------------------------

const LISTED: ListedMarket = {
  definition: {
    id: 'm-bench',
    symbol: 'BENCH-USDC',
    baseAsset: 'BENCH',
    quoteAsset: 'USDC',
    money: {
      priceDecimals: 2,
      qtyDecimals: 4,
      tickSize: '0.01',
      lotSize: '0.0001',
      minQty: '0.0001',
      maxQty: '100',
    },
    makerFeeBps: 0,
    takerFeeBps: 0,
    maxOrders: 1_000,
  },
  money: createMarketMoney({
    priceDecimals: 2,
    qtyDecimals: 4,
    tickSize: '0.01',
    lotSize: '0.0001',
    minQty: '0.0001',
    maxQty: '100',
    baseDecimals: 8,
    quoteDecimals: 6,
  }),
  baseDecimals: 8,
  quoteDecimals: 6,
};

/** One batch per BATCH fills, one entry per fill (as a taker sweeping one maker each). */
function batches(s: Stream): JournalBatch[] {
  const out: JournalBatch[] = [];
  for (let i = 0; i < s.price.length; i += BATCH) {
    const entries = [];
    for (let j = i; j < Math.min(i + BATCH, s.price.length); j++) {
      const fill: BookEvent = {
        type: 'fill',
        takerOrderId: 2 * j + 1,
        takerUserId: 'taker',
        makerOrderId: 2 * j,
        makerUserId: 'maker',
        takerSide: j % 2 === 0 ? 'buy' : 'sell',
        price: s.price[j]!,
        qty: s.qty[j]!,
        takerRemaining: 0,
        makerRemaining: 0,
      };
      entries.push({
        seq: j,
        ts: s.ts[j]!,
        command: { kind: 'cancel_all' as const, userId: 'taker' },
        result: { ok: true as const, seq: j, events: [fill] },
        postings: [],
      });
    }
    out.push({ marketId: LISTED.definition.id, symbol: LISTED.definition.symbol, state: 'active', entries });
  }
  return out;
}

function runService(service: MarketDataService, input: readonly JournalBatch[]): void {
  for (const batch of input) sink += service.onBatch(batch).length;
}

// --- The peer: the naive way -----------------------------------------------------------------

interface NaiveCandle {
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
}

/**
 * What one writes first: per interval a Map from open time to candle; the 24h window as a deque of
 * its trades (volume kept as a running sum; high and low rescanned over the deque whenever the
 * trade leaving held one of them).
 */
class NaiveMarketData {
  readonly candles = new Map<CandleInterval, Map<number, NaiveCandle>>(INTERVALS.map((i) => [i, new Map()]));
  readonly #window: { price: number; qty: number; minute: number }[] = [];
  #head = 0;
  #lastTs = Number.NEGATIVE_INFINITY;
  #now = Number.NEGATIVE_INFINITY;
  #first: number | undefined;
  #expired: number | undefined;
  #last: number | undefined;
  #high = Number.NEGATIVE_INFINITY;
  #low = Number.POSITIVE_INFINITY;
  #volume = 0;

  trade(price: number, qty: number, ts: number): void {
    this.#lastTs = Math.max(this.#lastTs, ts);
    const time = this.#lastTs;
    for (const interval of INTERVALS) {
      const ms = CANDLE_INTERVAL_MS[interval];
      const t = Math.floor(time / ms) * ms;
      const map = this.candles.get(interval)!;
      const candle = map.get(t);
      if (candle === undefined) map.set(t, { o: price, h: price, l: price, c: price, v: qty });
      else {
        candle.h = Math.max(candle.h, price);
        candle.l = Math.min(candle.l, price);
        candle.c = price;
        candle.v += qty;
      }
    }
    const minute = Math.floor(time / MINUTE);
    this.#now = Math.max(this.#now, minute);
    this.#first ??= price;
    this.#last = price;
    this.#window.push({ price, qty, minute });
    this.#volume += qty;
    this.#high = Math.max(this.#high, price);
    this.#low = Math.min(this.#low, price);
    let rescan = false;
    while (this.#head < this.#window.length && this.#window[this.#head]!.minute <= this.#now - WINDOW) {
      const gone = this.#window[this.#head++]!;
      this.#expired = gone.price;
      this.#volume -= gone.qty;
      if (gone.price >= this.#high || gone.price <= this.#low) rescan = true;
    }
    if (this.#head > 65_536 && this.#head * 2 > this.#window.length) {
      this.#window.splice(0, this.#head);
      this.#head = 0;
    }
    if (rescan) {
      this.#high = Number.NEGATIVE_INFINITY;
      this.#low = Number.POSITIVE_INFINITY;
      for (let i = this.#head; i < this.#window.length; i++) {
        const { price: p } = this.#window[i]!;
        if (p > this.#high) this.#high = p;
        if (p < this.#low) this.#low = p;
      }
    }
  }

  view(): RollingStatsView {
    const empty = this.#head === this.#window.length;
    return {
      last: this.#last,
      high: empty ? undefined : this.#high,
      low: empty ? undefined : this.#low,
      volume: this.#volume,
      reference: this.#expired ?? this.#first,
      lastTradeTs: this.#last === undefined ? undefined : this.#lastTs,
    };
  }
}

function runNaive(naive: NaiveMarketData, s: Stream): void {
  for (let i = 0; i < s.price.length; i++) naive.trade(s.price[i]!, s.qty[i]!, s.ts[i]!);
}

function sameResults(ours: Ours, naive: NaiveMarketData): boolean {
  for (const series of ours.series) {
    const traded = series.range({ from: 0, limit: Number.MAX_SAFE_INTEGER }).filter((c) => c.v > 0);
    const peer = [...naive.candles.get(series.interval)!].map(([t, c]): Candle => ({ t, ...c }));
    peer.sort((a, b) => a.t - b.t);
    if (JSON.stringify(traded) !== JSON.stringify(peer)) return false;
  }
  return JSON.stringify(ours.stats.view()) === JSON.stringify(naive.view());
}

// --- Part 2: the dashboard in headless Chromium ----------------------------------------------

/*
 * The dashboard (web/dashboard, served at `/`) in headless Chromium (Debian's, driven by
 * playwright-core, the browser tests' launcher: test/browser/support.ts) while the demo bots
 * (scripts/demo/bots.ts: market makers quoting a ladder around a random walk, takers sending IOC
 * orders against it) trade about BROWSER_TARGET_TRADES_PER_S against one market of a whole exchange
 * in this process (a fresh database through TEST_DATABASE_ADMIN_URL, else DATABASE_URL's server).
 * Over a window after a warm-up it reads the page's own counters (`window.__dashboard`): book
 * messages applied and verified, ladder renders (at most one per animation frame), trades put on
 * the tape, resyncs; and counts the page's animation frames and the gaps between them longer than
 * two frames (frames dropped: each gap of g ms drops round(g / 16.7) - 1 frames). At the end the
 * bots stop and the page's book must equal the server's (checksum). `--no-browser` skips it all.
 */

const BROWSER_SYMBOL = 'BTC-USDC';
const BROWSER_TARGET_TRADES_PER_S = 1_000;
const BROWSER_WARMUP_MS = 4_000;
const BROWSER_WINDOW_MS = 15_000;
const FRAME_MS = 1000 / 60;
const BROWSER_MAKERS = 4;
const BROWSER_TAKERS = 8;

/** Counts the page's animation frames and long gaps between them (installed in the page). */
const FRAME_PROBE = `(() => {
  const probe = { frames: 0, dropped: 0, longGaps: 0, longestMs: 0, last: undefined };
  globalThis.__frameProbe = probe;
  const tick = (t) => {
    if (probe.last !== undefined) {
      const gap = t - probe.last;
      probe.frames++;
      if (gap > ${2 * FRAME_MS}) {
        probe.longGaps++;
        probe.dropped += Math.max(1, Math.round(gap / ${FRAME_MS}) - 1);
      }
      if (gap > probe.longestMs) probe.longestMs = gap;
    }
    probe.last = t;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})()`;

const READ_PAGE = `(() => {
  const d = globalThis.__dashboard;
  const f = globalThis.__frameProbe;
  return {
    bookMessages: d.bookMessages,
    renderedBookUpdates: d.renderedBookUpdates,
    tradesShown: d.tradesShown,
    resyncs: d.resyncs,
    bookSeq: d.bookSeq,
    checksum: d.checksum(),
    renderedChecksum: d.renderedChecksum(),
    connected: d.connected,
    frames: f === undefined ? 0 : f.frames,
    dropped: f === undefined ? 0 : f.dropped,
    longGaps: f === undefined ? 0 : f.longGaps,
    longestMs: f === undefined ? 0 : f.longestMs,
  };
})()`;

interface PageFigures {
  bookMessages: number;
  renderedBookUpdates: number;
  tradesShown: number;
  resyncs: number;
  bookSeq: number | undefined;
  checksum: number | undefined;
  renderedChecksum: number | undefined;
  connected: boolean;
  frames: number;
  dropped: number;
  longGaps: number;
  longestMs: number;
}

const benchAdminUrlOf = (): string => benchAdminUrl('bench:marketdata');

const withAdminPool = (run: (pool: DatabasePool) => Promise<unknown>): Promise<void> =>
  withBenchAdmin('bench:marketdata', run);

const sleepMs = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function browserFigures(): Promise<Record<string, unknown>> {
  if (flags['no-browser']) return { dashboard_skipped: true };
  const stack: (() => Promise<unknown>)[] = [];
  const cleanUp = async () => {
    for (const undo of stack.reverse()) {
      await undo().catch((error: unknown) => {
        progress(`browser part: clean-up failed: ${String(error)}`);
      });
    }
  };
  try {
    // --- The exchange: a fresh database, limits raised for the bots ---
    const name = `exchange_bench_md_${randomBytes(4).toString('hex')}`;
    await withAdminPool((pool) => pool.query(sql.unsafe`CREATE DATABASE ${sql.identifier([name])}`));
    stack.push(() =>
      withAdminPool((pool) =>
        pool.query(sql.unsafe`DROP DATABASE IF EXISTS ${sql.identifier([name])} WITH (FORCE)`),
      ),
    );
    const dbUrl = new URL(benchAdminUrlOf());
    dbUrl.pathname = `/${name}`;
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: process.env.BENCH_SERVER_LOG_LEVEL ?? 'warn',
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: dbUrl.toString(),
      REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/1',
      RATE_ORDERS_PER_S: '100000',
      RATE_ORDERS_BURST: '100000',
      MAX_OPEN_ORDERS_PER_USER: '100000',
    });
    const exchange = await startExchange(config, pino({ level: config.LOG_LEVEL }, pino.destination(2)));
    stack.push(() => Promise.race([exchange.close(), sleepMs(15_000)]));
    const http = `http://127.0.0.1:${exchange.port}`;
    const ws = `ws://127.0.0.1:${exchange.port}/ws`;
    const ok = (what: string, outcome: { ok: boolean; code?: string; message?: string }) => {
      if (!outcome.ok) throw new Error(`${what}: ${outcome.code ?? ''} ${outcome.message ?? ''}`);
    };
    ok('asset USDC', await exchange.admin.createAsset({ symbol: 'USDC', decimals: 6, kind: 'stable' }));
    ok('asset BTC', await exchange.admin.createAsset({ symbol: 'BTC', decimals: 8, kind: 'crypto' }));
    ok(
      'market',
      await exchange.admin.listMarket(
        {
          symbol: BROWSER_SYMBOL,
          baseAsset: 'BTC',
          quoteAsset: 'USDC',
          priceDecimals: 2,
          qtyDecimals: 4,
          tickSize: '0.01',
          lotSize: '0.0001',
          minQty: '0.0001',
          maxQty: '100',
          makerFeeBps: 0,
          takerFeeBps: 0,
        },
        { id: 'bench', type: 'admin' },
      ),
    );
    const users = [
      ...Array.from({ length: BROWSER_MAKERS }, (_, i) => `maker-${i}`),
      ...Array.from({ length: BROWSER_TAKERS }, (_, i) => `taker-${i}`),
    ];
    for (const user of users) {
      ok(`credit ${user} BTC`, await exchange.admin.credit(user, 'BTC', '100000'));
      ok(`credit ${user} USDC`, await exchange.admin.credit(user, 'USDC', '10000000000'));
    }

    // --- The load: the demo's bots, more of them and faster ---
    const spec = await fetchMarketSpec(http, BROWSER_SYMBOL);
    const reference = randomWalk({ start: 30_000, seed: SEED, stepMs: 200, volatility: 0.0005 });
    const errors = new Map<string, number>();
    const onError = (_bot: string, error: Error) => {
      const code = (error as { code?: string }).code ?? error.name;
      errors.set(code, (errors.get(code) ?? 0) + 1);
    };
    const makers: Bot[] = [];
    const takers: Bot[] = [];
    stack.push(async () => {
      await Promise.all([...takers, ...makers].map((bot) => bot.stop()));
    });
    for (let i = 0; i < BROWSER_MAKERS; i++) {
      makers.push(
        await startMarketMaker({
          url: ws,
          WebSocket,
          token: await exchange.auth.mint(`maker-${i}`, ['trader']),
          name: `maker-${i}`,
          seed: SEED + i,
          market: spec,
          reference,
          levels: 10,
          halfSpreadBps: 1 + i,
          stepBps: 1,
          // Deep quotes: one order absorbs several takers' orders (a trade each).
          qty: [0.2, 0.6],
          requoteMs: 100,
          maxRequestsPerSecond: 5_000,
          onError,
        }),
      );
    }
    // Each IOC order is priced at one of the best 3 levels: about 0.8 trades each on average here
    // (some sweep several levels, many miss: the level moved away meanwhile).
    const takerRate = Math.ceil((BROWSER_TARGET_TRADES_PER_S * 1.4) / BROWSER_TAKERS);
    for (let i = 0; i < BROWSER_TAKERS; i++) {
      takers.push(
        await startTaker({
          url: ws,
          WebSocket,
          token: await exchange.auth.mint(`taker-${i}`, ['trader']),
          name: `taker-${i}`,
          seed: SEED + 100 + i,
          market: spec,
          ordersPerSecond: takerRate,
          qty: [0.01, 0.05],
          sweepLevels: 3,
          maxInFlight: 32,
          maxRequestsPerSecond: 5_000,
          onError,
        }),
      );
    }
    const tradesNow = () => takers.reduce((sum, bot) => sum + bot.stats.trades, 0);
    const takerOrdersNow = () => takers.reduce((sum, bot) => sum + bot.stats.requests, 0);

    // --- The page ---
    const browser = await launchChromium();
    stack.push(() => browser.close());
    const { page, errors: pageErrors } = await openPage(browser);
    await page.goto(`${http}/#${BROWSER_SYMBOL}`);
    await page.waitForFunction(
      'globalThis.__dashboard?.bookSeq !== undefined && globalThis.__dashboard.connected',
    );
    await page.evaluate(FRAME_PROBE);
    const read = () => page.evaluate<PageFigures>(READ_PAGE);

    progress(`browser: ${BROWSER_MAKERS} makers, ${BROWSER_TAKERS} takers × ${takerRate} orders/s; warm-up`);
    await sleepMs(BROWSER_WARMUP_MS);
    const before = await read();
    const trades0 = tradesNow();
    const orders0 = takerOrdersNow();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleepMs(BROWSER_WINDOW_MS);
    const after = await read();
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const trades = tradesNow() - trades0;
    const takerOrders = takerOrdersNow() - orders0;
    await screenshot(page, 'bench-dashboard');

    // Stop the load; the page's book must then be the server's.
    await Promise.all(takers.map((bot) => bot.stop()));
    await Promise.all(makers.map((bot) => bot.stop()));
    let same = false;
    for (let attempt = 0; attempt < 50 && !same; attempt++) {
      const response = await fetch(`${http}/api/v1/markets/${BROWSER_SYMBOL}/book?depth=50`);
      const server = (await response.json()) as { seq: number; checksum: number };
      const now = await read();
      same =
        now.bookSeq === server.seq &&
        now.checksum === server.checksum &&
        now.renderedChecksum === server.checksum;
      if (!same) await sleepMs(100);
    }
    const final = await read();
    const per = (n: number) => round(n / seconds, 1);
    const figures = {
      dashboard_book_updates_per_s: per(after.renderedBookUpdates - before.renderedBookUpdates),
      dashboard_book_messages_per_s: per(after.bookMessages - before.bookMessages),
      dashboard_trades_shown_per_s: per(after.tradesShown - before.tradesShown),
      dashboard_frames_per_s: per(after.frames - before.frames),
      dashboard_frames_dropped: after.dropped - before.dropped,
      dashboard_long_frame_gaps: after.longGaps - before.longGaps,
      dashboard_longest_frame_ms: round(after.longestMs, 1),
      dashboard_resyncs: final.resyncs,
      dashboard_book_matches_server: same,
      dashboard_console_errors: pageErrors.length,
      load_trades_per_s: per(trades),
      load_taker_orders_per_s: per(takerOrders),
      load_target_trades_per_s: BROWSER_TARGET_TRADES_PER_S,
      load_bot_errors: Object.fromEntries(errors),
      load_process_cpu_pct: round(((cpu.user + cpu.system) / 1e6 / seconds) * 100),
      browser_window_s: round(seconds, 1),
    };
    progress(`browser: ${JSON.stringify(figures)}`);
    if (pageErrors.length > 0) progress(`browser: page errors: ${pageErrors.slice(0, 5).join(' | ')}`);
    return figures;
  } finally {
    await cleanUp();
  }
}

// --- Run -------------------------------------------------------------------------------------

const nsPerTrade = (rate: Rate): number => 1e9 / rate.wall;
const cpuNsPerTrade = (rate: Rate): number => 1e9 / rate.cpu;

async function main(): Promise<void> {
  progress(`stream of ${TRADES} trades`);
  const s = stream(SEED, TRADES);
  const spanHours = (s.ts[TRADES - 1]! - s.ts[0]!) / 3_600_000;
  const input = batches(s);

  const ours: Rate[] = [];
  const service: Rate[] = [];
  const naive: Rate[] = [];
  let match = true;
  for (let round = 1; round <= ROUNDS; round++) {
    const o = newOurs();
    ours.push(measure(TRADES, () => runOurs(o, s)));
    const svc = new MarketDataService();
    svc.addMarket(LISTED);
    service.push(measure(TRADES, () => runService(svc, input)));
    const n = new NaiveMarketData();
    naive.push(measure(TRADES, () => runNaive(n, s)));
    match &&= sameResults(o, n);
    progress(
      `round ${round}: ours ${round2(nsPerTrade(ours[ours.length - 1]!))} ns/trade, service ` +
        `${round2(nsPerTrade(service[service.length - 1]!))}, naive ${round2(nsPerTrade(naive[naive.length - 1]!))}`,
    );
  }
  const oursNs = median(ours.map(nsPerTrade));
  const serviceNs = median(service.map(nsPerTrade));
  const naiveNs = median(naive.map(nsPerTrade));

  const browser = await browserFigures();
  const result = {
    candle_stats_ns_per_trade: round(oursNs, 1),
    service_ns_per_trade: round(serviceNs, 1),
    naive_ns_per_trade: round(naiveNs, 1),
    naive_over_ours: round(naiveNs / oursNs, 2),
    // Per CPU-second of the process: steadier than wall time when other processes share the cores.
    candle_stats_cpu_ns_per_trade: round(median(ours.map(cpuNsPerTrade)), 1),
    service_cpu_ns_per_trade: round(median(service.map(cpuNsPerTrade)), 1),
    naive_cpu_ns_per_trade: round(median(naive.map(cpuNsPerTrade)), 1),
    results_match_naive: match,
    ...browser,
    trades: TRADES,
    span_hours: round(spanHours, 1),
    service_batch_fills: BATCH,
    rounds: ROUNDS,
    seed: SEED,
    node: process.version,
    load_avg_1m: [round(loadBefore, 1), round(loadavg()[0]!, 1)],
    runtime_s: round(performance.now() / 1000),
    checksum: sink,
  };
  progress('done');
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

const round2 = (n: number): number => round(n, 1);

await main();
