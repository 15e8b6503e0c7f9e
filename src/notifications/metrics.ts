import { Counter, Histogram, register } from 'prom-client';

/*
 * Notification metrics per channel, on prom-client's default registry (GET /metrics): sent,
 * failed (for good), retried, and the latency from the notification's event to the provider's
 * acceptance. Registration is idempotent (a module loaded twice in one process reuses them).
 */

function counter(name: string, help: string): Counter<'channel'> {
  return (
    (register.getSingleMetric(name) as Counter<'channel'> | undefined) ??
    new Counter({ name, help, labelNames: ['channel'] as const })
  );
}

export const notificationsSent = counter(
  'exchange_notifications_sent_total',
  'Notifications delivered, by channel (in_app: pushed on the notifications channel)',
);
export const notificationsFailed = counter(
  'exchange_notifications_failed_total',
  'Notification deliveries that failed for good, by channel',
);
export const notificationsRetried = counter(
  'exchange_notifications_retried_total',
  'Notification delivery attempts that failed and will be retried, by channel',
);

const LATENCY = 'exchange_notification_latency_seconds';
export const notificationLatency =
  (register.getSingleMetric(LATENCY) as Histogram<'channel'> | undefined) ??
  new Histogram({
    name: LATENCY,
    help: "From the notification's event to its delivery (provider accepted), by channel",
    labelNames: ['channel'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600],
  });

/** Every channel's series exists from the start (a scrape's shape does not change as traffic comes). */
export function initNotificationMetrics(channels: readonly string[]): void {
  for (const channel of channels) {
    notificationsSent.inc({ channel }, 0);
    notificationsFailed.inc({ channel }, 0);
    notificationsRetried.inc({ channel }, 0);
    notificationLatency.zero({ channel });
  }
}
