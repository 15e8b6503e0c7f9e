/*
 * Text that can be stored: no U+0000 and no lone UTF-16 surrogate, in any string or object key of
 * a parsed input. Postgres refuses both (text cannot hold NUL; jsonb refuses "\u0000" and an
 * unpaired "\ud800"), and its error surfaced as a 503 that made senders retry forever; checked once
 * at the boundary (HTTP JSON bodies, webhook events, WebSocket frames), such input answers
 * `bad_request` instead.
 */

// Without the `u` flag a regex sees UTF-16 code units, so a surrogate without its partner matches.
// eslint-disable-next-line no-control-regex -- U+0000 is what this looks for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Nesting beyond this is not walked further (JSON.parse and msgpack bound real inputs anyway). */
const MAX_DEPTH = 64;

/** Whether a string holds U+0000 or a lone surrogate. */
export function isUnstorableText(text: string): boolean {
  return UNSTORABLE.test(text);
}

/**
 * The path of the first string (or key) in `value` that holds U+0000 or a lone surrogate, such as
 * `assetDetails.location`; undefined when every string is storable.
 */
export function unstorableTextAt(value: unknown, path = '', depth = 0): string | undefined {
  if (typeof value === 'string') return isUnstorableText(value) ? path || '(value)' : undefined;
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorableTextAt(value[i], `${path}[${i}]`, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value instanceof Uint8Array) return undefined;
  for (const [key, item] of Object.entries(value)) {
    const at = path === '' ? key : `${path}.${key}`;
    if (isUnstorableText(key)) return `${path === '' ? '' : `${path}.`}(a key)`;
    const found = unstorableTextAt(item, at, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The `bad_request` message for input with unstorable text at `path`. */
export function unstorableTextMessage(path: string): string {
  return `${path}: text must not contain U+0000 or unpaired UTF-16 surrogates`;
}
