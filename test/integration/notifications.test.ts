import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExchangeClient } from '../../src/client/index.ts';
import type { NotificationMessage } from '../../src/protocol/messages.ts';
import { createPool, sql } from 'slonik';
import WebSocket from 'ws';
import { z } from 'zod';
import { encodeMessage } from '../../src/protocol/codec.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets, ORDER_RATES } from '../wire/fixtures.ts';

/**
 * Notifications over the real exchange (Postgres, Redis, sockets): the notifier turns committed
 * fills, crossed alerts and lifecycle transitions into in-app rows, pushed at once on the private
 * `notifications` channel and listed by GET /notifications; the routes of PROTOCOL v1.1.
 */

let running: RunningExchange;

beforeAll(async () => {
  running = await runExchange({ ...ORDER_RATES, NOTIFY_INTERVAL_MS: '20' });
  await listMarkets(running);
});

afterAll(async () => {
  await running.stop();
});

async function listener(userId: string, roles: ('trader' | 'admin' | 'issuer')[] = ['trader']) {
  const token = await running.token(userId, roles);
  const client: ExchangeClient = await running.client(token);
  const pushes: NotificationMessage[] = [];
  await client.subscribe('notifications', {}, (m) => pushes.push(m));
  return { client, token, pushes };
}

async function trade(seller: ExchangeClient, buyer: ExchangeClient, price: string, qty: string) {
  await seller.place({ market: 'BTC-USDC', side: 'sell', type: 'limit', price, qty });
  await buyer.place({ market: 'BTC-USDC', side: 'buy', type: 'limit', price, qty });
}

describe('in-app notifications', () => {
  it('pushes order_filled to taker and maker at once, and lists it (paged, unread), read and read-all', async () => {
    await running.credit('ann', 'BTC', '5');
    await running.credit('ben', 'USDC', '1000000');
    const ann = await listener('ann');
    const ben = await listener('ben');
    await trade(ann.client, ben.client, '100.00', '0.5');
    const annPush = await eventually(() => ann.pushes.find((p) => p.type === 'order_filled'), {
      what: 'ann’s order_filled push',
    });
    expect(annPush).toMatchObject({
      op: 'notification',
      type: 'order_filled',
      title: 'Order filled on BTC-USDC',
      read: false,
      data: { market: 'BTC-USDC', side: 'sell', price: '100.00', qty: '0.5000', liquidity: 'maker' },
    });
    expect(typeof annPush.id).toBe('string');
    await eventually(() => ben.pushes.some((p) => p.type === 'order_filled' && p.data.liquidity === 'taker'));

    for (let i = 0; i < 2; i++) await trade(ann.client, ben.client, '100.00', '0.1');
    await eventually(() => ann.pushes.filter((p) => p.type === 'order_filled').length === 3);
    // Pushed once each, never twice.
    expect(new Set(ann.pushes.map((p) => p.id)).size).toBe(ann.pushes.length);

    const first = await running.request('GET', '/api/v1/notifications?limit=2', { token: ann.token });
    expect(first.status).toBe(200);
    expect(first.body).toHaveLength(2);
    const all = (await running.request('GET', '/api/v1/notifications', { token: ann.token })).body as {
      id: string;
    }[];
    expect(all.map((n) => n.id)).toEqual([...ann.pushes].reverse().map((p) => p.id));
    const next = await fetch(`${running.http}/api/v1/notifications?limit=2`, {
      headers: { authorization: `Bearer ${ann.token}` },
    });
    const cursor = next.headers.get('x-next-cursor');
    expect(cursor).not.toBeNull();
    const second = await running.request('GET', `/api/v1/notifications?limit=2&cursor=${cursor!}`, {
      token: ann.token,
    });
    expect((second.body as { id: string }[]).map((n) => n.id)).toEqual([all[2]!.id]);
    expect(
      (await running.request('GET', '/api/v1/notifications?cursor=nonsense!', { token: ann.token })).status,
    ).toBe(400);

    const read = await running.request('POST', `/api/v1/notifications/${all[0]!.id}/read`, {
      token: ann.token,
    });
    expect(read).toMatchObject({ status: 200, body: { id: all[0]!.id, read: true } });
    const unread = await running.request('GET', '/api/v1/notifications?unread=true', { token: ann.token });
    expect((unread.body as unknown[]).length).toBe(2);
    expect(
      (await running.request('POST', `/api/v1/notifications/${all[0]!.id}/read`, { token: ben.token }))
        .status,
    ).toBe(404);
    const readAll = await running.request('POST', '/api/v1/notifications/read-all', { token: ann.token });
    expect(readAll).toMatchObject({ status: 200, body: { marked: 2 } });
    expect(
      (await running.request('GET', '/api/v1/notifications?unread=true', { token: ann.token })).body,
    ).toEqual([]);
    expect((await running.request('GET', '/api/v1/notifications')).status).toBe(401);
  });

  it('fires a price alert once, at the first trade that crosses it', async () => {
    await running.credit('cat', 'BTC', '5');
    await running.credit('dan', 'USDC', '1000000');
    const cat = await listener('cat');
    const dan = await listener('dan');
    const created = await running.request('POST', '/api/v1/alerts', {
      token: dan.token,
      body: { market: 'BTC-USDC', above: '150.00' },
    });
    expect(created).toMatchObject({
      status: 201,
      body: { market: 'BTC-USDC', above: '150.00', fired: false },
    });
    for (const bad of [
      { market: 'BTC-USDC' },
      { market: 'BTC-USDC', above: '1', below: '2' },
      { market: 'BTC-USDC', above: '1.001' },
      { market: 'BTC-USDC', above: 'abc' },
    ]) {
      expect((await running.request('POST', '/api/v1/alerts', { token: dan.token, body: bad })).status).toBe(
        400,
      );
    }
    expect(
      (
        await running.request('POST', '/api/v1/alerts', {
          token: dan.token,
          body: { market: 'NOPE-X', above: '1' },
        })
      ).status,
    ).toBe(404);

    await trade(cat.client, dan.client, '149.00', '0.1');
    await trade(cat.client, dan.client, '151.00', '0.1');
    await trade(cat.client, dan.client, '152.00', '0.1');
    await eventually(() => dan.pushes.filter((p) => p.type === 'order_filled').length === 3);
    const alerts = dan.pushes.filter((p) => p.type === 'price_alert');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      data: { market: 'BTC-USDC', direction: 'above', threshold: '150.00', price: '151.00' },
    });
    const listed = await running.request('GET', '/api/v1/alerts', { token: dan.token });
    expect(listed.body).toMatchObject([{ fired: true }]);
    const id = (created.body as { id: string }).id;
    expect((await running.request('DELETE', `/api/v1/alerts/${id}`, { token: cat.token })).status).toBe(404);
    expect((await running.request('DELETE', `/api/v1/alerts/${id}`, { token: dan.token })).status).toBe(200);
  });

  it('tells the holders of a market’s asset of its lifecycle, and broadcasts system_maintenance to everyone', async () => {
    await running.credit('eve', 'ETH', '1');
    const eve = await listener('eve');
    const admin = await running.token('root', ['admin']);
    const markets = (await running.request('GET', '/api/v1/markets')).body as {
      id: string;
      symbol: string;
    }[];
    const eth = markets.find((m) => m.symbol === 'ETH-USDC')!;
    expect((await running.request('POST', `/api/v1/markets/${eth.id}/pause`, { token: admin })).status).toBe(
      200,
    );
    const paused = await eventually(() => eve.pushes.find((p) => p.type === 'market_lifecycle'));
    expect(paused).toMatchObject({ title: 'ETH-USDC is paused', data: { from: 'active', to: 'paused' } });
    await running.request('POST', `/api/v1/markets/${eth.id}/resume`, { token: admin });

    const bad = await running.request('POST', '/api/v1/admin/notifications/broadcast', {
      token: admin,
      body: { type: 'order_filled', title: 'x', body: 'y' },
    });
    expect(bad.status).toBe(400);
    const trader = await running.token('eve', ['trader']);
    expect(
      (
        await running.request('POST', '/api/v1/admin/notifications/broadcast', {
          token: trader,
          body: { type: 'system_maintenance', title: 'x', body: 'y' },
        })
      ).status,
    ).toBe(403);
    const sent = await running.request('POST', '/api/v1/admin/notifications/broadcast', {
      token: admin,
      body: {
        type: 'system_maintenance',
        title: 'Maintenance at 02:00',
        body: 'Trading pauses for 10 minutes.',
      },
    });
    expect(sent.status).toBe(201);
    expect((sent.body as { recipients: number }).recipients).toBeGreaterThanOrEqual(5);
    const notice = await eventually(() => eve.pushes.find((p) => p.type === 'system_maintenance'));
    expect(notice).toMatchObject({ title: 'Maintenance at 02:00', body: 'Trading pauses for 10 minutes.' });
  });
});

describe('kyc_required', () => {
  it('tells a user whose RWA order the compliance gate refused, once a day per market', async () => {
    await running.asset('LUXAPT', 2, 'rwa');
    await running.market({
      symbol: 'LUXAPT-USDC',
      baseAsset: 'LUXAPT',
      quoteAsset: 'USDC',
      priceDecimals: 2,
      qtyDecimals: 0,
      tickSize: '0.01',
      lotSize: '1',
      minQty: '1',
      maxQty: '1000',
    });
    await running.credit('gus', 'USDC', '100000');
    const gus = await listener('gus');
    for (let i = 0; i < 2; i++) {
      const refused = await running.request('POST', '/api/v1/orders', {
        token: gus.token,
        body: { market: 'LUXAPT-USDC', side: 'buy', type: 'limit', price: '10.00', qty: '1' },
      });
      expect(refused.status).toBe(422);
      expect(refused.body).toMatchObject({ error: { code: 'compliance' } });
    }
    const told = await eventually(() => gus.pushes.find((p) => p.type === 'kyc_required'));
    expect(told).toMatchObject({
      title: 'Verification needed for LUXAPT-USDC',
      data: { market: 'LUXAPT-USDC' },
    });
    // The second refusal is in the journal too: once the notifier's cursor has passed it, still one row.
    const pool = await createPool(running.database.url, { maximumPoolSize: 1 });
    try {
      await eventually(async () => {
        const behind = await pool.oneFirst(sql.type(z.object({ behind: z.boolean() }))`
          SELECT (SELECT global_seq FROM projection_cursors WHERE projection = 'notifier') <
                 (SELECT max(global_seq) FROM journal) AS behind`);
        return !behind;
      });
    } finally {
      await pool.end();
    }
    const list = await running.request('GET', '/api/v1/notifications', { token: gus.token });
    expect((list.body as { type: string }[]).filter((n) => n.type === 'kyc_required')).toHaveLength(1);
    expect(gus.pushes.filter((p) => p.type === 'kyc_required')).toHaveLength(1);
  });
});

describe('security_alert', () => {
  it('tells a user of a session from a new device, not of their first session or a known one', async () => {
    const token = await running.token('ike', ['trader']);
    const connect = async (agent: string, how: 'upgrade' | 'auth') => {
      const socket = new WebSocket(how === 'upgrade' ? `${running.ws}?token=${token}` : running.ws, {
        headers: { 'user-agent': agent },
      });
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      if (how === 'auth') {
        const authed = new Promise((resolve) => socket.once('message', resolve));
        socket.send(encodeMessage({ op: 'auth', token, rid: 1 }));
        await authed;
      }
      return socket;
    };
    const alerts = async () =>
      (
        (await running.request('GET', '/api/v1/notifications', { token })).body as {
          type: string;
          data: object;
        }[]
      ).filter((n) => n.type === 'security_alert');
    (await connect('Firefox/1', 'upgrade')).close();
    await eventually(
      async () => (await running.request('GET', '/api/v1/notifications', { token })).status === 200,
    );
    (await connect('Firefox/1', 'auth')).close();
    const second = await connect('Safari/2', 'auth');
    const [alert] = await eventually(async () => {
      const found = await alerts();
      return found.length > 0 && found;
    });
    second.close();
    expect(alert).toMatchObject({ type: 'security_alert', data: { device: 'Safari/2', new: 'device' } });
    expect(await alerts()).toHaveLength(1);
  });
});

describe('preferences', () => {
  it('answers 400 to bad preferences and changes nothing; a webhook’s secret is answered once', async () => {
    const token = await running.token('fay', ['trader']);
    const before = await running.request('GET', '/api/v1/notifications/preferences', { token });
    expect(before).toMatchObject({ status: 200, body: { channels: { in_app: { enabled: true } } } });
    for (const bad of [
      {
        channels: { in_app: { enabled: true } },
        quietHours: { start: '22:00', end: '07:00', tz: 'Nowhere/City' },
      },
      { channels: { in_app: { enabled: true }, email: { address: 'not-an-email', enabled: true } } },
      { channels: { in_app: { enabled: true } }, extra: 1 },
      { channels: { in_app: { enabled: true }, webhook: { url: 'http://127.0.0.1:9/hook', enabled: true } } },
      {
        channels: {
          in_app: { enabled: true },
          webhook: { url: 'http://169.254.169.254/latest', enabled: true },
        },
      },
      { channels: { in_app: { enabled: true }, slack: { url: 'http://localhost:1/x', enabled: true } } },
    ]) {
      const answer = await running.request('PUT', '/api/v1/notifications/preferences', { token, body: bad });
      expect(answer.status, JSON.stringify(bad)).toBe(400);
      expect(answer.body).toMatchObject({ error: { code: 'bad_request' } });
    }
    expect((await running.request('GET', '/api/v1/notifications/preferences', { token })).body).toEqual(
      before.body,
    );

    // A literal public address needs no DNS: the guard lets it through (nothing is sent here).
    const good = {
      channels: {
        in_app: { enabled: true },
        email: { address: 'fay@example.com', enabled: false },
        webhook: { url: 'https://93.184.215.14/hook', enabled: false },
      },
      types: { order_filled: { email: false } },
      quietHours: { start: '22:00', end: '07:00', tz: 'Africa/Johannesburg' },
      digest: { order_filled: { windowS: 60 } },
    };
    const put = await running.request('PUT', '/api/v1/notifications/preferences', { token, body: good });
    expect(put.status).toBe(200);
    const secret = (put.body as { channels: { webhook: { secret?: string } } }).channels.webhook.secret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{20,}$/);
    const again = await running.request('PUT', '/api/v1/notifications/preferences', { token, body: good });
    expect(
      (again.body as { channels: { webhook: { secret?: string } } }).channels.webhook.secret,
    ).toBeUndefined();
    expect((await running.request('GET', '/api/v1/notifications/preferences', { token })).body).toEqual(good);
  });

  it('serves one VAPID public key, generated and kept', async () => {
    const a = await running.request('GET', '/api/v1/notifications/vapid-public-key');
    const b = await running.request('GET', '/api/v1/notifications/vapid-public-key');
    expect(a.status).toBe(200);
    expect((a.body as { publicKey: string }).publicKey).toMatch(/^[A-Za-z0-9_-]{87}$/);
    expect(b.body).toEqual(a.body);
  });
});

describe('templates (admin)', () => {
  it('previews a type with an override, stores one that compiles, refuses one that does not', async () => {
    const admin = await running.token('root', ['admin']);
    const data = { market: 'BTC-USDC', direction: 'up', price: '<b>101</b>' };
    const tried = await running.request(
      'POST',
      '/api/v1/admin/notifications/templates/market_breakout/preview',
      {
        token: admin,
        body: { data, template: { title: '{{market}} {{direction}}!', html: '<p>{{price}}</p>' } },
      },
    );
    expect(tried.status, JSON.stringify(tried.body)).toBe(200);
    expect(tried.body).toMatchObject({ title: 'BTC-USDC up!', html: '<p>&lt;b&gt;101&lt;/b&gt;</p>' });
    // Without an override, the stored templates (the defaults here): text is not escaped.
    const stock = await running.request(
      'POST',
      '/api/v1/admin/notifications/templates/market_breakout/preview',
      {
        token: admin,
        body: { data },
      },
    );
    expect(stock.body).toMatchObject({
      title: 'BTC-USDC broke out up',
      body: 'BTC-USDC broke out up at <b>101</b>',
    });

    const bad = await running.request('PUT', '/api/v1/admin/notifications/templates/market_breakout', {
      token: admin,
      body: { template: { title: '{{#if market}}unclosed' } },
    });
    expect(bad.status).toBe(400);
    const notAdmin = await running.request('PUT', '/api/v1/admin/notifications/templates/market_breakout', {
      token: await running.token('mallory', ['trader']),
      body: { template: { title: 'x' } },
    });
    expect(notAdmin.status).toBe(403);
    const unknown = await running.request('PUT', '/api/v1/admin/notifications/templates/no_such_type', {
      token: admin,
      body: { template: { title: 'x' } },
    });
    expect(unknown.status).toBe(404);

    const stored = await running.request('PUT', '/api/v1/admin/notifications/templates/market_breakout', {
      token: admin,
      body: { locale: 'de', template: { title: '{{market}}: Ausbruch {{direction}}' } },
    });
    expect(stored.status, JSON.stringify(stored.body)).toBe(200);
    const german = await running.request(
      'POST',
      '/api/v1/admin/notifications/templates/market_breakout/preview',
      {
        token: admin,
        body: { data, locale: 'de' },
      },
    );
    expect(german.body).toMatchObject({ title: 'BTC-USDC: Ausbruch up' });
    const english = await running.request(
      'POST',
      '/api/v1/admin/notifications/templates/market_breakout/preview',
      {
        token: admin,
        body: { data },
      },
    );
    expect(english.body).toMatchObject({ title: 'BTC-USDC broke out up' });
  });
});

describe('development stand-ins outside development', () => {
  it('are not there: no push subscription, no /dev/notifications, and a loopback push endpoint is refused', async () => {
    const token = await running.token('uma', ['trader']);
    expect((await running.request('POST', '/dev/notifications/push-subscription', { token })).status).toBe(
      404,
    );
    expect((await running.request('GET', '/dev/notifications')).status).toBe(404);
    const put = await running.request('PUT', '/api/v1/notifications/preferences', {
      token,
      body: {
        channels: {
          in_app: { enabled: true },
          push: {
            subscription: {
              endpoint: 'http://127.0.0.1:9/push/abc',
              keys: { p256dh: 'a'.repeat(87), auth: 'b'.repeat(22) },
            },
            enabled: true,
          },
        },
      },
    });
    expect(put.status).toBe(400);
    expect(JSON.stringify(put.body)).toContain('channels.push.subscription.endpoint: 127.0.0.1 resolves');
  });
});
