import type { ErrorCode } from '../protocol/messages.ts';
import type { PlaceOrder } from '../protocol/requests.ts';
import type {
  BalanceMessage,
  CandleInterval,
  FillMessage,
  CandleMessage,
  Decimal,
  MarketStatus,
  OrderMessage,
  OrderStatus,
  Role,
  TradeMessage,
} from '../protocol/messages.ts';
import { ExchangeError } from './errors.ts';

/*
 * The HTTP half of the SDK (PROTOCOL.md, HTTP): one method per route the web pages use, typed
 * with the contract's shapes. Browsers' `fetch` and Node's fit `fetch`. A non-2xx answer throws
 * an `ExchangeError` with the contract's `code` (a 404 of a route the server lacks answers
 * `not_found`, which pages show as "not available"). Lists that page return `{items, next}`,
 * `next` being the `X-Next-Cursor` header.
 */

type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export type OrderView = Without<OrderMessage, 'op'>;
export type BalanceView = Without<BalanceMessage, 'op'>;
export type FillView = Without<FillMessage, 'op'>;
export type TradeView = Without<TradeMessage, 'op'> & {
  readonly settlement?: 'pending' | 'settled' | 'failed';
  readonly settlementTx?: string;
};
export type CandleView = Without<CandleMessage, 'op'>;

/** The market object of `GET /markets` (PROTOCOL.md). */
export interface MarketView {
  readonly id: string;
  readonly symbol: string;
  readonly status: MarketStatus;
  readonly name?: string;
  readonly assetType?: string;
  readonly baseAsset: string;
  readonly quoteAsset: string;
  readonly priceDecimals: number;
  readonly qtyDecimals: number;
  readonly tickSize: Decimal;
  readonly lotSize: Decimal;
  readonly minQty: Decimal;
  readonly maxQty?: Decimal;
  readonly minNotional?: Decimal;
  readonly makerFeeBps?: number;
  readonly takerFeeBps?: number;
  readonly tokenSymbol?: string;
  readonly tokenName?: string;
  readonly totalSupply?: Decimal;
  readonly issuerId?: string;
  readonly contractAddress?: string;
  readonly deploymentTxHash?: string;
  readonly deployError?: string;
  readonly rejectedReason?: string;
  readonly approvedAt?: number;
  readonly activatedAt?: number;
}

export type ComplianceDocument =
  string | { readonly name: string; readonly url: string; readonly hash?: string };

export interface AssetDetails {
  readonly valuation?: Decimal | number;
  readonly currency?: string;
  readonly location?: string;
  readonly complianceDocuments?: readonly ComplianceDocument[];
  readonly regulatoryInfo?: unknown;
  readonly attributes?: Readonly<Record<string, unknown>>;
}

export interface MarketDetails extends MarketView {
  readonly asset: AssetDetails | null;
  readonly valuation?: unknown;
}

export interface MarketEvent {
  readonly eventType: string;
  readonly actorId: string;
  readonly actorType: string;
  readonly decision?: string;
  readonly reason?: string;
  readonly metadata?: unknown;
  readonly ts: number;
}

export interface RegisterMarket {
  readonly name: string;
  readonly assetType: string;
  readonly tokenSymbol: string;
  readonly tokenName: string;
  readonly totalSupply: Decimal;
  readonly quoteAsset: string;
  readonly priceDecimals: number;
  readonly qtyDecimals: number;
  readonly tickSize: Decimal;
  readonly lotSize: Decimal;
  readonly minQty: Decimal;
  readonly minNotional?: Decimal;
  readonly assetDetails: AssetDetails;
}

export interface Accepted {
  readonly orderId: string;
  readonly clientOrderId?: string;
  readonly status: OrderStatus;
  readonly filledQty: Decimal;
  readonly remainingQty: Decimal;
}

export interface Deposit {
  readonly id: string;
  readonly status: string;
  readonly provider: string;
  readonly reference?: string;
  readonly txHash?: string;
  readonly asset: string;
  readonly amount: Decimal;
  readonly createdAt?: number;
  readonly completedAt?: number;
  readonly failureReason?: string;
  readonly redirectUrl?: string;
  readonly formFields?: Readonly<Record<string, string>>;
}

export interface Withdrawal {
  readonly id: string;
  readonly status: string;
  readonly asset: string;
  readonly amount: Decimal;
  readonly destination?: string;
  readonly userId?: string;
  readonly txHash?: string;
  readonly reason?: string;
  readonly createdAt?: number;
}

export interface NotificationView {
  readonly id: string;
  readonly type: string;
  readonly title: string;
  readonly body: string;
  readonly data?: Readonly<Record<string, unknown>>;
  readonly ts: number;
  readonly read: boolean;
}

/** PROTOCOL v1.1, Notifications: GET/PUT /notifications/preferences (fields the server adds kept as they are). */
export interface NotificationPreferences {
  readonly channels: {
    readonly email?: { readonly address: string; readonly enabled: boolean; readonly fallback?: boolean };
    readonly sms?: { readonly phone: string; readonly enabled: boolean; readonly fallback?: boolean };
    readonly push?: {
      readonly subscription: unknown;
      readonly enabled: boolean;
      readonly fallback?: boolean;
    };
    readonly webhook?: { readonly url: string; readonly enabled: boolean; readonly secret?: string };
    readonly in_app: { readonly enabled: boolean };
    readonly [channel: string]: unknown;
  };
  readonly types?: Readonly<Record<string, Readonly<Record<string, boolean>>>>;
  readonly quietHours?: { readonly start: string; readonly end: string; readonly tz: string };
  readonly digest?: Readonly<Record<string, { readonly windowS: number }>>;
  readonly [field: string]: unknown;
}

/** A price alert (POST/GET /alerts). */
export interface PriceAlert {
  readonly id: string;
  readonly market: string;
  readonly above?: Decimal;
  readonly below?: Decimal;
  readonly fired: boolean;
  readonly createdAt: number;
}

/** GET /portfolio?in=ASSET (PROTOCOL v1.1, Portfolio). */
export interface Portfolio {
  readonly in: string;
  readonly equity: Decimal;
  readonly positions: readonly {
    readonly asset: string;
    readonly qty: Decimal;
    readonly avgPrice: Decimal | null;
    readonly lastPrice: Decimal | null;
    readonly value: Decimal | null;
    readonly unrealizedPnl: Decimal | null;
    readonly realizedPnl: Decimal;
  }[];
  readonly cash: readonly BalanceView[];
  readonly realizedPnl: Decimal;
  readonly unrealizedPnl: Decimal;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** The cursor of the next page, when there is one. */
  readonly next: string | undefined;
}

export interface PageQuery {
  readonly limit?: number;
  readonly cursor?: string;
}

export interface DevToken {
  readonly token: string;
  readonly userId: string;
  readonly roles: readonly Role[];
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface ExchangeHttpOptions {
  /** Origin of the exchange, e.g. `http://127.0.0.1:3000`; default '' (the page's own origin). */
  readonly baseUrl?: string;
  readonly token?: string;
  /** Default `globalThis.fetch`. */
  readonly fetch?: FetchLike;
}

const API = '/api/v1';

export class ExchangeHttp {
  readonly #base: string;
  readonly #fetch: FetchLike;
  #token: string | undefined;

  constructor(options: ExchangeHttpOptions = {}) {
    this.#base = options.baseUrl ?? '';
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#token = options.token;
  }

  /** Sets (or, with undefined, clears) the bearer token of later requests. */
  setToken(token: string | undefined): void {
    this.#token = token;
  }

  // --- Market data ---------------------------------------------------------------------------

  markets(): Promise<MarketView[]> {
    return this.#json('GET', '/markets');
  }

  market(idOrSymbol: string): Promise<MarketView> {
    return this.#json('GET', `/markets/${enc(idOrSymbol)}`);
  }

  details(idOrSymbol: string): Promise<MarketDetails> {
    return this.#json('GET', `/markets/${enc(idOrSymbol)}/details`);
  }

  events(idOrSymbol: string): Promise<MarketEvent[]> {
    return this.#json('GET', `/markets/${enc(idOrSymbol)}/events`);
  }

  trades(idOrSymbol: string, query: PageQuery = {}): Promise<Page<TradeView>> {
    return this.#page(`/markets/${enc(idOrSymbol)}/trades`, query);
  }

  candles(
    idOrSymbol: string,
    interval: CandleInterval,
    range: { from?: number; to?: number; limit?: number } = {},
  ): Promise<CandleView[]> {
    return this.#json('GET', `/markets/${enc(idOrSymbol)}/candles${search({ interval, ...range })}`);
  }

  /** The trend markets' listings (virality score, sentiment), issue 19. */
  trendMarkets(): Promise<unknown[]> {
    return this.#json('GET', '/trends/markets');
  }

  // --- Trading -------------------------------------------------------------------------------

  placeOrder(order: PlaceOrder): Promise<Accepted> {
    return this.#json('POST', '/orders', order);
  }

  cancelOrder(orderId: string): Promise<Accepted> {
    return this.#json('DELETE', `/orders/${enc(orderId)}`);
  }

  cancelAll(market?: string): Promise<{ count: number }> {
    return this.#json('DELETE', `/orders${search({ market })}`);
  }

  orders(query: PageQuery & { market?: string; status?: string } = {}): Promise<Page<OrderView>> {
    return this.#page('/orders', query);
  }

  /** The caller's fills, newest first, with fees (GET /fills, issue 20). */
  fills(query: PageQuery & { market?: string } = {}): Promise<Page<FillView>> {
    return this.#page('/fills', query);
  }

  balances(): Promise<BalanceView[]> {
    return this.#json('GET', '/balances');
  }

  // --- Funding -------------------------------------------------------------------------------

  fundingAddress(): Promise<{ address: string; chainId: number }> {
    return this.#json('GET', '/funding/address');
  }

  deposit(body: {
    asset: string;
    amount: Decimal;
    provider: string;
    email?: string;
    returnUrl?: string;
  }): Promise<Deposit> {
    return this.#json('POST', '/deposits', body);
  }

  deposits(query: PageQuery = {}): Promise<Page<Deposit>> {
    return this.#page('/deposits', query);
  }

  withdraw(body: { asset: string; amount: Decimal; destination: string }): Promise<Withdrawal> {
    return this.#json('POST', '/withdrawals', body);
  }

  withdrawals(query: PageQuery = {}): Promise<Page<Withdrawal>> {
    return this.#page('/withdrawals', query);
  }

  // --- Notifications -------------------------------------------------------------------------

  notifications(query: PageQuery & { unread?: boolean } = {}): Promise<Page<NotificationView>> {
    return this.#page('/notifications', query);
  }

  markRead(id: string): Promise<unknown> {
    return this.#json('POST', `/notifications/${enc(id)}/read`);
  }

  markAllRead(): Promise<unknown> {
    return this.#json('POST', '/notifications/read-all');
  }

  preferences(): Promise<NotificationPreferences> {
    return this.#json('GET', '/notifications/preferences');
  }

  /** PUT answers the stored preferences; a new webhook channel carries its `secret` this once. */
  setPreferences(preferences: NotificationPreferences): Promise<NotificationPreferences> {
    return this.#json('PUT', '/notifications/preferences', preferences);
  }

  alerts(): Promise<PriceAlert[]> {
    return this.#json('GET', '/alerts');
  }

  createAlert(alert: { market: string; above?: Decimal; below?: Decimal }): Promise<PriceAlert> {
    return this.#json('POST', '/alerts', alert);
  }

  deleteAlert(id: string): Promise<unknown> {
    return this.#json('DELETE', `/alerts/${enc(id)}`);
  }

  // --- Portfolio -----------------------------------------------------------------------------

  portfolio(valuedIn: string): Promise<Portfolio> {
    return this.#json('GET', `/portfolio${search({ in: valuedIn })}`);
  }

  // --- Issuers -------------------------------------------------------------------------------

  register(body: RegisterMarket): Promise<MarketView> {
    return this.#json('POST', '/markets/register', body);
  }

  /** PROTOCOL v1.1: issuer of the market or admin; the credit follows the chain receipt. */
  mint(idOrSymbol: string, amount: Decimal): Promise<unknown> {
    return this.#json('POST', `/markets/${enc(idOrSymbol)}/mint`, { amount });
  }

  // --- Admin ---------------------------------------------------------------------------------

  decide(idOrSymbol: string, decision: 'approved' | 'rejected', reason?: string): Promise<MarketView> {
    return this.#json('POST', `/markets/${enc(idOrSymbol)}/approve`, { decision, ...opt('reason', reason) });
  }

  lifecycle(
    idOrSymbol: string,
    action: 'pause' | 'resume' | 'archive' | 'activate',
    reason?: string,
  ): Promise<MarketView> {
    return this.#json(
      'POST',
      `/markets/${enc(idOrSymbol)}/${action}`,
      reason === undefined || action === 'activate' ? undefined : { reason },
    );
  }

  credit(userId: string, asset: string, amount: Decimal): Promise<unknown> {
    return this.#json('POST', '/admin/credit', { userId, asset, amount });
  }

  complianceRecords(userId: string): Promise<unknown[]> {
    return this.#json('GET', `/admin/compliance/${enc(userId)}`);
  }

  setCompliance(record: Readonly<Record<string, unknown>>): Promise<unknown> {
    return this.#json('POST', '/admin/compliance', record);
  }

  withdrawalQueue(status?: string, query: PageQuery = {}): Promise<Page<Withdrawal>> {
    return this.#page('/admin/withdrawals', { ...query, status });
  }

  reviewWithdrawal(id: string, decision: 'approve' | 'reject', reason?: string): Promise<Withdrawal> {
    return this.#json('POST', `/admin/withdrawals/${enc(id)}/${decision}`, opt('reason', reason));
  }

  notificationQueues(): Promise<unknown> {
    return this.#json('GET', '/admin/notifications/queues');
  }

  /** The system's actors and queues (issue 20; GET /admin/system). */
  system(): Promise<unknown> {
    return this.#json('GET', '/admin/system');
  }

  /** PROTOCOL v1.1: on-chain vs ledger per token and address. */
  reconciliation(): Promise<unknown> {
    return this.#json('GET', '/admin/reconciliation');
  }

  // --- Development -----------------------------------------------------------------------------

  /** Mints a token; the server answers only when it runs in development (404 otherwise). */
  devToken(userId: string, roles: readonly Role[]): Promise<DevToken> {
    return this.#json('POST', '/dev/token', { userId, roles });
  }

  // --- Plumbing --------------------------------------------------------------------------------

  async #page<T>(path: string, query: object): Promise<Page<T>> {
    const response = await this.#send('GET', `${path}${search(query)}`);
    const items = (await response.json()) as T[];
    return { items, next: response.headers.get('x-next-cursor') ?? undefined };
  }

  async #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.#send(method, path, body);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  async #send(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await this.#fetch(`${this.#base}${API}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) {
      let code: string = response.status === 404 ? 'not_found' : 'bad_request';
      let message = `${method} ${path}: HTTP ${response.status}`;
      try {
        const answer = (await response.json()) as { error?: { code?: string; message?: string } };
        if (typeof answer.error?.code === 'string') code = answer.error.code;
        if (typeof answer.error?.message === 'string') message = answer.error.message;
      } catch {
        // not JSON: keep the status-derived code
      }
      throw new ExchangeError(code as ErrorCode, message);
    }
    return response;
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function opt<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

function search(query: object): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    params.set(key, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/**
 * Whether the server lacks the route itself (its catch-all `not_found`, "no route METHOD PATH"),
 * as opposed to a `not_found` for a resource the route did not find: pages show the first as "not
 * available" (a surface another release adds) and the second as the error it is.
 */
export function isRouteMissing(error: unknown): boolean {
  return (
    error instanceof ExchangeError && error.code === 'not_found' && error.message.startsWith('no route ')
  );
}
