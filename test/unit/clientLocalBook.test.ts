import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bookChecksum } from '../../src/protocol/checksum.ts';
import { compareDecimals, LocalBook } from '../../src/client/localBook.ts';
import type { BookDepth, BookLevel, BookMessage } from '../../src/protocol/messages.ts';

/**
 * The client's view of a book subscription (PROTOCOL.md, `book`). Examples first, with checksums
 * from a bitwise CRC-32 written here (so the crc-32 package is checked too); then a property test
 * that drives a full server-side book with random batches, derives each depth's snapshot and
 * deltas as the protocol requires, and checks the LocalBook against the reference after every step.
 */

/** CRC-32 (IEEE 802.3, reflected, as zlib), bit by bit. */
function crc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of new TextEncoder().encode(text)) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** The checksum string of the protocol, spelled out: best 10 asks, `|`, best 10 bids. */
function expectedChecksum(bids: readonly BookLevel[], asks: readonly BookLevel[]): number {
  const side = (levels: readonly BookLevel[]) =>
    levels
      .slice(0, 10)
      .map(([price, qty]) => `${price}:${qty}`)
      .join(',');
  return crc32(`${side(asks)}|${side(bids)}`);
}

const MARKET = 'LUXAPT-USDC';

function bookMessage(
  kind: 'snapshot' | 'delta',
  seq: number,
  bids: BookLevel[],
  asks: BookLevel[],
  /** The whole book expected after applying, for the checksum. */
  after: { bids: BookLevel[]; asks: BookLevel[] },
): BookMessage {
  return {
    op: 'book',
    market: MARKET,
    kind,
    seq,
    bids,
    asks,
    checksum: expectedChecksum(after.bids, after.asks),
  };
}

function snapshot(seq: number, bids: BookLevel[], asks: BookLevel[]): BookMessage {
  return bookMessage('snapshot', seq, bids, asks, { bids, asks });
}

describe('crc32 and bookChecksum', () => {
  it('the reference CRC gives the standard check value', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
  });

  it('checksums the best 10 asks, then the best 10 bids, as price:qty', () => {
    const bids: BookLevel[] = Array.from({ length: 12 }, (_, i) => [`${99 - i}.00`, `${i + 1}.0`]);
    const asks: BookLevel[] = Array.from({ length: 11 }, (_, i) => [`${100 + i}.00`, '0.5']);
    const text =
      '100.00:0.5,101.00:0.5,102.00:0.5,103.00:0.5,104.00:0.5,105.00:0.5,106.00:0.5,107.00:0.5,108.00:0.5,109.00:0.5' +
      '|99.00:1.0,98.00:2.0,97.00:3.0,96.00:4.0,95.00:5.0,94.00:6.0,93.00:7.0,92.00:8.0,91.00:9.0,90.00:10.0';
    expect(bookChecksum(bids, asks)).toBe(crc32(text));
    expect(bookChecksum([], [])).toBe(crc32('|'));
    expect(bookChecksum([['1.0', '2']], [])).toBe(crc32('|1.0:2'));
  });
});

describe('compareDecimals', () => {
  it.each([
    ['1', '2', -1],
    ['9.99', '10.00', -1],
    ['100.00', '99.99', 1],
    ['0.5', '0.51', -1],
    ['0.50', '0.5', 0],
    ['01.50', '1.5', 0],
    ['2', '2.00', 0],
    ['0.09', '0.1', -1],
    ['12345678901234567.01', '12345678901234567.02', -1],
    ['3.10', '3.09', 1],
  ])('%s vs %s', (a, b, sign) => {
    expect(Math.sign(compareDecimals(a, b))).toBe(sign);
    expect(Math.sign(compareDecimals(b, a))).toBe(0 - sign);
  });
});

describe('LocalBook', () => {
  const bids0: BookLevel[] = [
    ['10.00', '1.000'],
    ['9.50', '2.000'],
  ];
  const asks0: BookLevel[] = [
    ['10.50', '1.000'],
    ['100.00', '3.000'],
  ];

  function synced(): LocalBook {
    const book = new LocalBook(MARKET, 50);
    expect(book.apply(snapshot(5, bids0, asks0))).toBe('ok');
    return book;
  }

  it('takes a snapshot as the whole book', () => {
    const book = synced();
    expect(book.bids()).toEqual(bids0);
    expect(book.asks()).toEqual(asks0);
    expect(book.seq).toBe(5);
    expect(book.synced).toBe(true);
    expect(book.checksum()).toBe(expectedChecksum(bids0, asks0));
  });

  it('applies a delta: inserts in price order, sets new totals, removes "0" levels', () => {
    const book = synced();
    const after = {
      bids: [
        ['9.75', '4.000'],
        ['9.50', '2.000'],
      ] as BookLevel[],
      asks: [
        ['10.50', '2.000'],
        ['99.00', '1.500'],
        ['100.00', '3.000'],
      ] as BookLevel[],
    };
    const delta = bookMessage(
      'delta',
      6,
      [
        ['10.00', '0'],
        ['9.75', '4.000'],
      ],
      [
        ['10.50', '2.000'],
        ['99.00', '1.500'],
      ],
      after,
    );
    expect(book.apply(delta)).toBe('ok');
    expect(book.bids()).toEqual(after.bids);
    expect(book.asks()).toEqual(after.asks);
    expect(book.seq).toBe(6);
    expect(book.bids(1)).toEqual([['9.75', '4.000']]);
  });

  it('orders prices that a float cannot tell apart', () => {
    const book = new LocalBook(MARKET, 0);
    const bids: BookLevel[] = [
      ['12345678901234567.02', '1'],
      ['12345678901234567.01', '2'],
    ];
    expect(book.apply(snapshot(1, [], []))).toBe('ok');
    expect(book.apply(bookMessage('delta', 2, [bids[1]!, bids[0]!], [], { bids, asks: [] }))).toBe('ok');
    expect(book.bids()).toEqual(bids);
  });

  it('accepts a delta with empty sides (a change outside its window) and keeps the book', () => {
    const book = synced();
    expect(book.apply(bookMessage('delta', 6, [], [], { bids: bids0, asks: asks0 }))).toBe('ok');
    expect(book.seq).toBe(6);
    expect(book.bids()).toEqual(bids0);
  });

  it('reports a gap for a skipped seq, leaves the book as it was, and stays stale until a snapshot', () => {
    const book = synced();
    const after = { bids: [['9.50', '2.000']] as BookLevel[], asks: asks0 };
    expect(book.apply(bookMessage('delta', 7, [['10.00', '0']], [], after))).toBe('gap');
    expect(book.bids()).toEqual(bids0);
    expect(book.seq).toBe(5);
    expect(book.synced).toBe(false);
    // seq 6 would have followed the last applied message, but the stream already skipped one.
    expect(book.apply(bookMessage('delta', 6, [['10.00', '0']], [], after))).toBe('gap');
    expect(book.apply(snapshot(9, after.bids, after.asks))).toBe('ok');
    expect(book.synced).toBe(true);
    expect(book.seq).toBe(9);
  });

  it('reports a gap for a repeated seq and for a delta before any snapshot', () => {
    const book = synced();
    expect(book.apply(bookMessage('delta', 5, [], [], { bids: bids0, asks: asks0 }))).toBe('gap');
    const fresh = new LocalBook(MARKET, 10);
    expect(fresh.apply(bookMessage('delta', 1, [], [], { bids: [], asks: [] }))).toBe('gap');
    expect(fresh.seq).toBeUndefined();
  });

  it('reports a checksum mismatch, then treats the book as stale', () => {
    const book = synced();
    const wrong = { ...bookMessage('delta', 6, [['9.50', '2.500']], [], { bids: bids0, asks: asks0 }) };
    expect(book.apply(wrong)).toBe('mismatch');
    expect(book.synced).toBe(false);
    expect(book.apply(bookMessage('delta', 7, [], [], { bids: bids0, asks: asks0 }))).toBe('gap');
  });

  it('checks a snapshot against its checksum too', () => {
    const book = new LocalBook(MARKET, 10);
    expect(book.apply({ ...snapshot(3, bids0, asks0), checksum: expectedChecksum(bids0, []) })).toBe(
      'mismatch',
    );
  });

  it('refuses a message of another market', () => {
    const book = synced();
    expect(() => book.apply({ ...snapshot(1, [], []), market: 'OTHER-USDC' })).toThrow(/OTHER-USDC/);
  });

  it('returns copies: a caller cannot change the book', () => {
    const book = synced();
    book.bids().pop();
    expect(book.bids()).toEqual(bids0);
  });
});

// ---------------------------------------------------------------------------------------------
// Property: a reference full book on the server side, and the stream each depth's subscriber gets.

type SideName = 'bids' | 'asks';

const PRICE_DECIMALS = 2;
const QTY_DECIMALS = 3;
const PRICE_POINTS = 150;

/** Bid prices 0.05 … 19.42 and ask prices 20.00 … 110.89: both sides cross a digit boundary. */
const tickOf = (side: SideName, point: number) => (side === 'bids' ? 5 + 13 * point : 2000 + 61 * point);

function formatUnits(units: number, decimals: number): string {
  const digits = String(units).padStart(decimals + 1, '0');
  return `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}

/** A price this test formatted back to integer ticks (exact: always PRICE_DECIMALS decimals). */
const ticksOf = (price: string) => Number(price.replace('.', ''));

interface LevelChange {
  readonly side: SideName;
  readonly point: number;
  /** New total in lots; 0 removes the level. */
  readonly lots: number;
}

/** The server's whole book with integer prices (ticks) and quantities (lots). */
class FullBook {
  readonly #sides: Record<SideName, Map<number, number>> = { bids: new Map(), asks: new Map() };

  /** Applies one committed batch; false when it left the book as it was (no `seq` step then). */
  apply(batch: readonly LevelChange[]): boolean {
    let changed = false;
    for (const { side, point, lots } of batch) {
      const levels = this.#sides[side];
      const tick = tickOf(side, point);
      if ((levels.get(tick) ?? 0) === lots) continue;
      changed = true;
      if (lots === 0) levels.delete(tick);
      else levels.set(tick, lots);
    }
    return changed;
  }

  /** The best `depth` levels (all for 0), best first, formatted as the server sends them. */
  best(side: SideName, depth: BookDepth): BookLevel[] {
    const entries = [...this.#sides[side]].sort(([a], [b]) => (side === 'bids' ? b - a : a - b));
    return (depth === 0 ? entries : entries.slice(0, depth)).map(([tick, lots]) => [
      formatUnits(tick, PRICE_DECIMALS),
      formatUnits(lots, QTY_DECIMALS),
    ]);
  }
}

interface StreamStep {
  readonly message: BookMessage;
  /** The subscriber's book after this message: the reference's best N per side. */
  readonly bids: BookLevel[];
  readonly asks: BookLevel[];
  /** The snapshot a fresh `sub` would get at this point. */
  readonly snapshot: BookMessage;
}

/** What changes between two windows of one side: new or changed levels with totals, dropped ones as "0". */
function windowDelta(before: readonly BookLevel[], after: readonly BookLevel[], side: SideName): BookLevel[] {
  const old = new Map(before);
  const now = new Map(after);
  const changes: BookLevel[] = after.filter(([price, qty]) => old.get(price) !== qty);
  for (const [price] of before) if (!now.has(price)) changes.push([price, '0']);
  const sign = side === 'bids' ? -1 : 1;
  return changes.sort(([a], [b]) => sign * (ticksOf(a) - ticksOf(b)));
}

/**
 * The messages of one depth-N subscription taken after `warmup` batches: its snapshot, then one
 * delta per batch that changed the book (possibly with empty sides when only levels outside the
 * window changed), each with the checksum over the best 10 of the result.
 */
function bookStream(
  batches: readonly (readonly LevelChange[])[],
  depth: BookDepth,
  warmup: number,
): StreamStep[] {
  const full = new FullBook();
  let seq = 0;
  for (const batch of batches.slice(0, warmup)) if (full.apply(batch)) seq++;
  const bids = full.best('bids', depth);
  const asks = full.best('asks', depth);
  const first: BookMessage = {
    op: 'book',
    market: MARKET,
    kind: 'snapshot',
    seq,
    bids,
    asks,
    checksum: expectedChecksum(bids, asks),
  };
  const steps: StreamStep[] = [{ message: first, bids, asks, snapshot: first }];
  for (const batch of batches.slice(warmup)) {
    const before = steps.at(-1)!;
    if (!full.apply(batch)) continue;
    seq++;
    const bids = full.best('bids', depth);
    const asks = full.best('asks', depth);
    const message: BookMessage = {
      op: 'book',
      market: MARKET,
      kind: 'delta',
      seq,
      bids: windowDelta(before.bids, bids, 'bids'),
      asks: windowDelta(before.asks, asks, 'asks'),
      checksum: expectedChecksum(bids, asks),
    };
    steps.push({ message, bids, asks, snapshot: { ...message, kind: 'snapshot', bids, asks } });
  }
  return steps;
}

const levelChangeArb: fc.Arbitrary<LevelChange> = fc.record({
  side: fc.constantFrom<SideName>('bids', 'asks'),
  point: fc.integer({ min: 0, max: PRICE_POINTS - 1 }),
  lots: fc.oneof(
    { arbitrary: fc.constant(0), weight: 1 },
    { arbitrary: fc.integer({ min: 1, max: 2_000_000 }), weight: 3 },
  ),
});

/** Short histories shrink well; long ones (size 'max') fill the book past the 50-level window. */
const batchesArb = fc.array(levelChangeArb, { minLength: 1, maxLength: 6 });
const historyArb = fc.record({
  batches: fc.oneof(
    fc.array(batchesArb, { minLength: 2, maxLength: 30 }),
    fc.array(batchesArb, { minLength: 2, maxLength: 150, size: 'max' }),
  ),
  warmupShare: fc.double({ min: 0, max: 0.9, noNaN: true }),
});

const DEPTHS: readonly BookDepth[] = [10, 50, 0];

function streams(history: { batches: readonly (readonly LevelChange[])[]; warmupShare: number }) {
  const warmup = Math.floor(history.batches.length * history.warmupShare);
  return DEPTHS.map((depth) => ({ depth, steps: bookStream(history.batches, depth, warmup) }));
}

/** Levels as one string: comparing strings keeps 100k comparisons of deep books fast. */
const text = (levels: readonly BookLevel[]) => levels.map(([price, qty]) => `${price}:${qty}`).join(' ');

function expectBookAt(book: LocalBook, step: StreamStep, depth: BookDepth): void {
  expect(text(book.bids())).toBe(text(step.bids));
  expect(text(book.asks())).toBe(text(step.asks));
  expect(book.seq).toBe(step.message.seq);
  if (depth > 0) {
    expect(book.bids().length).toBeLessThanOrEqual(depth);
    expect(book.asks().length).toBeLessThanOrEqual(depth);
  }
}

describe('LocalBook against a reference book (property)', () => {
  it('follows every depth exactly, message by message', () => {
    let deepestWindow = 0;
    fc.assert(
      fc.property(historyArb, (history) => {
        for (const { depth, steps } of streams(history)) {
          const book = new LocalBook(MARKET, depth);
          for (const step of steps) {
            expect(book.apply(step.message)).toBe('ok');
            expectBookAt(book, step, depth);
            deepestWindow = Math.max(deepestWindow, step.bids.length, step.asks.length);
          }
        }
      }),
      { numRuns: 100 },
    );
    // The generated books were deep enough to push levels through the 10- and 50-level windows.
    expect(deepestWindow).toBeGreaterThan(50);
  });

  it('reports a gap when a message is skipped and recovers from a fresh snapshot', () => {
    fc.assert(
      fc.property(historyArb, fc.nat(), (history, skipSeed) => {
        for (const { depth, steps } of streams(history)) {
          fc.pre(steps.length >= 3);
          const skipped = 1 + (skipSeed % (steps.length - 2));
          const book = new LocalBook(MARKET, depth);
          for (const step of steps.slice(0, skipped)) expect(book.apply(step.message)).toBe('ok');
          expect(book.apply(steps[skipped + 1]!.message)).toBe('gap');
          expectBookAt(book, steps[skipped - 1]!, depth);
          const resumeAt = Math.min(skipped + 2, steps.length - 1);
          if (resumeAt > skipped + 1) expect(book.apply(steps[resumeAt]!.message)).toBe('gap');
          expect(book.apply(steps[resumeAt]!.snapshot)).toBe('ok');
          expectBookAt(book, steps[resumeAt]!, depth);
          for (const step of steps.slice(resumeAt + 1)) {
            expect(book.apply(step.message)).toBe('ok');
            expectBookAt(book, step, depth);
          }
        }
      }),
      { numRuns: 100 },
    );
  });

  it('reports a mismatch when a quantity inside the checksummed levels is corrupted', () => {
    fc.assert(
      fc.property(historyArb, fc.nat(), (history, corruptSeed) => {
        for (const { depth, steps } of streams(history)) {
          const from = corruptSeed % steps.length;
          const target = steps.findIndex((step, i) => i >= from && corruptibleLevel(step) !== undefined);
          fc.pre(target >= 0);
          const step = steps[target]!;
          const { side, index } = corruptibleLevel(step)!;
          const levels = step.message[side].slice();
          const [price, qty] = levels[index]!;
          levels[index] = [price, bumpLastDigit(qty)];
          const book = new LocalBook(MARKET, depth);
          for (const earlier of steps.slice(0, target)) expect(book.apply(earlier.message)).toBe('ok');
          expect(book.apply({ ...step.message, [side]: levels })).toBe('mismatch');
          const next = steps[target + 1];
          if (next !== undefined) expect(book.apply(next.message)).toBe('gap');
        }
      }),
      { numRuns: 100 },
    );
  });
});

/** A non-removal level of the message that ends up among the best 10 of its side. */
function corruptibleLevel(step: StreamStep): { side: SideName; index: number } | undefined {
  for (const side of ['bids', 'asks'] as const) {
    const top10 = new Set(step[side].slice(0, 10).map(([price]) => price));
    const index = step.message[side].findIndex(([price, qty]) => qty !== '0' && top10.has(price));
    if (index >= 0) return { side, index };
  }
  return undefined;
}

/** Another valid quantity of the same shape: the last digit changed. */
function bumpLastDigit(qty: string): string {
  const last = Number(qty.at(-1));
  return `${qty.slice(0, -1)}${(last + 1) % 10}`;
}
