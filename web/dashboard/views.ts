import type { LifecycleMessage, TickerMessage, TradeMessage } from '../../src/client/index.ts';
import { el, setText } from '../shared/dom.ts';
import { changePercent, formatPercent, formatTime } from '../shared/format.ts';
import { ladder, type Level } from './ladder.ts';

/*
 * The dashboard's panels. Each owns a fixed piece of the DOM, reuses its rows, and is told what to
 * show; none reads the network. Rows carry `data-testid`s and data attributes that the browser
 * tests rely on (keep them stable).
 */

/**
 * A ticker push as the server sends it: PROTOCOL.md's fields, each omitted while unknown (no trade
 * yet, an empty side), plus the exchange's additions `changePct24h` and `indexPrice`.
 */
export type Ticker = Pick<TickerMessage, 'market'> &
  Partial<Omit<TickerMessage, 'op' | 'market'>> & {
    readonly changePct24h?: string;
    readonly indexPrice?: string;
  };

/** The 24h change in percent: the server's when it sends one, else derived from `change24h`. */
export function tickerPercent(ticker: Ticker): number | undefined {
  if (ticker.changePct24h !== undefined) {
    const pct = Number(ticker.changePct24h);
    return Number.isFinite(pct) ? pct : undefined;
  }
  if (ticker.last === undefined || ticker.change24h === undefined) return undefined;
  return changePercent(ticker.last, ticker.change24h);
}

export interface MarketInfo {
  readonly id: string;
  readonly symbol: string;
  readonly status: string;
  readonly name?: string;
  readonly baseAsset: string;
  readonly quoteAsset: string;
  readonly priceDecimals: number;
  readonly qtyDecimals: number;
  readonly tickSize: string;
}

/** Grows or shrinks `rows` (and their container) to `n`, creating rows with `make`. */
function resize<T extends HTMLElement>(container: HTMLElement, rows: T[], n: number, make: () => T): void {
  while (rows.length < n) {
    const row = make();
    rows.push(row);
    container.append(row);
  }
  while (rows.length > n) rows.pop()!.remove();
}

interface LadderRowNodes extends HTMLDivElement {
  bar?: HTMLSpanElement;
  priceCell?: HTMLSpanElement;
  qtyCell?: HTMLSpanElement;
  totalCell?: HTMLSpanElement;
}

export class LadderView {
  readonly #asks: HTMLElement;
  readonly #bids: HTMLElement;
  readonly #spread: HTMLElement;
  readonly #askRows: LadderRowNodes[] = [];
  readonly #bidRows: LadderRowNodes[] = [];

  constructor(
    container: HTMLElement,
    private rows: number,
  ) {
    this.#asks = el('div', { class: 'ladder-side ladder-asks' });
    this.#bids = el('div', { class: 'ladder-side ladder-bids' });
    this.#spread = el('div', { class: 'ladder-spread', 'data-testid': 'ladder-spread' }, ['—']);
    container.replaceChildren(
      el('div', { class: 'ladder-head' }, [
        el('span', {}, ['Price']),
        el('span', {}, ['Size']),
        el('span', {}, ['Total']),
      ]),
      this.#asks,
      this.#spread,
      this.#bids,
    );
  }

  /** Rows per side: the panel's height decides (the ladder fills its panel). */
  setRows(rows: number): void {
    this.rows = rows;
  }

  render(bids: readonly Level[], asks: readonly Level[], decimals: { price: number; qty: number }): void {
    const view = ladder(bids, asks, this.rows, decimals);
    this.#fill(this.#asks, this.#askRows, view.asks, 'ask');
    this.#fill(this.#bids, this.#bidRows, view.bids, 'bid');
    setText(this.#spread, view.spread === undefined ? '—' : `spread ${view.spread}`);
  }

  clear(): void {
    resize(this.#asks, this.#askRows, 0, () => el('div'));
    resize(this.#bids, this.#bidRows, 0, () => el('div'));
    setText(this.#spread, '—');
  }

  #fill(
    container: HTMLElement,
    rows: LadderRowNodes[],
    levels: ReturnType<typeof ladder>['bids'],
    side: 'bid' | 'ask',
  ): void {
    resize(container, rows, levels.length, () => {
      const row: LadderRowNodes = el('div', {
        class: `ladder-row ${side}`,
        'data-testid': `ladder-${side}`,
        'data-side': side,
        // Reachable by keyboard: Enter puts the price into the order ticket.
        tabindex: 0,
      });
      row.bar = el('span', { class: 'bar' });
      row.priceCell = el('span', { class: 'price' });
      row.qtyCell = el('span', { class: 'qty' });
      row.totalCell = el('span', { class: 'total' });
      row.append(row.bar, row.priceCell, row.qtyCell, row.totalCell);
      return row;
    });
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i]!;
      const row = rows[i]!;
      if (row.dataset.price !== level.price) row.dataset.price = level.price;
      if (row.dataset.qty !== level.qty) row.dataset.qty = level.qty;
      setText(row.priceCell!, level.price);
      setText(row.qtyCell!, level.qty);
      setText(row.totalCell!, level.total);
      row.bar!.style.transform = `scaleX(${level.depth})`;
    }
  }
}

export class TapeView {
  readonly #container: HTMLElement;
  readonly #shown = new Set<string>();
  readonly #order: string[] = [];
  /** Trades placed on the tape since the page loaded (HTTP history included). */
  added = 0;
  /** The signed-in user's trades (from their fills): marked on the tape. */
  readonly #own = new Set<string>();

  constructor(
    container: HTMLElement,
    private readonly limit: number,
  ) {
    this.#container = container;
  }

  /** Adds trades (any order; duplicates by tradeId ignored), newest at the top. */
  add(trades: readonly Omit<TradeMessage, 'op'>[]): void {
    const fresh = trades.filter((t) => !this.#shown.has(t.tradeId)).sort((a, b) => a.seq - b.seq);
    if (fresh.length === 0) return;
    const rows = fresh.slice(-this.limit).map((t) =>
      el(
        'div',
        {
          class: `tape-row ${t.side}${this.#own.has(t.tradeId) ? ' own' : ''}`,
          'data-testid': 'tape-row',
          'data-trade-id': t.tradeId,
          'data-side': t.side,
          'data-price': t.price,
          'data-qty': t.qty,
        },
        [
          el('span', { class: 'time' }, [formatTime(t.ts)]),
          el('span', { class: 'price' }, [t.price]),
          el('span', { class: 'qty' }, [t.qty]),
        ],
      ),
    );
    for (const t of fresh) {
      this.#shown.add(t.tradeId);
      this.#order.push(t.tradeId);
    }
    this.added += fresh.length;
    this.#container.prepend(...rows.reverse());
    while (this.#container.childElementCount > this.limit) this.#container.lastElementChild!.remove();
    while (this.#order.length > this.limit * 4) this.#shown.delete(this.#order.shift()!);
  }

  /** Marks a trade as the user's own, whether it is on the tape yet or comes later. */
  markOwn(tradeId: string): void {
    if (this.#own.has(tradeId)) return;
    this.#own.add(tradeId);
    if (this.#own.size > this.limit * 8) this.#own.delete(this.#own.values().next().value!);
    for (const row of this.#container.children) {
      if ((row as HTMLElement).dataset.tradeId === tradeId) row.classList.add('own');
    }
  }

  clear(): void {
    this.#container.replaceChildren();
    this.#shown.clear();
    this.#order.length = 0;
  }

  /** The price of the newest trade shown. */
  get last(): string | undefined {
    return (this.#container.firstElementChild as HTMLElement | null)?.dataset.price;
  }
}

/**
 * The market list: a search box, favourites first (a star per row, kept in localStorage), each
 * row's last price, 24h change and 24h volume.
 */
export class MarketListView {
  readonly #rows = new Map<
    string,
    {
      wrap: HTMLElement;
      row: HTMLElement;
      last: HTMLElement;
      change: HTMLElement;
      volume: HTMLElement;
      star: HTMLButtonElement;
      market: MarketInfo;
    }
  >();
  #search = '';
  #favourites = new Set<string>();

  constructor(
    private readonly container: HTMLElement,
    private readonly onSelect: (symbol: string) => void,
    /** A star clicked: the markets store decides, then setFavourites() shows it. */
    private readonly onFavourite: (symbol: string) => void = () => undefined,
  ) {}

  /** Favourites first, the others after (marketsStore.favourites). */
  setFavourites(favourites: readonly string[]): void {
    this.#favourites = new Set(favourites);
    this.#arrange();
  }

  /** Rows matching `text` (symbol or name, any case) only (marketsStore.search). */
  setSearch(text: string): void {
    this.#search = text.trim().toLowerCase();
    this.#arrange();
  }

  setMarkets(markets: readonly MarketInfo[]): void {
    this.#rows.clear();
    for (const m of markets) {
      const last = el('span', { class: 'last', 'data-testid': 'market-last' }, ['—']);
      const change = el('span', { class: 'change', 'data-testid': 'market-change' }, ['—']);
      const volume = el('span', { class: 'volume', 'data-testid': 'market-volume' }, ['—']);
      const row = el(
        'button',
        {
          type: 'button',
          class: 'market-row',
          'data-testid': 'market-row',
          'data-symbol': m.symbol,
          'data-status': m.status,
        },
        [el('span', { class: 'symbol' }, [m.symbol]), last, change, volume],
      );
      row.title = `${m.name ?? m.symbol} (${m.status})`;
      row.addEventListener('click', () => {
        this.onSelect(m.symbol);
      });
      const star = el(
        'button',
        {
          type: 'button',
          class: 'star',
          'data-testid': 'favourite',
          'aria-label': `favourite ${m.symbol}`,
          'aria-pressed': String(this.#favourites.has(m.symbol)),
        },
        [this.#favourites.has(m.symbol) ? '★' : '☆'],
      );
      star.addEventListener('click', () => {
        this.onFavourite(m.symbol);
      });
      const wrap = el('div', { class: 'market-item', 'data-symbol': m.symbol }, [star, row]);
      this.#rows.set(m.symbol, { wrap, row, last, change, volume, star, market: m });
    }
    this.#arrange();
  }

  /** Favourites first, then the server's order; rows not matching the search hidden. */
  #arrange(): void {
    const entries = [...this.#rows.values()];
    const favourite = (symbol: string) => (this.#favourites.has(symbol) ? 0 : 1);
    const ordered = entries
      .map((e, i) => ({ e, i }))
      .sort((a, b) => favourite(a.e.market.symbol) - favourite(b.e.market.symbol) || a.i - b.i)
      .map(({ e }) => e);
    for (const e of ordered) {
      const on = this.#favourites.has(e.market.symbol);
      setText(e.star, on ? '★' : '☆');
      e.star.setAttribute('aria-pressed', String(on));
      const text = `${e.market.symbol} ${e.market.name ?? ''}`.toLowerCase();
      e.wrap.hidden = this.#search !== '' && !text.includes(this.#search);
    }
    this.container.replaceChildren(...ordered.map((e) => e.wrap));
  }

  select(symbol: string): void {
    for (const [s, { row }] of this.#rows) row.classList.toggle('selected', s === symbol);
  }

  setTicker(ticker: Ticker): void {
    const entry = this.#rows.get(ticker.market);
    if (entry === undefined) return;
    if (ticker.last !== undefined) setText(entry.last, ticker.last);
    const percent = tickerPercent(ticker);
    setText(entry.change, formatPercent(percent));
    entry.change.className = `change ${direction(percent)}`;
    if (ticker.volume24h !== undefined) setText(entry.volume, ticker.volume24h);
  }

  setLast(symbol: string, price: string): void {
    const entry = this.#rows.get(symbol);
    if (entry !== undefined) setText(entry.last, price);
  }
}

export function direction(value: number | undefined): 'up' | 'down' | 'flat' {
  return value === undefined || value === 0 ? 'flat' : value > 0 ? 'up' : 'down';
}

export class TickerView {
  readonly #fields: Record<
    'last' | 'change' | 'high' | 'low' | 'volume' | 'bid' | 'ask' | 'index',
    HTMLElement
  >;

  /** Each label with the unit its value is in: quote for prices, base for volume. */
  readonly #labels: { node: HTMLElement; text: string; unit: 'quote' | 'base' | 'none' }[] = [];

  constructor(container: HTMLElement) {
    const field = (label: string, testid: string) => {
      const value = el('span', { class: 'value', 'data-testid': testid }, ['—']);
      const labelNode = el('span', { class: 'label' }, [label]);
      this.#labels.push({
        node: labelNode,
        text: label,
        unit: testid === 'ticker-volume' ? 'base' : testid === 'ticker-change' ? 'none' : 'quote',
      });
      container.append(el('div', { class: 'stat' }, [labelNode, value]));
      return value;
    };
    this.#fields = {
      last: field('Last', 'ticker-last'),
      change: field('24h change', 'ticker-change'),
      high: field('24h high', 'ticker-high'),
      low: field('24h low', 'ticker-low'),
      volume: field('24h volume', 'ticker-volume'),
      bid: field('Bid', 'ticker-bid'),
      ask: field('Ask', 'ticker-ask'),
      index: field('Index', 'ticker-index'),
    };
  }

  set(ticker: Ticker): void {
    const f = this.#fields;
    const show = (node: HTMLElement, value: string | undefined) => {
      setText(node, value ?? '—');
    };
    show(f.last, ticker.last);
    const percent = tickerPercent(ticker);
    show(
      f.change,
      ticker.change24h === undefined ? undefined : `${ticker.change24h} (${formatPercent(percent)})`,
    );
    f.change.className = `value ${direction(percent)}`;
    show(f.high, ticker.high24h);
    show(f.low, ticker.low24h);
    show(f.volume, ticker.volume24h);
    show(f.bid, ticker.bid);
    show(f.ask, ticker.ask);
    show(f.index, ticker.indexPrice);
  }

  /** Shows the market's assets beside the figures (`Last (USDC)`, `24h volume (BTC)`). */
  setUnits(base: string, quote: string): void {
    for (const { node, text, unit } of this.#labels) {
      setText(node, unit === 'none' ? text : `${text} (${unit === 'base' ? base : quote})`);
    }
  }

  /** Without a ticker: the last trade and the book's best levels, so the bar is never blank. */
  fallback(last: string | undefined, bid: string | undefined, ask: string | undefined): void {
    if (last !== undefined) setText(this.#fields.last, last);
    if (bid !== undefined) setText(this.#fields.bid, bid);
    if (ask !== undefined) setText(this.#fields.ask, ask);
  }

  clear(): void {
    for (const node of Object.values(this.#fields)) {
      setText(node, '—');
    }
    this.#fields.change.className = 'value';
  }
}

export interface LifecycleRecord {
  readonly eventType: string;
  readonly actorId?: string;
  readonly actorType?: string;
  readonly decision?: string;
  readonly reason?: string;
  readonly ts: number;
}

export class LifecycleView {
  constructor(
    private readonly badge: HTMLElement,
    private readonly list: HTMLElement,
  ) {}

  setState(message: Pick<LifecycleMessage, 'to'> | undefined): void {
    const state = message?.to ?? 'unknown';
    setText(this.badge, state);
    this.badge.dataset.state = state;
    this.badge.className = `lifecycle-badge state-${state}`;
  }

  setHistory(events: readonly LifecycleRecord[]): void {
    const rows = [...events]
      .reverse()
      .map((e) =>
        el(
          'li',
          { class: 'lifecycle-event', 'data-testid': 'lifecycle-event', 'data-event-type': e.eventType },
          [
            el('span', { class: 'time' }, [new Date(e.ts).toISOString().replace('T', ' ').slice(0, 19)]),
            el('span', { class: 'event' }, [e.eventType.replace(/^market\./, '')]),
            el('span', { class: 'actor' }, [
              e.actorId === undefined ? '' : `${e.actorType ?? ''} ${e.actorId}`.trim(),
            ]),
            el('span', { class: 'reason' }, [e.reason ?? '']),
          ],
        ),
      );
    this.list.replaceChildren(...rows);
    if (rows.length === 0) this.list.append(el('li', { class: 'empty' }, ['no lifecycle events recorded']));
  }
}
