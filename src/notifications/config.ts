import path from 'node:path';
import { z } from 'zod/v4';
import { REPO_ROOT } from '../repoRoot.ts';

/*
 * The environment of notifications (PROTOCOL v1.1, Notifications; docs/notifications.md), as a zod
 * shape for src/config.ts to spread into its schema.
 */

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const flag = z
  .enum(['true', 'false', '1', '0'])
  .default('false')
  .transform((value) => value === 'true' || value === '1');

export const NOTIFY_ENV = {
  /** SMTP server of email (smtp:// or smtps://, credentials in the URL); unset: `npm start` runs a local catcher. */
  SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
  NOTIFY_FROM: z.string().min(3).max(320).default('RWA Exchange <notifications@localhost>'),
  /** Twilio-compatible SMS API base (POST {url}/2010-04-01/Accounts/{sid}/Messages.json). */
  SMS_API_URL: z.url().optional(),
  SMS_ACCOUNT_SID: z.string().min(1).max(64).default('AC00000000000000000000000000000000'),
  SMS_AUTH_TOKEN: z.string().min(1).max(256).default('development-sms-token'),
  SMS_FROM: z.string().min(1).max(32).default('+15550000000'),
  /** Web Push VAPID keys (base64url); unset: generated once and kept in notification_settings. */
  VAPID_PUBLIC_KEY: z.string().min(80).max(100).optional(),
  VAPID_PRIVATE_KEY: z.string().min(40).max(50).optional(),
  VAPID_SUBJECT: z.string().min(5).max(200).default('mailto:notifications@localhost'),
  /** Users' webhook and push URLs may resolve to loopback, private or link-local addresses (dev, tests). */
  NOTIFY_ALLOW_PRIVATE_TARGETS: flag,
  /** Where links in messages (unsubscribe) point: the exchange's public base URL. */
  NOTIFY_PUBLIC_URL: z.url().optional(),
  /** How often the notifier looks for new journal records, ms (a commit also wakes it). */
  NOTIFY_INTERVAL_MS: positiveInt(50),
  /** Sends per second per provider (channel), each channel's BullMQ limiter. */
  NOTIFY_RATE_PER_S: positiveInt(200),
  /** Attempts of an email, SMS or push delivery (exponential backoff from NOTIFY_BACKOFF_MS). */
  NOTIFY_ATTEMPTS: positiveInt(5),
  /** Jobs each channel's worker runs at once (their database reads and writes go in batches). */
  NOTIFY_CONCURRENCY: positiveInt(64),
  /** Pooled SMTP connections of email (each reused for up to NOTIFY_SMTP_MESSAGES_PER_CONNECTION). */
  NOTIFY_SMTP_CONNECTIONS: positiveInt(8),
  NOTIFY_SMTP_MESSAGES_PER_CONNECTION: positiveInt(1_000),
  NOTIFY_BACKOFF_MS: positiveInt(1_000),
  /**
   * Webhook retry schedule, seconds after the first attempt (Standard Webhooks / Svix-like:
   * seconds, minutes, hours); after the last the endpoint is disabled and its owner told.
   */
  NOTIFY_WEBHOOK_SCHEDULE_S: z
    .string()
    .default('5,300,1800,7200,18000,36000,86400,172800,259200')
    .transform((text, ctx) => {
      const steps = text.split(',').map((s) => Number(s.trim()));
      if (steps.some((s) => !Number.isFinite(s) || s < 0)) {
        ctx.addIssue({ code: 'custom', message: 'a comma-separated list of non-negative seconds' });
        return z.NEVER;
      }
      return steps;
    }),
  /** Where the development SMTP catcher keeps messages (SMTP_URL unset, NODE_ENV=development). */
  NOTIFY_DEV_MAIL_DIR: z
    .string()
    .min(1)
    .default(path.join(REPO_ROOT, '.data', 'mail')),
  /** Where the development SMS and webhook stand-ins keep what they receive (SMS_API_URL unset, development). */
  NOTIFY_DEV_CHANNELS_DIR: z
    .string()
    .min(1)
    .default(path.join(REPO_ROOT, '.data', 'notify-dev')),
  /** Price alerts a user may keep armed. */
  NOTIFY_MAX_ALERTS_PER_USER: positiveInt(100),
};
