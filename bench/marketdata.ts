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
import { loadavg } from 'node:os';
import type { BookEvent } from '../src/actors/book/types.ts';
import type { ListedMarket } from '../src/actors/catalog.ts';
import type { JournalBatch } from '../src/actors/market/types.ts';
import { createMarketMoney } from '../src/actors/money.ts';
import type { CandleInterval } from '../src/client/protocol.ts';
import { CANDLE_INTERVAL_MS, CandleSeries, type Candle } from '../src/marketdata/candles.ts';
import { MarketDataService } from '../src/marketdata/marketData.ts';
import { RollingStats, type RollingStatsView } from '../src/marketdata/stats.ts';
import { Prng } from './lib/prng.ts';
import { measure, median, progress, round, type Rate } from './lib/stats.ts';

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

/**
 * LEAD: the browser part of `npm run bench:marketdata` goes here (issue 8 §6: the dashboard's
 * rendered book updates per second in headless Chromium while a load generator trades at 1,000
 * trades/s, frames dropped). Whatever it returns is merged into the final JSON line.
 */
async function browserFigures(): Promise<Record<string, unknown>> {
  return Promise.resolve({});
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
