/** The error codes of PROTOCOL.md, plus the exchange's own additions (allowed: it may add codes). */
export type ErrorCode =
  | 'bad_frame'
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'unknown_market'
  | 'market_not_active'
  | 'insufficient_funds'
  | 'compliance'
  | 'rate_limited'
  | 'overloaded'
  | 'duplicate_client_order_id'
  | 'not_found'
  | 'would_match'
  | 'fok_unfilled'
  | 'unavailable'
  | 'invalid_transition'
  | 'conflict'
  | 'too_many_open_orders'
  | 'too_many_subscriptions';

export interface Failure {
  readonly ok: false;
  readonly code: ErrorCode;
  readonly message: string;
}

export type Outcome<T> = { readonly ok: true; readonly value: T } | Failure;

export function failure(code: ErrorCode, message: string): Failure {
  return { ok: false, code, message };
}

export function success<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

/** HTTP status of each code (PROTOCOL.md, HTTP). */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  bad_frame: 400,
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  unknown_market: 404,
  duplicate_client_order_id: 409,
  invalid_transition: 409,
  conflict: 409,
  insufficient_funds: 422,
  market_not_active: 422,
  compliance: 422,
  would_match: 422,
  fok_unfilled: 422,
  too_many_open_orders: 422,
  too_many_subscriptions: 429,
  rate_limited: 429,
  overloaded: 503,
  unavailable: 503,
};

/** An error's message, whatever was thrown. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
