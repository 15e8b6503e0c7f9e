/*
 * Text that can be stored: no U+0000 and no lone UTF-16 surrogate, in any string or object key of
 * a parsed input. Postgres refuses both (text cannot hold NUL; jsonb refuses "\u0000" and an
 * unpaired "\ud800"), and its error surfaced as a 503 that made senders retry forever; checked once
 * at the boundary (HTTP JSON bodies, webhook events, WebSocket frames), such input answers
 * `bad_request` instead.
 */

/** Nesting beyond this is not walked further (JSON.parse and msgpack bound real inputs anyway). */
const MAX_DEPTH = 64;

/**
 * Whether a string holds U+0000 or a lone surrogate. A loop over the code units rather than a
 * regex: a whole `place` frame (8 keys, 8 values) is checked in ~0.39 µs with it, ~0.47 µs with a
 * regex test per string (tsx, this machine); test/unit/text.test.ts holds the regex as reference.
 */
export function isUnstorableText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0) return true;
    if (c < 0xd800 || c > 0xdfff) continue;
    // A high surrogate must be followed by a low one; a low one on its own is unpaired.
    if (c > 0xdbff) return true;
    const next = text.charCodeAt(i + 1); // NaN past the end
    if (!(next >= 0xdc00 && next <= 0xdfff)) return true;
    i++;
  }
  return false;
}

/**
 * The path of the first string (or key) in `value` that holds U+0000 or a lone surrogate, such as
 * `assetDetails.location`; undefined when every string is storable. The common case (nothing
 * found) builds no path: every WebSocket frame passes through here.
 */
export function unstorableTextAt(value: unknown): string | undefined {
  return holdsUnstorableText(value, 0) ? pathOfUnstorableText(value, '', 0) : undefined;
}

function holdsUnstorableText(value: unknown, depth: number): boolean {
  if (typeof value === 'string') return isUnstorableText(value);
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (holdsUnstorableText(item, depth + 1)) return true;
    return false;
  }
  if (value instanceof Uint8Array) return false;
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (isUnstorableText(key) || holdsUnstorableText(record[key], depth + 1)) return true;
  }
  return false;
}

function pathOfUnstorableText(value: unknown, path: string, depth: number): string | undefined {
  if (typeof value === 'string') return isUnstorableText(value) ? path || '(value)' : undefined;
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = pathOfUnstorableText(value[i], `${path}[${i}]`, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value instanceof Uint8Array) return undefined;
  for (const [key, item] of Object.entries(value)) {
    if (isUnstorableText(key)) return `${path === '' ? '' : `${path}.`}(a key)`;
    const found = pathOfUnstorableText(item, path === '' ? key : `${path}.${key}`, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The `bad_request` message for input with unstorable text at `path`. */
export function unstorableTextMessage(path: string): string {
  return `${path}: text must not contain U+0000 or unpaired UTF-16 surrogates`;
}
