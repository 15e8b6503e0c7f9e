import { createECDH, createHmac, createDecipheriv, createPublicKey, randomBytes, verify } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { Webhook } from 'standardwebhooks';

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

/** A browser's push subscription: a P-256 key pair and an auth secret, at `endpoint`. */
export function pushSubscription(endpoint: string) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return {
    ecdh,
    auth,
    subscription: {
      endpoint,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
    },
  };
}

const hmac = (key: Buffer, data: Buffer) => createHmac('sha256', key).update(data).digest();

/** RFC 8291 + RFC 8188 (aes128gcm, one record): the plaintext of a push message. */
export function decryptPush(body: Buffer, ecdh: ReturnType<typeof createECDH>, auth: Buffer): Buffer {
  const salt = body.subarray(0, 16);
  const idlen = body[20]!;
  const senderPublic = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  const secret = ecdh.computeSecret(senderPublic);
  const prkKey = hmac(auth, secret);
  const keyInfo = Buffer.concat([
    Buffer.from('WebPush: info\0'),
    ecdh.getPublicKey(),
    senderPublic,
    Buffer.from([1]),
  ]);
  const ikm = hmac(prkKey, keyInfo);
  const prk = hmac(salt, ikm);
  const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0\x01')).subarray(0, 16);
  const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0\x01')).subarray(0, 12);
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([
    decipher.update(ciphertext.subarray(0, ciphertext.length - 16)),
    decipher.final(),
  ]);
  const end = padded.lastIndexOf(2); // the last record's delimiter, then zero padding
  return padded.subarray(0, end);
}

/** Checks `Authorization: vapid t=<JWT>, k=<key>` (RFC 8292): ES256 under k, aud the origin; answers the claims. */
export function verifyVapid(header: string | undefined, origin: string, expectedKey: string) {
  const match = /^vapid t=([^,]+),\s*k=(.+)$/.exec(header ?? '');
  if (match === null) throw new Error(`not a VAPID authorization: ${header ?? '(none)'}`);
  const [, jwt, key] = match as unknown as [string, string, string];
  if (key !== expectedKey) throw new Error('the VAPID key is not the exchange’s');
  const [head, payload, signature] = jwt.split('.') as [string, string, string];
  const raw = Buffer.from(key, 'base64url');
  const publicKey = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: raw.subarray(1, 33).toString('base64url'),
      y: raw.subarray(33, 65).toString('base64url'),
    },
    format: 'jwk',
  });
  const ok = verify(
    'sha256',
    Buffer.from(`${head}.${payload}`),
    { key: publicKey, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url'),
  );
  if (!ok) throw new Error('the VAPID signature does not verify');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as PushMessage['claims'];
  if (claims.aud !== origin) throw new Error(`aud ${claims.aud} is not ${origin}`);
  if (claims.exp * 1000 < Date.now()) throw new Error('the VAPID token expired');
  return claims;
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
