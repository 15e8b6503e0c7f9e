import type * as UWS from 'uWebSockets.js';
import { PRIVATE_CHANNELS, type Channel } from '../protocol/schemas.ts';
import type { Principal } from './auth.ts';
import { TokenBucket } from './rateLimit.ts';

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

/** One /ws connection's state, held as its uWS user data. */
export interface Connection {
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
  /** The client's user agent at upgrade (security alerts name the device); set by the gateway. */
  device?: string;
  readonly frames: TokenBucket;
  readonly subBucket: TokenBucket;
  readonly snapshotBytes: TokenBucket;
  /** Requests awaiting their answer (order entry, auth). */
  pending: number;
}

export type Socket = UWS.WebSocket<Connection>;

/** The gateway's gauges (/metrics): open connections, and the entries of every open connection's `subs`. */
export interface GatewayCounts {
  connections: number;
  subscriptions: number;
}

/** A connection being upgraded, with full buckets; `principal` when its token was in the URL. */
export function newConnection(
  id: string,
  principal: Principal | undefined,
  address: string,
  limits: GatewayLimits,
): Connection {
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
}

/** Whether a `subs` key is of a private stream (a user's channel, or the admin's `actors`). */
export function isPrivateKey(key: string): boolean {
  return PRIVATE_CHANNELS.has(key as Channel) || key === 'actors';
}

/** Ends the connection's private streams (another user authenticated, or the token expired). */
export function stopPrivateStreams(ws: Socket, conn: Connection, counts: GatewayCounts): void {
  for (const [key, topic] of conn.subs) {
    if (isPrivateKey(key)) {
      ws.unsubscribe(topic);
      conn.subs.delete(key);
      counts.subscriptions--;
    }
  }
}
