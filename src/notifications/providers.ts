/**
 * One provider per channel (Novu's shape): each sends one message and answers what happened —
 * `sent`, `retry` (a failure another attempt may cure: network, 429, 5xx), `gone` (the target
 * says it no longer exists: a push subscription's 404/410) or `refused` (no attempt can succeed:
 * a 4xx, a target the SSRF guard refuses). Protocols: SMTP through nodemailer; SMS as a Twilio
 * Messages request; Web Push (VAPID, aes128gcm) encrypted by `web-push` and sent through the
 * guarded client; webhooks signed as Standard Webhooks; Slack and Discord incoming webhooks.
 */

import nodemailer, { type Transporter } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import { Webhook } from 'standardwebhooks';
import webpush from 'web-push';
import type { PushSubscription } from './preferences.ts';
import { sendToTarget, TargetRefused, type TargetResponse } from './targets.ts';

export type SendResult =
  | { readonly outcome: 'sent'; readonly detail?: string }
  | { readonly outcome: 'retry' | 'gone' | 'refused'; readonly detail: string };

const TIMEOUT_MS = 10_000;

function httpOutcome(response: TargetResponse, what: string): SendResult {
  const { status } = response;
  if (status >= 200 && status < 300) return { outcome: 'sent' };
  const detail = `${what} answered ${status}: ${response.body.slice(0, 200)}`;
  if (status === 429 || status >= 500 || status === 408) return { outcome: 'retry', detail };
  return { outcome: 'refused', detail };
}

function errorOutcome(error: unknown, what: string): SendResult {
  if (error instanceof TargetRefused) return { outcome: 'refused', detail: error.message };
  return { outcome: 'retry', detail: `${what}: ${error instanceof Error ? error.message : String(error)}` };
}

export interface EmailMessage {
  /** The notification's id (header X-Notification-Id: a receiver can tell a resend from a new one). */
  readonly id: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly unsubscribeUrl: string;
}

export class EmailProvider {
  readonly #transport: Transporter;
  readonly #from: string;

  constructor(smtpUrl: string, from: string, pool: { connections: number; messagesPerConnection: number }) {
    // Pooled and kept: a connection per message held email near 60/s in bench:notify, and
    // nodemailer's default of 100 messages per connection reconnects often (bench/RESULTS.md).
    // Parameters in SMTP_URL (pool, maxConnections, maxMessages) win over these.
    this.#transport = nodemailer.createTransport({
      url: smtpUrl,
      pool: true,
      maxConnections: pool.connections,
      maxMessages: pool.messagesPerConnection,
    });
    this.#from = from;
  }

  async send(message: EmailMessage): Promise<SendResult> {
    try {
      // Built whole, then sent as one buffer: nodemailer's streamed build wrote each MIME piece to
      // the socket as a write of its own (the largest CPU item of bench:notify after batching).
      const node = new MailComposer({
        from: this.#from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        headers: {
          'X-Notification-Id': message.id,
          // What nodemailer's `list` option writes (the composer alone does not): our own signed
          // URL, no CR/LF in it (service.unsubscribeUrl).
          'List-Unsubscribe': {
            prepared: true,
            value: `<${message.unsubscribeUrl.replace(/[\r\n<>]/g, '')}> (Unsubscribe)`,
          },
        },
      }).compile();
      const raw = await node.build();
      await this.#transport.sendMail({ envelope: node.getEnvelope(), raw });
      return { outcome: 'sent', detail: node.messageId() };
    } catch (error) {
      // 5xx SMTP answers are permanent (a refused recipient); others (4xx, network) are retried.
      const code = (error as { responseCode?: number }).responseCode;
      if (code !== undefined && code >= 500) return { outcome: 'refused', detail: String(error) };
      return errorOutcome(error, 'SMTP');
    }
  }

  close(): void {
    this.#transport.close();
  }
}

export interface SmsSettings {
  readonly apiUrl: string;
  readonly accountSid: string;
  readonly authToken: string;
  readonly from: string;
}

/** Twilio's Messages API shape: form fields To, From, Body; basic auth with the account's sid and token. */
export async function sendSms(settings: SmsSettings, to: string, body: string): Promise<SendResult> {
  const url = `${settings.apiUrl.replace(/\/$/, '')}/2010-04-01/Accounts/${encodeURIComponent(settings.accountSid)}/Messages.json`;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${settings.accountSid}:${settings.authToken}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ To: to, From: settings.from, Body: body.slice(0, 1600) }).toString(),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    return httpOutcome({ status: response.status, body: await response.text() }, 'the SMS API');
  } catch (error) {
    return errorOutcome(error, 'the SMS API');
  }
}

export interface VapidDetails {
  readonly subject: string;
  readonly publicKey: string;
  readonly privateKey: string;
}

/** A Web Push message: encrypted (aes128gcm) and VAPID-signed by web-push, sent through the guarded client. */
export async function sendPush(
  subscription: PushSubscription,
  payload: string,
  vapid: VapidDetails,
  allowPrivate: boolean,
): Promise<SendResult> {
  try {
    const details = webpush.generateRequestDetails(
      { endpoint: subscription.endpoint, keys: subscription.keys },
      payload,
      { vapidDetails: { ...vapid }, contentEncoding: 'aes128gcm', TTL: 24 * 3600 },
    );
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(details.headers)) headers[name] = value;
    const response = await sendToTarget(
      { url: details.endpoint, method: 'POST', headers, body: details.body },
      { allowPrivate, timeoutMs: TIMEOUT_MS, maxRedirects: 0 },
    );
    if (response.status === 404 || response.status === 410) {
      return { outcome: 'gone', detail: `the push service answered ${response.status}` };
    }
    return httpOutcome(response, 'the push service');
  } catch (error) {
    return errorOutcome(error, 'the push service');
  }
}

/** A Standard Webhooks delivery: the same `webhook-id` on every attempt, a new timestamp and signature each. */
export async function sendWebhook(
  url: string,
  secret: string,
  webhookId: string,
  payload: string,
  allowPrivate: boolean,
  now: Date = new Date(),
): Promise<SendResult> {
  try {
    const signature = new Webhook(secret).sign(webhookId, now, payload);
    const response = await sendToTarget(
      {
        url,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': webhookId,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': signature,
        },
        body: payload,
      },
      { allowPrivate, timeoutMs: TIMEOUT_MS },
    );
    // Any non-2xx is retried on the schedule (receivers answer 4xx while misconfigured, too).
    const result = httpOutcome(response, 'the webhook');
    return result.outcome === 'refused' ? { outcome: 'retry', detail: result.detail } : result;
  } catch (error) {
    return errorOutcome(error, 'the webhook');
  }
}

/** Slack (`{text}`) or Discord (`{content}`) incoming webhook. */
export async function sendChat(
  kind: 'slack' | 'discord',
  url: string,
  title: string,
  body: string,
  allowPrivate: boolean,
): Promise<SendResult> {
  const payload =
    kind === 'slack' ? { text: `*${title}*\n${body}` } : { content: `**${title}**\n${body}`.slice(0, 2000) };
  try {
    const response = await sendToTarget(
      { url, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) },
      { allowPrivate, timeoutMs: TIMEOUT_MS },
    );
    return httpOutcome(response, kind);
  } catch (error) {
    return errorOutcome(error, kind);
  }
}
