import type { MarketMoney } from '../actors/money.ts';
import { formatUnits } from '../actors/money/decimal.ts';
import type { CandleInterval, CandleMessage } from '../protocol/messages.ts';
import type { Candle } from './candles.ts';

/** Candles and tickers as the wire and the HTTP candles route show them (PROTOCOL.md). */

export type CandleView = Omit<CandleMessage, 'op'>;

export interface TickerPush {
  readonly op: 'ticker';
  readonly market: string;
  readonly last?: string;
  readonly bid?: string;
  readonly ask?: string;
  readonly high24h?: string;
  readonly low24h?: string;
  readonly volume24h: string;
  readonly change24h?: string;
  readonly changePct24h?: string;
  readonly indexPrice?: string;
}

/** What a view needs of a market: its symbol and how its integers read as decimals. */
export interface ViewedMarket {
  readonly symbol: string;
  readonly money: MarketMoney;
}

export function candleMessage(
  market: ViewedMarket,
  interval: CandleInterval,
  candle: Candle,
  closed: boolean,
): CandleMessage {
  return { op: 'candle', ...candleView(market, interval, candle, closed) };
}

export function candleView(
  market: ViewedMarket,
  interval: CandleInterval,
  candle: Candle,
  closed: boolean,
): CandleView {
  const { money } = market;
  return {
    market: market.symbol,
    interval,
    t: candle.t,
    o: money.formatPrice(candle.o),
    h: money.formatPrice(candle.h),
    l: money.formatPrice(candle.l),
    c: money.formatPrice(candle.c),
    v: formatLots(money, candle.v),
    closed,
  };
}

/** Lots as base quantity; exact below 2^53 lots (a sum past it is beyond any market's maxQty × trades). */
export function formatLots(money: MarketMoney, lots: number): string {
  return Number.isSafeInteger(lots)
    ? money.formatQty(lots)
    : formatUnits(BigInt(lots) * money.lotUnits, money.qtyDecimals);
}

/** change / reference in percent, two decimals, rounded half away from zero (integer arithmetic). */
export function percent(change: number, reference: number): string {
  if (reference <= 0) return '0.00';
  const negative = change < 0;
  const scaled = BigInt(Math.abs(change)) * 10_000n;
  const ref = BigInt(reference);
  const hundredths = (2n * scaled + ref) / (2n * ref);
  return (negative && hundredths !== 0n ? '-' : '') + formatUnits(hundredths, 2);
}
