import { encodeMessage } from '../protocol/codec.ts';
import type { ReplyOf, RequestOp, ServerReply } from '../protocol/messages.ts';
import { ClientError, ExchangeError } from './errors.ts';
import type { RequestFields, WebSocketLike } from './options.ts';

const REPLY_OP = {
  auth: 'authed',
  ping: 'pong',
  sub: 'subbed',
  unsub: 'unsubbed',
  place: 'accepted',
  place_oco: 'accepted_oco',
  amend: 'amended',
  cancel: 'canceled',
  cancel_all: 'canceled_all',
} as const satisfies { readonly [Op in RequestOp]: ReplyOf[Op]['op'] };

const REPLY_OPS: ReadonlySet<string> = new Set(Object.values(REPLY_OP));

/** Whether `op` is a success reply to some request (it carries the request's `rid`). */
export function isReplyOp(op: string): boolean {
  return REPLY_OPS.has(op);
}

interface PendingRequest {
  readonly op: RequestOp;
  readonly timer: ReturnType<typeof setTimeout>;
  readonly resolve: (reply: ServerReply) => void;
  readonly reject: (error: Error) => void;
}

/** The client's requests awaiting their reply, by `rid`, each with its timeout. */
export class PendingRequests {
  #nextRid = 1;
  readonly #pending = new Map<number, PendingRequest>();

  constructor(readonly timeoutMs: number) {}

  /** Sends one request on an open socket; settles with its reply, on timeout or at rejectAll(). */
  send<Op extends RequestOp>(socket: WebSocketLike, op: Op, fields: RequestFields<Op>): Promise<ReplyOf[Op]> {
    const rid = this.#nextRid++;
    return new Promise<ReplyOf[Op]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(rid);
        reject(
          new ClientError('timeout', `${op} (rid ${rid}) got no reply in ${this.timeoutMs} ms`, {
            rid,
          }),
        );
      }, this.timeoutMs);
      this.#pending.set(rid, { op, timer, resolve: resolve as (reply: ServerReply) => void, reject });
      try {
        socket.send(encodeMessage({ op, rid, ...fields }));
      } catch (error) {
        clearTimeout(timer);
        this.#pending.delete(rid);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** Answers the pending request `rid`; false when none is pending (it timed out, or never was). */
  settle(rid: number, outcome: ServerReply | ExchangeError): boolean {
    const pending = this.#pending.get(rid);
    if (pending === undefined) return false;
    this.#pending.delete(rid);
    clearTimeout(pending.timer);
    if (outcome instanceof ExchangeError) {
      pending.reject(outcome);
    } else if (outcome.op !== REPLY_OP[pending.op]) {
      pending.reject(
        new ClientError('unexpected_reply', `${pending.op} (rid ${rid}) was answered by ${outcome.op}`, {
          rid,
        }),
      );
    } else {
      pending.resolve(outcome);
    }
    return true;
  }

  /** Rejects every pending request with a `closed` ClientError saying `why`. */
  rejectAll(why: string): void {
    const pending = [...this.#pending];
    this.#pending.clear();
    for (const [rid, request] of pending) {
      clearTimeout(request.timer);
      request.reject(new ClientError('closed', `${request.op} (rid ${rid}) got no reply: ${why}`, { rid }));
    }
  }
}
