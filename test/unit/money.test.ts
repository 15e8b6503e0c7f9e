import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMarketMoney, MarketSpecError } from '../../src/actors/money.ts';
import type { MarketMoneySpec, MoneyReason, MoneyResult } from '../../src/actors/money.ts';

const MAX = Number.MAX_SAFE_INTEGER;
const MAX_BIG = BigInt(MAX);
const REASONS: readonly MoneyReason[] = [
  'empty',
  'not_decimal',
  'too_many_decimals',
  'off_tick',
  'off_lot',
  'zero',
  'below_min',
  'above_max',
  'out_of_range',
];

/** priceDecimals 2, tick 0.05; qtyDecimals 3, lot 0.001; qty 0.010..1000; quote asset 6 decimals. */
const BASE_SPEC: MarketMoneySpec = {
  priceDecimals: 2,
  qtyDecimals: 3,
  tickSize: '0.05',
  lotSize: '0.001',
  minQty: '0.010',
  maxQty: '1000',
  baseDecimals: 8,
  quoteDecimals: 6,
};
const m = createMarketMoney(BASE_SPEC);

function reasonOf<T>(r: MoneyResult<T>): MoneyReason | 'ok' {
  return r.ok ? 'ok' : r.reason;
}

function valueOf<T>(r: MoneyResult<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.reason}: ${r.message}`);
  return r.value;
}

// ---------------------------------------------------------------------------------------------
// Reference model: regex + bigint, written independently of the implementation.

const PLAIN = /^(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;
const pow10 = (k: number): bigint => 10n ** BigInt(k);

type Ref = { reason: MoneyReason } | { value: number };

/** Value × 10^decimals, or the syntax reason. */
function refUnits(input: unknown, decimals: number): { reason: MoneyReason } | { units: bigint } {
  if (typeof input !== 'string') return { reason: 'not_decimal' };
  if (input === '') return { reason: 'empty' };
  const match = PLAIN.exec(input);
  if (!match) return { reason: 'not_decimal' };
  const frac = match[2] ?? '';
  if (frac.length > decimals) return { reason: 'too_many_decimals' };
  const units = BigInt((match[1] ?? '') + frac.padEnd(decimals, '0'));
  return units === 0n ? { reason: 'zero' } : { units };
}

function refPrice(input: unknown, pd: number, tickUnits: bigint): Ref {
  const u = refUnits(input, pd);
  if ('reason' in u) return u;
  if (u.units > MAX_BIG * tickUnits) return { reason: 'out_of_range' };
  if (u.units % tickUnits !== 0n) return { reason: 'off_tick' };
  return { value: Number(u.units / tickUnits) };
}

function refQty(input: unknown, qd: number, lotUnits: bigint, minLots: number, maxLots: number): Ref {
  const u = refUnits(input, qd);
  if ('reason' in u) return u;
  if (u.units < BigInt(minLots) * lotUnits) return { reason: 'below_min' };
  if (u.units > BigInt(maxLots) * lotUnits) return { reason: 'above_max' };
  if (u.units % lotUnits !== 0n) return { reason: 'off_lot' };
  return { value: Number(u.units / lotUnits) };
}

function refBudget(input: unknown, budgetDecimals: number, notionalDecimals: number, tickLot: bigint): Ref {
  const u = refUnits(input, budgetDecimals);
  if ('reason' in u) return u;
  const q = u.units / (tickLot * pow10(budgetDecimals - notionalDecimals));
  if (q > MAX_BIG) return { reason: 'out_of_range' };
  if (q === 0n) return { reason: 'below_min' };
  return { value: Number(q) };
}

function refFormat(units: bigint, decimals: number): string {
  const sign = units < 0n ? '-' : '';
  const digits = (units < 0n ? -units : units).toString().padStart(decimals + 1, '0');
  if (decimals === 0) return sign + digits;
  return `${sign}${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}

function asRef<T>(r: MoneyResult<T>): { reason: MoneyReason } | { value: T } {
  return r.ok ? { value: r.value } : { reason: r.reason };
}

// ---------------------------------------------------------------------------------------------
// Arbitraries.

interface GeneratedSpec {
  readonly spec: MarketMoneySpec;
  readonly tickUnits: bigint;
  readonly lotUnits: bigint;
  readonly minLots: number;
  readonly maxLots: number;
}

/** A decimal string for `units` at `decimals`, with some trailing fraction zeros dropped. */
function looseFormat(units: bigint, decimals: number, drop: number): string {
  let s = refFormat(units, decimals);
  if (!s.includes('.')) return s;
  for (let i = 0; i < drop && s.endsWith('0'); i++) s = s.slice(0, -1);
  return s.endsWith('.') ? s.slice(0, -1) : s;
}

const stepUnitsArb = fc.oneof(
  fc.bigInt({ min: 1n, max: 10n }),
  fc.bigInt({ min: 1n, max: 10n ** 6n }),
  fc.bigInt({ min: 1n, max: 10n ** 24n }),
  fc.integer({ min: 0, max: 18 }).map((k) => pow10(k)),
);

const lotsArb = fc.oneof(
  fc.integer({ min: 1, max: 1000 }),
  fc.integer({ min: 1, max: MAX }),
  fc.constant(MAX),
);

const specArb: fc.Arbitrary<GeneratedSpec> = fc
  .record({
    pd: fc.integer({ min: 0, max: 18 }),
    qd: fc.integer({ min: 0, max: 18 }),
    tickUnits: stepUnitsArb,
    lotUnits: stepUnitsArb,
    a: lotsArb,
    b: lotsArb,
    drop: fc.nat({ max: 20 }),
    extraQuote: fc.option(fc.nat({ max: 8 }), { nil: undefined }),
  })
  .map(({ pd, qd, tickUnits, lotUnits, a, b, drop, extraQuote }) => {
    const minLots = Math.min(a, b);
    const maxLots = Math.max(a, b);
    const spec: MarketMoneySpec = {
      priceDecimals: pd,
      qtyDecimals: qd,
      tickSize: looseFormat(tickUnits, pd, drop),
      lotSize: looseFormat(lotUnits, qd, drop),
      minQty: looseFormat(BigInt(minLots) * lotUnits, qd, drop),
      maxQty: refFormat(BigInt(maxLots) * lotUnits, qd),
      baseDecimals: qd,
      quoteDecimals: extraQuote === undefined ? undefined : pd + qd + extraQuote,
    };
    return { spec, tickUnits, lotUnits, minLots, maxLots };
  });

const digitsArb = (maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom('0', '1', '2', '5', '9'), maxLength });

/** Mostly near-valid decimal strings: digits, an optional point, sometimes a stray character. */
const decimalishArb: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('', '', '', '', '+', '-', ' ', '0'),
      digitsArb(30),
      fc.constantFrom('', '.', '.', '..'),
      digitsArb(22),
      fc.constantFrom('', '', '', '', 'e5', ' ', 'x', '.'),
    )
    .map((parts) => parts.join('')),
  fc
    .tuple(fc.bigInt({ min: 0n, max: 10n ** 40n }), fc.integer({ min: 0, max: 22 }), fc.nat({ max: 22 }))
    .map(([units, decimals, drop]) => looseFormat(units, decimals, drop)),
);

/** A decimal string that may be a multiple of `step` at `decimals`, or near one. */
const nearStepArb = (step: bigint, decimals: number): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 4n }), fc.bigInt({ min: 0n, max: MAX_BIG + 10n })),
      fc.constantFrom(-1n, 0n, 0n, 0n, 1n),
      fc.nat({ max: 20 }),
    )
    .map(([k, offset, drop]) => {
      const units = k * step + offset;
      return looseFormat(units < 0n ? 0n : units, decimals, drop);
    });

// ---------------------------------------------------------------------------------------------

describe('createMarketMoney: spec validation', () => {
  function refusal(patch: Partial<Record<keyof MarketMoneySpec, unknown>>): MarketSpecError {
    try {
      createMarketMoney({ ...BASE_SPEC, ...patch } as MarketMoneySpec);
    } catch (error) {
      if (error instanceof MarketSpecError) return error;
      throw error;
    }
    throw new Error('spec was accepted');
  }

  it('accepts a good spec and exposes it canonically', () => {
    expect(m.tickSize).toBe('0.05');
    expect(m.lotSize).toBe('0.001');
    expect(m.minQty).toBe('0.010');
    expect(m.maxQty).toBe('1000.000');
    expect(m.minLots).toBe(10);
    expect(m.maxLots).toBe(1_000_000);
    expect(m.notionalDecimals).toBe(5);
    expect(m.budgetDecimals).toBe(6);
    expect(m.quoteMinorPerTickLot).toBe(5n);
    expect(Object.isFrozen(m)).toBe(true);
  });

  it.each([
    [{ priceDecimals: -1 }, 'priceDecimals', /integer from 0 to 18, got -1/],
    [{ priceDecimals: 19 }, 'priceDecimals', /got 19/],
    [{ qtyDecimals: 1.5 }, 'qtyDecimals', /got 1.5/],
    [{ qtyDecimals: '3' }, 'qtyDecimals', /got "3"/],
    [{ tickSize: '0.001' }, 'tickSize', /tickSize "0.001" has 3 decimals, more than priceDecimals 2/],
    [{ tickSize: '0' }, 'tickSize', /tickSize must be positive/],
    [{ tickSize: '0.00' }, 'tickSize', /must be positive/],
    [{ tickSize: '-0.05' }, 'tickSize', /plain decimal/],
    [{ tickSize: 0.05 }, 'tickSize', /must be a decimal string, got 0.05/],
    [{ lotSize: '0.0001' }, 'lotSize', /more than qtyDecimals 3/],
    [{ lotSize: '0' }, 'lotSize', /positive/],
    [{ minQty: '0' }, 'minQty', /positive/],
    [{ minQty: '0.0105' }, 'minQty', /more than qtyDecimals/],
    [{ lotSize: '0.002', minQty: '0.011' }, 'minQty', /minQty "0.011" is not a multiple of lotSize "0.002"/],
    [{ lotSize: '0.002', maxQty: '999.999' }, 'maxQty', /not a multiple of lotSize/],
    [{ minQty: '2', maxQty: '1' }, 'minQty', /minQty "2" is above maxQty "1"/],
    [
      { lotSize: '1', minQty: '1', maxQty: '9007199254740992' },
      'maxQty',
      /more than Number.MAX_SAFE_INTEGER/,
    ],
    [{ baseDecimals: 2 }, 'qtyDecimals', /qtyDecimals 3 exceeds the base asset's decimals 2/],
    [{ quoteDecimals: 4 }, 'quoteDecimals', /\(2 \+ 3\) exceeds the quote asset's decimals 4/],
    [{ quoteDecimals: -1 }, 'quoteDecimals', /integer from 0 to 255/],
  ] as const)('refuses %o (%s)', (patch, field, message) => {
    const error = refusal(patch);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(/^market spec: /);
    expect(error.message).toMatch(message);
  });

  it('refuses a non-object spec', () => {
    expect(() => createMarketMoney(null as unknown as MarketMoneySpec)).toThrow(MarketSpecError);
  });

  it('accepts the largest safe maxQty and the decimal extremes', () => {
    const big = createMarketMoney({
      priceDecimals: 18,
      qtyDecimals: 0,
      tickSize: '0.000000000000000001',
      lotSize: '1',
      minQty: '1',
      maxQty: String(MAX),
    });
    expect(big.maxLots).toBe(MAX);
    expect(big.formatPrice(1)).toBe('0.000000000000000001');
    expect(big.formatQty(MAX)).toBe('9007199254740991');
    expect(() => createMarketMoney({ ...BASE_SPEC, quoteDecimals: 5, baseDecimals: 3 })).not.toThrow();
  });
});

describe('parsePrice', () => {
  it.each([
    ['1000', 20_000],
    ['1000.5', 20_010],
    ['1000.50', 20_010],
    ['0.05', 1],
    ['0.1', 2],
    ['450359962737049.55', MAX],
  ])('parses %j as %d ticks', (input, ticks) => {
    expect(m.parsePrice(input)).toEqual({ ok: true, value: ticks });
  });

  it.each([
    ['', 'empty'],
    ['+1', 'not_decimal'],
    ['-1', 'not_decimal'],
    ['-0', 'not_decimal'],
    ['1e5', 'not_decimal'],
    ['1E5', 'not_decimal'],
    [' 1', 'not_decimal'],
    ['1 ', 'not_decimal'],
    ['1 000', 'not_decimal'],
    ['.5', 'not_decimal'],
    ['1.', 'not_decimal'],
    ['.', 'not_decimal'],
    ['1..5', 'not_decimal'],
    ['1.2.3', 'not_decimal'],
    ['007', 'not_decimal'],
    ['00.5', 'not_decimal'],
    ['0x10', 'not_decimal'],
    ['NaN', 'not_decimal'],
    ['Infinity', 'not_decimal'],
    ['1,5', 'not_decimal'],
    ['١٢', 'not_decimal'],
    ['1000.505', 'too_many_decimals'],
    ['1000.500', 'too_many_decimals'],
    ['0', 'zero'],
    ['0.00', 'zero'],
    ['1000.53', 'off_tick'],
    ['0.01', 'off_tick'],
    ['450359962737049.60', 'out_of_range'],
    ['99999999999999999999999999999999999999', 'out_of_range'],
  ] as const)('refuses %j as %s', (input, reason) => {
    const r = m.parsePrice(input);
    expect(r).toMatchObject({ ok: false, code: 'bad_request', reason });
    if (!r.ok) expect(r.message).toContain('price');
  });

  it.each([[5], [5.5], [null], [undefined], [{}], [['1']], [10n]])('refuses the non-string %o', (input) => {
    expect(m.parsePrice(input)).toMatchObject({ ok: false, reason: 'not_decimal' });
  });

  it('names the field and explains the fault in the message', () => {
    const r = m.parsePrice('1e5', 'stopPrice');
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.message).toBe('stopPrice "1e5" is not a plain decimal: exponent notation is not allowed');
    const off = m.parsePrice('1000.53');
    if (!off.ok) expect(off.message).toBe('price "1000.53" is not a multiple of the tick size 0.05');
  });

  it('cuts a huge input short in the message', () => {
    const r = m.parsePrice('9'.repeat(100_000));
    expect(r).toMatchObject({ reason: 'out_of_range' });
    if (!r.ok) expect(r.message.length).toBeLessThan(200);
  });
});

describe('parseQty', () => {
  it.each([
    ['0.01', 10],
    ['0.010', 10],
    ['1', 1000],
    ['1000', 1_000_000],
    ['1000.000', 1_000_000],
  ])('parses %j as %d lots', (input, lots) => {
    expect(m.parseQty(input)).toEqual({ ok: true, value: lots });
  });

  it.each([
    ['', 'empty'],
    ['-1', 'not_decimal'],
    ['1e3', 'not_decimal'],
    ['0.0001', 'too_many_decimals'],
    ['0', 'zero'],
    ['0.000', 'zero'],
    ['0.009', 'below_min'],
    ['1000.001', 'above_max'],
    ['99999999999999999999999999999', 'above_max'],
  ] as const)('refuses %j as %s', (input, reason) => {
    expect(m.parseQty(input)).toMatchObject({ ok: false, code: 'bad_request', reason });
  });

  it('checks size before step: off_lot only within [minQty, maxQty]', () => {
    const coarse = createMarketMoney({ ...BASE_SPEC, lotSize: '0.005', minQty: '0.010', maxQty: '10' });
    expect(reasonOf(coarse.parseQty('0.011'))).toBe('off_lot');
    expect(reasonOf(coarse.parseQty('0.009'))).toBe('below_min');
    expect(reasonOf(coarse.parseQty('10.001'))).toBe('above_max');
    expect(reasonOf(coarse.parseQty('9.999'))).toBe('off_lot');
  });

  it('never reports out_of_range: maxQty bounds every quantity first', () => {
    const wide = createMarketMoney({
      ...BASE_SPEC,
      lotSize: '1',
      qtyDecimals: 0,
      minQty: '1',
      maxQty: String(MAX),
    });
    expect(valueOf(wide.parseQty(String(MAX)))).toBe(MAX);
    expect(reasonOf(wide.parseQty('9007199254740992'))).toBe('above_max');
  });
});

describe('parseQuoteBudget', () => {
  it('rounds down to whole tick×lot units (0.00005 quote here)', () => {
    expect(valueOf(m.parseQuoteBudget('0.00005'))).toBe(1);
    expect(valueOf(m.parseQuoteBudget('0.000099'))).toBe(1);
    expect(valueOf(m.parseQuoteBudget('0.0001'))).toBe(2);
    expect(valueOf(m.parseQuoteBudget('100.123456'))).toBe(2_002_469);
    expect(valueOf(m.parseQuoteBudget('1000'))).toBe(20_000_000);
  });

  it.each([
    ['', 'empty'],
    ['1.', 'not_decimal'],
    ['-5', 'not_decimal'],
    ['1.1234567', 'too_many_decimals'],
    ['0', 'zero'],
    ['0.000049', 'below_min'],
    ['450359962737.0496', 'out_of_range'],
  ] as const)('refuses %j as %s', (input, reason) => {
    expect(m.parseQuoteBudget(input)).toMatchObject({ ok: false, code: 'bad_request', reason });
  });

  it('allows priceDecimals + qtyDecimals decimals when the quote asset is unknown', () => {
    const bare = createMarketMoney({ ...BASE_SPEC, quoteDecimals: undefined });
    expect(bare.budgetDecimals).toBe(5);
    expect(valueOf(bare.parseQuoteBudget('0.00015'))).toBe(3);
    expect(reasonOf(bare.parseQuoteBudget('0.000150'))).toBe('too_many_decimals');
  });

  it('converts back to quote minor units exactly', () => {
    expect(m.budgetToQuoteMinor(2_002_469)).toBe(10_012_345n);
    expect(m.formatQuoteMinor(m.budgetToQuoteMinor(2_002_469))).toBe('100.12345');
  });
});

describe('minNotional (PROTOCOL v1.1)', () => {
  it('measures price × qty or a budget in whole tick×lot units, the minimum rounded up', () => {
    // One tick×lot is 0.00005 quote: 10.000001 needs 200 001 of them (200 000 is 10.00000 exactly).
    const spec = { ...BASE_SPEC, minNotional: '10.000001' };
    const money = createMarketMoney(spec);
    expect(money.minNotional).toBe('10.000001');
    expect(money.notionalProblem(200_000n, 'price × qty')).toBe(
      "price × qty 10.000000 is below the market's minNotional 10.000001",
    );
    expect(money.notionalProblem(200_001n, 'price × qty')).toBeUndefined();
    expect(
      createMarketMoney({ ...BASE_SPEC, minNotional: '10' }).notionalProblem(200_000n, 'x'),
    ).toBeUndefined();
    expect(m.minNotional).toBeUndefined();
    expect(m.notionalProblem(1n, 'price × qty')).toBeUndefined();
  });

  it.each(['0', '-1', '1e3', '1.1234567', ''])('refuses minNotional %j at listing', (minNotional) => {
    expect(() => createMarketMoney({ ...BASE_SPEC, minNotional })).toThrow(MarketSpecError);
  });

  it('allows priceDecimals + qtyDecimals decimals when the quote asset is unknown', () => {
    const bare = { ...BASE_SPEC, quoteDecimals: undefined };
    expect(createMarketMoney({ ...bare, minNotional: '0.00005' }).minNotional).toBe('0.00005');
    expect(() => createMarketMoney({ ...bare, minNotional: '0.000050' })).toThrow(
      /priceDecimals \+ qtyDecimals/,
    );
  });
});

describe('formatting', () => {
  it('writes exactly the market decimals', () => {
    expect(m.formatPrice(20_010)).toBe('1000.50');
    expect(m.formatPrice(1)).toBe('0.05');
    expect(m.formatPrice(0)).toBe('0.00');
    expect(m.formatPrice(-3)).toBe('-0.15');
    expect(m.formatPrice(MAX)).toBe('450359962737049.55');
    expect(m.formatQty(1)).toBe('0.001');
    expect(m.formatQty(0)).toBe('0.000');
    expect(m.formatQty(1_000_000)).toBe('1000.000');
  });

  it('writes no point when decimals are 0, and large steps exactly', () => {
    const whole = createMarketMoney({
      priceDecimals: 0,
      qtyDecimals: 0,
      tickSize: '1000000000000',
      lotSize: '1',
      minQty: '1',
      maxQty: '5',
    });
    expect(whole.formatPrice(3)).toBe('3000000000000');
    expect(whole.formatPrice(MAX)).toBe('9007199254740991000000000000');
    expect(whole.formatQty(5)).toBe('5');
    expect(valueOf(whole.parsePrice('9007199254740991000000000000'))).toBe(MAX);
    expect(reasonOf(whole.parsePrice('9007199254740992000000000000'))).toBe('out_of_range');
    expect(reasonOf(whole.parsePrice('1.0'))).toBe('too_many_decimals');
  });

  it('throws RangeError on a tick or lot count that is not a safe integer (a broken invariant)', () => {
    expect(() => m.formatPrice(1.5)).toThrow(RangeError);
    expect(() => m.formatPrice(MAX + 1)).toThrow(RangeError);
    expect(() => m.formatQty(Number.NaN)).toThrow(RangeError);
  });

  it('computes notional in quote minor units (priceDecimals + qtyDecimals decimals)', () => {
    expect(m.notionalToQuoteMinor(20_010, 1_500)).toBe(150_075_000n);
    expect(m.formatNotional(20_010, 1_500)).toBe('1500.75000');
    expect(m.formatNotional(MAX, MAX)).toBe(refFormat(MAX_BIG * MAX_BIG * 5n, 5));
    expect(m.formatQuoteMinor(-5n)).toBe('-0.00005');
  });
});

// ---------------------------------------------------------------------------------------------

describe('properties', () => {
  it('format then parse round-trips every valid tick and lot count', () => {
    fc.assert(
      fc.property(specArb, fc.integer({ min: 1, max: MAX }), fc.nat(), (g, ticks, pick) => {
        const money = createMarketMoney(g.spec);
        expect(valueOf(money.parsePrice(money.formatPrice(ticks)))).toBe(ticks);
        const lots = g.minLots + (pick % (g.maxLots - g.minLots + 1));
        expect(valueOf(money.parseQty(money.formatQty(lots)))).toBe(lots);
        expect(valueOf(money.parseQty(money.formatQty(g.minLots)))).toBe(g.minLots);
        expect(valueOf(money.parseQty(money.formatQty(g.maxLots)))).toBe(g.maxLots);
      }),
      { numRuns: 500 },
    );
  });

  it('parse then format is canonical: trailing zeros restored, value kept', () => {
    fc.assert(
      fc.property(specArb, fc.integer({ min: 1, max: MAX }), fc.nat({ max: 20 }), (g, ticks, drop) => {
        const money = createMarketMoney(g.spec);
        const canonical = refFormat(BigInt(ticks) * g.tickUnits, g.spec.priceDecimals);
        const loose = looseFormat(BigInt(ticks) * g.tickUnits, g.spec.priceDecimals, drop);
        expect(money.formatPrice(valueOf(money.parsePrice(loose)))).toBe(canonical);
        const lotsCanonical = refFormat(BigInt(g.minLots) * g.lotUnits, g.spec.qtyDecimals);
        expect(money.formatQty(valueOf(money.parseQty(g.spec.minQty)))).toBe(lotsCanonical);
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with the bigint reference on random decimal strings', () => {
    fc.assert(
      fc.property(
        specArb.chain((g) =>
          fc.tuple(
            fc.constant(g),
            fc.oneof(decimalishArb, nearStepArb(g.tickUnits, g.spec.priceDecimals)),
            fc.oneof(decimalishArb, nearStepArb(g.lotUnits, g.spec.qtyDecimals)),
            decimalishArb,
          ),
        ),
        ([g, priceInput, qtyInput, budgetInput]) => {
          const money = createMarketMoney(g.spec);
          const { priceDecimals: pd, qtyDecimals: qd } = g.spec;
          expect(asRef(money.parsePrice(priceInput))).toEqual(refPrice(priceInput, pd, g.tickUnits));
          expect(asRef(money.parseQty(qtyInput))).toEqual(
            refQty(qtyInput, qd, g.lotUnits, g.minLots, g.maxLots),
          );
          const budgetDecimals = g.spec.quoteDecimals ?? pd + qd;
          const tickLot = g.tickUnits * g.lotUnits;
          expect(asRef(money.parseQuoteBudget(budgetInput))).toEqual(
            refBudget(budgetInput, budgetDecimals, pd + qd, tickLot),
          );
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('a parsed budget never spends more than it was given, nor leaves a whole tick×lot unspent', () => {
    fc.assert(
      fc.property(specArb, decimalishArb, (g, input) => {
        const money = createMarketMoney(g.spec);
        const r = money.parseQuoteBudget(input);
        if (!r.ok) return;
        const given = refUnits(input, money.budgetDecimals);
        if (!('units' in given)) throw new Error('reference refused an accepted budget');
        const scale = pow10(money.budgetDecimals - money.notionalDecimals);
        const spent = money.budgetToQuoteMinor(r.value) * scale;
        expect(spent <= given.units).toBe(true);
        expect(given.units - spent < money.quoteMinorPerTickLot * scale).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('notional is price × qty exactly', () => {
    fc.assert(
      fc.property(
        specArb,
        fc.integer({ min: 0, max: MAX }),
        fc.integer({ min: 0, max: MAX }),
        (g, ticks, lots) => {
          const money = createMarketMoney(g.spec);
          const minor = BigInt(ticks) * g.tickUnits * BigInt(lots) * g.lotUnits;
          expect(money.notionalToQuoteMinor(ticks, lots)).toBe(minor);
          expect(money.formatNotional(ticks, lots)).toBe(refFormat(minor, money.notionalDecimals));
        },
      ),
    );
  });

  it('never throws on any input: every parse returns a Result', () => {
    const inputs = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.string({ unit: fc.constantFrom('0', '1', '9', '.', '-', '+', 'e', ' '), maxLength: 40 }),
      fc.anything(),
    );
    fc.assert(
      fc.property(specArb, inputs, (g, input) => {
        const money = createMarketMoney(g.spec);
        for (const r of [money.parsePrice(input), money.parseQty(input), money.parseQuoteBudget(input)]) {
          if (r.ok) {
            expect(Number.isSafeInteger(r.value) && r.value > 0).toBe(true);
          } else {
            expect(r.code).toBe('bad_request');
            expect(REASONS).toContain(r.reason);
            expect(r.message.length).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});
