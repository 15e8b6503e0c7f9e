import { decodeMessage } from '../protocol/codec.ts';
import { ClientError, ExchangeError, toReportable } from './errors.ts';
import { LocalBook } from './localBook.ts';
import { isReplyOp, PendingRequests } from './pendingRequests.ts';
import type {
  BookSubscribeOptions,
  BookSubscription,
  ExchangeClientOptions,
  RequestFields,
  Session,
  SubscribeParams,
  Unsubscribe,
  WebSocketConstructor,
  WebSocketLike,
} from './options.ts';
import {
  CHANNEL_OF_PUSH,
  isPrivateChannel,
  type AcceptedOcoReply,
  type AcceptedReply,
  type AmendedReply,
  type AmendOrder,
  type AuthedReply,
  type BookDepth,
  type BookMessage,
  type CanceledAllReply,
  type CanceledReply,
  type CancelOrder,
  type PlaceOcoOrder,
  type Channel,
  type ChannelPushes,
  type ErrorCode,
  type MarketStatusMessage,
  type PlaceOrder,
  type PongReply,
  type PushMessage,
  type PushOp,
  type ReplyOf,
  type RequestOp,
  type ServerReply,
} from '../protocol/messages.ts';

export { ClientError, ExchangeError, type ClientErrorKind } from './errors.ts';
export type {
  BookSubscribeOptions,
  BookSubscription,
  ExchangeClientOptions,
  RequestFields,
  SubscribeParams,
  Session,
  Unsubscribe,
  WebSocketConstructor,
  WebSocketLike,
} from './options.ts';

const OPEN = 1;
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_RECONNECT_ATTEMPTS = 20;

/** One registered subscription; the map holds at most one per channel and market, as the server does. */
interface Subscription {
  readonly key: string;
  readonly ch: Channel;
  readonly params: SubscribeParams;
  readonly deliver: (message: PushMessage) => void;
}

/**
 * A client of wire protocol v1 (PROTOCOL.md) over one WebSocket: requests answered by `rid` with
 * timeouts, pushes routed to subscriptions, book subscriptions kept as verified `LocalBook`s that
 * resubscribe by themselves on a gap or a checksum mismatch. With `failover` it reconnects to the
 * exchange's other gateways, re-authenticates and resubscribes.
 */
export class ExchangeClient {
  readonly #url: string;
  readonly #token: string | undefined;
  readonly #cancelOnDisconnect: boolean | undefined;
  readonly #WebSocket: WebSocketConstructor;
  readonly #onClose: ExchangeClientOptions['onClose'];
  readonly #onError: ExchangeClientOptions['onError'];

  #socket: WebSocketLike | undefined;
  #closed = false;
  /** `url` then the failover URLs; `#at` is the one in use. */
  readonly #urls: readonly string[];
  #at = 0;
  readonly #reconnectAttempts: number;
  readonly #onReconnect: ExchangeClientOptions['onReconnect'];
  /** The last successful `auth`, sent again after a reconnection. */
  #authed: { token: string; cancelOnDisconnect: boolean | undefined } | undefined;
  #reconnecting = false;
  readonly #requests: PendingRequests;
  readonly #subscriptions = new Map<string, Subscription>();
  #resyncs = 0;
  #session: Session | undefined;
  readonly #statusListeners = new Set<(message: MarketStatusMessage) => void>();

  constructor(options: ExchangeClientOptions) {
    const WebSocketClass =
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WebSocketClass === undefined) {
      throw new Error('ExchangeClient: no global WebSocket here; pass the ws package as options.WebSocket');
    }
    const timeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!(Number.isFinite(timeout) && timeout > 0)) {
      throw new Error(`ExchangeClient: requestTimeoutMs must be a positive number, got ${timeout}`);
    }
    this.#url = options.url;
    this.#token = options.token;
    this.#cancelOnDisconnect = options.cancelOnDisconnect;
    this.#WebSocket = WebSocketClass;
    this.#requests = new PendingRequests(timeout);
    this.#onClose = options.onClose;
    this.#onError = options.onError;
    this.#urls = [options.url, ...(options.failover ?? [])];
    this.#reconnectAttempts = options.reconnectAttempts ?? DEFAULT_RECONNECT_ATTEMPTS;
    this.#onReconnect = options.onReconnect;
  }

  /** Whether the socket is open. */
  get connected(): boolean {
    return !this.#closed && this.#socket?.readyState === OPEN;
  }

  /** The user this connection authenticated as, once `auth` succeeded. */
  get session(): Session | undefined {
    return this.#session;
  }

  /** Book resubscriptions (gap or mismatch) over all book subscriptions of this client. */
  get resyncs(): number {
    return this.#resyncs;
  }

  /**
   * Listens to `market_status` pushes (issue 20): whether a market whose `lifecycle` this client
   * subscribed to is halted by the supervisor (its commands answer `unavailable`) or running. The
   * server sends them on the `lifecycle` subscriptions; returns the function that stops listening.
   */
  onMarketStatus(listener: (message: MarketStatusMessage) => void): () => void {
    this.#statusListeners.add(listener);
    return () => {
      this.#statusListeners.delete(listener);
    };
  }

  /**
   * Opens the socket (once; with `failover` it is opened again after a loss), then authenticates
   * when a token was given.
   */
  connect(): Promise<void> {
    if (this.#socket !== undefined || this.#closed) {
      return Promise.reject(new ClientError('closed', 'connect() can be called once per ExchangeClient'));
    }
    return this.#open(this.#url, this.#token);
  }

  #open(url: string, token: string | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const socket = new this.#WebSocket(url);
      this.#socket = socket;
      socket.binaryType = 'arraybuffer';
      let opened = false;
      socket.onopen = () => {
        opened = true;
        if (token === undefined) {
          resolve();
          return;
        }
        this.auth(token, { cancelOnDisconnect: this.#cancelOnDisconnect }).then(
          () => {
            resolve();
          },
          (error: unknown) => {
            reject(error instanceof Error ? error : new Error(String(error)));
            this.close();
          },
        );
      };
      socket.onerror = (event: { message?: unknown }) => {
        if (opened) return; // the close event that follows reports it
        const detail = typeof event.message === 'string' ? `: ${event.message}` : '';
        reject(new ClientError('closed', `could not connect to ${url}${detail}`));
      };
      socket.onclose = (event: { code: number; reason: string }) => {
        if (!opened) {
          reject(new ClientError('closed', `could not connect to ${url} (close ${event.code})`));
          return;
        }
        if (this.#reconnecting) {
          // The reconnection loop tries the next URL; what this socket was asked fails now.
          this.#requests.rejectAll('the connection closed; reconnecting');
          return;
        }
        if (this.#closed || this.#urls.length === 1 || this.#socket !== socket) {
          this.#shutdown('the connection closed');
          this.#onClose?.({ code: event.code, reason: event.reason });
          return;
        }
        this.#requests.rejectAll('the connection closed; reconnecting');
        void this.#reconnect(event);
      };
      socket.onmessage = (event: { data: unknown }) => {
        this.#receive(event.data);
      };
    });
  }

  /**
   * After a loss (`failover`): the next URL in turn until one opens, then `auth` again with the
   * last token and every subscription sent again. Gives up (onClose) after `reconnectAttempts`
   * rounds over every URL.
   */
  async #reconnect(lost: { code: number; reason: string }): Promise<void> {
    this.#reconnecting = true;
    try {
      if (await this.#reconnectOnce()) return;
    } finally {
      this.#reconnecting = false;
    }
    this.#shutdown('the connection closed and no gateway could be reached again');
    this.#onClose?.(lost);
  }

  #isClosed(): boolean {
    return this.#closed;
  }

  async #reconnectOnce(): Promise<boolean> {
    for (let attempt = 0; attempt < this.#reconnectAttempts * this.#urls.length; attempt++) {
      if (this.#isClosed()) return true;
      this.#at = (this.#at + 1) % this.#urls.length;
      const url = this.#urls[this.#at]!;
      const round = Math.floor(attempt / this.#urls.length);
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * 2 ** round)));
      if (this.#isClosed()) return true; // close() while waiting
      try {
        await this.#open(url, undefined);
        if (this.#authed !== undefined) {
          await this.auth(this.#authed.token, { cancelOnDisconnect: this.#authed.cancelOnDisconnect });
        }
        for (const subscription of [...this.#subscriptions.values()]) {
          await this.#sendSub(subscription, false).catch((error: unknown) => {
            this.#report(toReportable(error));
          });
        }
        this.#onReconnect?.(url);
        return true;
      } catch {
        // Not open, or it closed again at once: the next URL.
        const socket = this.#socket;
        if (socket !== undefined && socket.readyState <= OPEN) socket.close();
      }
    }
    return false;
  }

  /** Closes the connection; pending requests reject at once with a `closed` ClientError. */
  close(code = 1000, reason = ''): void {
    this.#shutdown('the client closed the connection');
    const socket = this.#socket;
    if (socket !== undefined && socket.readyState <= OPEN) socket.close(code, reason);
  }

  /**
   * Sends one request and resolves with its success reply. Rejects with an `ExchangeError` when the
   * server answers `error`, with a `ClientError` on timeout or close.
   */
  request<Op extends RequestOp>(op: Op, fields: RequestFields<Op>): Promise<ReplyOf[Op]> {
    const socket = this.#socket;
    if (this.#closed || socket?.readyState !== OPEN) {
      return Promise.reject(new ClientError('closed', `cannot send ${op}: not connected`));
    }
    return this.#requests.send(socket, op, fields);
  }

  async auth(token: string, options: { cancelOnDisconnect?: boolean } = {}): Promise<AuthedReply> {
    const reply = await this.request('auth', { token, cancelOnDisconnect: options.cancelOnDisconnect });
    this.#session = { userId: reply.userId, roles: reply.roles };
    this.#authed = { token, cancelOnDisconnect: options.cancelOnDisconnect };
    return reply;
  }

  ping(): Promise<PongReply> {
    return this.request('ping', {});
  }

  /** Resolves once the order and its immediate fills are durably committed. */
  place(order: PlaceOrder): Promise<AcceptedReply> {
    return this.request('place', order);
  }

  /** An OCO (PROTOCOL v1.1; build it with `oco()` from orderTypes.ts): resolves with both legs. */
  placeOco(order: PlaceOcoOrder): Promise<AcceptedOcoReply> {
    return this.request('place_oco', order);
  }

  amend(amendment: AmendOrder): Promise<AmendedReply> {
    return this.request('amend', amendment);
  }

  cancel(order: CancelOrder): Promise<CanceledReply> {
    return this.request('cancel', order);
  }

  /** Cancels the user's open orders in `market`, or in every market. */
  cancelAll(market?: string): Promise<CanceledAllReply> {
    return this.request('cancel_all', { market });
  }

  /**
   * Subscribes to a channel; `onMessage` gets its pushes, the snapshot included. Resolves on
   * `subbed`. A second subscription to the same channel and market replaces the first, here as on
   * the server; for candles, pushes of another interval than the one asked are dropped.
   */
  async subscribe<C extends Channel>(
    ch: C,
    params: SubscribeParams,
    onMessage: (message: ChannelPushes[C]) => void,
  ): Promise<Unsubscribe> {
    const subscription = this.#register(ch, params, onMessage as (message: PushMessage) => void);
    await this.#sendSub(subscription, true);
    return () => this.#unsubscribe(subscription);
  }

  /** Ends the current subscription to `ch` (and `market` for public channels). */
  async unsubscribe(ch: Channel, market?: string): Promise<void> {
    this.#subscriptions.delete(subscriptionKey(ch, market));
    if (isPrivateChannel(ch)) {
      await this.request('unsub', { ch });
    } else if (market === undefined) {
      throw new TypeError(`channel ${ch} needs a market`);
    } else {
      await this.request('unsub', { ch, market });
    }
  }

  /**
   * Subscribes to a market's book and keeps it in a `LocalBook`; `onUpdate` gets it after each
   * verified message. On a `seq` gap or a checksum mismatch it sends `sub` again and ignores
   * deltas until the fresh snapshot.
   */
  async subscribeBook(
    market: string,
    depth: BookDepth,
    onUpdate: (book: LocalBook) => void,
    options: BookSubscribeOptions = {},
  ): Promise<BookSubscription> {
    const book = new LocalBook(market, depth);
    let awaitingSnapshot = true;
    let resyncFailed = false;
    let resyncs = 0;
    const resync = (reason: 'gap' | 'mismatch'): void => {
      awaitingSnapshot = true;
      resyncFailed = false;
      resyncs++;
      this.#resyncs++;
      options.onResync?.(reason, book);
      this.#sendSub(subscription, false).catch((error: unknown) => {
        resyncFailed = true; // the next delta tries again
        this.#report(toReportable(error));
      });
    };
    const subscription = this.#register('book', { market, depth }, (message) => {
      const bookMessage = message as BookMessage;
      if (awaitingSnapshot && bookMessage.kind !== 'snapshot') {
        // Deltas of the stream being replaced, before the fresh snapshot.
        if (resyncFailed) resync('gap');
        return;
      }
      const result = book.apply(bookMessage);
      if (result === 'ok') {
        awaitingSnapshot = false;
        onUpdate(book);
      } else {
        resync(result);
      }
    });
    await this.#sendSub(subscription, true);
    return {
      book,
      get resyncs() {
        return resyncs;
      },
      unsubscribe: () => this.#unsubscribe(subscription),
    };
  }

  #register(ch: Channel, params: SubscribeParams, deliver: (message: PushMessage) => void): Subscription {
    if (isPrivateChannel(ch)) {
      if (params.market !== undefined) throw new TypeError(`channel ${ch} is private: it takes no market`);
    } else if (params.market === undefined) {
      throw new TypeError(`channel ${ch} needs a market`);
    }
    const key = subscriptionKey(ch, params.market);
    const subscription: Subscription = { key, ch, params, deliver };
    this.#subscriptions.set(key, subscription);
    return subscription;
  }

  /** Sends `sub` for a registered subscription; when it fails, the registration is dropped if `initial`. */
  async #sendSub(subscription: Subscription, initial: boolean): Promise<void> {
    if (this.#subscriptions.get(subscription.key) !== subscription) return;
    const { ch, params } = subscription;
    const fields = isPrivateChannel(ch)
      ? { ch }
      : { ch, market: params.market ?? '', depth: params.depth, interval: params.interval };
    try {
      await this.request('sub', fields);
    } catch (error) {
      if (initial && this.#subscriptions.get(subscription.key) === subscription) {
        this.#subscriptions.delete(subscription.key);
      }
      throw error;
    }
  }

  async #unsubscribe(subscription: Subscription): Promise<void> {
    if (this.#subscriptions.get(subscription.key) !== subscription) return;
    await this.unsubscribe(subscription.ch, subscription.params.market);
  }

  #receive(data: unknown): void {
    const frame = frameBytes(data);
    if (frame === undefined) {
      this.#report(new ClientError('bad_frame', 'the server sent a frame that is not binary'));
      return;
    }
    const decoded = decodeMessage(frame);
    if (!decoded.ok) {
      this.#report(new ClientError('bad_frame', `the server sent an undecodable frame: ${decoded.reason}`));
      return;
    }
    const message = decoded.message;
    const { op, rid } = message;
    if (typeof op !== 'string') {
      this.#report(new ClientError('bad_frame', 'the server sent a message without op'));
      return;
    }
    if (op === 'error') {
      const error = new ExchangeError(
        String(message.code) as ErrorCode,
        String(message.message),
        typeof rid === 'number' ? rid : undefined,
      );
      // Unsolicited `unauthorized`: the token's exp ended the session (PROTOCOL v1.1).
      if (error.rid === undefined && error.code === 'unauthorized') this.#session = undefined;
      if (error.rid === undefined || !this.#requests.settle(error.rid, error)) this.#report(error);
      return;
    }
    if (isReplyOp(op)) {
      if (typeof rid === 'number') this.#requests.settle(rid, message as unknown as ServerReply);
      return;
    }
    if (op === 'market_status') {
      for (const listener of this.#statusListeners) listener(message as unknown as MarketStatusMessage);
      return;
    }
    if (Object.hasOwn(CHANNEL_OF_PUSH, op)) this.#route(op as PushOp, message as unknown as PushMessage);
    // Any other op is one this client does not know yet (the server may add ops): ignored.
  }

  #route(op: PushOp, message: PushMessage): void {
    const ch = CHANNEL_OF_PUSH[op];
    const market = 'market' in message ? message.market : undefined;
    const subscription = this.#subscriptions.get(subscriptionKey(ch, market));
    if (subscription === undefined) return;
    const { interval } = subscription.params;
    if (message.op === 'candle' && interval !== undefined && message.interval !== interval) return;
    try {
      subscription.deliver(message);
    } catch (cause) {
      if (this.#onError === undefined) throw cause;
      this.#onError(new ClientError('handler', `a ${ch} subscription callback threw`, { cause }));
    }
  }

  #report(error: ExchangeError | ClientError): void {
    this.#onError?.(error);
  }

  /** Rejects every pending request and forgets every subscription; idempotent. */
  #shutdown(why: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscriptions.clear();
    this.#requests.rejectAll(why);
  }
}

/** Private channels have one subscription per connection; public ones one per market. */
function subscriptionKey(ch: Channel, market: string | undefined): string {
  return isPrivateChannel(ch) ? ch : `${ch}\u0000${market ?? ''}`;
}

function frameBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}
