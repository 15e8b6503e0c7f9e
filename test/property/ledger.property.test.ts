import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EXTERNAL_ACCOUNT,
  FEE_ACCOUNT,
  feeOf,
  Ledger,
  LedgerInvariantError,
} from '../../src/actors/ledger/index.ts';
import type {
  Bucket,
  LedgerResult,
  LedgerSnapshot,
  Posting,
  TradeSettlement,
} from '../../src/actors/ledger/index.ts';

/**
 * The ledger against a plain-object reference model, over random sequences of deposits,
 * withdrawals, locks, unlocks and trades between a few users and three assets (one of them at 18
 * decimals, with amounts far past 2^53). After every command: same outcome, same balances and rows,
 * the invariants hold in both, the postings balance per asset (and per kind within a set). At the
 * end: a snapshot restores to an identical ledger and replaying every posting set rebuilds it.
 */

const NUM_RUNS = 120;
const ASSETS: readonly (readonly [string, number])[] = [
  ['AAA', 0],
  ['BBB', 6],
  ['CCC', 18],
];
const USERS = ['u1', 'u2', 'u3'];
const PARTIES = [...USERS, FEE_ACCOUNT];

type Single = 'deposit' | 'withdraw' | 'lock' | 'unlock';
type Command =
  | { readonly op: Single; readonly user: string; readonly asset: string; readonly amount: bigint }
  | { readonly op: 'trade'; readonly trade: TradeSettlement };
type Outcome = 'ok' | 'bad_request' | 'insufficient_funds' | 'throws';

/**
 * Amounts are generated as a share (permille, up to 110 %) of what the payer holds at that moment
 * and resolved against the model just before the command runs, so most withdrawals, locks, unlocks
 * and fills can succeed while overdrafts and exact emptying still come up; `raw` covers zero and
 * negative amounts. Fees are a share of the amount received, or one past it.
 */
type Amount = { readonly share: number } | { readonly raw: bigint };
type Fee = Amount | { readonly over: true };
/** When set, the party is the pick-th account holding something in the bucket it pays from, if any. */
type Pick = number | undefined;
type Intent =
  | {
      readonly op: Single;
      readonly user: string;
      readonly pick: Pick;
      readonly asset: string;
      readonly amount: Amount;
    }
  | {
      readonly op: 'trade';
      readonly buyer: string;
      readonly buyerPick: Pick;
      readonly seller: string;
      readonly sellerPick: Pick;
      readonly pair: readonly string[];
      readonly baseAmount: Amount;
      readonly quoteAmount: Amount;
      readonly buyerFee: Fee;
      readonly sellerFee: Fee;
      readonly buyerQuoteFromLocked: boolean;
      readonly sellerBaseFromLocked: boolean;
    };

const SYMBOLS = ASSETS.map(([symbol]) => symbol);
const pickArb = fc.option(fc.nat(), { freq: 4, nil: undefined });
const userArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...USERS) },
  { weight: 1, arbitrary: fc.constantFrom(FEE_ACCOUNT, EXTERNAL_ACCOUNT, '') },
);
const assetArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...SYMBOLS) },
  { weight: 1, arbitrary: fc.constant('ZZZ') },
);
const pairArb = fc.oneof(
  { weight: 12, arbitrary: fc.shuffledSubarray(SYMBOLS, { minLength: 2, maxLength: 2 }) },
  { weight: 1, arbitrary: fc.tuple(assetArb, assetArb) },
);
const shareArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 1_100 }).map((share): Amount => ({ share })) },
  { weight: 2, arbitrary: fc.constant<Amount>({ share: 1_000 }) },
  { weight: 1, arbitrary: fc.bigInt({ min: -2n, max: 0n }).map((raw): Amount => ({ raw })) },
);
const depositAmountArb = fc.oneof(
  { weight: 10, arbitrary: fc.bigInt({ min: 1n, max: 1_000n }).map((raw): Amount => ({ raw })) },
  { weight: 2, arbitrary: fc.bigInt({ min: 1n, max: 10n ** 24n }).map((raw): Amount => ({ raw })) },
  { weight: 1, arbitrary: fc.bigInt({ min: -1n, max: 0n }).map((raw): Amount => ({ raw })) },
);
const feeArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Fee>({ raw: 0n }) },
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 1_000 }).map((share): Fee => ({ share })) },
  { weight: 1, arbitrary: fc.constantFrom<Fee>({ raw: -1n }, { over: true }) },
);

const intentArb: fc.Arbitrary<Intent> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('deposit' as const),
      user: userArb,
      pick: fc.constant(undefined),
      asset: assetArb,
      amount: depositAmountArb,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constantFrom<Single>('withdraw', 'lock', 'lock', 'lock', 'unlock'),
      user: userArb,
      pick: pickArb,
      asset: assetArb,
      amount: shareArb,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('trade' as const),
      buyer: userArb,
      buyerPick: pickArb,
      seller: userArb,
      sellerPick: pickArb,
      pair: pairArb,
      baseAmount: shareArb,
      quoteAmount: shareArb,
      buyerFee: feeArb,
      sellerFee: feeArb,
      buyerQuoteFromLocked: fc.boolean(),
      sellerBaseFromLocked: fc.boolean(),
    }),
  },
);
const intentsArb = fc.array(intentArb, { maxLength: 100, size: 'max' });

function amountOf(amount: Amount, held: bigint): bigint {
  if ('raw' in amount) return amount.raw;
  const scaled = (held * BigInt(amount.share) + 999n) / 1_000n;
  return scaled > 0n ? scaled : 1n;
}

function feeOn(fee: Fee, received: bigint): bigint {
  if ('over' in fee) return received + 1n;
  if ('raw' in fee) return fee.raw;
  return (received * BigInt(fee.share)) / 1_000n;
}

function holder(model: ModelLedger, asset: string, bucket: Bucket, pick: Pick, fallback: string): string {
  if (pick === undefined) return fallback;
  const holders = PARTIES.filter((account) => model.peek(account, asset)[bucket] > 0n);
  return holders[pick % Math.max(holders.length, 1)] ?? fallback;
}

function resolve(intent: Intent, model: ModelLedger): Command {
  if (intent.op !== 'trade') {
    const { op, asset } = intent;
    const bucket = op === 'unlock' ? 'locked' : 'available';
    const user = holder(model, asset, bucket, intent.pick, intent.user);
    return { op, user, asset, amount: amountOf(intent.amount, model.peek(user, asset)[bucket]) };
  }
  const { buyerQuoteFromLocked, sellerBaseFromLocked } = intent;
  const [baseAsset = '', quoteAsset = ''] = intent.pair;
  const buyerBucket = buyerQuoteFromLocked ? 'locked' : 'available';
  const sellerBucket = sellerBaseFromLocked ? 'locked' : 'available';
  const buyer = holder(model, quoteAsset, buyerBucket, intent.buyerPick, intent.buyer);
  const seller = holder(model, baseAsset, sellerBucket, intent.sellerPick, intent.seller);
  const quoteHeld = model.peek(buyer, quoteAsset)[buyerBucket];
  const baseHeld = model.peek(seller, baseAsset)[sellerBucket];
  const baseAmount = amountOf(intent.baseAmount, baseHeld);
  const quoteAmount = amountOf(intent.quoteAmount, quoteHeld);
  const buyerFee = feeOn(intent.buyerFee, baseAmount);
  const sellerFee = feeOn(intent.sellerFee, quoteAmount);
  const trade = { buyer, seller, baseAsset, quoteAsset, baseAmount, quoteAmount, buyerFee, sellerFee };
  return { op: 'trade', trade: { ...trade, buyerQuoteFromLocked, sellerBaseFromLocked } };
}

interface Row {
  available: bigint;
  locked: bigint;
}

/** Obviously correct and slow: plain objects, every check spelled out, sums recomputed. */
class ModelLedger {
  readonly rows: Record<string, Record<string, Row>> = {};
  readonly netDeposits: Record<string, bigint> = {};

  row(account: string, asset: string): Row {
    const rows = (this.rows[account] ??= {});
    return (rows[asset] ??= { available: 0n, locked: 0n });
  }

  peek(account: string, asset: string): Row {
    return this.rows[account]?.[asset] ?? { available: 0n, locked: 0n };
  }

  run(command: Command): Outcome {
    return command.op === 'trade' ? this.trade(command.trade) : this.single(command);
  }

  private single({ op, user, asset, amount }: Command & { op: Single }): Outcome {
    if (!known(asset) || !party(user) || amount <= 0n) return 'bad_request';
    const { available, locked } = this.peek(user, asset);
    if (op === 'unlock' && locked < amount) return 'throws';
    if ((op === 'withdraw' || op === 'lock') && available < amount) return 'insufficient_funds';
    const row = this.row(user, asset);
    if (op === 'deposit') this.netDeposits[asset] = (this.netDeposits[asset] ?? 0n) + amount;
    if (op === 'withdraw') this.netDeposits[asset] = (this.netDeposits[asset] ?? 0n) - amount;
    if (op === 'deposit' || op === 'unlock') row.available += amount;
    if (op === 'withdraw' || op === 'lock') row.available -= amount;
    if (op === 'lock') row.locked += amount;
    if (op === 'unlock') row.locked -= amount;
    return 'ok';
  }

  private trade(t: TradeSettlement): Outcome {
    const { buyer, seller, baseAsset: base, quoteAsset: quote, baseAmount, quoteAmount } = t;
    if (!known(base) || !known(quote) || base === quote || !party(buyer) || !party(seller))
      return 'bad_request';
    if (baseAmount <= 0n || quoteAmount <= 0n) return 'bad_request';
    if (t.buyerFee < 0n || t.buyerFee > baseAmount || t.sellerFee < 0n || t.sellerFee > quoteAmount) {
      return 'bad_request';
    }
    const buyerBucket = t.buyerQuoteFromLocked ? 'locked' : 'available';
    const sellerBucket = t.sellerBaseFromLocked ? 'locked' : 'available';
    const buyerShort = this.peek(buyer, quote)[buyerBucket] < quoteAmount;
    const sellerShort = this.peek(seller, base)[sellerBucket] < baseAmount;
    if ((t.buyerQuoteFromLocked && buyerShort) || (t.sellerBaseFromLocked && sellerShort)) return 'throws';
    if (buyerShort || sellerShort) return 'insufficient_funds';
    this.row(buyer, quote)[buyerBucket] -= quoteAmount;
    this.row(seller, quote).available += quoteAmount - t.sellerFee;
    this.row(seller, base)[sellerBucket] -= baseAmount;
    this.row(buyer, base).available += baseAmount - t.buyerFee;
    if (t.buyerFee > 0n) this.row(FEE_ACCOUNT, base).available += t.buyerFee;
    if (t.sellerFee > 0n) this.row(FEE_ACCOUNT, quote).available += t.sellerFee;
    return 'ok';
  }

  /** The same invariants, recomputed from scratch over the plain objects. */
  violations(): string[] {
    const violations: string[] = [];
    for (const [asset] of ASSETS) {
      let sum = 0n;
      for (const [account, rows] of Object.entries(this.rows)) {
        const row = rows[asset];
        if (row === undefined) continue;
        if (row.available < 0n || row.locked < 0n) violations.push(`${account} ${asset} negative`);
        sum += row.available + row.locked;
      }
      if (sum !== (this.netDeposits[asset] ?? 0n)) violations.push(`${asset} sums to ${sum}`);
    }
    return violations;
  }
}

function known(asset: string): boolean {
  return ASSETS.some(([symbol]) => symbol === asset);
}

function party(account: string): boolean {
  return account !== '' && account !== EXTERNAL_ACCOUNT;
}

function execute(ledger: Ledger, command: Command): LedgerResult {
  if (command.op === 'trade') return ledger.settleTrade(command.trade);
  const { user, asset, amount } = command;
  if (command.op === 'deposit') return ledger.deposit(user, asset, amount);
  if (command.op === 'withdraw') return ledger.withdraw(user, asset, amount);
  if (command.op === 'lock') return ledger.lock(user, asset, amount);
  return ledger.unlock(user, asset, amount);
}

function newLedger(): Ledger {
  const ledger = new Ledger();
  for (const [symbol, decimals] of ASSETS) ledger.defineAsset(symbol, decimals);
  return ledger;
}

/** Zero per asset for the whole set and for each kind within it; no zero-amount postings. */
function expectBalanced(postings: readonly Posting[]): void {
  const sums = new Map<string, bigint>();
  for (const { asset, amount, kind } of postings) {
    if (amount === 0n) throw new Error('zero-amount posting');
    sums.set(asset, (sums.get(asset) ?? 0n) + amount);
    sums.set(`${kind}:${asset}`, (sums.get(`${kind}:${asset}`) ?? 0n) + amount);
  }
  expect([...sums].filter(([, sum]) => sum !== 0n)).toEqual([]);
}

/** One deep comparison per step: rows in order, the external account and the totals of each asset. */
function ledgerView(ledger: Ledger): unknown {
  return {
    rows: PARTIES.map((account) => ledger.balancesOf(account)),
    external: SYMBOLS.map((asset) => ledger.balance(EXTERNAL_ACCOUNT, asset)),
    totals: SYMBOLS.map((asset) => ledger.totals(asset)),
  };
}

function modelView(model: ModelLedger): unknown {
  const sum = (asset: string, bucket: Bucket) =>
    PARTIES.reduce((total, account) => total + model.peek(account, asset)[bucket], 0n);
  return {
    rows: PARTIES.map((account) =>
      Object.entries(model.rows[account] ?? {}).map(([asset, row]) => ({ asset, ...row })),
    ),
    external: SYMBOLS.map((asset) => ({ available: -(model.netDeposits[asset] ?? 0n), locked: 0n })),
    totals: SYMBOLS.map((asset) => ({
      available: sum(asset, 'available'),
      locked: sum(asset, 'locked'),
      netDeposits: model.netDeposits[asset] ?? 0n,
    })),
  };
}

const tally: Record<string, number> = {};

function step(ledger: Ledger, model: ModelLedger, command: Command): LedgerResult | undefined {
  const before = ledger.snapshot();
  const expected = model.run(command);
  tally[`${command.op}:${expected}`] = (tally[`${command.op}:${expected}`] ?? 0) + 1;
  if (expected === 'throws') {
    expect(() => execute(ledger, command)).toThrow(LedgerInvariantError);
    expect(ledger.snapshot()).toEqual(before);
    return undefined;
  }
  const result = execute(ledger, command);
  if (result.ok) expectBalanced(result.postings);
  else expect(ledger.snapshot()).toEqual(before);
  expect(result.ok ? 'ok' : result.code).toBe(expected);
  return result;
}

describe('ledger against the reference model', () => {
  it('agrees on every outcome and balance, keeps the invariants, snapshots and replays exactly', () => {
    fc.assert(
      fc.property(intentsArb, (intents) => {
        const ledger = newLedger();
        const replica = newLedger();
        const model = new ModelLedger();
        for (const intent of intents) {
          const result = step(ledger, model, resolve(intent, model));
          if (result?.ok === true) expect(replica.apply(result.postings)).toEqual(result);
          expect([...ledger.checkInvariants(), ...model.violations()]).toEqual([]);
          expect(ledgerView(ledger)).toEqual(modelView(model));
        }
        const snapshot = ledger.snapshot();
        expect(replica.snapshot()).toEqual(snapshot);
        const restored = Ledger.restore(JSON.parse(JSON.stringify(snapshot)) as LedgerSnapshot);
        expect(restored.snapshot()).toEqual(snapshot);
        expect(ledgerView(restored)).toEqual(modelView(model));
      }),
      { numRuns: NUM_RUNS },
    );
    // The generator must reach every outcome of every operation, or the agreement above is hollow.
    for (const op of ['deposit', 'withdraw', 'lock', 'unlock', 'trade']) {
      expect(tally[`${op}:ok`] ?? 0, `${op}:ok`).toBeGreaterThan(20);
      expect(tally[`${op}:bad_request`] ?? 0, `${op}:bad_request`).toBeGreaterThan(5);
    }
    for (const outcome of ['withdraw:insufficient_funds', 'lock:insufficient_funds', 'unlock:throws']) {
      expect(tally[outcome] ?? 0, outcome).toBeGreaterThan(5);
    }
    expect(tally['trade:insufficient_funds'] ?? 0).toBeGreaterThan(5);
    expect(tally['trade:throws'] ?? 0).toBeGreaterThan(5);
  });
});

describe('feeOf', () => {
  it('is the ceiling of amount × bps / 10 000: above 0 whenever bps and amount are, never above amount', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 30n }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.array(fc.bigInt({ min: 0n, max: 10n ** 20n }), { maxLength: 8 }),
        (amount, bps, parts) => {
          const fee = feeOf(amount, bps);
          // ceil: the smallest integer with fee × 10 000 >= amount × bps.
          expect(fee * 10_000n >= amount * BigInt(bps)).toBe(true);
          expect((fee - 1n) * 10_000n < amount * BigInt(bps)).toBe(true);
          expect(fee > 0n).toBe(bps > 0 && amount > 0n);
          expect(fee <= amount).toBe(true);
          // Per-fill rounding up never charges a split less than the whole.
          const total = parts.reduce((sum, part) => sum + part, 0n);
          const split = parts.reduce((sum, part) => sum + feeOf(part, bps), 0n);
          expect(split >= feeOf(total, bps)).toBe(true);
        },
      ),
    );
  });
});
