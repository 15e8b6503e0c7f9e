/**
 * The notification vocabulary of PROTOCOL v1.1 (Notifications): the types, the channels a
 * notification is delivered on, and a draft (what the notifier decided to tell whom, before it is
 * rendered and stored).
 */

export const NOTIFICATION_TYPES = [
  'order_filled',
  'price_alert',
  'deposit_completed',
  'withdrawal_status',
  'market_lifecycle',
  'kyc_required',
  'security_alert',
  'system_maintenance',
  'trend_detected',
  'market_breakout',
  // The owner's webhook endpoint was disabled after days of failed deliveries.
  'webhook_disabled',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** Types that ignore quiet hours and digests (they go out at once). */
export const CRITICAL_TYPES: ReadonlySet<NotificationType> = new Set(['security_alert', 'kyc_required']);

/** Channels other than in-app: each a BullMQ queue with its own worker (src/notifications/channels). */
export const DELIVERY_CHANNELS = ['email', 'sms', 'push', 'webhook', 'slack', 'discord'] as const;
export type DeliveryChannel = (typeof DELIVERY_CHANNELS)[number];

export const CHANNELS = ['in_app', ...DELIVERY_CHANNELS] as const;
export type NotificationChannel = (typeof CHANNELS)[number];

/** Held by quiet hours (PROTOCOL: email, sms, push); webhooks and chat hooks are machines' channels. */
export const QUIET_CHANNELS: ReadonlySet<DeliveryChannel> = new Set(['email', 'sms', 'push']);

/** Who a draft is for. */
export type Audience =
  | { readonly kind: 'user'; readonly userId: string }
  /** The market's issuer and every holder of its base asset. */
  | { readonly kind: 'market'; readonly marketId: string; readonly asset: string | undefined }
  /** Holders of the market's base asset and owners of an armed alert on it. */
  | { readonly kind: 'watchers'; readonly marketId: string; readonly asset: string | undefined }
  /** Users whose preferences turn this type on explicitly. */
  | { readonly kind: 'opted_in' };

/** What the notifier decided before rendering: `source` is unique per draft (a row per user and source). */
export interface Draft {
  readonly type: NotificationType;
  readonly audience: Audience;
  readonly source: string;
  readonly ts: number;
  /** The template's variables and the notification's `data` (JSON: strings and numbers). */
  readonly data: Readonly<Record<string, string | number | boolean>>;
}

/** A stored notification, as the `notifications` channel and GET /notifications show it. */
export interface NotificationView {
  readonly id: string;
  readonly type: string;
  readonly title: string;
  readonly body: string;
  readonly data: Record<string, unknown>;
  readonly ts: number;
  readonly read: boolean;
}
