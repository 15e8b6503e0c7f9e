import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { createPool, sql } from 'slonik';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage } from '../../src/protocol/codec.ts';
import { eventually } from '../support/eventually.ts';
import { runExchange, type RunningExchange } from '../support/exchange.ts';
import { listMarkets, RawSocket } from './fixtures.ts';

/*
 * Bad input over real sockets (issue 6, section 3): over 10,000 random and mutated frames, from
 * fast-check with fixed seeds, spread over trader and anonymous connections of the real exchange.
 * Each frame is sent alone and its answer awaited, so every answer is checked against the frame
 * that caused it by an oracle written from PROTOCOL.md (its own MessagePack scanner, not the
 * server's decoder): text, empty, undecodable, multi-value and non-map frames answer `bad_frame`
 * and keep the connection; maps answer an error or, only for a request that is valid by the
 * contract, the op's success reply, with the rid rule (echoed when valid, absent when absent,
 * `bad_request` without rid when invalid); only frames above the size limit may close the
 * connection. Afterwards the server still answers, its memory has not grown with the input, no
 * more commands reached a market than valid order entry could explain, and the BTC-USDC book is
 * what it was.
 */

const MAX_FRAME = 16 * 1024;
/** Sizes around here are sampled too (uWS cut connections above it once; now each frame over MAX_FRAME closes with 1009). */
const CLOSE_ABOVE = 4 * MAX_FRAME;
/** Maps nested deeper than this may overflow the decoder's stack: then `bad_frame` is fine. */
const DEEP = 500;
const FRAME_TIMEOUT_MS = 10_000;

let running: RunningExchange;
let traderToken: string;
let btcId: string;
let ethId: string;

beforeAll(async () => {
  running = await runExchange({
    WS_MAX_FRAME_BYTES: String(MAX_FRAME),
    RATE_ORDERS_PER_S: '1000000',
    RATE_ORDERS_BURST: '1000000',
  });
  await listMarkets(running);
  const idOf = async (symbol: string) =>
    ((await running.request('GET', `/api/v1/markets/${symbol}`)).body as { id: string }).id;
  btcId = await idOf('BTC-USDC');
  ethId = await idOf('ETH-USDC');
  // The fuzzing trader holds 1 USDC and 1 ETH, no BTC: on BTC-USDC it can neither sell nor buy at
  // the maker's asks (the smallest lot at 50,000 costs 5 USDC), so whatever it places there by
  // chance rests below the maker and is removed by its cancel_all at the end.
  await running.credit('fuzzer', 'USDC', '1');
  await running.credit('fuzzer', 'ETH', '1');
  await running.credit('maker', 'BTC', '10');
  await running.credit('maker', 'USDC', '1000000');
  traderToken = await running.token('fuzzer', ['trader']);
  const maker = await running.client(await running.token('maker', ['trader']));
  for (let i = 0; i < 10; i++) {
    const ask = await maker.place({
      market: 'BTC-USDC',
      side: 'sell',
      type: 'limit',
      price: `${50_000 + i * 10}.00`,
      qty: '0.1000',
    });
    const bid = await maker.place({
      market: 'BTC-USDC',
      side: 'buy',
      type: 'limit',
      price: `${40_000 - i * 10}.00`,
      qty: '0.1000',
    });
    expect([ask.status, bid.status]).toEqual(['open', 'open']);
  }
});

afterAll(async () => {
  await running.stop();
});

// ---------------------------------------------------------------------------------------------
// Frames

interface Frame {
  readonly kind: string;
  readonly data: Uint8Array | string;
  /** Carries the valid token: sent on trader connections only, so anonymous ones stay anonymous. */
  readonly trader?: boolean;
}

const plain = new Packr({ useRecords: false });
const records = new Packr({ useRecords: true });
const concat = (...parts: ArrayLike<number>[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};
const strip = (message: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(message).filter(([, v]) => v !== undefined));
const pack = (message: Record<string, unknown>): Uint8Array => new Uint8Array(plain.pack(strip(message)));
const str = (s: string): Uint8Array => {
  const bytes = new TextEncoder().encode(s);
  if (bytes.length < 32) return concat([0xa0 | bytes.length], bytes);
  if (bytes.length < 0x100) return concat([0xd9, bytes.length], bytes);
  if (bytes.length < 0x10000) return concat([0xda, bytes.length >> 8, bytes.length & 0xff], bytes);
  return concat([0xdb, ...u32(bytes.length)], bytes);
};
const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
/** A MessagePack extension value of `type` holding `data`, in the shortest form. */
function ext(type: number, data: Uint8Array): Uint8Array {
  const t = type & 0xff;
  const fixed = { 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 }[data.length];
  if (fixed !== undefined) return concat([fixed, t], data);
  if (data.length < 0x100) return concat([0xc7, data.length, t], data);
  if (data.length < 0x10000) return concat([0xc8, data.length >> 8, data.length & 0xff, t], data);
  return concat([0xc9, ...u32(data.length), t], data);
}
/** `{op:"ping", x: <raw value>}` (the raw value spliced in as bytes). */
const pingWith = (raw: Uint8Array, rid?: number): Uint8Array =>
  rid === undefined
    ? concat([0x82], str('op'), str('ping'), str('x'), raw)
    : concat([0x83], str('op'), str('ping'), str('rid'), new Uint8Array(plain.pack(rid)), str('x'), raw);

const CHANNELS = ['book', 'trades', 'lifecycle', 'candles', 'ticker', 'orders', 'fills', 'balances'];
const PRIVATE = new Set(['orders', 'fills', 'balances']);

/** Valid requests (by the contract) of every op, the material mutations start from. */
function seeds(): fc.Arbitrary<{ message: Record<string, unknown>; trader: boolean }> {
  const rid = fc.option(
    fc.oneof(
      fc.nat(),
      fc.integer({ min: 64, max: 127 }), // msgpackr would read these as records if one leaked
      fc.constant(Number.MAX_SAFE_INTEGER),
    ),
    { nil: undefined },
  );
  const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
  const market = fc.constantFrom('BTC-USDC', 'ETH-USDC', btcId, ethId, 'NOPE-USDC');
  const orderId = fc.constantFrom(`${btcId}:1`, `${btcId}:2`, `${ethId}:1`, `${btcId}:99999`, 'x');
  const clientOrderId = fc.constantFrom('fz-1', 'fz_2', 'A');
  const badTokens = [
    'not.a.jwt',
    `${traderToken.split('.').slice(0, 2).join('.')}.${'A'.repeat(43)}`,
    traderToken.slice(0, -2),
  ];
  const message = fc.oneof(
    fc.record({ op: fc.constant('ping'), rid }),
    fc.record({
      op: fc.constant('auth'),
      rid,
      token: fc.constantFrom(traderToken, ...badTokens),
      cancelOnDisconnect: opt(fc.boolean()),
    }),
    fc.record({
      op: fc.constant('sub'),
      rid,
      ch: fc.constantFrom(...CHANNELS),
      market: opt(market),
      depth: opt(fc.constantFrom(0, 10, 50)),
      interval: opt(fc.constantFrom('1m', '5m', '1h')),
    }),
    fc.record({ op: fc.constant('unsub'), rid, ch: fc.constantFrom(...CHANNELS), market: opt(market) }),
    fc.record({
      op: fc.constant('place'),
      rid,
      market,
      side: fc.constantFrom('buy', 'sell'),
      type: fc.constant('limit'),
      price: fc.constantFrom('10.00', '1.50', '99.99', '3000.00'),
      qty: fc.constantFrom('0.0001', '0.0010', '0.001', '0.100'),
      tif: opt(fc.constantFrom('GTC', 'IOC', 'FOK')),
      postOnly: opt(fc.boolean()),
      stp: opt(fc.constantFrom('cancel_taker', 'cancel_maker', 'cancel_both')),
      clientOrderId: opt(clientOrderId),
    }),
    fc.record({
      op: fc.constant('place'),
      rid,
      market,
      side: fc.constant('buy'),
      type: fc.constant('market'),
      quoteQty: fc.constantFrom('0.50', '0.01'),
    }),
    fc.record({
      op: fc.constant('place'),
      rid,
      market,
      side: fc.constantFrom('buy', 'sell'),
      type: fc.constant('stop_limit'),
      price: fc.constantFrom('10.00', '20.00'),
      stopPrice: fc.constantFrom('11.00', '19.00'),
      qty: fc.constantFrom('0.0001', '0.001'),
    }),
    fc.record({
      op: fc.constant('amend'),
      rid,
      market,
      orderId: opt(orderId),
      clientOrderId: opt(clientOrderId),
      qty: opt(fc.constantFrom('0.0002', '0.002')),
      price: fc.constantFrom('11.00', '12.00'),
    }),
    fc.record({
      op: fc.constant('cancel'),
      rid,
      market,
      orderId: opt(orderId),
      clientOrderId: opt(clientOrderId),
    }),
    fc.record({ op: fc.constant('cancel_all'), rid, market: opt(market) }),
  );
  return message.map((m) => ({ message: strip(m), trader: 'token' in m && m.token === traderToken }));
}

/** Values of the wrong type (or the right type with absurd content) for any field. */
const WRONG: readonly unknown[] = [
  0,
  1,
  -1,
  -2_147_483_649,
  1.5,
  -0.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  2 ** 53,
  4_294_967_296,
  2n ** 63n - 1n,
  2n ** 64n - 1n,
  -(2n ** 63n),
  true,
  false,
  null,
  [],
  ['BTC-USDC'],
  [[[[[[1]]]]]],
  {},
  { market: 'BTC-USDC' },
  { a: { b: { c: { d: 1 } } } },
  new Uint8Array([0x31, 0x30]),
  new Date(0),
  '',
  'x'.repeat(300),
  '\u0000',
  '１０.００',
  '1e3',
  ' 10.00',
  '-10.00',
  '0x10',
  'NaN',
  '10.00\n',
  'BTC-USDC\u0000',
];
const wrong = fc.oneof(
  fc.constantFrom(...WRONG),
  fc.integer(),
  fc.double(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.uint8Array({ maxLength: 40 }),
  fc.array(fc.oneof(fc.integer(), fc.string(), fc.constant(null)), { maxLength: 8 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.integer(), fc.string(), fc.boolean()), {
    maxKeys: 6,
  }),
);

/** Every field of every op (plus op and rid) with every fixed wrong value: a deterministic matrix. */
function wrongTypeMatrix(): Frame[] {
  const base: Record<string, Record<string, unknown>> = {
    ping: { op: 'ping', rid: 1 },
    auth: { op: 'auth', rid: 2, token: 'not.a.jwt', cancelOnDisconnect: false },
    sub: { op: 'sub', rid: 3, ch: 'book', market: 'BTC-USDC', depth: 10, interval: '1m' },
    unsub: { op: 'unsub', rid: 4, ch: 'trades', market: 'BTC-USDC' },
    place: {
      op: 'place',
      rid: 5,
      market: 'BTC-USDC',
      side: 'buy',
      type: 'limit',
      qty: '0.0001',
      price: '10.00',
      stopPrice: '10.00',
      tif: 'GTC',
      postOnly: true,
      stp: 'cancel_taker',
      clientOrderId: 'm-1',
      quoteQty: '1.00',
    },
    amend: {
      op: 'amend',
      rid: 6,
      market: 'BTC-USDC',
      orderId: `${btcId}:1`,
      clientOrderId: 'm-1',
      qty: '0.0002',
      price: '11.00',
    },
    cancel: { op: 'cancel', rid: 7, market: 'BTC-USDC', orderId: `${btcId}:1`, clientOrderId: 'm-1' },
    cancel_all: { op: 'cancel_all', rid: 8, market: 'BTC-USDC' },
  };
  const frames: Frame[] = [];
  for (const message of Object.values(base)) {
    for (const field of Object.keys(message)) {
      for (const value of WRONG)
        frames.push({ kind: 'wrong-type-matrix', data: pack({ ...message, [field]: value }) });
    }
  }
  return frames;
}

function randomFrames(): Frame[] {
  const seed = seeds();
  const encoded = seed.map((s) => ({ bytes: pack(s.message), trader: s.trader }));
  const sample = <T>(arb: fc.Arbitrary<T>, numRuns: number, seedValue: number) =>
    fc.sample(arb, { numRuns, seed: seedValue });
  const frames: Frame[] = [];
  const add = (kind: string, items: { data: Uint8Array | string; trader?: boolean }[]) => {
    for (const item of items) frames.push({ kind, ...item });
  };

  // Valid requests as they are: what may succeed, so the accounting below is not vacuous.
  add(
    'valid',
    sample(encoded, 300, 1).map((e) => ({ data: e.bytes, trader: e.trader })),
  );
  // Truncated msgpack of valid requests (length 0 is the empty frame).
  add(
    'truncated',
    sample(fc.tuple(encoded, fc.nat()), 1_500, 2).map(([e, n]) => ({
      data: e.bytes.subarray(0, n % e.bytes.length),
      trader: e.trader,
    })),
  );
  // 1 to 4 bit flips.
  add(
    'bit-flip',
    sample(
      fc.tuple(encoded, fc.array(fc.tuple(fc.nat(), fc.nat(7)), { minLength: 1, maxLength: 4 })),
      2_500,
      3,
    ).map(([e, flips]) => {
      const bytes = e.bytes.slice();
      for (const [at, bit] of flips) bytes[at % bytes.length]! ^= 1 << bit;
      return { data: bytes, trader: e.trader };
    }),
  );
  // Bytes replaced, inserted or deleted.
  add(
    'byte-edit',
    sample(
      fc.tuple(
        encoded,
        fc.array(fc.tuple(fc.constantFrom('set', 'insert', 'delete'), fc.nat(), fc.nat(255)), {
          minLength: 1,
          maxLength: 3,
        }),
      ),
      1_000,
      4,
    ).map(([e, edits]) => {
      const bytes = [...e.bytes];
      for (const [how, at, value] of edits) {
        const i = at % (bytes.length + 1);
        if (how === 'set') bytes[Math.min(i, bytes.length - 1)] = value;
        else if (how === 'insert') bytes.splice(i, 0, value);
        else bytes.splice(Math.min(i, bytes.length - 1), 1);
      }
      return { data: new Uint8Array(bytes), trader: e.trader };
    }),
  );
  // One field (op and rid included) given a random wrong value, or a random extra field.
  add(
    'wrong-type',
    sample(fc.tuple(seed, fc.nat(), wrong, fc.boolean()), 1_500, 5).map(([s, pick, value, extra]) => {
      const keys = [...Object.keys(s.message), 'rid', 'op'];
      const field = extra ? `x${pick % 7}` : keys[pick % keys.length]!;
      return { data: pack({ ...s.message, [field]: value }), trader: s.trader };
    }),
  );
  // Unknown ops, a missing op, an op of another type.
  add(
    'unknown-op',
    sample(
      fc.record({
        op: fc.oneof(
          fc.string({ maxLength: 40 }),
          fc.constantFrom(
            'PING',
            'Ping',
            'ping ',
            'place\u0000',
            '__proto__',
            'constructor',
            'toString',
            'error',
            'pong',
            'accepted',
            'subbed',
          ),
          fc.constant(undefined),
          wrong,
        ),
        rid: fc.option(fc.nat(), { nil: undefined }),
      }),
      400,
      6,
    ).map((m) => ({ data: pack(m) })),
  );
  // Huge strings around the frame limits, in a field, as a key and as the op.
  add(
    'huge-string',
    sample(
      fc.tuple(
        fc.constantFrom(
          MAX_FRAME - 200,
          MAX_FRAME - 40,
          MAX_FRAME - 20,
          MAX_FRAME,
          MAX_FRAME + 1,
          2 * MAX_FRAME,
          CLOSE_ABOVE - 40,
          CLOSE_ABOVE - 20,
          CLOSE_ABOVE,
          CLOSE_ABOVE + 1,
          6 * MAX_FRAME,
        ),
        fc.constantFrom('market', 'token', 'key', 'op', 'clientOrderId'),
      ),
      1_200,
      7,
    ).map(([size, where]) => {
      const big = 'x'.repeat(size);
      const message =
        where === 'key'
          ? { op: 'ping', rid: 1, [big]: 1 }
          : where === 'op'
            ? { op: big, rid: 1 }
            : where === 'token'
              ? { op: 'auth', rid: 1, token: big }
              : {
                  op: 'place',
                  rid: 1,
                  market: 'BTC-USDC',
                  side: 'buy',
                  type: 'limit',
                  price: '10.00',
                  qty: '0.0001',
                  [where]: big,
                };
      return { data: pack(message) };
    }),
  );
  // Deep nesting: arrays and maps, at the top and in a field; 10,000 levels among them.
  add(
    'deep',
    sample(
      fc.tuple(
        fc.oneof(fc.constant(10_000), fc.integer({ min: 100, max: 15_000 })),
        fc.constantFrom('array', 'map'),
        fc.boolean(),
      ),
      60,
      8,
    ).map(([depth, container, top]) => {
      const levels =
        container === 'array' ? Math.min(depth, MAX_FRAME - 32) : Math.min(depth, (MAX_FRAME - 32) >> 1);
      const open = container === 'array' ? [0x91] : [0x81, 0xa0];
      const nested = new Uint8Array(levels * open.length + 1);
      for (let i = 0; i < levels; i++) nested.set(open, i * open.length);
      nested[nested.length - 1] = 0xc0;
      return { data: top ? nested : pingWith(nested, 9) };
    }),
  );
  // Extension types: random ones at the top, in a field, and in front of a valid request; and the
  // msgpackr extensions (records, structured-clone ids and pointers, errors, sets, typed arrays,
  // regexps, bundled strings, big integers, timestamps) around valid requests.
  add(
    'extension',
    sample(
      fc.tuple(
        fc.integer({ min: -128, max: 127 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom('top', 'field', 'prefix'),
      ),
      400,
      9,
    ).map(([type, data, where]) => {
      const value = ext(type, data);
      return {
        data:
          where === 'top'
            ? value
            : where === 'field'
              ? pingWith(value, 10)
              : concat(value, pack({ op: 'ping', rid: 10 })),
      };
    }),
  );
  add(
    'msgpackr-extension',
    sample(
      fc.tuple(
        seed,
        fc.constantFrom(
          'record',
          'clone-id',
          'clone-pointer',
          'error',
          'set',
          'typed',
          'regexp',
          'bundle',
          'bigint',
          'date',
        ),
      ),
      200,
      10,
    ).map(([s, how]) => {
      const body = pack(s.message);
      const data = {
        record: () => new Uint8Array(records.pack(s.message)),
        'clone-id': () => concat(ext(0x69, new Uint8Array([0, 0, 0, 1])), body),
        'clone-pointer': () => pingWith(ext(0x70, new Uint8Array([0, 0, 0, 1]))),
        error: () => concat(ext(0x65, new Uint8Array([0])), pack({ a: 1 }).subarray(0, 1), body),
        set: () => pingWith(concat(ext(0x73, new Uint8Array([0])), [0x91, 0x01])),
        typed: () => pingWith(ext(0x74, new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0, 0]))),
        regexp: () => pingWith(concat(ext(0x78, new Uint8Array([0])), [0x92], str('(a+)+$'), str('gimsuy'))),
        bundle: () => concat(ext(0x62, new Uint8Array([0x7f, 0xff, 0xff, 0xff])), body),
        bigint: () => pingWith(ext(0x42, new Uint8Array(4_000).fill(0xff))),
        date: () => concat(ext(-1, new Uint8Array([0, 0, 0, 1])), body),
      }[how]();
      return { data, trader: s.trader };
    }),
  );
  // Text frames: random text and the JSON of valid requests.
  add(
    'text',
    sample(
      fc.oneof(
        fc.string({ maxLength: 200 }),
        seed.map((s) => JSON.stringify(s.message)),
      ),
      300,
      11,
    ).map((text) => ({
      data: text,
      trader: text.includes(traderToken),
    })),
  );
  add(
    'empty',
    Array.from({ length: 50 }, () => ({ data: new Uint8Array(0) })),
  );
  // Several values in one frame.
  add(
    'multi-value',
    sample(
      fc.tuple(
        fc.array(encoded, { minLength: 2, maxLength: 50 }),
        fc.option(fc.uint8Array({ minLength: 1, maxLength: 3 }), { nil: undefined }),
      ),
      300,
      12,
    ).map(([values, tail]) => ({
      data: concat(
        ...values.slice(0, tail === undefined ? values.length : 1).map((v) => v.bytes),
        tail ?? [],
      ),
      trader: values.some((v) => v.trader),
    })),
  );
  // Random bytes, and random bytes behind a map header.
  add(
    'random',
    sample(fc.uint8Array({ minLength: 1, maxLength: 300 }), 600, 13).map((data) => ({ data })),
  );
  add(
    'random-map',
    sample(fc.tuple(fc.integer({ min: 0x80, max: 0x8f }), fc.uint8Array({ maxLength: 200 })), 400, 14).map(
      ([head, rest]) => ({
        data: concat([head], rest),
      }),
    ),
  );
  // Maps with keys of other types, repeated keys, and keys named after Object.prototype.
  add(
    'odd-map',
    sample(
      fc.constantFrom<() => Uint8Array>(
        () =>
          new Uint8Array(
            plain.pack(
              new Map<unknown, unknown>([
                [1, 'x'],
                ['op', 'ping'],
                ['rid', 3],
              ]),
            ),
          ),
        () =>
          new Uint8Array(
            plain.pack(
              new Map<unknown, unknown>([
                [null, 1],
                ['op', 'ping'],
              ]),
            ),
          ),
        () =>
          new Uint8Array(
            plain.pack(
              new Map<unknown, unknown>([
                [[1, 2], 'x'],
                ['op', 'ping'],
              ]),
            ),
          ),
        () =>
          new Uint8Array(
            plain.pack(
              new Map<unknown, unknown>([
                [{ a: 1 }, 'x'],
                ['op', 'ping'],
              ]),
            ),
          ),
        () =>
          new Uint8Array(
            plain.pack(
              new Map<unknown, unknown>([
                [true, 'x'],
                ['op', 'ping'],
                [2n ** 64n - 1n, 1],
              ]),
            ),
          ),
        () => concat([0x83], str('op'), str('ping'), str('op'), str('teleport'), str('rid'), [0x05]),
        () => concat([0x83], str('op'), str('teleport'), str('op'), str('ping'), str('rid'), [0x05]),
        () => concat([0x83], str('op'), str('ping'), str('rid'), [0x05], str('rid'), [0xff]),
        () => concat([0x82], str('op'), str('ping'), str('__proto__'), pack({ op: 'place', rid: 1 })),
        () => concat([0x82], str('__proto__'), pack({ op: 'ping' }), str('rid'), [0x06]),
        () => pack({ op: 'ping', rid: 7, constructor: 1, toString: 'x', hasOwnProperty: [] }),
        () => pack({ op: 'hasOwnProperty', rid: 8 }),
        () => concat([0x81], [0xc4, 0x02, 0x6f, 0x70], str('ping')), // bin key "op"
      ),
      200,
      15,
    ).map((make) => ({ data: make() })),
  );
  return frames;
}

// ---------------------------------------------------------------------------------------------
// The oracle: an independent MessagePack scanner and the contract's rules

type Scan =
  | { readonly ok: false; readonly reason: string; readonly hasExt?: boolean }
  | {
      readonly ok: true;
      readonly top: 'map' | 'array' | 'ext' | 'scalar';
      readonly hasExt: boolean;
      readonly depth: number;
    };

/** Checks that `b` holds exactly one well-formed MessagePack value; iterative, any depth. */
function scan(b: Uint8Array): Scan {
  let pos = 0;
  const stack: number[] = []; // children left in each open container
  let top: 'map' | 'array' | 'ext' | 'scalar' | undefined;
  let hasExt = false;
  let depth = 0;
  const uint = (n: number): number => {
    if (pos + n > b.length) throw new RangeError('truncated');
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + b[pos++]!;
    return v;
  };
  try {
    do {
      if (pos >= b.length) return { ok: false, reason: 'truncated', hasExt };
      const t = b[pos++]!;
      let kind: 'map' | 'array' | 'ext' | 'scalar' = 'scalar';
      let children = 0;
      let skip = 0;
      if (t <= 0x7f || t >= 0xe0) skip = 0;
      else if (t <= 0x8f) [kind, children] = ['map', (t & 0x0f) * 2];
      else if (t <= 0x9f) [kind, children] = ['array', t & 0x0f];
      else if (t <= 0xbf) skip = t & 0x1f;
      else if (t === 0xc1) return { ok: false, reason: 'reserved byte 0xc1', hasExt };
      else if (t === 0xc0 || t === 0xc2 || t === 0xc3) skip = 0;
      else if (t >= 0xc4 && t <= 0xc6) skip = uint(1 << (t - 0xc4));
      else if (t >= 0xc7 && t <= 0xc9) [kind, skip] = ['ext', uint(1 << (t - 0xc7)) + 1];
      else if (t === 0xca) skip = 4;
      else if (t === 0xcb) skip = 8;
      else if (t >= 0xcc && t <= 0xcf) skip = 1 << (t - 0xcc);
      else if (t >= 0xd0 && t <= 0xd3) skip = 1 << (t - 0xd0);
      else if (t >= 0xd4 && t <= 0xd8) [kind, skip] = ['ext', (1 << (t - 0xd4)) + 1];
      else if (t >= 0xd9 && t <= 0xdb) skip = uint(1 << (t - 0xd9));
      else if (t === 0xdc || t === 0xdd) [kind, children] = ['array', uint(t === 0xdc ? 2 : 4)];
      else [kind, children] = ['map', uint(t === 0xde ? 2 : 4) * 2];
      if (pos + skip > b.length) return { ok: false, reason: 'truncated', hasExt };
      pos += skip;
      top ??= kind;
      if (kind === 'ext') hasExt = true;
      if (stack.length > 0) stack[stack.length - 1]!--;
      if (children > 0) {
        stack.push(children);
        depth = Math.max(depth, stack.length);
      }
      while (stack.length > 0 && stack[stack.length - 1] === 0) stack.pop();
    } while (stack.length > 0);
  } catch {
    return { ok: false, reason: 'truncated', hasExt };
  }
  if (pos !== b.length) return { ok: false, reason: 'more than one value', hasExt };
  return { ok: true, top, hasExt, depth };
}

const SUCCESS: Readonly<Record<string, string>> = {
  ping: 'pong',
  auth: 'authed',
  sub: 'subbed',
  unsub: 'unsubbed',
  place: 'accepted',
  amend: 'amended',
  cancel: 'canceled',
  cancel_all: 'canceled_all',
};
const PUSHES = new Set(['book', 'trade', 'lifecycle', 'candle', 'ticker', 'order', 'fill', 'balance']);
const ORDER_ENTRY = new Set(['place', 'amend', 'cancel', 'cancel_all']);

const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const optional = (v: unknown, test: (v: unknown) => boolean) => v === undefined || test(v);
const oneOf =
  (...values: unknown[]) =>
  (v: unknown) =>
    values.includes(v);
const isClientOrderId = (v: unknown) => typeof v === 'string' && /^[A-Za-z0-9_-]{1,36}$/.test(v);
/** A plain decimal (PROTOCOL: anything else is rejected); market rules (decimals, tick) not checked. */
const isDecimal = (v: unknown) => typeof v === 'string' && /^[0-9]+(\.[0-9]+)?$/.test(v);
/** A listed market, by symbol or id. */
const isMarket = (v: unknown) => typeof v === 'string' && ['BTC-USDC', 'ETH-USDC', btcId, ethId].includes(v);
const validRid = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Whether `m` is a well-formed request of its op by PROTOCOL.md (shapes only, a superset). */
function wellFormed(m: Record<string, unknown>, authenticated: boolean): boolean {
  switch (m.op) {
    case 'ping':
      return true;
    case 'auth':
      return isString(m.token) && optional(m.cancelOnDisconnect, (v) => typeof v === 'boolean');
    case 'sub':
    case 'unsub': {
      if (typeof m.ch !== 'string' || !CHANNELS.includes(m.ch)) return false;
      if (m.op === 'unsub') return optional(m.market, isString);
      const pub = !PRIVATE.has(m.ch);
      return (
        (pub ? isMarket(m.market) : authenticated) &&
        optional(m.depth, oneOf(0, 10, 50)) &&
        optional(m.interval, oneOf('1m', '5m', '1h'))
      );
    }
    case 'place':
      return (
        isMarket(m.market) &&
        oneOf('buy', 'sell')(m.side) &&
        oneOf('limit', 'market', 'stop_limit', 'stop_market')(m.type) &&
        [m.qty, m.price, m.stopPrice, m.quoteQty].every((v) => optional(v, isDecimal)) &&
        (m.qty !== undefined || m.quoteQty !== undefined) &&
        optional(m.tif, oneOf('GTC', 'IOC', 'FOK')) &&
        optional(m.postOnly, (v) => typeof v === 'boolean') &&
        optional(m.stp, oneOf('cancel_taker', 'cancel_maker', 'cancel_both')) &&
        optional(m.clientOrderId, isClientOrderId)
      );
    case 'amend':
    case 'cancel':
      return (
        isMarket(m.market) &&
        optional(m.orderId, isString) &&
        optional(m.clientOrderId, isClientOrderId) &&
        (m.orderId !== undefined || m.clientOrderId !== undefined) &&
        (m.op === 'cancel' ||
          ([m.qty, m.price].every((v) => optional(v, isDecimal)) &&
            (m.qty !== undefined || m.price !== undefined)))
      );
    case 'cancel_all':
      return optional(m.market, isMarket);
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Connections

type Answer =
  | { readonly type: 'message'; readonly message: Record<string, unknown> }
  | { readonly type: 'close'; readonly code: number }
  | { readonly type: 'timeout' };

/** A raw connection that sends one frame at a time and hands back its answer; pushes are counted. */
class FuzzConnection {
  roles: string[] = [];
  pushes = 0;
  /** Orders accepted open on this connection: what cancel-on-disconnect may cancel when it closes. */
  acceptedOpen = 0;
  closed = false;
  private waiting: ((answer: Answer) => void) | undefined;
  readonly stray: string[] = [];

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const decoded = isBinary ? decodeMessage(new Uint8Array(data)) : undefined;
      if (decoded === undefined || !decoded.ok) {
        this.stray.push(`undecodable frame from the server: ${decoded?.reason ?? 'text'}`);
        return;
      }
      const message = decoded.message;
      if (typeof message.op === 'string' && PUSHES.has(message.op)) {
        this.pushes++;
        return;
      }
      const waiting = this.waiting;
      this.waiting = undefined;
      if (waiting === undefined) this.stray.push(`unsolicited ${show(message)}`);
      else waiting({ type: 'message', message });
    });
    ws.on('close', (code: number) => {
      this.closed = true;
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.({ type: 'close', code });
    });
    ws.on('error', () => undefined);
  }

  static async open(mode: 'anonymous' | 'upgrade' | 'auth'): Promise<FuzzConnection> {
    const url = mode === 'upgrade' ? `${running.ws}?token=${traderToken}` : running.ws;
    const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
    const connection = new FuzzConnection(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    if (mode === 'upgrade') connection.roles = ['trader'];
    if (mode === 'auth') {
      const answer = await connection.send(pack({ op: 'auth', token: traderToken, rid: 0 }));
      if (answer.type !== 'message' || answer.message.op !== 'authed')
        throw new Error(`auth failed: ${show(answer)}`);
      connection.roles = answer.message.roles as string[];
    }
    return connection;
  }

  send(data: Uint8Array | string): Promise<Answer> {
    return new Promise((resolve) => {
      if (this.closed) return resolve({ type: 'close', code: 0 });
      const timer = setTimeout(() => {
        this.waiting = undefined;
        resolve({ type: 'timeout' });
      }, FRAME_TIMEOUT_MS);
      this.waiting = (answer) => {
        clearTimeout(timer);
        resolve(answer);
      };
      this.ws.send(data, { binary: typeof data !== 'string' });
    });
  }

  close(): void {
    this.ws.close();
  }
}

function show(value: unknown, limit = 300): string {
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) as
    string | undefined;
  return (text ?? String(value)).slice(0, limit);
}
const hex = (data: Uint8Array | string) =>
  typeof data === 'string'
    ? `text ${JSON.stringify(data.slice(0, 80))}`
    : `${Buffer.from(data.subarray(0, 80)).toString('hex')}${data.length > 80 ? `… (${data.length} bytes)` : ''}`;

/** gc() even without --expose-gc: the flag can be set at run time and gc fetched from a new context. */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
}

// ---------------------------------------------------------------------------------------------

describe('bad input over the wire', () => {
  it('answers each of 10,000+ random and mutated frames with an error (or a valid request its reply), stays up, keeps memory bounded, and lets nothing reach a market', async () => {
    const frames = [...wrongTypeMatrix(), ...randomFrames()];
    // Interleave the kinds deterministically so that every connection gets a bit of everything.
    const order = fc.sample(
      fc.shuffledSubarray(
        frames.map((_, i) => i),
        { minLength: frames.length },
      ),
      {
        numRuns: 1,
        seed: 16,
      },
    )[0]!;
    expect(frames.length).toBeGreaterThanOrEqual(10_000);

    const pool = await createPool(running.database.url, { maximumPoolSize: 1 });
    const journalRows = async () => Number(await pool.oneFirst(sql.unsafe`SELECT count(*) FROM journal`));
    const processed = () => new Map(running.exchange.supervisor.list().map((m) => [m.symbol, m.processed]));
    const book = async () =>
      (await running.request('GET', '/api/v1/markets/BTC-USDC/book?depth=0')).body as {
        seq: number;
        bids: string[][];
        asks: string[][];
        checksum: number;
      };
    await running.exchange.supervisor.idle();
    const bookBefore = await book();
    expect(bookBefore.asks.length + bookBefore.bids.length).toBe(20);
    const journalBefore = await journalRows();
    const processedBefore = processed();

    const modes = ['upgrade', 'anonymous', 'auth', 'anonymous', 'upgrade', 'anonymous'] as const;
    const traders = modes.flatMap((m, i) => (m === 'anonymous' ? [] : [i]));
    const queues: number[][] = modes.map(() => []);
    let next = 0;
    let nextTrader = 0;
    for (const i of order) {
      const target =
        frames[i]!.trader === true ? traders[nextTrader++ % traders.length]! : next++ % modes.length;
      queues[target]!.push(i);
    }

    const violations = new Map<string, string[]>();
    const violation = (rule: string, frame: Frame, detail: string) => {
      const list = violations.get(rule) ?? [];
      violations.set(rule, list);
      if (list.length < 5) list.push(`[${frame.kind}] ${hex(frame.data)} → ${detail}`);
      else list.push('');
    };
    const outcomes = new Map<string, number>();
    const tally = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    let allowance = 0; // commands that valid order entry may have sent to markets
    let accepted = 0;
    let closes = 0;
    let bytesSent = 0;

    const wsConnections = async () => {
      const metrics = (await running.request('GET', '/metrics')).body as string;
      return Number(/^exchange_ws_connections ([0-9]+)$/m.exec(metrics)?.[1]);
    };
    const connectionsBefore = await wsConnections();

    collectGarbage();
    const memoryBefore = process.memoryUsage();
    const started = Date.now();

    const work = async (mode: (typeof modes)[number], queue: number[]) => {
      let connection = await FuzzConnection.open(mode);
      const retire = (c: FuzzConnection) => {
        // A connection that asked for cancel-on-disconnect cancels its open orders when it closes.
        allowance += c.acceptedOpen;
        for (const s of c.stray) violation('nothing unsolicited', { kind: 'stray', data: '' }, s);
      };
      for (const index of queue) {
        const frame = frames[index]!;
        const size = typeof frame.data === 'string' ? Buffer.byteLength(frame.data) : frame.data.length;
        bytesSent += size;
        const authenticated = connection.roles.length > 0;
        const trader = connection.roles.includes('trader');
        const answer = await connection.send(frame.data);
        if (answer.type === 'timeout') {
          violation('an answer within 10 s', frame, 'none');
          retire(connection);
          connection.close();
          connection = await FuzzConnection.open(mode);
          continue;
        }
        if (answer.type === 'close') {
          closes++;
          tally(`close ${answer.code}`);
          if (size <= MAX_FRAME)
            violation('only frames above the size limit close the connection', frame, `close ${answer.code}`);
          retire(connection);
          connection = await FuzzConnection.open(mode);
          continue;
        }
        const reply = answer.message;
        const code = reply.op === 'error' ? String(reply.code) : undefined;
        tally(code === undefined ? String(reply.op) : `error ${code}`);
        if (reply.op === 'error' && (typeof reply.code !== 'string' || typeof reply.message !== 'string'))
          violation('errors carry code and message', frame, show(reply));

        // Frames that are not exactly one plain MessagePack map: bad_frame, without rid.
        let expectBadFrame: string | undefined;
        const structure: Scan =
          typeof frame.data === 'string' ? { ok: false, reason: 'text frame' } : scan(frame.data);
        if (size > MAX_FRAME) expectBadFrame = 'over the size limit';
        else if (size === 0) expectBadFrame = 'empty frame';
        else if (!structure.ok) expectBadFrame = structure.reason;
        else if (structure.top !== 'map') expectBadFrame = `a top-level ${structure.top}, not a map`;
        if (expectBadFrame !== undefined || !structure.ok) {
          if (code !== 'bad_frame' || 'rid' in reply)
            violation(
              structure.hasExt === true
                ? 'extensions are not honoured: with one, a frame is not one plain map (PROTOCOL: no msgpackr records or extensions) and answers bad_frame'
                : `bad_frame for what is not one plain map (${expectBadFrame})`,
              frame,
              `${String(expectBadFrame)}: ${show(reply)}`,
            );
          continue;
        }

        // One map: an error, or the success of a well-formed request; rid echoed exactly.
        const decoded = decodeMessage(frame.data as Uint8Array);
        if (!decoded.ok) {
          // The decoder (msgpackr) refuses some well-formed maps: extensions, non-string keys, depth.
          if (code === undefined) violation('an error when the map cannot be decoded', frame, show(reply));
          continue;
        }
        const m = decoded.message;
        if (code === 'bad_frame') {
          if (structure.depth <= DEEP) violation('no bad_frame for a decodable map', frame, show(reply));
          continue;
        }
        if ('rid' in m && !validRid(m.rid)) {
          if (code !== 'bad_request' || 'rid' in reply)
            violation(
              'an invalid rid answers bad_request without rid',
              frame,
              `${show(m.rid)}: ${show(reply)}`,
            );
          continue;
        }
        if (validRid(m.rid) ? reply.rid !== m.rid : 'rid' in reply)
          violation('the rid is echoed, exactly', frame, `sent ${show(m.rid)}, got ${show(reply)}`);
        const valid = wellFormed(m, authenticated);
        if (ORDER_ENTRY.has(String(m.op)) && valid && trader)
          allowance += m.op === 'cancel_all' && m.market === undefined ? 2 : 1;
        if (code !== undefined) continue;
        const expected = SUCCESS[String(m.op)];
        if (reply.op !== expected || !valid) {
          violation(
            'a success only for a well-formed request, and its own',
            frame,
            `${show(m)} → ${show(reply)}`,
          );
          continue;
        }
        if (ORDER_ENTRY.has(String(m.op)) && !trader)
          violation('order entry only for traders', frame, `${show(m)} → ${show(reply)}`);
        if (reply.op === 'authed') connection.roles = reply.roles as string[];
        if (reply.op === 'accepted') {
          accepted++;
          if (reply.status === 'open' || reply.status === 'partially_filled') connection.acceptedOpen++;
        }
      }
      retire(connection);
      connection.close();
    };
    await Promise.all(modes.map((mode, i) => work(mode, queues[i]!)));
    const elapsed = Date.now() - started;

    // Cancel-on-disconnect of the last connections: submitted as the server sees each close, so
    // once the connection gauge is back to where it was, then everything committed.
    await eventually(async () => (await wsConnections()) === connectionsBefore, {
      what: 'the fuzzed connections to be closed',
    });
    await running.exchange.supervisor.idle();

    // Still up: a fresh connection gets its pong, and the HTTP side answers.
    const fresh = await RawSocket.open(running.ws);
    expect(await fresh.request({ op: 'ping' }, 42)).toMatchObject({ op: 'pong', rid: 42 });
    fresh.close();
    expect((await running.request('GET', '/health')).status).toBe(200);

    // Memory: the server runs in this process, so its heap is ours (the frames themselves were
    // built before the first measure and are counted in both). The frames sent total over three
    // times the heap bound (checked below): a server that kept each frame, or a copy of its big
    // strings, would cross it. The bound leaves room for V8's own growth (compiled code, inline
    // caches, zod and msgpackr caches), a few MiB here; rss is bounded more loosely because
    // uWS's and the allocator's native memory is not given back at once. Small per-frame leaks
    // (a few bytes a frame) are below what this can see.
    collectGarbage();
    const memoryAfter = process.memoryUsage();
    const heapGrowth = memoryAfter.heapUsed - memoryBefore.heapUsed;
    const rssGrowth = memoryAfter.rss - memoryBefore.rss;
    const HEAP_BOUND = 16 * 1024 * 1024;
    const RSS_BOUND = 128 * 1024 * 1024;

    // Markets: no more commands than valid order entry (and its cancel-on-disconnect) explains.
    const processedAfter = processed();
    let reached = 0;
    for (const [symbol, count] of processedAfter) reached += count - (processedBefore.get(symbol) ?? 0);
    const journalGrowth = (await journalRows()) - journalBefore;
    const btcReached = processedAfter.get('BTC-USDC')! - processedBefore.get('BTC-USDC')!;

    console.log(
      `fuzz: ${frames.length} frames, ${(bytesSent / 1e6).toFixed(1)} MB in ${elapsed} ms; ` +
        `${closes} closes; answers ${show(Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1])), 2_000)}; ` +
        `accepted ${accepted}; market commands ${reached} (allowed ${allowance}, BTC-USDC ${btcReached}); ` +
        `journal +${journalGrowth}; heap ${(heapGrowth / 2 ** 20).toFixed(1)} MiB, rss ${(rssGrowth / 2 ** 20).toFixed(1)} MiB`,
    );

    for (const [rule, examples] of violations) {
      expect
        .soft(
          examples.filter((e) => e !== ''),
          `${rule}: ${examples.length} frame(s), e.g.`,
        )
        .toEqual([]);
    }
    expect(bytesSent).toBeGreaterThan(3 * HEAP_BOUND);
    expect(heapGrowth).toBeLessThan(HEAP_BOUND);
    expect(rssGrowth).toBeLessThan(RSS_BOUND);
    expect(accepted).toBeGreaterThan(0); // valid requests got through: the checks below bind
    expect(reached).toBeGreaterThanOrEqual(accepted);
    expect(reached).toBeLessThanOrEqual(allowance);
    expect(journalGrowth).toBeLessThanOrEqual(reached);

    // The BTC-USDC book: the maker's levels exactly as before once the fuzzer's own orders (which
    // cannot reach the maker's prices) are canceled; untouched altogether when nothing reached it.
    const cleanup = await running.client(traderToken);
    // Its reply comes once committed, and a market publishes a batch in the turn it replies to it.
    await cleanup.cancelAll();
    const bookAfter = await book();
    expect({ bids: bookAfter.bids, asks: bookAfter.asks }).toEqual({
      bids: bookBefore.bids,
      asks: bookBefore.asks,
    });
    if (btcReached === 0) expect(bookAfter).toEqual(bookBefore);
    await pool.end();
  }, 120_000);
});

describe('MessagePack extensions', () => {
  it('answers bad_frame to msgpackr records and extension-wrapped requests, and places nothing', async () => {
    // PROTOCOL.md: "Each frame holds exactly one MessagePack map (plain MessagePack: no msgpackr
    // records or extensions ...). A ... value that is not a map is answered with bad_frame."
    const socket = await RawSocket.open(`${running.ws}?token=${traderToken}`);
    const place = {
      op: 'place',
      market: 'BTC-USDC',
      side: 'buy',
      type: 'limit',
      price: '1.00',
      qty: '0.0001',
    };
    const frames: [string, Uint8Array][] = [
      // A msgpackr record (extension 0x72): standard MessagePack reads an extension, then more values.
      ['record', new Uint8Array(records.pack({ ...place, rid: 1 }))],
      // Extension 0x69 (msgpackr structured-clone id) in front of a map: two values.
      ['clone id + map', concat(ext(0x69, new Uint8Array([0, 0, 0, 1])), pack({ ...place, rid: 2 }))],
      // Extension 0x78 (msgpackr regexp) that swallows the value after it: a map, then an array.
      ['regexp ext', concat(pingWith(ext(0x78, new Uint8Array([0]))), [0x92], str('a'), str('g'))],
    ];
    for (const [name, frame] of frames) {
      socket.sendRaw(frame);
      const answer = await socket.next(() => true);
      expect.soft(answer, `${name}: ${hex(frame)}`).toMatchObject({ op: 'error', code: 'bad_frame' });
    }
    // A valid order after them goes through the same mailbox: once it is accepted, anything the
    // frames had placed would be too, and GET /orders would list it beside this one.
    expect(await socket.request({ ...place, price: '2.00' }, 8)).toMatchObject({
      op: 'accepted',
      status: 'open',
    });
    const listed = await running.request('GET', '/api/v1/orders?market=BTC-USDC&status=open&limit=1000', {
      token: traderToken,
    });
    expect((listed.body as { price: string }[]).map((o) => o.price)).toEqual(['2.00']);
    socket.send({ op: 'cancel_all', rid: 9 });
    await socket.next((m) => m.rid === 9);
    socket.close();
  });
});
