import type { CandleInterval, PrivateChannel } from './messages.ts';

/**
 * The topic each channel's pushes go to (one per market and channel, one per user and private
 * channel). The gateway subscribes sockets to these and the publishers address them: one template
 * each, here.
 */
export const topics = {
  book: (symbol: string, depth: number) => `book/${symbol}/${depth}`,
  trades: (symbol: string) => `trades/${symbol}`,
  lifecycle: (symbol: string) => `lifecycle/${symbol}`,
  ticker: (symbol: string) => `ticker/${symbol}`,
  candles: (symbol: string, interval: CandleInterval) => `candles/${symbol}/${interval}`,
  private: (ch: PrivateChannel, userId: string) => `${ch}/${userId}`,
};

/**
 * A push and the topic its subscribers listen on: the gateway encodes it once for all of them.
 * The market-data publishers and the visualizer's feed produce these.
 */
export interface Publication<M extends object = object> {
  readonly topic: string;
  readonly message: M;
}
