import type { BookCommand } from '../../src/actors/book/types.ts';
import type { MarketCommand, MarketDefinition } from '../../src/actors/market/types.ts';
import { BOOK_CONFIG, type Stream } from './stream.ts';

/**
 * A recorded engine stream as the commands a market actor receives: places without an orderId (the
 * actor assigns it) and cancels naming the id the actor will have assigned. The engine's stream
 * numbers its places 1, 2, 3... in order (prefill first), which is exactly what the actor does for
 * places that pass the funds check; with ample funds every place passes, so the ids line up.
 * `expectedIds[i]` is the orderId the i-th command's result must carry (0: a cancel, whose result
 * names the canceled order, also checked).
 */
export interface ActorCommands {
  readonly prefill: readonly MarketCommand[];
  readonly prefillIds: Int32Array;
  readonly ops: readonly MarketCommand[];
  readonly opsIds: Int32Array;
}

/** Every command of a kind has the same fields in the same order (one hidden class, as parsed input would). */
export function toMarketCommand(cmd: BookCommand): MarketCommand {
  switch (cmd.kind) {
    case 'place':
      return {
        kind: 'place',
        userId: cmd.userId,
        clientOrderId: undefined,
        side: cmd.side,
        type: cmd.type,
        qty: cmd.qty,
        price: cmd.price,
        stopPrice: undefined,
        tif: cmd.tif,
        postOnly: cmd.postOnly,
        stp: cmd.stp,
        quoteBudget: undefined,
      };
    case 'cancel':
      return { kind: 'cancel', userId: cmd.userId, orderId: cmd.orderId, clientOrderId: undefined };
    case 'amend':
      return {
        kind: 'amend',
        userId: cmd.userId,
        orderId: cmd.orderId,
        clientOrderId: undefined,
        qty: cmd.qty,
        price: cmd.price,
      };
    case 'cancel_all':
      return { kind: 'cancel_all', userId: cmd.userId };
    case 'expire':
      return { kind: 'expire', now: cmd.now };
    case 'place_oco':
      return {
        kind: 'place_oco',
        userId: cmd.userId,
        clientOrderId: cmd.clientOrderId,
        side: cmd.side,
        qty: cmd.qty,
        price: cmd.price,
        stopPrice: cmd.stopPrice,
        stopLimitPrice: cmd.stopLimitPrice,
        stp: cmd.stp,
      };
  }
}

/** The orderId a command's result carries: the place's own id, or the id a cancel/amend names. */
function idOf(cmd: BookCommand): number {
  return cmd.kind === 'cancel_all' || cmd.kind === 'expire' ? 0 : (cmd.orderId ?? 0);
}

export function actorCommands(stream: Stream): ActorCommands {
  return {
    prefill: stream.prefill.map(toMarketCommand),
    prefillIds: Int32Array.from(stream.prefill, idOf),
    ops: stream.ops.map(toMarketCommand),
    opsIds: Int32Array.from(stream.ops, idOf),
  };
}

/**
 * A benchmark market quoted in USDC, under money rules where one tick × one lot is one USDC minor
 * unit and the book config is BOOK_CONFIG.
 */
export function benchMarket(m: number, baseAsset: string): MarketDefinition {
  return {
    id: `bench-${m}`,
    symbol: `${baseAsset}-${BENCH_QUOTE}`,
    baseAsset,
    quoteAsset: BENCH_QUOTE,
    makerFeeBps: 10,
    takerFeeBps: 20,
    maxOrders: BOOK_CONFIG.maxOrders,
    money: {
      priceDecimals: 2,
      qtyDecimals: 4,
      tickSize: '0.01',
      lotSize: '0.0001',
      minQty: '0.0001',
      maxQty: String(BOOK_CONFIG.maxQty / 10_000),
    },
  };
}

export const BENCH_QUOTE = 'USDC';
