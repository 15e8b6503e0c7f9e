import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets, ORDER_RATES } from '../wire/fixtures.ts';

/**
 * `npm start` without SMS_API_URL (NODE_ENV=development): the exchange's embedded loopback stand-in
 * takes its SMS (the Twilio Messages request) and receives webhooks at its dev URL, verifying their
 * Standard Webhooks signature; it is also a Web Push service for subscriptions it made
 * (POST /dev/notifications/push-subscription), checking VAPID and decrypting aes128gcm. All are kept
 * under their directory and listed at GET /dev/notifications. NOTIFY_ALLOW_PRIVATE_TARGETS stays
 * false: the dev receiver and the dev push endpoints are the only loopback targets allowed.
 */

interface DevNotifications {
  webhookUrl: string;
  push: {
    endpoint: string;
    verified: boolean;
    error?: string;
    payload?: { id: string; type: string; title: string; body: string };
    claims?: { aud: string; sub: string };
  }[];
  sms: { to: string; from: string; body: string }[];
  webhooks: {
    url: string;
    verified: boolean;
    webhookId: string;
    payload: { type: string; data: { title: string } };
  }[];
}

let running: RunningExchange;
let dir: string;
let mailDir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'dev-channels-'));
  mailDir = await mkdtemp(path.join(os.tmpdir(), 'dev-channels-mail-'));
  running = await runExchange({
    ...ORDER_RATES,
    NODE_ENV: 'development',
    NOTIFY_DEV_CHANNELS_DIR: dir,
    NOTIFY_DEV_MAIL_DIR: mailDir,
  });
  await listMarkets(running);
});

afterAll(async () => {
  await running.stop();
  await rm(dir, { recursive: true, force: true });
  await rm(mailDir, { recursive: true, force: true });
});

const devNotifications = async () => {
  const answer = await running.request('GET', '/dev/notifications');
  expect(answer.status).toBe(200);
  return answer.body as DevNotifications;
};

describe('the development SMS and webhook stand-ins', () => {
  it('take the exchange’s SMS and verified webhooks and list them at /dev/notifications', async () => {
    const { webhookUrl } = await devNotifications();
    expect(webhookUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/webhooks\/dev$/);
    await running.credit('ora', 'BTC', '1');
    await running.credit('pat', 'USDC', '100000');
    const ora = await running.client(await running.token('ora', ['trader']));
    const patToken = await running.token('pat', ['trader']);
    // Another loopback URL is still refused: only the dev receiver is let through.
    const refused = await running.request('PUT', '/api/v1/notifications/preferences', {
      token: patToken,
      body: {
        channels: { in_app: { enabled: true }, webhook: { url: 'http://127.0.0.1:1/hook', enabled: true } },
      },
    });
    expect(refused.status).toBe(400);
    const put = await running.request('PUT', '/api/v1/notifications/preferences', {
      token: patToken,
      body: {
        channels: {
          in_app: { enabled: true },
          sms: { phone: '+27821234567', enabled: true },
          webhook: { url: webhookUrl, enabled: true },
        },
      },
    });
    expect(put.status).toBe(200);
    const pat = await running.client(patToken);
    await ora.place({ market: 'BTC-USDC', side: 'sell', type: 'limit', price: '100.00', qty: '0.1' });
    await pat.place({ market: 'BTC-USDC', side: 'buy', type: 'limit', price: '100.00', qty: '0.1' });

    const caught = await eventually(async () => {
      const seen = await devNotifications();
      return seen.sms.length > 0 && seen.webhooks.length > 0 && seen;
    });
    expect(caught.sms).toHaveLength(1);
    expect(caught.sms[0]).toMatchObject({ to: '+27821234567', from: '+15550000000' });
    expect(caught.sms[0]!.body).toContain('BTC-USDC');
    expect(caught.webhooks).toHaveLength(1);
    expect(caught.webhooks[0]).toMatchObject({
      url: webhookUrl,
      verified: true,
      payload: { type: 'notification.order_filled', data: { title: 'Order filled on BTC-USDC' } },
    });
    expect(caught.webhooks[0]!.webhookId).toMatch(/^msg_n/);
    expect(await readdir(path.join(dir, 'sms'))).toHaveLength(1);
    expect(await readdir(path.join(dir, 'webhooks'))).toHaveLength(1);
  });

  it('answers 401 to a webhook whose signature does not verify, and lists it as unverified', async () => {
    const { webhookUrl } = await devNotifications();
    const response = await fetch(webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': 'msg_forged',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': 'v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
      },
      body: '{"type":"forged"}',
    });
    expect(response.status).toBe(401);
    const [latest] = (await devNotifications()).webhooks;
    expect(latest).toMatchObject({ webhookId: 'msg_forged', verified: false });
  });

  it('refuses an SMS request without the account’s credentials', async () => {
    const { webhookUrl } = await devNotifications();
    const origin = new URL(webhookUrl).origin;
    const response = await fetch(
      `${origin}/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json`,
      {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from('AC00000000000000000000000000000000:wrong').toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ To: '+1555', From: '+1555', Body: 'hi' }).toString(),
      },
    );
    expect(response.status).toBe(401);
    expect((await devNotifications()).sms).toHaveLength(1);
  });
});

describe('the development push stand-in', () => {
  it('makes a subscription for the caller, and shows the exchange’s pushes VAPID-checked and decrypted', async () => {
    await running.credit('ora', 'BTC', '1');
    await running.credit('quin', 'USDC', '100000');
    const quinToken = await running.token('quin', ['trader']);
    // Another loopback push endpoint is refused: only the stand-in's are let through.
    const refused = await running.request('PUT', '/api/v1/notifications/preferences', {
      token: quinToken,
      body: {
        channels: {
          in_app: { enabled: true },
          push: {
            subscription: {
              endpoint: 'http://127.0.0.1:1/push/x',
              keys: { p256dh: 'a'.repeat(87), auth: 'b'.repeat(22) },
            },
            enabled: true,
          },
        },
      },
    });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('channels.push.subscription.endpoint: 127.0.0.1 resolves');
    const made = await running.request('POST', '/dev/notifications/push-subscription', { token: quinToken });
    expect(made.status).toBe(201);
    const { subscription } = made.body as { subscription: { endpoint: string; keys: { p256dh: string } } };
    const origin = new URL((await devNotifications()).webhookUrl).origin;
    expect(subscription.endpoint.startsWith(`${origin}/push/`)).toBe(true);
    const prefs = await running.request('GET', '/api/v1/notifications/preferences', { token: quinToken });
    expect(prefs.body).toMatchObject({ channels: { push: { subscription, enabled: true } } });

    const ora = await running.client(await running.token('ora', ['trader']));
    const quin = await running.client(quinToken);
    await ora.place({ market: 'BTC-USDC', side: 'sell', type: 'limit', price: '101.00', qty: '0.1' });
    await quin.place({ market: 'BTC-USDC', side: 'buy', type: 'limit', price: '101.00', qty: '0.1' });
    const pushed = await eventually(async () =>
      (await devNotifications()).push.find((p) => p.endpoint === subscription.endpoint && p.verified),
    );
    expect(pushed.payload).toMatchObject({ type: 'order_filled', title: 'Order filled on BTC-USDC' });
    expect(pushed.claims).toMatchObject({ aud: origin, sub: 'mailto:notifications@localhost' });
    expect(await readdir(path.join(dir, 'push'))).toHaveLength(1);
  });

  it('answers 403 to a push without the exchange’s VAPID signature, and 404 for a subscription it did not make', async () => {
    const made = await running.request('POST', '/dev/notifications/push-subscription', {
      token: await running.token('rey', ['trader']),
    });
    const { endpoint } = (made.body as { subscription: { endpoint: string } }).subscription;
    const forged = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-encoding': 'aes128gcm', authorization: 'vapid t=a.b.c, k=notthekey', ttl: '60' },
      body: Buffer.alloc(120),
    });
    expect(forged.status).toBe(403);
    const [latest] = (await devNotifications()).push;
    expect(latest).toMatchObject({ endpoint, verified: false });
    const unknown = await fetch(`${new URL(endpoint).origin}/push/nosuchsubscription`, {
      method: 'POST',
      body: Buffer.alloc(120),
    });
    expect(unknown.status).toBe(404);
  });

  it('makes no subscription without a signed-in user', async () => {
    const anonymous = await running.request('POST', '/dev/notifications/push-subscription');
    expect(anonymous.status).toBe(401);
  });
});
