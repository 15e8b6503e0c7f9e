/**
 * Templates per notification type and channel, rendered with Handlebars. The defaults live here,
 * in the repo; an admin's override (table notification_templates, per type, channel and locale)
 * replaces a default's fields. Text fields (titles, bodies, SMS, plain-text email) are rendered
 * without escaping; the HTML email is escaped (`{{x}}`), so a market name or a reason from a user
 * cannot inject markup. Every email carries a plain-text part and an unsubscribe link that turns
 * that type off for its email channel.
 */

import Handlebars from 'handlebars';
import { z } from 'zod/v4';
import type { NotificationType } from './types.ts';

/** The fields a template may set; each is optional in an override. */
export const TemplateFields = z.object({
  title: z.string().max(500),
  body: z.string().max(5000),
  subject: z.string().max(500),
  text: z.string().max(20_000),
  html: z.string().max(50_000),
  sms: z.string().max(1600),
});
export type TemplateFields = z.infer<typeof TemplateFields>;
export const TemplateOverride = TemplateFields.partial().strict();
export type TemplateOverride = z.infer<typeof TemplateOverride>;

const TITLES: Record<NotificationType, { title: string; body: string }> = {
  order_filled: {
    title: '{{#if complete}}Order filled{{else}}Order partly filled{{/if}} on {{market}}',
    body: '{{side}} {{qty}} {{market}} at {{price}} ({{liquidity}}); {{remainingQty}} left',
  },
  price_alert: {
    title: '{{market}} is {{direction}} {{threshold}}',
    body: 'A trade at {{price}} crossed your alert ({{direction}} {{threshold}})',
  },
  deposit_completed: {
    title: 'Deposit of {{amount}} {{asset}} completed',
    body: '{{amount}} {{asset}} arrived through {{provider}} (reference {{reference}})',
  },
  withdrawal_status: {
    title: 'Withdrawal {{status}}',
    body: 'Your withdrawal of {{amount}} {{asset}} to {{destination}} is {{status}}{{#if reason}}: {{reason}}{{/if}}',
  },
  market_lifecycle: {
    title: '{{market}} is {{to}}',
    body: '{{market}} went from {{from}} to {{to}}{{#if reason}}: {{reason}}{{/if}}',
  },
  kyc_required: {
    title: 'Verification needed for {{market}}',
    body: 'Your order on {{market}} was refused: {{reason}}. Complete verification to trade it.',
  },
  security_alert: {
    title: 'New sign-in',
    body: 'Your account signed in from {{address}} ({{device}}). If this was not you, secure your account.',
  },
  system_maintenance: { title: '{{title}}', body: '{{body}}' },
  trend_detected: {
    title: 'Trend: {{topic}}',
    body: '{{topic}} ({{symbol}}) is trending: virality {{viralityScore}}, sentiment {{sentiment}}',
  },
  market_breakout: {
    title: '{{market}} broke out {{direction}}',
    body: '{{market}} broke out {{direction}} at {{price}}',
  },
  webhook_disabled: {
    title: 'Webhook disabled',
    body: 'Deliveries to {{url}} failed for {{days}} days; the webhook is disabled. Set it again to resume.',
  },
};

const TEXT_FOOTER = '\n\n--\nStop these emails: {{unsubscribeUrl}}';
const HTML_LAYOUT =
  '<!doctype html><html><body><h2>{{title}}</h2><p>{{body}}</p>' +
  '<p style="font-size:12px;color:#666"><a href="{{unsubscribeUrl}}">Unsubscribe from these emails</a></p>' +
  '</body></html>';

function defaults(type: NotificationType): TemplateFields {
  const { title, body } = TITLES[type];
  return {
    title,
    body,
    subject: '{{title}}',
    text: `{{title}}\n\n{{body}}${TEXT_FOOTER}`,
    html: HTML_LAYOUT,
    sms: '{{title}}: {{body}}',
  };
}

export interface Rendered {
  readonly title: string;
  readonly body: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  readonly sms: string;
}

type Compiled = Record<keyof TemplateFields, HandlebarsTemplateDelegate>;

/** The templates in force: the repo's defaults under the overrides (per type and locale). */
export class Templates {
  readonly #handlebars = Handlebars.create();
  readonly #overrides = new Map<string, TemplateOverride>();
  readonly #compiled = new Map<string, Compiled>();

  constructor(overrides: Iterable<{ type: string; locale: string; template: TemplateOverride }> = []) {
    for (const o of overrides) this.#overrides.set(`${o.type}|${o.locale}`, o.template);
  }

  /** Replaces (or with undefined removes) the override of a type in a locale. */
  setOverride(type: NotificationType, locale: string, template: TemplateOverride | undefined): void {
    const key = `${type}|${locale}`;
    if (template === undefined) this.#overrides.delete(key);
    else this.#overrides.set(key, template);
    this.#compiled.delete(key);
  }

  /**
   * Renders every field: title and body first (from the data), then the others with them. A
   * template that does not compile fails here (a bad override answers the admin 400 in preview).
   */
  render(
    type: NotificationType,
    data: Readonly<Record<string, unknown>>,
    options: { readonly locale?: string; readonly unsubscribeUrl?: string } = {},
  ): Rendered {
    const t = this.#compile(type, options.locale ?? 'en');
    const title = t.title(data);
    const body = t.body(data);
    const all = { ...data, title, body, unsubscribeUrl: options.unsubscribeUrl ?? '' };
    return {
      title,
      body,
      subject: t.subject(all),
      text: t.text(all),
      html: t.html(all),
      sms: t.sms(all),
    };
  }

  #compile(type: NotificationType, locale: string): Compiled {
    const key = `${type}|${locale}`;
    const cached = this.#compiled.get(key);
    if (cached !== undefined) return cached;
    const fields = { ...defaults(type), ...(this.#overrides.get(`${type}|en`) ?? {}) };
    if (locale !== 'en') Object.assign(fields, this.#overrides.get(key) ?? {});
    const text = (source: string) => this.#handlebars.compile(source, { noEscape: true, strict: false });
    const compiled: Compiled = {
      title: text(fields.title),
      body: text(fields.body),
      subject: text(fields.subject),
      text: text(fields.text),
      html: this.#handlebars.compile(fields.html, { strict: false }),
      sms: text(fields.sms),
    };
    // Compile now (Handlebars compiles lazily): a broken template throws here, not per message.
    for (const template of Object.values(compiled)) template({});
    this.#compiled.set(key, compiled);
    return compiled;
  }
}
