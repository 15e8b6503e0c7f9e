import { el, setText } from '../shared/dom.ts';
import { direction } from './views.ts';

/*
 * Trend markets on the dashboard (issue 19): the selected market's virality score and sentiment
 * beside its price in the ticker bar, read from GET /api/v1/trends/markets every few seconds (the
 * index price itself comes with the ticker pushes). Hidden for markets that are not trend markets.
 */

interface TrendListing {
  readonly symbol: string;
  readonly market: string;
  readonly viralityScore: number;
  readonly sentiment: number;
}

function parseListings(body: unknown): TrendListing[] {
  if (!Array.isArray(body)) return [];
  return body.filter(
    (item): item is TrendListing =>
      typeof item === 'object' &&
      item !== null &&
      typeof (item as TrendListing).market === 'string' &&
      typeof (item as TrendListing).symbol === 'string' &&
      typeof (item as TrendListing).viralityScore === 'number' &&
      typeof (item as TrendListing).sentiment === 'number',
  );
}

export class TrendView {
  readonly #stats: HTMLElement[];
  readonly #symbol: HTMLElement;
  readonly #score: HTMLElement;
  readonly #sentiment: HTMLElement;
  #byMarket = new Map<string, TrendListing>();
  #selected: string | undefined;

  /** `read` answers GET /trends/markets (the SDK's `ExchangeHttp.trendMarkets`). */
  constructor(container: HTMLElement, read: () => Promise<unknown>, everyMs = 3_000) {
    const field = (label: string, testid: string) => {
      const value = el('span', { class: 'value', 'data-testid': testid }, ['—']);
      const stat = el('div', { class: 'stat', hidden: '' }, [el('span', { class: 'label' }, [label]), value]);
      container.append(stat);
      return { stat, value };
    };
    const symbol = field('Trend', 'trend-symbol');
    const score = field('Virality', 'trend-virality');
    const sentiment = field('Sentiment', 'trend-sentiment');
    this.#stats = [symbol.stat, score.stat, sentiment.stat];
    this.#symbol = symbol.value;
    this.#score = score.value;
    this.#sentiment = sentiment.value;
    const refresh = () => {
      read().then(
        (body) => {
          this.#byMarket = new Map(parseListings(body).map((t) => [t.market, t]));
          this.#render();
        },
        () => undefined,
      );
    };
    refresh();
    setInterval(refresh, everyMs);
  }

  /** The market now shown (its symbol `BASE-QUOTE`). */
  select(market: string | undefined): void {
    this.#selected = market;
    this.#render();
  }

  #render(): void {
    const trend = this.#selected === undefined ? undefined : this.#byMarket.get(this.#selected);
    for (const stat of this.#stats) stat.hidden = trend === undefined;
    if (trend === undefined) return;
    setText(this.#symbol, trend.symbol);
    setText(this.#score, trend.viralityScore.toFixed(2));
    setText(this.#sentiment, `${trend.sentiment >= 0 ? '+' : ''}${trend.sentiment.toFixed(2)}`);
    this.#sentiment.className = `value ${direction(trend.sentiment)}`;
  }
}
