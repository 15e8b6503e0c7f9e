import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MarketView } from '../../src/client/index.ts';
import {
  errorField,
  groupLevels,
  preview,
  sendTicket,
  toOco,
  toPlace,
  validate,
  type Ticket,
} from '../../web/dashboard/orderForm.ts';
import {
  aggregate,
  CHART_INTERVALS,
  sourceOf,
  type ChartInterval,
} from '../../web/dashboard/candleIntervals.ts';
import { scaled, unscaled } from '../../web/shared/format.ts';
import { balancesStore, ordersStore, unreadCount } from '../../web/shared/stores.ts';

/*
 * Issue 20: the order ticket's rules (web/dashboard/orderForm.ts), DOM-free: field errors of the
 * contract, the lock and the fee shown before sending, the `place` request, price grouping; and
 * the stores' transitions.
 */

const MARKET: MarketView = {
  id: 'm-1',
  symbol: 'BTC-USDC',
  status: 'active',
  baseAsset: 'BTC',
  quoteAsset: 'USDC',
  priceDecimals: 2,
  qtyDecimals: 4,
  tickSize: '0.50',
  lotSize: '0.0010',
  minQty: '0.0010',
  maxQty: '100.0000',
  makerFeeBps: 5,
  takerFeeBps: 25,
};

const ticket = (over: Partial<Ticket> = {}): Ticket => ({
  side: 'buy',
  type: 'limit',
  price: '30000.00',
  stopPrice: '',
  qty: '0.5000',
  quoteQty: '',
  tif: 'GTC',
  postOnly: false,
  ...over,
});

describe('the order ticket', () => {
  it('accepts a valid limit order and makes its place request', () => {
    expect(validate(ticket(), MARKET)).toEqual({});
    expect(toPlace(ticket(), MARKET)).toEqual({
      market: 'BTC-USDC',
      side: 'buy',
      type: 'limit',
      qty: '0.5000',
      price: '30000.00',
      tif: 'GTC',
    });
  });

  it('names the field of each contract rule it breaks', () => {
    expect(validate(ticket({ price: '30000.25' }), MARKET)).toEqual({ price: 'a multiple of the tick 0.50' });
    expect(validate(ticket({ price: '30000.005' }), MARKET)).toEqual({ price: 'at most 2 decimals' });
    expect(validate(ticket({ qty: '0.0005' }), MARKET).qty).toBe('a multiple of the lot 0.0010');
    expect(validate(ticket({ qty: '200.0000' }), MARKET).qty).toBe('at most 100.0000');
    expect(validate(ticket({ qty: '' }), MARKET).qty).toBe('required');
    expect(validate(ticket({ price: '1e3' }), MARKET).price).toBe('a plain decimal, e.g. 12.50');
    expect(validate(ticket({ postOnly: true, tif: 'IOC' }), MARKET).tif).toBeDefined();
    expect(validate(ticket({ type: 'stop_market', qty: '', quoteQty: '' }), MARKET).stopPrice).toBe(
      'required',
    );
    expect(validate(ticket({ type: 'stop_market', stopPrice: '31000.00', qty: '' }), MARKET).quoteQty).toBe(
      'a stop-market buy needs a budget',
    );
  });

  it('puts the server’s errors next to the field they concern', () => {
    expect(errorField('insufficient_funds', 'not enough USDC')).toBe('qty');
    expect(errorField('would_match', 'post-only')).toBe('postOnly');
    expect(errorField('fok_unfilled', '')).toBe('tif');
    expect(errorField('bad_request', 'price: below the minimum')).toBe('price');
    expect(errorField('bad_request', 'quoteQty is only for market buys')).toBe('quoteQty');
    expect(errorField('market_not_active', 'paused')).toBe('form');
  });

  it('shows the lock (price × qty, or the budget) and the fee rounded up in the asset received', () => {
    // Buy 0.5 at 30000: lock 15000 USDC; fee 25 bps of 0.5 BTC = 0.00125 → 0.0013 (4 decimals, up).
    expect(preview(ticket(), MARKET)).toEqual({
      lock: { amount: '15000.000000', asset: 'USDC' },
      fee: { amount: '0.0013', asset: 'BTC' },
    });
    // Post-only pays the maker rate: 5 bps of 0.5 = 0.00025 → 0.0003.
    expect(preview(ticket({ postOnly: true }), MARKET).fee).toEqual({ amount: '0.0003', asset: 'BTC' });
    // A sell locks its qty; its fee is in USDC: 25 bps of 15000 = 37.5.
    expect(preview(ticket({ side: 'sell' }), MARKET)).toEqual({
      lock: { amount: '0.5000', asset: 'BTC' },
      fee: { amount: '37.50', asset: 'USDC' },
    });
    // A market buy with a budget locks the budget; without a limit the fee is estimated at the ask.
    expect(preview(ticket({ type: 'market', qty: '', quoteQty: '1000' }), MARKET, '25000.00')).toEqual({
      lock: { amount: '1000.000000', asset: 'USDC' },
      fee: { amount: '0.0001', asset: 'BTC' },
    });
    expect(preview(ticket({ price: 'x' }), MARKET).lock).toBeUndefined();
  });

  it('rounds a fee up, never to 0 while the rate is above 0 (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), fc.integer({ min: 1, max: 1000 }), (lots, bps) => {
        const qty = unscaled(BigInt(lots), 4);
        const fee = preview(ticket({ qty, price: '1.00' }), {
          ...MARKET,
          tickSize: '0.01',
          lotSize: '0.0001',
          maxQty: undefined,
          minQty: '0.0001',
          takerFeeBps: bps,
        }).fee;
        const units = scaled(fee!.amount, 4);
        // The exact fee is lots × bps / 10000 units: the shown one is its ceiling.
        const exact = BigInt(lots) * BigInt(bps);
        expect(units * 10_000n).toBeGreaterThanOrEqual(exact);
        expect((units - 1n) * 10_000n).toBeLessThan(exact);
      }),
    );
  });
});

describe('the order ticket, issue 14 types', () => {
  const NOW = 1_800_000_000_000;

  it('an iceberg: a limit with displayQty (the SDK builder), its slice checked against qty', () => {
    const t = ticket({ displayQty: '0.1000' });
    expect(validate(t, MARKET, NOW)).toEqual({});
    expect(toPlace(t, MARKET)).toEqual({
      market: 'BTC-USDC',
      side: 'buy',
      type: 'limit',
      qty: '0.5000',
      price: '30000.00',
      displayQty: '0.1000',
    });
    expect(preview(t, MARKET).lock).toEqual({ amount: '15000.000000', asset: 'USDC' });
    expect(validate(ticket({ displayQty: '0.6000' }), MARKET, NOW).displayQty).toBe('at most the quantity');
    expect(validate(ticket({ qty: '10.0000', displayQty: '0.0010' }), MARKET, NOW).displayQty).toBe(
      'at least 1/1000 of the quantity',
    );
    expect(validate(ticket({ displayQty: '0.1000', tif: 'IOC' }), MARKET, NOW).tif).toBe(
      'an iceberg rests: GTC or GTD',
    );
    expect(validate(ticket({ displayQty: '0.00005' }), MARKET, NOW).displayQty).toBe('at most 4 decimals');
  });

  it('GTD: expireAt required and in the future, sent in ms', () => {
    const at = String(NOW + 60_000);
    expect(validate(ticket({ tif: 'GTD' }), MARKET, NOW).expireAt).toBe('required for GTD');
    expect(validate(ticket({ tif: 'GTD', expireAt: String(NOW - 1) }), MARKET, NOW).expireAt).toBe(
      'must be in the future',
    );
    expect(validate(ticket({ tif: 'GTD', expireAt: at }), MARKET, NOW)).toEqual({});
    expect(toPlace(ticket({ tif: 'GTD', expireAt: at }), MARKET)).toMatchObject({
      tif: 'GTD',
      expireAt: NOW + 60_000,
    });
    expect(validate(ticket({ type: 'market', tif: 'GTD', expireAt: at }), MARKET, NOW).tif).toBeDefined();
  });

  it('trailing stops: distance or bps, optional limit offset, a market buy with its budget', () => {
    const sell = ticket({ type: 'trailing_stop', side: 'sell', price: '', trailingOffset: '100.00' });
    expect(validate(sell, MARKET, NOW)).toEqual({});
    expect(toPlace(sell, MARKET)).toEqual({
      market: 'BTC-USDC',
      side: 'sell',
      type: 'trailing_stop',
      qty: '0.5000',
      trailingOffset: '100.00',
    });
    expect(preview(sell, MARKET).lock).toEqual({ amount: '0.5000', asset: 'BTC' });
    expect(validate({ ...sell, trailingOffset: '100.25' }, MARKET, NOW).trailingOffset).toBe(
      'a multiple of the tick 0.50',
    );
    const bps = { ...sell, trailBy: 'bps' as const, trailingBps: '50', limitOffset: '10.00' };
    expect(toPlace(bps, MARKET)).toMatchObject({ trailingBps: 50, limitOffset: '10.00' });
    expect(validate({ ...bps, trailingBps: '0' }, MARKET, NOW).trailingBps).toBe('whole bps, 1 to 10000');
    // A trailing market buy: a budget, locked whole.
    const buy = { ...sell, side: 'buy' as const, qty: '', quoteQty: '2000.000000' };
    expect(validate({ ...buy, quoteQty: '' }, MARKET, NOW).quoteQty).toBe(
      'a trailing market buy needs a budget',
    );
    expect(validate(buy, MARKET, NOW)).toEqual({});
    expect(toPlace(buy, MARKET)).toEqual({
      market: 'BTC-USDC',
      side: 'buy',
      type: 'trailing_stop',
      trailingOffset: '100.00',
      quoteQty: '2000.000000',
    });
    expect(preview(buy, MARKET).lock).toEqual({ amount: '2000.000000', asset: 'USDC' });
    // A trailing limit buy: qty × (reference + distance + limit offset), an estimate.
    const limitBuy = { ...sell, side: 'buy' as const, limitOffset: '10.00' };
    expect(preview(limitBuy, MARKET, '30000.00')).toMatchObject({
      lock: { amount: '15055.000000', asset: 'USDC' },
      estimate: true,
    });
  });

  it('OCO: one lock, the larger leg; the stop beyond the limit; a buy needs a stop-limit price', () => {
    const sell = ticket({ type: 'oco', side: 'sell', price: '32000.00', stopPrice: '28000.00' });
    expect(validate(sell, MARKET, NOW)).toEqual({});
    expect(preview(sell, MARKET).lock).toEqual({ amount: '0.5000', asset: 'BTC' });
    expect(toOco(sell, MARKET)).toEqual({
      market: 'BTC-USDC',
      side: 'sell',
      qty: '0.5000',
      price: '32000.00',
      stopPrice: '28000.00',
    });
    expect(validate({ ...sell, stopPrice: '33000.00' }, MARKET, NOW).stopPrice).toBe(
      'a sell OCO stops below its limit',
    );
    const buy = ticket({ type: 'oco', price: '28000.00', stopPrice: '32000.00', stopLimitPrice: '32500.00' });
    expect(validate({ ...buy, stopLimitPrice: '' }, MARKET, NOW).stopLimitPrice).toBe(
      'a buy OCO needs a stop-limit price',
    );
    expect(validate(buy, MARKET, NOW)).toEqual({});
    // qty × max(28000, 32500).
    expect(preview(buy, MARKET).lock).toEqual({ amount: '16250.000000', asset: 'USDC' });
    expect(toOco({ ...buy, stp: 'decrement' }, MARKET)).toMatchObject({
      stopLimitPrice: '32500.00',
      stp: 'decrement',
    });
  });

  it('sends an OCO through placeOco and every other ticket through place', async () => {
    const sent: string[] = [];
    const client = {
      place: (order: object) => {
        sent.push(`place ${JSON.stringify(order)}`);
        return Promise.resolve({
          op: 'accepted',
          rid: 1,
          orderId: '7',
          status: 'open',
          filledQty: '0',
          remainingQty: '1',
        } as const);
      },
      placeOco: (order: object) => {
        sent.push(`place_oco ${JSON.stringify(order)}`);
        return Promise.resolve({
          op: 'accepted_oco',
          rid: 2,
          listId: '8',
          orders: [
            { orderId: '8', type: 'limit', status: 'open', filledQty: '0', remainingQty: '1' },
            { orderId: '9', type: 'stop_market', status: 'open', filledQty: '0', remainingQty: '1' },
          ],
        } as const);
      },
    };
    const oco = ticket({ type: 'oco', side: 'sell', price: '32000.00', stopPrice: '28000.00' });
    expect(await sendTicket(client, oco, MARKET)).toBe('OCO 8: limit 8 open, stop_market 9 open');
    expect(await sendTicket(client, ticket({ stp: 'decrement' }), MARKET)).toBe('order 7: open (filled 0)');
    expect(sent[0]).toMatch(/^place_oco /);
    expect(sent[1]).toContain('"stp":"decrement"');
  });

  it('puts the server’s errors on the new fields', () => {
    expect(errorField('bad_request', 'displayQty must be a plain decimal: x')).toBe('displayQty');
    expect(errorField('bad_request', 'stopLimitPrice must be positive')).toBe('stopLimitPrice');
    expect(errorField('bad_request', 'a trailing_stop needs one of trailingOffset and trailingBps')).toBe(
      'trailingOffset',
    );
    expect(errorField('bad_request', 'expireAt is required for GTD')).toBe('expireAt');
  });
});

describe('ladder price grouping', () => {
  const decimals = { price: 2, qty: 4 };

  it('groups bids down and asks up to multiples of tick × factor', () => {
    const bids: [string, string][] = [
      ['100.50', '1.0000'],
      ['100.00', '2.0000'],
      ['99.50', '0.5000'],
    ];
    expect(groupLevels(bids, 'bid', '0.50', 2, decimals)).toEqual([
      ['100.00', '3.0000'],
      ['99.00', '0.5000'],
    ]);
    const asks: [string, string][] = [
      ['100.50', '1.0000'],
      ['101.00', '2.0000'],
    ];
    expect(groupLevels(asks, 'ask', '0.50', 2, decimals)).toEqual([['101.00', '3.0000']]);
    expect(groupLevels(asks, 'ask', '0.50', 1, decimals)).toEqual(asks);
  });

  it('keeps the total size and the order of a side (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 60, maxLength: 60 }),
        fc.constantFrom(10, 100),
        fc.constantFrom('bid' as const, 'ask' as const),
        (ticks, sizes, factor, side) => {
          const sorted = [...ticks].sort((a, b) => (side === 'bid' ? b - a : a - b));
          const levels = sorted.map((t, i): [string, string] => [
            unscaled(BigInt(t), 2),
            unscaled(BigInt(sizes[i]!), 4),
          ]);
          const grouped = groupLevels(levels, side, '0.01', factor, decimals);
          const total = (ls: readonly (readonly [string, string])[]) =>
            ls.reduce((s, [, q]) => s + scaled(q, 4), 0n);
          expect(total(grouped)).toBe(total(levels));
          const prices = grouped.map(([p]) => scaled(p, 2));
          for (let i = 1; i < prices.length; i++) {
            expect(side === 'bid' ? prices[i]! < prices[i - 1]! : prices[i]! > prices[i - 1]!).toBe(true);
          }
          for (const p of prices) expect(p % BigInt(factor)).toBe(0n);
        },
      ),
    );
  });
});

describe('the stores', () => {
  it('keeps open orders until they close and every order in the history, newest first', () => {
    ordersStore.trigger.reset();
    const order = {
      orderId: 'o1',
      market: 'BTC-USDC',
      side: 'buy' as const,
      type: 'limit' as const,
      status: 'open' as const,
      price: '1.00',
      qty: '1.0000',
      filledQty: '0.0000',
      remainingQty: '1.0000',
      ts: 1,
    };
    ordersStore.trigger.order({ order });
    const open = ordersStore.getSnapshot().context.open;
    expect(Object.keys(open)).toEqual(['o1']);
    ordersStore.trigger.order({
      order: { ...order, status: 'filled', filledQty: '1.0000', remainingQty: '0.0000', ts: 2 },
    });
    const { context } = ordersStore.getSnapshot();
    expect(context.open).toEqual({});
    expect(context.history.map((o) => o.status)).toEqual(['filled']);
  });

  it('changes only the slice a push concerns', () => {
    balancesStore.trigger.reset();
    balancesStore.trigger.balance({ balance: { asset: 'BTC', available: '1.0000', locked: '0.0000' } });
    const selected: unknown[] = [];
    const btc = balancesStore.select((s) => s.byAsset.BTC);
    btc.get();
    const sub = btc.subscribe((b) => selected.push(b));
    balancesStore.trigger.balance({ balance: { asset: 'USDC', available: '1.00', locked: '0.00' } });
    expect(selected).toEqual([]);
    balancesStore.trigger.balance({ balance: { asset: 'BTC', available: '0.5000', locked: '0.5000' } });
    expect(selected).toEqual([{ asset: 'BTC', available: '0.5000', locked: '0.5000' }]);
    sub.unsubscribe();
  });

  it('counts unread notifications', () => {
    expect(
      unreadCount([
        { id: 'a', type: 't', title: '', body: '', ts: 1, read: false },
        { id: 'b', type: 't', title: '', body: '', ts: 1, read: true },
      ]),
    ).toBe(1);
  });
});

describe('chart intervals built from the served ones', () => {
  /** Reference: candles of `width` ms straight from trades (price in cents, qty in lots). */
  function candlesOf(
    trades: readonly { t: number; p: number; q: number }[],
    width: number,
    closedUntil: number,
  ) {
    const bars = new Map<number, { t: number; p: number; q: number }[]>();
    for (const trade of [...trades].sort((a, b) => a.t - b.t)) {
      const t = Math.floor(trade.t / width) * width;
      bars.set(t, [...(bars.get(t) ?? []), trade]);
    }
    return [...bars.entries()]
      .sort(([a], [b]) => a - b)
      .map(([t, ts]) => ({
        market: 'X-Y',
        interval: '5m' as const,
        t,
        o: unscaled(BigInt(ts[0]!.p), 2),
        h: unscaled(BigInt(Math.max(...ts.map((x) => x.p))), 2),
        l: unscaled(BigInt(Math.min(...ts.map((x) => x.p))), 2),
        c: unscaled(BigInt(ts.at(-1)!.p), 2),
        v: unscaled(BigInt(ts.reduce((s, x) => s + x.q, 0)), 3),
        closed: t + width <= closedUntil,
      }));
  }

  it('maps each chart interval to a served one', () => {
    expect(CHART_INTERVALS.map(sourceOf)).toEqual(['1m', '5m', '5m', '1h', '1h', '1h']);
  });

  it('15m from 5m and 1d from 1h equal the candles made from the trades directly (property)', () => {
    const MIN = 60_000;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            t: fc.integer({ min: 0, max: 3 * 24 * 60 * MIN }),
            p: fc.integer({ min: 1, max: 1_000_000 }),
            q: fc.integer({ min: 1, max: 10_000 }),
          }),
          { minLength: 1, maxLength: 80 },
        ),
        fc.integer({ min: 0, max: 4 * 24 * 60 * MIN }),
        (raw, now) => {
          // Distinct times, so "first" and "last" are well defined in both computations.
          const trades = [...new Map(raw.map((t) => [t.t, t])).values()];
          const pairs: [ChartInterval, number, number][] = [
            ['15m', 5 * MIN, 15 * MIN],
            ['1d', 60 * MIN, 24 * 60 * MIN],
          ];
          for (const [interval, sourceWidth, width] of pairs) {
            // Prices and volumes, bar by bar (closed-ness needs the clock the reference lacks).
            const strip = (c: { t: number; o: string; h: string; l: string; c: string; v: string }) => ({
              t: c.t,
              o: c.o,
              h: c.h,
              l: c.l,
              c: c.c,
              v: c.v,
            });
            expect(aggregate(candlesOf(trades, sourceWidth, now), interval).map(strip)).toEqual(
              candlesOf(trades, width, now).map(strip),
            );
          }
        },
      ),
    );
  });
});
