import type { ErrorCode } from './errors.ts';
import type { AcceptedStatus, Channel, Decimal, Role, Timestamp } from './vocabulary.ts';

/** Replies (server → client), wire protocol v1. Each echoes the request's `rid` when it carried one. */

interface ReplyBase {
  readonly rid?: number;
}

export interface AuthedReply extends ReplyBase {
  readonly op: 'authed';
  readonly userId: string;
  readonly roles: readonly Role[];
}

export interface PongReply extends ReplyBase {
  readonly op: 'pong';
  readonly ts: Timestamp;
}

export interface SubbedReply extends ReplyBase {
  readonly op: 'subbed';
  readonly ch: Channel;
  /** Omitted for private channels. */
  readonly market?: string;
}

export interface UnsubbedReply extends ReplyBase {
  readonly op: 'unsubbed';
  readonly ch: Channel;
  /** Omitted for private channels. */
  readonly market?: string;
}

/** Sent only once the order and its immediate fills are durably committed, before that batch's pushes. */
export interface AcceptedReply extends ReplyBase {
  readonly op: 'accepted';
  readonly orderId: string;
  readonly clientOrderId?: string;
  readonly status: AcceptedStatus;
  readonly filledQty: Decimal;
  readonly remainingQty: Decimal;
}

/** PROTOCOL v1.1 OCO: the list (its id is the limit leg's orderId) and both legs as accepted. */
export interface AcceptedOcoReply extends ReplyBase {
  readonly op: 'accepted_oco';
  readonly listId: string;
  readonly orders: readonly (Omit<AcceptedReply, 'op' | 'rid'> & {
    readonly type: 'limit' | 'stop_limit' | 'stop_market';
  })[];
}

export interface AmendedReply extends ReplyBase {
  readonly op: 'amended';
  readonly orderId: string;
  readonly price: Decimal;
  readonly qty: Decimal;
  readonly remainingQty: Decimal;
}

export interface CanceledReply extends ReplyBase {
  readonly op: 'canceled';
  readonly orderId: string;
  readonly clientOrderId?: string;
  /** Always `canceled` (PROTOCOL v1.1: replies name the outcome). */
  readonly status: 'canceled';
  /** What the order had filled before it was canceled. */
  readonly filledQty: Decimal;
  readonly remainingQty: Decimal;
}

export interface CanceledAllReply extends ReplyBase {
  readonly op: 'canceled_all';
  readonly count: number;
}

/** The failure reply to a request (with its `rid`), or unsolicited (without). */
export interface ErrorMessage {
  readonly op: 'error';
  readonly rid?: number;
  readonly code: ErrorCode;
  readonly message: string;
}

export type ServerReply =
  | AuthedReply
  | PongReply
  | SubbedReply
  | UnsubbedReply
  | AcceptedReply
  | AcceptedOcoReply
  | AmendedReply
  | CanceledReply
  | CanceledAllReply;

/** The success reply each request op gets. */
export interface ReplyOf {
  readonly auth: AuthedReply;
  readonly ping: PongReply;
  readonly sub: SubbedReply;
  readonly unsub: UnsubbedReply;
  readonly place: AcceptedReply;
  readonly place_oco: AcceptedOcoReply;
  readonly amend: AmendedReply;
  readonly cancel: CanceledReply;
  readonly cancel_all: CanceledAllReply;
}
