import type { MappingContext } from '../../src/notifications/mapping.ts';
import { BTC_USDC } from './markets.ts';

/** The notifier's view of the durable-path test markets: BTC-USDC, figures as raw ticks and lots. */
export const TEST_MAPPING: MappingContext = {
  market: (id) =>
    id === BTC_USDC.id
      ? { symbol: BTC_USDC.symbol, baseAsset: BTC_USDC.baseAsset, formatPrice: String, formatQty: String }
      : undefined,
  assetDecimals: () => undefined,
};
