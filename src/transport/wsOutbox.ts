import { encodeMessage } from '../protocol/codec.ts';
import type { ErrorCode, Outcome } from '../protocol/errors.ts';
import { countErrorAnswer } from './http/metrics.ts';
import { bookSnapshotEncodings } from './limitMetrics.ts';
import type { Socket } from './wsConnection.ts';

/**
 * What the gateway writes to its sockets: frames sent at once inside uWS's callbacks, held and sent
 * corked outside them, error and reply messages, and book snapshot frames encoded once.
 */
export class Outbox {
  /*
   * Frames for a socket that uWS has not corked (replies released after a commit, from a promise
   * reaction) wait here and go out corked, one write per socket per turn, instead of one syscall
   * per reply: uncorked sends were ~8% of the server's CPU in bench:ws's closed loop. A socket
   * with frames waiting queues every later frame behind them, so its frames keep their order;
   * publish() sends what waits first, so a batch's replies precede the pushes it causes.
   */
  readonly #held = new Map<Socket, Uint8Array[]>();
  #flushQueued = false;
  /*
   * A book snapshot's frame, encoded once per snapshot object: the publisher answers the same
   * object for a market, depth and seq until the book changes, so every sub in between shares it.
   */
  readonly #snapshotFrames = new WeakMap<object, Uint8Array>();

  /** Sends every held frame now (also queued as a microtask whenever a first frame is held). */
  readonly flushHeld = (): void => {
    this.#flushQueued = false;
    if (this.#held.size === 0) return;
    for (const [ws, frames] of this.#held) {
      const conn = ws.getUserData();
      if (conn.closed) continue;
      ws.cork(() => {
        // A send past the backpressure limit closes the socket at once.
        for (let i = 0; i < frames.length && !conn.closed; i++) ws.send(frames[i]!, true);
      });
    }
    this.#held.clear();
  };

  /** Drops what waits for a socket that closed. */
  forget(ws: Socket): void {
    this.#held.delete(ws);
  }

  snapshotFrame(message: object): Uint8Array {
    let frame = this.#snapshotFrames.get(message);
    if (frame === undefined) {
      frame = encodeMessage(message);
      this.#snapshotFrames.set(message, frame);
      bookSnapshotEncodings.inc({ format: 'msgpack' });
    }
    return frame;
  }

  /** Inside uWS's callbacks for `ws` (corked by uWS): sends at once unless frames wait before it. */
  sendFrame(ws: Socket, frame: Uint8Array): void {
    if (ws.getUserData().closed) return;
    if (this.#held.has(ws)) this.#hold(ws, frame);
    else ws.send(frame, true);
  }

  send(ws: Socket, message: object): void {
    if (!ws.getUserData().closed) this.sendFrame(ws, encodeMessage(message));
  }

  /** Outside uWS's callbacks (after a commit, an auth check): held and sent corked (see `#held`). */
  sendLater(ws: Socket, message: object): void {
    if (ws.getUserData().closed) return;
    this.#hold(ws, encodeMessage(message));
  }

  errorMessage(ws: Socket, rid: number | undefined, code: ErrorCode, message: string): object {
    countErrorAnswer('ws', code);
    const requestId = `${ws.getUserData().id}.${rid ?? '-'}`;
    return rid === undefined
      ? { op: 'error', code, message, requestId }
      : { op: 'error', rid, code, message, requestId };
  }

  sendError(ws: Socket, rid: number | undefined, code: ErrorCode, message: string): void {
    this.send(ws, this.errorMessage(ws, rid, code, message));
  }

  /** An order-entry outcome, after its commit: the `op` reply or the error. */
  reply<T extends object>(ws: Socket, rid: number | undefined, op: string, outcome: Outcome<T>): void {
    if (!outcome.ok) this.sendLater(ws, this.errorMessage(ws, rid, outcome.code, outcome.message));
    else this.sendLater(ws, rid === undefined ? { op, ...outcome.value } : { op, rid, ...outcome.value });
  }

  #hold(ws: Socket, frame: Uint8Array): void {
    const frames = this.#held.get(ws);
    if (frames !== undefined) frames.push(frame);
    else {
      this.#held.set(ws, [frame]);
      if (!this.#flushQueued) {
        this.#flushQueued = true;
        queueMicrotask(this.flushHeld);
      }
    }
  }
}

export function withRid(message: Record<string, unknown>, rid: number | undefined): Record<string, unknown> {
  return rid === undefined ? message : { ...message, rid };
}
