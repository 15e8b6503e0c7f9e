import { z } from 'zod/v4';
import { TemplateOverride } from './templates.ts';
import { NOTIFICATION_TYPES } from './types.ts';

/** The HTTP bodies of the notification routes (PROTOCOL v1.1, Notifications), parsed at the boundary. */

const decimal = z
  .string()
  .max(40)
  .regex(/^[0-9]+(\.[0-9]+)?$/, 'a plain decimal string');

export const AlertBody = z
  .object({ market: z.string().min(1).max(64), above: decimal.optional(), below: decimal.optional() })
  .strict()
  .refine((b) => (b.above === undefined) !== (b.below === undefined), {
    message: 'give exactly one of above and below',
  });

export const BroadcastBody = z
  .object({
    type: z.literal('system_maintenance'),
    title: z.string().min(1).max(200),
    body: z.string().min(1).max(5000),
  })
  .strict();

const TemplateData = z.record(z.string().max(64), z.union([z.string().max(2000), z.number(), z.boolean()]));

export const PreviewBody = z
  .object({
    data: TemplateData.default({}),
    locale: z
      .string()
      .regex(/^[a-z]{2}(-[A-Z]{2})?$/)
      .optional(),
    /** An override to try before storing it. */
    template: TemplateOverride.optional(),
  })
  .strict();

export const TemplateBody = z
  .object({
    locale: z
      .string()
      .regex(/^[a-z]{2}(-[A-Z]{2})?$/)
      .default('en'),
    template: TemplateOverride,
  })
  .strict();

export const NotificationTypeParam = z.enum(NOTIFICATION_TYPES);

export const NotificationListQuery = z.object({
  unread: z.enum(['true', 'false']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
