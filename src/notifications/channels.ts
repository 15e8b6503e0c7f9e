/**
 * The delivery channels: one BullMQ queue per channel with its own worker, a per-provider rate
 * limit (the queue's limiter) and jobs keyed by notification and channel (a second enqueue is a
 * no-op). The dispatcher moves the outbox's pending rows into the queues, delayed to their release
 * (quiet hours, digest windows). Email, SMS and push retry with exponential backoff; a delivery
 * that fails for good falls back to the user's next channel (SMS down → push → email). Webhooks
 * retry on their own schedule (seconds, minutes, hours) with one `webhook-id`, and the endpoint is
 * disabled after the last attempt, its owner told (`webhook_disabled`).
 */

import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import { z } from 'zod/v4';
import type { Config } from '../config.ts';
import { openJobQueue, type JobPlacement, type OpenedJobQueue } from '../jobs/queue.ts';
import {
  addDelivery,
  deliveryStats,
  digestGroup,
  loadDeliveries,
  markQueued,
  pendingDeliveries,
  recordAttempt,
  recordOutcome,
  recordSent,
  removePushSubscription,
  type Delivery,
} from './deliveries.ts';
import {
  notificationLatency,
  notificationsFailed,
  notificationsRetried,
  notificationsSent,
} from './metrics.ts';
import { DEFAULT_PREFERENCES, deliveryChannels, digestWindowS, Preferences } from './preferences.ts';
import {
  EmailProvider,
  sendChat,
  sendPush,
  sendSms,
  sendWebhook,
  type SendResult,
  type VapidDetails,
} from './providers.ts';
import { Coalescer } from './coalesce.ts';
import type { NotificationService } from './service.ts';
import { isDevOrigin } from './targets.ts';
import { setChannelEnabled } from './store.ts';
import type { Templates } from './templates.ts';
import { DELIVERY_CHANNELS, QUIET_CHANNELS, type DeliveryChannel, type NotificationType } from './types.ts';

export const DeliveryJob = z.object({
  notificationId: z.string().regex(/^[0-9]{1,18}$/),
  /** Webhooks: which retry of the schedule this is (0: the first attempt). */
  retry: z.number().int().min(0).max(100).optional(),
});

/** Where a delivery goes when its channel fails for good. */
const FALLBACK: Record<DeliveryChannel, readonly DeliveryChannel[]> = {
  sms: ['push', 'email'],
  push: ['email', 'sms'],
  email: ['push', 'sms'],
  webhook: [],
  slack: [],
  discord: [],
};

export interface Channels {
  /** Moves pending outbox rows into the queues now (a new notification, a fallback). */
  wake(): void;
  /** Runs the dispatcher once (tests, shutdown). */
  dispatch(): Promise<number>;
  /** Queue depths and recent failures (GET /admin/notifications/queues). */
  stats(): Promise<object>;
  close(): Promise<void>;
}

export interface ChannelsOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly pool: DatabasePool;
  readonly service: NotificationService;
  readonly templates: Templates;
  readonly redisUrl: string;
  readonly prefix: string;
  /** Where the channels' work runs (src/app/roles.ts); default here. */
  readonly placement?: JobPlacement;
  readonly vapid: { readonly publicKey: string; readonly privateKey: string };
  /** The SMTP server when SMTP_URL is unset (the local catcher of `npm start`). */
  readonly smtpUrl?: string;
  /** The SMS API when SMS_API_URL is unset (the loopback stand-in of `npm start`, devChannels.ts). */
  readonly smsApiUrl?: string;
  /** The development webhook receiver's loopback origin, which webhooks may reach in development. */
  readonly devWebhookOrigin?: string;
  /** Whether a push endpoint is the development push stand-in's, which push may reach in development. */
  readonly isDevPushEndpoint?: (url: string) => boolean;
}

interface Composed {
  readonly title: string;
  readonly body: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly sms: string;
}

export async function startChannels(options: ChannelsOptions): Promise<Channels> {
  const { config, log, pool, service, templates } = options;
  const allowPrivate = config.NOTIFY_ALLOW_PRIVATE_TARGETS;
  const smtpUrl = config.SMTP_URL ?? options.smtpUrl;
  const smsApiUrl = config.SMS_API_URL ?? options.smsApiUrl;
  const email =
    smtpUrl === undefined
      ? undefined
      : new EmailProvider(smtpUrl, config.NOTIFY_FROM, {
          connections: config.NOTIFY_SMTP_CONNECTIONS,
          messagesPerConnection: config.NOTIFY_SMTP_MESSAGES_PER_CONNECTION,
        });
  const vapid: VapidDetails = { ...options.vapid, subject: config.VAPID_SUBJECT };
  const schedule = config.NOTIFY_WEBHOOK_SCHEDULE_S;
  const queues = new Map<DeliveryChannel, OpenedJobQueue<typeof DeliveryJob>>();
  for (const channel of DELIVERY_CHANNELS) {
    queues.set(
      channel,
      await openJobQueue({
        name: `notify-${channel}`,
        redisUrl: options.redisUrl,
        prefix: options.prefix,
        placement: options.placement,
        payload: DeliveryJob,
        // Webhooks retry on their own schedule, as new delayed jobs (attempts of days do not fit backoff).
        attempts: channel === 'webhook' ? 1 : config.NOTIFY_ATTEMPTS,
        backoffMs: config.NOTIFY_BACKOFF_MS,
        concurrency: config.NOTIFY_CONCURRENCY,
        limiter: { max: config.NOTIFY_RATE_PER_S, durationMs: 1_000 },
        log,
        logDone: 'debug',
      }),
    );
  }
  const enqueue = (channel: DeliveryChannel, jobId: string, data: z.input<typeof DeliveryJob>, delayMs = 0) =>
    queues.get(channel)!.enqueue(jobId, data, { delayMs });

  // Every job's read of its delivery and write of its success go in batches (coalesce.ts): a round
  // trip and a pool checkout per job held email near 250/s (bench:notify, bench/RESULTS.md).
  type Key = { readonly notificationId: string; readonly channel: DeliveryChannel };
  const reads = new Coalescer<Key, Delivery | undefined>((keys) => loadDeliveries(pool, keys));
  const sentWrites = new Coalescer<Key, undefined>(async (keys) => {
    await recordSent(pool, keys);
    return keys.map(() => undefined);
  });
  const loadDelivery = (notificationId: string, channel: DeliveryChannel) =>
    reads.call({ notificationId, channel });
  const markSent = (ids: readonly string[], channel: DeliveryChannel) =>
    Promise.all(ids.map((notificationId) => sentWrites.call({ notificationId, channel })));

  const preferencesOf = (delivery: Delivery): Preferences => {
    const parsed = Preferences.safeParse(delivery.preferences);
    return parsed.success ? parsed.data : DEFAULT_PREFERENCES;
  };

  /** The message of one delivery, or of a digest's group ("3 orders filled on LUXAPT-USDC"). */
  const compose = (group: readonly Delivery[], prefs: Preferences, channel: DeliveryChannel): Composed => {
    const first = group[0]!.notification;
    const type = first.type as NotificationType;
    const unsubscribeUrl = service.unsubscribeUrl(first.userId, type, channel);
    if (group.length === 1) {
      return templates.render(type, first.data, { locale: prefs.locale, unsubscribeUrl });
    }
    const title = digestTitle(type, group);
    const body = group.map((d) => `• ${d.notification.title}`).join('\n');
    const text = `${title}\n\n${body}\n\n--\nStop these emails: ${unsubscribeUrl}`;
    const escape = (s: string) =>
      s.replace(
        /[&<>"']/g,
        (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
      );
    const html =
      `<!doctype html><html><body><h2>${escape(title)}</h2><ul>` +
      group.map((d) => `<li>${escape(d.notification.title)}</li>`).join('') +
      `</ul><p style="font-size:12px;color:#666"><a href="${escape(unsubscribeUrl)}">Unsubscribe from these emails</a></p></body></html>`;
    return {
      title,
      body,
      subject: title,
      text,
      html,
      sms: `${title}: ${group.map((d) => d.notification.title).join('; ')}`,
    };
  };

  const send = async (
    channel: Exclude<DeliveryChannel, 'webhook'>,
    prefs: Preferences,
    message: Composed,
    delivery: Delivery,
  ): Promise<SendResult> => {
    const channels = prefs.channels;
    switch (channel) {
      case 'email':
        if (email === undefined) return { outcome: 'refused', detail: 'SMTP_URL is not set' };
        return email.send({
          id: delivery.notification.id,
          to: channels.email!.address,
          subject: message.subject,
          text: message.text,
          html: message.html,
          unsubscribeUrl: service.unsubscribeUrl(
            delivery.notification.userId,
            delivery.notification.type,
            'email',
          ),
        });
      case 'sms':
        if (smsApiUrl === undefined) return { outcome: 'refused', detail: 'SMS_API_URL is not set' };
        return sendSms(
          {
            apiUrl: smsApiUrl,
            accountSid: config.SMS_ACCOUNT_SID,
            authToken: config.SMS_AUTH_TOKEN,
            from: config.SMS_FROM,
          },
          channels.sms!.phone,
          message.sms,
        );
      case 'push': {
        const n = delivery.notification;
        const payload = JSON.stringify({
          id: n.id,
          type: n.type,
          title: message.title,
          body: message.body,
          data: n.data,
        });
        const subscription = channels.push!.subscription;
        const devPush = options.isDevPushEndpoint?.(subscription.endpoint) === true;
        return sendPush(subscription, payload, vapid, allowPrivate || devPush);
      }
      case 'slack':
      case 'discord':
        return sendChat(channel, channels[channel]!.url, message.title, message.body, allowPrivate);
    }
  };

  const succeeded = (channel: DeliveryChannel, group: readonly Delivery[]) => {
    const now = Date.now();
    for (const d of group) {
      notificationsSent.inc({ channel });
      notificationLatency.observe({ channel }, Math.max(0, now - d.notification.ts) / 1000);
    }
  };

  /** A delivery failed for good: recorded, and handed to the user's next channel for the type. */
  const failedForGood = async (
    channel: DeliveryChannel,
    group: readonly Delivery[],
    prefs: Preferences,
    detail: string,
  ) => {
    const ids = group.map((d) => d.notification.id);
    await recordOutcome(pool, ids, channel, 'failed', detail);
    notificationsFailed.inc({ channel }, group.length);
    const type = group[0]!.notification.type as NotificationType;
    const wanted = deliveryChannels(prefs, type, 'fallback');
    let added = false;
    for (const next of FALLBACK[channel]) {
      if (!wanted.includes(next)) continue;
      for (const id of ids) added = (await addDelivery(pool, id, next)) || added;
      if (added) break;
    }
    log.warn({ channel, notifications: ids, detail, fallback: added }, 'notification delivery failed');
    if (added) wake();
  };

  const runDelivery = async (
    channel: Exclude<DeliveryChannel, 'webhook'>,
    job: z.output<typeof DeliveryJob>,
    attempt: { number: number; final: boolean },
  ) => {
    const delivery = await loadDelivery(job.notificationId, channel);
    if (delivery === undefined || (delivery.status !== 'queued' && delivery.status !== 'pending')) return;
    const prefs = preferencesOf(delivery);
    const type = delivery.notification.type as NotificationType;
    if (![...deliveryChannels(prefs, type), ...deliveryChannels(prefs, type, 'fallback')].includes(channel)) {
      await recordOutcome(
        pool,
        [delivery.notification.id],
        channel,
        'skipped',
        'the channel is off for this type',
      );
      return;
    }
    let group = [delivery];
    if (QUIET_CHANNELS.has(channel) && digestWindowS(prefs, type) !== undefined) {
      group = await digestGroup(pool, delivery, channel);
      // The oldest of the window sends for all of it; the others find their rows sent.
      if (group.length === 0 || group[0]!.notification.id !== delivery.notification.id) return;
    }
    const result = await send(channel, prefs, compose(group, prefs, channel), delivery);
    const ids = group.map((d) => d.notification.id);
    switch (result.outcome) {
      case 'sent':
        await markSent(ids, channel);
        succeeded(channel, group);
        return;
      case 'gone':
        await removePushSubscription(
          pool,
          delivery.notification.userId,
          prefs.channels.push?.subscription.endpoint ?? '',
        );
        await failedForGood(channel, group, prefs, result.detail);
        return;
      case 'refused':
        await failedForGood(channel, group, prefs, result.detail);
        return;
      case 'retry':
        if (attempt.final) {
          await failedForGood(channel, group, prefs, result.detail);
          return;
        }
        await recordAttempt(pool, delivery.notification.id, channel, result.detail);
        notificationsRetried.inc({ channel });
        throw new Error(result.detail);
    }
  };

  const runWebhook = async (job: z.output<typeof DeliveryJob>) => {
    const delivery = await loadDelivery(job.notificationId, 'webhook');
    // `pending` too: a job can run before the dispatcher has marked its row queued.
    if (delivery === undefined || (delivery.status !== 'queued' && delivery.status !== 'pending')) return;
    const prefs = preferencesOf(delivery);
    const n = delivery.notification;
    const hook = prefs.channels.webhook;
    if (hook === undefined || !hook.enabled || delivery.webhookSecret === null) {
      await recordOutcome(pool, [n.id], 'webhook', 'skipped', 'the webhook is off');
      return;
    }
    const webhookId = `msg_n${n.id}`;
    const payload = JSON.stringify({
      type: `notification.${n.type}`,
      timestamp: new Date(n.ts).toISOString(),
      data: { id: n.id, type: n.type, title: n.title, body: n.body, data: n.data, ts: n.ts },
    });
    const result = await sendWebhook(
      hook.url,
      delivery.webhookSecret,
      webhookId,
      payload,
      allowPrivate || isDevOrigin(hook.url, options.devWebhookOrigin),
    );
    if (result.outcome === 'sent') {
      await markSent([n.id], 'webhook');
      succeeded('webhook', [delivery]);
      return;
    }
    const retry = job.retry ?? 0;
    if (result.outcome === 'retry' && retry < schedule.length) {
      await recordAttempt(pool, n.id, 'webhook', result.detail, webhookId);
      notificationsRetried.inc({ channel: 'webhook' });
      await enqueue(
        'webhook',
        `${n.id}-webhook-r${retry + 1}`,
        { notificationId: n.id, retry: retry + 1 },
        schedule[retry]! * 1000,
      );
      return;
    }
    await recordOutcome(pool, [n.id], 'webhook', 'failed', result.detail);
    notificationsFailed.inc({ channel: 'webhook' });
    if (result.outcome === 'retry') {
      // The schedule ran out: the endpoint is disabled and its owner told (in-app and other channels).
      await setChannelEnabled(pool, n.userId, 'webhook', false);
      const days = Math.max(1, Math.round(schedule.reduce((a, b) => a + b, 0) / 86_400));
      await service.notify(
        [n.userId],
        'webhook_disabled',
        { url: hook.url, days },
        `webhook-disabled:${n.id}`,
      );
      log.warn({ userId: n.userId, notification: n.id }, 'webhook disabled after its retry schedule');
    }
  };

  for (const [channel, queue] of queues) {
    await queue.work((job, attempt) =>
      channel === 'webhook' ? runWebhook(job) : runDelivery(channel, job, attempt),
    );
  }

  // The dispatcher: one pass at a time; a wake during a pass runs one more.
  let passing: Promise<number> | undefined;
  let again = false;
  let closed = false;
  const pass = async (): Promise<number> => {
    let total = 0;
    for (;;) {
      const due = await pendingDeliveries(pool, 500);
      const now = Date.now();
      // In parallel: one Redis round trip per job in sequence held email near 250/s (bench:notify).
      await Promise.all(
        due.map((d) =>
          enqueue(
            d.channel,
            `${d.notificationId}-${d.channel}`,
            { notificationId: d.notificationId },
            d.releaseAt - now,
          ),
        ),
      );
      await markQueued(pool, due);
      total += due.length;
      if (due.length < 500) return total;
    }
  };
  const dispatch = (): Promise<number> => {
    if (passing !== undefined) {
      again = true;
      return passing;
    }
    const run = pass().finally(() => {
      passing = undefined;
      if (again && !closed) {
        again = false;
        void dispatch().catch((error: unknown) => {
          log.warn({ err: error }, 'notification dispatch failed');
        });
      }
    });
    passing = run;
    return run;
  };
  const wake = () => {
    if (closed) return;
    dispatch().catch((error: unknown) => {
      log.warn({ err: error }, 'notification dispatch failed');
    });
  };
  // Also on a timer: rows a crash left pending, fallbacks written by another process.
  const timer = setInterval(wake, 1_000);
  timer.unref();
  wake();

  return {
    wake,
    dispatch,
    async stats() {
      const queueCounts: Record<string, Record<string, number>> = {};
      for (const [channel, queue] of queues) queueCounts[channel] = await queue.counts();
      return { queues: queueCounts, ...(await deliveryStats(pool)) };
    },
    async close() {
      closed = true;
      clearInterval(timer);
      await passing?.catch(() => undefined);
      for (const queue of queues.values()) await queue.close();
      email?.close();
    },
  };
}

/** "3 orders filled on LUXAPT-USDC": a digest's one line. */
export function digestTitle(
  type: NotificationType,
  group: readonly { notification: { data: Record<string, unknown> } }[],
): string {
  const markets = new Set(group.map((d) => d.notification.data.market).filter((m) => typeof m === 'string'));
  const on = markets.size === 1 ? ` on ${[...markets][0] as string}` : '';
  const n = group.length;
  switch (type) {
    case 'order_filled':
      return `${n} orders filled${on}`;
    case 'price_alert':
      return `${n} price alerts${on}`;
    case 'market_lifecycle':
      return `${n} market changes${on}`;
    default:
      return `${n} notifications (${type.replace(/_/g, ' ')})${on}`;
  }
}
