import {
  ClientError,
  ExchangeClient,
  ExchangeError,
  type OrderMessage,
  type Side,
  type WebSocketConstructor,
} from '../../src/client/index.ts';
import { MarketMath, type MarketSpec } from './market.ts';
import { seededRandom, type PriceReference, type Random } from './random.ts';

export { fetchMarketSpec, type MarketSpec } from './market.ts';
export { randomWalk, type PriceReference } from './random.ts';

/*
 * Trading bots on the client SDK, over the WebSocket, for the demo (`npm run demo`), the browser
 * tests and the market-data benchmark. They are ordinary clients: a token with the trader role, the
 * server's rate and open-order limits, and nothing the protocol does not offer. Each bot has its
 * own connection and a client-side token bucket that keeps it under its request budget; an answer
 * `rate_limited`, `overloaded` or `unavailable` makes it back off (exponentially, with jitter)
 * instead of retrying at once.
 *
 * What is left open when a bot stops (documented for the tests):
 * - a market maker sends `cancel_all` for its market on `stop()` and waits for the reply, so it
 *   leaves no open orders (its connection also authenticates with `cancelOnDisconnect`, as a net
 *   for a bot that dies without stopping);
 * - a taker sends only IOC orders, which never rest: it leaves nothing.
 */

/** How a bot connects: the WebSocket URL and a token of a user with the `trader` role. */
export interface BotConnection {
  /** `ws://HOST:PORT/ws`. */
  readonly url: string;
  readonly token: string;
  /** In Node 20 pass the `ws` package's `WebSocket`. */
  readonly WebSocket?: WebSocketConstructor;
  readonly requestTimeoutMs?: number;
  /** A name for stats and logs; defaults to the kind and market. */
  readonly name?: string;
  /** Seed of the bot's random choices (sizes, sides, jitter). */
  readonly seed?: number;
  /** Client-side budget of order requests per second (burst: the same number). */
  readonly maxRequestsPerSecond?: number;
  /** Unexpected errors (anything besides back-off answers and cancel/amend races), as they happen. */
  readonly onError?: (bot: string, error: Error) => void;
}

/** Error codes the bots expect and handle by backing off. */
export const BACKOFF_CODES: ReadonlySet<string> = new Set(['rate_limited', 'overloaded', 'unavailable']);

export interface BotStats {
  readonly name: string;
  readonly market: string;
  /** Order requests sent (place, amend, cancel, cancel_all). */
  requests: number;
  /** Places accepted. */
  placed: number;
  amended: number;
  /** Fills of this bot's orders (one per trade it took part in). */
  trades: number;
  /** Answers that made the bot back off (`rate_limited`, `overloaded`, `unavailable`), by code. */
  backoffs: Record<string, number>;
  /** `not_found` on an amend or cancel: the order filled meanwhile (expected, handled). */
  races: number;
  /** Every other failure, by error code (`client:<kind>` for the SDK's own: timeout, closed...). */
  errors: Record<string, number>;
  /** Orders the bot believes are open now. */
  openOrders: number;
  /** Largest `openOrders` seen. */
  maxOpenOrders: number;
}

export interface Bot {
  readonly stats: BotStats;
  /** Stops the bot, cancels what it left open (see above), closes its connection. Idempotent. */
  stop(): Promise<void>;
}

type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly code: string };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Connection, budget, back-off and error accounting shared by both kinds of bot. */
class BotCore {
  readonly stats: BotStats;
  readonly random: Random;
  client!: ExchangeClient;
  stopping = false;
  #backoffUntil = 0;
  #backoffMs = 0;
  #tokens: number;
  #refilledAt = Date.now();
  readonly #rate: number;

  constructor(
    readonly options: BotConnection,
    kind: string,
    readonly market: MarketSpec,
  ) {
    this.stats = {
      name: options.name ?? `${kind}:${market.symbol}`,
      market: market.symbol,
      requests: 0,
      placed: 0,
      amended: 0,
      trades: 0,
      backoffs: {},
      races: 0,
      errors: {},
      openOrders: 0,
      maxOpenOrders: 0,
    };
    this.random = seededRandom(options.seed ?? 1);
    this.#rate = options.maxRequestsPerSecond ?? 50;
    this.#tokens = this.#rate;
  }

  async connect(): Promise<void> {
    this.client = new ExchangeClient({
      url: this.options.url,
      WebSocket: this.options.WebSocket,
      requestTimeoutMs: this.options.requestTimeoutMs ?? 15_000,
      onError: (error) => {
        this.fail(error);
      },
      onClose: (event) => {
        if (!this.stopping) this.fail(new ClientError('closed', `connection closed (${event.code})`));
        this.stopping = true;
      },
    });
    await this.client.connect();
    await this.client.auth(this.options.token, { cancelOnDisconnect: true });
    await this.client.subscribe('fills', {}, (fill) => {
      if (fill.market === this.market.symbol) this.stats.trades++;
    });
  }

  get backingOff(): boolean {
    return Date.now() < this.#backoffUntil;
  }

  get backoffLeftMs(): number {
    return Math.max(0, this.#backoffUntil - Date.now());
  }

  setOpenOrders(count: number): void {
    this.stats.openOrders = count;
    if (count > this.stats.maxOpenOrders) this.stats.maxOpenOrders = count;
  }

  /** Waits for the client-side budget, sends, classifies the outcome. */
  async call<T>(send: () => Promise<T>): Promise<Result<T>> {
    await this.#take();
    if (this.stopping && !this.client.connected) return { ok: false, code: 'client:closed' };
    this.stats.requests++;
    try {
      const value = await send();
      this.#backoffMs = Math.floor(this.#backoffMs / 2);
      return { ok: true, value };
    } catch (error) {
      if (error instanceof ExchangeError) {
        const code: string = error.code;
        if (BACKOFF_CODES.has(code)) {
          this.stats.backoffs[code] = (this.stats.backoffs[code] ?? 0) + 1;
          this.backOff();
        } else if (code !== 'not_found') {
          this.fail(error);
          // Funds or limits will not come back by themselves within milliseconds: slow down.
          this.backOff(1_000);
        }
        return { ok: false, code };
      }
      if (error instanceof ClientError) {
        if (!(this.stopping && error.kind === 'closed')) this.fail(error);
        return { ok: false, code: `client:${error.kind}` };
      }
      this.fail(error instanceof Error ? error : new Error(String(error)));
      return { ok: false, code: 'client:unknown' };
    }
  }

  /** Exponential back-off with jitter: 100 ms doubling up to 5 s. */
  backOff(atLeastMs = 0): void {
    this.#backoffMs = Math.min(5_000, Math.max(100, this.#backoffMs * 2, atLeastMs));
    const wait = this.#backoffMs * (0.5 + this.random.next());
    this.#backoffUntil = Math.max(this.#backoffUntil, Date.now() + wait);
  }

  fail(error: ExchangeError | ClientError | Error): void {
    const code =
      error instanceof ExchangeError
        ? error.code
        : error instanceof ClientError
          ? `client:${error.kind}`
          : 'client:exception';
    this.stats.errors[code] = (this.stats.errors[code] ?? 0) + 1;
    this.options.onError?.(this.stats.name, error);
  }

  async #take(): Promise<void> {
    for (;;) {
      const now = Date.now();
      this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#refilledAt) * this.#rate) / 1000);
      this.#refilledAt = now;
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return;
      }
      await sleep(Math.ceil(((1 - this.#tokens) * 1000) / this.#rate));
    }
  }

  close(): void {
    this.stopping = true;
    this.client.close();
  }
}

// ------------------------------------------------------------------------------------------------
// Market maker

export interface MarketMakerOptions extends BotConnection {
  readonly market: MarketSpec;
  /** The price it quotes around (e.g. `randomWalk(...)`); several makers may share one. */
  readonly reference: PriceReference;
  /** Orders per side. Default 5. */
  readonly levels?: number;
  /** Distance from the reference to the best bid and to the best ask, in bps. Default 5. */
  readonly halfSpreadBps?: number;
  /** Distance between levels, in bps. Default 5. */
  readonly stepBps?: number;
  /** Size of each order, drawn uniformly from [min, max] base units. */
  readonly qty: readonly [min: number, max: number];
  /** How often it re-reads the reference and re-quotes, ms. Default 250. */
  readonly requoteMs?: number;
  /** An order is amended only when its price is off by at least this many ticks. Default: ~1/3 of a level step. */
  readonly requoteTicks?: number;
}

interface Quote {
  readonly side: Side;
  orderId: string | undefined;
  ticks: number;
}

export interface MarketMaker extends Bot {
  /** The reference price it last quoted around. */
  readonly lastReference: number;
}

/**
 * A market maker: `levels` bids and `levels` asks around a drifting reference price, one order per
 * level. When the reference moves it amends its orders to the new prices (on the side moving away
 * from the other first, so that its own bids and asks never cross); when an order fills it places
 * a new one at that level. It never has more than 2 × levels open orders (plus the few whose reply
 * timed out, if any). It cancels its own stale orders in the market at start.
 */
export async function startMarketMaker(options: MarketMakerOptions): Promise<MarketMaker> {
  const core = new BotCore(options, 'maker', options.market);
  const math = new MarketMath(options.market);
  const symbol = options.market.symbol;
  const levels = options.levels ?? 5;
  const half = (options.halfSpreadBps ?? 5) / 10_000;
  const step = (options.stepBps ?? 5) / 10_000;
  const requoteMs = options.requoteMs ?? 250;
  const [minQty, maxQty] = options.qty;
  const minLots = math.lots(minQty);
  const maxLots = Math.max(minLots, math.lots(maxQty));

  const quotes: Record<Side, Quote[]> = {
    buy: Array.from({ length: levels }, () => ({ side: 'buy', orderId: undefined, ticks: 0 })),
    sell: Array.from({ length: levels }, () => ({ side: 'sell', orderId: undefined, ticks: 0 })),
  };
  const byOrderId = new Map<string, Quote>();
  /** Orders seen closed by a push before their place's reply was handled. */
  const closedEarly = new Set<string>();
  let lastReference = options.reference.price();

  const link = (quote: Quote, orderId: string | undefined, ticks: number) => {
    if (quote.orderId !== undefined) byOrderId.delete(quote.orderId);
    quote.orderId = orderId;
    quote.ticks = ticks;
    if (orderId !== undefined) byOrderId.set(orderId, quote);
    core.setOpenOrders(byOrderId.size);
  };

  const onOrder = (order: OrderMessage) => {
    if (order.market !== symbol) return;
    if (order.status !== 'filled' && order.status !== 'canceled' && order.status !== 'rejected') return;
    const quote = byOrderId.get(order.orderId);
    if (quote === undefined) {
      closedEarly.add(order.orderId);
      if (closedEarly.size > 10_000) closedEarly.delete(closedEarly.values().next().value!);
      return;
    }
    link(quote, undefined, 0);
    trigger(); // fill the gap at once
  };

  const desiredTicks = (side: Side, index: number, reference: number): number =>
    side === 'buy'
      ? math.ticks(reference * (1 - half - index * step), 'down')
      : math.ticks(reference * (1 + half + index * step), 'up');
  const requoteTicks =
    options.requoteTicks ?? Math.max(1, Math.floor(math.ticks(lastReference * step, 'nearest') / 3));

  const adjust = async (quote: Quote, ticks: number): Promise<void> => {
    if (core.stopping || core.backingOff) return;
    if (quote.orderId === undefined) {
      const lots = core.random.int(minLots, maxLots);
      const placed = await core.call(() =>
        core.client.place({
          market: symbol,
          side: quote.side,
          type: 'limit',
          price: math.priceOf(ticks),
          qty: math.qtyOf(lots),
        }),
      );
      if (!placed.ok) return;
      core.stats.placed++;
      const { orderId, status } = placed.value;
      const resting = status === 'open' || status === 'partially_filled';
      if (resting && !closedEarly.delete(orderId)) link(quote, orderId, ticks);
      return;
    }
    if (Math.abs(quote.ticks - ticks) < requoteTicks) return;
    const orderId = quote.orderId;
    const amended = await core.call(() =>
      core.client.amend({ market: symbol, orderId, price: math.priceOf(ticks) }),
    );
    if (quote.orderId !== orderId) return; // closed by a push meanwhile
    if (!amended.ok) {
      if (amended.code === 'not_found') {
        core.stats.races++;
        link(quote, undefined, 0);
      }
      return;
    }
    core.stats.amended++;
    if (math.lotsOf(amended.value.remainingQty) === 0 || closedEarly.delete(amended.value.orderId)) {
      link(quote, undefined, 0);
    } else {
      link(quote, amended.value.orderId, ticks);
    }
  };

  const cycle = async (): Promise<void> => {
    const reference = options.reference.price();
    // Moving up: asks first, then bids; moving down: the other way. Own orders never cross.
    const order: Side[] = reference >= lastReference ? ['sell', 'buy'] : ['buy', 'sell'];
    lastReference = reference;
    for (const side of order) {
      await Promise.all(quotes[side].map((quote, i) => adjust(quote, desiredTicks(side, i, reference))));
    }
  };

  // One cycle at a time; a trigger during a cycle runs another right after it.
  let running: Promise<void> | undefined;
  let again = false;
  const wanted = () => again; // read after awaits (a trigger may have set it meanwhile)
  let wake: ReturnType<typeof setTimeout> | undefined;
  function trigger(): void {
    if (core.stopping) return;
    if (running !== undefined) {
      again = true;
      return;
    }
    if (core.backingOff) {
      wake ??= setTimeout(() => {
        wake = undefined;
        trigger();
      }, core.backoffLeftMs + 1);
      return;
    }
    running = (async () => {
      do {
        again = false;
        await cycle();
      } while (wanted() && !core.stopping && !core.backingOff);
    })().finally(() => {
      running = undefined;
      if (wanted()) trigger();
    });
  }

  await core.connect();
  await core.client.subscribe('orders', {}, onOrder);
  // Stale orders of an earlier run (this bot is their only owner in this market).
  const stale = await core.call(() => core.client.cancelAll(symbol));
  if (!stale.ok) throw new Error(`${core.stats.name}: cancel_all at start failed: ${stale.code}`);
  trigger();
  await running;
  const timer = setInterval(trigger, requoteMs);

  let stopped: Promise<void> | undefined;
  return {
    stats: core.stats,
    get lastReference() {
      return lastReference;
    },
    stop: () => {
      stopped ??= (async () => {
        clearInterval(timer);
        if (wake !== undefined) clearTimeout(wake);
        core.stopping = true;
        await running;
        if (core.client.connected) {
          for (let attempt = 0; attempt < 8; attempt++) {
            const canceled = await core.call(() => core.client.cancelAll(symbol));
            if (canceled.ok || !BACKOFF_CODES.has(canceled.code)) break;
            await sleep(100 * 2 ** attempt);
          }
        }
        byOrderId.clear();
        core.setOpenOrders(0);
        core.close();
      })();
      return stopped;
    },
  };
}

// ------------------------------------------------------------------------------------------------
// Taker

export interface TakerOptions extends BotConnection {
  readonly market: MarketSpec;
  /** Marketable orders per second. Default 2. */
  readonly ordersPerSecond?: number;
  /** Size of each order, drawn uniformly from [min, max] base units. */
  readonly qty: readonly [min: number, max: number];
  /** Each order is priced at one of the best `sweepLevels` opposite levels (so it may take several). Default 2. */
  readonly sweepLevels?: number;
  /** Orders awaiting their reply at most. Default 4. */
  readonly maxInFlight?: number;
  /** Probability that an order buys. Default 0.5. */
  readonly buyProbability?: number;
}

/**
 * A taker: at a steady rate, an IOC limit order priced at one of the best opposite levels of its
 * own verified copy of the book (a `book` subscription of depth 10), so it trades against the
 * makers' quotes and never rests. It skips a beat while that side of the book is empty.
 */
export async function startTaker(options: TakerOptions): Promise<Bot> {
  const core = new BotCore(options, 'taker', options.market);
  const math = new MarketMath(options.market);
  const symbol = options.market.symbol;
  const rate = options.ordersPerSecond ?? 2;
  const sweep = Math.max(1, options.sweepLevels ?? 2);
  const maxInFlight = options.maxInFlight ?? 4;
  const buyProbability = options.buyProbability ?? 0.5;
  const [minQty, maxQty] = options.qty;
  const minLots = math.lots(minQty);
  const maxLots = Math.max(minLots, math.lots(maxQty));

  await core.connect();
  // Kept up to date (and verified) by the SDK; read when an order is due.
  const { book } = await core.client.subscribeBook(symbol, 10, () => undefined);

  const inFlight = new Set<Promise<void>>();
  const send = (): boolean => {
    if (!book.synced) return false;
    const side: Side = core.random.next() < buyProbability ? 'buy' : 'sell';
    const opposite = side === 'buy' ? book.asks(sweep) : book.bids(sweep);
    if (opposite.length === 0) return false;
    const [price] = opposite[core.random.int(0, opposite.length - 1)]!;
    const lots = core.random.int(minLots, maxLots);
    const request = core
      .call(() =>
        core.client.place({ market: symbol, side, type: 'limit', tif: 'IOC', price, qty: math.qtyOf(lots) }),
      )
      .then((placed) => {
        if (placed.ok) core.stats.placed++;
      });
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
    return true;
  };

  const tickMs = Math.max(10, Math.min(100, Math.floor(1000 / rate)));
  let credit = 0;
  let last = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    credit = Math.min(maxInFlight, credit + ((now - last) * rate) / 1000);
    last = now;
    if (core.stopping || core.backingOff) return;
    while (credit >= 1 && inFlight.size < maxInFlight) {
      credit -= 1;
      if (!send()) break;
    }
  }, tickMs);

  let stopped: Promise<void> | undefined;
  return {
    stats: core.stats,
    stop: () => {
      stopped ??= (async () => {
        clearInterval(timer);
        core.stopping = true;
        await Promise.allSettled([...inFlight]);
        core.close();
      })();
      return stopped;
    },
  };
}
