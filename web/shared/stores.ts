import { createStore } from '@xstate/store';
import type {
  BalanceView,
  FillMessage,
  FundingMessage,
  MarketView,
  NotificationView,
  OrderView,
  Role,
  TickerMessage,
} from '../../src/client/index.ts';

/*
 * The pages' client state (issue 20), one @xstate/store per concern, fed from SDK events and
 * read by the views through slices (`store.select(...)`), so that a book delta re-renders the
 * ladder alone and a balance push the balances table alone. Transitions are pure: they copy what
 * they change and keep every other reference, so a selector's `Object.is` sees nothing new.
 */

/** Orders that are no longer open. */
const CLOSED = new Set(['filled', 'canceled', 'rejected']);
/** Fills and notifications kept in memory (the newest). */
const KEEP = 200;

export type SessionStatus = 'signed_out' | 'signing_in' | 'signed_in';

interface SessionContext {
  readonly status: SessionStatus;
  readonly token: string | undefined;
  readonly userId: string | undefined;
  readonly roles: readonly Role[];
  readonly error: string | undefined;
}

const signedOut: SessionContext = {
  status: 'signed_out',
  token: undefined,
  userId: undefined,
  roles: [],
  error: undefined,
};

export const sessionStore = createStore({
  context: signedOut,
  on: {
    signingIn: (context, event: { token: string }) => ({
      ...context,
      status: 'signing_in' as const,
      token: event.token,
      error: undefined,
    }),
    signedIn: (context, event: { userId: string; roles: readonly Role[] }) => ({
      ...context,
      status: 'signed_in' as const,
      userId: event.userId,
      roles: event.roles,
      error: undefined,
    }),
    failed: (context, event: { message: string }) => ({
      ...context,
      status: 'signed_out' as const,
      token: undefined,
      userId: undefined,
      roles: [],
      error: event.message,
    }),
    signedOut: () => ({
      status: 'signed_out' as const,
      token: undefined,
      userId: undefined,
      roles: [],
      error: undefined,
    }),
  },
});

export type Ticker = Pick<TickerMessage, 'market'> & Partial<Omit<TickerMessage, 'op' | 'market'>>;

interface MarketsContext {
  readonly list: readonly MarketView[];
  readonly selected: string | undefined;
  /**
   * The state order entry sees for the selected market: `halted` while the supervisor has halted
   * it (a `market_status` push), else its lifecycle state as last pushed. The ticket disables
   * itself and shows its banner for anything but `active`.
   */
  readonly lifecycle: string | undefined;
  /** The selected market's lifecycle state as last pushed. */
  readonly lifecycleState: string | undefined;
  /** Whether the supervisor has halted the selected market (market_status). */
  readonly halted: boolean;
  readonly favourites: readonly string[];
  readonly search: string;
  readonly tickers: Readonly<Record<string, Ticker>>;
}

const noMarkets: MarketsContext = {
  list: [],
  selected: undefined,
  lifecycle: undefined,
  lifecycleState: undefined,
  halted: false,
  favourites: [],
  search: '',
  tickers: {},
};

export const marketsStore = createStore({
  context: noMarkets,
  on: {
    listed: (context, event: { list: readonly MarketView[] }) => ({ ...context, list: event.list }),
    selected: (context, event: { symbol: string }) =>
      context.selected === event.symbol
        ? context
        : {
            ...context,
            selected: event.symbol,
            lifecycle: undefined,
            lifecycleState: undefined,
            halted: false,
          },
    lifecycle: (context, event: { market: string; state: string }) =>
      event.market === context.selected
        ? { ...context, lifecycleState: event.state, lifecycle: context.halted ? 'halted' : event.state }
        : context,
    halted: (context, event: { market: string; halted: boolean }) =>
      event.market === context.selected
        ? {
            ...context,
            halted: event.halted,
            lifecycle: event.halted ? 'halted' : context.lifecycleState,
          }
        : context,
    ticker: (context, event: { ticker: Ticker }) => ({
      ...context,
      tickers: { ...context.tickers, [event.ticker.market]: event.ticker },
    }),
    searched: (context, event: { text: string }) => ({ ...context, search: event.text }),
    favouriteToggled: (context, event: { symbol: string }) => ({
      ...context,
      favourites: context.favourites.includes(event.symbol)
        ? context.favourites.filter((s) => s !== event.symbol)
        : [...context.favourites, event.symbol],
    }),
    favouritesLoaded: (context, event: { favourites: readonly string[] }) => ({
      ...context,
      favourites: event.favourites,
    }),
  },
});

/** The selected market's book: a version bumped per verified message (the LocalBook is the SDK's). */
interface BooksContext {
  readonly market: string | undefined;
  readonly version: number;
  readonly seq: number | undefined;
  readonly resyncs: number;
  /** Ladder price grouping: tick × this. */
  readonly grouping: 1 | 10 | 100;
}

const noBook: BooksContext = { market: undefined, version: 0, seq: undefined, resyncs: 0, grouping: 1 };

export const booksStore = createStore({
  context: noBook,
  on: {
    opened: (context, event: { market: string }) => ({
      ...context,
      market: event.market,
      version: 0,
      seq: undefined,
    }),
    applied: (context, event: { seq: number | undefined }) => ({
      ...context,
      version: context.version + 1,
      seq: event.seq,
    }),
    resynced: (context) => ({ ...context, resyncs: context.resyncs + 1 }),
    grouped: (context, event: { grouping: 1 | 10 | 100 }) => ({ ...context, grouping: event.grouping }),
  },
});

interface OrdersContext {
  readonly open: Readonly<Record<string, OrderView>>;
  /** Every order heard of since sign-in or loaded from history, newest first. */
  readonly history: readonly OrderView[];
  readonly historyNext: string | undefined;
  /** Fills heard since sign-in and loaded from GET /fills, newest first, each once. */
  readonly fills: readonly FillView[];
  /** The cursor of the next page of fills; undefined once the last page is in. */
  readonly fillsNext: string | undefined;
}

/** A fill as the `fills` channel pushes it or GET /fills lists it. */
export type FillView = Omit<FillMessage, 'op'>;

/** One fill per trade and order (a user on both sides of a trade has two). */
const fillKey = (f: FillView) => `${f.tradeId}\u0000${f.orderId}`;

const noOrders: OrdersContext = {
  open: {},
  history: [],
  historyNext: undefined,
  fills: [],
  fillsNext: undefined,
};

export const ordersStore = createStore({
  context: noOrders,
  on: {
    order: (context, event: { order: OrderView }) => {
      const { order } = event;
      const open = CLOSED.has(order.status)
        ? Object.fromEntries(Object.entries(context.open).filter(([id]) => id !== order.orderId))
        : { ...context.open, [order.orderId]: order };
      const history = [order, ...context.history.filter((o) => o.orderId !== order.orderId)];
      return { ...context, open, history };
    },
    historyPage: (
      context,
      event: { items: readonly OrderView[]; next: string | undefined; append: boolean },
    ) => {
      const known = new Set(event.append ? context.history.map((o) => o.orderId) : []);
      const fresh = event.items.filter((o) => !known.has(o.orderId));
      return {
        ...context,
        history: event.append ? [...context.history, ...fresh] : [...fresh],
        historyNext: event.next,
      };
    },
    fill: (context, event: { fill: FillView }) => {
      const key = fillKey(event.fill);
      if (context.fills.some((f) => fillKey(f) === key)) return context;
      return { ...context, fills: [event.fill, ...context.fills].slice(0, KEEP) };
    },
    /**
     * A page of GET /fills: the first one (append false) goes under what was pushed since, a later
     * one after what is shown; a fill already shown (pushed and listed) stays once. Paged fills are
     * not cut to KEEP: the user asked for them.
     */
    fillsPage: (
      context,
      event: { items: readonly FillView[]; next: string | undefined; append: boolean },
    ) => {
      const kept = event.append ? context.fills : context.fills.slice(0, KEEP);
      const known = new Set(kept.map(fillKey));
      const fresh = event.items.filter((f) => !known.has(fillKey(f)));
      return { ...context, fills: [...kept, ...fresh], fillsNext: event.next };
    },
    reset: () => noOrders,
  },
});

const noBalances: { readonly byAsset: Readonly<Record<string, BalanceView>> } = { byAsset: {} };

export const balancesStore = createStore({
  context: noBalances,
  on: {
    balance: (context, event: { balance: BalanceView }) => ({
      byAsset: { ...context.byAsset, [event.balance.asset]: event.balance },
    }),
    reset: () => ({ byAsset: {} }),
  },
});

export const fundingStore = createStore({
  context: {
    /** Latest status per deposit or withdrawal id, newest first. */
    items: [] as readonly FundingMessage[],
    address: undefined as string | undefined,
    available: true,
  },
  on: {
    item: (context, event: { item: FundingMessage }) => ({
      ...context,
      items: [event.item, ...context.items.filter((i) => i.id !== event.item.id)].slice(0, KEEP),
    }),
    address: (context, event: { address: string | undefined; available: boolean }) => ({
      ...context,
      address: event.address,
      available: event.available,
    }),
    reset: () => ({ items: [], address: undefined, available: true }),
  },
});

export const notificationsStore = createStore({
  context: { items: [] as readonly NotificationView[], available: true },
  on: {
    notification: (context, event: { item: NotificationView }) => ({
      ...context,
      items: [event.item, ...context.items.filter((n) => n.id !== event.item.id)].slice(0, KEEP),
    }),
    loaded: (context, event: { items: readonly NotificationView[] }) => {
      const known = new Set(context.items.map((n) => n.id));
      return {
        ...context,
        items: [...context.items, ...event.items.filter((n) => !known.has(n.id))].slice(0, KEEP),
      };
    },
    allRead: (context) => ({ ...context, items: context.items.map((n) => ({ ...n, read: true })) }),
    read: (context, event: { id: string }) => ({
      ...context,
      items: context.items.map((n) => (n.id === event.id ? { ...n, read: true } : n)),
    }),
    unavailable: (context) => ({ ...context, available: false }),
    reset: () => ({ items: [], available: true }),
  },
});

export function unreadCount(items: readonly NotificationView[]): number {
  let n = 0;
  for (const item of items) if (!item.read) n++;
  return n;
}
