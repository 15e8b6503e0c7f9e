import type { Logger } from 'pino';
import type * as UWS from 'uWebSockets.js';
import uWS from './uws.ts';
import type { z } from 'zod/v4';
import type { Catalog } from '../actors/catalog.ts';
import { decodeMessage, encodeMessage } from '../protocol/codec.ts';
import { requestIdFrom } from '../requestContext.ts';
import type { Authenticator, Principal } from './auth.ts';
import type { ErrorCode } from '../protocol/errors.ts';
import type { OrderEntry } from '../services/orderEntry.ts';
import { countErrorAnswer, observe } from './http/metrics.ts';
import { unstorableTextAt, unstorableTextMessage } from '../protocol/text.ts';
import type { Publication } from '../protocol/topics.ts';
import { refused } from './limitMetrics.ts';
import { Occupancy, sourceKey } from './rateLimit.ts';
import {
  AmendRequest,
  AuthRequest,
  CancelAllRequest,
  CancelRequest,
  describeIssues,
  PlaceOcoRequest,
  PlaceRequest,
  rid as Rid,
  SubRequest,
  UnsubRequest,
} from '../protocol/schemas.ts';
import {
  newConnection,
  type Connection,
  type GatewayCounts,
  type GatewayLimits,
  type Socket,
} from './wsConnection.ts';
import { Outbox, withRid } from './wsOutbox.ts';
import { Sessions } from './wsSession.ts';
import { Subscriptions, type MarketDataReads } from './wsSubscriptions.ts';

export type { GatewayLimits } from './wsConnection.ts';
export type { MarketDataReads } from './wsSubscriptions.ts';
export { requireRole } from './wsSession.ts';

/*
 * The WebSocket half of the gateway (PROTOCOL.md, WebSocket): one uWS app, binary MessagePack
 * frames, request/reply by rid, public channels as uWS topics per market and channel (a
 * publication is encoded once, whoever listens), private channels as topics per user. A slow
 * reader is dropped at its buffer limit (closeOnBackpressureLimit) and everyone else streams on.
 *
 * Beside it: a connection's state and limits (wsConnection.ts), what is written to sockets
 * (wsOutbox.ts), authentication and tracked orders (wsSession.ts), `sub`/`unsub` (wsSubscriptions.ts).
 */

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
  /** A connection authenticated (at upgrade or by `auth`): its address and user agent (security alerts). */
  readonly onAuthenticated?: (principal: Principal, origin: { address: string; device: string }) => void;
}

/** RFC 6455 close code: a message too big to process. */
const CLOSE_MESSAGE_TOO_BIG = 1009;
/**
 * uWS buffers frames up to this many times WS_MAX_FRAME_BYTES (1 MiB at the default 16 KiB), so
 * an oversized frame is closed with 1009 rather than cut; only a frame past that sees 1006.
 */
export const RECEIVE_ROOM = 64;
/** Ops whose answer comes later: they count against maxPendingRequests until it is sent. */
const ASYNC_OPS: ReadonlySet<unknown> = new Set([
  'auth',
  'place',
  'place_oco',
  'amend',
  'cancel',
  'cancel_all',
]);

/** Registers `/ws` on the app. Returns the publish function the supervisor's publish hook feeds. */
export function registerWebSocket(app: UWS.TemplatedApp, options: WebSocketOptions) {
  const { auth, limits } = options;
  const counts: GatewayCounts = { connections: 0, subscriptions: 0 };
  const debug = options.log.isLevelEnabled('debug');
  observe({ connections: () => counts.connections, subscriptions: () => counts.subscriptions });
  /** Connections open or being upgraded (a token being checked), in all and per address. */
  const places = new Occupancy(limits.maxConnections, limits.maxConnectionsPerIp);
  options.marketData.setAudience?.((topic) => app.numSubscribers(topic) > 0);
  const out = new Outbox();
  const sessions = new Sessions(limits, counts, out, options.orderIsOpen);
  const subscriptions = new Subscriptions(options, limits, counts, out, sessions);

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
      const device = req.getHeader('user-agent');
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
      if (token === undefined || token === '') {
        const conn = newConnection(id, undefined, address, limits);
        conn.device = device;
        res.upgrade(conn, key, protocol, extensions, context);
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
        const conn = newConnection(id, verified.value, address, limits);
        conn.device = device;
        res.upgrade(conn, key, protocol, extensions, context);
        options.onAuthenticated?.(verified.value, { address, device });
        return;
      }
      places.leave(address);
      refuse('401 Unauthorized', verified.code, verified.message);
    },

    open: (ws) => {
      counts.connections++;
      options.onConnectionCountChange?.(counts.connections);
      const { id, principal } = ws.getUserData();
      if (debug) options.log.debug({ reqId: id, userId: principal?.userId }, 'ws connection opened');
      if (principal !== undefined) sessions.authenticate(ws, principal);
    },

    message: (ws, data, isBinary) => {
      // Every frame takes a token, whatever it holds: answering it is the cost being bounded.
      const allowed = ws.getUserData().frames.take(performance.now());
      if (!isBinary)
        return out.sendError(ws, undefined, 'bad_frame', 'text frames are not accepted: send MessagePack');
      if (data.byteLength > limits.maxFrameBytes) {
        // The close frame's reason says why; no error frame first (a client reading replies one
        // by one would take it for the answer and send on into a closing socket).
        ws.end(CLOSE_MESSAGE_TOO_BIG, `frame larger than ${limits.maxFrameBytes} bytes`);
        return;
      }
      const decoded = decodeMessage(new Uint8Array(data));
      if (!decoded.ok) return out.sendError(ws, undefined, 'bad_frame', decoded.reason);
      handle(ws, decoded.message, allowed);
    },

    close: (ws, code) => {
      const conn = ws.getUserData();
      conn.closed = true;
      clearTimeout(conn.expiry);
      out.forget(ws);
      if (debug)
        options.log.debug({ reqId: conn.id, code, subscriptions: conn.subs.size }, 'ws connection closed');
      counts.subscriptions -= conn.subs.size;
      places.leave(conn.address);
      counts.connections--;
      options.onConnectionCountChange?.(counts.connections);
      if (conn.cancelOnDisconnect && conn.owner !== undefined && conn.placed.size > 0) {
        options.cancelOnDisconnect(conn.owner, conn.placed);
      }
    },
  });

  /** One decoded frame: its `rid`, the connection's limits, then its op. */
  function handle(ws: Socket, message: Record<string, unknown>, allowed: boolean): void {
    let rid: number | undefined;
    const given = message.rid;
    // The common case without zod (same rule as the `rid` schema: a non-negative safe integer).
    if (typeof given === 'number' && Number.isSafeInteger(given) && given >= 0) rid = given;
    else if ('rid' in message) {
      const parsed = Rid.safeParse(message.rid);
      if (!parsed.success)
        return out.sendError(ws, undefined, 'bad_request', 'rid must be a non-negative integer');
      rid = parsed.data;
    }
    const unstorable = unstorableTextAt(message);
    if (unstorable !== undefined)
      return out.sendError(ws, rid, 'bad_request', unstorableTextMessage(unstorable));
    const op = message.op;
    const conn = ws.getUserData();
    if (!allowed) {
      refused('ws_frames');
      return out.sendError(ws, rid, 'rate_limited', `at most ${limits.framesPerSecond} frames per second`);
    }
    if (ASYNC_OPS.has(op) && conn.pending >= limits.maxPendingRequests) {
      refused('ws_pending_requests');
      return out.sendError(
        ws,
        rid,
        'rate_limited',
        `at most ${limits.maxPendingRequests} requests awaiting an answer per connection`,
      );
    }
    switch (op) {
      case 'ping':
        return out.send(ws, withRid({ op: 'pong', ts: Date.now() }, rid));
      case 'auth': {
        const request = parseRequest(ws, rid, AuthRequest, message);
        if (request === undefined) return;
        conn.pending++;
        void auth.verify(request.token).then((verified) => {
          conn.pending--;
          if (conn.closed) return;
          if (!verified.ok)
            return out.sendLater(ws, out.errorMessage(ws, rid, verified.code, verified.message));
          const principal = verified.value;
          sessions.reauthenticate(ws, conn, principal);
          options.onAuthenticated?.(principal, { address: conn.address, device: conn.device ?? '' });
          conn.cancelOnDisconnect = request.cancelOnDisconnect ?? false;
          out.sendLater(ws, withRid({ op: 'authed', userId: principal.userId, roles: principal.roles }, rid));
        });
        return;
      }
      case 'sub': {
        // Before the parse: a refused sub of a flood costs a token check and a small error.
        if (!conn.subBucket.take(performance.now())) {
          refused('ws_subs');
          return out.sendError(ws, rid, 'rate_limited', `at most ${limits.subsPerSecond} subs per second`);
        }
        const request = parseRequest(ws, rid, SubRequest, message);
        if (request !== undefined) subscriptions.subscribe(ws, rid, request);
        return;
      }
      case 'unsub': {
        const request = parseRequest(ws, rid, UnsubRequest, message);
        if (request !== undefined) subscriptions.unsubscribe(ws, rid, request);
        return;
      }
      case 'place': {
        const request = parseRequest(ws, rid, PlaceRequest, message);
        const principal = request && sessions.traderOf(ws, conn, rid);
        if (request === undefined || principal === undefined) return;
        conn.pending++;
        options.orders.place(principal, request, (outcome) => {
          conn.pending--;
          if (
            outcome.ok &&
            (outcome.value.status === 'open' || outcome.value.status === 'partially_filled')
          ) {
            if (conn.owner?.userId === principal.userId)
              sessions.track(conn, outcome.value.orderId, request.market);
          }
          out.reply(ws, rid, 'accepted', outcome);
        });
        return;
      }
      case 'place_oco': {
        const request = parseRequest(ws, rid, PlaceOcoRequest, message);
        const principal = request && sessions.traderOf(ws, conn, rid);
        if (request === undefined || principal === undefined) return;
        conn.pending++;
        options.orders.placeOco(principal, request, (outcome) => {
          conn.pending--;
          if (outcome.ok && conn.owner?.userId === principal.userId) {
            for (const leg of outcome.value.orders) {
              if (leg.status === 'open' || leg.status === 'partially_filled')
                sessions.track(conn, leg.orderId, request.market);
            }
          }
          out.reply(ws, rid, 'accepted_oco', outcome);
        });
        return;
      }
      case 'amend': {
        const request = parseRequest(ws, rid, AmendRequest, message);
        const principal = request && sessions.traderOf(ws, conn, rid);
        if (request === undefined || principal === undefined) return;
        conn.pending++;
        options.orders.amend(principal, request, (outcome) => {
          conn.pending--;
          out.reply(ws, rid, 'amended', outcome);
        });
        return;
      }
      case 'cancel': {
        const request = parseRequest(ws, rid, CancelRequest, message);
        const principal = request && sessions.traderOf(ws, conn, rid);
        if (request === undefined || principal === undefined) return;
        conn.pending++;
        options.orders.cancel(principal, request, (outcome) => {
          conn.pending--;
          if (outcome.ok) conn.placed.delete(outcome.value.orderId);
          out.reply(ws, rid, 'canceled', outcome);
        });
        return;
      }
      case 'cancel_all': {
        const request = parseRequest(ws, rid, CancelAllRequest, message);
        const principal = request && sessions.traderOf(ws, conn, rid);
        if (request === undefined || principal === undefined) return;
        conn.pending++;
        void options.orders.cancelAll(principal, request.market).then((outcome) => {
          conn.pending--;
          out.reply(ws, rid, 'canceled_all', outcome);
        });
        return;
      }
      default:
        return out.sendError(
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
    out.sendError(ws, rid, 'bad_request', describeIssues(parsed.error));
    return undefined;
  }

  return {
    /** Sends each publication to its topic's subscribers, encoded once. */
    publish(publications: readonly Publication[]): void {
      out.flushHeld();
      for (const { topic, message } of publications) {
        if (app.numSubscribers(topic) > 0) app.publish(topic, encodeMessage(message), true);
      }
    },
    connections: () => counts.connections,
  };
}
