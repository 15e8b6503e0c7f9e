/**
 * The error codes of PROTOCOL.md, plus the exchange's own additions (allowed: it may add codes),
 * each with its HTTP status (PROTOCOL.md, HTTP). The one list: the gateway, the HTTP routes, the
 * OpenAPI document and the SDK take their codes from here.
 */
export const HTTP_STATUS = {
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
} as const satisfies Readonly<Record<string, number>>;

export type ErrorCode = keyof typeof HTTP_STATUS;

/** Every error code, in the order of HTTP_STATUS. */
export const ERROR_CODES = Object.keys(HTTP_STATUS) as readonly ErrorCode[];

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

/** An error's message, whatever was thrown. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
