/**
 * The notifications service behind the routes of PROTOCOL v1.1 (Notifications): a user's in-app
 * list (paged, newest first), read marks, preferences (checked against SSRF; a webhook's secret
 * answered once), price alerts, the admin's broadcast, the VAPID public key, the email's
 * unsubscribe link, and notifications that do not come from the journal (kyc_required at an
 * admission refusal, security_alert at a new device): written keyed, so a retry writes nothing twice.
 */

import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { DatabasePool } from 'slonik';
import webpush from 'web-push';
import { failure, type Outcome } from '../protocol/errors.ts';
import { deliveriesOf } from './notifier.ts';
import { DEFAULT_PREFERENCES, inAppEnabled, Preferences, type PushSubscription } from './preferences.ts';
import {
  countArmedAlerts,
  deleteAlert,
  everyUser,
  insertAlert,
  insertDeliveries,
  insertNotifications,
  keepSetting,
  listAlerts,
  listNotifications,
  markAllRead,
  markRead,
  noteSessionOrigin,
  preferencesOf,
  savePreferences,
  saveTemplate,
  setTypeChannel,
  viewOf,
  type StoredAlert,
  type StoredNotification,
} from './store.ts';
import { isDevOrigin, refusalOf } from './targets.ts';
import { Templates, type Rendered, type TemplateOverride } from './templates.ts';
import {
  NOTIFICATION_TYPES,
  type DeliveryChannel,
  type NotificationType,
  type NotificationView,
} from './types.ts';

/** A market as alerts need it: its id and symbol, and its price rules. */
export interface AlertMarket {
  readonly id: string;
  readonly symbol: string;
  parsePrice(input: unknown, field: string): Outcome<number>;
}

export interface NotificationServiceOptions {
  readonly pool: DatabasePool;
  readonly templates: Templates;
  readonly market: (idOrSymbol: string) => AlertMarket | undefined;
  /** Pushes in-app rows to their users' `notifications` channel. */
  readonly push: (rows: readonly StoredNotification[]) => void;
  /** Wakes the dispatcher of the other channels (new outbox rows). */
  readonly wake?: () => void;
  readonly allowPrivateTargets: boolean;
  /** A loopback origin a webhook URL may point at anyway (the development receiver of `npm start`). */
  readonly devWebhookOrigin?: string | undefined;
  /** Whether a push endpoint is the development push stand-in's (`npm start`), allowed though on loopback. */
  readonly isDevPushEndpoint?: ((url: string) => boolean) | undefined;
  readonly vapid: { readonly publicKey: string; readonly privateKey: string; readonly subject: string };
  readonly unsubscribeKey: string;
  /** The exchange's public base URL (links in messages). */
  readonly publicUrl: string;
  readonly maxAlertsPerUser: number;
}

export interface ListOptions {
  readonly unread: boolean;
  readonly limit: number;
  readonly before?: string;
}

export interface AlertView {
  readonly id: string;
  readonly market: string;
  readonly above?: string;
  readonly below?: string;
  readonly fired: boolean;
  readonly createdAt: number;
}

/** The VAPID key pair from the environment, or the one the exchange generated and kept. */
export async function vapidKeys(
  pool: DatabasePool,
  env: { publicKey?: string | undefined; privateKey?: string | undefined },
): Promise<{ publicKey: string; privateKey: string }> {
  if (env.publicKey !== undefined && env.privateKey !== undefined) {
    return { publicKey: env.publicKey, privateKey: env.privateKey };
  }
  if (env.publicKey !== undefined || env.privateKey !== undefined) {
    throw new Error(
      'invalid environment: VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY are set together or not at all',
    );
  }
  const kept = await keepSetting(pool, 'vapid', JSON.stringify(webpush.generateVAPIDKeys()));
  return JSON.parse(kept) as { publicKey: string; privateKey: string };
}

/** The key of unsubscribe links (generated once and kept). */
export function unsubscribeKey(pool: DatabasePool): Promise<string> {
  return keepSetting(pool, 'unsubscribe_key', randomBytes(32).toString('base64url'));
}

export class NotificationService {
  readonly #o: NotificationServiceOptions;
  #stats: (() => Promise<object>) | undefined;
  readonly #recentOrigins = new Set<string>();
  #devMail: (() => Promise<object[]>) | undefined;
  #devChannels: (() => Promise<object>) | undefined;
  #devPush: (() => Promise<PushSubscription>) | undefined;

  constructor(options: NotificationServiceOptions) {
    this.#o = options;
  }

  /** The channels' queue view, once they run (startChannels comes after the service). */
  attachStats(stats: () => Promise<object>): void {
    this.#stats = stats;
  }

  /** The development mail catcher's messages (GET /dev/mail), when it runs. */
  attachDevMail(list: () => Promise<object[]>): void {
    this.#devMail = list;
  }

  devMail(): Promise<object[] | undefined> {
    return this.#devMail?.() ?? Promise.resolve(undefined);
  }

  /** The development SMS and webhook stand-ins' records (GET /dev/notifications), when they run. */
  attachDevChannels(list: () => Promise<object>): void {
    this.#devChannels = list;
  }

  /** The development push stand-in's subscriptions (POST /dev/notifications/push-subscription), when it runs. */
  attachDevPush(subscribe: () => Promise<PushSubscription>): void {
    this.#devPush = subscribe;
  }

  /**
   * Development: a new subscription at the push stand-in, set as the user's push channel (their
   * other preferences kept); undefined when the stand-in does not run.
   */
  async devPushSubscribe(userId: string): Promise<Outcome<{ subscription: PushSubscription }> | undefined> {
    if (this.#devPush === undefined) return undefined;
    const subscription = await this.#devPush();
    const current = await this.preferences(userId);
    const next = Preferences.parse({
      ...current,
      channels: { ...current.channels, push: { subscription, enabled: true } },
    });
    const saved = await this.setPreferences(userId, next);
    return saved.ok ? { ok: true, value: { subscription } } : saved;
  }

  devChannels(): Promise<object | undefined> {
    return this.#devChannels?.() ?? Promise.resolve(undefined);
  }

  /** Queue depths, deliveries per status and recent failures; undefined without Redis. */
  queueStats(): Promise<object | undefined> {
    return this.#stats?.() ?? Promise.resolve(undefined);
  }

  /** Renders a type's templates (the stored ones, or `override` over the defaults) with `data`. */
  previewTemplate(
    type: NotificationType,
    data: Readonly<Record<string, unknown>>,
    options: { locale?: string | undefined; override?: TemplateOverride | undefined },
  ): Outcome<Rendered> {
    const locale = options.locale ?? 'en';
    const templates =
      options.override === undefined
        ? this.#o.templates
        : new Templates([{ type, locale, template: options.override }]);
    try {
      return {
        ok: true,
        value: templates.render(type, data, {
          locale,
          unsubscribeUrl: `${this.#o.publicUrl}/unsubscribe-preview`,
        }),
      };
    } catch (error) {
      return failure('bad_request', `the template does not compile: ${(error as Error).message}`);
    }
  }

  /** Stores an override of a type's templates in a locale (it applies to what is rendered next). */
  async setTemplate(
    type: NotificationType,
    locale: string,
    override: TemplateOverride,
  ): Promise<Outcome<Rendered>> {
    const tried = this.previewTemplate(type, {}, { locale, override });
    if (!tried.ok) return tried;
    await saveTemplate(this.#o.pool, type, locale, override);
    this.#o.templates.setOverride(type, locale, override);
    return tried;
  }

  get vapidPublicKey(): string {
    return this.#o.vapid.publicKey;
  }

  async list(userId: string, options: ListOptions): Promise<{ items: NotificationView[]; next?: string }> {
    const rows = await listNotifications(this.#o.pool, { userId, ...options, limit: options.limit + 1 });
    const page = rows.slice(0, options.limit);
    return {
      items: page.map(viewOf),
      ...(rows.length > options.limit ? { next: page.at(-1)!.id } : {}),
    };
  }

  async read(userId: string, id: string): Promise<Outcome<NotificationView>> {
    if (!/^[0-9]{1,18}$/.test(id)) return failure('not_found', `no notification ${id}`);
    const row = await markRead(this.#o.pool, userId, id);
    return row === undefined
      ? failure('not_found', `no notification ${id}`)
      : { ok: true, value: viewOf(row) };
  }

  readAll(userId: string): Promise<number> {
    return markAllRead(this.#o.pool, userId);
  }

  async preferences(userId: string): Promise<Preferences> {
    return (await preferencesOf(this.#o.pool, [userId])).get(userId) ?? DEFAULT_PREFERENCES;
  }

  /** Stores preferences that parsed (zod at the route); refuses users' URLs that point inside. */
  async setPreferences(
    userId: string,
    preferences: Preferences,
  ): Promise<Outcome<Preferences & { channels: { webhook?: { secret?: string } } }>> {
    const { channels } = preferences;
    const urls: [string, string | undefined][] = [
      ['channels.webhook.url', channels.webhook?.url],
      ['channels.slack.url', channels.slack?.url],
      ['channels.discord.url', channels.discord?.url],
      ['channels.push.subscription.endpoint', channels.push?.subscription.endpoint],
    ];
    for (const [field, url] of urls) {
      if (url === undefined) continue;
      const devReceiver =
        (field === 'channels.webhook.url' && isDevOrigin(url, this.#o.devWebhookOrigin)) ||
        (field === 'channels.push.subscription.endpoint' && this.#o.isDevPushEndpoint?.(url) === true);
      const refused = await refusalOf(url, this.#o.allowPrivateTargets || devReceiver);
      if (refused !== undefined) return failure('bad_request', `${field}: ${refused}`);
    }
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const saved = await savePreferences(this.#o.pool, userId, preferences, secret);
    if (!saved.created || channels.webhook === undefined) return { ok: true, value: preferences };
    return {
      ok: true,
      value: {
        ...preferences,
        channels: { ...channels, webhook: { ...channels.webhook, secret: saved.secret } },
      },
    };
  }

  async createAlert(
    userId: string,
    body: { market: string; above?: string | undefined; below?: string | undefined },
  ): Promise<Outcome<AlertView>> {
    const market = this.#o.market(body.market);
    if (market === undefined) return failure('unknown_market', `no market ${body.market}`);
    const direction = body.above !== undefined ? 'above' : 'below';
    const text = (body.above ?? body.below)!;
    const ticks = market.parsePrice(text, direction);
    if (!ticks.ok) return ticks;
    if ((await countArmedAlerts(this.#o.pool, userId)) >= this.#o.maxAlertsPerUser) {
      return failure('rate_limited', `at most ${this.#o.maxAlertsPerUser} armed alerts per user`);
    }
    const alert = await insertAlert(this.#o.pool, {
      userId,
      marketId: market.id,
      direction,
      priceTicks: ticks.value,
      price: text,
    });
    return { ok: true, value: this.#alertView(alert) };
  }

  async alerts(userId: string): Promise<AlertView[]> {
    return (await listAlerts(this.#o.pool, userId)).map((a) => this.#alertView(a));
  }

  async deleteAlert(userId: string, id: string): Promise<Outcome<{ id: string }>> {
    if (!/^[0-9]{1,18}$/.test(id)) return failure('not_found', `no alert ${id}`);
    return (await deleteAlert(this.#o.pool, userId, id))
      ? { ok: true, value: { id } }
      : failure('not_found', `no alert ${id}`);
  }

  /** `system_maintenance` to every user the exchange knows (one row each, delivered on their channels). */
  async broadcast(title: string, body: string): Promise<{ id: string; recipients: number }> {
    const id = randomUUID();
    const users = await everyUser(this.#o.pool);
    const sent = await this.notify(users, 'system_maintenance', { title, body }, `broadcast:${id}`);
    return { id, recipients: sent.length };
  }

  /**
   * Writes one notification of `type` per user for `source` (a second call with the same source
   * writes nothing), with its deliveries, and pushes the in-app rows.
   */
  async notify(
    userIds: readonly string[],
    type: NotificationType,
    data: Readonly<Record<string, string | number | boolean>>,
    source: string,
  ): Promise<StoredNotification[]> {
    if (userIds.length === 0) return [];
    const { pool, templates } = this.#o;
    const ts = Date.now();
    const { written, preferences } = await pool.transaction(async (tx) => {
      const preferences = await preferencesOf(tx, userIds);
      const rows = userIds.map((userId) => {
        const rendered = templates.render(type, data, { locale: preferences.get(userId)?.locale });
        return { userId, type, title: rendered.title, body: rendered.body, data: { ...data }, source, ts };
      });
      const written = await insertNotifications(tx, rows, 'skip');
      await insertDeliveries(tx, deliveriesOf(written, preferences, ts));
      return { written, preferences };
    });
    this.#o.push(written.filter((r) => inAppEnabled(preferences.get(r.userId)!, type)));
    if (written.length > 0) this.#o.wake?.();
    return written;
  }

  /**
   * A session authenticated from `address` with `device` (its user agent): a `security_alert` when
   * either is new for a user seen before. Checked off the request's path; a recent origin is
   * remembered in memory (bounded) so reconnects cost nothing.
   */
  async noteSession(userId: string, address: string, device: string): Promise<void> {
    const key = `${userId}\n${address}\n${device}`;
    if (this.#recentOrigins.has(key)) return;
    if (this.#recentOrigins.size >= 10_000) this.#recentOrigins.clear();
    this.#recentOrigins.add(key);
    const clipped = device.slice(0, 200) || 'unknown device';
    const { seenBefore, fresh } = await noteSessionOrigin(this.#o.pool, userId, { address, device: clipped });
    if (!seenBefore || fresh.length === 0) return;
    await this.notify(
      [userId],
      'security_alert',
      { address, device: clipped, new: fresh.join(' and ') },
      `security:${fresh.join('+')}:${address}:${clipped}`,
    );
  }

  /** The link in an email that turns its type off for the email channel. */
  unsubscribeUrl(userId: string, type: string, channel: DeliveryChannel): string {
    const token = this.#sign(userId, type, channel);
    const query = new URLSearchParams({ u: userId, t: type, c: channel, s: token });
    return `${this.#o.publicUrl}/api/v1/notifications/unsubscribe?${query.toString()}`;
  }

  async unsubscribe(query: URLSearchParams): Promise<Outcome<{ type: string; channel: string }>> {
    const [u, t, c, s] = ['u', 't', 'c', 's'].map((k) => query.get(k) ?? '');
    const bad = failure('bad_request', 'this unsubscribe link is not valid');
    if (!(NOTIFICATION_TYPES as readonly string[]).includes(t!) || u === '' || s === '') return bad;
    const expected = Buffer.from(this.#sign(u!, t!, c!));
    const given = Buffer.from(s!);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return bad;
    await setTypeChannel(this.#o.pool, u!, t!, c!, false);
    return { ok: true, value: { type: t!, channel: c! } };
  }

  #sign(userId: string, type: string, channel: string): string {
    return createHmac('sha256', this.#o.unsubscribeKey)
      .update(`${userId}\n${type}\n${channel}`)
      .digest('base64url');
  }

  #alertView(alert: StoredAlert): AlertView {
    return {
      id: alert.id,
      market: this.#o.market(alert.marketId)?.symbol ?? alert.marketId,
      [alert.direction]: alert.price,
      fired: alert.fired,
      createdAt: alert.createdAt,
    };
  }
}
