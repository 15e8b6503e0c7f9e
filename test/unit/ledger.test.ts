import { beforeEach, describe, expect, it } from 'vitest';
import {
  EXTERNAL_ACCOUNT,
  FEE_ACCOUNT,
  feeOf,
  Ledger,
  LedgerConfigError,
  LedgerInvariantError,
} from '../../src/actors/ledger/index.ts';
import type {
  LedgerResult,
  LedgerSnapshot,
  Posting,
  TradeSettlement,
} from '../../src/actors/ledger/index.ts';

const E18 = 10n ** 18n;

let ledger: Ledger;

beforeEach(() => {
  ledger = new Ledger();
  ledger.defineAsset('ETH', 18);
  ledger.defineAsset('USD', 6);
});

function funded(): Ledger {
  ledger.deposit('alice', 'USD', 1_000_000n);
  ledger.deposit('bob', 'ETH', 5n * E18);
  return ledger;
}

/** A refusal must leave the ledger exactly as it was, rows and row order included. */
function expectRefused(run: () => LedgerResult, code: 'bad_request' | 'insufficient_funds'): void {
  const before = ledger.snapshot();
  const result = run();
  expect(result).toMatchObject({ ok: false, code });
  if (!result.ok) expect(result.message).not.toBe('');
  expect(ledger.snapshot()).toEqual(before);
}

function expectThrowsUnchanged(run: () => LedgerResult): void {
  const before = ledger.snapshot();
  expect(run).toThrow(LedgerInvariantError);
  expect(ledger.snapshot()).toEqual(before);
}

function sumsPerAsset(postings: readonly Posting[]): Map<string, bigint> {
  const sums = new Map<string, bigint>();
  for (const p of postings) sums.set(p.asset, (sums.get(p.asset) ?? 0n) + p.amount);
  return sums;
}

describe('assets', () => {
  it('defines an asset once, idempotently for the same decimals', () => {
    ledger.defineAsset('ETH', 18);
    expect(ledger.decimalsOf('ETH')).toBe(18);
    expect(ledger.decimalsOf('BTC')).toBeUndefined();
  });

  it('throws on bad definitions (config, not requests)', () => {
    const bad: [string, number][] = [
      ['ETH', 8],
      ['', 2],
      ['X', -1],
      ['X', 1.5],
      ['X', 256],
    ];
    for (const [symbol, decimals] of bad) {
      expect(() => {
        ledger.defineAsset(symbol, decimals);
      }).toThrow(LedgerConfigError);
    }
    expect(ledger.decimalsOf('X')).toBeUndefined();
  });
});

describe('deposit', () => {
  it('credits available against the external account, amounts beyond 2^53 included', () => {
    const amount = 123_456n * E18;
    const result = ledger.deposit('alice', 'ETH', amount);
    expect(result).toEqual({
      ok: true,
      postings: [
        { account: EXTERNAL_ACCOUNT, asset: 'ETH', bucket: 'available', amount: -amount, kind: 'deposit' },
        { account: 'alice', asset: 'ETH', bucket: 'available', amount, kind: 'deposit' },
      ],
    });
    expect(ledger.balance('alice', 'ETH')).toEqual({ available: amount, locked: 0n });
    expect(ledger.balance(EXTERNAL_ACCOUNT, 'ETH')).toEqual({ available: -amount, locked: 0n });
    expect(ledger.totals('ETH')).toEqual({ available: amount, locked: 0n, netDeposits: amount });
    expect(ledger.checkInvariants()).toEqual([]);
  });

  it('refuses an unknown asset, a non-positive amount and a bad party', () => {
    expectRefused(() => ledger.deposit('alice', 'BTC', 1n), 'bad_request');
    expectRefused(() => ledger.deposit('alice', 'USD', 0n), 'bad_request');
    expectRefused(() => ledger.deposit('alice', 'USD', -5n), 'bad_request');
    expectRefused(() => ledger.deposit(EXTERNAL_ACCOUNT, 'USD', 5n), 'bad_request');
    expectRefused(() => ledger.deposit('', 'USD', 5n), 'bad_request');
    expect(ledger.balancesOf('alice')).toEqual([]);
  });
});

describe('withdraw', () => {
  it('debits available back to the external account', () => {
    funded();
    const result = ledger.withdraw('alice', 'USD', 400_000n);
    expect(result.ok && result.postings).toEqual([
      { account: 'alice', asset: 'USD', bucket: 'available', amount: -400_000n, kind: 'withdrawal' },
      { account: EXTERNAL_ACCOUNT, asset: 'USD', bucket: 'available', amount: 400_000n, kind: 'withdrawal' },
    ]);
    expect(ledger.balance('alice', 'USD')).toEqual({ available: 600_000n, locked: 0n });
    expect(ledger.totals('USD').netDeposits).toBe(600_000n);
    expect(ledger.checkInvariants()).toEqual([]);
  });

  it('can empty an account exactly, but never touches locked funds', () => {
    funded();
    ledger.lock('alice', 'USD', 300_000n);
    expectRefused(() => ledger.withdraw('alice', 'USD', 700_001n), 'insufficient_funds');
    expect(ledger.withdraw('alice', 'USD', 700_000n).ok).toBe(true);
    expect(ledger.balance('alice', 'USD')).toEqual({ available: 0n, locked: 300_000n });
  });

  it('refuses without creating a row for a user it never saw', () => {
    expectRefused(() => ledger.withdraw('carol', 'USD', 1n), 'insufficient_funds');
    expect(ledger.balancesOf('carol')).toEqual([]);
  });

  it('refuses bad requests before looking at funds', () => {
    funded();
    expectRefused(() => ledger.withdraw('alice', 'BTC', 1n), 'bad_request');
    expectRefused(() => ledger.withdraw('alice', 'USD', 0n), 'bad_request');
    expectRefused(() => ledger.withdraw(EXTERNAL_ACCOUNT, 'USD', 1n), 'bad_request');
  });
});

describe('lock and unlock', () => {
  it('moves available to locked and back', () => {
    funded();
    const locked = ledger.lock('alice', 'USD', 250_000n);
    expect(locked.ok && locked.postings).toEqual([
      { account: 'alice', asset: 'USD', bucket: 'available', amount: -250_000n, kind: 'lock' },
      { account: 'alice', asset: 'USD', bucket: 'locked', amount: 250_000n, kind: 'lock' },
    ]);
    expect(ledger.balance('alice', 'USD')).toEqual({ available: 750_000n, locked: 250_000n });
    const unlocked = ledger.unlock('alice', 'USD', 50_000n);
    expect(unlocked.ok && unlocked.postings).toEqual([
      { account: 'alice', asset: 'USD', bucket: 'locked', amount: -50_000n, kind: 'unlock' },
      { account: 'alice', asset: 'USD', bucket: 'available', amount: 50_000n, kind: 'unlock' },
    ]);
    expect(ledger.balance('alice', 'USD')).toEqual({ available: 800_000n, locked: 200_000n });
    expect(ledger.totals('USD')).toEqual({ available: 800_000n, locked: 200_000n, netDeposits: 1_000_000n });
    expect(ledger.checkInvariants()).toEqual([]);
  });

  it('refuses to lock more than available', () => {
    funded();
    expectRefused(() => ledger.lock('alice', 'USD', 1_000_001n), 'insufficient_funds');
    expectRefused(() => ledger.lock('alice', 'ETH', 1n), 'insufficient_funds');
  });

  it('refuses bad lock and unlock requests', () => {
    funded();
    expectRefused(() => ledger.lock('alice', 'BTC', 1n), 'bad_request');
    expectRefused(() => ledger.lock('alice', 'USD', 0n), 'bad_request');
    expectRefused(() => ledger.unlock('alice', 'USD', -1n), 'bad_request');
    expectRefused(() => ledger.unlock(EXTERNAL_ACCOUNT, 'USD', 1n), 'bad_request');
  });

  it('throws when unlocking more than is locked (the caller lost track of its locks)', () => {
    funded();
    ledger.lock('alice', 'USD', 10n);
    expectThrowsUnchanged(() => ledger.unlock('alice', 'USD', 11n));
    expectThrowsUnchanged(() => ledger.unlock('nobody', 'USD', 1n));
  });
});

describe('settleTrade', () => {
  const fill: TradeSettlement = {
    buyer: 'alice',
    seller: 'bob',
    baseAsset: 'ETH',
    quoteAsset: 'USD',
    baseAmount: 2n * E18,
    quoteAmount: 300_000n,
    buyerFee: 2n * 10n ** 15n,
    sellerFee: 30n,
    buyerQuoteFromLocked: true,
    sellerBaseFromLocked: true,
  };

  function lockedBoth(): void {
    funded();
    ledger.lock('alice', 'USD', 400_000n);
    ledger.lock('bob', 'ETH', 3n * E18);
  }

  it('moves both legs out of the locks and the fees to the fee account, in one balanced set', () => {
    lockedBoth();
    const result = ledger.settleTrade(fill);
    expect(result.ok && result.postings).toEqual([
      { account: 'alice', asset: 'USD', bucket: 'locked', amount: -300_000n, kind: 'trade' },
      { account: 'bob', asset: 'USD', bucket: 'available', amount: 300_000n, kind: 'trade' },
      { account: 'bob', asset: 'ETH', bucket: 'locked', amount: -2n * E18, kind: 'trade' },
      { account: 'alice', asset: 'ETH', bucket: 'available', amount: 2n * E18, kind: 'trade' },
      { account: 'alice', asset: 'ETH', bucket: 'available', amount: -fill.buyerFee, kind: 'fee' },
      { account: FEE_ACCOUNT, asset: 'ETH', bucket: 'available', amount: fill.buyerFee, kind: 'fee' },
      { account: 'bob', asset: 'USD', bucket: 'available', amount: -30n, kind: 'fee' },
      { account: FEE_ACCOUNT, asset: 'USD', bucket: 'available', amount: 30n, kind: 'fee' },
    ]);
    if (result.ok) expect([...sumsPerAsset(result.postings).values()]).toEqual([0n, 0n]);
    expect(ledger.balance('alice', 'USD')).toEqual({ available: 600_000n, locked: 100_000n });
    expect(ledger.balance('alice', 'ETH')).toEqual({ available: 2n * E18 - fill.buyerFee, locked: 0n });
    expect(ledger.balance('bob', 'ETH')).toEqual({ available: 2n * E18, locked: E18 });
    expect(ledger.balance('bob', 'USD')).toEqual({ available: 299_970n, locked: 0n });
    expect(ledger.balancesOf(FEE_ACCOUNT)).toEqual([
      { asset: 'ETH', available: fill.buyerFee, locked: 0n },
      { asset: 'USD', available: 30n, locked: 0n },
    ]);
    expect(ledger.checkInvariants()).toEqual([]);
  });

  it('emits no fee postings for zero fees and pays from available when asked', () => {
    funded();
    const result = ledger.settleTrade({
      ...fill,
      buyerFee: 0n,
      sellerFee: 0n,
      buyerQuoteFromLocked: false,
      sellerBaseFromLocked: false,
    });
    expect(result.ok && result.postings.map((p) => [p.account, p.bucket, p.kind])).toEqual([
      ['alice', 'available', 'trade'],
      ['bob', 'available', 'trade'],
      ['bob', 'available', 'trade'],
      ['alice', 'available', 'trade'],
    ]);
    expect(ledger.balancesOf(FEE_ACCOUNT)).toEqual([]);
    expect(ledger.balance('alice', 'USD')).toEqual({ available: 700_000n, locked: 0n });
  });

  it('accepts a fee equal to the whole amount received', () => {
    lockedBoth();
    expect(ledger.settleTrade({ ...fill, buyerFee: fill.baseAmount, sellerFee: fill.quoteAmount }).ok).toBe(
      true,
    );
    expect(ledger.balance('alice', 'ETH')).toEqual({ available: 0n, locked: 0n });
    expect(ledger.checkInvariants()).toEqual([]);
  });

  it('settles a self-trade as offsetting postings', () => {
    ledger.deposit('alice', 'ETH', E18);
    ledger.deposit('alice', 'USD', 100n);
    ledger.lock('alice', 'USD', 100n);
    ledger.lock('alice', 'ETH', E18);
    const result = ledger.settleTrade({ ...fill, seller: 'alice', baseAmount: E18, quoteAmount: 100n });
    expect(result.ok).toBe(true);
    expect(ledger.balance('alice', 'USD')).toEqual({ available: 70n, locked: 0n });
    expect(ledger.balance('alice', 'ETH')).toEqual({ available: E18 - fill.buyerFee, locked: 0n });
  });

  it('refuses malformed fills with bad_request', () => {
    lockedBoth();
    expectRefused(() => ledger.settleTrade({ ...fill, baseAsset: 'BTC' }), 'bad_request');
    expectRefused(() => ledger.settleTrade({ ...fill, quoteAsset: 'BTC' }), 'bad_request');
    expectRefused(() => ledger.settleTrade({ ...fill, quoteAsset: 'ETH' }), 'bad_request');
    expectRefused(() => ledger.settleTrade({ ...fill, buyer: EXTERNAL_ACCOUNT }), 'bad_request');
    expectRefused(() => ledger.settleTrade({ ...fill, seller: '' }), 'bad_request');
    expectRefused(() => ledger.settleTrade({ ...fill, baseAmount: 0n }), 'bad_request');
    expectRefused(() => ledger.settleTrade({ ...fill, quoteAmount: -1n }), 'bad_request');
    expectRefused(() => ledger.settleTrade({ ...fill, buyerFee: -1n }), 'bad_request');
    expectRefused(() => ledger.settleTrade({ ...fill, buyerFee: fill.baseAmount + 1n }), 'bad_request');
    expectRefused(() => ledger.settleTrade({ ...fill, sellerFee: -1n }), 'bad_request');
    expectRefused(() => ledger.settleTrade({ ...fill, sellerFee: fill.quoteAmount + 1n }), 'bad_request');
  });

  it('refuses a side paying from available that is short, whichever side it is', () => {
    lockedBoth();
    const fromAvailable = { ...fill, buyerQuoteFromLocked: false, sellerBaseFromLocked: false };
    expectRefused(
      () => ledger.settleTrade({ ...fromAvailable, quoteAmount: 600_001n }),
      'insufficient_funds',
    );
    expectRefused(
      () => ledger.settleTrade({ ...fromAvailable, baseAmount: 2n * E18 + 1n }),
      'insufficient_funds',
    );
  });

  it('throws when a side paying from its lock has less locked than the fill', () => {
    lockedBoth();
    expectThrowsUnchanged(() => ledger.settleTrade({ ...fill, quoteAmount: 400_001n }));
    expectThrowsUnchanged(() => ledger.settleTrade({ ...fill, baseAmount: 3n * E18 + 1n, buyerFee: 0n }));
  });
});

describe('apply', () => {
  it('replays the postings of operations into an identical ledger', () => {
    const replica = new Ledger();
    replica.defineAsset('ETH', 18);
    replica.defineAsset('USD', 6);
    const results = [
      ledger.deposit('alice', 'USD', 500n),
      ledger.deposit('bob', 'ETH', 7n),
      ledger.lock('alice', 'USD', 300n),
      ledger.lock('bob', 'ETH', 7n),
      ledger.settleTrade({
        buyer: 'alice',
        seller: 'bob',
        baseAsset: 'ETH',
        quoteAsset: 'USD',
        baseAmount: 5n,
        quoteAmount: 250n,
        buyerFee: 1n,
        sellerFee: 2n,
        buyerQuoteFromLocked: true,
        sellerBaseFromLocked: true,
      }),
      ledger.unlock('alice', 'USD', 50n),
      ledger.withdraw('bob', 'USD', 248n),
    ];
    for (const result of results) {
      if (!result.ok) throw new Error(result.message);
      expect(replica.apply(result.postings)).toEqual(result);
    }
    expect(replica.snapshot()).toEqual(ledger.snapshot());
  });

  it('nets postings on the same row before checking for negatives', () => {
    const result = ledger.apply([
      { account: 'alice', asset: 'USD', bucket: 'available', amount: -5n, kind: 'trade' },
      { account: EXTERNAL_ACCOUNT, asset: 'USD', bucket: 'available', amount: -5n, kind: 'deposit' },
      { account: 'alice', asset: 'USD', bucket: 'available', amount: 10n, kind: 'deposit' },
    ]);
    expect(result.ok).toBe(true);
    expect(ledger.balance('alice', 'USD')).toEqual({ available: 5n, locked: 0n });
    expect(ledger.apply([]).ok).toBe(true);
  });

  it('refuses unbalanced, unknown or malformed sets', () => {
    const credit: Posting = {
      account: 'alice',
      asset: 'USD',
      bucket: 'available',
      amount: 5n,
      kind: 'deposit',
    };
    const debit: Posting = { ...credit, account: EXTERNAL_ACCOUNT, amount: -5n };
    expectRefused(() => ledger.apply([credit]), 'bad_request');
    expectRefused(() => ledger.apply([credit, { ...debit, amount: -4n }]), 'bad_request');
    expectRefused(
      () =>
        ledger.apply([
          { ...credit, asset: 'BTC' },
          { ...debit, asset: 'BTC' },
        ]),
      'bad_request',
    );
    expectRefused(() => ledger.apply([credit, { ...debit, bucket: 'locked' }]), 'bad_request');
    expectRefused(() => ledger.apply([{ ...credit, account: '' }, debit]), 'bad_request');
    const bogus = JSON.parse('{"bucket":"frozen","kind":"gift"}') as { bucket: 'locked'; kind: 'fee' };
    expectRefused(() => ledger.apply([{ ...credit, bucket: bogus.bucket }, debit]), 'bad_request');
    expectRefused(() => ledger.apply([{ ...credit, kind: bogus.kind }, debit]), 'bad_request');
  });

  it('refuses a set that would leave any non-external balance negative', () => {
    funded();
    expectRefused(
      () =>
        ledger.apply([
          { account: 'alice', asset: 'USD', bucket: 'locked', amount: -1n, kind: 'unlock' },
          { account: 'alice', asset: 'USD', bucket: 'available', amount: 1n, kind: 'unlock' },
        ]),
      'insufficient_funds',
    );
    expectRefused(
      () =>
        ledger.apply([
          { account: FEE_ACCOUNT, asset: 'USD', bucket: 'available', amount: -1n, kind: 'fee' },
          { account: 'alice', asset: 'USD', bucket: 'available', amount: 1n, kind: 'fee' },
        ]),
      'insufficient_funds',
    );
  });
});

describe('reads', () => {
  it('reports zeros for unknown rows and lists rows in the order they appeared', () => {
    funded();
    ledger.deposit('alice', 'ETH', 1n);
    expect(ledger.balance('nobody', 'USD')).toEqual({ available: 0n, locked: 0n });
    expect(ledger.balancesOf('nobody')).toEqual([]);
    expect(ledger.balancesOf('alice')).toEqual([
      { asset: 'USD', available: 1_000_000n, locked: 0n },
      { asset: 'ETH', available: 1n, locked: 0n },
    ]);
    expect(ledger.totals('BTC')).toEqual({ available: 0n, locked: 0n, netDeposits: 0n });
  });

  it('hands out copies, not the live rows', () => {
    funded();
    const before = ledger.balance('alice', 'USD');
    ledger.lock('alice', 'USD', 1n);
    expect(before).toEqual({ available: 1_000_000n, locked: 0n });
  });
});

describe('snapshot and restore', () => {
  it('round-trips through JSON into an identical ledger', () => {
    funded();
    ledger.lock('bob', 'ETH', E18);
    const snapshot = ledger.snapshot();
    const restored = Ledger.restore(JSON.parse(JSON.stringify(snapshot)) as LedgerSnapshot);
    expect(restored.snapshot()).toEqual(snapshot);
    expect(restored.balancesOf('bob')).toEqual(ledger.balancesOf('bob'));
    expect(restored.decimalsOf('ETH')).toBe(18);
    expect(restored.checkInvariants()).toEqual([]);
  });

  it('throws on corrupt snapshots', () => {
    funded();
    const good = ledger.snapshot();
    const withRows = (rows: LedgerSnapshot['accounts']): LedgerSnapshot => ({ ...good, accounts: rows });
    const alice = (available: string, locked = '0') => ({
      account: 'alice',
      balances: [{ asset: 'USD', available, locked }],
    });
    const external = {
      account: EXTERNAL_ACCOUNT,
      balances: [{ asset: 'USD', available: '-5', locked: '0' }],
    };
    expect(() => Ledger.restore(withRows([alice('5'), external]))).not.toThrow();
    expect(() => Ledger.restore(withRows([alice('6'), external]))).toThrow(LedgerInvariantError);
    expect(() => Ledger.restore(withRows([alice('10', '-5'), external]))).toThrow(LedgerInvariantError);
    expect(() => Ledger.restore(withRows([alice('5.0'), external]))).toThrow(LedgerInvariantError);
    expect(() => Ledger.restore(withRows([alice('5'), alice('0'), external]))).toThrow(LedgerInvariantError);
    expect(() =>
      Ledger.restore({ ...good, assets: [...good.assets, { symbol: 'ETH', decimals: 18 }] }),
    ).toThrow(LedgerInvariantError);
    expect(() => Ledger.restore({ ...good, assets: [] })).toThrow(LedgerInvariantError);
  });
});

describe('checkInvariants', () => {
  it('is empty for a fresh and for a busy ledger', () => {
    expect(new Ledger().checkInvariants()).toEqual([]);
    funded();
    ledger.lock('alice', 'USD', 7n);
    expect(ledger.checkInvariants()).toEqual([]);
  });
});

describe('feeOf', () => {
  it('rounds up to a whole minor unit (PROTOCOL v1.1: never 0 when the rate is above 0)', () => {
    expect(feeOf(1n, 1)).toBe(1n);
    expect(feeOf(9_999n, 1)).toBe(1n);
    expect(feeOf(10_000n, 1)).toBe(1n);
    expect(feeOf(10_001n, 1)).toBe(2n);
    expect(feeOf(1_000_000n, 25)).toBe(2_500n);
    expect(feeOf(0n, 25)).toBe(0n);
    expect(feeOf(123n, 0)).toBe(0n);
    expect(feeOf(123n, 10_000)).toBe(123n);
    expect(feeOf(3n * E18 + 7n, 30)).toBe(9n * 10n ** 15n + 1n);
  });

  it('charges the fees of a split at least the fee of the whole (rounding up per fill)', () => {
    const parts = [3_333n, 3_333n, 3_334n];
    const split = parts.reduce((sum, part) => sum + feeOf(part, 7), 0n);
    expect(split).toBeGreaterThanOrEqual(feeOf(10_000n, 7));
  });

  it('throws on a bad rate or a negative amount', () => {
    expect(() => feeOf(1n, -1)).toThrow(LedgerConfigError);
    expect(() => feeOf(1n, 10_001)).toThrow(LedgerConfigError);
    expect(() => feeOf(1n, 2.5)).toThrow(LedgerConfigError);
    expect(() => feeOf(-1n, 5)).toThrow(LedgerInvariantError);
  });
});
