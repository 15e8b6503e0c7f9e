import { createHash } from 'node:crypto';

/**
 * A UUID derived from `text` (SHA-256, version 8, RFC 4122 variant): the same in every process and
 * run, so a credit keyed by it (a chain log's deposit, a market's primary issuance) is refused by
 * the funding register the second time.
 */
export function derivedUuid(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  const variant = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
