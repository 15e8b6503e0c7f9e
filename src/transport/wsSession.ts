import type { Failure } from '../protocol/errors.ts';
import { hasRole, type Principal, type Role } from './auth.ts';
import {
  stopPrivateStreams,
  type Connection,
  type GatewayCounts,
  type GatewayLimits,
  type Socket,
} from './wsConnection.ts';
import type { Outbox } from './wsOutbox.ts';

/** setTimeout's longest delay (2^31 − 1 ms, ~24.8 days); a later `exp` re-arms when it fires. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Who a connection is: its authentication until the token's `exp`, the role an op needs, and the
 * orders it placed (for cancel-on-disconnect).
 */
export class Sessions {
  constructor(
    private readonly limits: GatewayLimits,
    private readonly counts: GatewayCounts,
    private readonly out: Outbox,
    /** Whether a user's order (wire id) is still open: the connection forgets closed ones it tracks. */
    private readonly orderIsOpen: ((userId: string, orderId: string) => boolean) | undefined,
  ) {}

  /** The connection is now `principal`'s, until its token's `exp`. */
  authenticate(ws: Socket, principal: Principal): void {
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
      this.expire(ws, conn);
      ws.cork(() => {
        this.out.send(ws, { op: 'error', code: 'unauthorized', message: 'token expired: send auth again' });
      });
    };
    arm();
  }

  /** A later `auth` on the connection: another user's private streams and tracked orders are dropped. */
  reauthenticate(ws: Socket, conn: Connection, principal: Principal): void {
    if (conn.principal !== undefined && conn.principal.userId !== principal.userId) {
      // Another user on the same connection: the previous user's private streams stop.
      stopPrivateStreams(ws, conn, this.counts);
    }
    if (conn.owner !== undefined && conn.owner.userId !== principal.userId) conn.placed.clear();
    this.authenticate(ws, principal);
  }

  /** At `exp`: the private streams stop and order entry answers unauthorized until a new auth. */
  expire(ws: Socket, conn: Connection): void {
    clearTimeout(conn.expiry);
    conn.expiry = undefined;
    conn.principal = undefined;
    stopPrivateStreams(ws, conn, this.counts);
  }

  /** The connection's principal, unless its token's `exp` has passed (then the session ends now). */
  principalOf(ws: Socket, conn: Connection): Principal | undefined {
    const principal = conn.principal;
    if (principal?.expiresAt !== undefined && principal.expiresAt <= Date.now()) {
      this.expire(ws, conn);
      return undefined;
    }
    return principal;
  }

  /** The principal, when it may trade; otherwise the error is sent and the answer is undefined. */
  traderOf(ws: Socket, conn: Connection, rid: number | undefined): Principal | undefined {
    const principal = this.principalOf(ws, conn);
    const denied = requireRole(principal, 'trader');
    if (denied === undefined) return principal;
    this.out.sendError(ws, rid, denied.code, denied.message);
    return undefined;
  }

  /**
   * Remembers an order for cancel-on-disconnect. Orders that fill or are canceled elsewhere are
   * forgotten when the map passes its sweep mark (then twice what stayed open): amortized O(1).
   */
  track(conn: Connection, orderId: string, market: string): void {
    conn.placed.set(orderId, market);
    const isOpen = this.orderIsOpen;
    if (conn.placed.size <= conn.placedSweepAt || isOpen === undefined || conn.owner === undefined) return;
    const { userId } = conn.owner;
    for (const id of conn.placed.keys()) if (!isOpen(userId, id)) conn.placed.delete(id);
    conn.placedSweepAt = Math.max(this.limits.maxTrackedOrders, 2 * conn.placed.size);
  }
}

export function requireRole(
  principal: Principal | undefined,
  role: Role | readonly Role[],
): Failure | undefined {
  if (principal === undefined) return { ok: false, code: 'unauthorized', message: 'authenticate first' };
  // A list: any one of its roles (POST /trends: admin or ingest).
  const roles: readonly Role[] = typeof role === 'string' ? [role] : role;
  if (!roles.some((r) => hasRole(principal, r)))
    return { ok: false, code: 'forbidden', message: `needs the ${roles.join(' or ')} role` };
  return undefined;
}
