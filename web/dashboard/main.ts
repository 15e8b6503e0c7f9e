import {
  bookChecksum,
  ExchangeClient,
  ExchangeHttp,
  type BookLevel,
  type LocalBook,
  type TradeMessage,
  type Unsubscribe,
} from '../../src/client/index.ts';
import { byId, byIdOf, el, setText, webSocketUrl } from '../shared/dom.ts';
import { booksStore, marketsStore, ordersStore } from '../shared/stores.ts';
import { groupLevels } from './orderForm.ts';
import { Trading } from './trading.ts';
import { DepthChart } from './depth.ts';
import { AssetPanel } from './asset.ts';
import {
  aggregate,
  barStart,
  CHART_INTERVALS,
  sourceOf,
  sourceLimit,
  type ChartInterval,
} from './candleIntervals.ts';
import { TrendView } from './trends.ts';
import { CandleChart, type Candle } from './chart.ts';
import {
  LadderView,
  LifecycleView,
  MarketListView,
  TapeView,
  TickerView,
  type MarketInfo,
  type Ticker,
} from './views.ts';

/*
 * The live dashboard (served at `/`). Everything live comes through the client SDK over the
 * msgpack WebSocket: the book as a checksum-verified LocalBook that resyncs by itself, trades,
 * candles, ticker and lifecycle pushes. HTTP GETs fill the lists and the history. Book updates and
 * trades are coalesced to one render per animation frame, whatever their rate; the DOM holds a
 * fixed number of rows. The ticker and candles channels may stay silent (older servers): the
 * panels then fall back to the tape and the book.
 *
 * Test hooks (browser tests, bench:marketdata): `window.__dashboard` (see DashboardHooks) and the
 * `data-testid`s of views.ts.
 */

const http = new ExchangeHttp();
const GROUPINGS = [1, 10, 100] as const;
const BOOK_DEPTH = 50;
const LADDER_ROWS = 16;
/** A ladder row's height in px (style.css `.ladder-row`) and the rows kept at least per side. */
const LADDER_ROW_PX = 20;
const LADDER_ROWS_MIN = 10;
let ladderRows = LADDER_ROWS;
const TAPE_ROWS = 60;
/** Markets whose ticker the list follows (a subscription each; the server allows 100). */
const TICKER_MARKETS_MAX = 40;
const MARKETS_REFRESH_MS = 10_000;
const RECONNECT_MAX_MS = 10_000;

interface DashboardHooks {
  /** The symbol shown. */
  readonly market: string | undefined;
  /** The protocol checksum of the SDK's book now; undefined before the first snapshot. */
  checksum(): number | undefined;
  /** The protocol checksum of the levels last drawn in the ladder (best 10 of each side). */
  renderedChecksum(): number | undefined;
  /** Book resubscriptions after a gap or a checksum mismatch, since the page loaded. */
  readonly resyncs: number;
  /** The `seq` of the book now; undefined before the first snapshot. */
  readonly bookSeq: number | undefined;
  /** Book messages applied and verified. */
  readonly bookMessages: number;
  /** Ladder renders (at most one per animation frame). */
  readonly renderedBookUpdates: number;
  /** Trades placed on the tape since the page loaded (HTTP history included). */
  readonly tradesShown: number;
  /** Candles in the chart. */
  readonly candles: number;
  /** The market's lifecycle state as last pushed. */
  readonly lifecycleState: string | undefined;
  readonly connected: boolean;
}

declare global {
  interface Window {
    __dashboard?: DashboardHooks;
  }
}

const marketList = new MarketListView(
  byId('markets'),
  (symbol) => {
    location.hash = encodeURIComponent(symbol);
  },
  (symbol) => {
    marketsStore.trigger.favouriteToggled({ symbol });
  },
);
const trading = new Trading();
const ladderView = new LadderView(byId('ladder'), LADDER_ROWS);
const tape = new TapeView(byId('tape'), TAPE_ROWS);
const tickerView = new TickerView(byId('ticker'));
// Trend markets: virality score and sentiment beside the price (issue 19).
const trendView = new TrendView(byId('ticker'), () => http.trendMarkets());
const lifecycle = new LifecycleView(byId('lifecycle-state'), byId('lifecycle-history'));
const chart = new CandleChart(byId('chart'));
const depth = new DepthChart(byId('depth'));
const assetPanel = new AssetPanel(byId('asset'), http);
const footer = {
  connection: byId('connection-status'),
  seq: byId('book-seq'),
  checksum: byId('book-checksum'),
  resyncs: byId('resync-count'),
  rendered: byId('rendered-count'),
};

let markets: MarketInfo[] = [];
let selected: MarketInfo | undefined;
let client: ExchangeClient | undefined;
let tickerSubscribed = new Set<string>();
let interval: ChartInterval = '1m';
/** Bumped whenever the market, the interval or the connection changes: older callbacks stop. */
let generation = 0;
let marketSubscriptions: Promise<Unsubscribe | undefined>[] = [];
let book: LocalBook | undefined;
let tickerSeen = false;
let lifecycleState: string | undefined;
let reconnectDelay = 500;

let resyncs = 0;
let bookMessages = 0;
let renderedBookUpdates = 0;
let rendered: { bids: BookLevel[]; asks: BookLevel[] } | undefined;
let bookDirty = false;
let pendingTrades: TradeMessage[] = [];
let frameRequested = false;

window.__dashboard = {
  get market() {
    return selected?.symbol;
  },
  checksum: () => (book?.seq === undefined ? undefined : book.checksum()),
  renderedChecksum: () => (rendered === undefined ? undefined : bookChecksum(rendered.bids, rendered.asks)),
  get resyncs() {
    return resyncs;
  },
  get bookSeq() {
    return book?.seq;
  },
  get bookMessages() {
    return bookMessages;
  },
  get renderedBookUpdates() {
    return renderedBookUpdates;
  },
  get tradesShown() {
    return tape.added;
  },
  get candles() {
    return chart.size;
  },
  get lifecycleState() {
    return lifecycleState;
  },
  get connected() {
    return client?.connected ?? false;
  },
};

function background(work: Promise<unknown>, what: string): void {
  work.catch((error: unknown) => {
    console.warn(`dashboard: ${what}:`, error instanceof Error ? error.message : error);
  });
}

// --- Rendering, one frame at a time -----------------------------------------------------------

function requestFrame(): void {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(renderFrame);
}

function renderFrame(): void {
  frameRequested = false;
  if (bookDirty && book !== undefined && selected !== undefined) {
    bookDirty = false;
    const bids = book.bids(ladderRows);
    const asks = book.asks(ladderRows);
    const decimals = { price: selected.priceDecimals, qty: selected.qtyDecimals };
    const { grouping } = booksStore.getSnapshot().context;
    if (grouping === 1) ladderView.render(bids, asks, decimals);
    else {
      // Grouped from every level the subscription holds, so a bucket's size is whole.
      const all = { bids: book.bids(BOOK_DEPTH), asks: book.asks(BOOK_DEPTH) };
      ladderView.render(
        groupLevels(all.bids, 'bid', selected.tickSize, grouping, decimals),
        groupLevels(all.asks, 'ask', selected.tickSize, grouping, decimals),
        decimals,
      );
    }
    depth.render(book.bids(BOOK_DEPTH), book.asks(BOOK_DEPTH));
    trading.setBest(bids[0]?.[0], asks[0]?.[0]);
    rendered = { bids, asks };
    renderedBookUpdates++;
    setText(footer.seq, String(book.seq ?? '—'));
    setText(
      footer.checksum,
      `${(book.checksum() >>> 0).toString(16).padStart(8, '0')}${book.synced ? '' : ' (stale)'}`,
    );
    setText(footer.rendered, String(renderedBookUpdates));
    if (!tickerSeen) tickerView.fallback(undefined, bids[0]?.[0], asks[0]?.[0]);
  }
  if (pendingTrades.length > 0) {
    const trades = pendingTrades;
    pendingTrades = [];
    tape.add(trades);
    const last = tape.last;
    if (last !== undefined && selected !== undefined) {
      if (!tickerSeen) tickerView.fallback(last, undefined, undefined);
      marketList.setLast(selected.symbol, last);
    }
  }
}

// --- Markets -----------------------------------------------------------------------------------

function parseMarkets(body: unknown): MarketInfo[] {
  if (!Array.isArray(body)) throw new Error('GET /markets did not answer an array');
  return body.filter(
    (m): m is MarketInfo =>
      typeof m === 'object' &&
      m !== null &&
      typeof (m as MarketInfo).symbol === 'string' &&
      typeof (m as MarketInfo).priceDecimals === 'number' &&
      typeof (m as MarketInfo).qtyDecimals === 'number',
  );
}

async function refreshMarkets(): Promise<void> {
  const listed = await http.markets();
  const fresh = parseMarkets(listed);
  marketsStore.trigger.listed({ list: listed });
  const key = (list: readonly MarketInfo[]) => list.map((m) => `${m.symbol}:${m.status}`).join(',');
  if (key(fresh) !== key(markets)) {
    markets = fresh;
    marketList.setMarkets(markets);
    if (selected !== undefined) marketList.select(selected.symbol);
  }
  if (client !== undefined) subscribeTickers(client);
  if (selected === undefined) selectFromHash();
  else {
    const now = markets.find((m) => m.symbol === selected?.symbol);
    if (now !== undefined) selected = now;
  }
}

function selectFromHash(): void {
  const wanted = decodeURIComponent(location.hash.slice(1));
  const market =
    markets.find((m) => m.symbol === wanted || m.id === wanted) ??
    markets.find((m) => m.status === 'active') ??
    markets[0];
  if (market === undefined || market.symbol === selected?.symbol) return;
  selected = market;
  marketsStore.trigger.selected({ symbol: market.symbol });
  marketList.select(market.symbol);
  setText(
    byId('market-title'),
    market.name === undefined ? market.symbol : `${market.symbol} · ${market.name}`,
  );
  document.title = `${market.symbol} · RWA Exchange`;
  openMarket();
}

// --- Subscriptions -------------------------------------------------------------------------------

function onTicker(ticker: Ticker): void {
  marketsStore.trigger.ticker({ ticker });
  marketList.setTicker(ticker);
  if (ticker.market === selected?.symbol) {
    tickerSeen = true;
    tickerView.set(ticker);
  }
}

function subscribeTickers(c: ExchangeClient): void {
  const wanted = markets.slice(0, TICKER_MARKETS_MAX).map((m) => m.symbol);
  if (selected !== undefined && !wanted.includes(selected.symbol)) wanted.push(selected.symbol);
  for (const symbol of wanted) {
    if (tickerSubscribed.has(symbol)) continue;
    tickerSubscribed.add(symbol);
    background(c.subscribe('ticker', { market: symbol }, onTicker), `ticker ${symbol}`);
  }
}

/** (Re)opens the selected market's streams on the current connection and loads its history. */
function openMarket(): void {
  const market = selected;
  if (market === undefined) return;
  const gen = ++generation;
  for (const subscription of marketSubscriptions) {
    background(
      subscription.then((unsubscribe) => unsubscribe?.()),
      'unsubscribe',
    );
  }
  marketSubscriptions = [];
  book = undefined;
  rendered = undefined;
  bookDirty = false;
  pendingTrades = [];
  tickerSeen = false;
  lifecycleState = undefined;
  ladderView.clear();
  depth.clear();
  booksStore.trigger.opened({ market: market.symbol });
  tape.clear();
  tickerView.clear();
  tickerView.setUnits(market.baseAsset, market.quoteAsset);
  trendView.select(market.symbol);
  assetPanel.show(market.symbol);
  chart.clear();
  chart.setPriceFormat(market.priceDecimals, market.tickSize);
  lifecycle.setState(undefined);
  // A halt is heard again after the lifecycle snapshot if it still lasts (market_status).
  marketsStore.trigger.halted({ market: market.symbol, halted: false });
  const current = () => gen === generation;
  const { symbol } = market;

  const c = client;
  const liveCandles = new Map<number, Candle>();
  // The served candles of each bar shown, by bar: a push re-aggregates its bar alone.
  const shownInterval = interval;
  const byBar = new Map<number, Map<number, Candle>>();
  const keep = (candle: Candle): Map<number, Candle> => {
    const start = barStart(candle.t, shownInterval);
    let bar = byBar.get(start);
    if (bar === undefined) {
      bar = new Map();
      byBar.set(start, bar);
    }
    bar.set(candle.t, candle);
    return bar;
  };
  const showCandle = (candle: Candle) => {
    const bar = keep(candle);
    const [aggregated] = aggregate([...bar.values()], shownInterval);
    if (aggregated !== undefined) chart.update(aggregated);
  };
  let candlesLoaded = false;
  if (c !== undefined) {
    if (!tickerSubscribed.has(symbol)) subscribeTickers(c);
    const track = (subscription: Promise<Unsubscribe>, what: string) => {
      const tracked = subscription.catch((error: unknown) => {
        console.warn(`dashboard: ${what}:`, error instanceof Error ? error.message : error);
        return undefined;
      });
      marketSubscriptions.push(tracked);
    };
    track(
      c
        .subscribeBook(
          symbol,
          BOOK_DEPTH,
          (updated) => {
            if (!current()) return;
            book = updated;
            bookMessages++;
            booksStore.trigger.applied({ seq: updated.seq });
          },
          {
            onResync: () => {
              booksStore.trigger.resynced();
              resyncs++;
              setText(footer.resyncs, String(resyncs));
            },
          },
        )
        .then((subscription) => subscription.unsubscribe),
      `book ${symbol}`,
    );
    track(
      c.subscribe('trades', { market: symbol }, (trade) => {
        if (!current()) return;
        pendingTrades.push(trade);
        requestFrame();
      }),
      `trades ${symbol}`,
    );
    track(
      c.subscribe('lifecycle', { market: symbol }, (message) => {
        if (!current()) return;
        lifecycleState = message.to;
        marketsStore.trigger.lifecycle({ market: symbol, state: message.to });
        lifecycle.setState(message);
        if (message.from !== null) {
          // The audit rows are written by the projections just after the push: read them a bit later.
          setTimeout(() => {
            if (current()) loadEvents(symbol, current);
          }, 300);
        }
      }),
      `lifecycle ${symbol}`,
    );
    track(
      c.subscribe('candles', { market: symbol, interval: sourceOf(interval) }, (candle) => {
        if (!current()) return;
        if (candlesLoaded) showCandle(candle);
        else liveCandles.set(candle.t, candle);
      }),
      `candles ${symbol}`,
    );
  }

  background(
    http.trades(symbol, { limit: TAPE_ROWS }).then(({ items }) => {
      if (!current()) return;
      pendingTrades.push(...items.map((t) => ({ op: 'trade' as const, ...t })));
      requestFrame();
    }),
    `trades of ${symbol}`,
  );
  background(
    http.candles(symbol, sourceOf(interval), { limit: sourceLimit(interval) }).then((body) => {
      if (!current()) return;
      for (const candle of body) keep(candle);
      chart.setHistory(aggregate(body, interval));
      candlesLoaded = true;
      for (const candle of [...liveCandles.values()].sort((a, b) => a.t - b.t)) showCandle(candle);
    }),
    `candles of ${symbol}`,
  );
  loadEvents(symbol, current);
}

function loadEvents(symbol: string, current: () => boolean): void {
  background(
    http.events(symbol).then((body) => {
      if (current()) lifecycle.setHistory(body);
    }),
    `lifecycle events of ${symbol}`,
  );
}

// --- Connection ----------------------------------------------------------------------------------

function setConnection(status: 'connecting' | 'connected' | 'disconnected'): void {
  setText(footer.connection, status);
  footer.connection.dataset.status = status;
}

async function connect(): Promise<void> {
  setConnection('connecting');
  const c = new ExchangeClient({
    url: webSocketUrl(),
    onClose: () => {
      if (client !== c) return;
      client = undefined;
      trading.detach();
      generation++;
      setConnection('disconnected');
      reconnectLater();
    },
    onError: (error) => {
      console.warn('dashboard: exchange:', error.message);
    },
  });
  try {
    await c.connect();
  } catch {
    setConnection('disconnected');
    reconnectLater();
    return;
  }
  client = c;
  // The supervisor's halts of the market shown (market_status on its lifecycle subscription).
  c.onMarketStatus((m) => {
    if (m.market === selected?.symbol)
      marketsStore.trigger.halted({ market: m.market, halted: m.status === 'halted' });
  });
  reconnectDelay = 500;
  tickerSubscribed = new Set();
  setConnection('connected');
  trading.attach(c);
  subscribeTickers(c);
  openMarket();
}

function reconnectLater(): void {
  setTimeout(() => void connect(), reconnectDelay);
  reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
}

function groupingButtons(): void {
  const container = byId('grouping');
  const buttons = GROUPINGS.map((factor) => {
    const button = el(
      'button',
      {
        type: 'button',
        'data-grouping': factor,
        'data-testid': 'grouping',
        'aria-pressed': factor === 1 ? 'true' : 'false',
      },
      [`×${factor}`],
    );
    button.title = `group prices by ${factor} ticks`;
    button.addEventListener('click', () => {
      booksStore.trigger.grouped({ grouping: factor });
      for (const b of buttons) b.setAttribute('aria-pressed', String(b === button));
    });
    return button;
  });
  container.replaceChildren(...buttons);
}

/** Debug figures (seq, checksum, resyncs, renders) stay in the DOM, shown on demand. */
function debugToggle(): void {
  const button = byId('debug-toggle');
  const bar = byId('debug-bar');
  const apply = (on: boolean) => {
    bar.hidden = !on;
    button.setAttribute('aria-pressed', String(on));
    sessionStorage.setItem('rwa.debug', on ? '1' : '0');
  };
  apply(sessionStorage.getItem('rwa.debug') === '1');
  button.addEventListener('click', () => {
    apply(bar.hidden);
  });
}

// --- Start -----------------------------------------------------------------------------------------

function intervalButtons(): void {
  const container = byId('intervals');
  const buttons = CHART_INTERVALS.map((value) => {
    const button = el('button', { type: 'button', 'data-interval': value, 'data-testid': 'interval' }, [
      value,
    ]);
    button.addEventListener('click', () => {
      if (interval === value) return;
      interval = value;
      for (const b of buttons) b.classList.toggle('selected', b === button);
      openMarket();
    });
    if (value === interval) button.classList.add('selected');
    return button;
  });
  container.replaceChildren(...buttons);
}

intervalButtons();
groupingButtons();
// The market list's search and favourites live in the markets store; favourites persist.
const FAVOURITES_KEY = 'rwa.favourites';
marketsStore.trigger.favouritesLoaded({ favourites: readFavourites() });
marketList.setFavourites(marketsStore.getSnapshot().context.favourites);
marketsStore
  .select((s) => s.favourites)
  .subscribe((favourites) => {
    localStorage.setItem(FAVOURITES_KEY, JSON.stringify(favourites));
    marketList.setFavourites(favourites);
  });
marketsStore
  .select((s) => s.search)
  .subscribe((text) => {
    marketList.setSearch(text);
  });
const search = byIdOf('market-search', HTMLInputElement);
search.addEventListener('input', () => {
  marketsStore.trigger.searched({ text: search.value });
});

function readFavourites(): string[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(FAVOURITES_KEY) ?? '[]');
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

debugToggle();
// The ladder re-renders on its own slice of the books store: one frame per burst of deltas.
booksStore
  .select((s) => s.version)
  .subscribe(() => {
    bookDirty = true;
    requestFrame();
  });
booksStore
  .select((s) => s.grouping)
  .subscribe(() => {
    bookDirty = true;
    requestFrame();
  });
// The ladder fills its panel: as many rows per side as its height holds.
new ResizeObserver(([entry]) => {
  if (entry === undefined) return;
  // The head and the spread take about two rows' height.
  const fit = Math.floor((entry.contentRect.height - 2 * LADDER_ROW_PX - 8) / 2 / LADDER_ROW_PX);
  const rows = Math.min(BOOK_DEPTH, Math.max(LADDER_ROWS_MIN, fit));
  if (rows === ladderRows) return;
  ladderRows = rows;
  ladderView.setRows(rows);
  bookDirty = true;
  requestFrame();
}).observe(byId('ladder'));
// Own trades on the tape: from the user's fills.
ordersStore
  .select((s) => s.fills)
  .subscribe((fills) => {
    for (const fill of fills.slice(0, 20)) tape.markOwn(fill.tradeId);
  });
byId('ladder').addEventListener('keydown', (event) => {
  if (event.key !== 'Enter' && event.key !== ' ') return;
  const price = (event.target as HTMLElement).closest<HTMLElement>('.ladder-row')?.dataset.price;
  if (price === undefined) return;
  event.preventDefault();
  trading.fillPrice(price);
});
byId('ladder').addEventListener('click', (event) => {
  const row = (event.target as HTMLElement).closest<HTMLElement>('.ladder-row');
  const price = row?.dataset.price;
  if (price !== undefined) trading.fillPrice(price);
});
window.addEventListener('hashchange', selectFromHash);
background(
  refreshMarkets().finally(() => void connect()),
  'markets',
);
setInterval(() => {
  background(refreshMarkets(), 'markets');
}, MARKETS_REFRESH_MS);
