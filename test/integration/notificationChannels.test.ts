import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExchangeClient } from '../../src/client/index.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import {
  startChatHook,
  startPushService,
  startSms,
  startSmtp,
  startWebhookReceiver,
} from '../support/notifyReceivers.ts';
import { listMarkets, ORDER_RATES } from '../wire/fixtures.ts';

/**
 * The delivery channels against loopback stand-ins of their providers, real Redis/BullMQ and
 * Postgres: email over SMTP (parsed with mailparser), SMS in Twilio's shape, Web Push checked for
 * VAPID and decrypted, Standard Webhooks verified, a Slack hook. Each delivers once; retries keep
 * the webhook id; a dead webhook is disabled and its owner told; a gone push subscription is
 * removed; an SMS provider that is down falls back to email; quiet hours hold; digests group.
 */

const SID = 'AC0123456789abcdef0123456789abcdef';
const TOKEN = 'sms-test-token';
let running: RunningExchange;
let smtp: Awaited<ReturnType<typeof startSmtp>>;
let sms: Awaited<ReturnType<typeof startSms>>;
let push: Awaited<ReturnType<typeof startPushService>>;
let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;
let slack: Awaited<ReturnType<typeof startChatHook>>;
let vapidKey = '';
let seller: ExchangeClient;

beforeAll(async () => {
  smtp = await startSmtp();
  sms = await startSms(SID, TOKEN);
  push = await startPushService(() => vapidKey);
  hook = await startWebhookReceiver();
  slack = await startChatHook();
  running = await runExchange({
    ...ORDER_RATES,
    SMTP_URL: smtp.url,
    SMS_API_URL: sms.url,
    SMS_ACCOUNT_SID: SID,
    SMS_AUTH_TOKEN: TOKEN,
    SMS_FROM: '+15550001111',
    NOTIFY_ALLOW_PRIVATE_TARGETS: 'true',
    NOTIFY_INTERVAL_MS: '20',
    NOTIFY_BACKOFF_MS: '50',
    NOTIFY_ATTEMPTS: '3',
    NOTIFY_WEBHOOK_SCHEDULE_S: '0.05,0.1,0.1',
    NOTIFY_PUBLIC_URL: 'http://exchange.test',
  });
  await listMarkets(running);
  vapidKey = (
    (await running.request('GET', '/api/v1/notifications/vapid-public-key')).body as { publicKey: string }
  ).publicKey;
  await running.credit('seller', 'BTC', '100');
  seller = await running.client(await running.token('seller', ['trader']));
});

afterAll(async () => {
  await running.stop();
  await Promise.all([smtp.close(), sms.close(), push.close(), hook.close(), slack.close()]);
});

/** A user who buys from `seller` (each buy fills at once: one order_filled for the user). */
async function buyer(userId: string, preferences: object) {
  await running.credit(userId, 'USDC', '1000000');
  const token = await running.token(userId, ['trader']);
  const put = await running.request('PUT', '/api/v1/notifications/preferences', { token, body: preferences });
  expect(put.status, JSON.stringify(put.body)).toBe(200);
  const client = await running.client(token);
  return {
    token,
    preferences: put.body as { channels: { webhook?: { secret?: string } } },
    async buy(qty = '0.01') {
      await seller.place({ market: 'BTC-USDC', side: 'sell', type: 'limit', price: '100.00', qty });
      await client.place({ market: 'BTC-USDC', side: 'buy', type: 'limit', price: '100.00', qty });
    },
  };
}

const inApp = { in_app: { enabled: true } };

describe('notification channels', () => {
  it('delivers one order_filled on each of email, SMS, push, webhook, Slack and Discord, once', async () => {
    const endpoint = '/push/ivy';
    const subscription = push.subscribe(endpoint);
    const ivy = await buyer('ivy', {
      channels: {
        ...inApp,
        email: { address: 'ivy@example.com', enabled: true },
        sms: { phone: '+27821234567', enabled: true },
        push: { subscription, enabled: true },
        webhook: { url: `${hook.url}/ivy`, enabled: true },
        slack: { url: `${slack.url}/slack/ivy`, enabled: true },
        discord: { url: `${slack.url}/discord/ivy`, enabled: true },
      },
    });
    hook.state.secret = ivy.preferences.channels.webhook!.secret!;
    await ivy.buy();

    await eventually(
      () => smtp.messages.some((m) => m.to !== undefined && JSON.stringify(m.to).includes('ivy@')),
      {
        what: 'the email',
      },
    );
    const mail = smtp.messages.find((m) => JSON.stringify(m.to).includes('ivy@'))!;
    expect(mail.subject).toBe('Order filled on BTC-USDC');
    expect(mail.text).toContain('buy 0.0100 BTC-USDC at 100.00');
    expect(mail.text).toMatch(
      /Stop these emails: http:\/\/exchange\.test\/api\/v1\/notifications\/unsubscribe\?/,
    );
    expect(mail.html).toContain('<h2>Order filled on BTC-USDC</h2>');
    expect(mail.headers.get('list')).toMatchObject({
      unsubscribe: { id: expect.stringContaining('/unsubscribe?') as string },
    });

    await eventually(() => sms.state.messages.some((m) => m.to === '+27821234567'), { what: 'the SMS' });
    expect(sms.state.messages.find((m) => m.to === '+27821234567')).toMatchObject({
      from: '+15550001111',
      body: expect.stringContaining('Order filled on BTC-USDC') as string,
    });
    await eventually(() => push.messages.length > 0, { what: () => `the push (${push.errors.join('; ')})` });
    expect(push.messages[0]).toMatchObject({
      payload: { type: 'order_filled', title: 'Order filled on BTC-USDC', data: { market: 'BTC-USDC' } },
      claims: { aud: push.url, sub: 'mailto:notifications@localhost' },
    });
    await eventually(() => hook.state.deliveries.length > 0, { what: 'the webhook' });
    expect(hook.state.deliveries[0]).toMatchObject({
      verified: true,
      payload: {
        type: 'notification.order_filled',
        data: { type: 'order_filled', title: 'Order filled on BTC-USDC' },
      },
    });
    await eventually(() => slack.received.some((r) => r.path === '/slack/ivy'), {
      what: 'the Slack message',
    });
    expect(JSON.parse(slack.received.find((r) => r.path === '/slack/ivy')!.body.toString())).toEqual({
      text: expect.stringContaining('*Order filled on BTC-USDC*') as string,
    });
    await eventually(() => slack.received.some((r) => r.path === '/discord/ivy'), {
      what: 'the Discord message',
    });
    expect(JSON.parse(slack.received.find((r) => r.path === '/discord/ivy')!.body.toString())).toEqual({
      content: expect.stringContaining('**Order filled on BTC-USDC**') as string,
    });

    // Once each: the dispatcher's later passes and a re-enqueue change nothing.
    const stats = await eventually(async () => {
      const answer = await running.request('GET', '/api/v1/admin/notifications/queues', {
        token: await running.token('root', ['admin']),
      });
      const counts = (answer.body as { counts: Record<string, Record<string, number>> }).counts;
      return (
        ['email', 'sms', 'push', 'webhook', 'slack', 'discord'].every((c) => counts[c]?.sent === 1) &&
        (answer.body as object)
      );
    });
    expect(stats).toMatchObject({ queues: { email: expect.any(Object) as object } });
    expect(smtp.messages.filter((m) => JSON.stringify(m.to).includes('ivy@'))).toHaveLength(1);
    expect(sms.state.messages.filter((m) => m.to === '+27821234567')).toHaveLength(1);
    expect(push.messages).toHaveLength(1);
    expect(hook.state.deliveries).toHaveLength(1);

    // Prometheus: sent and latency per channel (in-app too).
    const metrics = await (await fetch(`${running.http}/metrics`)).text();
    for (const channel of ['in_app', 'email', 'sms', 'push', 'webhook', 'slack', 'discord']) {
      expect(metrics).toMatch(
        new RegExp(`exchange_notifications_sent_total\\{channel="${channel}"\\} [1-9]`),
      );
      expect(metrics).toMatch(
        new RegExp(`exchange_notification_latency_seconds_count\\{channel="${channel}"\\} [1-9]`),
      );
    }
    expect(metrics).toContain('exchange_notifications_failed_total{channel="email"}');
    expect(metrics).toContain('exchange_notifications_retried_total{channel="webhook"}');

    // The email's unsubscribe link turns order_filled off for email, and only that.
    const link = /Stop these emails: (\S+)/
      .exec(mail.text!)![1]!
      .replace('http://exchange.test', running.http);
    const unsubscribed = await fetch(link);
    expect(unsubscribed.status).toBe(200);
    const after = await running.request('GET', '/api/v1/notifications/preferences', { token: ivy.token });
    expect(after.body).toMatchObject({ types: { order_filled: { email: false } } });
    expect((await fetch(link.replace(/s=[^&]+/, 's=forged'))).status).toBe(400);
  });

  it('retries a failing webhook with the same webhook-id, and disables it after its schedule, telling its owner', async () => {
    const jon = await buyer('jon', {
      channels: { ...inApp, webhook: { url: `${hook.url}/jon`, enabled: true } },
    });
    hook.state.secret = jon.preferences.channels.webhook!.secret!;
    hook.state.deliveries.length = 0;
    hook.state.failures = 2;
    await jon.buy();
    await eventually(() => hook.state.deliveries.length === 3, { what: 'three attempts' });
    const ids = new Set(hook.state.deliveries.map((d) => d.id));
    expect(ids.size).toBe(1);
    expect(hook.state.deliveries.every((d) => d.verified)).toBe(true);

    // Now it never answers 2xx: after the last retry the webhook is off and jon is told in-app.
    hook.state.deliveries.length = 0;
    hook.state.failures = 1_000;
    await jon.buy();
    await eventually(
      async () => {
        const list = await running.request('GET', '/api/v1/notifications', { token: jon.token });
        return (list.body as { type: string }[]).some((n) => n.type === 'webhook_disabled');
      },
      { what: () => `webhook_disabled (${hook.state.deliveries.length} attempts)` },
    );
    expect(hook.state.deliveries).toHaveLength(4); // the first attempt and 3 retries
    expect(new Set(hook.state.deliveries.map((d) => d.id)).size).toBe(1);
    const prefs = await running.request('GET', '/api/v1/notifications/preferences', { token: jon.token });
    expect(prefs.body).toMatchObject({ channels: { webhook: { enabled: false } } });
    hook.state.failures = 0;
  });

  it('removes a push subscription the push service answers 410 for', async () => {
    const subscription = push.subscribe('/gone/kim');
    const kim = await buyer('kim', { channels: { ...inApp, push: { subscription, enabled: true } } });
    await kim.buy();
    await eventually(async () => {
      const prefs = await running.request('GET', '/api/v1/notifications/preferences', { token: kim.token });
      return (prefs.body as { channels: Record<string, unknown> }).channels.push === undefined;
    });
  });

  it('falls back to the user’s fallback channel when the SMS provider is down', async () => {
    sms.state.down = true;
    const leo = await buyer('leo', {
      channels: {
        ...inApp,
        sms: { phone: '+27829999999', enabled: true },
        email: { address: 'leo@example.com', enabled: true, fallback: true },
      },
    });
    await leo.buy();
    await eventually(() => smtp.messages.some((m) => JSON.stringify(m.to).includes('leo@')), {
      what: 'the fallback email',
    });
    expect(sms.state.messages.some((m) => m.to === '+27829999999')).toBe(false);
    sms.state.down = false;
  });

  it('holds email in quiet hours in the user’s zone and releases it when they end', async () => {
    // Quiet hours are whole minutes: they end at the next minute's start (within 60 s).
    // Quiet all day but one minute from now: what is held goes out when that minute comes.
    const now = new Date();
    const hhmm = (d: Date) =>
      `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
    const end = new Date(now.getTime() + 60_000);
    const start = new Date(now.getTime() - 60 * 60_000);
    const mia = await buyer('mia', {
      channels: { ...inApp, email: { address: 'mia@example.com', enabled: true } },
      quietHours: { start: hhmm(start), end: hhmm(end), tz: 'UTC' },
    });
    await mia.buy();
    const inbox = () => smtp.messages.filter((m) => JSON.stringify(m.to).includes('mia@'));
    await eventually(async () => {
      const list = await running.request('GET', '/api/v1/notifications', { token: mia.token });
      return (list.body as unknown[]).length === 1;
    });
    const held = await running.request('GET', '/api/v1/admin/notifications/queues', {
      token: await running.token('root', ['admin']),
    });
    expect(
      (held.body as { queues: { email: { delayed: number } } }).queues.email.delayed,
    ).toBeGreaterThanOrEqual(1);
    expect(inbox()).toHaveLength(0);
    await eventually(() => inbox().length === 1, {
      timeoutMs: 75_000,
      what: 'the email when quiet hours end',
    });
  }, 100_000);

  it('sends one email for a digest’s window: "3 orders filled on BTC-USDC"', async () => {
    const ned = await buyer('ned', {
      channels: { ...inApp, email: { address: 'ned@example.com', enabled: true } },
      digest: { order_filled: { windowS: 10 } },
    });
    for (let i = 0; i < 3; i++) await ned.buy();
    const nedInbox = () => smtp.messages.filter((m) => JSON.stringify(m.to).includes('ned@'));
    await eventually(() => nedInbox().length >= 1, { timeoutMs: 20_000, what: 'the digest' });
    await eventually(async () => {
      const list = await running.request('GET', '/api/v1/notifications', { token: ned.token });
      return (list.body as unknown[]).length === 3;
    });
    expect(nedInbox()).toHaveLength(1);
    expect(nedInbox()[0]!.subject).toBe('3 orders filled on BTC-USDC');
  });
});
