import {
  isRouteMissing,
  type ExchangeHttp,
  type NotificationPreferences,
  type PriceAlert,
} from '../../src/client/index.ts';
import { el, emptyRow, setText, table } from '../shared/dom.ts';
import { messageOf } from '../shared/signin.ts';
import { formatTime } from '../shared/format.ts';

/*
 * The account panes of issues 17 and 18 on the trading page (issue 20): positions (GET
 * /portfolio, refreshed on each `positions` push), price alerts (POST/GET/DELETE /alerts) and
 * notification preferences (GET/PUT /notifications/preferences). Each pane loads once signed in
 * and says "not available" when the server lacks its route. Preferences are edited over what is
 * stored: fields this form does not show (per-type switches, digests, push, slack, locale) are
 * sent back as they were.
 */

export interface AccountExtrasHost {
  readonly http: ExchangeHttp;
  /** The selected market's symbol and quote asset (alerts default to it, positions are valued in it). */
  market(): { symbol: string; quoteAsset: string } | undefined;
}

export class AccountExtras {
  readonly positions: HTMLElement;
  readonly alerts: HTMLElement;
  readonly preferences: HTMLElement;
  readonly #host: AccountExtrasHost;
  readonly #positionsBody = el('tbody', { 'data-testid': 'positions' });
  readonly #equity = el('p', { class: 'muted', 'data-testid': 'portfolio-equity' }, ['—']);
  readonly #alertsBody = el('tbody', { 'data-testid': 'alerts' });
  readonly #alertMarket = el('input', {
    placeholder: 'market',
    size: 10,
    'aria-label': 'alert market',
    'data-testid': 'alert-market',
  });
  readonly #alertResult = el('span', { class: 'notice', role: 'status', 'data-testid': 'alert-result' });
  readonly #prefs = preferenceFields();
  readonly #prefsResult = el('span', { class: 'notice', role: 'status', 'data-testid': 'prefs-result' });
  #stored: NotificationPreferences | undefined;
  #portfolioTimer: ReturnType<typeof setTimeout> | undefined;
  /** Portfolio reads overlap (pushes, sign-in): only the latest one draws. */
  #portfolioGeneration = 0;

  constructor(host: AccountExtrasHost) {
    this.#host = host;
    this.positions = this.#positionsPane();
    this.alerts = this.#alertsPane();
    this.preferences = this.#preferencesPane();
  }

  /** After sign-in: read all three. */
  load(): void {
    void this.loadPortfolio();
    void this.#loadAlerts();
    void this.#loadPreferences();
  }

  /** A `positions` push: read the portfolio again, at most every 250 ms. */
  positionChanged(): void {
    if (this.#portfolioTimer !== undefined) return;
    this.#portfolioTimer = setTimeout(() => {
      this.#portfolioTimer = undefined;
      void this.loadPortfolio();
    }, 250);
  }

  async loadPortfolio(): Promise<void> {
    const generation = ++this.#portfolioGeneration;
    const valuedIn = this.#host.market()?.quoteAsset ?? 'USDC';
    try {
      const portfolio = await this.#host.http.portfolio(valuedIn);
      if (generation !== this.#portfolioGeneration) return;
      setText(
        this.#equity,
        `Equity ${portfolio.equity} ${portfolio.in} · realized ${portfolio.realizedPnl} · unrealized ${portfolio.unrealizedPnl}`,
      );
      const rows = portfolio.positions.map((p) =>
        el('tr', { 'data-testid': 'position', 'data-asset': p.asset, 'data-qty': p.qty }, [
          el('td', {}, [p.asset]),
          el('td', { class: 'num' }, [p.qty]),
          el('td', { class: 'num' }, [p.avgPrice ?? '—']),
          el('td', { class: 'num' }, [p.lastPrice ?? '—']),
          el('td', { class: 'num' }, [p.value ?? '—']),
          el('td', { class: pnlClass(p.unrealizedPnl), 'data-testid': 'position-upnl' }, [
            p.unrealizedPnl ?? '—',
          ]),
          el('td', { class: pnlClass(p.realizedPnl) }, [p.realizedPnl]),
        ]),
      );
      this.#positionsBody.replaceChildren(...rows);
      if (rows.length === 0) this.#positionsBody.append(emptyRow(7, 'no positions'));
    } catch (error) {
      if (generation !== this.#portfolioGeneration) return;
      setText(
        this.#equity,
        isRouteMissing(error) ? 'positions are not available on this server' : messageOf(error),
      );
    }
  }

  #positionsPane(): HTMLElement {
    this.#positionsBody.append(emptyRow(7, 'no positions'));
    return el('div', { class: 'pane' }, [
      this.#equity,
      table(['Asset', 'Qty', 'Avg price', 'Last', 'Value', 'Unrealized', 'Realized'], this.#positionsBody),
    ]);
  }

  // --- Price alerts ----------------------------------------------------------------------------

  async #loadAlerts(): Promise<void> {
    try {
      this.#drawAlerts(await this.#host.http.alerts());
    } catch (error) {
      this.#alertsBody.replaceChildren(
        emptyRow(
          4,
          isRouteMissing(error) ? 'price alerts are not available on this server' : messageOf(error),
        ),
      );
    }
  }

  #drawAlerts(alerts: readonly PriceAlert[]): void {
    const rows = [...alerts]
      .sort((a, b) => b.createdAt - a.createdAt)
      .map((a) => {
        const remove = el('button', { type: 'button', 'data-testid': 'alert-delete' }, ['Delete']);
        remove.addEventListener('click', () => {
          this.#host.http.deleteAlert(a.id).then(
            () => void this.#loadAlerts(),
            (e: unknown) => {
              setText(this.#alertResult, messageOf(e));
            },
          );
        });
        const crossing = a.above === undefined ? `below ${a.below ?? ''}` : `above ${a.above}`;
        return el('tr', { 'data-testid': 'alert', 'data-id': a.id, 'data-fired': String(a.fired) }, [
          el('td', {}, [a.market]),
          el('td', {}, [crossing]),
          el('td', {}, [a.fired ? 'fired' : `armed ${formatTime(a.createdAt)}`]),
          el('td', { class: 'actions' }, [remove]),
        ]);
      });
    this.#alertsBody.replaceChildren(...rows);
    if (rows.length === 0) this.#alertsBody.append(emptyRow(4, 'no price alerts'));
  }

  #alertsPane(): HTMLElement {
    const direction = el('select', { 'aria-label': 'alert direction', 'data-testid': 'alert-direction' }, [
      el('option', { value: 'above' }, ['above']),
      el('option', { value: 'below' }, ['below']),
    ]);
    const price = el('input', {
      placeholder: 'price',
      inputmode: 'decimal',
      size: 10,
      'aria-label': 'alert price',
      'data-testid': 'alert-price',
    });
    const form = el('form', { class: 'inline-form', 'aria-label': 'price alert' }, [
      el('strong', {}, ['Alert when the price crosses']),
      this.#alertMarket,
      direction,
      price,
      el('button', { type: 'submit', 'data-testid': 'alert-submit' }, ['Add alert']),
      this.#alertResult,
    ]);
    // Empty, the market field means the selected market.
    form.addEventListener('focusin', () => {
      this.#alertMarket.placeholder = this.#host.market()?.symbol ?? 'market';
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const market = this.#alertMarket.value.trim() || (this.#host.market()?.symbol ?? '');
      const level = price.value.trim();
      setText(this.#alertResult, '…');
      this.#host.http
        .createAlert(direction.value === 'above' ? { market, above: level } : { market, below: level })
        .then(
          (created) => {
            setText(this.#alertResult, `alert ${created.id} armed`);
            price.value = '';
            void this.#loadAlerts();
          },
          (e: unknown) => {
            setText(this.#alertResult, isRouteMissing(e) ? 'price alerts are not available' : messageOf(e));
          },
        );
    });
    this.#alertsBody.append(emptyRow(4, 'no price alerts'));
    return el('div', { class: 'pane' }, [form, table(['Market', 'When', 'Status', ''], this.#alertsBody)]);
  }

  // --- Notification preferences ----------------------------------------------------------------

  async #loadPreferences(): Promise<void> {
    try {
      this.#stored = await this.#host.http.preferences();
      fillPreferences(this.#prefs, this.#stored);
      setText(this.#prefsResult, '');
    } catch (error) {
      setText(
        this.#prefsResult,
        isRouteMissing(error) ? 'preferences are not available on this server' : messageOf(error),
      );
    }
  }

  #preferencesPane(): HTMLElement {
    const f = this.#prefs;
    const secret = el('code', { 'data-testid': 'webhook-secret' });
    const row = (label: string, ...fields: HTMLElement[]) =>
      el('div', { class: 'pref-row' }, [el('span', { class: 'pref-label' }, [label]), ...fields]);
    const form = el('form', { class: 'prefs-form', 'aria-label': 'notification preferences' }, [
      row('In-app', f.inApp),
      row('Email', f.emailOn, f.email),
      row('SMS', f.smsOn, f.sms),
      row('Webhook', f.webhookOn, f.webhook),
      row('Quiet hours', f.quietOn, f.quietStart, f.quietEnd, f.quietTz),
      el('div', { class: 'pane-actions' }, [
        el('button', { type: 'submit', 'data-testid': 'prefs-save' }, ['Save preferences']),
        this.#prefsResult,
      ]),
      el('p', { class: 'muted' }, ['A new webhook’s signing secret is shown once: ', secret]),
    ]);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const built = buildPreferences(f, this.#stored);
      if (typeof built === 'string') {
        setText(this.#prefsResult, built);
        return;
      }
      setText(this.#prefsResult, '…');
      this.#host.http.setPreferences(built).then(
        (saved) => {
          this.#stored = saved;
          const webhook = saved.channels.webhook;
          setText(secret, webhook?.secret ?? '');
          fillPreferences(f, saved);
          setText(this.#prefsResult, 'saved');
        },
        (e: unknown) => {
          setText(this.#prefsResult, isRouteMissing(e) ? 'preferences are not available' : messageOf(e));
        },
      );
    });
    return el('div', { class: 'pane' }, [form]);
  }
}

type PreferenceFields = ReturnType<typeof preferenceFields>;

function preferenceFields() {
  const check = (testid: string, label: string) =>
    el('input', { type: 'checkbox', 'aria-label': label, 'data-testid': testid });
  const text = (testid: string, label: string, placeholder: string, size = 22) =>
    el('input', { type: 'text', 'aria-label': label, placeholder, size, 'data-testid': testid });
  return {
    inApp: check('pref-in-app', 'in-app notifications'),
    emailOn: check('pref-email-on', 'email enabled'),
    email: text('pref-email', 'email address', 'you@example.com'),
    smsOn: check('pref-sms-on', 'sms enabled'),
    sms: text('pref-sms', 'phone (E.164)', '+27821234567', 14),
    webhookOn: check('pref-webhook-on', 'webhook enabled'),
    webhook: text('pref-webhook', 'webhook url', 'https://example.com/hook', 26),
    quietOn: check('pref-quiet-on', 'quiet hours on'),
    quietStart: text('pref-quiet-start', 'quiet hours start', '22:00', 5),
    quietEnd: text('pref-quiet-end', 'quiet hours end', '07:00', 5),
    quietTz: text('pref-quiet-tz', 'time zone', 'Africa/Johannesburg', 18),
  };
}

function fillPreferences(f: PreferenceFields, p: NotificationPreferences): void {
  const { channels } = p;
  f.inApp.checked = channels.in_app.enabled;
  f.emailOn.checked = channels.email?.enabled ?? false;
  f.email.value = channels.email?.address ?? '';
  f.smsOn.checked = channels.sms?.enabled ?? false;
  f.sms.value = channels.sms?.phone ?? '';
  f.webhookOn.checked = channels.webhook?.enabled ?? false;
  f.webhook.value = channels.webhook?.url ?? '';
  f.quietOn.checked = p.quietHours !== undefined;
  f.quietStart.value = p.quietHours?.start ?? '';
  f.quietEnd.value = p.quietHours?.end ?? '';
  f.quietTz.value = p.quietHours?.tz ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** The preferences to PUT: the form over what is stored; a message when the form is incomplete. */
function buildPreferences(
  f: PreferenceFields,
  stored: NotificationPreferences | undefined,
): NotificationPreferences | string {
  // The webhook's secret is answered once and never sent back.
  const storedWebhook: Record<string, unknown> = {
    ...(stored?.channels.webhook ?? { url: '', enabled: false }),
  };
  delete storedWebhook.secret;
  const channels: Record<string, unknown> = {
    ...(stored?.channels ?? {}),
    in_app: { enabled: f.inApp.checked },
  };
  const email = f.email.value.trim();
  if (email !== '')
    channels.email = { ...(stored?.channels.email ?? {}), address: email, enabled: f.emailOn.checked };
  else if (f.emailOn.checked) return 'email: an address is needed';
  else delete channels.email;
  const phone = f.sms.value.trim();
  if (phone !== '') channels.sms = { ...(stored?.channels.sms ?? {}), phone, enabled: f.smsOn.checked };
  else if (f.smsOn.checked) return 'sms: a phone number is needed';
  else delete channels.sms;
  const url = f.webhook.value.trim();
  if (url !== '') channels.webhook = { ...storedWebhook, url, enabled: f.webhookOn.checked };
  else if (f.webhookOn.checked) return 'webhook: a URL is needed';
  else delete channels.webhook;
  const out: Record<string, unknown> = { ...(stored ?? {}), channels };
  delete out.quietHours;
  if (f.quietOn.checked) {
    const start = f.quietStart.value.trim();
    const end = f.quietEnd.value.trim();
    if (!/^[0-2][0-9]:[0-5][0-9]$/.test(start) || !/^[0-2][0-9]:[0-5][0-9]$/.test(end))
      return 'quiet hours: start and end as HH:MM';
    out.quietHours = { start, end, tz: f.quietTz.value.trim() };
  }
  return out as NotificationPreferences;
}

function pnlClass(value: string | null): string {
  if (value === null) return 'num';
  return value.startsWith('-') ? 'num sell' : /[1-9]/.test(value) ? 'num buy' : 'num';
}
