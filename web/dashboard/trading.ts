import {
  ExchangeError,
  ExchangeHttp,
  isRouteMissing,
  type ExchangeClient,
  type MarketView,
  type OrderView,
  type Role,
} from '../../src/client/index.ts';
import { byId, el, emptyRow, setText, table } from '../shared/dom.ts';
import { formatTime } from '../shared/format.ts';
import {
  balancesStore,
  fundingStore,
  marketsStore,
  notificationsStore,
  ordersStore,
  sessionStore,
  unreadCount,
} from '../shared/stores.ts';
import { errorField, sendTicket, type FieldErrors, type Ticket } from './orderForm.ts';
import { TicketForm } from './ticketForm.ts';
import { AccountExtras } from './accountExtras.ts';

/*
 * The trading half of the page at `/` (issue 20): sign-in, the order ticket, the user's orders,
 * fills, balances, funding and notifications. Signed out, none of it shows but the sign-in and the
 * page stays a market-data page. Everything goes through the SDK: orders, amends and cancels over
 * the WebSocket client the dashboard opened (authenticated with the session's token), history and
 * funding over ExchangeHttp. State lives in the stores (web/shared/stores.ts); each table
 * subscribes to its own slice.
 */

const TOKEN_KEY = 'rwa.session.token';
const HISTORY_PAGE = 20;

export class Trading {
  readonly #http = new ExchangeHttp();
  #client: ExchangeClient | undefined;
  #authedOn: ExchangeClient | undefined;
  #bestBid: string | undefined;
  #bestAsk: string | undefined;
  readonly #form: TicketForm;
  readonly #extras: AccountExtras;

  constructor() {
    this.#extras = new AccountExtras({
      http: this.#http,
      market: () => {
        const { list, selected } = marketsStore.getSnapshot().context;
        const market = list.find((m) => m.symbol === selected);
        return market === undefined ? undefined : { symbol: market.symbol, quoteAsset: market.quoteAsset };
      },
    });
    this.#form = new TicketForm(
      byId('ticket'),
      (ticket, market) => this.#place(ticket, market),
      () => ({
        bid: this.#bestBid,
        ask: this.#bestAsk,
      }),
    );
    this.#renderSignIn();
    this.#renderAccount();
    const stored = sessionStorage.getItem(TOKEN_KEY);
    if (stored !== null) sessionStore.trigger.signingIn({ token: stored });
    sessionStore
      .select((s) => s.status)
      .subscribe((status) => {
        document.body.dataset.session = status;
      });
    document.body.dataset.session = sessionStore.getSnapshot().context.status;
  }

  /** The book's best prices: market orders' lock is estimated at them. */
  setBest(bid: string | undefined, ask: string | undefined): void {
    this.#bestBid = bid;
    this.#bestAsk = ask;
    this.#form.refresh();
  }

  /** A click on a ladder price. */
  fillPrice(price: string): void {
    this.#form.setPrice(price);
  }

  /** The dashboard connected a fresh client: authenticate it when there is a session. */
  attach(client: ExchangeClient): void {
    this.#client = client;
    this.#authedOn = undefined;
    void this.#authenticate();
  }

  detach(): void {
    this.#client = undefined;
    this.#authedOn = undefined;
  }

  async #authenticate(): Promise<void> {
    const client = this.#client;
    const { token } = sessionStore.getSnapshot().context;
    if (client === undefined || token === undefined || this.#authedOn === client) return;
    try {
      const session = await client.auth(token);
      this.#authedOn = client;
      this.#http.setToken(token);
      sessionStorage.setItem(TOKEN_KEY, token);
      sessionStore.trigger.signedIn({ userId: session.userId, roles: session.roles });
      ordersStore.trigger.reset();
      balancesStore.trigger.reset();
      fundingStore.trigger.reset();
      notificationsStore.trigger.reset();
      await this.#subscribePrivate(client);
      void this.#loadHistory(false);
      void this.#loadFills(false);
      void this.#loadFunding();
      void this.#loadNotifications();
      if (session.roles.includes('trader')) this.#extras.load();
    } catch (error) {
      sessionStorage.removeItem(TOKEN_KEY);
      this.#http.setToken(undefined);
      sessionStore.trigger.failed({ message: messageOf(error) });
    }
  }

  async #subscribePrivate(client: ExchangeClient): Promise<void> {
    const { roles } = sessionStore.getSnapshot().context;
    const subs: Promise<unknown>[] = [
      client.subscribe('notifications', {}, (n) => {
        notificationsStore.trigger.notification({ item: n });
      }),
    ];
    if (roles.includes('trader')) {
      subs.push(
        client.subscribe('orders', {}, (order) => {
          ordersStore.trigger.order({ order });
        }),
        client.subscribe('fills', {}, (fill) => {
          ordersStore.trigger.fill({ fill });
        }),
        client.subscribe('balances', {}, (balance) => {
          balancesStore.trigger.balance({ balance });
        }),
        client.subscribe('funding', {}, (item) => {
          fundingStore.trigger.item({ item });
        }),
        client.subscribe('positions', {}, () => {
          this.#extras.positionChanged();
        }),
      );
    }
    const results = await Promise.allSettled(subs);
    for (const r of results)
      if (r.status === 'rejected') console.warn('trading: subscribe:', messageOf(r.reason));
    if (results[0]?.status === 'rejected') notificationsStore.trigger.unavailable();
  }

  async #place(ticket: Ticket, market: MarketView): Promise<FieldErrors> {
    const client = this.#client;
    if (client === undefined || this.#authedOn !== client) return { form: 'not connected: sign in first' };
    try {
      this.#form.notice(await sendTicket(client, ticket, market));
      return {};
    } catch (error) {
      if (error instanceof ExchangeError) {
        return { [errorField(error.code, error.message)]: `${error.code}: ${error.message}` };
      }
      return { form: messageOf(error) };
    }
  }

  async #loadHistory(append: boolean): Promise<void> {
    const cursor = append ? ordersStore.getSnapshot().context.historyNext : undefined;
    if (append && cursor === undefined) return;
    try {
      const page = await this.#http.orders({
        limit: HISTORY_PAGE,
        ...(cursor === undefined ? {} : { cursor }),
      });
      ordersStore.trigger.historyPage({ items: page.items, next: page.next, append });
    } catch (error) {
      console.warn('trading: order history:', messageOf(error));
    }
  }

  /** A page of GET /fills (the first, or the next after what is shown). */
  async #loadFills(append: boolean): Promise<void> {
    const cursor = append ? ordersStore.getSnapshot().context.fillsNext : undefined;
    if (append && cursor === undefined) return;
    try {
      const page = await this.#http.fills({
        limit: HISTORY_PAGE,
        ...(cursor === undefined ? {} : { cursor }),
      });
      ordersStore.trigger.fillsPage({ items: page.items, next: page.next, append });
    } catch (error) {
      // A server without the route: the pane keeps the fills pushed since sign-in.
      if (!isRouteMissing(error)) console.warn('trading: fills:', messageOf(error));
    }
  }

  async #loadFunding(): Promise<void> {
    try {
      const { address } = await this.#http.fundingAddress();
      fundingStore.trigger.address({ address, available: true });
    } catch (error) {
      fundingStore.trigger.address({ address: undefined, available: !isMissing(error) });
    }
    try {
      const [deposits, withdrawals] = await Promise.all([this.#http.deposits(), this.#http.withdrawals()]);
      for (const d of [...deposits.items].reverse()) {
        fundingStore.trigger.item({
          item: {
            op: 'deposit',
            id: d.id,
            status: d.status,
            asset: d.asset,
            amount: d.amount,
            ts: d.createdAt ?? 0,
          },
        });
      }
      for (const w of [...withdrawals.items].reverse()) {
        fundingStore.trigger.item({
          item: {
            op: 'withdrawal',
            id: w.id,
            status: w.status,
            asset: w.asset,
            amount: w.amount,
            ts: w.createdAt ?? 0,
          },
        });
      }
    } catch (error) {
      console.warn('trading: funding:', messageOf(error));
    }
  }

  async #loadNotifications(): Promise<void> {
    try {
      const page = await this.#http.notifications({ limit: 50 });
      notificationsStore.trigger.loaded({ items: page.items });
    } catch (error) {
      if (isRouteMissing(error)) notificationsStore.trigger.unavailable();
    }
  }

  // --- Sign-in ---------------------------------------------------------------------------------

  #renderSignIn(): void {
    const box = byId('session');
    const token = el('input', {
      type: 'password',
      placeholder: 'paste a token',
      autocomplete: 'off',
      'aria-label': 'token',
      'data-testid': 'token-input',
    });
    const signIn = el('button', { type: 'submit', 'data-testid': 'sign-in' }, ['Sign in']);
    const devUser = el('input', {
      type: 'text',
      placeholder: 'user id',
      value: 'alice',
      'aria-label': 'development user id',
      'data-testid': 'dev-user',
    });
    const devRoles = el('select', { 'aria-label': 'development roles', 'data-testid': 'dev-roles' }, [
      el('option', { value: 'trader' }, ['trader']),
      el('option', { value: 'trader,issuer' }, ['trader + issuer']),
      el('option', { value: 'trader,issuer,admin' }, ['all roles']),
    ]);
    const devButton = el('button', { type: 'button', 'data-testid': 'dev-sign-in' }, ['Dev sign-in']);
    const error = el('span', { class: 'field-error', 'data-testid': 'session-error', role: 'alert' });
    const who = el('span', { class: 'who', 'data-testid': 'session-user' });
    const signOut = el('button', { type: 'button', 'data-testid': 'sign-out' }, ['Sign out']);
    const form = el('form', { class: 'signin-form' }, [token, signIn, devUser, devRoles, devButton]);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const value = token.value.trim();
      if (value === '') {
        error.textContent = 'paste a token first';
        return;
      }
      token.value = '';
      this.#signIn(value);
    });
    devButton.addEventListener('click', () => {
      error.textContent = '';
      const roles = devRoles.value.split(',') as Role[];
      this.#http.devToken(devUser.value.trim(), roles).then(
        (minted) => {
          this.#signIn(minted.token);
        },
        (e: unknown) => {
          error.textContent = isMissing(e)
            ? 'development sign-in is not available (the server is not in development)'
            : messageOf(e);
        },
      );
    });
    signOut.addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStore.trigger.signedOut();
      location.reload();
    });
    const signedIn = el('span', { class: 'signed-in' }, [who, signOut]);
    box.replaceChildren(form, signedIn, error);
    sessionStore.subscribe(({ context }) => {
      form.hidden = context.status === 'signed_in';
      signedIn.hidden = context.status !== 'signed_in';
      setText(who, context.userId === undefined ? '' : `${context.userId} (${context.roles.join(', ')})`);
      setText(error, context.error ?? '');
    });
    signedIn.hidden = true;
  }

  #signIn(token: string): void {
    sessionStore.trigger.signingIn({ token });
    this.#authedOn = undefined;
    void this.#authenticate();
  }

  // --- Account tables --------------------------------------------------------------------------

  #renderAccount(): void {
    const tabs = byId('account-tabs');
    const panes = byId('account-panes');
    const names = [
      'open',
      'history',
      'fills',
      'balances',
      'positions',
      'funding',
      'notifications',
      'alerts',
      'preferences',
    ] as const;
    const labels: Record<(typeof names)[number], string> = {
      open: 'Open orders',
      history: 'Order history',
      fills: 'Fills',
      balances: 'Balances',
      positions: 'Positions',
      funding: 'Funding',
      notifications: 'Notifications',
      alerts: 'Alerts',
      preferences: 'Preferences',
    };
    const paneOf = new Map<string, HTMLElement>();
    const buttons = names.map((name) => {
      const badge =
        name === 'notifications'
          ? el('span', { class: 'badge', 'data-testid': 'unread-count' }, ['0'])
          : undefined;
      const button = el(
        'button',
        {
          type: 'button',
          role: 'tab',
          'data-tab': name,
          'data-testid': `tab-${name}`,
          'aria-selected': 'false',
        },
        badge === undefined ? [labels[name]] : [labels[name], ' ', badge],
      );
      if (badge !== undefined) {
        notificationsStore
          .select((s) => unreadCount(s.items))
          .subscribe((n) => {
            setText(badge, String(n));
            badge.dataset.count = String(n);
          });
      }
      return button;
    });
    const show = (name: string) => {
      for (const b of buttons) b.setAttribute('aria-selected', String(b.dataset.tab === name));
      for (const [n, pane] of paneOf) pane.hidden = n !== name;
      // Positions are valued in the selected market's quote asset: read when shown.
      if (name === 'positions' && sessionStore.getSnapshot().context.status === 'signed_in')
        void this.#extras.loadPortfolio();
    };
    for (const b of buttons) b.addEventListener('click', () => show(b.dataset.tab!));
    tabs.replaceChildren(...buttons);
    paneOf.set('open', this.#openOrdersPane());
    paneOf.set('history', this.#historyPane());
    paneOf.set('fills', this.#fillsPane());
    paneOf.set('balances', this.#balancesPane());
    paneOf.set('positions', this.#extras.positions);
    paneOf.set('funding', this.#fundingPane());
    paneOf.set('notifications', this.#notificationsPane());
    paneOf.set('alerts', this.#extras.alerts);
    paneOf.set('preferences', this.#extras.preferences);
    panes.replaceChildren(...paneOf.values());
    show('open');
  }

  #openOrdersPane(): HTMLElement {
    const body = el('tbody', { 'data-testid': 'open-orders' });
    let shown = new Map<string, { order: OrderView; row: HTMLElement }>();
    const cancelAll = el('button', { type: 'button', 'data-testid': 'cancel-all' }, ['Cancel all']);
    const status = el('span', { class: 'notice', role: 'status', 'data-testid': 'open-orders-status' });
    cancelAll.addEventListener('click', () => {
      const client = this.#client;
      if (client === undefined) return;
      client.cancelAll().then(
        (r) => {
          status.textContent = `canceled ${r.count}`;
        },
        (e: unknown) => {
          status.textContent = messageOf(e);
        },
      );
    });
    ordersStore
      .select((s) => s.open)
      .subscribe((open) => {
        // Rows are kept by order: an unchanged order keeps its row, and a row being amended keeps
        // what is typed in it until the amend is saved (its order's next push redraws it).
        const next = new Map<string, { order: OrderView; row: HTMLElement }>();
        const rows = Object.values(open)
          .sort((a, b) => b.ts - a.ts)
          .map((order) => {
            const known = shown.get(order.orderId);
            const keep =
              known !== undefined && (known.order === order || known.row.dataset.editing === 'true');
            const row = keep ? known.row : this.#openOrderRow(order, status);
            next.set(order.orderId, { order: keep ? known.order : order, row });
            return row;
          });
        shown = next;
        body.replaceChildren(...rows);
        if (rows.length === 0) body.append(emptyRow(8, 'no open orders'));
      });
    body.append(emptyRow(8, 'no open orders'));
    return el('div', { class: 'pane' }, [
      el('div', { class: 'pane-actions' }, [cancelAll, status]),
      table(['Market', 'Side', 'Type', 'Price', 'Qty', 'Filled', 'Status', ''], body),
    ]);
  }

  #openOrderRow(order: OrderView, status: HTMLElement): HTMLElement {
    const amend = el('button', { type: 'button', 'data-testid': 'amend' }, ['Amend']);
    const cancel = el('button', { type: 'button', 'data-testid': 'cancel' }, ['Cancel']);
    const priceCell = el('td', { class: 'num' }, [order.price ?? order.stopPrice ?? 'market']);
    const qtyCell = el('td', { class: 'num' }, [order.qty]);
    const row = el(
      'tr',
      {
        'data-testid': 'open-order',
        'data-order-id': order.orderId,
        'data-status': order.status,
        'data-price': order.price ?? '',
        'data-qty': order.qty,
      },
      [
        el('td', {}, [order.market]),
        el('td', { class: order.side }, [order.side]),
        el('td', {}, [order.type]),
        priceCell,
        qtyCell,
        el('td', { class: 'num' }, [order.filledQty]),
        el('td', {}, [order.status]),
        el('td', { class: 'actions' }, [amend, cancel]),
      ],
    );
    cancel.addEventListener('click', () => {
      this.#client?.cancel({ market: order.market, orderId: order.orderId }).catch((e: unknown) => {
        status.textContent = messageOf(e);
      });
    });
    amend.addEventListener('click', () => {
      const price = el('input', {
        value: order.price ?? '',
        'aria-label': 'new price',
        'data-testid': 'amend-price',
        size: 8,
      });
      const qty = el('input', {
        value: order.qty,
        'aria-label': 'new quantity',
        'data-testid': 'amend-qty',
        size: 8,
      });
      const save = el('button', { type: 'button', 'data-testid': 'amend-save' }, ['Save']);
      if (order.price !== undefined) priceCell.replaceChildren(price);
      qtyCell.replaceChildren(qty);
      amend.replaceWith(save);
      row.dataset.editing = 'true';
      save.addEventListener('click', () => {
        // The order's push after the amend draws the row anew.
        row.dataset.editing = 'false';
        const changes: { price?: string; qty?: string } = {};
        if (order.price !== undefined && price.value.trim() !== order.price)
          changes.price = price.value.trim();
        if (qty.value.trim() !== order.qty) changes.qty = qty.value.trim();
        this.#client?.amend({ market: order.market, orderId: order.orderId, ...changes }).then(
          () => {
            status.textContent = `amended ${order.orderId}`;
          },
          (e: unknown) => {
            status.textContent = messageOf(e);
          },
        );
      });
    });
    return row;
  }

  #historyPane(): HTMLElement {
    const body = el('tbody', { 'data-testid': 'order-history' });
    const more = el('button', { type: 'button', 'data-testid': 'history-more' }, ['More']);
    more.addEventListener('click', () => void this.#loadHistory(true));
    ordersStore
      .select((s) => s.history)
      .subscribe((history) => {
        body.replaceChildren(
          ...history.map((o) =>
            el(
              'tr',
              { 'data-testid': 'history-order', 'data-order-id': o.orderId, 'data-status': o.status },
              [
                el('td', {}, [formatTime(o.ts)]),
                el('td', {}, [o.market]),
                el('td', { class: o.side }, [o.side]),
                el('td', {}, [o.type]),
                el('td', { class: 'num' }, [o.price ?? o.stopPrice ?? '—']),
                el('td', { class: 'num' }, [o.qty]),
                el('td', { class: 'num' }, [o.filledQty]),
                el('td', { class: 'num' }, [o.avgPrice ?? '—']),
                el('td', {}, [o.status]),
              ],
            ),
          ),
        );
      });
    ordersStore
      .select((s) => s.historyNext)
      .subscribe((next) => {
        more.hidden = next === undefined;
      });
    more.hidden = true;
    return el('div', { class: 'pane' }, [
      table(['Time', 'Market', 'Side', 'Type', 'Price', 'Qty', 'Filled', 'Avg', 'Status'], body),
      more,
    ]);
  }

  #fillsPane(): HTMLElement {
    const body = el('tbody', { 'data-testid': 'fills' });
    const more = el('button', { type: 'button', 'data-testid': 'fills-more' }, ['More']);
    more.addEventListener('click', () => void this.#loadFills(true));
    ordersStore
      .select((s) => s.fillsNext)
      .subscribe((next) => {
        more.hidden = next === undefined;
      });
    more.hidden = true;
    ordersStore
      .select((s) => s.fills)
      .subscribe((fills) => {
        body.replaceChildren(
          ...fills.map((f) =>
            el(
              'tr',
              {
                'data-testid': 'fill',
                'data-trade-id': f.tradeId,
                'data-order-id': f.orderId,
                'data-liquidity': f.liquidity,
              },
              [
                el('td', {}, [formatTime(f.ts)]),
                el('td', {}, [f.market]),
                el('td', { class: f.side }, [f.side]),
                el('td', { class: 'num' }, [f.price]),
                el('td', { class: 'num' }, [f.qty]),
                el('td', { class: 'num' }, [`${f.fee} ${f.feeAsset}`]),
                el('td', {}, [f.liquidity]),
              ],
            ),
          ),
        );
        if (fills.length === 0) body.append(emptyRow(7, 'no fills'));
      });
    body.append(emptyRow(7, 'no fills'));
    return el('div', { class: 'pane' }, [
      table(['Time', 'Market', 'Side', 'Price', 'Qty', 'Fee', 'Role'], body),
      more,
    ]);
  }

  #balancesPane(): HTMLElement {
    const body = el('tbody', { 'data-testid': 'balances' });
    balancesStore
      .select((s) => s.byAsset)
      .subscribe((byAsset) => {
        const rows = Object.values(byAsset)
          .sort((a, b) => a.asset.localeCompare(b.asset))
          .map((b) =>
            el(
              'tr',
              {
                'data-testid': 'balance',
                'data-asset': b.asset,
                'data-available': b.available,
                'data-locked': b.locked,
              },
              [
                el('td', {}, [b.asset]),
                el('td', { class: 'num' }, [b.available]),
                el('td', { class: 'num' }, [b.locked]),
              ],
            ),
          );
        body.replaceChildren(...rows);
        if (rows.length === 0) body.append(emptyRow(3, 'no balances'));
      });
    body.append(emptyRow(3, 'no balances'));
    return el('div', { class: 'pane' }, [table(['Asset', 'Available', 'Locked'], body)]);
  }

  #fundingPane(): HTMLElement {
    const address = el('code', { 'data-testid': 'deposit-address' }, ['—']);
    const depAsset = el('input', {
      placeholder: 'asset (e.g. ZAR)',
      'aria-label': 'deposit asset',
      'data-testid': 'deposit-asset',
    });
    const depAmount = el('input', {
      placeholder: 'amount',
      inputmode: 'decimal',
      'aria-label': 'deposit amount',
      'data-testid': 'deposit-amount',
    });
    const depProvider = el('select', { 'aria-label': 'provider', 'data-testid': 'deposit-provider' }, [
      el('option', { value: 'paystack' }, ['Paystack']),
      el('option', { value: 'payfast' }, ['PayFast']),
      el('option', { value: 'ozow' }, ['Ozow']),
    ]);
    const depResult = el('span', { class: 'notice', role: 'status', 'data-testid': 'deposit-result' });
    const depForm = el('form', { class: 'inline-form', 'aria-label': 'deposit' }, [
      el('strong', {}, ['Deposit (fiat)']),
      depAsset,
      depAmount,
      depProvider,
      el('button', { type: 'submit', 'data-testid': 'deposit-submit' }, ['Deposit']),
      depResult,
    ]);
    depForm.addEventListener('submit', (event) => {
      event.preventDefault();
      depResult.textContent = '…';
      this.#http
        .deposit({
          asset: depAsset.value.trim(),
          amount: depAmount.value.trim(),
          provider: depProvider.value,
          returnUrl: location.href,
        })
        .then(
          (d) => {
            depResult.replaceChildren(`deposit ${d.id} ${d.status} `);
            if (d.redirectUrl !== undefined) {
              depResult.append(
                el('a', { href: d.redirectUrl, target: '_blank', rel: 'noopener' }, [
                  'pay with the provider',
                ]),
              );
            }
          },
          (e: unknown) => {
            depResult.textContent = isRouteMissing(e)
              ? 'deposits are not available on this server'
              : messageOf(e);
          },
        );
    });
    const wAsset = el('input', {
      placeholder: 'asset',
      'aria-label': 'withdrawal asset',
      'data-testid': 'withdraw-asset',
    });
    const wAmount = el('input', {
      placeholder: 'amount',
      inputmode: 'decimal',
      'aria-label': 'withdrawal amount',
      'data-testid': 'withdraw-amount',
    });
    const wDest = el('input', {
      placeholder: 'address or recipient code',
      'aria-label': 'destination',
      'data-testid': 'withdraw-destination',
    });
    const wResult = el('span', { class: 'notice', role: 'status', 'data-testid': 'withdraw-result' });
    const wForm = el('form', { class: 'inline-form', 'aria-label': 'withdraw' }, [
      el('strong', {}, ['Withdraw']),
      wAsset,
      wAmount,
      wDest,
      el('button', { type: 'submit', 'data-testid': 'withdraw-submit' }, ['Withdraw']),
      wResult,
    ]);
    wForm.addEventListener('submit', (event) => {
      event.preventDefault();
      wResult.textContent = '…';
      this.#http
        .withdraw({
          asset: wAsset.value.trim(),
          amount: wAmount.value.trim(),
          destination: wDest.value.trim(),
        })
        .then(
          (w) => {
            wResult.textContent = `withdrawal ${w.id} ${w.status}`;
            fundingStore.trigger.item({
              item: {
                op: 'withdrawal',
                id: w.id,
                status: w.status,
                asset: w.asset,
                amount: w.amount,
                ts: Date.now(),
              },
            });
          },
          (e: unknown) => {
            wResult.textContent = isRouteMissing(e)
              ? 'withdrawals are not available on this server'
              : messageOf(e);
          },
        );
    });
    const body = el('tbody', { 'data-testid': 'funding-items' });
    fundingStore.subscribe(({ context }) => {
      setText(address, context.available ? (context.address ?? '—') : 'not available');
      body.replaceChildren(
        ...context.items.map((i) =>
          el('tr', { 'data-testid': 'funding-item', 'data-id': i.id, 'data-status': i.status }, [
            el('td', {}, [i.op]),
            el('td', {}, [i.asset]),
            el('td', { class: 'num' }, [i.amount]),
            el('td', {}, [i.status]),
            el('td', {}, [i.reason ?? i.txHash ?? '']),
          ]),
        ),
      );
    });
    return el('div', { class: 'pane' }, [
      el('p', {}, ['On-chain deposit address: ', address]),
      depForm,
      wForm,
      table(['Kind', 'Asset', 'Amount', 'Status', ''], body),
    ]);
  }

  #notificationsPane(): HTMLElement {
    const list = el('ul', { class: 'notifications', 'data-testid': 'notifications' });
    const readAll = el('button', { type: 'button', 'data-testid': 'read-all' }, ['Mark all read']);
    readAll.addEventListener('click', () => {
      this.#http.markAllRead().then(
        () => notificationsStore.trigger.allRead(),
        (e: unknown) => console.warn('trading: read-all:', messageOf(e)),
      );
    });
    notificationsStore.subscribe(({ context }) => {
      if (!context.available) {
        list.replaceChildren(
          el('li', { class: 'empty' }, ['notifications are not available on this server']),
        );
        return;
      }
      list.replaceChildren(
        ...context.items.map((n) => {
          const item = el(
            'li',
            {
              class: n.read ? 'read' : 'unread',
              'data-testid': 'notification',
              'data-type': n.type,
              'data-read': String(n.read),
            },
            [
              el('span', { class: 'time' }, [formatTime(n.ts)]),
              el('strong', {}, [n.title]),
              ' ',
              el('span', {}, [n.body]),
            ],
          );
          if (!n.read) {
            const mark = el('button', { type: 'button', 'data-testid': 'mark-read' }, ['Mark read']);
            mark.addEventListener('click', () => {
              this.#http.markRead(n.id).then(
                () => notificationsStore.trigger.read({ id: n.id }),
                (e: unknown) => console.warn('trading: read:', messageOf(e)),
              );
            });
            item.append(mark);
          }
          return item;
        }),
      );
      if (context.items.length === 0) list.append(el('li', { class: 'empty' }, ['no notifications']));
    });
    return el('div', { class: 'pane' }, [el('div', { class: 'pane-actions' }, [readAll]), list]);
  }
}

// --- Helpers -------------------------------------------------------------------------------------

function messageOf(error: unknown): string {
  if (error instanceof ExchangeError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** A route the server lacks (or a development route off): shown as "not available". */
function isMissing(error: unknown): boolean {
  return error instanceof ExchangeError && error.code === 'not_found';
}
