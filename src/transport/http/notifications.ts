import { z } from 'zod/v4';
import type { NotificationService } from '../../notifications/service.ts';
import { Preferences } from '../../notifications/preferences.ts';
import {
  AlertBody,
  BroadcastBody,
  NotificationListQuery,
  NotificationTypeParam,
  PreviewBody,
  TemplateBody,
} from '../../notifications/schemas.ts';
import { describeIssues } from '../../protocol/schemas.ts';
import { decodeCursor, pageHeaders } from './cursor.ts';
import { errorReply, json, outcomeReply, type createRouter } from './router.ts';

/*
 * The notification routes of PROTOCOL v1.1 (Notifications): a user's in-app list (paged, newest
 * first) and read marks, preferences, price alerts, the VAPID public key, the email's unsubscribe
 * link; the admin's broadcast, queue view and templates (override and preview).
 */

const BASE = '/api/v1';
const ListCursor = z.object({ before: z.string().regex(/^[0-9]{1,18}$/) });

export function registerNotificationRoutes(
  route: ReturnType<typeof createRouter>,
  notifications: NotificationService,
): void {
  route('get', `${BASE}/notifications`, { role: 'user' }, async ({ principal, query }) => {
    const parsed = NotificationListQuery.safeParse({
      unread: query.get('unread') ?? undefined,
      limit: query.get('limit') ?? undefined,
    });
    if (!parsed.success) return errorReply('bad_request', describeIssues(parsed.error));
    const cursor = decodeCursor(ListCursor, query.get('cursor'));
    if (!cursor.ok) return errorReply(cursor.code, cursor.message);
    const page = await notifications.list(principal!.userId, {
      unread: parsed.data.unread === 'true',
      limit: parsed.data.limit,
      ...(cursor.value === undefined ? {} : { before: cursor.value.before }),
    });
    return {
      ...json(200, page.items),
      headers: pageHeaders(page.next === undefined ? undefined : { before: page.next }),
    };
  });

  route('post', `${BASE}/notifications/read-all`, { role: 'user' }, async ({ principal }) =>
    json(200, { marked: await notifications.readAll(principal!.userId) }),
  );

  route(
    'post',
    `${BASE}/notifications/:notificationId/read`,
    { role: 'user' },
    async ({ principal, params }) => outcomeReply(await notifications.read(principal!.userId, params[0]!)),
  );

  route('get', `${BASE}/notifications/preferences`, { role: 'user' }, async ({ principal }) =>
    json(200, await notifications.preferences(principal!.userId)),
  );

  route(
    'put',
    `${BASE}/notifications/preferences`,
    { role: 'user', body: true },
    async ({ principal, body }) => {
      const parsed = Preferences.safeParse(body);
      if (!parsed.success) return errorReply('bad_request', describeIssues(parsed.error));
      return outcomeReply(await notifications.setPreferences(principal!.userId, parsed.data));
    },
  );

  // Development only: what the local SMTP catcher received (404 when it does not run).
  route('get', '/dev/mail', {}, async () => {
    const mail = await notifications.devMail();
    return mail === undefined
      ? errorReply('not_found', 'the local mail catcher runs under npm start when SMTP_URL is unset')
      : json(200, mail);
  });

  // Development only: the SMS, webhook and push stand-ins' records, and the mail (404 when they do not run).
  route('get', '/dev/notifications', {}, async () => {
    const caught = await notifications.devChannels();
    return caught === undefined
      ? errorReply(
          'not_found',
          'the local SMS, webhook and push stand-ins run under npm start (NODE_ENV=development, Redis)',
        )
      : json(200, caught);
  });

  // Development only: a subscription at the local push stand-in, set as the caller's push channel.
  route('post', '/dev/notifications/push-subscription', { role: 'user' }, async ({ principal }) => {
    const made = await notifications.devPushSubscribe(principal!.userId);
    return made === undefined
      ? errorReply('not_found', 'the local push stand-in runs under npm start (NODE_ENV=development, Redis)')
      : outcomeReply(made, 201);
  });

  route('get', `${BASE}/notifications/vapid-public-key`, {}, () =>
    json(200, { publicKey: notifications.vapidPublicKey }),
  );

  route('get', `${BASE}/notifications/unsubscribe`, {}, async ({ query }) => {
    const done = await notifications.unsubscribe(query);
    if (!done.ok) return errorReply(done.code, done.message);
    return {
      status: 200,
      contentType: 'text/plain; charset=utf-8',
      text: `Unsubscribed: no more ${done.value.type.replace(/_/g, ' ')} notifications by ${done.value.channel}.\n`,
    };
  });

  route('post', `${BASE}/alerts`, { role: 'user', body: true }, async ({ principal, body }) => {
    const parsed = AlertBody.safeParse(body);
    if (!parsed.success) return errorReply('bad_request', describeIssues(parsed.error));
    return outcomeReply(await notifications.createAlert(principal!.userId, parsed.data), 201);
  });

  route('get', `${BASE}/alerts`, { role: 'user' }, async ({ principal }) =>
    json(200, await notifications.alerts(principal!.userId)),
  );

  route('del', `${BASE}/alerts/:alertId`, { role: 'user' }, async ({ principal, params }) =>
    outcomeReply(await notifications.deleteAlert(principal!.userId, params[0]!)),
  );

  route('post', `${BASE}/admin/notifications/broadcast`, { role: 'admin', body: true }, async ({ body }) => {
    const parsed = BroadcastBody.safeParse(body);
    if (!parsed.success) return errorReply('bad_request', describeIssues(parsed.error));
    return json(201, await notifications.broadcast(parsed.data.title, parsed.data.body));
  });

  route('get', `${BASE}/admin/notifications/queues`, { role: 'admin' }, async () => {
    const stats = await notifications.queueStats();
    return stats === undefined
      ? errorReply('unavailable', 'REDIS_URL is not set: there are no delivery queues')
      : json(200, stats);
  });

  route(
    'post',
    `${BASE}/admin/notifications/templates/:type/preview`,
    { role: 'admin', body: true },
    ({ params, body }) => {
      const type = NotificationTypeParam.safeParse(params[0]);
      if (!type.success) return errorReply('not_found', `no notification type ${params[0]!}`);
      const parsed = PreviewBody.safeParse(body);
      if (!parsed.success) return errorReply('bad_request', describeIssues(parsed.error));
      return outcomeReply(
        notifications.previewTemplate(type.data, parsed.data.data, {
          locale: parsed.data.locale,
          override: parsed.data.template,
        }),
      );
    },
  );

  route(
    'put',
    `${BASE}/admin/notifications/templates/:type`,
    { role: 'admin', body: true },
    async ({ params, body }) => {
      const type = NotificationTypeParam.safeParse(params[0]);
      if (!type.success) return errorReply('not_found', `no notification type ${params[0]!}`);
      const parsed = TemplateBody.safeParse(body);
      if (!parsed.success) return errorReply('bad_request', describeIssues(parsed.error));
      return outcomeReply(
        await notifications.setTemplate(type.data, parsed.data.locale, parsed.data.template),
      );
    },
  );
}
