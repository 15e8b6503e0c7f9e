import { STATUS_CODES } from 'node:http';
import type { Logger } from 'pino';
import type uWS from 'uWebSockets.js';
import { requireRole } from '../gateway.ts';
import type { Authenticator, Principal, Role } from '../auth.ts';
import { requestContext, requestIdFrom, withRequest } from '../../requestContext.ts';
import { HTTP_STATUS, type ErrorCode, type Outcome } from '../../protocol/errors.ts';
import { readBody } from './body.ts';
import { refused } from '../limitMetrics.ts';
import { Occupancy, sourceKey } from '../rateLimit.ts';
import { countErrorAnswer, httpDuration, httpRequests, methodLabel, OTHER } from './metrics.ts';

/*
 * uWS glue for the JSON routes: everything a handler needs is read from the request synchronously
 * (uWS invalidates it when the handler returns), the body is gathered under a size limit, the
 * bearer token verified, and the reply written once, corked, and never after the client went away.
 * Handlers are plain async functions from a parsed request to a reply; they never see uWS.
 */

export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  /** Path parameters in pattern order, URL-decoded. */
  readonly params: readonly string[];
  readonly query: URLSearchParams;
  /** Set when the route needs a role (and the token carries it). */
  readonly principal: Principal | undefined;
  /** The parsed JSON body of a route that reads one. */
  readonly body: unknown;
  /** The body's bytes, for a route that asked for them raw (signature checks). */
  readonly rawBody: Buffer | undefined;
  /** The headers the route asked for (lower-case names; '' when absent). */
  readonly headers: Readonly<Record<string, string>>;
  /** The correlation id (the client's X-Request-Id, or a new one), answered in X-Request-Id. */
  readonly requestId: string;
  /** The router's logger with `reqId` bound. */
  readonly log: Logger;
  /** The peer's address as text (uWS getRemoteAddressAsText), for per-source bounds. */
  readonly remoteAddress: string;
}

export type HttpReply = (
  | { readonly status: number; readonly json: unknown }
  | { readonly status: number; readonly text: string; readonly contentType: string }
) & {
  /** Close the connection after this reply. */
  readonly close?: boolean;
  /** More response headers (lower-case names), such as `x-next-cursor`. */
  readonly headers?: Readonly<Record<string, string>>;
};

export type Handler = (request: HttpRequest) => Promise<HttpReply> | HttpReply;

/** `user`: any verified token, whatever its roles (a user's own notifications). */
export type RouteRole = Role | 'user';

export interface RouteOptions {
  /** The role the caller's bearer token must carry (a list: any one of them; `user`: any verified token). */
  readonly role?: RouteRole | readonly RouteRole[];
  /** Read a JSON body before calling the handler; 'raw' hands over the bytes unparsed. */
  readonly body?: boolean | 'raw';
  /** Headers to read for the handler. */
  readonly headers?: readonly string[];
  /**
   * A rate limit per source address (sourceKey), checked before the body is read, the token
   * verified or the handler called: false answers 429 `rate_limited` and closes the connection
   * (its unread body).
   */
  readonly admit?: (source: string) => boolean;
}

export interface RouterOptions {
  readonly auth: Authenticator;
  readonly maxBodyBytes: number;
  /** Requests being served at once (bodies being read included), in all and per address; beyond, 503 / 429. */
  readonly maxPendingRequests: number;
  readonly maxPendingPerIp: number;
  /** A body not received in full within this is answered 408 and its connection closed. */
  readonly bodyTimeoutMs: number;
  readonly log: Logger;
}

export type Method = 'get' | 'post' | 'put' | 'del' | 'any';

/** A route as registered, for the published API document (http/openapi.ts) and its test. */
export interface RegisteredRoute {
  readonly method: Method;
  readonly pattern: string;
  readonly role: RouteRole | undefined;
  readonly body: boolean | 'raw';
}
/** uWS methods each route is registered for: a GET route answers HEAD too (RFC 9110 §9.3.2). */
const UWS_METHODS: Record<Method, readonly ('get' | 'head' | 'post' | 'put' | 'del' | 'any')[]> = {
  get: ['get', 'head'],
  post: ['post'],
  put: ['put'],
  del: ['del'],
  any: ['any'],
};
const BEARER = /^Bearer[ ]+([^ ]+)[ ]*$/i;
/** The catch-all route: its requests are labelled `other` in the metrics, never by their path. */
export const CATCH_ALL = '/*';

export function json(status: number, body: unknown): HttpReply {
  return { status, json: body };
}

export function errorReply(code: ErrorCode, message: string): HttpReply {
  return json(HTTP_STATUS[code], { error: { code, message } });
}

/** 200 (or `status`) with the value, or the failure's code and status. */
export function outcomeReply<T>(outcome: Outcome<T>, status = 200): HttpReply {
  return outcome.ok ? json(status, outcome.value) : errorReply(outcome.code, outcome.message);
}

/** One HTTP exchange: written at most once, and not at all once the client is gone. */
class Reply {
  private aborted = false;
  private done = false;
  private readonly started = performance.now();
  private readonly abortListeners: (() => void)[] = [];

  constructor(
    private readonly res: uWS.HttpResponse,
    private readonly route: string,
    private readonly method: string,
    private readonly requestId: string,
    /** A HEAD request: the GET route's status and headers, no body. */
    private readonly head: boolean,
  ) {
    // uWS keeps one abort handler per response: the listeners hang off this one.
    res.onAborted(() => {
      this.aborted = true;
      for (const listener of this.abortListeners) listener();
    });
  }

  onAborted(listener: () => void): void {
    this.abortListeners.push(listener);
  }

  get finished(): boolean {
    return this.aborted || this.done;
  }

  send(reply: HttpReply): void {
    if (this.finished) return;
    this.done = true;
    const code = 'json' in reply ? errorCodeOf(reply.json) : undefined;
    if (code !== undefined) countErrorAnswer('http', code);
    const [contentType, body] =
      'json' in reply
        ? [
            'application/json',
            JSON.stringify(code === undefined ? reply.json : withRequestId(reply.json, this.requestId)),
          ]
        : [reply.contentType, reply.text];
    this.res.cork(() => {
      const res = this.res
        .writeStatus(`${reply.status} ${STATUS_CODES[reply.status] ?? ''}`)
        .writeHeader('content-type', contentType)
        .writeHeader('x-request-id', this.requestId);
      for (const [name, value] of Object.entries(reply.headers ?? {})) res.writeHeader(name, value);
      if (!this.head) {
        res.end(body, reply.close ?? false);
        return;
      }
      // uWS 20 aborts the process when endWithoutBody() is given a length: the GET's length is
      // written as a header instead (as GET would send it).
      res.writeHeader('content-length', String(Buffer.byteLength(body)));
      res.endWithoutBody();
      if (reply.close === true) res.close();
    });
    httpRequests.inc({ route: this.route, method: this.method, status: reply.status });
    httpDuration.observe({ route: this.route }, (performance.now() - this.started) / 1000);
  }
}

export function createRouter(app: uWS.TemplatedApp, options: RouterOptions) {
  const { auth, maxBodyBytes, maxPendingRequests, log } = options;
  const debug = log.isLevelEnabled('debug');
  const pending = new Occupancy(maxPendingRequests, options.maxPendingPerIp);
  const registered: RegisteredRoute[] = [];

  function route(method: Method, pattern: string, routeOptions: RouteOptions, handler: Handler): void {
    const role = routeOptions.role;
    registered.push({
      method,
      pattern,
      role: typeof role === 'string' || role === undefined ? role : role[0],
      body: routeOptions.body ?? false,
    });
    const paramCount = pattern.split('/').filter((part) => part.startsWith(':')).length;
    const routeLabel = pattern === CATCH_ALL ? OTHER : pattern;
    const handle = (res: uWS.HttpResponse, req: uWS.HttpRequest): void => {
      const methodName = req.getCaseSensitiveMethod();
      const context = requestContext(requestIdFrom(req.getHeader('x-request-id')), log);
      const path = req.getUrl();
      const rawParams: string[] = [];
      for (let i = 0; i < paramCount; i++) rawParams.push(req.getParameter(i));
      const query = new URLSearchParams(req.getQuery());
      const authorization = req.getHeader('authorization');
      const declaredLength = req.getHeader('content-length');
      const chunked = req.getHeader('transfer-encoding').toLowerCase().includes('chunked');
      const headers: Record<string, string> = {};
      for (const name of routeOptions.headers ?? []) headers[name] = req.getHeader(name);
      const remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString();
      const reply = new Reply(
        res,
        routeLabel,
        methodLabel(methodName),
        context.requestId,
        req.getMethod() === 'head',
      );
      const source = sourceKey(remoteAddress);
      const entered = pending.enter(source);
      if (entered !== 'ok') {
        refused('http_pending_requests');
        // Dropping the connection too: its unread body would otherwise be waited for.
        const refusal =
          entered === 'total'
            ? errorReply('overloaded', `the server serves ${maxPendingRequests} requests at once; try again`)
            : errorReply('rate_limited', `at most ${options.maxPendingPerIp} requests at once per address`);
        reply.send({ ...refusal, close: true });
        return;
      }
      let counted = true;
      const done = (): void => {
        if (counted) pending.leave(source);
        counted = false;
      };
      if (routeOptions.admit?.(source) === false) {
        done();
        refused('http_rate');
        const limited = errorReply('rate_limited', 'too many requests from this address; try again later');
        reply.send({ ...limited, headers: { 'retry-after': '1' }, close: true });
        return;
      }
      reply.onAborted(done);

      const body =
        routeOptions.body === undefined || routeOptions.body === false
          ? undefined
          : readBody(
              res,
              reply,
              declaredLength,
              chunked,
              maxBodyBytes,
              options.bodyTimeoutMs,
              routeOptions.body === 'raw',
            );
      const principal =
        routeOptions.role === undefined ? undefined : authenticate(authorization, routeOptions.role);

      const answer = async (): Promise<HttpReply | undefined> => {
        const params = decodeParams(rawParams);
        if (params === undefined) return errorReply('bad_request', 'malformed path');
        const caller = principal;
        if (caller !== undefined && !caller.ok) return errorReply(caller.code, caller.message);
        const read = await body;
        if (read?.ok === false) {
          // An oversized body: answer now and drop the connection rather than receive the rest.
          if (read.tooLarge)
            return { ...json(413, { error: { code: 'bad_request', message: read.message } }), close: true };
          if (read.timedOut)
            return { ...json(408, { error: { code: 'bad_request', message: read.message } }), close: true };
          return errorReply('bad_request', read.message);
        }
        if (reply.finished) return undefined;
        const request = {
          method: methodName,
          path,
          params,
          query,
          principal: caller?.value,
          body: read?.value,
          rawBody: read?.raw,
          headers,
          requestId: context.requestId,
          // Made on first use: most requests write no line.
          get log() {
            return context.log;
          },
          remoteAddress,
        };
        return handler(request);
      };
      // Everything the handler awaits or enqueues runs with the request's id (jobs carry it).
      withRequest(context, answer)
        .then(
          (answered) => {
            if (answered !== undefined) reply.send(answered);
            if (debug) {
              const fields = {
                method: methodName.slice(0, 16),
                route: routeLabel,
                path: path.slice(0, 200),
                status: answered?.status,
              };
              context.log.debug(fields, 'http request answered');
            }
          },
          (error: unknown) => {
            context.log.error({ err: error, route: pattern }, 'http handler failed');
            reply.send(errorReply('unavailable', 'the request could not be served; try again'));
          },
        )
        .finally(done);
    };
    for (const uwsMethod of UWS_METHODS[method]) app[uwsMethod](pattern, handle);
  }
  /** Every route registered so far, in order. */
  route.registered = (): readonly RegisteredRoute[] => registered;
  return route;

  function authenticate(authorization: string, role: RouteRole | readonly RouteRole[]): Outcome<Principal> {
    if (authorization === '') {
      return { ok: false, code: 'unauthorized', message: 'missing Authorization: Bearer token' };
    }
    const bearer = BEARER.exec(authorization);
    if (bearer?.[1] === undefined) {
      return { ok: false, code: 'unauthorized', message: 'Authorization must be "Bearer <token>"' };
    }
    // The synchronous check (node:crypto's HMAC; test/unit/auth.test.ts holds it to jose's
    // answers): jose's WebCrypto verify cost a third of an ingestion's CPU (bench:trends).
    const verified = auth.verifyNow(bearer[1]);
    if (!verified.ok) return verified;
    const roles: readonly RouteRole[] = typeof role === 'string' ? [role] : role;
    if (roles.includes('user')) return verified;
    return requireRole(verified.value, roles as readonly Role[]) ?? verified;
  }
}

/** The code of an error body `{error:{code, message}}`, else undefined. */
function errorCodeOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const { error } = body;
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

/** The error body with the request's id beside its code and message (PROTOCOL: fields may be added). */
function withRequestId(body: unknown, requestId: string): unknown {
  const { error } = body as { error: object };
  return { ...(body as object), error: { ...error, requestId } };
}

function decodeParams(raw: readonly string[]): string[] | undefined {
  try {
    return raw.map((p) => decodeURIComponent(p));
  } catch {
    return undefined;
  }
}
