import type uWS from 'uWebSockets.js';
import { unstorableTextAt, unstorableTextMessage } from '../../protocol/text.ts';

/*
 * A request body under a size and a time limit: gathered from uWS's chunks (copied: uWS reuses
 * their memory), then parsed as JSON with no unstorable text, or handed over raw (webhooks).
 */

export type BodyRead =
  | { ok: true; value: unknown; raw?: Buffer }
  | { ok: false; tooLarge: boolean; timedOut?: boolean; message: string };

/** Gathers the body (registered synchronously, as uWS requires) and parses it as JSON. */
export function readBody(
  res: uWS.HttpResponse,
  reply: { onAborted(handler: () => void): void },
  declaredLength: string,
  chunked: boolean,
  limit: number,
  timeoutMs: number,
  raw: boolean,
): Promise<BodyRead> {
  const finish = (bytes: Buffer): BodyRead =>
    raw ? { ok: true, value: undefined, raw: bytes } : parseJson(bytes);
  const tooLarge: BodyRead = { ok: false, tooLarge: true, message: `body larger than ${limit} bytes` };
  if (declaredLength !== '' && Number(declaredLength) > limit) return Promise.resolve(tooLarge);
  // Neither a length nor chunked encoding: the request has no body, and uWS will not call onData.
  if (declaredLength === '0' || (declaredLength === '' && !chunked)) {
    return Promise.resolve(finish(Buffer.alloc(0)));
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    // A body trickled in (a byte every few seconds keeps uWS's idle timer alive) must not hold
    // one of the requests served at once for good.
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      resolve({
        ok: false,
        tooLarge: false,
        timedOut: true,
        message: `body not received within ${timeoutMs} ms`,
      });
    }, timeoutMs);
    timer.unref();
    reply.onAborted(() => {
      clearTimeout(timer);
      settled = true;
      resolve({ ok: false, tooLarge: false, message: 'aborted' });
    });
    res.onData((chunk, isLast) => {
      if (settled) return;
      size += chunk.byteLength;
      if (size > limit) {
        clearTimeout(timer);
        settled = true;
        resolve(tooLarge);
        return;
      }
      // uWS reuses the chunk's memory after this callback: copy it.
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      if (!isLast) return;
      clearTimeout(timer);
      settled = true;
      resolve(finish(Buffer.concat(chunks, size)));
    });
  });
}

function parseJson(bytes: Buffer): BodyRead {
  if (bytes.length === 0) return { ok: false, tooLarge: false, message: 'a JSON body is required' };
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return { ok: false, tooLarge: false, message: 'the body is not valid JSON' };
  }
  const unstorable = unstorableTextAt(value);
  if (unstorable !== undefined) {
    return { ok: false, tooLarge: false, message: unstorableTextMessage(unstorable) };
  }
  return { ok: true, value };
}
