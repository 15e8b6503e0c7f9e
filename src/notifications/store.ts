/**
 * The notifications' tables (migration 1763800000100): notifications, preferences, price alerts,
 * the deliveries outbox, settings and template overrides. All SQL of src/notifications is here,
 * each function on whatever connection it is given (a pool, or the notifier's transaction).
 */

import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { ArmedAlert } from './mapping.ts';
import { DEFAULT_PREFERENCES, Preferences } from './preferences.ts';
import type { DeliveryChannel, NotificationView } from './types.ts';
import { pgArray } from '../persistence/projection/pgArray.ts';

type Db = CommonQueryMethods;

/** A notification about to be written. */
export interface NotificationRow {
  readonly userId: string;
  readonly type: string;
  readonly title: string;
  readonly body: string;
  readonly data: Record<string, unknown>;
  readonly source: string;
  readonly ts: number;
}

/** A written notification (its id and read state added). */
export interface StoredNotification extends NotificationRow {
  readonly id: string;
  readonly read: boolean;
}

const StoredRow = z.object({
  id: z.string(),
  user_id: z.string(),
  type: z.string(),
  title: z.string(),
  body: z.string(),
  data: z.record(z.string(), z.unknown()),
  source: z.string(),
  ts: z.string(),
  read: z.boolean(),
});

function stored(row: z.infer<typeof StoredRow>): StoredNotification {
  return {
    id: row.id,
    userId: row.user_id,
    type: row.type,
    title: row.title,
    body: row.body,
    data: row.data,
    source: row.source,
    ts: Number(row.ts),
    read: row.read,
  };
}

export function viewOf(n: StoredNotification): NotificationView {
  return { id: n.id, type: n.type, title: n.title, body: n.body, data: n.data, ts: n.ts, read: n.read };
}

const COLUMNS = sql.fragment`id::text AS id, user_id, type, title, body, data, source, ts::text AS ts,
  read_at IS NOT NULL AS read`;

/**
 * Writes the rows in one statement. `onConflict: 'fail'` (the notifier's: its cursor moves with them,
 * so a second write of a source is a bug to surface) or `'skip'` (broadcasts and refusals retried).
 */
export async function insertNotifications(
  db: Db,
  rows: readonly NotificationRow[],
  onConflict: 'fail' | 'skip' = 'fail',
): Promise<StoredNotification[]> {
  if (rows.length === 0) return [];
  const conflict =
    onConflict === 'skip' ? sql.fragment`ON CONFLICT (user_id, source) DO NOTHING` : sql.fragment``;
  const result = await db.any(sql.type(StoredRow)`
    INSERT INTO notifications (user_id, type, title, body, data, source, ts)
    SELECT u, t, ti, b, d::jsonb, s, ts FROM unnest(
      ${pgArray(
        rows.map((r) => r.userId),
        'text',
      )},
      ${pgArray(
        rows.map((r) => r.type),
        'text',
      )},
      ${pgArray(
        rows.map((r) => r.title),
        'text',
      )},
      ${pgArray(
        rows.map((r) => r.body),
        'text',
      )},
      ${pgArray(
        rows.map((r) => JSON.stringify(r.data)),
        'text',
      )},
      ${pgArray(
        rows.map((r) => r.source),
        'text',
      )},
      ${pgArray(
        rows.map((r) => String(r.ts)),
        'int8',
      )}
    ) AS x(u, t, ti, b, d, s, ts)
    ${conflict}
    RETURNING ${COLUMNS}`);
  return result.map(stored);
}

export interface ListQuery {
  readonly userId: string;
  readonly unread: boolean;
  readonly limit: number;
  /** Ids below this (the last of the page before). */
  readonly before?: string;
}

/** Newest first; one more than `limit` tells whether a next page exists. */
export async function listNotifications(db: Db, q: ListQuery): Promise<StoredNotification[]> {
  const rows = await db.any(sql.type(StoredRow)`
    SELECT ${COLUMNS} FROM notifications
    WHERE user_id = ${q.userId}
      ${q.unread ? sql.fragment`AND read_at IS NULL` : sql.fragment``}
      ${q.before === undefined ? sql.fragment`` : sql.fragment`AND id < ${q.before}`}
    ORDER BY id DESC LIMIT ${q.limit}`);
  return rows.map(stored);
}

export async function markRead(db: Db, userId: string, id: string): Promise<StoredNotification | undefined> {
  const row = await db.maybeOne(sql.type(StoredRow)`
    UPDATE notifications SET read_at = coalesce(read_at, now())
    WHERE id = ${id} AND user_id = ${userId} RETURNING ${COLUMNS}`);
  return row === null ? undefined : stored(row);
}

export async function markAllRead(db: Db, userId: string): Promise<number> {
  const result = await db.query(sql.unsafe`
    UPDATE notifications SET read_at = now() WHERE user_id = ${userId} AND read_at IS NULL`);
  return result.rowCount;
}

const PreferencesRow = z.object({ user_id: z.string(), preferences: z.unknown() });

/** Each user's preferences (the defaults for a user without a row, or with one that no longer parses). */
export async function preferencesOf(db: Db, userIds: readonly string[]): Promise<Map<string, Preferences>> {
  const found = new Map<string, Preferences>();
  if (userIds.length > 0) {
    const rows = await db.any(sql.type(PreferencesRow)`
      SELECT user_id, preferences FROM notification_preferences
      WHERE user_id = ANY(${pgArray([...userIds], 'text')})`);
    for (const row of rows) {
      const parsed = Preferences.safeParse(row.preferences);
      if (parsed.success) found.set(row.user_id, parsed.data);
    }
  }
  for (const id of userIds) if (!found.has(id)) found.set(id, DEFAULT_PREFERENCES);
  return found;
}

const SecretRow = z.object({ webhook_secret: z.string().nullable() });

/** Stores the preferences; a secret is kept once set (a new one only when none is stored). */
export async function savePreferences(
  db: Db,
  userId: string,
  preferences: Preferences,
  newSecret: string,
): Promise<{ secret: string | undefined; created: boolean }> {
  const before = await db.maybeOne(sql.type(SecretRow)`
    SELECT webhook_secret FROM notification_preferences WHERE user_id = ${userId} FOR UPDATE`);
  const wantsSecret = preferences.channels.webhook !== undefined;
  const existing = before?.webhook_secret ?? null;
  const secret = wantsSecret ? (existing ?? newSecret) : existing;
  await db.query(sql.unsafe`
    INSERT INTO notification_preferences (user_id, preferences, webhook_secret, updated_at)
    VALUES (${userId}, ${sql.jsonb(preferences as never)}, ${secret}, now())
    ON CONFLICT (user_id) DO UPDATE SET preferences = EXCLUDED.preferences,
      webhook_secret = EXCLUDED.webhook_secret, updated_at = now()`);
  return { secret: secret ?? undefined, created: wantsSecret && existing === null };
}

export async function webhookSecret(db: Db, userId: string): Promise<string | undefined> {
  const row = await db.maybeOne(sql.type(SecretRow)`
    SELECT webhook_secret FROM notification_preferences WHERE user_id = ${userId}`);
  return row?.webhook_secret ?? undefined;
}

/** Turns one channel off for the user (unsubscribe link, a push subscription gone, a dead webhook). */
export async function setChannelEnabled(
  db: Db,
  userId: string,
  channel: DeliveryChannel,
  enabled: boolean,
): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE notification_preferences
    SET preferences = jsonb_set(preferences, ${sql.array(['channels', channel, 'enabled'], 'text')}, ${sql.jsonb(enabled)}),
        updated_at = now()
    WHERE user_id = ${userId} AND preferences->'channels' ? ${channel}`);
}

/** Turns a type off on one channel (the email's unsubscribe link). */
export async function setTypeChannel(
  db: Db,
  userId: string,
  type: string,
  channel: string,
  on: boolean,
): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO notification_preferences (user_id, preferences)
    VALUES (${userId}, ${sql.jsonb({ channels: { in_app: { enabled: true } } })})
    ON CONFLICT (user_id) DO NOTHING`);
  await db.query(sql.unsafe`
    UPDATE notification_preferences
    SET preferences = jsonb_set(
          jsonb_set(preferences, '{types}', coalesce(preferences->'types', '{}'::jsonb)),
          ${sql.array(['types', type], 'text')},
          coalesce(preferences->'types'->${type}, '{}'::jsonb) || jsonb_build_object(${channel}::text, ${on}::boolean)),
        updated_at = now()
    WHERE user_id = ${userId}`);
}

const UserRow = z.object({ user_id: z.string() });

/** The relational projection's cursor (balances hold every record up to it). */
export async function projectedTo(db: Db): Promise<number> {
  const row = await db.maybeOne(sql.type(z.object({ global_seq: z.string() }))`
    SELECT global_seq::text AS global_seq FROM projection_cursors WHERE projection = 'relational'`);
  return row === null ? 0 : Number(row.global_seq);
}

/**
 * Holders of `asset` as of journal record `atGlobalSeq`: each account's balance now less its
 * postings after that record (the relational projection must have passed it: NotifierBehind).
 * The postings after the record are read by their key's global_seq range (the notifier runs near
 * the journal's head, so a short range); no index by account is kept for this one read.
 */
function holdersAt(asset: string | undefined, atGlobalSeq: number) {
  return sql.fragment`
    SELECT b.account AS user_id FROM balances b
    LEFT JOIN (
      SELECT p.account, sum(p.available + p.locked) AS after FROM ledger_postings p
      WHERE p.global_seq > ${atGlobalSeq} AND p.asset = ${asset ?? ''} GROUP BY p.account
    ) later ON later.account = b.account
    WHERE b.asset = ${asset ?? ''} AND b.account NOT LIKE '@%'
      AND b.available + b.locked - coalesce(later.after, 0) > 0`;
}

/** The issuer of an issued market and the holders of its base asset (available or locked) at the record. */
export async function marketAudience(
  db: Db,
  marketId: string,
  asset: string | undefined,
  atGlobalSeq: number,
): Promise<string[]> {
  const rows = await db.any(sql.type(UserRow)`
    SELECT issuer_id AS user_id FROM market_assets WHERE market_id = ${marketId}
    UNION ${holdersAt(asset, atGlobalSeq)}`);
  return rows.map((r) => r.user_id);
}

/** Holders of the market's base asset at the record and owners of an armed alert on it. */
export async function watchers(
  db: Db,
  marketId: string,
  asset: string | undefined,
  atGlobalSeq: number,
): Promise<string[]> {
  const rows = await db.any(sql.type(UserRow)`
    SELECT user_id FROM price_alerts WHERE market_id = ${marketId} AND fired_seq IS NULL
    UNION ${holdersAt(asset, atGlobalSeq)}`);
  return rows.map((r) => r.user_id);
}

/** Users whose preferences name the type (the notifier keeps those who turned it on). */
export async function usersNaming(db: Db, type: string): Promise<string[]> {
  const rows = await db.any(sql.type(UserRow)`
    SELECT user_id FROM notification_preferences WHERE preferences->'types' ? ${type}`);
  return rows.map((r) => r.user_id);
}

/** Every user the exchange knows of: accounts with a balance row, and users with preferences. */
export async function everyUser(db: Db): Promise<string[]> {
  const rows = await db.any(sql.type(UserRow)`
    SELECT account AS user_id FROM balances WHERE account NOT LIKE '@%'
    UNION SELECT user_id FROM notification_preferences`);
  return rows.map((r) => r.user_id);
}

const AlertRow = z.object({
  id: z.string(),
  user_id: z.string(),
  market_id: z.string(),
  direction: z.enum(['above', 'below']),
  price_ticks: z.string(),
  price: z.string(),
  fired_seq: z.string().nullable(),
  created_at: z.number(),
});

export interface StoredAlert extends ArmedAlert {
  readonly price: string;
  readonly fired: boolean;
  readonly createdAt: number;
}

function alertOf(row: z.infer<typeof AlertRow>): StoredAlert {
  return {
    id: row.id,
    userId: row.user_id,
    marketId: row.market_id,
    direction: row.direction,
    priceTicks: Number(row.price_ticks),
    price: row.price,
    fired: row.fired_seq !== null,
    createdAt: row.created_at,
  };
}

const ALERT_COLUMNS = sql.fragment`id::text AS id, user_id, market_id, direction, price_ticks::text AS price_ticks,
  price, fired_seq::text AS fired_seq, (extract(epoch FROM created_at) * 1000)::float8 AS created_at`;

/** The armed alerts of these markets, locked until the transaction ends (a fire and a delete do not cross). */
export async function armedAlerts(db: Db, marketIds: readonly string[]): Promise<StoredAlert[]> {
  if (marketIds.length === 0) return [];
  const rows = await db.any(sql.type(AlertRow)`
    SELECT ${ALERT_COLUMNS} FROM price_alerts
    WHERE market_id = ANY(${pgArray([...marketIds], 'text')}) AND fired_seq IS NULL
    ORDER BY id FOR UPDATE`);
  return rows.map(alertOf);
}

/** Marks the alerts fired, each by its record, in one statement (the alerts a page crossed). */
export async function fireAlerts(
  db: Db,
  fired: readonly { readonly id: string; readonly globalSeq: number }[],
): Promise<void> {
  if (fired.length === 0) return;
  await db.query(sql.unsafe`
    UPDATE price_alerts a SET fired_seq = x.g, fired_at = now()
    FROM unnest(${pgArray(
      fired.map((f) => f.id),
      'int8',
    )}, ${pgArray(
      fired.map((f) => String(f.globalSeq)),
      'int8',
    )}) AS x(id, g)
    WHERE a.id = x.id`);
}

export async function insertAlert(
  db: Db,
  alert: {
    userId: string;
    marketId: string;
    direction: 'above' | 'below';
    priceTicks: number;
    price: string;
  },
): Promise<StoredAlert> {
  const row = await db.one(sql.type(AlertRow)`
    INSERT INTO price_alerts (user_id, market_id, direction, price_ticks, price)
    VALUES (${alert.userId}, ${alert.marketId}, ${alert.direction}, ${alert.priceTicks}, ${alert.price})
    RETURNING ${ALERT_COLUMNS}`);
  return alertOf(row);
}

export async function countArmedAlerts(db: Db, userId: string): Promise<number> {
  return db.oneFirst(sql.type(z.object({ n: z.number() }))`
    SELECT count(*)::int4 AS n FROM price_alerts WHERE user_id = ${userId} AND fired_seq IS NULL`);
}

export async function listAlerts(db: Db, userId: string): Promise<StoredAlert[]> {
  const rows = await db.any(sql.type(AlertRow)`
    SELECT ${ALERT_COLUMNS} FROM price_alerts WHERE user_id = ${userId} ORDER BY id LIMIT 1000`);
  return rows.map(alertOf);
}

export async function deleteAlert(db: Db, userId: string, id: string): Promise<boolean> {
  const result = await db.query(
    sql.unsafe`DELETE FROM price_alerts WHERE id = ${id} AND user_id = ${userId}`,
  );
  return result.rowCount > 0;
}

/** A delivery to write with its notification. */
export interface DeliveryRow {
  readonly notificationId: string;
  readonly channel: DeliveryChannel;
  readonly releaseAt: number;
}

export async function insertDeliveries(db: Db, rows: readonly DeliveryRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(sql.unsafe`
    INSERT INTO notification_deliveries (notification_id, channel, status, release_at)
    SELECT n, c, 'pending', to_timestamp(r / 1000.0) FROM unnest(
      ${pgArray(
        rows.map((r) => r.notificationId),
        'int8',
      )},
      ${pgArray(
        rows.map((r) => r.channel),
        'text',
      )},
      ${pgArray(
        rows.map((r) => String(r.releaseAt)),
        'int8',
      )}
    ) AS x(n, c, r)
    ON CONFLICT DO NOTHING`);
}

export async function setting(db: Db, key: string): Promise<string | undefined> {
  const row = await db.maybeOne(sql.type(z.object({ value: z.string() }))`
    SELECT value FROM notification_settings WHERE key = ${key}`);
  return row?.value;
}

/** Keeps the first value stored under `key` (two processes generating at once agree on one). */
export async function keepSetting(db: Db, key: string, value: string): Promise<string> {
  await db.query(sql.unsafe`
    INSERT INTO notification_settings (key, value) VALUES (${key}, ${value}) ON CONFLICT (key) DO NOTHING`);
  return (await setting(db, key)) ?? value;
}

const OriginRow = z.object({ kind: z.string(), value: z.string() });

/** Most origins kept per user and kind: a stranger's rotating addresses cannot grow the table without bound. */
const MAX_ORIGINS = 200;

/**
 * Records a session's address and device; answers which of them are new for a user seen before
 * (none for a user's first session, and none past MAX_ORIGINS).
 */
export async function noteSessionOrigin(
  db: Db,
  userId: string,
  origin: { address: string; device: string },
): Promise<{ seenBefore: boolean; fresh: ('address' | 'device')[] }> {
  return db.transaction(async (tx) => {
    // One session check per user at a time: two first sessions at once must not both be "first".
    await tx.query(sql.unsafe`SELECT pg_advisory_xact_lock(hashtext(${`origins:${userId}`}))`);
    const known = await tx.any(sql.type(OriginRow)`
      SELECT kind, value FROM notification_session_origins WHERE user_id = ${userId} FOR UPDATE`);
    const seenBefore = known.length > 0;
    const fresh: ('address' | 'device')[] = [];
    for (const kind of ['address', 'device'] as const) {
      const value = origin[kind];
      const ofKind = known.filter((k) => k.kind === kind);
      if (ofKind.some((k) => k.value === value) || ofKind.length >= MAX_ORIGINS) continue;
      await tx.query(sql.unsafe`
        INSERT INTO notification_session_origins (user_id, kind, value) VALUES (${userId}, ${kind}, ${value})
        ON CONFLICT DO NOTHING`);
      fresh.push(kind);
    }
    return { seenBefore, fresh };
  });
}

export async function saveTemplate(db: Db, type: string, locale: string, template: object): Promise<void> {
  await db.query(sql.unsafe`
    INSERT INTO notification_templates (type, channel, locale, template, updated_at)
    VALUES (${type}, 'all', ${locale}, ${sql.jsonb(template as never)}, now())
    ON CONFLICT (type, channel, locale) DO UPDATE SET template = EXCLUDED.template, updated_at = now()`);
}

export { stored as storedNotification, StoredRow, COLUMNS as NOTIFICATION_COLUMNS };
