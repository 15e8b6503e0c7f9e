import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../../src/events/domain.ts';
import {
  crossings,
  draftsOf,
  tradesOf,
  type ArmedAlert,
  type MappingContext,
} from '../../src/notifications/mapping.ts';
import { deliveriesOf } from '../../src/notifications/notifier.ts';
import {
  deliveryChannels,
  digestWindowS,
  Preferences,
  quietUntil,
} from '../../src/notifications/preferences.ts';
import { Templates } from '../../src/notifications/templates.ts';

/** Pure parts of the notifications: the mapping of domain events, alerts, preferences, templates. */

const context: MappingContext = {
  market: (id) =>
    id === 'm1'
      ? {
          symbol: 'LUXAPT-USDC',
          baseAsset: 'LUXAPT',
          formatPrice: (ticks) => (ticks / 100).toFixed(2),
          formatQty: (lots) => String(lots),
        }
      : undefined,
  assetDecimals: (asset) => (asset === 'USDC' ? 6 : undefined),
};
const at = { seq: 7, ts: 1_000, entry: 0 };

describe('draftsOf', () => {
  it('turns a fill into order_filled for its taker and its maker', () => {
    const events: DomainEvent[] = [
      {
        type: 'fill',
        ...at,
        n: 0,
        fill: {
          type: 'fill',
          takerOrderId: 2,
          takerUserId: 'bob',
          makerOrderId: 1,
          makerUserId: 'ann',
          takerSide: 'buy',
          price: 10_050,
          qty: 3,
          takerRemaining: 0,
          makerRemaining: 2,
        },
      },
    ];
    const drafts = draftsOf({ marketId: 'm1', symbol: 'LUXAPT-USDC', events }, context);
    expect(drafts.map((d) => [d.type, d.audience, d.source, d.data.side, d.data.complete])).toEqual([
      ['order_filled', { kind: 'user', userId: 'bob' }, 'fill:0:0:taker', 'buy', true],
      ['order_filled', { kind: 'user', userId: 'ann' }, 'fill:0:0:maker', 'sell', false],
    ]);
    expect(drafts[0]!.data).toMatchObject({
      market: 'LUXAPT-USDC',
      price: '100.50',
      qty: '3',
      orderId: 'm1:2',
    });
    expect(tradesOf({ marketId: 'm1', symbol: 'LUXAPT-USDC', events })).toEqual([
      { marketId: 'm1', price: 10_050, ts: 1_000, tradeId: 'm1:7:0' },
    ]);
  });

  it('maps deposits, withdrawals, trends and breakouts (the funding and trends events)', () => {
    const events: DomainEvent[] = [
      {
        type: 'deposit.changed',
        ...at,
        userId: 'ann',
        depositId: 'd1',
        status: 'completed',
        asset: 'USDC',
        amount: 12_500_000n,
        provider: 'paystack',
        reference: 'ref-1',
      },
      {
        type: 'deposit.changed',
        ...at,
        userId: 'ann',
        depositId: 'd2',
        status: 'failed',
        asset: 'USDC',
        amount: 1n,
        provider: 'ozow',
        reference: 'ref-2',
      },
      {
        type: 'withdrawal.changed',
        ...at,
        userId: 'bob',
        withdrawalId: 'w1',
        status: 'rejected',
        asset: 'USDC',
        amount: 2_000_000n,
        destination: '0xabc',
        reason: 'limits',
      },
      { type: 'trend.detected', ...at, symbol: 'CATS', topic: 'cats', viralityScore: 0.9, sentiment: 0.2 },
      {
        type: 'trend.detected',
        ...at,
        symbol: 'LUX',
        topic: 'lux',
        marketId: 'm1',
        viralityScore: 0.5,
        sentiment: -0.1,
      },
      {
        type: 'market.breakout',
        ...at,
        marketId: 'm1',
        symbol: 'LUXAPT-USDC',
        direction: 'up',
        price: 12_000,
      },
    ];
    const drafts = draftsOf({ marketId: '@ledger', symbol: '@ledger', events }, context);
    expect(drafts.map((d) => [d.type, d.audience])).toEqual([
      ['deposit_completed', { kind: 'user', userId: 'ann' }],
      ['withdrawal_status', { kind: 'user', userId: 'bob' }],
      ['trend_detected', { kind: 'opted_in' }],
      ['trend_detected', { kind: 'watchers', marketId: 'm1', asset: 'LUXAPT' }],
      ['market_breakout', { kind: 'watchers', marketId: 'm1', asset: 'LUXAPT' }],
    ]);
    expect(drafts[0]!.data).toMatchObject({ amount: '12.500000', asset: 'USDC', reference: 'ref-1' });
    expect(drafts[1]!.data).toMatchObject({ status: 'rejected', amount: '2.000000', reason: 'limits' });
    expect(drafts[4]!.data).toMatchObject({ market: 'LUXAPT-USDC', direction: 'up', price: '120.00' });
    expect(new Set(drafts.map((d) => d.source)).size).toBe(drafts.length);
  });

  it('sends a lifecycle transition to the market (its issuer and holders)', () => {
    const events: DomainEvent[] = [
      {
        type: 'lifecycle.transition',
        ...at,
        event: { type: 'lifecycle.pause', actor: { id: 'root', type: 'admin' }, ts: 1_000, reason: 'audit' },
        notice: {
          marketId: 'm1',
          seq: 4,
          from: 'active',
          to: 'paused',
          event: 'lifecycle.pause',
          ts: 1_000,
          actor: { id: 'root', type: 'admin' },
          reason: 'audit',
        },
      },
    ];
    const [draft] = draftsOf({ marketId: 'm1', symbol: 'LUXAPT-USDC', events }, context);
    expect(draft).toMatchObject({
      type: 'market_lifecycle',
      audience: { kind: 'market', marketId: 'm1', asset: 'LUXAPT' },
      data: { market: 'LUXAPT-USDC', from: 'active', to: 'paused', reason: 'audit' },
    });
  });
});

describe('crossings', () => {
  const alert = (id: string, direction: 'above' | 'below', priceTicks: number): ArmedAlert => ({
    id,
    userId: 'u',
    marketId: 'm1',
    direction,
    priceTicks,
  });
  const trade = (price: number, ts: number) => ({ marketId: 'm1', price, ts, tradeId: `t${ts}` });

  it('fires each alert once, at the first trade that crosses it', () => {
    const fired = crossings(
      [alert('a', 'above', 100), alert('b', 'below', 90), alert('c', 'above', 500)],
      [trade(95, 1), trade(101, 2), trade(120, 3), trade(89, 4)],
    );
    expect(fired.map((f) => [f.alert.id, f.trade.ts])).toEqual([
      ['a', 2],
      ['b', 4],
    ]);
  });

  it('agrees with a reference: an alert fires iff some trade crosses it, at the first such trade', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 50 })), { maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 20 }),
        (specs, prices) => {
          const alerts = specs.map(([above, p], i) => alert(String(i), above ? 'above' : 'below', p));
          const trades = prices.map((p, i) => trade(p, i));
          const fired = new Map(crossings(alerts, trades).map((f) => [f.alert.id, f.trade.ts]));
          for (const a of alerts) {
            const first = trades.find((t) =>
              a.direction === 'above' ? t.price >= a.priceTicks : t.price <= a.priceTicks,
            );
            expect(fired.get(a.id)).toBe(first?.ts);
          }
        },
      ),
    );
  });
});

describe('preferences', () => {
  const prefs = (extra: object) =>
    Preferences.parse({
      channels: {
        in_app: { enabled: true },
        email: { address: 'ann@example.com', enabled: true },
        sms: { phone: '+27821234567', enabled: false },
        webhook: { url: 'https://hooks.example.com/x', enabled: true },
      },
      ...extra,
    });

  it('refuses what the contract does not allow', () => {
    for (const bad of [
      {},
      { channels: {} },
      { channels: { in_app: { enabled: 'yes' } } },
      { channels: { in_app: { enabled: true }, email: { address: 'nope', enabled: true } } },
      { channels: { in_app: { enabled: true }, sms: { phone: '0821234567', enabled: true } } },
      { channels: { in_app: { enabled: true } }, quietHours: { start: '25:00', end: '07:00', tz: 'UTC' } },
      {
        channels: { in_app: { enabled: true } },
        quietHours: { start: '22:00', end: '07:00', tz: 'Mars/Base' },
      },
      { channels: { in_app: { enabled: true } }, types: { order_filled: { carrier_pigeon: true } } },
      { channels: { in_app: { enabled: true } }, digest: { order_filled: { windowS: 0 } } },
      { channels: { in_app: { enabled: true }, webhook: { url: 'ftp://x', enabled: true } } },
    ]) {
      expect(Preferences.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it('resolves channels: the channel switch, then the type switch', () => {
    const p = prefs({ types: { order_filled: { email: false } } });
    expect(deliveryChannels(p, 'order_filled')).toEqual(['webhook']);
    expect(deliveryChannels(p, 'price_alert')).toEqual(['email', 'webhook']);
  });

  it('holds email in quiet hours in the user’s zone until they end; security_alert and webhooks pass', () => {
    const p = prefs({ quietHours: { start: '22:00', end: '07:00', tz: 'Africa/Johannesburg' } });
    // 21:30 UTC is 23:30 in Johannesburg (UTC+2): quiet until 07:00 local, 05:00 UTC next day.
    const now = Date.UTC(2026, 0, 10, 21, 30, 15);
    expect(quietUntil(p, 'order_filled', 'email', now)).toBe(Date.UTC(2026, 0, 11, 5, 0, 0));
    expect(quietUntil(p, 'security_alert', 'email', now)).toBeUndefined();
    expect(quietUntil(p, 'order_filled', 'webhook', now)).toBeUndefined();
    expect(quietUntil(p, 'order_filled', 'email', Date.UTC(2026, 0, 10, 12, 0))).toBeUndefined();
  });

  it('aligns a digest’s deliveries to the end of its window', () => {
    const p = prefs({ digest: { order_filled: { windowS: 60 } } });
    expect(digestWindowS(p, 'order_filled')).toBe(60);
    const rows = [1, 2].map((i) => ({
      id: String(i),
      userId: 'ann',
      type: 'order_filled',
      title: '',
      body: '',
      data: {},
      source: String(i),
      ts: 0,
      read: false,
    }));
    const out = deliveriesOf(rows, new Map([['ann', p]]), 61_000);
    expect(out.map((d) => [d.notificationId, d.channel, d.releaseAt])).toEqual([
      ['1', 'email', 120_000],
      ['1', 'webhook', 61_000],
      ['2', 'email', 120_000],
      ['2', 'webhook', 61_000],
    ]);
  });
});

describe('templates', () => {
  it('renders text unescaped and escapes HTML; an email has text and an unsubscribe link', () => {
    const templates = new Templates();
    const r = templates.render(
      'market_lifecycle',
      { market: '<b>LUX</b>', from: 'active', to: 'paused', reason: 'a & b' },
      { unsubscribeUrl: 'https://x/unsub?t=1' },
    );
    expect(r.title).toBe('<b>LUX</b> is paused');
    expect(r.body).toBe('<b>LUX</b> went from active to paused: a & b');
    expect(r.html).toContain('&lt;b&gt;LUX&lt;/b&gt; is paused');
    expect(r.html).not.toContain('<b>LUX</b>');
    expect(r.html).toContain('href="https://x/unsub?t&#x3D;1"');
    expect(r.text).toContain('Stop these emails: https://x/unsub?t=1');
  });

  it('applies an override over the repo’s default', () => {
    const templates = new Templates([
      { type: 'order_filled', locale: 'en', template: { title: 'Fill {{qty}}' } },
    ]);
    expect(templates.render('order_filled', { qty: '3' }).title).toBe('Fill 3');
    templates.setOverride('order_filled', 'en', undefined);
    expect(templates.render('order_filled', { qty: '3', market: 'X', complete: true }).title).toBe(
      'Order filled on X',
    );
  });
});
