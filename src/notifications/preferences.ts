/**
 * A user's notification preferences (PROTOCOL v1.1, Notifications), parsed with zod at PUT, and
 * resolved per notification in layers (Novu's way): the channel's own switch, then the type's
 * switch for that channel; quiet hours in the user's time zone hold email, SMS and push (critical
 * types ignore them); a digest per type gathers a window into one message.
 */

import { z } from 'zod/v4';
import {
  CHANNELS,
  CRITICAL_TYPES,
  DELIVERY_CHANNELS,
  NOTIFICATION_TYPES,
  QUIET_CHANNELS,
  type DeliveryChannel,
  type NotificationType,
} from './types.ts';

const HHMM = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'a time is "HH:MM" (00:00–23:59)');
const url = z.url({ protocol: /^https?$/ }).max(2048);

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const PushSubscription = z.object({
  endpoint: z.url({ protocol: /^https?$/ }).max(2048),
  expirationTime: z.number().nullable().optional(),
  keys: z.object({
    p256dh: z.string().regex(/^[A-Za-z0-9_-]{80,100}$/, 'p256dh is a base64url P-256 public key'),
    auth: z.string().regex(/^[A-Za-z0-9_-]{16,32}$/, 'auth is a base64url secret'),
  }),
});
export type PushSubscription = z.infer<typeof PushSubscription>;

const enabled = z.boolean();
/** A fallback channel is used only for a notification another channel failed to deliver. */
const fallback = z.boolean().optional();
export const Preferences = z
  .object({
    channels: z
      .object({
        email: z
          .object({ address: z.email().max(320), enabled, fallback })
          .strict()
          .optional(),
        sms: z
          .object({
            phone: z.string().regex(/^\+[1-9][0-9]{6,14}$/, 'phone is E.164 (+15551234567)'),
            enabled,
            fallback,
          })
          .strict()
          .optional(),
        push: z.object({ subscription: PushSubscription, enabled, fallback }).strict().optional(),
        webhook: z.object({ url, enabled }).strict().optional(),
        slack: z.object({ url, enabled }).strict().optional(),
        discord: z.object({ url, enabled }).strict().optional(),
        in_app: z.object({ enabled }).strict(),
      })
      .strict(),
    types: z
      .partialRecord(z.enum(NOTIFICATION_TYPES), z.partialRecord(z.enum(CHANNELS), z.boolean()))
      .optional(),
    quietHours: z
      .object({
        start: HHMM,
        end: HHMM,
        tz: z.string().max(64).refine(isTimeZone, 'tz is an IANA time zone such as "Africa/Johannesburg"'),
      })
      .strict()
      .optional(),
    digest: z
      .partialRecord(
        z.enum(NOTIFICATION_TYPES),
        z.object({ windowS: z.number().int().min(10).max(86_400) }).strict(),
      )
      .optional(),
    /** Templates' locale (default `en`). */
    locale: z
      .string()
      .regex(/^[a-z]{2}(-[A-Z]{2})?$/)
      .optional(),
  })
  .strict();
export type Preferences = z.infer<typeof Preferences>;

export const DEFAULT_PREFERENCES: Preferences = { channels: { in_app: { enabled: true } } };

/**
 * The delivery channels a notification of `type` goes out on (in-app is the row itself); with
 * `fallback`, the channels kept for a delivery another channel failed (`fallback: true`).
 */
export function deliveryChannels(
  preferences: Preferences,
  type: NotificationType,
  which: 'primary' | 'fallback' = 'primary',
): DeliveryChannel[] {
  const switches = preferences.types?.[type] ?? {};
  const out: DeliveryChannel[] = [];
  for (const channel of DELIVERY_CHANNELS) {
    const settings = preferences.channels[channel];
    if (settings === undefined || !settings.enabled) continue;
    if (switches[channel] === false) continue;
    const isFallback = 'fallback' in settings && settings.fallback === true;
    if (isFallback !== (which === 'fallback')) continue;
    out.push(channel);
  }
  return out;
}

/** The in-app row is pushed unless the type's in-app switch is off. */
export function inAppEnabled(preferences: Preferences, type: NotificationType): boolean {
  return preferences.channels.in_app.enabled && preferences.types?.[type]?.in_app !== false;
}

/** Whether a user wants a type that goes only to those who ask (trends without a market). */
export function optedIn(preferences: Preferences, type: NotificationType): boolean {
  const switches = preferences.types?.[type];
  return switches !== undefined && Object.values(switches).some((on) => on);
}

const MINUTES_PER_DAY = 24 * 60;

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

/** The local time of day at `nowMs` in `tz`: minutes and the ms into the minute. */
function localTime(nowMs: number, tz: string): { minutes: number; intoMinuteMs: number } {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: tz,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(nowMs));
  const hour = Number(parts.find((p) => p.type === 'hour')?.value ?? 0);
  const minute = Number(parts.find((p) => p.type === 'minute')?.value ?? 0);
  return { minutes: hour * 60 + minute, intoMinuteMs: nowMs % 60_000 };
}

/**
 * When the quiet hours holding a delivery at `nowMs` end (ms since epoch), or undefined when none
 * hold it (no quiet hours, outside them, a critical type, or a channel they do not hold). Hours
 * across midnight (22:00–07:00) work; a DST shift inside the window moves its end by that hour.
 */
export function quietUntil(
  preferences: Preferences,
  type: NotificationType,
  channel: DeliveryChannel,
  nowMs: number,
): number | undefined {
  const quiet = preferences.quietHours;
  if (quiet === undefined || CRITICAL_TYPES.has(type) || !QUIET_CHANNELS.has(channel)) return undefined;
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  if (start === end) return undefined;
  const { minutes, intoMinuteMs } = localTime(nowMs, quiet.tz);
  const inside = start < end ? minutes >= start && minutes < end : minutes >= start || minutes < end;
  if (!inside) return undefined;
  const left = (end - minutes + MINUTES_PER_DAY) % MINUTES_PER_DAY;
  return nowMs - intoMinuteMs + left * 60_000;
}

/** The digest window of a type in seconds, when the user asked for one (critical types: never). */
export function digestWindowS(preferences: Preferences, type: NotificationType): number | undefined {
  if (CRITICAL_TYPES.has(type)) return undefined;
  return preferences.digest?.[type]?.windowS;
}
