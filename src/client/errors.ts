import type { ErrorCode } from '../protocol/messages.ts';

/** The server answered a request (or sent unsolicited) `{op:"error"}`. */
export class ExchangeError extends Error {
  readonly code: ErrorCode;
  /** The request's `rid`; undefined for an error that answers no request. */
  readonly rid: number | undefined;

  constructor(code: ErrorCode, message: string, rid?: number) {
    super(message);
    this.name = 'ExchangeError';
    this.code = code;
    this.rid = rid;
  }
}

/**
 * A failure on the client's side of the wire: `timeout` (no reply in time), `closed` (not
 * connected, or the connection closed before the reply), `bad_frame` (the server sent something
 * that is not one MessagePack map), `unexpected_reply` (a reply of the wrong op for its `rid`),
 * `handler` (a subscription callback threw; the error is its `cause`).
 */
export type ClientErrorKind = 'timeout' | 'closed' | 'bad_frame' | 'unexpected_reply' | 'handler';

export class ClientError extends Error {
  readonly kind: ClientErrorKind;
  readonly rid: number | undefined;

  constructor(kind: ClientErrorKind, message: string, options: { rid?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ClientError';
    this.kind = kind;
    this.rid = options.rid;
  }
}

/** A failure as the client reports it: its own errors as they are, anything else as `closed`. */
export function toReportable(error: unknown): ExchangeError | ClientError {
  if (error instanceof ExchangeError || error instanceof ClientError) return error;
  return new ClientError('closed', error instanceof Error ? error.message : String(error), { cause: error });
}
