import CRC32 from 'crc-32';

/** A book side as sent on the wire: [price, qty] decimal strings, best level first. */
export type WireLevels = readonly (readonly [string, string])[];

/** How many levels of each side the checksum covers (PROTOCOL.md, `book`). */
export const CHECKSUM_LEVELS = 10;

/**
 * The book checksum of PROTOCOL.md: CRC-32 (IEEE, as zlib's crc32), unsigned, of the UTF-8 string
 * of the best 10 asks as `price:qty` joined by `,`, then `|`, then the best 10 bids likewise.
 */
export function bookChecksum(bids: WireLevels, asks: WireLevels): number {
  const text = `${side(asks)}|${side(bids)}`;
  return CRC32.str(text) >>> 0;
}

function side(levels: WireLevels): string {
  const n = Math.min(levels.length, CHECKSUM_LEVELS);
  let out = '';
  for (let i = 0; i < n; i++) {
    const [price, qty] = levels[i]!;
    out += i === 0 ? `${price}:${qty}` : `,${price}:${qty}`;
  }
  return out;
}
