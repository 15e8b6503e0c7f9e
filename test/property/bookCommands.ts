import fc from 'fast-check';
import type {
  BookCommand,
  BookConfig,
  OrderType,
  PlaceCommand,
  PlaceOcoCommand,
  SelfTradePrevention,
  Side,
  TimeInForce,
} from '../../src/actors/book/types.ts';

/**
 * Random command sequences for the differential tests. The space is kept small on purpose (prices
 * 4..16, four users, three client ids, qty mostly 1..10) so crossing, self-trade, duplicate client
 * ids, stop cascades and multi-order levels happen in most sequences, not once in a million.
 *
 * fast-check generates and shrinks "intents"; `toCommands` turns them into commands, resolving
 * cancel/amend targets against the orders placed earlier in the same sequence.
 */

export const USERS = ['ann', 'bob', 'cat', 'dan'] as const;
const CLIENT_IDS = ['c1', 'c2', 'c3'] as const;

/** Ways to make a placement break one `bad_request` rule; 'none' keeps it well-formed. */
const MALFORMATIONS = [
  'qtyZero',
  'qtyFraction',
  'qtyAboveMax',
  'priceMissing',
  'priceExtra',
  'priceZero',
  'priceUnsafe',
  'stopMissing',
  'stopExtra',
  'budgetZero',
  'budgetOnOther',
  'postOnlyOnOther',
  'expireMissing',
  'expireExtra',
  'displayZero',
  'displayAboveQty',
  'displayOnOther',
  'trailNone',
  'trailBoth',
  'trailOnOther',
  'trailBpsAbove',
  'limitOffsetNegative',
] as const;
type Malformation = (typeof MALFORMATIONS)[number] | 'none';

interface PlaceIntent {
  readonly kind: 'place';
  readonly userId: string;
  readonly clientOrderId: string | undefined;
  readonly side: Side;
  readonly type: OrderType;
  /** Ticks from the middle towards the own side (negative: through it): buys at 4..15, sells at 5..16. */
  readonly priceOffset: number;
  readonly stopPrice: number;
  readonly qty: number;
  readonly tif: TimeInForce;
  readonly postOnly: boolean;
  readonly stp: SelfTradePrevention;
  readonly quoteBudget: number | undefined;
  /** With a budget: no qty of its own (order entry gives such an order the book's maxQty). */
  readonly budgetOnly: boolean;
  /** GTD: expires this many clock steps after the current time. */
  readonly expireIn: number;
  /** Iceberg slice, used when the order can rest (GTC/GTD limit or stop_limit). */
  readonly displayQty: number | undefined;
  /** trailing_stop: a distance in ticks (or, when trailInBps, in bps of prices around 10), and a limit offset. */
  readonly trail: number;
  readonly trailInBps: boolean;
  readonly limitOffset: number | undefined;
  readonly malformed: Malformation;
}

/** Names an earlier placement (`back` from the newest), or an id never used, or nothing. */
type TargetIntent =
  | { readonly by: 'orderId' | 'clientOrderId' | 'both'; readonly back: number; readonly asOwner: boolean }
  | { readonly by: 'unknownId' | 'unknownClientId' | 'nothing' };

interface CancelIntent {
  readonly kind: 'cancel';
  readonly userId: string;
  readonly target: TargetIntent;
}

interface AmendIntent {
  readonly kind: 'amend';
  readonly userId: string;
  readonly target: TargetIntent;
  readonly qty: number | undefined;
  readonly price: number | undefined;
}

interface CancelAllIntent {
  readonly kind: 'cancel_all';
  readonly userId: string;
}

/** The expiry scheduler's command: the clock moves on by `advance` steps (0: the same time again). */
interface ExpireIntent {
  readonly kind: 'expire';
  readonly advance: number;
}

/** Issue 14, OCO: a limit leg priceOffset from the middle, its stop `stopDistance` beyond it. */
interface OcoIntent {
  readonly kind: 'oco';
  readonly userId: string;
  readonly clientOrderId: string | undefined;
  readonly side: Side;
  readonly qty: number;
  readonly priceOffset: number;
  /** Ticks beyond the limit (0 or negative: a bad_request). */
  readonly stopDistance: number;
  /** With a stop limit: this many ticks beyond the stop (absent: a stop_market leg). */
  readonly stopLimitOffset: number | undefined;
  readonly stp: SelfTradePrevention;
}

export type Intent = PlaceIntent | CancelIntent | AmendIntent | CancelAllIntent | ExpireIntent | OcoIntent;

const userArb = fc.constantFrom(...USERS);

/** The quantity-like values; small by default, near the safe-integer limit for the magnitude test. */
interface Magnitudes {
  readonly qty: fc.Arbitrary<number>;
  readonly quoteBudget: fc.Arbitrary<number>;
  readonly amendQty: fc.Arbitrary<number>;
}

const SMALL: Magnitudes = {
  qty: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 10 }), weight: 8 }, fc.integer({ min: 1, max: 40 })),
  quoteBudget: fc.integer({ min: 1, max: 150 }),
  amendQty: fc.oneof(
    { arbitrary: fc.integer({ min: 1, max: 15 }), weight: 10 },
    fc.constantFrom(0, -2, 2.5, 10_000),
  ),
};

/** maxOrders × maxQty just under 2^53: level totals and budget arithmetic must stay exact. */
const LARGE_MAX_ORDERS = 4;
const LARGE_MAX_QTY = Math.floor(Number.MAX_SAFE_INTEGER / LARGE_MAX_ORDERS);
const LARGE: Magnitudes = {
  qty: fc.oneof(
    fc.integer({ min: 1, max: LARGE_MAX_QTY }),
    fc.integer({ min: LARGE_MAX_QTY - 20, max: LARGE_MAX_QTY }),
  ),
  quoteBudget: fc.oneof(
    fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    fc.integer({ min: Number.MAX_SAFE_INTEGER - 100, max: Number.MAX_SAFE_INTEGER }),
  ),
  amendQty: fc.integer({ min: 1, max: LARGE_MAX_QTY }),
};

/** How often each order type, tif and stp comes up, and how often a buy that may carry a budget does. */
interface Mix {
  readonly types: readonly [OrderType, number][];
  readonly tifs: readonly [TimeInForce, number][];
  readonly stps: readonly SelfTradePrevention[];
  /** fc.option's freq: 1 in `budgetFreq` budgeted buys have none. */
  readonly budgetFreq: number;
  /** Weight of `expire` commands beside 14 placements (0: none). */
  readonly expireWeight: number;
  /** fc.option's freq for an iceberg slice on orders that can rest (0: never an iceberg). */
  readonly icebergFreq: number;
  /** Weight of OCO placements beside 14 placements (0: none). */
  readonly ocoWeight?: number;
}

const weighted = <T>(pairs: readonly [T, number][]): fc.Arbitrary<T> =>
  fc.oneof(...pairs.map(([value, weight]) => ({ arbitrary: fc.constant(value), weight })));

const PLAIN_MIX: Mix = {
  types: [
    ['limit', 6],
    ['market', 2],
    ['stop_limit', 2],
    ['stop_market', 2],
  ],
  tifs: [
    ['GTC', 5],
    ['IOC', 2],
    ['FOK', 2],
  ],
  stps: ['cancel_taker', 'cancel_maker', 'cancel_both'],
  budgetFreq: 5,
  expireWeight: 0,
  icebergFreq: 0,
};

/**
 * Issue 14: the new order types mixed with the old ones: budgeted stop_market and FOK market buys
 * (budget-only ones among them) and STP decrement come up often beside resting limits that they
 * trade against.
 */
const NEW_TYPES_MIX: Mix = {
  types: [
    ['limit', 6],
    ['market', 3],
    ['stop_limit', 1],
    ['stop_market', 3],
  ],
  tifs: [
    ['GTC', 3],
    ['IOC', 1],
    ['FOK', 3],
    ['GTD', 3],
  ],
  stps: ['cancel_taker', 'cancel_maker', 'cancel_both', 'decrement', 'decrement'],
  budgetFreq: 8,
  expireWeight: 3,
  icebergFreq: 2,
};

/** Issue 14: trailing stops among the new types (their moves need many trades, so many limits). */
const TRAILING_MIX: Mix = {
  ...NEW_TYPES_MIX,
  types: [
    ['limit', 8],
    ['market', 3],
    ['stop_limit', 1],
    ['stop_market', 1],
    ['trailing_stop', 4],
  ],
};

/**
 * Issue 14: OCO lists among every other type. Their legs sit near the middle (limits at 8..12,
 * stops a few ticks beyond), so trades reach both the limit leg and the stop leg often.
 */
const OCO_MIX: Mix = {
  ...TRAILING_MIX,
  types: [
    ['limit', 8],
    ['market', 3],
    ['stop_limit', 1],
    ['stop_market', 1],
    ['trailing_stop', 1],
  ],
  ocoWeight: 6,
};

const ocoArbWith = (magnitudes: Magnitudes, mix: Mix): fc.Arbitrary<OcoIntent> =>
  fc.record({
    kind: fc.constant('oco' as const),
    userId: userArb,
    clientOrderId: fc.option(fc.constantFrom(...CLIENT_IDS), { nil: undefined, freq: 2 }),
    side: fc.constantFrom<Side>('buy', 'sell'),
    qty: magnitudes.qty,
    priceOffset: fc.integer({ min: -2, max: 3 }),
    stopDistance: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 4 }), weight: 12 }, fc.constant(0)),
    stopLimitOffset: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined, freq: 2 }),
    stp: fc.constantFrom<SelfTradePrevention>(...mix.stps),
  });

const placeArbWith = (magnitudes: Magnitudes, mix: Mix): fc.Arbitrary<PlaceIntent> =>
  fc.record({
    kind: fc.constant('place' as const),
    userId: userArb,
    clientOrderId: fc.option(fc.constantFrom(...CLIENT_IDS), { nil: undefined, freq: 2 }),
    side: fc.constantFrom<Side>('buy', 'sell'),
    type: weighted(mix.types),
    priceOffset: fc.integer({ min: -3, max: 8 }),
    stopPrice: fc.integer({ min: 5, max: 15 }),
    qty: magnitudes.qty,
    tif: weighted(mix.tifs),
    postOnly: fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, fc.constant(true)),
    stp: fc.constantFrom<SelfTradePrevention>(...mix.stps),
    quoteBudget: fc.option(magnitudes.quoteBudget, { nil: undefined, freq: mix.budgetFreq }),
    budgetOnly: fc.boolean(),
    expireIn: fc.integer({ min: 1, max: 8 }),
    displayQty:
      mix.icebergFreq === 0
        ? fc.constant(undefined)
        : fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined, freq: mix.icebergFreq }),
    trail: fc.integer({ min: 1, max: 3 }),
    trailInBps: fc.boolean(),
    limitOffset: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined, freq: 2 }),
    malformed: fc.oneof(
      { arbitrary: fc.constant<Malformation>('none'), weight: 30 },
      { arbitrary: fc.constantFrom(...MALFORMATIONS), weight: 1 },
    ),
  });

const targetArb: fc.Arbitrary<TargetIntent> = fc.oneof(
  {
    arbitrary: fc.record({
      by: fc.oneof(
        { arbitrary: fc.constant('orderId' as const), weight: 6 },
        { arbitrary: fc.constant('clientOrderId' as const), weight: 3 },
        { arbitrary: fc.constant('both' as const), weight: 1 },
      ),
      back: fc.integer({ min: 0, max: 5 }),
      asOwner: fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, fc.constant(false)),
    }),
    weight: 12,
  },
  fc.record({ by: fc.constantFrom('unknownId' as const, 'unknownClientId' as const, 'nothing' as const) }),
);

const amendPriceArb = fc.option(
  fc.oneof({ arbitrary: fc.integer({ min: 4, max: 16 }), weight: 10 }, fc.constantFrom(0, -1, 3.5)),
  { nil: undefined, freq: 3 },
);

const intentArbWith = (magnitudes: Magnitudes, mix: Mix = PLAIN_MIX): fc.Arbitrary<Intent> =>
  fc.oneof(
    { arbitrary: placeArbWith(magnitudes, mix), weight: 14 },
    {
      arbitrary: fc.record({ kind: fc.constant('cancel' as const), userId: userArb, target: targetArb }),
      weight: 3,
    },
    {
      arbitrary: fc.record({
        kind: fc.constant('amend' as const),
        userId: userArb,
        target: targetArb,
        qty: fc.option(magnitudes.amendQty, { nil: undefined, freq: 3 }),
        price: amendPriceArb,
      }),
      weight: 3,
    },
    { arbitrary: fc.record({ kind: fc.constant('cancel_all' as const), userId: userArb }), weight: 1 },
    ...(mix.ocoWeight === undefined
      ? []
      : [{ arbitrary: ocoArbWith(magnitudes, mix), weight: mix.ocoWeight }]),
    ...(mix.expireWeight === 0
      ? []
      : [
          {
            arbitrary: fc.record({
              kind: fc.constant('expire' as const),
              advance: fc.integer({ min: 0, max: 4 }),
            }),
            weight: mix.expireWeight,
          },
        ]),
  );

/** Small maxOrders values make `overloaded` common; maxQty 30 makes qty 31..40 a bad_request. */
export const configArb: fc.Arbitrary<BookConfig> = fc.record({
  maxOrders: fc.oneof({ arbitrary: fc.constant(1000), weight: 3 }, fc.integer({ min: 1, max: 6 })),
  maxQty: fc.constant(30),
});

/** size 'max': lengths spread over the whole range, not fast-check's default of mostly short arrays. */
export const intentsArb = fc.array(intentArbWith(SMALL), { minLength: 1, maxLength: 50, size: 'max' });
/** Issue 14: sequences with trailing stops among the new order types (TRAILING_MIX). */
export const trailingIntentsArb = fc.array(intentArbWith(SMALL, TRAILING_MIX), {
  minLength: 1,
  maxLength: 50,
  size: 'max',
});
/** Issue 14: sequences with OCO lists among all the other types (OCO_MIX). */
export const ocoIntentsArb = fc.array(intentArbWith(SMALL, OCO_MIX), {
  minLength: 1,
  maxLength: 50,
  size: 'max',
});
/** Issue 14: sequences where the new order types are common (NEW_TYPES_MIX). */
export const newTypesIntentsArb = fc.array(intentArbWith(SMALL, NEW_TYPES_MIX), {
  minLength: 1,
  maxLength: 50,
  size: 'max',
});

export const largeConfigArb: fc.Arbitrary<BookConfig> = fc.constant({
  maxOrders: LARGE_MAX_ORDERS,
  maxQty: LARGE_MAX_QTY,
});
export const largeIntentsArb = fc.array(intentArbWith(LARGE), { minLength: 1, maxLength: 30, size: 'max' });

interface Placed {
  readonly orderId: number;
  readonly userId: string;
  readonly clientOrderId?: string | undefined;
}

const UNKNOWN_ORDER_ID = 1_000_000;

/** Where the logical clock of a sequence starts (GTD expiries and `expire` times count from it). */
const CLOCK_START = 1_000;

/** Turns intents into commands; every placement gets the next orderId (1, 2, ...). */
export function toCommands(intents: readonly Intent[], config: BookConfig): BookCommand[] {
  const placed: Placed[] = [];
  let clock = CLOCK_START;
  return intents.map((intent): BookCommand => {
    switch (intent.kind) {
      case 'expire':
        clock += intent.advance;
        return { kind: 'expire', now: clock };
      case 'place': {
        const command = toPlace(intent, placed.length + 1, config, clock);
        placed.push(command);
        return command;
      }
      case 'cancel':
        return { kind: 'cancel', ...resolveTarget(intent.userId, intent.target, placed) };
      case 'amend':
        return {
          kind: 'amend',
          ...resolveTarget(intent.userId, intent.target, placed),
          qty: intent.qty,
          price: intent.price,
        };
      case 'cancel_all':
        return { kind: 'cancel_all', userId: intent.userId };
      case 'oco': {
        const command = toOco(intent, placed.length + 1);
        placed.push(command, { orderId: command.stopOrderId, userId: command.userId });
        return command;
      }
    }
  });
}

function toOco(intent: OcoIntent, orderId: number): PlaceOcoCommand {
  const buy = intent.side === 'buy';
  const price = buy ? 10 - intent.priceOffset : 10 + intent.priceOffset;
  const stopPrice = buy ? price + intent.stopDistance : price - intent.stopDistance;
  const { stopLimitOffset } = intent;
  return {
    kind: 'place_oco',
    orderId,
    stopOrderId: orderId + 1,
    userId: intent.userId,
    clientOrderId: intent.clientOrderId,
    side: intent.side,
    qty: intent.qty,
    price,
    stopPrice,
    stopLimitPrice:
      stopLimitOffset === undefined
        ? undefined
        : Math.max(1, buy ? stopPrice + stopLimitOffset : stopPrice - stopLimitOffset),
    stp: intent.stp,
  };
}

function resolveTarget(
  userId: string,
  target: TargetIntent,
  placed: readonly Placed[],
): { userId: string; orderId?: number; clientOrderId?: string } {
  switch (target.by) {
    case 'nothing':
      return { userId };
    case 'unknownId':
      return { userId, orderId: UNKNOWN_ORDER_ID };
    case 'unknownClientId':
      return { userId, clientOrderId: 'never-used' };
    default: {
      const named = placed[placed.length - 1 - (target.back % Math.max(1, placed.length))];
      if (named === undefined) return { userId, orderId: UNKNOWN_ORDER_ID };
      const owner = target.asOwner ? named.userId : userId;
      const clientOrderId = named.clientOrderId ?? CLIENT_IDS[target.back % CLIENT_IDS.length];
      if (target.by === 'orderId') return { userId: owner, orderId: named.orderId };
      if (target.by === 'clientOrderId') return { userId: owner, clientOrderId };
      return { userId: owner, orderId: named.orderId, clientOrderId };
    }
  }
}

function toPlace(intent: PlaceIntent, orderId: number, config: BookConfig, clock: number): PlaceCommand {
  const { type, side, malformed } = intent;
  const hasPrice = type === 'limit' || type === 'stop_limit';
  const hasStop = type === 'stop_limit' || type === 'stop_market';
  const trailing = type === 'trailing_stop';
  const limitOffset = trailing ? intent.limitOffset : undefined;
  const takesBudget =
    (type === 'market' || type === 'stop_market' || (trailing && limitOffset === undefined)) &&
    side === 'buy';
  const quoteBudget = takesBudget ? intent.quoteBudget : undefined;
  const price = side === 'buy' ? 12 - intent.priceOffset : 8 + intent.priceOffset;
  const rests = intent.tif === 'GTC' || intent.tif === 'GTD';
  const qty = quoteBudget !== undefined && intent.budgetOnly ? config.maxQty : intent.qty;
  const command: PlaceCommand = {
    kind: 'place',
    orderId,
    userId: intent.userId,
    clientOrderId: intent.clientOrderId,
    side,
    type,
    qty,
    price: hasPrice ? price : undefined,
    stopPrice: hasStop ? intent.stopPrice : undefined,
    tif: intent.tif,
    postOnly: intent.postOnly && (hasPrice || limitOffset !== undefined) && rests,
    stp: intent.stp,
    quoteBudget,
    expireAt: intent.tif === 'GTD' ? clock + intent.expireIn : undefined,
    trailingOffset: trailing && !intent.trailInBps ? intent.trail : undefined,
    // Around price 10, 1000 bps is one tick.
    trailingBps: trailing && intent.trailInBps ? intent.trail * 1000 : undefined,
    limitOffset,
    displayQty:
      hasPrice && rests && intent.displayQty !== undefined ? Math.min(intent.displayQty, qty) : undefined,
  };
  return malform(command, malformed, price, config);
}

function malform(command: PlaceCommand, how: Malformation, price: number, config: BookConfig): PlaceCommand {
  switch (how) {
    case 'none':
      return command;
    case 'qtyZero':
      return { ...command, qty: 0 };
    case 'qtyFraction':
      return { ...command, qty: 1.5 };
    case 'qtyAboveMax':
      return { ...command, qty: config.maxQty + 1 };
    case 'priceMissing':
      return { ...command, price: undefined };
    case 'priceExtra':
      return { ...command, price };
    case 'priceZero':
      return { ...command, price: command.price === undefined ? undefined : 0 };
    case 'priceUnsafe':
      return { ...command, price: command.price === undefined ? undefined : 2 ** 53 };
    case 'stopMissing':
      return { ...command, stopPrice: undefined };
    case 'stopExtra':
      return { ...command, stopPrice: 10 };
    case 'budgetZero':
      return { ...command, quoteBudget: command.quoteBudget === undefined ? undefined : 0 };
    case 'budgetOnOther':
      return { ...command, quoteBudget: 50 };
    case 'postOnlyOnOther':
      return { ...command, postOnly: true };
    case 'expireMissing':
      return { ...command, expireAt: undefined };
    case 'expireExtra':
      return { ...command, expireAt: 5_000 };
    case 'displayZero':
      return { ...command, displayQty: command.displayQty === undefined ? undefined : 0 };
    case 'displayAboveQty':
      return { ...command, displayQty: command.displayQty === undefined ? undefined : command.qty + 1 };
    case 'trailNone':
      return { ...command, trailingOffset: undefined, trailingBps: undefined };
    case 'trailBoth':
      return { ...command, trailingOffset: 1, trailingBps: 100 };
    case 'trailOnOther':
      return command.type === 'trailing_stop' ? { ...command, price } : { ...command, trailingOffset: 1 };
    case 'trailBpsAbove':
      return { ...command, trailingOffset: undefined, trailingBps: 10_001 };
    case 'limitOffsetNegative':
      return { ...command, limitOffset: -1 };
    case 'displayOnOther':
      return { ...command, displayQty: 1, tif: command.type === 'limit' ? 'IOC' : command.tif };
  }
}
