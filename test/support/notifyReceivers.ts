import type { createECDH } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { Webhook } from 'standardwebhooks';
import { decryptPush, pushSubscription, verifyVapid } from '../../src/notifications/webPushService.ts';

export { decryptPush, pushSubscription, verifyVapid };

/**
 * Loopback stand-ins that speak each provider's documented protocol, for the notification
 * channel tests: an SMTP server (smtp-server; messages parsed with mailparser), a Twilio-shaped
 * SMS API, a Web Push service that checks the VAPID JWT (RFC 8292) and decrypts aes128gcm
 * (RFC 8188/8291) with the subscription's private key, a Standard Webhooks receiver that verifies
 * signatures, and a chat hook (Slack/Discord shape).
 */

export interface SmtpCatcher {
  readonly url: string;
  readonly messages: ParsedMail[];
  close(): Promise<void>;
}

export async function startSmtp(): Promise<SmtpCatcher> {
  const messages: ParsedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (mail) => {
          messages.push(mail);
          callback();
        },
        (error: unknown) => {
          callback(error as Error);
        },
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface Received {
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** An HTTP server answering each request with `answer(request)`; every request recorded. */
async function receiver(answer: (r: Received) => { status: number; body?: string }) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      received.push(r);
      const { status, body } = answer(r);
      res.writeHead(status, { 'content-type': 'application/json' }).end(body ?? '{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface SmsMessage {
  readonly to: string;
  readonly from: string;
  readonly body: string;
}

/** Twilio's Messages API: basic auth with the account's sid and token, form fields To, From, Body. */
export async function startSms(sid: string, token: string) {
  const state = { down: false, messages: [] as SmsMessage[] };
  const server = await receiver((r) => {
    if (state.down) return { status: 503, body: '{"message":"down"}' };
    const auth = `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`;
    if (r.headers.authorization !== auth) return { status: 401 };
    if (r.path !== `/2010-04-01/Accounts/${sid}/Messages.json`) return { status: 404 };
    if (r.headers['content-type'] !== 'application/x-www-form-urlencoded') return { status: 400 };
    const form = new URLSearchParams(r.body.toString('utf8'));
    state.messages.push({
      to: form.get('To') ?? '',
      from: form.get('From') ?? '',
      body: form.get('Body') ?? '',
    });
    return { status: 201, body: JSON.stringify({ sid: `SM${state.messages.length}`, status: 'queued' }) };
  });
  return { ...server, state };
}

export interface PushMessage {
  readonly payload: unknown;
  readonly claims: { aud: string; exp: number; sub: string };
}

/** A push service: `/gone/*` answers 410; others check VAPID and decrypt with the subscriber's keys. */
export async function startPushService(vapidKey: () => string) {
  const subscribers = new Map<string, { ecdh: ReturnType<typeof createECDH>; auth: Buffer }>();
  const messages: PushMessage[] = [];
  const errors: string[] = [];
  const server = await receiver((r) => {
    if (r.path.startsWith('/gone/')) return { status: 410 };
    try {
      if (r.headers['content-encoding'] !== 'aes128gcm') throw new Error('not aes128gcm');
      const claims = verifyVapid(r.headers.authorization, server.url, vapidKey());
      const keys = subscribers.get(r.path);
      if (keys === undefined) return { status: 404 };
      const plain = decryptPush(r.body, keys.ecdh, keys.auth);
      messages.push({ payload: JSON.parse(plain.toString('utf8')), claims });
      return { status: 201 };
    } catch (error) {
      errors.push((error as Error).message);
      return { status: 400 };
    }
  });
  return {
    ...server,
    messages,
    errors,
    subscribe(path: string) {
      const sub = pushSubscription(`${server.url}${path}`);
      subscribers.set(path, { ecdh: sub.ecdh, auth: sub.auth });
      return sub.subscription;
    },
  };
}

/** A Standard Webhooks receiver: verifies each delivery's signature; fails the first `failures`. */
export async function startWebhookReceiver() {
  const state = {
    secret: '',
    failures: 0,
    deliveries: [] as { id: string; verified: boolean; payload: unknown }[],
  };
  const server = await receiver((r) => {
    const id = String(r.headers['webhook-id']);
    let verified = false;
    let payload: unknown;
    try {
      payload = new Webhook(state.secret).verify(r.body.toString('utf8'), {
        'webhook-id': id,
        'webhook-timestamp': String(r.headers['webhook-timestamp']),
        'webhook-signature': String(r.headers['webhook-signature']),
      });
      verified = true;
    } catch {
      verified = false;
    }
    state.deliveries.push({ id, verified, payload });
    if (!verified) return { status: 401 };
    if (state.failures > 0) {
      state.failures--;
      return { status: 500 };
    }
    return { status: 200 };
  });
  return { ...server, state };
}

/** Slack or Discord incoming webhook: records the JSON posted. */
export async function startChatHook() {
  return receiver(() => ({ status: 200, body: 'ok' }));
}
