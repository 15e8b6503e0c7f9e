import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { balancesOf, BTC_USDC, listMarkets, ORDER_RATES, RawSocket, traderSocket } from './fixtures.ts';

// HTTP bodies are JSON of many shapes; these tests read them field by field.
/* eslint-disable @typescript-eslint/no-unsafe-member-access */

/*
 * Issue 14 (PROTOCOL v1.1, "More order types") over real sockets on a whole exchange: order entry
 * over WebSocket and HTTP, the funds each new type locks and releases, as the balances show them.
 * BTC-USDC: 1 tick × 1 lot = 1 USDC minor unit (0.000001 USDC).
 */

type Message = Record<string, unknown>;

const market = BTC_USDC.symbol;

describe('issue 14: more order types over the wire', () => {
  let running: RunningExchange;
  let rid = 100;

  beforeAll(async () => {
    running = await runExchange(ORDER_RATES);
    await listMarkets(running);
  });

  afterAll(async () => {
    await running.stop();
  });

  const usdc = async (userId: string) => (await balancesOf(running, userId)).get('USDC');
  const socketOf = (userId: string) => traderSocket(running, userId);

  it('issue 14: a stop_market buy or a FOK market buy without quoteQty answers bad_request (WebSocket and HTTP)', async () => {
    await running.credit('ann', 'USDC', '1000');
    const ann = await socketOf('ann');
    const token = await running.token('ann', ['trader']);
    const refused = [
      { side: 'buy', type: 'stop_market', stopPrice: '100.00', qty: '0.0100' },
      { side: 'buy', type: 'market', tif: 'FOK', qty: '0.0100' },
    ];
    for (const order of refused) {
      expect(await ann.request({ op: 'place', market, ...order }, rid++)).toMatchObject({
        op: 'error',
        code: 'bad_request',
      });
      const http = await running.request('POST', '/api/v1/orders', { token, body: { market, ...order } });
      expect(http).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    }
    // quoteQty stays refused on what cannot spend a budget.
    expect(
      await ann.request(
        { op: 'place', market, side: 'sell', type: 'stop_market', stopPrice: '1.00', quoteQty: '1' },
        rid++,
      ),
    ).toMatchObject({ op: 'error', code: 'bad_request' });
    expect(await usdc('ann')).toMatchObject({ available: '1000.000000', locked: '0.000000' });
    ann.close();
  });

  it('issue 14: a stop_market buy with quoteQty locks the budget, spends at most it at trigger and releases the rest', async () => {
    await running.credit('bea', 'USDC', '1000');
    await running.credit('cid', 'BTC', '10');
    await running.credit('dee', 'USDC', '1000');
    const bea = await socketOf('bea');
    const cid = await socketOf('cid');
    const token = await running.token('bea', ['trader']);
    await bea.request({ op: 'sub', ch: 'orders' }, rid++);
    // Placed over HTTP: pending, the whole budget locked.
    const placed = await running.request('POST', '/api/v1/orders', {
      token,
      body: { market, side: 'buy', type: 'stop_market', stopPrice: '101.00', quoteQty: '500' },
    });
    expect(placed.status).toBe(201);
    expect(await usdc('bea')).toMatchObject({ available: '500.000000', locked: '500.000000' });
    // A cancel releases it all; placed again over WebSocket.
    const canceled = await running.request('DELETE', `/api/v1/orders/${String(placed.body.orderId)}`, {
      token,
    });
    expect(canceled.status).toBe(200);
    expect(await usdc('bea')).toMatchObject({ available: '1000.000000', locked: '0.000000' });
    const again = await bea.request(
      { op: 'place', market, side: 'buy', type: 'stop_market', stopPrice: '101.00', quoteQty: '500' },
      rid++,
    );
    expect(again).toMatchObject({ op: 'accepted' });
    expect(await usdc('bea')).toMatchObject({ locked: '500.000000' });

    for (const [price, qty] of [
      ['101.00', '0.0001'],
      ['102.00', '4.0000'],
      ['103.00', '5.0000'],
    ] as const)
      await cid.request({ op: 'place', market, side: 'sell', type: 'limit', price, qty }, rid++);
    // dee's trade at 101.00 triggers it: 500 buys 4 at 102.00 (408) and 0.8932 at 103.00 (91.9996).
    const dee = await socketOf('dee');
    await dee.request(
      { op: 'place', market, side: 'buy', type: 'limit', price: '101.00', qty: '0.0001' },
      rid++,
    );
    const done = await bea.next(
      (m) =>
        m.op === 'order' && m.orderId === again.orderId && (m.status === 'canceled' || m.status === 'filled'),
    );
    expect(done).toMatchObject({ filledQty: '4.8932' });
    expect(await usdc('bea')).toMatchObject({ available: '500.000400', locked: '0.000000' });
    for (const s of [bea, cid, dee]) s.close();
  });

  it('issue 14: a budget-only FOK market buy fills when the book absorbs the whole budget, else fok_unfilled', async () => {
    await running.credit('eve', 'USDC', '1000');
    await running.credit('fay', 'BTC', '10');
    const eve = await socketOf('eve');
    const fay = await socketOf('fay');
    // What is left of the asks from the test before: 103.00 × 4.1068 (423.0004). Cleared first.
    await eve.request({ op: 'place', market, side: 'buy', type: 'market', quoteQty: '430' }, rid++);
    await fay.request(
      { op: 'place', market, side: 'sell', type: 'limit', price: '50.00', qty: '1.0000' },
      rid++,
    );
    const order = { op: 'place', market, side: 'buy', type: 'market', tif: 'FOK' };
    expect(await eve.request({ ...order, quoteQty: '50.01' }, rid++)).toMatchObject({
      op: 'error',
      code: 'fok_unfilled',
    });
    // Within the budget: FOK with qty and quoteQty both, then budget-only.
    expect(await eve.request({ ...order, qty: '0.5000', quoteQty: '24.99' }, rid++)).toMatchObject({
      op: 'error',
      code: 'fok_unfilled',
    });
    expect(await eve.request({ ...order, qty: '0.5000', quoteQty: '25' }, rid++)).toMatchObject({
      op: 'accepted',
      status: 'filled',
      filledQty: '0.5000',
    });
    const budgetOnly = await running.request('POST', '/api/v1/orders', {
      token: await running.token('eve', ['trader']),
      body: { market, side: 'buy', type: 'market', tif: 'FOK', quoteQty: '25.004' },
    });
    expect(budgetOnly).toMatchObject({ status: 201, body: { filledQty: '0.5000' } });
    expect(await usdc('eve')).toMatchObject({ locked: '0.000000' });
    eve.close();
    fay.close();
  });

  it('issue 14: stp decrement over HTTP and WebSocket: both orders shrink by the smaller quantity, nothing trades, funds released', async () => {
    await running.credit('gus', 'USDC', '1000');
    await running.credit('gus', 'BTC', '1');
    const gus = await socketOf('gus');
    const token = await running.token('gus', ['trader']);
    await gus.request({ op: 'sub', ch: 'orders' }, rid++);
    const sell = await gus.request(
      { op: 'place', market, side: 'sell', type: 'limit', price: '200.00', qty: '0.0030' },
      rid++,
    );
    expect(
      await gus.request(
        { op: 'place', market, side: 'buy', type: 'limit', price: '200.00', qty: '0.0100', stp: 'expire' },
        rid++,
      ),
    ).toMatchObject({ op: 'error', code: 'bad_request' });
    // d = 0.0030: the sell is canceled (self_trade), the buy shrinks to 0.0070 and rests.
    const buy = await running.request('POST', '/api/v1/orders', {
      token,
      body: { market, side: 'buy', type: 'limit', price: '200.00', qty: '0.0100', stp: 'decrement' },
    });
    expect(buy).toMatchObject({
      status: 201,
      body: { status: 'open', filledQty: '0.0000', remainingQty: '0.0070' },
    });
    expect(
      await gus.next((m) => m.op === 'order' && m.orderId === sell.orderId && m.status === 'canceled'),
    ).toMatchObject({
      qty: '0.0030',
      filledQty: '0.0000',
    });
    expect(await gus.next((m) => m.op === 'order' && m.orderId === buy.body.orderId)).toMatchObject({
      status: 'open',
      qty: '0.0070',
      remainingQty: '0.0070',
    });
    expect(await usdc('gus')).toMatchObject({ available: '998.600000', locked: '1.400000' });
    const listed = await eventually(
      async () => {
        const r = await running.request('GET', `/api/v1/orders?market=${market}&status=open`, { token });
        return (r.body as Message[]).some((o) => o.orderId === buy.body.orderId) && r;
      },
      { what: 'the decremented order in GET /orders' },
    );
    expect((listed.body as Message[]).find((o) => o.orderId === buy.body.orderId)).toMatchObject({
      qty: '0.0070',
      remainingQty: '0.0070',
    });
    // Over WebSocket, a smaller taker: the resting buy shrinks to 0.0050, the sell taker is canceled.
    expect(
      await gus.request(
        {
          op: 'place',
          market,
          side: 'sell',
          type: 'limit',
          price: '200.00',
          qty: '0.0020',
          stp: 'decrement',
        },
        rid++,
      ),
    ).toMatchObject({ op: 'accepted', status: 'canceled', filledQty: '0.0000' });
    expect(await usdc('gus')).toMatchObject({ available: '999.000000', locked: '1.000000' });
    const trades = await running.request('GET', `/api/v1/markets/${market}/trades`);
    expect((trades.body as Message[]).filter((t) => t.price === '200.00')).toEqual([]);
    gus.close();
  });
});

describe('issue 14: GTD over the wire', () => {
  let running: RunningExchange;
  let restarted: RunningExchange | undefined;
  let rid = 100;

  beforeAll(async () => {
    running = await runExchange(ORDER_RATES);
    await listMarkets(running);
  });

  afterAll(async () => {
    if (restarted === undefined) {
      await running.stop();
    } else {
      await restarted.stop();
      await running.database.drop();
    }
  });

  const usdcOf = async (on: RunningExchange, userId: string) => (await balancesOf(on, userId)).get('USDC');

  it('issue 14: GTD needs a future expireAt (HTTP and WebSocket answer bad_request otherwise)', async () => {
    await running.credit('hal', 'USDC', '100');
    const token = await running.token('hal', ['trader']);
    const hal = await RawSocket.open(`${running.ws}?token=${token}`);
    const order = { market, side: 'buy', type: 'limit', price: '10.00', qty: '1.0000' };
    for (const bad of [{ tif: 'GTD' }, { expireAt: Date.now() + 60_000 }, { tif: 'GTD', expireAt: 1 }]) {
      const http = await running.request('POST', '/api/v1/orders', { token, body: { ...order, ...bad } });
      expect(http, JSON.stringify(bad)).toMatchObject({
        status: 400,
        body: { error: { code: 'bad_request' } },
      });
      expect(await hal.request({ op: 'place', ...order, ...bad }, rid++)).toMatchObject({
        code: 'bad_request',
      });
    }
    expect(await usdcOf(running, 'hal')).toMatchObject({ locked: '0.000000' });
    hal.close();
  });

  it('issue 14: a GTD order is canceled when its time passes, its funds released, also after a restart', async () => {
    await running.credit('ida', 'USDC', '100');
    const ida = await traderSocket(running, 'ida');
    await ida.request({ op: 'sub', ch: 'orders' }, rid++);
    const order = {
      op: 'place',
      market,
      side: 'buy',
      type: 'limit',
      price: '10.00',
      qty: '1.0000',
      tif: 'GTD',
    };
    const soon = await ida.request({ ...order, expireAt: Date.now() + 300 }, rid++);
    expect(soon).toMatchObject({ op: 'accepted', status: 'open' });
    expect(
      await ida.next((m) => m.op === 'order' && m.orderId === soon.orderId && m.status === 'canceled'),
    ).toMatchObject({ remainingQty: '1.0000' });
    expect(await usdcOf(running, 'ida')).toMatchObject({ available: '100.000000', locked: '0.000000' });

    // Still open when the exchange stops; the restarted one (snapshot + journal) expires it.
    const later = await ida.request({ ...order, expireAt: Date.now() + 2_000 }, rid++);
    expect(later).toMatchObject({ op: 'accepted', status: 'open' });
    ida.close();
    await running.exchange.close();
    restarted = await runExchange(ORDER_RATES, { database: running.database });
    const after = restarted;
    expect(await usdcOf(after, 'ida')).toMatchObject({ locked: '10.000000' });
    await eventually(async () => (await usdcOf(after, 'ida'))?.locked === '0.000000', {
      what: 'the GTD order to expire after the restart',
    });
    const token = await after.token('ida', ['trader']);
    await eventually(
      async () => {
        const r = await after.request('GET', `/api/v1/orders?market=${market}&status=canceled`, { token });
        return (r.body as Message[]).some((o) => o.orderId === later.orderId);
      },
      { what: 'the expired order listed as canceled' },
    );
  });
});

describe('issue 14: iceberg over the wire', () => {
  let running: RunningExchange;
  let rid = 100;

  beforeAll(async () => {
    running = await runExchange(ORDER_RATES);
    await listMarkets(running);
  });

  afterAll(async () => {
    await running.stop();
  });

  const bookOf = async () =>
    (await running.request('GET', `/api/v1/markets/${market}/book?depth=0`)).body as {
      bids: string[][];
      asks: string[][];
    };

  it('issue 14: an iceberg shows only its slice in the book channel and GET /book, refills as it fills, and locks its whole qty', async () => {
    await running.credit('ivy', 'BTC', '1');
    await running.credit('jon', 'USDC', '1000');
    const ivy = await traderSocket(running, 'ivy');
    const jon = await traderSocket(running, 'jon');
    const watcher = await RawSocket.open(running.ws);
    expect(await watcher.request({ op: 'sub', ch: 'book', market, depth: 0 }, rid++)).toMatchObject({
      op: 'subbed',
    });
    await watcher.next((m) => m.op === 'book' && m.kind === 'snapshot');
    // Refused: displayQty above qty, on an IOC, on a market order (WebSocket and HTTP).
    const token = await running.token('ivy', ['trader']);
    for (const bad of [
      { type: 'limit', price: '300.00', qty: '0.0010', displayQty: '0.0020' },
      { type: 'limit', price: '300.00', qty: '0.0010', displayQty: '0.0005', tif: 'IOC' },
      { type: 'market', qty: '0.0010', displayQty: '0.0005' },
      { type: 'limit', price: '300.00', qty: '0.0010', displayQty: 'lots' },
    ]) {
      expect(await ivy.request({ op: 'place', market, side: 'sell', ...bad }, rid++)).toMatchObject({
        op: 'error',
        code: 'bad_request',
      });
      const http = await running.request('POST', '/api/v1/orders', {
        token,
        body: { market, side: 'sell', ...bad },
      });
      expect(http).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    }
    // 0.0100 BTC showing 0.0030 at a time: the whole 0.0100 is locked, 0.0030 is on the book.
    const placed = await ivy.request(
      {
        op: 'place',
        market,
        side: 'sell',
        type: 'limit',
        price: '300.00',
        qty: '0.0100',
        displayQty: '0.0030',
      },
      rid++,
    );
    expect(placed).toMatchObject({ op: 'accepted', status: 'open', remainingQty: '0.0100' });
    expect((await balancesOf(running, 'ivy')).get('BTC')).toMatchObject({ locked: '0.01000000' });
    const shown = await watcher.next((m) => m.op === 'book' && m.kind === 'delta');
    expect(shown.asks).toEqual([['300.00', '0.0030']]);
    expect((await bookOf()).asks).toEqual([['300.00', '0.0030']]);
    // 0.0050 taken over HTTP: one slice of 0.0030, then 0.0020 of the next; 0.0010 shown, 0.0040 hidden.
    const taken = await running.request('POST', '/api/v1/orders', {
      token: await running.token('jon', ['trader']),
      body: { market, side: 'buy', type: 'limit', price: '300.00', qty: '0.0050', tif: 'IOC' },
    });
    expect(taken).toMatchObject({ status: 201, body: { status: 'filled', filledQty: '0.0050' } });
    const after = await watcher.next((m) => m.op === 'book' && m.kind === 'delta');
    expect(after.asks).toEqual([['300.00', '0.0010']]);
    expect((await bookOf()).asks).toEqual([['300.00', '0.0010']]);
    expect((await balancesOf(running, 'ivy')).get('BTC')).toMatchObject({ locked: '0.00500000' });
    // A cancel releases the hidden part too.
    expect(await ivy.request({ op: 'cancel', market, orderId: placed.orderId }, rid++)).toMatchObject({
      op: 'canceled',
    });
    expect((await balancesOf(running, 'ivy')).get('BTC')).toMatchObject({ locked: '0.00000000' });
    ivy.close();
    jon.close();
    watcher.close();
  });

  it('issue 14: a trailing stop over WebSocket: its order pushes carry the stop as it trails the best price, then it triggers and fills', async () => {
    await running.credit('kim', 'BTC', '1');
    await running.credit('lee', 'BTC', '1');
    await running.credit('jon', 'USDC', '1000');
    const kim = await traderSocket(running, 'kim');
    const lee = await traderSocket(running, 'lee');
    const jon = await traderSocket(running, 'jon');
    await kim.request({ op: 'sub', ch: 'orders' }, rid++);
    const trade = async (price: string) => {
      await lee.request({ op: 'place', market, side: 'sell', type: 'limit', price, qty: '0.0001' }, rid++);
      await jon.request(
        { op: 'place', market, side: 'buy', type: 'limit', price, qty: '0.0001', tif: 'IOC' },
        rid++,
      );
    };
    await trade('300.00');
    expect(
      await kim.request({ op: 'place', market, side: 'sell', type: 'trailing_stop', qty: '0.0010' }, rid++),
    ).toMatchObject({ op: 'error', code: 'bad_request' });
    const placed = await kim.request(
      { op: 'place', market, side: 'sell', type: 'trailing_stop', qty: '0.0010', trailingOffset: '5.00' },
      rid++,
    );
    expect(placed).toMatchObject({ op: 'accepted', status: 'open' });
    expect((await balancesOf(running, 'kim')).get('BTC')).toMatchObject({ locked: '0.00100000' });
    await trade('310.00');
    expect(
      await kim.next((m) => m.op === 'order' && m.orderId === placed.orderId && m.stopPrice === '305.00'),
    ).toMatchObject({ status: 'pending_trigger', type: 'trailing_stop' });
    await jon.request(
      { op: 'place', market, side: 'buy', type: 'limit', price: '305.00', qty: '0.0020' },
      rid++,
    );
    await lee.request(
      { op: 'place', market, side: 'sell', type: 'limit', price: '305.00', qty: '0.0001' },
      rid++,
    );
    expect(
      await kim.next((m) => m.op === 'order' && m.orderId === placed.orderId && m.status === 'filled'),
    ).toMatchObject({ filledQty: '0.0010' });
    kim.close();
    lee.close();
    jon.close();
  });
});
