import { pino } from 'pino';
import { createPool, sql } from 'slonik';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExchange, type Exchange } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { balancesOf, BTC_USDC, listMarkets, ORDER_RATES, RawSocket, traderSocket } from './fixtures.ts';

// HTTP bodies are JSON of many shapes; these tests read them field by field.
/* eslint-disable @typescript-eslint/no-unsafe-member-access */

/*
 * Issue 12 §2 (compliance bypasses) and §4 (fees round up, minNotional), over real sockets on a
 * whole exchange: an RWA listed directly (POST /assets kind rwa, POST /markets) is gated exactly
 * as a registered one, since the gate asks the catalog for each asset's kind.
 */

const LUXA_USDC = {
  symbol: 'LUXA-USDC',
  baseAsset: 'LUXA',
  quoteAsset: 'USDC',
  priceDecimals: 2,
  qtyDecimals: 3,
  tickSize: '0.01',
  lotSize: '0.001',
  minQty: '0.001',
  maxQty: '100000',
};

const BTC_LUXA = {
  symbol: 'BTC-LUXA',
  baseAsset: 'BTC',
  quoteAsset: 'LUXA',
  priceDecimals: 2,
  qtyDecimals: 4,
  tickSize: '0.01',
  lotSize: '0.0001',
  minQty: '0.0001',
  maxQty: '100',
};

type Message = Record<string, unknown>;

/** Stops the exchange (it snapshots at shutdown) and starts a new one on the same database. */
async function restart(
  running: RunningExchange,
  options: { dropSnapshots?: boolean } = {},
): Promise<Exchange> {
  await running.exchange.close();
  if (options.dropSnapshots === true) {
    // Without snapshots, recovery replays the whole journal: the path under test.
    const pool = await createPool(running.database.url, { maximumPoolSize: 1 });
    await pool.query(sql.unsafe`DELETE FROM market_snapshots`);
    await pool.query(sql.unsafe`DELETE FROM ledger_snapshots`);
    await pool.end();
  }
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: running.database.url,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/1',
    ...ORDER_RATES,
  });
  return startExchange(config, pino({ level: 'silent' }));
}

describe('issue 12 §2: every command that adds exposure passes the compliance gate', () => {
  let running: RunningExchange;
  let admin: string;
  let rid = 100;

  /**
   * Sets a record. The gate's tests keep the revoked user's open orders (`cancelOpenOrders:
   * false`), as an expired record does: what they pin is that nothing adds exposure through them.
   */
  async function compliance(
    userId: string,
    asset: string,
    approved: boolean,
    cancelOpenOrders = false,
  ): Promise<Record<string, unknown>> {
    const set = await running.request('POST', '/api/v1/admin/compliance', {
      token: admin,
      body: {
        userId,
        asset,
        kycStatus: approved ? 'approved' : 'rejected',
        allowlisted: approved,
        accredited: false,
        cancelOpenOrders,
      },
    });
    expect(set.status).toBe(200);
    return set.body as Record<string, unknown>;
  }

  const trader = (userId: string) => traderSocket(running, userId);
  const balances = (userId: string) => balancesOf(running, userId);

  const send = (socket: RawSocket, message: Message) => socket.request(message, rid++);

  beforeAll(async () => {
    running = await runExchange(ORDER_RATES);
    admin = await running.token('ops', ['admin']);
    await running.asset('USDC', 6, 'stable');
    await running.asset('BTC', 8);
    await running.asset('LUXA', 18, 'rwa');
    await running.market(LUXA_USDC);
    await running.market(BTC_LUXA);
    for (const user of ['alice', 'bob', 'carol', 'dave']) await compliance(user, 'LUXA', true);
    for (const user of ['alice', 'bob', 'carol', 'dave', 'erin']) {
      await running.credit(user, 'USDC', '100000');
      await running.credit(user, 'LUXA', '100');
      await running.credit(user, 'BTC', '1');
    }
  });

  afterAll(async () => {
    await running.stop();
  });

  it('finding 2.1: amend by a revoked user of a resting RWA sell to cross a bid answers compliance and sells nothing', async () => {
    const alice = await trader('alice');
    const bob = await trader('bob');
    const market = LUXA_USDC.symbol;
    const sell = await send(bob, {
      op: 'place',
      market,
      side: 'sell',
      type: 'limit',
      price: '110.00',
      qty: '40.000',
    });
    expect(sell).toMatchObject({ op: 'accepted', status: 'open' });
    const orderId = String(sell.orderId);
    expect(
      await send(alice, { op: 'place', market, side: 'buy', type: 'limit', price: '100.00', qty: '40.000' }),
    ).toMatchObject({ op: 'accepted', status: 'open' });
    await compliance('bob', 'LUXA', false);

    // The reported bypass: a new price that crosses the bid.
    expect(await send(bob, { op: 'amend', market, orderId, price: '100.00' })).toMatchObject({
      op: 'error',
      code: 'compliance',
    });
    // A higher qty adds exposure too.
    expect(await send(bob, { op: 'amend', market, orderId, qty: '50.000' })).toMatchObject({
      op: 'error',
      code: 'compliance',
    });
    // Nothing traded, nothing moved.
    const book = await running.request('GET', `/api/v1/markets/${market}/book`);
    expect(book.body).toMatchObject({ bids: [['100.00', '40.000']], asks: [['110.00', '40.000']] });
    expect((await balances('bob')).get('LUXA')).toMatchObject({
      available: '60.000000000000000000',
      locked: '40.000000000000000000',
    });
    expect((await balances('alice')).get('LUXA')).toMatchObject({ available: '100.000000000000000000' });
    // Lowering the qty only reduces exposure: allowed, and so is a cancel.
    expect(await send(bob, { op: 'amend', market, orderId, qty: '30.000' })).toMatchObject({
      op: 'amended',
      price: '110.00',
      qty: '30.000',
      remainingQty: '30.000',
    });
    expect(await send(bob, { op: 'cancel', market, orderId })).toMatchObject({ op: 'canceled' });
    await send(alice, { op: 'cancel_all', market });
    await compliance('bob', 'LUXA', true);
    alice.close();
    bob.close();
  });

  it('finding 2.1: revoking a user cancels their open orders in every market moving the asset, so a resting sell cannot fill as a maker', async () => {
    const alice = await trader('alice');
    const bob = await trader('bob');
    const market = LUXA_USDC.symbol;
    expect(
      await send(bob, { op: 'place', market, side: 'sell', type: 'limit', price: '110.00', qty: '40.000' }),
    ).toMatchObject({ op: 'accepted', status: 'open' });
    expect(
      await send(bob, { op: 'place', market, side: 'sell', type: 'limit', price: '120.00', qty: '5.000' }),
    ).toMatchObject({ op: 'accepted', status: 'open' });
    const revoked = await compliance('bob', 'LUXA', false, true);
    expect(revoked).toMatchObject({ userId: 'bob', kycStatus: 'rejected', canceledOrders: 2 });
    // A compliant buyer crossing where bob's sells rested finds nothing to buy.
    expect(
      await send(alice, { op: 'place', market, side: 'buy', type: 'limit', price: '120.00', qty: '40.000' }),
    ).toMatchObject({ op: 'accepted', status: 'open', filledQty: '0.000' });
    expect((await balances('bob')).get('LUXA')).toMatchObject({
      available: '100.000000000000000000',
      locked: '0.000000000000000000',
    });
    await send(alice, { op: 'cancel_all', market });
    await compliance('bob', 'LUXA', true);
    alice.close();
    bob.close();
  });

  it('finding 2.1: a stop of a revoked user does not trade when it triggers: it is canceled, funds released', async () => {
    const alice = await trader('alice');
    const carol = await trader('carol');
    const dave = await trader('dave');
    const market = LUXA_USDC.symbol;
    expect(await send(dave, { op: 'sub', ch: 'orders' })).toMatchObject({ op: 'subbed' });
    const stop = await send(dave, {
      op: 'place',
      market,
      side: 'sell',
      type: 'stop_limit',
      stopPrice: '95.00',
      price: '90.00',
      qty: '10.000',
    });
    expect(stop).toMatchObject({ op: 'accepted', status: 'open' });
    const stopId = String(stop.orderId);
    await dave.next((m) => m.op === 'order' && m.orderId === stopId && m.status === 'pending_trigger');
    await compliance('dave', 'LUXA', false);

    // A bid the stop would sell into once triggered, then a trade at 95.00 that triggers it.
    for (const [price, qty] of [
      ['92.00', '10.000'],
      ['95.00', '1.000'],
    ] as const) {
      expect(
        await send(alice, { op: 'place', market, side: 'buy', type: 'limit', price, qty }),
      ).toMatchObject({
        op: 'accepted',
      });
    }
    expect(
      await send(carol, { op: 'place', market, side: 'sell', type: 'limit', price: '95.00', qty: '1.000' }),
    ).toMatchObject({ op: 'accepted', status: 'filled' });

    expect(
      await dave.next((m) => m.op === 'order' && m.orderId === stopId && m.status === 'canceled'),
    ).toMatchObject({ filledQty: '0.000' });
    const book = await running.request('GET', `/api/v1/markets/${market}/book`);
    expect(book.body).toMatchObject({ bids: [['92.00', '10.000']], asks: [] });
    expect((await balances('dave')).get('LUXA')).toMatchObject({
      available: '100.000000000000000000',
      locked: '0.000000000000000000',
    });
    await send(alice, { op: 'cancel_all', market });
    for (const socket of [alice, carol, dave]) socket.close();
  });

  it('finding 2.2: RWA-quoted market: a user without compliance for the quote RWA may neither receive nor deliver it', async () => {
    const erin = await trader('erin');
    const dave = await trader('dave');
    await compliance('dave', 'LUXA', true);
    const market = BTC_LUXA.symbol;
    // A sell of BTC receives LUXA; a buy delivers it. Erin has no LUXA compliance record at all.
    for (const side of ['sell', 'buy'] as const) {
      expect(
        await send(erin, { op: 'place', market, side, type: 'limit', price: '100.00', qty: '0.0100' }),
      ).toMatchObject({ op: 'error', code: 'compliance' });
    }
    expect(
      await send(erin, { op: 'place', market, side: 'buy', type: 'market', quoteQty: '1' }),
    ).toMatchObject({
      op: 'error',
      code: 'compliance',
    });
    expect(
      await send(dave, { op: 'place', market, side: 'sell', type: 'limit', price: '100.00', qty: '0.0100' }),
    ).toMatchObject({ op: 'accepted', status: 'open' });
    expect((await balances('erin')).get('LUXA')).toMatchObject({ available: '100.000000000000000000' });
    await send(dave, { op: 'cancel_all', market });
    erin.close();
    dave.close();
  });
});

describe('issue 12 §4: fees round up, minNotional', () => {
  let running: RunningExchange;
  let rid = 100;

  beforeAll(async () => {
    running = await runExchange(ORDER_RATES);
    await listMarkets(running);
  });

  afterAll(async () => {
    await running.stop();
  });

  it('finding 4 (fees): 0.0001 BTC trades pay a non-zero fee, rounded up to the received asset', async () => {
    const alice = await traderSocket(running, 'alice');
    const bob = await traderSocket(running, 'bob');
    await running.credit('alice', 'USDC', '1');
    await running.credit('bob', 'BTC', '0.01');
    for (const socket of [alice, bob]) await socket.request({ op: 'sub', ch: 'fills' }, rid++);
    const market = BTC_USDC.symbol;
    const trades = 5;
    for (let i = 0; i < trades; i++) {
      // 0.0001 BTC at 1.00: 0.0001 USDC to the maker (10 bps: 0.0000001, rounded up to 0.000001),
      // 10 000 satoshi to the taker (20 bps: exactly 20).
      const order = { market, type: 'limit', price: '1.00', qty: '0.0001' };
      await bob.request({ op: 'place', side: 'sell', ...order }, rid++);
      expect(await alice.request({ op: 'place', side: 'buy', ...order }, rid++)).toMatchObject({
        status: 'filled',
      });
      expect(await bob.next((m) => m.op === 'fill')).toMatchObject({
        liquidity: 'maker',
        fee: '0.000001',
        feeAsset: 'USDC',
      });
      expect(await alice.next((m) => m.op === 'fill')).toMatchObject({
        liquidity: 'taker',
        fee: '0.00000020',
        feeAsset: 'BTC',
      });
    }
    const balances = (userId: string) => balancesOf(running, userId);
    // Bob received 5 × (100 − 1) micro-USDC; alice 5 × (10 000 − 20) satoshi and paid 5 × 100 micro-USDC.
    expect((await balances('bob')).get('USDC')).toMatchObject({ available: '0.000495', locked: '0.000000' });
    expect((await balances('alice')).get('BTC')).toMatchObject({ available: '0.00049900' });
    expect((await balances('alice')).get('USDC')).toMatchObject({
      available: '0.999500',
      locked: '0.000000',
    });
    alice.close();
    bob.close();
  });
});

describe('issue 12 §4: minNotional at listing and registration', () => {
  let running: RunningExchange;
  let admin: string;
  let restarted: Exchange | undefined;
  let rid = 100;

  beforeAll(async () => {
    running = await runExchange(ORDER_RATES);
    admin = await running.token('ops', ['admin']);
    await running.asset('USDC', 6, 'stable');
    await running.asset('BTC', 8);
  });

  afterAll(async () => {
    if (restarted === undefined) {
      await running.stop();
    } else {
      await restarted.close();
      await running.database.drop();
    }
  });

  it('finding 4 (minNotional): smaller orders answer bad_request (before market_not_active), the market shows it, and it survives a restart', async () => {
    // Refused at listing when it is not a positive decimal within the quote asset's decimals.
    for (const minNotional of ['-1', 'ten', '0', '0.0000001']) {
      const refused = await running.request('POST', '/api/v1/markets', {
        token: admin,
        body: { ...BTC_USDC, minNotional },
      });
      expect(refused.status, minNotional).toBe(400);
      expect(refused.body.error.code).toBe('bad_request');
    }
    const listed = await running.market({ ...BTC_USDC, minNotional: '10' });
    expect(listed).toMatchObject({ symbol: 'BTC-USDC', minNotional: '10.000000' });
    const id = String(listed.id);
    await running.credit('alice', 'USDC', '1000');
    await running.credit('alice', 'BTC', '1');
    const alice = await traderSocket(running, 'alice');
    const market = BTC_USDC.symbol;
    const place = (fields: Message) => alice.request({ op: 'place', market, ...fields }, rid++);
    const small = { side: 'buy', type: 'limit', price: '100.00', qty: '0.0999' }; // 9.99 USDC
    expect(await place(small)).toMatchObject({ op: 'error', code: 'bad_request' });
    expect(
      await place({ side: 'sell', type: 'stop_limit', stopPrice: '90.00', price: '99.99', qty: '0.1000' }),
    ).toMatchObject({
      op: 'error',
      code: 'bad_request',
    });
    expect(await place({ side: 'buy', type: 'market', quoteQty: '9.999999' })).toMatchObject({
      op: 'error',
      code: 'bad_request',
    });
    // At the minimum: accepted (a market buy with no asks to take is canceled, not refused).
    const resting = await place({ side: 'buy', type: 'limit', price: '100.00', qty: '0.1000' });
    expect(resting).toMatchObject({ op: 'accepted', status: 'open' });
    expect(await place({ side: 'buy', type: 'market', quoteQty: '10' })).toMatchObject({
      op: 'accepted',
      status: 'canceled',
    });
    // An amend below the minimum is refused and changes nothing.
    expect(
      await alice.request({ op: 'amend', market, orderId: resting.orderId, qty: '0.0500' }, rid++),
    ).toMatchObject({ op: 'error', code: 'bad_request' });
    const book = await running.request('GET', `/api/v1/markets/${market}/book`);
    expect(book.body).toMatchObject({ bids: [['100.00', '0.1000']] });
    // bad_request comes before market_not_active.
    expect((await running.request('POST', `/api/v1/markets/${id}/pause`, { token: admin })).status).toBe(200);
    expect(await place(small)).toMatchObject({ op: 'error', code: 'bad_request' });
    expect(await place({ ...small, qty: '0.1000' })).toMatchObject({
      op: 'error',
      code: 'market_not_active',
    });
    alice.close();

    // Registration takes it too.
    const registered = await running.request('POST', '/api/v1/markets/register', {
      token: await running.token('issuer-1', ['issuer']),
      body: {
        name: 'Gold bar 7',
        assetType: 'commodity',
        tokenSymbol: 'GBAR',
        tokenName: 'Gold Bar Token',
        totalSupply: '1000',
        quoteAsset: 'USDC',
        priceDecimals: 2,
        qtyDecimals: 3,
        tickSize: '0.01',
        lotSize: '0.001',
        minQty: '0.001',
        minNotional: '25.5',
      },
    });
    expect(registered.status).toBe(201);
    expect(registered.body).toMatchObject({ symbol: 'GBAR-USDC', minNotional: '25.500000' });

    // The catalog keeps it across a restart.
    restarted = await restart(running);
    const http = `http://127.0.0.1:${restarted.port}`;
    const markets = (await (await fetch(`${http}/api/v1/markets`)).json()) as Message[];
    expect(markets.find((m) => m.symbol === 'BTC-USDC')).toMatchObject({ minNotional: '10.000000' });
    expect(markets.find((m) => m.symbol === 'GBAR-USDC')).toMatchObject({ minNotional: '25.500000' });
    const again = await RawSocket.open(
      `ws://127.0.0.1:${restarted.port}/ws?token=${await restarted.auth.mint('alice', ['trader'])}`,
    );
    expect(
      await again.request(
        { op: 'place', market: 'GBAR-USDC', side: 'buy', type: 'limit', price: '25.00', qty: '1.000' },
        rid++,
      ),
    ).toMatchObject({ op: 'error', code: 'bad_request' });
    again.close();
  });
});

describe('issue 12 §2: replay trusts the journal', () => {
  let running: RunningExchange;
  let restarted: Exchange | undefined;
  let rid = 100;

  beforeAll(async () => {
    running = await runExchange(ORDER_RATES);
  });

  afterAll(async () => {
    if (restarted === undefined) {
      await running.stop();
    } else {
      await restarted.close();
      await running.database.drop();
    }
  });

  it('finding 2.1: a stop refused at trigger stays refused when the journal is replayed at restart, though its owner is compliant again', async () => {
    const admin = await running.token('ops', ['admin']);
    const setCompliance = async (userId: string, approved: boolean) => {
      const body = {
        userId,
        asset: 'LUXA',
        kycStatus: approved ? 'approved' : 'rejected',
        allowlisted: approved,
      };
      expect((await running.request('POST', '/api/v1/admin/compliance', { token: admin, body })).status).toBe(
        200,
      );
    };
    await running.asset('USDC', 6, 'stable');
    await running.asset('LUXA', 18, 'rwa');
    await running.market(LUXA_USDC);
    for (const user of ['alice', 'carol', 'dave']) {
      await setCompliance(user, true);
      await running.credit(user, 'USDC', '10000');
      await running.credit(user, 'LUXA', '100');
    }
    const open = (userId: string) => traderSocket(running, userId);
    const [alice, carol, dave] = [await open('alice'), await open('carol'), await open('dave')];
    const market = LUXA_USDC.symbol;
    const place = (socket: RawSocket, fields: Message) =>
      socket.request({ op: 'place', market, type: 'limit', ...fields }, rid++);
    await dave.request({ op: 'sub', ch: 'orders' }, rid++);
    const stop = await place(dave, {
      side: 'sell',
      type: 'stop_limit',
      stopPrice: '95.00',
      price: '90.00',
      qty: '10.000',
    });
    await place(alice, { side: 'buy', price: '92.00', qty: '10.000' });
    await place(alice, { side: 'buy', price: '95.00', qty: '1.000' });
    await setCompliance('dave', false);
    expect(await place(carol, { side: 'sell', price: '95.00', qty: '1.000' })).toMatchObject({
      status: 'filled',
    });
    await dave.next((m) => m.op === 'order' && m.orderId === stop.orderId && m.status === 'canceled');
    await setCompliance('dave', true);
    for (const socket of [alice, carol, dave]) socket.close();

    restarted = await restart(running, { dropSnapshots: true });
    const http = `http://127.0.0.1:${restarted.port}`;
    const book = (await (await fetch(`${http}/api/v1/markets/${market}/book`)).json()) as Message;
    expect(book).toMatchObject({ bids: [['92.00', '10.000']], asks: [] });
    const balances = (await (
      await fetch(`${http}/api/v1/balances`, {
        headers: { authorization: `Bearer ${await restarted.auth.mint('dave', ['trader'])}` },
      })
    ).json()) as Message[];
    expect(balances.find((b) => b.asset === 'LUXA')).toMatchObject({
      available: '100.000000000000000000',
      locked: '0.000000000000000000',
    });
  });
});
