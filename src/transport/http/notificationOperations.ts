import { z } from 'zod/v4';
import { Preferences } from '../../notifications/preferences.ts';
import { AlertBody, BroadcastBody, PreviewBody, TemplateBody } from '../../notifications/schemas.ts';

/**
 * The descriptions of the notification routes (http/notifications.ts), spread into OPERATIONS
 * (operations.ts checks their shape; this file imports nothing of it, so there is no cycle).
 */

const BASE = '/api/v1';

const Notification = z.object({
  id: z.string(),
  type: z.string(),
  title: z.string(),
  body: z.string(),
  data: z.record(z.string(), z.unknown()),
  ts: z.number().int(),
  read: z.boolean(),
});
const Alert = z.object({
  id: z.string(),
  market: z.string(),
  above: z.string().optional(),
  below: z.string().optional(),
  fired: z.boolean(),
  createdAt: z.number(),
});
const Rendered = z.object({
  title: z.string(),
  body: z.string(),
  subject: z.string(),
  text: z.string(),
  html: z.string(),
  sms: z.string(),
});
const query = [
  { name: 'unread', schema: z.enum(['true', 'false']), description: 'only unread notifications' },
  {
    name: 'limit',
    schema: z.number().int().min(1).max(1000).default(100),
    description: 'items per page (default 100, at most 1000)',
  },
  { name: 'cursor', schema: z.string(), description: 'the X-Next-Cursor of the previous page (opaque)' },
] as const;

export const NOTIFICATION_OPERATIONS = {
  [`get ${BASE}/notifications`]: {
    summary: "The caller's in-app notifications, newest first",
    tag: 'notifications',
    query,
    ok: { status: 200, shape: { list: Notification }, paged: true },
  },
  [`post ${BASE}/notifications/read-all`]: {
    summary: "Mark all the caller's notifications read",
    tag: 'notifications',
    ok: { status: 200, shape: z.object({ marked: z.number().int() }) },
  },
  [`post ${BASE}/notifications/:notificationId/read`]: {
    summary: 'Mark one notification read',
    tag: 'notifications',
    ok: { status: 200, shape: Notification },
    errors: ['not_found'],
  },
  [`get ${BASE}/notifications/preferences`]: {
    summary: "The caller's notification preferences",
    tag: 'notifications',
    ok: { status: 200, shape: Preferences },
  },
  [`put ${BASE}/notifications/preferences`]: {
    summary: "Set the caller's preferences (a new webhook answers its signing secret once)",
    tag: 'notifications',
    body: { schema: Preferences },
    ok: { status: 200, shape: Preferences },
  },
  [`get ${BASE}/notifications/vapid-public-key`]: {
    summary: "The exchange's VAPID public key (base64url) for browsers' push subscriptions",
    tag: 'notifications',
    ok: { status: 200, shape: z.object({ publicKey: z.string() }) },
  },
  [`get ${BASE}/notifications/unsubscribe`]: {
    summary: "An email's unsubscribe link: turns that type off for email",
    tag: 'notifications',
    ok: { status: 200, shape: 'text' },
  },
  'get /dev/mail': {
    summary: 'Development: the emails the local SMTP catcher received, newest first',
    tag: 'notifications',
    ok: { status: 200, shape: { list: z.record(z.string(), z.unknown()) } },
    errors: ['not_found'],
  },
  'get /dev/notifications': {
    summary:
      'Development: what the local SMS, webhook and push stand-ins received (push decrypted; and the mail), newest first, with the dev webhook URL',
    tag: 'notifications',
    ok: {
      status: 200,
      shape: z.object({
        webhookUrl: z.string(),
        smsApiUrl: z.string(),
        sms: z.array(z.record(z.string(), z.unknown())),
        webhooks: z.array(z.record(z.string(), z.unknown())),
        push: z.array(z.record(z.string(), z.unknown())),
        mail: z.array(z.record(z.string(), z.unknown())),
      }),
    },
    errors: ['not_found'],
  },
  'post /dev/notifications/push-subscription': {
    summary:
      "Development: a push subscription at the local push stand-in, set as the caller's push channel (pushes then show, decrypted, at GET /dev/notifications)",
    tag: 'notifications',
    ok: {
      status: 201,
      shape: z.object({
        subscription: z.object({
          endpoint: z.string(),
          keys: z.object({ p256dh: z.string(), auth: z.string() }),
        }),
      }),
    },
    errors: ['not_found'],
  },
  [`post ${BASE}/alerts`]: {
    summary: 'Arm a price alert (fired once, as price_alert, by the first trade that crosses)',
    tag: 'notifications',
    body: { schema: AlertBody },
    ok: { status: 201, shape: Alert },
    errors: ['unknown_market', 'rate_limited'],
  },
  [`get ${BASE}/alerts`]: {
    summary: "The caller's price alerts",
    tag: 'notifications',
    ok: { status: 200, shape: { list: Alert } },
  },
  [`del ${BASE}/alerts/:alertId`]: {
    summary: 'Delete a price alert',
    tag: 'notifications',
    ok: { status: 200, shape: z.object({ id: z.string() }) },
    errors: ['not_found'],
  },
  [`post ${BASE}/admin/notifications/broadcast`]: {
    summary: 'Send system_maintenance to every user',
    tag: 'admin',
    body: { schema: BroadcastBody },
    ok: { status: 201, shape: z.object({ id: z.string(), recipients: z.number().int() }) },
  },
  [`get ${BASE}/admin/notifications/queues`]: {
    summary: 'Delivery queues: depths per state, deliveries per status, recent failures and retries',
    tag: 'admin',
    ok: { status: 200, shape: z.record(z.string(), z.unknown()) },
    errors: ['unavailable'],
  },
  [`post ${BASE}/admin/notifications/templates/:type/preview`]: {
    summary: "Render a type's templates (stored, or a given override) with sample data",
    tag: 'admin',
    body: { schema: PreviewBody },
    ok: { status: 200, shape: Rendered },
    errors: ['not_found'],
  },
  [`put ${BASE}/admin/notifications/templates/:type`]: {
    summary: "Override a type's templates in a locale",
    tag: 'admin',
    body: { schema: TemplateBody },
    ok: { status: 200, shape: Rendered },
    errors: ['not_found'],
  },
} as const;
