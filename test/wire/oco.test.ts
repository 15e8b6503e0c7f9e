import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oco } from '../../src/client/orderTypes.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { balancesOf, BTC_USDC, listMarkets, ORDER_RATES, traderSocket } from './fixtures.ts';

/*
 * Issue 14, OCO (PROTOCOL v1.1 "More order types": `place_oco` → `accepted_oco`) over a real
 * WebSocket on a whole exchange: one lock for both legs, a partial fill of the limit leg cancels the
 * stop leg in the same batch, canceling one leg cancels both, bad input answers bad_request.
 * BTC-USDC: 1 tick × 1 lot = 1 USDC minor unit (0.000001 USDC).
 */

const market = BTC_USDC.symbol;

describe('issue 14: OCO over the wire', () => {
  let running: RunningExchange;
  let rid = 100;

  beforeAll(async () => {
    running = await runExchange(ORDER_RATES);
    await listMarkets(running);
  });

  afterAll(async () => {
    await running.stop();
  });

  const balance = async (userId: string, asset: string) => (await balancesOf(running, userId)).get(asset);

  it('issue 14: a buy OCO locks the larger leg once; a partial fill of its limit leg cancels the stop leg and frees the rest', async () => {
    await running.credit('oan', 'USDC', '1000');
    await running.credit('obe', 'BTC', '10');
    const oan = await traderSocket(running, 'oan');
    const obe = await traderSocket(running, 'obe');
    const accepted = await oan.request(
      {
        op: 'place_oco',
        market,
        side: 'buy',
        qty: '1.0000',
        price: '90.00',
        stopPrice: '110.00',
        stopLimitPrice: '111.00',
        clientOrderId: 'oco-1',
      },
      rid++,
    );
    expect(accepted).toMatchObject({
      op: 'accepted_oco',
      orders: [
        {
          type: 'limit',
          clientOrderId: 'oco-1',
          status: 'open',
          filledQty: '0.0000',
          remainingQty: '1.0000',
        },
        { type: 'stop_limit', status: 'open', remainingQty: '1.0000' },
      ],
    });
    const [limitLeg, stopLeg] = accepted.orders as { orderId: string }[];
    expect(accepted.listId).toBe(limitLeg!.orderId);
    // max(1 × 90.00, 1 × 111.00), once.
    expect(await balance('oan', 'USDC')).toMatchObject({ available: '889.000000', locked: '111.000000' });
    await oan.request({ op: 'sub', ch: 'orders' }, rid++);
    await obe.request(
      { op: 'place', market, side: 'sell', type: 'limit', price: '90.00', qty: '0.4000' },
      rid++,
    );
    const canceled = await oan.next(
      (m) => m.op === 'order' && m.orderId === stopLeg!.orderId && m.status === 'canceled',
    );
    expect(canceled).toMatchObject({ orderId: stopLeg!.orderId });
    // 0.6 left at 90.00 locked; 0.4 × 90.00 = 36 spent.
    await eventually(async () =>
      expect(await balance('oan', 'USDC')).toMatchObject({ available: '910.000000', locked: '54.000000' }),
    );
    oan.close();
    obe.close();
  });

  it('issue 14: canceling the stop leg cancels the limit leg too; a buy OCO without stopLimitPrice, or with its stop on the wrong side, answers bad_request and locks nothing', async () => {
    await running.credit('ocy', 'USDC', '1000');
    const ocy = await traderSocket(running, 'ocy');
    const base = { op: 'place_oco', market, side: 'buy', qty: '1.0000', price: '90.00' };
    for (const bad of [
      { ...base, stopPrice: '110.00' },
      { ...base, stopPrice: '80.00', stopLimitPrice: '80.00' },
      { ...base, stopPrice: 'ten', stopLimitPrice: '111.00' },
      { ...base, qty: undefined, stopPrice: '110.00', stopLimitPrice: '111.00' },
    ]) {
      expect(await ocy.request(bad, rid++)).toMatchObject({ op: 'error', code: 'bad_request' });
    }
    // bad_request comes before unknown_market (PROTOCOL.md).
    expect(
      await ocy.request({ ...base, market: 'NOPE-USDC', stopPrice: 'ten', stopLimitPrice: '111.00' }, rid++),
    ).toMatchObject({ op: 'error', code: 'bad_request' });
    expect(await balance('ocy', 'USDC')).toMatchObject({ available: '1000.000000', locked: '0.000000' });
    const accepted = await ocy.request({ ...base, stopPrice: '110.00', stopLimitPrice: '111.00' }, rid++);
    expect(accepted).toMatchObject({ op: 'accepted_oco' });
    const [, stopLeg] = accepted.orders as { orderId: string }[];
    expect(await ocy.request({ op: 'cancel', market, orderId: stopLeg!.orderId }, rid++)).toMatchObject({
      op: 'canceled',
      orderId: stopLeg!.orderId,
    });
    await eventually(async () =>
      expect(await balance('ocy', 'USDC')).toMatchObject({ available: '1000.000000', locked: '0.000000' }),
    );
    ocy.close();
  });

  it('issue 14: the SDK places a sell OCO with oco() over its WebSocket; a trade at the stop triggers it, cancels the limit leg and sells', async () => {
    await running.credit('osd', 'BTC', '2');
    await running.credit('obu', 'USDC', '10000');
    const seller = await running.client(await running.token('osd', ['trader']));
    const buyer = await traderSocket(running, 'obu');
    // The last trade was at 90.00 (the first test), and oan still bids 0.6 at 90.00: a stop at
    // 80.00 waits, and a limit at 100.00 does not cross.
    const reply = await seller.placeOco(oco(market, 'sell', '1.0000', '100.00', '80.00'));
    expect(reply).toMatchObject({
      op: 'accepted_oco',
      orders: [
        { type: 'limit', status: 'open' },
        { type: 'stop_market', status: 'open' },
      ],
    });
    expect(reply.listId).toBe(reply.orders[0]!.orderId);
    expect(await balance('osd', 'BTC')).toMatchObject({ available: '1.00000000', locked: '1.00000000' });
    // Bids for the triggered stop to sell into; then osd sells 0.6001 at 80.00: 0.6 to oan at
    // 90.00, 0.0001 to obu at 80.00, which triggers the stop: it sells 1.0000 into 79.00.
    await buyer.request(
      { op: 'place', market, side: 'buy', type: 'limit', price: '79.00', qty: '5.0000' },
      rid++,
    );
    await buyer.request(
      { op: 'place', market, side: 'buy', type: 'limit', price: '80.00', qty: '0.0001' },
      rid++,
    );
    await seller.place({ market, side: 'sell', type: 'limit', price: '80.00', qty: '0.6001' });
    await eventually(async () =>
      expect(await balance('osd', 'BTC')).toMatchObject({ available: '0.39990000', locked: '0.00000000' }),
    );
    // obu got 1.0001 BTC as maker, less its 10 bps fee (0.0010001).
    await eventually(async () =>
      expect(await balance('obu', 'BTC')).toMatchObject({ available: '0.99909990' }),
    );
    seller.close();
    buyer.close();
  });
});
