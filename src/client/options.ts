import type { BookDepth, CandleInterval, ClientRequest, RequestOp, Role } from '../protocol/messages.ts';
import type { ClientError, ExchangeError } from './errors.ts';
import type { LocalBook } from './localBook.ts';

/**
 * The part of the WebSocket API the client uses. Browsers' `WebSocket` and the `ws` package's fit
 * it. Handler parameters are `never` so that both event type families are assignable; the client
 * reads only `data` of a message event and `code`/`reason` of a close event.
 */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ExchangeClientOptions {
  /** `ws://HOST:PORT/ws`. */
  readonly url: string;
  /** When set, `connect()` authenticates with it (an `auth` request) before it resolves. */
  readonly token?: string;
  /** With `token`: the server cancels this connection's open orders when it closes. */
  readonly cancelOnDisconnect?: boolean;
  /** Default `globalThis.WebSocket`; in Node before 22 pass the `ws` package's `WebSocket`. */
  readonly WebSocket?: WebSocketConstructor;
  /** How long a request waits for its reply; default 10000. */
  readonly requestTimeoutMs?: number;
  readonly onClose?: (event: { readonly code: number; readonly reason: string }) => void;
  /**
   * Other gateways of the same exchange (`ws://…/ws`). When set, a connection that closes without
   * `close()` is opened again, to the next URL in turn (`url` first, then these), re-authenticated
   * with the last token and resubscribed (a book starts again from a fresh snapshot); requests in
   * flight at the loss reject with a `closed` ClientError (an order may have been accepted: ask
   * again with the same `clientOrderId`, or read open orders). `onClose` is called only once
   * every URL failed `reconnectAttempts` times in a row (default 20, 100 ms..2 s apart).
   */
  readonly failover?: readonly string[];
  readonly reconnectAttempts?: number;
  /** After each reconnection (`failover`), with the URL it reached. */
  readonly onReconnect?: (url: string) => void;
  /**
   * Errors that answer no pending request: an `error` without `rid` (or for a request that timed
   * out), an undecodable frame, a failed book resubscription, a throwing subscription callback
   * (which is rethrown when this is not set).
   */
  readonly onError?: (error: ExchangeError | ClientError) => void;
}

export interface SubscribeParams {
  /** Required for public channels, omitted for private ones. */
  readonly market?: string;
  /** `book` only: 10, 50 or 0 (all levels); the server's default is 50. */
  readonly depth?: BookDepth;
  /** `candles` only. */
  readonly interval?: CandleInterval;
}

/** Ends a subscription: sends `unsub` and resolves on `unsubbed`. A no-op once it was replaced. */
export type Unsubscribe = () => Promise<void>;

export interface BookSubscription {
  readonly book: LocalBook;
  /** How many times this subscription resubscribed after a gap or a checksum mismatch. */
  readonly resyncs: number;
  readonly unsubscribe: Unsubscribe;
}

export interface BookSubscribeOptions {
  /** Called when the book resubscribes; `book` is stale until the fresh snapshot arrives. */
  readonly onResync?: (reason: 'gap' | 'mismatch', book: LocalBook) => void;
}

export interface Session {
  readonly userId: string;
  readonly roles: readonly Role[];
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The fields of a request besides `op` and `rid`. */
export type RequestFields<Op extends RequestOp> = DistributiveOmit<
  Extract<ClientRequest, { op: Op }>,
  'op' | 'rid'
>;
