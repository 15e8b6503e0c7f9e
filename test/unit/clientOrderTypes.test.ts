import { describe, expect, it } from 'vitest';
import {
  fokMarketBuy,
  goodTillDate,
  iceberg,
  oco,
  stopMarketBuy,
  trailingStop,
} from '../../src/client/orderTypes.ts';
import { PlaceOcoRequest, PlaceRequest } from '../../src/protocol/schemas.ts';
import { placeProblem } from '../../src/services/orderCommands.ts';

/** Issue 14: the SDK's builders give bodies the server's own boundary takes as they are. */
describe('issue 14: SDK builders for the new order types', () => {
  const bodies = {
    iceberg: iceberg('BTC-USDC', 'sell', '1.0000', '300.00', '0.1000'),
    icebergGtd: iceberg('BTC-USDC', 'buy', '1.0000', '300.00', '0.1000', { expireAt: 2_000_000_000_000 }),
    gtd: goodTillDate('BTC-USDC', 'buy', '0.0100', '100.00', 2_000_000_000_000),
    stopMarketBuy: stopMarketBuy('BTC-USDC', '101.00', '500'),
    fokMarketBuy: fokMarketBuy('BTC-USDC', '50', { qty: '0.5000' }),
    trailingTicks: trailingStop('BTC-USDC', 'sell', '0.0010', { offset: '5.00' }),
    trailingBps: trailingStop('BTC-USDC', 'buy', '0.0010', { bps: 150 }, { limitOffset: '0.50' }),
    trailingBuy: trailingStop('BTC-USDC', 'buy', '0.0010', { offset: '5.00' }, { quoteQty: '10' }),
  };

  for (const [name, body] of Object.entries(bodies)) {
    it(`issue 14: ${name} parses and needs nothing more`, () => {
      const parsed = PlaceRequest.safeParse(body);
      expect(parsed.success).toBe(true);
      if (parsed.success) expect(placeProblem(parsed.data)).toBeUndefined();
    });
  }

  it('issue 14: the boundary refuses what the builders never make', () => {
    const both = { ...bodies.trailingTicks, trailingBps: 5 };
    const parsed = PlaceRequest.parse(both);
    expect(placeProblem(parsed)).toMatch(/one of trailingOffset and trailingBps/);
    expect(placeProblem(PlaceRequest.parse({ ...bodies.iceberg, tif: 'IOC' }))).toMatch(/displayQty/);
  });
});

describe('issue 14: the SDK builder for OCO', () => {
  it('issue 14: oco() gives a place_oco body the server parses as it is', () => {
    const sell = oco('BTC-USDC', 'sell', '1.0000', '110.00', '90.00');
    const buy = oco('BTC-USDC', 'buy', '1.0000', '90.00', '110.00', {
      stopLimitPrice: '111.00',
      clientOrderId: 'list-1',
      stp: 'cancel_both',
    });
    expect(PlaceOcoRequest.parse(sell)).toEqual(sell);
    expect(PlaceOcoRequest.parse(buy)).toEqual(buy);
    expect(PlaceOcoRequest.safeParse({ ...sell, stopPrice: undefined }).success).toBe(false);
  });
});
