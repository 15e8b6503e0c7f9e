import type {
  LifecycleActor,
  LifecycleEvent,
  LifecycleEventType,
  LifecycleState,
} from '../../machines/marketLifecycle.ts';
import { Ledger } from '../../src/actors/ledger/index.ts';
import type { MarketActor } from '../../src/actors/market/marketActor.ts';
import type {
  BatchOutput,
  BatchSink,
  CommandResult,
  MarketCommand,
  MarketDefinition,
} from '../../src/actors/market/types.ts';
import { Supervisor, type ActorInspection, type AddMarketOptions } from '../../src/actors/supervisor.ts';

/**
 * Shared set-up for the actor tests: a Supervisor over an in-memory sink, markets listed and driven
 * through the lifecycle, users credited with ledger.deposit, and builders for commands.
 */

export const ADMIN: LifecycleActor = { id: 'admin-1', type: 'admin' };
const SYSTEM: LifecycleActor = { id: 'deploy-worker', type: 'system' };

export const ASSET_DECIMALS: Readonly<Record<string, number>> = { BTC: 8, ETH: 18, GOLD: 2, USDC: 6 };

/** BTC-USDC: 1 tick = 0.01 USDC, 1 lot = 0.0001 BTC, so price × qty is exactly 1 USDC minor unit. */
export const BTC_USDC: MarketDefinition = {
  id: 'm-btc',
  symbol: 'BTC-USDC',
  baseAsset: 'BTC',
  quoteAsset: 'USDC',
  money: {
    priceDecimals: 2,
    qtyDecimals: 4,
    tickSize: '0.01',
    lotSize: '0.0001',
    minQty: '0.0001',
    maxQty: '100',
  },
  makerFeeBps: 10,
  takerFeeBps: 20,
  maxOrders: 1_000,
};

/**
 * A definition as the body of POST /api/v1/markets (what the wire tests list): the same market
 * over HTTP; the exchange chooses its id and its book's maxOrders.
 */
export function listingOf(definition: MarketDefinition) {
  const { symbol, baseAsset, quoteAsset, money, makerFeeBps, takerFeeBps } = definition;
  return { symbol, baseAsset, quoteAsset, ...money, makerFeeBps, takerFeeBps };
}

/** ETH-USDC: 18-decimal base, a tick of 0.05 and a lot of 0.001 (tick × lot = 50 USDC minor units). */
export const ETH_USDC: MarketDefinition = {
  id: 'm-eth',
  symbol: 'ETH-USDC',
  baseAsset: 'ETH',
  quoteAsset: 'USDC',
  money: {
    priceDecimals: 2,
    qtyDecimals: 3,
    tickSize: '0.05',
    lotSize: '0.001',
    minQty: '0.001',
    maxQty: '1000',
  },
  makerFeeBps: 5,
  takerFeeBps: 25,
  maxOrders: 1_000,
};

/** GOLD-USDC: whole-ounce lots of a 2-decimal token, a tick of 0.5 USDC. */
export const GOLD_USDC: MarketDefinition = {
  id: 'm-gold',
  symbol: 'GOLD-USDC',
  baseAsset: 'GOLD',
  quoteAsset: 'USDC',
  money: {
    priceDecimals: 1,
    qtyDecimals: 0,
    tickSize: '0.5',
    lotSize: '2',
    minQty: '2',
    maxQty: '2000',
  },
  makerFeeBps: 0,
  takerFeeBps: 33,
  maxOrders: 1_000,
};

/** The shortest lifecycle path from `draft` to each state. */
export const PATH_TO: Readonly<Record<LifecycleState, readonly LifecycleEventType[]>> = {
  draft: [],
  pending_approval: ['lifecycle.submit'],
  approved: ['lifecycle.submit', 'lifecycle.approve'],
  rejected: ['lifecycle.submit', 'lifecycle.reject'],
  activating: ['lifecycle.submit', 'lifecycle.approve', 'lifecycle.activate'],
  active: ['lifecycle.submit', 'lifecycle.approve', 'lifecycle.activate', 'lifecycle.deployed'],
  paused: [
    'lifecycle.submit',
    'lifecycle.approve',
    'lifecycle.activate',
    'lifecycle.deployed',
    'lifecycle.pause',
  ],
  archived: [
    'lifecycle.submit',
    'lifecycle.approve',
    'lifecycle.activate',
    'lifecycle.deployed',
    'lifecycle.archive',
  ],
};

export function lifecycleEvent(type: LifecycleEventType, ts = 1): LifecycleEvent {
  switch (type) {
    case 'lifecycle.deployed':
      return { type, actor: SYSTEM, ts, contractAddress: '0x1', txHash: '0x2' };
    case 'lifecycle.deploy_failed':
      return { type, actor: SYSTEM, ts, error: 'out of gas' };
    default:
      return { type, actor: ADMIN, ts };
  }
}

export function lifecycle(type: LifecycleEventType): MarketCommand {
  return { kind: 'lifecycle', event: lifecycleEvent(type) };
}

export type PlaceFields = Omit<Extract<MarketCommand, { kind: 'place' }>, 'kind' | 'userId' | 'side'>;

/** A GTC limit order unless `extra` says otherwise. */
export function limit(
  userId: string,
  side: 'buy' | 'sell',
  price: number,
  qty: number,
  extra: Partial<PlaceFields> = {},
): MarketCommand {
  return {
    kind: 'place',
    userId,
    side,
    type: 'limit',
    price,
    qty,
    tif: 'GTC',
    postOnly: false,
    stp: 'cancel_taker',
    ...extra,
  };
}

export function marketOrder(
  userId: string,
  side: 'buy' | 'sell',
  qty: number,
  extra: Partial<PlaceFields> = {},
): MarketCommand {
  return {
    kind: 'place',
    userId,
    side,
    type: 'market',
    qty,
    tif: 'IOC',
    postOnly: false,
    stp: 'cancel_taker',
    ...extra,
  };
}

/** Collects every committed batch; `gate` (when set) makes each commit wait for the test. */
export class MemorySink implements BatchSink {
  readonly batches: BatchOutput[] = [];
  private readonly pending: (() => void)[] = [];
  gated = false;
  /** While true the sink refuses new batches (backpressure). */
  full = false;

  canAccept(): boolean {
    return !this.full;
  }

  commit(batch: BatchOutput): void | Promise<void> {
    this.batches.push(batch);
    if (!this.gated) return;
    return new Promise((resolve) => this.pending.push(resolve));
  }

  /** Commits waiting on the gate. */
  get waiting(): number {
    return this.pending.length;
  }

  /** Resolves the oldest waiting commit. */
  release(): void {
    const next = this.pending.shift();
    if (next === undefined) throw new Error('no commit is waiting');
    next();
  }
}

export interface Harness {
  readonly ledger: Ledger;
  readonly sink: MemorySink;
  readonly supervisor: Supervisor;
}

export interface HarnessOptions {
  readonly mailboxSize?: number;
  readonly batchSize?: number;
  readonly checkpointEvery?: number;
  readonly inspect?: (event: ActorInspection) => void;
  readonly admit?: (market: MarketDefinition, userId: string) => string | undefined;
  /** The expiry scheduler's clock (issue 14, GTD). */
  readonly now?: () => number;
}

export function createHarness(options: HarnessOptions = {}): Harness {
  const ledger = new Ledger();
  for (const [asset, decimals] of Object.entries(ASSET_DECIMALS)) ledger.defineAsset(asset, decimals);
  const sink = new MemorySink();
  const supervisor = new Supervisor({ ledger, sink, ...options });
  return { ledger, sink, supervisor };
}

/** Lists the market and drives it to `state` through the supervisor; throws if a step is refused. */
export async function listMarket(
  { supervisor }: Harness,
  definition: MarketDefinition,
  state: LifecycleState = 'active',
  options: Partial<AddMarketOptions> = {},
): Promise<MarketActor> {
  const actor = supervisor.addMarket(definition, {
    baseDecimals: ASSET_DECIMALS[definition.baseAsset]!,
    quoteDecimals: ASSET_DECIMALS[definition.quoteAsset]!,
    ...options,
  });
  for (const type of PATH_TO[state]) {
    const result = await supervisor.submit(definition.symbol, lifecycle(type), 1);
    if (!result.ok) throw new Error(`${definition.symbol}: ${type} refused: ${result.message}`);
  }
  return actor;
}

/** Asserts a result is ok and narrows it. */
export function expectOk(result: CommandResult): Extract<CommandResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.message}`);
  return result;
}

/**
 * Every account's non-zero balances, as plain strings (for equality of ledger states). Zero rows are
 * left out: undoing a failed batch leaves a zero row behind where the batch first touched an asset.
 */
export function balancesOf(ledger: Ledger, accounts: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const account of accounts) {
    for (const { asset, available, locked } of ledger.balancesOf(account)) {
      if (available === 0n && locked === 0n) continue;
      out[`${account}/${asset}`] = `${available}/${locked}`;
    }
  }
  return out;
}

/** A decimal string as an integer and its scale: "0.05" is 5 × 10^-2. */
function decimal(text: string): { units: bigint; scale: number } {
  const [whole = '', frac = ''] = text.split('.');
  return { units: BigInt(whole + frac), scale: frac.length };
}

function exactDiv(n: bigint, d: bigint): bigint {
  if (n % d !== 0n) throw new Error(`${n} / ${d} is not a whole number of minor units`);
  return n / d;
}

/**
 * What an open order needs locked, from first principles: its price and quantity read as the
 * decimals they stand for (ticks × tickSize, lots × lotSize), written in the asset's minor units.
 * A buy needs price × remaining exactly (PROTOCOL v1.1: fees come out of what is received, nothing
 * is reserved for them); a sell its remaining; a pending stop_market buy its whole quote budget
 * (tick×lot units, issue 14).
 */
export function orderNeed(
  definition: MarketDefinition,
  order: {
    side: 'buy' | 'sell';
    price?: number | undefined;
    remaining: number;
    quoteBudget?: number | undefined;
  },
): { asset: string; amount: bigint } {
  const tick = decimal(definition.money.tickSize);
  const lot = decimal(definition.money.lotSize);
  const baseDecimals = ASSET_DECIMALS[definition.baseAsset]!;
  const quoteDecimals = ASSET_DECIMALS[definition.quoteAsset]!;
  if (order.side === 'sell') {
    const amount = exactDiv(
      BigInt(order.remaining) * lot.units * 10n ** BigInt(baseDecimals),
      10n ** BigInt(lot.scale),
    );
    return { asset: definition.baseAsset, amount };
  }
  const tickLots =
    order.quoteBudget !== undefined
      ? BigInt(order.quoteBudget)
      : order.price !== undefined
        ? BigInt(order.price) * BigInt(order.remaining)
        : undefined;
  if (tickLots === undefined) throw new Error('an open buy has a limit price or a quote budget');
  const notional = exactDiv(
    tickLots * tick.units * lot.units * 10n ** BigInt(quoteDecimals),
    10n ** BigInt(tick.scale + lot.scale),
  );
  return { asset: definition.quoteAsset, amount: notional };
}

/** Locked funds per "user/asset" that the open orders of every market of the supervisor need. */
export function expectedLocks(supervisor: Supervisor): Map<string, bigint> {
  const locks = new Map<string, bigint>();
  for (const { symbol } of supervisor.list()) {
    const actor = supervisor.actor(symbol)!;
    const { resting, stops } = actor.orderBook.openOrders();
    // Issue 14, OCO: a linked list's two legs share one lock, the larger of their needs.
    const lists = new Map<number, { key: string; amount: bigint }>();
    for (const order of [...resting, ...stops]) {
      const { asset, amount } = orderNeed(actor.definition, order);
      const key = `${order.userId}/${asset}`;
      if (order.listId !== undefined) {
        const other = lists.get(order.listId);
        if (other === undefined) {
          lists.set(order.listId, { key, amount });
          continue;
        }
        lists.delete(order.listId);
        if (other.key !== key) throw new Error(`OCO list ${order.listId}: legs lock different assets`);
        locks.set(key, (locks.get(key) ?? 0n) + (amount > other.amount ? amount : other.amount));
        continue;
      }
      locks.set(key, (locks.get(key) ?? 0n) + amount);
    }
    if (lists.size > 0) throw new Error(`OCO lists with one linked leg: ${[...lists.keys()].join(', ')}`);
  }
  return locks;
}

/** Every user's locked balance per asset, for comparison with expectedLocks (zero rows left out). */
export function actualLocks(ledger: Ledger, users: readonly string[]): Map<string, bigint> {
  const locks = new Map<string, bigint>();
  for (const user of users) {
    for (const { asset, locked } of ledger.balancesOf(user))
      if (locked !== 0n) locks.set(`${user}/${asset}`, locked);
  }
  return locks;
}

/** Resolves after the current turn of the event loop (and its setImmediate callbacks) has run. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
