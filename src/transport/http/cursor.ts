import { z } from 'zod/v4';
import { failure, type Outcome } from '../../protocol/errors.ts';

/*
 * The opaque `cursor` of paged lists (PROTOCOL v1.1): base64url of the JSON of a keyset position,
 * the last item of the page before. Clients pass it back unchanged; what it holds is ours to change.
 * A cursor that does not decode to the list's position schema answers `bad_request`.
 */

/** Longest cursor accepted; real ones are well under 200 characters. */
const MAX_CURSOR_CHARS = 512;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function encodeCursor(position: unknown): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

/** The position in `text` (the `cursor` query parameter); undefined when none was given. */
export function decodeCursor<S extends z.ZodType>(
  schema: S,
  text: string | null,
): Outcome<z.infer<S> | undefined> {
  if (text === null || text === '') return { ok: true, value: undefined };
  const bad = failure('bad_request', 'cursor is not one this list gave (pass X-Next-Cursor back as is)');
  if (text.length > MAX_CURSOR_CHARS || !BASE64URL.test(text)) return bad;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return bad;
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? { ok: true, value: parsed.data } : bad;
}

/** Header naming the next page of a list; absent on the last page. */
export const NEXT_CURSOR_HEADER = 'x-next-cursor';

/** The reply headers of a page: X-Next-Cursor when there is a next page. */
export function pageHeaders(next: unknown): Record<string, string> {
  return next === undefined ? {} : { [NEXT_CURSOR_HEADER]: encodeCursor(next) };
}
