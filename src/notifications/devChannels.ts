/**
 * The loopback stand-ins of `npm start` for SMS and webhooks (development only), the siblings of
 * the SMTP catcher (devMail.ts): one HTTP server on a loopback port that
 * - speaks the Twilio Messages request of the contract when SMS_API_URL is unset
 *   (`POST /2010-04-01/Accounts/{sid}/Messages.json`, form fields To/From/Body, basic auth with
 *   the configured sid and token) and keeps each message under `{dir}/sms`;
 * - receives webhooks at `POST /webhooks/{name}`, verifies the Standard Webhooks signature with the
 *   secret the exchange gave the URL's owner, and keeps what it received under `{dir}/webhooks`.
 * - is a Web Push service at `POST /push/{id}`, for subscriptions it made
 *   (POST /dev/notifications/push-subscription): it checks the VAPID authorization (the exchange's
 *   key, `aud` this origin) and decrypts the `aes128gcm` body with the subscription's keys, as a
 *   browser vendor's service and the browser would, and keeps the payload under `{dir}/push`
 *   (an unknown subscription answers 404, so the exchange forgets it, as after a 410).
 * All are listed at GET /dev/notifications. Only the last MAX_KEPT of each are kept (and
 * MAX_SUBSCRIPTIONS push subscriptions), bodies are bounded, and the server listens on 127.0.0.1
 * only.
 */

import { createECDH, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { z } from 'zod';
import { decryptPush, pushSubscription, verifyVapid } from './webPushService.ts';

const MAX_KEPT = 200;
const MAX_BODY_BYTES = 64 * 1024;
const LISTED = 50;
const MAX_SUBSCRIPTIONS = 100;

export interface CaughtSms {
  readonly id: string;
  readonly sid: string;
  readonly to: string;
  readonly from: string;
  readonly body: string;
  readonly date: string;
}

export interface ReceivedWebhook {
  readonly id: string;
  readonly url: string;
  readonly webhookId: string;
  /** Whether the signature verified with the secret of a user whose webhook URL is this one. */
  readonly verified: boolean;
  readonly error?: string;
  readonly payload: unknown;
  readonly date: string;
}

export interface ReceivedPush {
  readonly id: string;
  readonly endpoint: string;
  /** Whether the VAPID authorization checked and the body decrypted. */
  readonly verified: boolean;
  readonly error?: string;
  /** The decrypted payload (the exchange's `{id, type, title, body, data}`). */
  readonly payload?: unknown;
  readonly claims?: { readonly aud: string; readonly exp: number; readonly sub: string };
  readonly date: string;
}

/** A push subscription of the stand-in, as a browser's `PushSubscription.toJSON()`. */
export interface DevPushSubscription {
  readonly endpoint: string;
  readonly keys: { readonly p256dh: string; readonly auth: string };
}

export interface DevChannels {
  /** The SMS API base the SMS channel is pointed at. */
  readonly smsApiUrl: string;
  /** The origin of the stand-in (a webhook URL under it, `{origin}/webhooks/{name}`, is allowed in development). */
  readonly origin: string;
  readonly webhookUrl: string;
  /** Newest first. */
  sms(): Promise<CaughtSms[]>;
  webhooks(): Promise<ReceivedWebhook[]>;
  /** Whether `url` is a push endpoint of this stand-in (the one loopback push target allowed in development). */
  isPushEndpoint(url: string): boolean;
  /** A new push subscription at this stand-in (kept under `{dir}`, so it survives a restart). */
  subscribePush(): Promise<DevPushSubscription>;
  push(): Promise<ReceivedPush[]>;
  close(): Promise<void>;
}

export interface DevChannelsOptions {
  readonly dir: string;
  readonly log: Logger;
  readonly accountSid: string;
  readonly authToken: string;
  /** The webhook secrets of the users whose webhook URL is `url`. */
  readonly secretsFor: (url: string) => Promise<readonly string[]>;
  /** The exchange's VAPID public key (base64url), which push requests must be signed with. */
  readonly vapidPublicKey: string;
}

const StoredSubscriptions = z.record(
  z.string(),
  z.object({ privateKey: z.string(), auth: z.string(), created: z.number() }),
);

const SmsForm = z.object({
  To: z.string().min(1).max(32),
  From: z.string().min(1).max(32),
  Body: z.string().max(1600),
});

function readBody(request: http.IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function answer(response: http.ServerResponse, status: number, body: object): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function startDevChannels(options: DevChannelsOptions): Promise<DevChannels> {
  const { dir, log } = options;
  const smsDir = path.join(dir, 'sms');
  const hookDir = path.join(dir, 'webhooks');
  const pushDir = path.join(dir, 'push');
  const subscriptionsFile = path.join(dir, 'push-subscriptions.json');
  await mkdir(smsDir, { recursive: true });
  await mkdir(hookDir, { recursive: true });
  await mkdir(pushDir, { recursive: true });
  const subscriptions = new Map<string, { privateKey: string; auth: string; created: number }>();
  try {
    const stored = StoredSubscriptions.safeParse(JSON.parse(await readFile(subscriptionsFile, 'utf8')));
    if (stored.success) for (const [id, keys] of Object.entries(stored.data)) subscriptions.set(id, keys);
  } catch {
    // none kept yet
  }
  let counter = 0;
  const nextId = () => `${Date.now()}-${String(counter++).padStart(6, '0')}`;
  let origin = '';

  const keep = async (folder: string, id: string, record: object) => {
    await writeFile(path.join(folder, `${id}.json`), JSON.stringify(record, null, 2));
    const files = (await readdir(folder)).filter((f) => f.endsWith('.json')).sort();
    for (const old of files.slice(0, Math.max(0, files.length - MAX_KEPT)))
      await unlink(path.join(folder, old));
  };
  const list = async <T>(folder: string): Promise<T[]> => {
    const files = (await readdir(folder))
      .filter((f) => f.endsWith('.json'))
      .sort()
      .reverse();
    return Promise.all(
      files
        .slice(0, LISTED)
        .map(async (file) => JSON.parse(await readFile(path.join(folder, file), 'utf8')) as T),
    );
  };

  const sms = async (request: http.IncomingMessage, response: http.ServerResponse, sid: string) => {
    const expected = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
    if (sid !== options.accountSid || !sameText(request.headers.authorization ?? '', expected)) {
      answer(response, 401, { code: 20003, message: 'Authenticate', status: 401 });
      return;
    }
    const body = await readBody(request);
    if (body === undefined) {
      answer(response, 413, { code: 21617, message: 'too large', status: 413 });
      return;
    }
    const form = SmsForm.safeParse(Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
    if (!form.success) {
      answer(response, 400, { code: 21604, message: 'To, From and Body are required', status: 400 });
      return;
    }
    const id = nextId();
    const message: CaughtSms = {
      id,
      sid: `SM${id.replace(/\D/g, '').padEnd(32, '0').slice(0, 32)}`,
      to: form.data.To,
      from: form.data.From,
      body: form.data.Body,
      date: new Date().toISOString(),
    };
    await keep(smsDir, id, message);
    log.info({ id, to: message.to }, 'SMS caught (GET /dev/notifications)');
    answer(response, 201, {
      sid: message.sid,
      account_sid: sid,
      to: message.to,
      from: message.from,
      body: message.body,
      status: 'queued',
    });
  };

  const webhook = async (request: http.IncomingMessage, response: http.ServerResponse) => {
    const body = await readBody(request);
    if (body === undefined) {
      answer(response, 413, { error: 'too large' });
      return;
    }
    const url = `${origin}${request.url ?? ''}`;
    const text = body.toString('utf8');
    const headers = {
      'webhook-id': String(request.headers['webhook-id'] ?? ''),
      'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''),
      'webhook-signature': String(request.headers['webhook-signature'] ?? ''),
    };
    let payload: unknown;
    let error: string | undefined = 'no user has this URL as their webhook';
    for (const secret of await options.secretsFor(url)) {
      try {
        payload = new Webhook(secret).verify(text, headers);
        error = undefined;
        break;
      } catch (caught) {
        error = caught instanceof Error ? caught.message : String(caught);
      }
    }
    const id = nextId();
    const record: ReceivedWebhook = {
      id,
      url,
      webhookId: headers['webhook-id'],
      verified: error === undefined,
      ...(error === undefined ? {} : { error }),
      payload: payload ?? text.slice(0, 2000),
      date: new Date().toISOString(),
    };
    await keep(hookDir, id, record);
    log.info({ id, url, verified: record.verified }, 'webhook received (GET /dev/notifications)');
    if (error === undefined) answer(response, 200, { received: true });
    else answer(response, 401, { error });
  };

  const pushMessage = async (request: http.IncomingMessage, response: http.ServerResponse, id: string) => {
    const body = await readBody(request);
    if (body === undefined) {
      answer(response, 413, { error: 'too large' });
      return;
    }
    const keys = subscriptions.get(id);
    if (keys === undefined) {
      answer(response, 404, { error: 'no such subscription' });
      return;
    }
    const record: { -readonly [K in keyof ReceivedPush]: ReceivedPush[K] } = {
      id: nextId(),
      endpoint: `${origin}/push/${id}`,
      verified: false,
      date: new Date().toISOString(),
    };
    let status = 201;
    try {
      if (request.headers['content-encoding'] !== 'aes128gcm') throw new Error('the body is not aes128gcm');
      record.claims = verifyVapid(request.headers.authorization, origin, options.vapidPublicKey);
    } catch (error) {
      record.error = error instanceof Error ? error.message : String(error);
      status = 403;
    }
    if (status === 201) {
      try {
        const ecdh = createECDH('prime256v1');
        ecdh.setPrivateKey(Buffer.from(keys.privateKey, 'base64url'));
        const plain = decryptPush(body, ecdh, Buffer.from(keys.auth, 'base64url'));
        record.payload = JSON.parse(plain.toString('utf8'));
        record.verified = true;
      } catch (error) {
        record.error = `does not decrypt: ${error instanceof Error ? error.message : String(error)}`;
        status = 400;
      }
    }
    await keep(pushDir, record.id, record);
    log.info({ id: record.id, verified: record.verified }, 'push received (GET /dev/notifications)');
    if (status === 201) answer(response, 201, {});
    else answer(response, status, { error: record.error });
  };

  const server = http.createServer((request, response) => {
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    const smsPath = /^\/2010-04-01\/Accounts\/([^/]{1,64})\/Messages\.json$/.exec(pathname);
    const pushPath = /^\/push\/([A-Za-z0-9_-]{1,64})$/.exec(pathname);
    const handled =
      request.method !== 'POST'
        ? undefined
        : smsPath !== null
          ? sms(request, response, decodeURIComponent(smsPath[1]!))
          : /^\/webhooks\/[A-Za-z0-9_-]{1,64}$/.test(pathname)
            ? webhook(request, response)
            : pushPath !== null
              ? pushMessage(request, response, pushPath[1]!)
              : undefined;
    if (handled === undefined) return answer(response, 404, { error: 'not found' });
    handled.catch((error: unknown) => {
      log.warn({ err: error }, 'development channel stand-in failed');
      if (!response.headersSent) answer(response, 500, { error: 'failed' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  const webhookUrl = `${origin}/webhooks/dev`;
  log.info(
    { port, dir, webhookUrl },
    'SMS_API_URL is not set: SMS go to the local stand-in; webhooks can go to it too (GET /dev/notifications)',
  );
  return {
    smsApiUrl: origin,
    origin,
    webhookUrl,
    sms: () => list<CaughtSms>(smsDir),
    webhooks: () => list<ReceivedWebhook>(hookDir),
    isPushEndpoint(url) {
      try {
        const parsed = new URL(url);
        return parsed.origin === origin && /^\/push\/[A-Za-z0-9_-]{1,64}$/.test(parsed.pathname);
      } catch {
        return false;
      }
    },
    async subscribePush() {
      const id = randomBytes(12).toString('base64url');
      const made = pushSubscription(`${origin}/push/${id}`);
      subscriptions.set(id, {
        privateKey: made.ecdh.getPrivateKey().toString('base64url'),
        auth: made.auth.toString('base64url'),
        created: Date.now(),
      });
      // The oldest go beyond MAX_SUBSCRIPTIONS (a Map keeps insertion order).
      for (const old of [...subscriptions.keys()].slice(
        0,
        Math.max(0, subscriptions.size - MAX_SUBSCRIPTIONS),
      ))
        subscriptions.delete(old);
      await writeFile(subscriptionsFile, JSON.stringify(Object.fromEntries(subscriptions), null, 2));
      return made.subscription;
    },
    push: () => list<ReceivedPush>(pushDir),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
