import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isUnstorableText, unstorableTextAt } from '../../src/protocol/text.ts';

/** The reference: a regex over UTF-16 code units (no `u` flag), NUL or an unpaired surrogate. */
// eslint-disable-next-line no-control-regex -- U+0000 is what it looks for
const REFERENCE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Any string or key of a JSON value that the reference flags. */
function referenceHolds(value: unknown): boolean {
  if (typeof value === 'string') return REFERENCE.test(value);
  if (Array.isArray(value)) return value.some(referenceHolds);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).some(([key, item]) => REFERENCE.test(key) || referenceHolds(item));
  }
  return false;
}

const unit = fc.constantFrom('a', 'é', '\u0000', '\ud800', '\udbff', '\udc00', '\udfff', '😀', '\uffff');
const text = fc.array(unit, { maxLength: 8 }).map((units) => units.join(''));

describe('unstorable text (finding 4: NUL and lone surrogates answer 400)', () => {
  it('isUnstorableText agrees with the regex reference', () => {
    fc.assert(
      fc.property(text, (s) => {
        expect(isUnstorableText(s)).toBe(REFERENCE.test(s));
      }),
      { numRuns: 5_000 },
    );
  });

  it('unstorableTextAt finds a bad string or key anywhere, and names where', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary' }), text, (json, s) => {
        const value = { json, nested: [{ field: s }] };
        const found = unstorableTextAt(value);
        const expected = referenceHolds(json) || REFERENCE.test(s) ? 'somewhere' : undefined;
        expect(found === undefined ? undefined : 'somewhere').toBe(expected);
      }),
      { numRuns: 300 },
    );
    expect(unstorableTextAt({ a: { b: ['ok', 'x\u0000'] } })).toBe('a.b[1]');
    expect(unstorableTextAt({ a: { 'k\ud800': 1 } })).toBe('a.(a key)');
    expect(unstorableTextAt({ a: '😀', b: new Uint8Array([0]) })).toBeUndefined();
  });
});
