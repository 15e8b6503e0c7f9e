import { createHmac, timingSafeEqual } from 'node:crypto';

/*
 * The X-Signature of direct webhook posts (PROTOCOL.md, Webhook authenticity):
 * `t=<unix seconds>,v1=<hex>`, `<hex>` = HMAC-SHA256(WEBHOOK_SECRET, `<t>.<raw body>`), accepted
 * while |now − t| ≤ 300 s. Several `v1` values may be present (a sender rotating its secret); one
 * matching is enough.
 */

export const SIGNATURE_TOLERANCE_S = 300;

export type SignatureCheck = { readonly ok: true } | { readonly ok: false; readonly message: string };

export function signWebhookBody(secret: string, rawBody: Buffer, timestampSeconds: number): string {
  return `t=${timestampSeconds},v1=${hmac(secret, timestampSeconds, rawBody).toString('hex')}`;
}

export function checkWebhookSignature(
  secret: string,
  header: string | undefined,
  rawBody: Buffer,
  nowMs: number,
): SignatureCheck {
  if (header === undefined || header.trim() === '') return { ok: false, message: 'missing X-Signature' };
  let timestamp: number | undefined;
  const candidates: Buffer[] = [];
  for (const part of header.split(',')) {
    const separator = part.indexOf('=');
    if (separator < 0) continue;
    const key = part.slice(0, separator).trim();
    const value = part.slice(separator + 1).trim();
    if (key === 't' && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    if (key === 'v1' && /^[0-9a-fA-F]{64}$/.test(value)) candidates.push(Buffer.from(value, 'hex'));
  }
  if (timestamp === undefined || candidates.length === 0) {
    return { ok: false, message: 'malformed X-Signature (expected t=<unix seconds>,v1=<hex>)' };
  }
  const skew = Math.abs(Math.floor(nowMs / 1000) - timestamp);
  if (skew > SIGNATURE_TOLERANCE_S) {
    return {
      ok: false,
      message: `X-Signature timestamp is ${skew} s away from now (limit ${SIGNATURE_TOLERANCE_S} s)`,
    };
  }
  const expected = hmac(secret, timestamp, rawBody);
  // Every candidate is compared, so the time taken does not tell which one matched.
  let matched = false;
  for (const candidate of candidates) matched = timingSafeEqual(candidate, expected) || matched;
  return matched ? { ok: true } : { ok: false, message: 'X-Signature does not match' };
}

function hmac(secret: string, timestampSeconds: number, rawBody: Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestampSeconds}.`).update(rawBody).digest();
}
