import {
  CandlestickSeries,
  ColorType,
  createChart,
  CrosshairMode,
  HistogramSeries,
  type IChartApi,
  type ISeriesApi,
  type UTCTimestamp,
} from 'lightweight-charts';
import type { CandleMessage } from '../../src/client/index.ts';
import { el, setText } from '../shared/dom.ts';

/*
 * The candle chart (TradingView's lightweight-charts, v5 API): candles plus a volume histogram
 * under them. Prices and volumes become numbers here only, for drawing. A push for the current
 * candle updates it in place; one for an older candle (a late `closed:true`) rewrites the series.
 */

export type Candle = Omit<CandleMessage, 'op'>;

const UP = '#26a69a';
const DOWN = '#ef5350';

export class CandleChart {
  readonly #chart: IChartApi;
  readonly #candles: ISeriesApi<'Candlestick'>;
  readonly #volume: ISeriesApi<'Histogram'>;
  /** Open time (ms) → candle, for rewrites; the chart shows these. */
  readonly #bars = new Map<number, Candle>();
  #lastT = -Infinity;
  /** O H L C V of the candle under the crosshair, else of the newest. */
  readonly #legend: HTMLElement;
  #hovered: number | undefined;

  constructor(container: HTMLElement) {
    this.#legend = el('div', { class: 'ohlc-legend', 'data-testid': 'ohlc-legend', 'aria-live': 'off' });
    this.#chart = createChart(container, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: 'transparent' },
        textColor: '#8a94a6',
        fontFamily: 'inherit',
        attributionLogo: true,
      },
      grid: { vertLines: { color: '#1c2330' }, horzLines: { color: '#1c2330' } },
      timeScale: { timeVisible: true, secondsVisible: false, borderColor: '#263042' },
      rightPriceScale: { borderColor: '#263042' },
      crosshair: { mode: CrosshairMode.Normal },
    });
    this.#candles = this.#chart.addSeries(CandlestickSeries, {
      upColor: UP,
      downColor: DOWN,
      borderVisible: false,
      wickUpColor: UP,
      wickDownColor: DOWN,
    });
    this.#volume = this.#chart.addSeries(HistogramSeries, {
      priceFormat: { type: 'volume' },
      priceScaleId: '',
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.#volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    container.append(this.#legend);
    this.#chart.subscribeCrosshairMove((param) => {
      this.#hovered = typeof param.time === 'number' ? param.time * 1000 : undefined;
      this.#showLegend();
    });
  }

  #showLegend(): void {
    const candle =
      (this.#hovered === undefined ? undefined : this.#bars.get(this.#hovered)) ??
      this.#bars.get(this.#lastT);
    setText(
      this.#legend,
      candle === undefined ? '' : `O ${candle.o}  H ${candle.h}  L ${candle.l}  C ${candle.c}  V ${candle.v}`,
    );
  }

  /** Candles shown. */
  get size(): number {
    return this.#bars.size;
  }

  setPriceFormat(priceDecimals: number, tickSize: string): void {
    const minMove = Number(tickSize);
    this.#candles.applyOptions({
      priceFormat: {
        type: 'price',
        precision: priceDecimals,
        minMove: Number.isFinite(minMove) && minMove > 0 ? minMove : 10 ** -priceDecimals,
      },
    });
  }

  setHistory(candles: readonly Candle[]): void {
    this.#bars.clear();
    for (const candle of candles) this.#bars.set(candle.t, candle);
    this.#redraw();
    this.#chart.timeScale().scrollToRealTime();
  }

  update(candle: Candle): void {
    this.#bars.set(candle.t, candle);
    if (candle.t >= this.#lastT) {
      this.#lastT = candle.t;
      this.#candles.update(bar(candle));
      this.#volume.update(volumeBar(candle));
    } else {
      this.#redraw();
    }
    this.#showLegend();
  }

  clear(): void {
    this.#bars.clear();
    this.#redraw();
  }

  #redraw(): void {
    const sorted = [...this.#bars.values()].sort((a, b) => a.t - b.t);
    this.#lastT = sorted.at(-1)?.t ?? -Infinity;
    this.#candles.setData(sorted.map(bar));
    this.#volume.setData(sorted.map(volumeBar));
    this.#showLegend();
  }
}

const seconds = (ms: number) => Math.floor(ms / 1000) as UTCTimestamp;

function bar(c: Candle) {
  return { time: seconds(c.t), open: Number(c.o), high: Number(c.h), low: Number(c.l), close: Number(c.c) };
}

function volumeBar(c: Candle) {
  return {
    time: seconds(c.t),
    value: Number(c.v),
    color: Number(c.c) >= Number(c.o) ? 'rgba(38,166,154,0.35)' : 'rgba(239,83,80,0.35)',
  };
}
