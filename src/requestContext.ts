import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';

/*
 * The correlation id of what a request causes: every HTTP request and every WebSocket command gets
 * one (the client's `X-Request-Id` when it is well formed, else a new one), its log lines carry it
 * as `reqId` (a pino child logger), and jobs enqueued while serving it carry it in their data so
 * the worker's lines do too. Carried through awaits by AsyncLocalStorage: slonik already runs
 * every transaction in one, so the promise hooks it needs are on in this process anyway.
 */

export interface RequestContext {
  readonly requestId: string;
  /** The process's logger with `reqId` bound. */
  readonly log: Logger;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** What a client may send as X-Request-Id: 1 to 64 of [A-Za-z0-9._-]; the ids made here match it too. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** The client's id when it is well formed, else a new one. */
export function requestIdFrom(header: string | undefined): string {
  return header !== undefined && REQUEST_ID_PATTERN.test(header) ? header : newRequestId();
}

/*
 * A random prefix per process and a counter: unique across restarts, and cheap enough to make one
 * per request (randomBytes per id cost ~1 µs, a tenth of a small request's whole service time).
 */
const PREFIX = randomBytes(4).toString('hex');
let issued = 0;

/** A new id: the process's random prefix and a counter, e.g. `3f9a01c2-1b`. */
export function newRequestId(): string {
  issued++;
  return `${PREFIX}-${issued.toString(36)}`;
}

/** A context whose child logger is made only when a line is written. */
export function requestContext(requestId: string, log: Logger): RequestContext {
  let child: Logger | undefined;
  return {
    requestId,
    get log() {
      child ??= log.child({ reqId: requestId });
      return child;
    },
  };
}

/** Runs `work` with `context` current (and everything it awaits or schedules). */
export function withRequest<T>(context: RequestContext, work: () => T): T {
  return storage.run(context, work);
}

/** The id of the request being served, if any. */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** The logger of the request being served, else `fallback`. */
export function requestLog(fallback: Logger): Logger {
  return storage.getStore()?.log ?? fallback;
}
