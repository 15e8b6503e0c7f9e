import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.ts';

/**
 * The wire encoding of PROTOCOL.md: plain MessagePack maps, integers as MessagePack integers even
 * above 2^32, absent optional fields omitted (only an explicit null is nil), and frames that are not
 * exactly one map rejected. Expected bytes are written out by hand from the MessagePack spec.
 */

const bytes = (...values: number[]) => Uint8Array.from(values);
const ascii = (text: string) => Array.from(new TextEncoder().encode(text));

function decoded(frame: Uint8Array): Record<string, unknown> {
  const result = decodeMessage(frame);
  if (!result.ok) throw new Error(`expected a map, got: ${result.reason}`);
  return result.message;
}

/** The MessagePack of `{[key]: value}` for a one-letter key: fixmap(1), fixstr(1), key, value. */
const singleEntry = (key: string, ...value: number[]) => [0x81, 0xa1, ...ascii(key), ...value];

/** The 64-bit integer a one-entry frame holds: its type byte must be uint64 (0xcf) or int64 (0xd3). */
function int64Of(frame: Uint8Array): bigint {
  expect(frame.length).toBe(3 + 9);
  expect([0xcf, 0xd3]).toContain(frame[3]);
  const view = new DataView(frame.buffer, frame.byteOffset + 4, 8);
  return frame[3] === 0xcf ? view.getBigUint64(0) : view.getBigInt64(0);
}

describe('encodeMessage', () => {
  it('writes a plain map with fixstr keys and no record or extension types', () => {
    expect([...encodeMessage({ op: 'ping', rid: 7 })]).toEqual([
      0x82,
      0xa2,
      ...ascii('op'),
      0xa4,
      ...ascii('ping'),
      0xa3,
      ...ascii('rid'),
      0x07,
    ]);
  });

  it('writes integers from 2^32 up as 64-bit MessagePack integers, never float64 (0xcb)', () => {
    expect(int64Of(encodeMessage({ t: 2 ** 32 }))).toBe(2n ** 32n);
    expect(int64Of(encodeMessage({ t: 1_700_000_000_123 }))).toBe(1_700_000_000_123n);
    expect(int64Of(encodeMessage({ t: Number.MAX_SAFE_INTEGER }))).toBe(2n ** 53n - 1n);
  });

  it('keeps 32-bit integers in their short forms', () => {
    expect([...encodeMessage({ t: 2 ** 32 - 1 })]).toEqual(singleEntry('t', 0xce, 0xff, 0xff, 0xff, 0xff));
    expect([...encodeMessage({ t: 0 })]).toEqual(singleEntry('t', 0x00));
    expect([...encodeMessage({ t: -1 })]).toEqual(singleEntry('t', 0xff));
    expect([...encodeMessage({ t: -(2 ** 31) })]).toEqual(singleEntry('t', 0xd2, 0x80, 0, 0, 0));
  });

  it('writes negative integers below -2^31 as int64 (0xd3)', () => {
    expect([...encodeMessage({ t: -(2 ** 31) - 1 })]).toEqual(
      singleEntry('t', 0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff),
    );
    expect([...encodeMessage({ t: -(2 ** 40) })]).toEqual(
      singleEntry('t', 0xd3, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0),
    );
  });

  it('writes large integers exactly also inside arrays and nested maps', () => {
    const frame = encodeMessage({ a: [2 ** 40], m: { t: 2 ** 33 } });
    expect([...frame]).not.toContain(0xcb);
    expect(decoded(frame)).toEqual({ a: [2 ** 40], m: { t: 2 ** 33 } });
  });

  it('keeps non-integers as float64', () => {
    expect([...encodeMessage({ t: 0.5 })]).toEqual(singleEntry('t', 0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0));
  });

  it('omits undefined fields, also nested, and keeps an explicit null as nil', () => {
    const frame = encodeMessage({ a: 1, b: undefined, c: { d: undefined, e: null } });
    expect([...frame]).toEqual([
      0x82,
      0xa1,
      ...ascii('a'),
      0x01,
      0xa1,
      ...ascii('c'),
      0x81,
      0xa1,
      ...ascii('e'),
      0xc0,
    ]);
    const message = decoded(frame);
    expect(Object.keys(message)).toEqual(['a', 'c']);
    expect(message.c).toEqual({ e: null });
  });

  it('does not change the message it encodes', () => {
    const message = { ts: 2 ** 40, levels: [[2 ** 35, 1]] };
    encodeMessage(message);
    expect(message).toEqual({ ts: 2 ** 40, levels: [[2 ** 35, 1]] });
    expect(typeof message.ts).toBe('number');
  });
});

describe('decodeMessage', () => {
  it('reads 64-bit integers as numbers when they are safe', () => {
    const message = decoded(bytes(...singleEntry('t', 0xcf, 0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b)));
    expect(message.t).toBe(1_700_000_000_123);
    expect(decoded(bytes(...singleEntry('t', 0xd3, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0))).t).toBe(-(2 ** 40));
  });

  it('reads a frame that is a view into a larger buffer (as a socket may deliver it)', () => {
    const frame = encodeMessage({ op: 'pong', rid: 3, ts: 2 ** 41 });
    const larger = new Uint8Array(frame.length + 10);
    larger.set(frame, 5);
    expect(decoded(larger.subarray(5, 5 + frame.length))).toEqual({ op: 'pong', rid: 3, ts: 2 ** 41 });
  });

  it.each([
    ['an empty frame', bytes()],
    ['an array', bytes(0x92, 0x01, 0x02)],
    ['an integer', bytes(0x01)],
    ['a string', bytes(0xa2, ...ascii('op'))],
    ['nil', bytes(0xc0)],
    ['binary data', bytes(0xc4, 0x01, 0x00)],
    ['an extension', bytes(0xd4, 0x01, 0x00)],
    ['a map followed by a trailing byte', bytes(...singleEntry('t', 0x01), 0x00)],
    ['two maps', bytes(...singleEntry('t', 0x01), ...singleEntry('u', 0x02))],
    ['a truncated map', bytes(0x82, 0xa1, ...ascii('a'), 0x01)],
    ['a truncated string', bytes(0x81, 0xa5, ...ascii('ab'))],
    ['the never-used byte 0xc1', bytes(0xc1)],
  ])('rejects %s', (_name, frame) => {
    const result = decodeMessage(frame);
    expect(result.ok).toBe(false);
  });

  it('round-trips arbitrary protocol-shaped messages exactly', () => {
    const key = fc.stringMatching(/^[A-Za-z][A-Za-z0-9]{0,7}$/);
    const leaf = fc.oneof(
      fc.maxSafeInteger(),
      fc.integer({ min: -100, max: 100 }),
      fc.string(),
      fc.boolean(),
      fc.constant(null),
      fc.stringMatching(/^\d{1,12}\.\d{2}$/),
    );
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(key, tie('value'), { maxKeys: 4 }).map((entries) => ({ ...entries })),
      ),
    }));
    const message = fc.dictionary(key, value, { maxKeys: 8 }).map((entries) => ({ ...entries }));
    fc.assert(
      fc.property(message, (original) => {
        const result = decodeMessage(encodeMessage(original));
        expect(result).toEqual({ ok: true, message: original });
      }),
    );
  });

  it('encodes every safe integer outside the 32-bit ranges as a 64-bit MessagePack integer', () => {
    const large = fc.oneof(
      fc.integer({ min: 2 ** 32, max: Number.MAX_SAFE_INTEGER }),
      fc.integer({ min: Number.MIN_SAFE_INTEGER, max: -(2 ** 31) - 1 }),
    );
    fc.assert(
      fc.property(large, (n) => {
        const frame = encodeMessage({ n });
        expect(int64Of(frame)).toBe(BigInt(n));
        expect(decoded(frame).n).toBe(n);
      }),
    );
  });
});
