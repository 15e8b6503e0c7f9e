import type { Logger } from 'pino';
import type * as UWS from 'uWebSockets.js';
import uWS from './uws.ts';
import type { z } from 'zod/v4';
import type { Catalog } from '../actors/catalog.ts';
import { decodeMessage, encodeMessage } from '../protocol/codec.ts';
import { isPrivateChannel } from '../protocol/messages.ts';
import { topics } from '../protocol/topics.ts';
import { requestIdFrom } from '../requestContext.ts';
import { hasRole, type Authenticator, type Principal } from './auth.ts';
import type { ErrorCode, Failure, Outcome } from '../protocol/errors.ts';
import type { OrderEntry } from '../services/orderEntry.ts';
import { countErrorAnswer, observe } from './http/metrics.ts';
import { unstorableTextAt, unstorableTextMessage } from '../protocol/text.ts';
import { ACTORS_TOPIC } from './inspection.ts';
import type { Publication } from './publication.ts';
import { bookSnapshotEncodings, refused } from './limitMetrics.ts';
import { Occupancy, sourceKey, TokenBucket } from './rateLimit.ts';
import {
  AmendRequest,
  AuthRequest,
  CancelAllRequest,
  CancelRequest,
  describeIssues,
  PlaceRequest,
  PRIVATE_CHANNELS,
  rid as Rid,
  SubRequest,
  UnsubRequest,
  type Channel,
} from '../protocol/schemas.ts';

/*
 * The WebSocket half of the gateway (PROTOCOL.md, WebSocket): one uWS app, binary MessagePack
 * frames, request/reply by rid, public channels as uWS topics per market and channel (a
 * publication is encoded once, whoever listens), private channels as topics per user. A slow
 * reader is dropped at its buffer limit (closeOnBackpressureLimit) and everyone else streams on.
 */

/** One message for the subscribers of a topic, built by the market-data publisher after commit. */
/** What subscriptions read for their snapshots (src/marketdata/publisher.ts). */
export interface MarketDataReads {
  bookSnapshot(symbol: string, depth: number): object | undefined;
  lifecycleSnapshot(symbol: string): object | undefined;
  tickerSnapshot?(symbol: string): object | undefined;
  candleSnapshot?(symbol: string, interval: string): object | undefined;
  openOrders(userId: string): readonly object[];
  balances(userId: string): readonly object[];
  /**
   * Told which topics have subscribers, so publications nobody would receive are not built
   * (MarketDataPublisher.setAudience).
   */
  setAudience?(hasSubscribers: (topic: string) => boolean): void;
}

/** Every bound a client can meet on /ws (src/config.ts names their variables). */
export interface GatewayLimits {
  readonly maxFrameBytes: number;
  readonly maxBackpressureBytes: number;
  readonly idleTimeoutSeconds: number;
  readonly maxSubscriptions: number;
  /** Each connection's bucket for every frame it sends (WS_RATE_FRAMES_*). */
  readonly framesPerSecond: number;
  readonly framesBurst: number;
  /** Each connection's bucket for `sub` (WS_RATE_SUBS_*), taken besides the frame's token. */
  readonly subsPerSecond: number;
  readonly subsBurst: number;
  /** Each connection's bucket of snapshot bytes (WS_RATE_SNAPSHOT_BYTES_*): a book sub takes its frame's size. */
  readonly snapshotBytesPerSecond: number;
  readonly snapshotBytesBurst: number;
  /** Requests of one connection awaiting their answer. */
  readonly maxPendingRequests: number;
  /** Connections, open or being upgraded: in all, and per remote address. */
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  /** Orders a connection tracks for cancel-on-disconnect before it forgets those no longer open. */
  readonly maxTrackedOrders: number;
}

export interface WebSocketOptions {
  readonly auth: Authenticator;
  readonly orders: OrderEntry;
  readonly catalog: Catalog;
  readonly marketData: MarketDataReads;
  readonly limits: GatewayLimits;
  readonly log: Logger;
  /** Called when a connection that asked for it closes: cancel these orders (wire ids by market). */
  readonly cancelOnDisconnect: (principal: Principal, orders: ReadonlyMap<string, string>) => void;
  readonly onConnectionCountChange?: (count: number) => void;
  /** Whether a user's order (wire id) is still open: the connection forgets closed ones it tracks. */
  readonly orderIsOpen?: (userId: string, orderId: string) => boolean;
  /** The admin-only `actors` channel (src/transport/inspection.ts). */
  readonly actors?: { snapshot(): object };
}

interface Connection {
  /** Correlation id of the connection; a command's is `<id>.<rid>` (PROTOCOL: errors carry it). */
  readonly id: string;
  /** The authenticated user; undefined before `auth` and again once the token's `exp` passed. */
  principal: Principal | undefined;
  /** Ends the authentication at the token's `exp` (PROTOCOL v1.1); cleared on re-auth and close. */
  expiry: NodeJS.Timeout | undefined;
  /** Whose orders `placed` holds: outlives an expired authentication, for cancelOnDisconnect. */
  owner: Principal | undefined;
  cancelOnDisconnect: boolean;
  /** `ch` or `ch|market` → the uWS topic it is subscribed to. */
  readonly subs: Map<string, string>;
  /** Orders placed on this connection still possibly open: wire id → market symbol. */
  readonly placed: Map<string, string>;
  /** `placed.size` past which closed orders are forgotten (doubles with what stays open). */
  placedSweepAt: number;
  closed: boolean;
  /** The remote address, as counted against maxConnectionsPerIp. */
  readonly address: string;
  readonly frames: TokenBucket;
  readonly subBucket: TokenBucket;
  readonly snapshotBytes: TokenBucket;
  /** Requests awaiting their answer (order entry, auth). */
  pending: number;
}

type Socket = UWS.WebSocket<Connection>;

const DEPTH_DEFAULT = 50;
/** RFC 6455 close code: a message too big to process. */
const CLOSE_MESSAGE_TOO_BIG = 1009;
/**
 * uWS buffers frames up to this many times WS_MAX_FRAME_BYTES (1 MiB at the default 16 KiB), so
 * an oversized frame is closed with 1009 rather than cut; only a frame past that sees 1006.
 */
export const RECEIVE_ROOM = 64;
/** setTimeout's longest delay (2^31 − 1 ms, ~24.8 days); a later `exp` re-arms when it fires. */
const MAX_TIMER_MS = 2_147_483_647;
/** Ops whose answer comes later: they count against maxPendingRequests until it is sent. */
const ASYNC_OPS: ReadonlySet<unknown> = new Set(['auth', 'place', 'amend', 'cancel', 'cancel_all']);

/** Registers `/ws` on the app. Returns the publish function the supervisor's publish hook feeds. */
export function registerWebSocket(app: UWS.TemplatedApp, options: WebSocketOptions) {
  const { auth, limits } = options;
  let connections = 0;
  const debug = options.log.isLevelEnabled('debug');
  /** Entries of every open connection's `subs`. */
  let subscriptions = 0;
  observe({ connections: () => connections, subscriptions: () => subscriptions });
  /** Connections open or being upgraded, in all and per address. */
  const places = new Occupancy(limits.maxConnections, limits.maxConnectionsPerIp);
  /*
   * A book snapshot's frame, encoded once per snapshot object: the publisher answers the same
   * object for a market, depth and seq until the book changes, so every sub in between shares it.
   */
  const snapshotFrames = new WeakMap<object, Uint8Array>();
  const snapshotFrame = (message: object): Uint8Array => {
    let frame = snapshotFrames.get(message);
    if (frame === undefined) {
      frame = encodeMessage(message);
      snapshotFrames.set(message, frame);
      bookSnapshotEncodings.inc({ format: 'msgpack' });
    }
    return frame;
  };
  options.marketData.setAudience?.((topic) => app.numSubscribers(topic) > 0);

  /*
   * Frames for a socket that uWS has not corked (replies released after a commit, from a promise
   * reaction) wait here and go out corked, one write per socket per turn, instead of one syscall
   * per reply: uncorked sends were ~8% of the server's CPU in bench:ws's closed loop. A socket
   * with frames waiting queues every later frame behind them, so its frames keep their order;
   * publish() sends what waits first, so a batch's replies precede the pushes it causes.
   */
  const held = new Map<Socket, Uint8Array[]>();
  let flushQueued = false;
  const flushHeld = (): void => {
    flushQueued = false;
    if (held.size === 0) return;
    for (const [ws, frames] of held) {
      const conn = ws.getUserData();
      if (conn.closed) continue;
      ws.cork(() => {
        // A send past the backpressure limit closes the socket at once.
        for (let i = 0; i < frames.length && !conn.closed; i++) ws.send(frames[i]!, true);
      });
    }
    held.clear();
  };
  const hold = (ws: Socket, frame: Uint8Array): void => {
    const frames = held.get(ws);
    if (frames !== undefined) frames.push(frame);
    else {
      held.set(ws, [frame]);
      if (!flushQueued) {
        flushQueued = true;
        queueMicrotask(flushHeld);
      }
    }
  };
  /** Inside uWS's callbacks for `ws` (corked by uWS): sends at once unless frames wait before it. */
  const sendFrame = (ws: Socket, frame: Uint8Array): void => {
    if (ws.getUserData().closed) return;
    if (held.has(ws)) hold(ws, frame);
    else ws.send(frame, true);
  };
  const send = (ws: Socket, message: object): void => {
    if (!ws.getUserData().closed) sendFrame(ws, encodeMessage(message));
  };
  /** Outside uWS's callbacks (after a commit, an auth check): held and sent corked (see `held`). */
  const sendLater = (ws: Socket, message: object): void => {
    if (ws.getUserData().closed) return;
    hold(ws, encodeMessage(message));
  };
  const errorMessage = (ws: Socket, rid: number | undefined, code: ErrorCode, message: string): object => {
    countErrorAnswer('ws', code);
    const requestId = `${ws.getUserData().id}.${rid ?? '-'}`;
    return rid === undefined
      ? { op: 'error', code, message, requestId }
      : { op: 'error', rid, code, message, requestId };
  };
  const sendError = (ws: Socket, rid: number | undefined, code: ErrorCode, message: string): void => {
    send(ws, errorMessage(ws, rid, code, message));
  };
  const reply = <T extends object>(ws: Socket, rid: number | undefined, op: string, outcome: Outcome<T>) => {
    if (!outcome.ok) sendLater(ws, errorMessage(ws, rid, outcome.code, outcome.message));
    else sendLater(ws, rid === undefined ? { op, ...outcome.value } : { op, rid, ...outcome.value });
  };

  app.ws<Connection>('/ws', {
    compression: uWS.DISABLED,
    // A frame over the limit closes the connection with 1009 (message too big), sent from
    // `message` below: uWS itself drops a connection whose frame exceeds maxPayloadLength without
    // a close frame (the client sees 1006), so it is given room above the limit.
    maxPayloadLength: limits.maxFrameBytes * RECEIVE_ROOM,
    maxBackpressure: limits.maxBackpressureBytes,
    closeOnBackpressureLimit: 1, // typed as a number; uWS reads it as a flag
    idleTimeout: limits.idleTimeoutSeconds,
    sendPingsAutomatically: true,

    upgrade: (res, req, context) => {
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const token = req.getQuery('token');
      const id = requestIdFrom(req.getHeader('x-request-id'));
      const address = sourceKey(Buffer.from(res.getRemoteAddressAsText()).toString());
      const refuse = (status: string, code: ErrorCode, message: string): void => {
        countErrorAnswer('http', code);
        res
          .writeStatus(status)
          .writeHeader('content-type', 'application/json')
          .writeHeader('x-request-id', id)
          .end(JSON.stringify({ error: { code, message, requestId: id } }));
      };
      // A place is held from here until the connection closes (or its upgrade fails).
      const entered = places.enter(address);
      if (entered === 'total') {
        refused('ws_connections');
        return refuse(
          '503 Service Unavailable',
          'overloaded',
          'the server holds all the connections it takes',
        );
      }
      if (entered === 'per_key') {
        refused('ws_connections_per_ip');
        return refuse(
          '429 Too Many Requests',
          'rate_limited',
          `at most ${limits.maxConnectionsPerIp} connections per address`,
        );
      }
      const fresh = (principal: Principal | undefined): Connection => {
        const now = performance.now();
        return {
          id,
          principal,
          expiry: undefined,
          owner: principal,
          cancelOnDisconnect: false,
          subs: new Map(),
          placed: new Map(),
          placedSweepAt: limits.maxTrackedOrders,
          closed: false,
          address,
          frames: new TokenBucket(limits.framesPerSecond, limits.framesBurst, now),
          subBucket: new TokenBucket(limits.subsPerSecond, limits.subsBurst, now),
          snapshotBytes: new TokenBucket(limits.snapshotBytesPerSecond, limits.snapshotBytesBurst, now),
          pending: 0,
        };
      };
      if (token === undefined || token === '') {
        res.upgrade(fresh(undefined), key, protocol, extensions, context);
        return;
      }
      /*
       * Checked synchronously, so the upgrade happens here in uWS's handler. An upgrade later, in
       * res.cork() from a promise, is closed by uWS 20's cork() right after `open` whenever the
       * freed HTTP response state reads "connection: close": cork() misses the upgrade when
       * realloc keeps the socket's address (uNetworking/uWebSockets#1928, fixed upstream by #1929
       * in 2026-07; this build has it). Clients saw 1006 on their first frame, now and then.
       */
      const verified = auth.verifyNow(token);
      if (verified.ok) {
        res.upgrade(fresh(verified.value), key, protocol, extensions, context);
        return;
      }
      places.leave(address);
      refuse('401 Unauthorized', verified.code, verified.message);
    },

    open: (ws) => {
      connections++;
      options.onConnectionCountChange?.(connections);
      const { id, principal } = ws.getUserData();
      if (debug) options.log.debug({ reqId: id, userId: principal?.userId }, 'ws connection opened');
      if (principal !== undefined) authenticate(ws, principal);
    },

    message: (ws, data, isBinary) => {
      // Every frame takes a token, whatever it holds: answering it is the cost being bounded.
      const allowed = ws.getUserData().frames.take(performance.now());
      if (!isBinary)
        return sendError(ws, undefined, 'bad_frame', 'text frames are not accepted: send MessagePack');
      if (data.byteLength > limits.maxFrameBytes) {
        // The close frame's reason says why; no error frame first (a client reading replies one
        // by one would take it for the answer and send on into a closing socket).
        ws.end(CLOSE_MESSAGE_TOO_BIG, `frame larger than ${limits.maxFrameBytes} bytes`);
        return;
      }
      const decoded = decodeMessage(new Uint8Array(data));
      if (!decoded.ok) return sendError(ws, undefined, 'bad_frame', decoded.reason);
      handle(ws, decoded.message, allowed);
    },

    close: (ws, code) => {
      const conn = ws.getUserData();
      conn.closed = true;
      clearTimeout(conn.expiry);
      held.delete(ws);
      if (debug)
        options.log.debug({ reqId: conn.id, code, subscriptions: conn.subs.size }, 'ws connection closed');
      subscriptions -= conn.subs.size;
      places.leave(conn.address);
      connections--;
      options.onConnectionCountChange?.(connections);
      if (conn.cancelOnDisconnect && conn.owner !== undefined && conn.placed.size > 0) {
        options.cancelOnDisconnect(conn.owner, conn.placed);
      }
    },
  });

  function handle(ws: Socket, message: Record<string, unknown>, allowed: boolean): void {
    let rid: number | undefined;
    const given = message.rid;
    // The common case without zod (same rule as the `rid` schema: a non-negative safe integer).
    if (typeof given === 'number' && Number.isSafeInteger(given) && given >= 0) rid = given;
    else if ('rid' in message) {
      const parsed = Rid.safeParse(message.rid);
      if (!parsed.success)
        return sendError(ws, undefined, 'bad_request', 'rid must be a non-negative integer');
      rid = parsed.data;
    }
    const unstorable = unstorableTextAt(message);
    if (unstorable !== undefined) return sendError(ws, rid, 'bad_request', unstorableTextMessage(unstorable));
    const op = message.op;
    const conn = ws.getUserData();
    if (!allowed) {
      refused('ws_frames');
      return sendError(ws, rid, 'rate_limited', `at most ${limits.framesPerSecond} frames per second`);
    }
    if (ASYNC_OPS.has(op) && conn.pending >= limits.maxPendingRequests) {
      refused('ws_pending_requests');
      return sendError(
        ws,
        rid,
        'rate_limited',
        `at most ${limits.maxPendingRequests} requests awaiting an answer per connection`,
      );
    }
    switch (op) {
      case 'ping':
        return send(ws, withRid({ op: 'pong', ts: Date.now() }, rid));
      case 'auth': {
        const request = parseRequest(ws, rid, AuthRequest, message);
        if (request === undefined) return;
        conn.pending++;
        void auth.verify(request.token).then((verified) => {
          conn.pending--;
          if (conn.closed) return;
          if (!verified.ok) return sendLater(ws, errorMessage(ws, rid, verified.code, verified.message));
          const principal = verified.value;
          if (conn.principal !== undefined && conn.principal.userId !== principal.userId) {
            // Another user on the same connection: the previous user's private streams stop.
            stopPrivateStreams(ws, conn);
          }
          if (conn.owner !== undefined && conn.owner.userId !== principal.userId) conn.placed.clear();
          authenticate(ws, principal);
          conn.cancelOnDisconnect = request.cancelOnDisconnect ?? false;
          sendLater(ws, withRid({ op: 'authed', userId: principal.userId, roles: principal.roles }, rid));
        });
        return;
      }
      case 'sub': {
        // Before the parse: a refused sub of a flood costs a token check and a small error.
        if (!conn.subBucket.take(performance.now())) {
          refused('ws_subs');
          return sendError(ws, rid, 'rate_limited', `at most ${limits.subsPerSecond} subs per second`);
        }
        const request = parseRequest(ws, rid, SubRequest, message);
        if (request !== undefined) subscribe(ws, rid, request);
        return;
      }
      case 'unsub': {
        const request = parseRequest(ws, rid, UnsubRequest, message);
        if (request === undefined) return;
        const isPrivate = PRIVATE_CHANNELS.has(request.ch) || request.ch === 'actors';
        const key = isPrivate ? request.ch : `${request.ch}|${request.market ?? ''}`;
        const topic = conn.subs.get(key);
        if (topic !== undefined) {
          ws.unsubscribe(topic);
          conn.subs.delete(key);
          subscriptions--;
        }
        return send(
          ws,
          withRid({ op: 'unsubbed', ch: request.ch, ...(isPrivate ? {} : { market: request.market }) }, rid),
        );
      }
      case 'place': {
        const request = parseRequest(ws, rid, PlaceRequest, message);
        const principal = request && traderOf(ws, conn, rid);
        if (request === undefined || principal === undefined) return;
        conn.pending++;
        options.orders.place(principal, request, (outcome) => {
          conn.pending--;
          if (
            outcome.ok &&
            (outcome.value.status === 'open' || outcome.value.status === 'partially_filled')
          ) {
            if (conn.owner?.userId === principal.userId) track(conn, outcome.value.orderId, request.market);
          }
          reply(ws, rid, 'accepted', outcome);
        });
        return;
      }
      case 'amend': {
        const request = parseRequest(ws, rid, AmendRequest, message);
        const principal = request && traderOf(ws, conn, rid);
        if (request === undefined || principal === undefined) return;
        conn.pending++;
        options.orders.amend(principal, request, (outcome) => {
          conn.pending--;
          reply(ws, rid, 'amended', outcome);
        });
        return;
      }
      case 'cancel': {
        const request = parseRequest(ws, rid, CancelRequest, message);
        const principal = request && traderOf(ws, conn, rid);
        if (request === undefined || principal === undefined) return;
        conn.pending++;
        options.orders.cancel(principal, request, (outcome) => {
          conn.pending--;
          if (outcome.ok) conn.placed.delete(outcome.value.orderId);
          reply(ws, rid, 'canceled', outcome);
        });
        return;
      }
      case 'cancel_all': {
        const request = parseRequest(ws, rid, CancelAllRequest, message);
        const principal = request && traderOf(ws, conn, rid);
        if (request === undefined || principal === undefined) return;
        conn.pending++;
        void options.orders.cancelAll(principal, request.market).then((outcome) => {
          conn.pending--;
          reply(ws, rid, 'canceled_all', outcome);
        });
        return;
      }
      default:
        return sendError(
          ws,
          rid,
          'bad_request',
          typeof op === 'string' ? `unknown op ${JSON.stringify(op.slice(0, 32))}` : 'op must be a string',
        );
    }
  }

  /*
   * Plain functions rather than closures made per message: tsx (esbuild keepNames) wraps each
   * named closure in a __name() call, which showed in the order path's profile.
   */
  function parseRequest<S extends z.ZodType>(
    ws: Socket,
    rid: number | undefined,
    schema: S,
    message: Record<string, unknown>,
  ): z.infer<S> | undefined {
    const parsed = schema.safeParse(message);
    if (parsed.success) return parsed.data;
    sendError(ws, rid, 'bad_request', describeIssues(parsed.error));
    return undefined;
  }

  /** The connection is now `principal`'s, until its token's `exp`. */
  function authenticate(ws: Socket, principal: Principal): void {
    const conn = ws.getUserData();
    conn.principal = principal;
    conn.owner = principal;
    clearTimeout(conn.expiry);
    conn.expiry = undefined;
    const { expiresAt } = principal;
    if (expiresAt === undefined) return;
    const arm = (): void => {
      const left = expiresAt - Date.now();
      if (left > 0) {
        conn.expiry = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
        conn.expiry.unref();
        return;
      }
      conn.expiry = undefined;
      if (conn.closed || conn.principal !== principal) return;
      expire(ws, conn);
      ws.cork(() => {
        send(ws, { op: 'error', code: 'unauthorized', message: 'token expired: send auth again' });
      });
    };
    arm();
  }

  /** At `exp`: the private streams stop and order entry answers unauthorized until a new auth. */
  function expire(ws: Socket, conn: Connection): void {
    clearTimeout(conn.expiry);
    conn.expiry = undefined;
    conn.principal = undefined;
    stopPrivateStreams(ws, conn);
  }

  function stopPrivateStreams(ws: Socket, conn: Connection): void {
    for (const [key, topic] of conn.subs) {
      if (PRIVATE_CHANNELS.has(key as Channel) || key === 'actors') {
        ws.unsubscribe(topic);
        conn.subs.delete(key);
        subscriptions--;
      }
    }
  }

  /** The connection's principal, unless its token's `exp` has passed (then the session ends now). */
  function principalOf(ws: Socket, conn: Connection): Principal | undefined {
    const principal = conn.principal;
    if (principal?.expiresAt !== undefined && principal.expiresAt <= Date.now()) {
      expire(ws, conn);
      return undefined;
    }
    return principal;
  }

  /**
   * Remembers an order for cancel-on-disconnect. Orders that fill or are canceled elsewhere are
   * forgotten when the map passes its sweep mark (then twice what stayed open): amortized O(1).
   */
  function track(conn: Connection, orderId: string, market: string): void {
    conn.placed.set(orderId, market);
    const isOpen = options.orderIsOpen;
    if (conn.placed.size <= conn.placedSweepAt || isOpen === undefined || conn.owner === undefined) return;
    const { userId } = conn.owner;
    for (const id of conn.placed.keys()) if (!isOpen(userId, id)) conn.placed.delete(id);
    conn.placedSweepAt = Math.max(limits.maxTrackedOrders, 2 * conn.placed.size);
  }

  function traderOf(ws: Socket, conn: Connection, rid: number | undefined): Principal | undefined {
    const principal = principalOf(ws, conn);
    const denied = requireRole(principal, 'trader');
    if (denied === undefined) return principal;
    sendError(ws, rid, denied.code, denied.message);
    return undefined;
  }

  function subscribe(ws: Socket, rid: number | undefined, request: z.infer<typeof SubRequest>): void {
    const conn = ws.getUserData();
    const { ch } = request;
    if (ch === 'actors') return subscribeActors(ws, rid);
    const isPrivate = isPrivateChannel(ch);
    let topic: string;
    let snapshot: readonly object[];
    /** A book snapshot goes out as its shared frame. */
    let frame: Uint8Array | undefined;
    if (isPrivate) {
      const principal = principalOf(ws, conn);
      if (principal === undefined) return sendError(ws, rid, 'unauthorized', `channel ${ch} needs auth`);
      topic = topics.private(ch, principal.userId);
      const { marketData } = options;
      snapshot =
        ch === 'orders'
          ? marketData.openOrders(principal.userId)
          : ch === 'balances'
            ? marketData.balances(principal.userId)
            : [];
    } else {
      if (request.market === undefined)
        return sendError(ws, rid, 'bad_request', `market is required for ${ch}`);
      const market = options.catalog.market(request.market);
      // Pushes and topics name markets by symbol, whatever the client wrote.
      if (market === undefined) return sendError(ws, rid, 'unknown_market', `no market ${request.market}`);
      const symbol = market.definition.symbol;
      const found = publicTopic(ch, symbol, request);
      if (!found.ok) return sendError(ws, rid, found.code, found.message);
      topic = found.value.topic;
      const message = found.value.snapshot;
      if (ch === 'book' && message !== undefined) frame = snapshotFrame(message);
      snapshot = message === undefined || frame !== undefined ? [] : [message];
    }
    const key = isPrivate ? ch : `${ch}|${request.market ?? ''}`;
    const previous = conn.subs.get(key);
    if (previous === undefined && conn.subs.size >= limits.maxSubscriptions) {
      return sendError(ws, rid, 'too_many_subscriptions', `at most ${limits.maxSubscriptions} subscriptions`);
    }
    // What the connection may ask the server to write: deep books cost more than shallow ones.
    if (frame !== undefined && !conn.snapshotBytes.take(performance.now(), frame.byteLength)) {
      refused('ws_snapshot_bytes');
      return sendError(
        ws,
        rid,
        'rate_limited',
        `at most ${limits.snapshotBytesPerSecond} bytes of snapshots per second`,
      );
    }
    if (previous !== undefined) ws.unsubscribe(previous);
    else subscriptions++;
    conn.subs.set(key, topic);
    // subbed, the snapshot and the subscription in one synchronous step: no publication can fall
    // between the snapshot and the stream it continues.
    ws.cork(() => {
      send(ws, withRid({ op: 'subbed', ch, ...(isPrivate ? {} : { market: request.market }) }, rid));
      if (frame !== undefined) sendFrame(ws, frame);
      for (const message of snapshot) send(ws, message);
    });
    ws.subscribe(topic);
  }

  function subscribeActors(ws: Socket, rid: number | undefined): void {
    const conn = ws.getUserData();
    const denied = requireRole(principalOf(ws, conn), 'admin');
    if (denied !== undefined) return sendError(ws, rid, denied.code, denied.message);
    const actors = options.actors;
    if (actors === undefined) return sendError(ws, rid, 'bad_request', 'the actors channel is not enabled');
    if (!conn.subs.has('actors') && conn.subs.size >= limits.maxSubscriptions) {
      return sendError(ws, rid, 'too_many_subscriptions', `at most ${limits.maxSubscriptions} subscriptions`);
    }
    if (!conn.subs.has('actors')) subscriptions++;
    conn.subs.set('actors', ACTORS_TOPIC);
    ws.cork(() => {
      send(ws, withRid({ op: 'subbed', ch: 'actors' }, rid));
      send(ws, actors.snapshot());
    });
    ws.subscribe(ACTORS_TOPIC);
  }

  function publicTopic(
    ch: Channel,
    symbol: string,
    request: z.infer<typeof SubRequest>,
  ): Outcome<{ topic: string; snapshot: object | undefined }> {
    const { marketData } = options;
    switch (ch) {
      case 'book': {
        const depth = request.depth ?? DEPTH_DEFAULT;
        return ok({ topic: topics.book(symbol, depth), snapshot: marketData.bookSnapshot(symbol, depth) });
      }
      case 'trades':
        return ok({ topic: topics.trades(symbol), snapshot: undefined });
      case 'lifecycle':
        return ok({ topic: topics.lifecycle(symbol), snapshot: marketData.lifecycleSnapshot(symbol) });
      case 'ticker':
        return ok({ topic: topics.ticker(symbol), snapshot: marketData.tickerSnapshot?.(symbol) });
      case 'candles': {
        const interval = request.interval ?? '1m';
        return ok({
          topic: topics.candles(symbol, interval),
          snapshot: marketData.candleSnapshot?.(symbol, interval),
        });
      }
      default:
        return { ok: false, code: 'bad_request', message: `${ch} is a private channel` };
    }
  }

  return {
    /** Sends each publication to its topic's subscribers, encoded once. */
    publish(publications: readonly Publication[]): void {
      flushHeld();
      for (const { topic, message } of publications) {
        if (app.numSubscribers(topic) > 0) app.publish(topic, encodeMessage(message), true);
      }
    },
    connections: () => connections,
  };
}

function ok<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

function withRid(message: Record<string, unknown>, rid: number | undefined): Record<string, unknown> {
  return rid === undefined ? message : { ...message, rid };
}

export function requireRole(
  principal: Principal | undefined,
  role: 'trader' | 'admin' | 'issuer',
): Failure | undefined {
  if (principal === undefined) return { ok: false, code: 'unauthorized', message: 'authenticate first' };
  if (!hasRole(principal, role)) return { ok: false, code: 'forbidden', message: `needs the ${role} role` };
  return undefined;
}
