/**
 * Notifications, started as one part of the exchange (the composition root calls startNotifications
 * once): the notifier (a durable consumer, woken by every flush and by its interval), the in-app
 * pushes on the private `notifications` channel, the service behind the routes, and, with Redis,
 * the dispatcher and the channels' queues and workers (channels.ts). docs/notifications.md.
 */

import type { Logger } from 'pino';
import type { DatabasePool } from 'slonik';
import { z } from 'zod';
import type { Catalog } from '../actors/catalog.ts';
import type { Config } from '../config.ts';
import type { JobPlacement } from '../jobs/queue.ts';
import type { ConsumerGate } from '../persistence/consumerLocks.ts';
import { DurableConsumerRunner } from '../persistence/durableConsumers.ts';
import type { NotificationMessage } from '../protocol/messages.ts';
import { topics, type Publication } from '../protocol/topics.ts';
import { startChannels, type Channels } from './channels.ts';
import { startDevChannels, type DevChannels } from './devChannels.ts';
import { startMailCatcher, type MailCatcher } from './devMail.ts';
import { initNotificationMetrics, notificationsSent, notificationLatency } from './metrics.ts';
import { CHANNELS } from './types.ts';
import { Notifier } from './notifier.ts';
import { inAppEnabled } from './preferences.ts';
import { NotificationService, unsubscribeKey, vapidKeys } from './service.ts';
import { viewOf, type StoredNotification } from './store.ts';
import { TemplateOverride, Templates } from './templates.ts';
import { sql } from 'slonik';

/** Least time between the starts of two rounds woken by flushes, ms. */
const WAKE_GAP_MS = 10;

export { NotificationService } from './service.ts';

export interface Notifications {
  readonly service: NotificationService;
  readonly runner: DurableConsumerRunner;
  readonly channels: Channels | undefined;
  readonly templates: Templates;
  /** Stops the notifier and the channels' workers. */
  close(): Promise<void>;
}

export interface NotificationsOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly pool: DatabasePool;
  readonly catalog: Catalog;
  /** Where in-app pushes go (the consumers' fanout, which the gateway subscribes to). */
  readonly publish: (publications: readonly Publication[]) => void;
  /** Every journal flush (global_seq): wakes the notifier. */
  readonly flushed: { subscribe(listener: (globalSeq: number) => void): void };
  /** BullMQ key prefix (the exchange's). */
  readonly prefix: string;
  /** Where the channels' work runs (src/app/roles.ts); default here. */
  readonly placement?: JobPlacement;
  /** Where the notifier runs (consumerLocks.ts); default here. */
  readonly gate?: ConsumerGate;
}

/** The in-app push of a stored row (PROTOCOL v1.1: `{op:"notification", id, type, title, body, data, ts, read}`). */
export function notificationPush(row: StoredNotification): Publication<NotificationMessage> {
  return {
    topic: topics.private('notifications', row.userId),
    message: { op: 'notification', ...viewOf(row) },
  };
}

const TemplateRow = z.object({ type: z.string(), locale: z.string(), template: z.unknown() });

export async function startNotifications(options: NotificationsOptions): Promise<Notifications> {
  const { config, log, pool, catalog } = options;
  initNotificationMetrics(CHANNELS);
  const overrides = await pool.any(
    sql.type(TemplateRow)`SELECT type, locale, template FROM notification_templates`,
  );
  const templates = new Templates(
    overrides.flatMap((o) => {
      const parsed = TemplateOverride.safeParse(o.template);
      return parsed.success ? [{ type: o.type, locale: o.locale, template: parsed.data }] : [];
    }),
  );
  const vapid = await vapidKeys(pool, {
    publicKey: config.VAPID_PUBLIC_KEY,
    privateKey: config.VAPID_PRIVATE_KEY,
  });
  const publicUrl = config.NOTIFY_PUBLIC_URL ?? `http://${config.HOST}:${config.PORT}`;
  const pushRows = (rows: readonly StoredNotification[]) => {
    if (rows.length === 0) return;
    options.publish(rows.map(notificationPush));
    const now = Date.now();
    for (const row of rows) {
      notificationsSent.inc({ channel: 'in_app' });
      notificationLatency.observe({ channel: 'in_app' }, Math.max(0, now - row.ts) / 1000);
    }
  };
  // `npm start` (development, Redis): loopback stand-ins listed at GET /dev/notifications. SMS go
  // to it when SMS_API_URL is unset; webhooks and push reach it when a user points theirs at it
  // (its webhook URL, a subscription from POST /dev/notifications/push-subscription).
  let standIns: DevChannels | undefined;
  if (config.NODE_ENV === 'development' && config.REDIS_URL !== undefined) {
    standIns = await startDevChannels({
      dir: config.NOTIFY_DEV_CHANNELS_DIR,
      log,
      accountSid: config.SMS_ACCOUNT_SID,
      authToken: config.SMS_AUTH_TOKEN,
      vapidPublicKey: vapid.publicKey,
      secretsFor: async (url) =>
        pool.anyFirst(sql.type(z.object({ webhook_secret: z.string() }))`
          SELECT webhook_secret FROM notification_preferences
          WHERE preferences->'channels'->'webhook'->>'url' = ${url} AND webhook_secret IS NOT NULL
          LIMIT 20`),
    });
  }
  let channels: Channels | undefined;
  const service = new NotificationService({
    pool,
    templates,
    market: (idOrSymbol) => {
      const listed = catalog.market(idOrSymbol);
      if (listed === undefined) return undefined;
      return {
        id: listed.definition.id,
        symbol: listed.definition.symbol,
        parsePrice: (input, field) => listed.money.parsePrice(input, field),
      };
    },
    push: pushRows,
    wake: () => channels?.wake(),
    allowPrivateTargets: config.NOTIFY_ALLOW_PRIVATE_TARGETS,
    devWebhookOrigin: standIns?.origin,
    isDevPushEndpoint: standIns === undefined ? undefined : (url) => standIns.isPushEndpoint(url),
    vapid: { ...vapid, subject: config.VAPID_SUBJECT },
    unsubscribeKey: await unsubscribeKey(pool),
    publicUrl,
    maxAlertsPerUser: config.NOTIFY_MAX_ALERTS_PER_USER,
  });

  const notifier = new Notifier({
    templates,
    context: {
      market: (marketId) => {
        const listed = catalog.market(marketId);
        if (listed === undefined) return undefined;
        return {
          symbol: listed.definition.symbol,
          baseAsset: listed.definition.baseAsset,
          formatPrice: (ticks) => listed.money.formatPrice(ticks),
          formatQty: (lots) => listed.money.formatQty(lots),
        };
      },
      assetDecimals: (asset) => catalog.asset(asset)?.decimals,
    },
    onCommitted: (rows, preferences) => {
      pushRows(rows.filter((r) => inAppEnabled(preferences.get(r.userId)!, r.type as never)));
      channels?.wake();
    },
  });
  const runner = new DurableConsumerRunner(pool, notifier, {
    pageSize: 200,
    gate: options.gate,
    onError: (error) => {
      log.warn({ err: error }, 'notifier round failed');
    },
  });

  // `npm start` without SMTP_URL: emails go to a local catcher, readable at GET /dev/mail.
  let catcher: MailCatcher | undefined;
  if (config.SMTP_URL === undefined && config.NODE_ENV === 'development' && config.REDIS_URL !== undefined) {
    catcher = await startMailCatcher(config.NOTIFY_DEV_MAIL_DIR, log);
    service.attachDevMail(() => catcher!.list());
  }
  if (standIns !== undefined) {
    const running = standIns;
    service.attachDevPush(() => running.subscribePush());
    service.attachDevChannels(async () => ({
      webhookUrl: running.webhookUrl,
      smsApiUrl: config.SMS_API_URL ?? running.smsApiUrl,
      sms: await running.sms(),
      webhooks: await running.webhooks(),
      push: await running.push(),
      mail: (await catcher?.list()) ?? [],
    }));
  }
  if (config.REDIS_URL !== undefined) {
    const started = await startChannels({
      ...(catcher === undefined ? {} : { smtpUrl: catcher.url }),
      ...(standIns === undefined
        ? {}
        : {
            smsApiUrl: standIns.smsApiUrl,
            devWebhookOrigin: standIns.origin,
            isDevPushEndpoint: (url: string) => standIns.isPushEndpoint(url),
          }),
      config,
      log,
      pool,
      service,
      templates,
      redisUrl: config.REDIS_URL,
      prefix: options.prefix,
      placement: options.placement,
      vapid,
    });
    service.attachStats(() => started.stats());
    channels = started;
  } else {
    log.info('REDIS_URL is not set: notifications are in-app only (email, SMS, push and webhooks wait)');
  }

  // A flush wakes the notifier; one round in flight at a time, one more if a flush came meanwhile,
  // and woken rounds start at least WAKE_GAP_MS apart: a flush comes every few ms under load, and
  // a round per flush was a transaction per flush (issue 21: Postgres CPU per order).
  let inFlight = false;
  let again = false;
  let closed = false;
  let lastStart = 0;
  let timer: NodeJS.Timeout | undefined;
  const run = () => {
    if (closed) return;
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    lastStart = Date.now();
    runner
      .runOnce()
      .catch((error: unknown) => {
        log.warn({ err: error }, 'notifier round failed');
      })
      .finally(() => {
        inFlight = false;
        if (again) {
          again = false;
          wake();
        }
      });
  };
  const wake = () => {
    if (closed || timer !== undefined) return;
    if (inFlight) {
      again = true;
      return;
    }
    const wait = lastStart + WAKE_GAP_MS - Date.now();
    if (wait <= 0) {
      run();
      return;
    }
    timer = setTimeout(() => {
      timer = undefined;
      run();
    }, wait);
  };
  options.flushed.subscribe((globalSeq) => {
    runner.noteCommitted(globalSeq);
    wake();
  });
  runner.start(config.NOTIFY_INTERVAL_MS);

  return {
    service,
    runner,
    channels,
    templates,
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      await runner.stop();
      await channels?.close();
      await catcher?.close();
      await standIns?.close();
    },
  };
}
