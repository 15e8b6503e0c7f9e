/**
 * The deliveries outbox (notification_deliveries): what the dispatcher enqueues and what a channel's
 * worker reads and records. A row moves pending → queued (its job is in BullMQ) → sent | failed |
 * skipped; a worker that finds its row no longer queued does nothing (a repeated job, a digest
 * its leader sent), so a delivery reaches its target at most once per (notification, channel).
 */

import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { DeliveryChannel } from './types.ts';
import { pgArray } from '../persistence/projection/pgArray.ts';

type Db = CommonQueryMethods;

const DueRow = z.object({ notification_id: z.string(), channel: z.string(), release_at: z.number() });

/** Pending rows, oldest release first. */
export async function pendingDeliveries(
  db: Db,
  limit: number,
): Promise<{ notificationId: string; channel: DeliveryChannel; releaseAt: number }[]> {
  const rows = await db.any(sql.type(DueRow)`
    SELECT notification_id::text AS notification_id, channel,
      (extract(epoch FROM release_at) * 1000)::float8 AS release_at
    FROM notification_deliveries WHERE status = 'pending' ORDER BY release_at LIMIT ${limit}`);
  return rows.map((r) => ({
    notificationId: r.notification_id,
    channel: r.channel as DeliveryChannel,
    releaseAt: r.release_at,
  }));
}

export async function markQueued(
  db: Db,
  rows: readonly { notificationId: string; channel: string }[],
): Promise<void> {
  if (rows.length === 0) return;
  await db.query(sql.unsafe`
    UPDATE notification_deliveries d SET status = 'queued'
    FROM unnest(${pgArray(
      rows.map((r) => r.notificationId),
      'int8',
    )}, ${pgArray(
      rows.map((r) => r.channel),
      'text',
    )}) AS x(n, c)
    WHERE d.notification_id = x.n AND d.channel = x.c AND d.status = 'pending'`);
}

const DeliveryRow = z.object({
  status: z.string(),
  release_at: z.number(),
  attempts: z.number(),
  id: z.string(),
  user_id: z.string(),
  type: z.string(),
  title: z.string(),
  body: z.string(),
  data: z.record(z.string(), z.unknown()),
  ts: z.string(),
  preferences: z.unknown(),
  webhook_secret: z.string().nullable(),
});

export interface Delivery {
  readonly status: string;
  readonly releaseAt: number;
  readonly attempts: number;
  readonly notification: {
    readonly id: string;
    readonly userId: string;
    readonly type: string;
    readonly title: string;
    readonly body: string;
    readonly data: Record<string, unknown>;
    readonly ts: number;
  };
  /** The user's stored preferences as JSON (parsed by the caller), null without a row. */
  readonly preferences: unknown;
  readonly webhookSecret: string | null;
}

const DELIVERY_COLUMNS = sql.fragment`d.status, (extract(epoch FROM d.release_at) * 1000)::float8 AS release_at,
  d.attempts, n.id::text AS id, n.user_id, n.type, n.title, n.body, n.data, n.ts::text AS ts,
  p.preferences, p.webhook_secret`;

function deliveryOf(row: z.infer<typeof DeliveryRow>): Delivery {
  return {
    status: row.status,
    releaseAt: row.release_at,
    attempts: row.attempts,
    notification: {
      id: row.id,
      userId: row.user_id,
      type: row.type,
      title: row.title,
      body: row.body,
      data: row.data,
      ts: Number(row.ts),
    },
    preferences: row.preferences ?? null,
    webhookSecret: row.webhook_secret,
  };
}

const KeyedDeliveryRow = DeliveryRow.extend({ channel: z.string() });

/**
 * Many deliveries in one statement (the channels' workers batch their reads, coalesce.ts): one
 * answer per key, in order, undefined for a key with no row.
 */
export async function loadDeliveries(
  db: Db,
  keys: readonly { notificationId: string; channel: DeliveryChannel }[],
): Promise<(Delivery | undefined)[]> {
  if (keys.length === 0) return [];
  const rows = await db.any(sql.type(KeyedDeliveryRow)`
    SELECT ${DELIVERY_COLUMNS}, d.channel
    FROM unnest(${pgArray(
      keys.map((k) => k.notificationId),
      'int8',
    )}, ${pgArray(
      keys.map((k) => k.channel),
      'text',
    )}) AS x(n, c)
    JOIN notification_deliveries d ON d.notification_id = x.n AND d.channel = x.c
    JOIN notifications n ON n.id = d.notification_id
    LEFT JOIN notification_preferences p ON p.user_id = n.user_id`);
  const found = new Map(rows.map((row) => [`${row.id}-${row.channel}`, deliveryOf(row)]));
  return keys.map((k) => found.get(`${k.notificationId}-${k.channel}`));
}

/** Marks many deliveries sent in one statement (only rows still open change). */
export async function recordSent(
  db: Db,
  keys: readonly { notificationId: string; channel: DeliveryChannel }[],
): Promise<void> {
  if (keys.length === 0) return;
  await db.query(sql.unsafe`
    UPDATE notification_deliveries d
    SET status = 'sent', attempts = d.attempts + 1, last_error = NULL, sent_at = now()
    FROM (SELECT DISTINCT n, c FROM unnest(${pgArray(
      keys.map((k) => k.notificationId),
      'int8',
    )}, ${pgArray(
      keys.map((k) => k.channel),
      'text',
    )}) AS u(n, c)) AS x
    WHERE d.notification_id = x.n AND d.channel = x.c AND d.status IN ('pending', 'queued')`);
}

/** The deliveries of one digest window (same user, type, channel and release instant), oldest first. */
export async function digestGroup(db: Db, delivery: Delivery, channel: DeliveryChannel): Promise<Delivery[]> {
  const rows = await db.any(sql.type(DeliveryRow)`
    SELECT ${DELIVERY_COLUMNS}
    FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id
    LEFT JOIN notification_preferences p ON p.user_id = n.user_id
    WHERE n.user_id = ${delivery.notification.userId} AND n.type = ${delivery.notification.type}
      AND d.channel = ${channel} AND d.status IN ('pending', 'queued')
      AND d.release_at = to_timestamp(${delivery.releaseAt} / 1000.0)
    ORDER BY n.id LIMIT 1000`);
  return rows.map(deliveryOf);
}

/** Records the outcome of the rows (a digest's whole group at once); only rows still open change. */
export async function recordOutcome(
  db: Db,
  notificationIds: readonly string[],
  channel: DeliveryChannel,
  status: 'sent' | 'failed' | 'skipped',
  error?: string,
): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE notification_deliveries
    SET status = ${status}, attempts = attempts + 1, last_error = ${error ?? null},
      sent_at = ${status === 'sent' ? sql.fragment`now()` : sql.fragment`NULL`}
    WHERE notification_id = ANY(${pgArray([...notificationIds], 'int8')}) AND channel = ${channel}
      AND status IN ('pending', 'queued')`);
}

export async function recordAttempt(
  db: Db,
  notificationId: string,
  channel: DeliveryChannel,
  error: string,
  webhookId?: string,
): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE notification_deliveries
    SET attempts = attempts + 1, last_error = ${error}, webhook_id = coalesce(webhook_id, ${webhookId ?? null})
    WHERE notification_id = ${notificationId} AND channel = ${channel}`);
}

/** A delivery on another channel (provider fallback); false when the notification has one there already. */
export async function addDelivery(
  db: Db,
  notificationId: string,
  channel: DeliveryChannel,
): Promise<boolean> {
  const result = await db.query(sql.unsafe`
    INSERT INTO notification_deliveries (notification_id, channel, status)
    VALUES (${notificationId}, ${channel}, 'pending') ON CONFLICT DO NOTHING`);
  return result.rowCount > 0;
}

/** Forgets a push subscription the push service says is gone. */
export async function removePushSubscription(db: Db, userId: string, endpoint: string): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE notification_preferences SET preferences = preferences #- '{channels,push}', updated_at = now()
    WHERE user_id = ${userId} AND preferences->'channels'->'push'->'subscription'->>'endpoint' = ${endpoint}`);
}

const CountRow = z.object({ channel: z.string(), status: z.string(), n: z.number() });
const FailureRow = z.object({
  notification_id: z.string(),
  channel: z.string(),
  status: z.string(),
  attempts: z.number(),
  last_error: z.string().nullable(),
});

/** The admin's view: deliveries per channel and status, and the latest failures and retries. */
export async function deliveryStats(db: Db): Promise<{
  counts: Record<string, Record<string, number>>;
  recentFailures: {
    notificationId: string;
    channel: string;
    status: string;
    attempts: number;
    error: string | null;
  }[];
}> {
  const counts: Record<string, Record<string, number>> = {};
  for (const row of await db.any(sql.type(CountRow)`
    SELECT channel, status, count(*)::int4 AS n FROM notification_deliveries GROUP BY channel, status`)) {
    (counts[row.channel] ??= {})[row.status] = row.n;
  }
  const failures = await db.any(sql.type(FailureRow)`
    SELECT notification_id::text AS notification_id, channel, status, attempts, last_error
    FROM notification_deliveries WHERE last_error IS NOT NULL
    ORDER BY notification_id DESC LIMIT 50`);
  return {
    counts,
    recentFailures: failures.map((f) => ({
      notificationId: f.notification_id,
      channel: f.channel,
      status: f.status,
      attempts: f.attempts,
      error: f.last_error,
    })),
  };
}
