import { OrderBook as PeerOrderBook } from 'nodejs-order-book';
import type { BookCommand } from '../../src/actors/book/types.ts';

/*
 * The part of nodejs-order-book@10.1.1 the benchmark uses, typed narrowly. Its own typings use string
 * enums (Side, TimeInForce, SelfTradePreventionMode) whose values are exactly these strings, and
 * TimeInForce is not exported from the package root, hence the local interface.
 */
type PeerSide = 'buy' | 'sell';

interface PeerLimitOptions {
  readonly id: string;
  readonly side: PeerSide;
  readonly size: number;
  readonly price: number;
  readonly timeInForce: 'GTC' | 'IOC';
  readonly accountId: string;
  /** Same rule as our engine's cancel_taker: the taker's remainder is dropped at its own maker. */
  readonly stpMode: 'EXPIRE_TAKER';
}

interface PeerMarketOptions {
  readonly side: PeerSide;
  readonly size: number;
  readonly accountId: string;
  readonly stpMode: 'EXPIRE_TAKER';
}

interface PeerResult {
  readonly done: readonly unknown[];
}

export interface PeerBook {
  limit(options: PeerLimitOptions): PeerResult;
  market(options: PeerMarketOptions): PeerResult;
  cancel(orderId: string): unknown;
  /** [asks best first, bids best first] as [price, volume]. */
  depth(): [[number, number][], [number, number][]];
}

export function newPeerBook(): PeerBook {
  return new PeerOrderBook() as unknown as PeerBook;
}

/** One prebuilt peer call, so the timed loop only dispatches (as our engine gets prebuilt commands). */
export type PeerOp =
  | { readonly kind: 0; readonly limit: PeerLimitOptions }
  | { readonly kind: 1; readonly market: PeerMarketOptions }
  | { readonly kind: 2; readonly cancel: string };

export function toPeerOps(commands: readonly BookCommand[]): PeerOp[] {
  return commands.map((cmd): PeerOp => {
    switch (cmd.kind) {
      case 'place':
        if (cmd.type === 'market') {
          return {
            kind: 1,
            market: { side: cmd.side, size: cmd.qty, accountId: cmd.userId, stpMode: 'EXPIRE_TAKER' },
          };
        }
        if (cmd.type !== 'limit' || cmd.tif === 'FOK' || cmd.tif === 'GTD' || cmd.price === undefined) {
          throw new Error(`peer adapter: unsupported order ${cmd.type}/${cmd.tif}`);
        }
        return {
          kind: 0,
          limit: {
            id: String(cmd.orderId),
            side: cmd.side,
            size: cmd.qty,
            price: cmd.price,
            timeInForce: cmd.tif,
            accountId: cmd.userId,
            stpMode: 'EXPIRE_TAKER',
          },
        };
      case 'cancel':
        return { kind: 2, cancel: String(cmd.orderId) };
      default:
        throw new Error(`peer adapter: unsupported command ${cmd.kind}`);
    }
  });
}

/** Runs the ops; returns a checksum (done orders + cancels) so the work cannot be optimized away. */
export function runPeer(book: PeerBook, ops: readonly PeerOp[]): number {
  let sink = 0;
  for (const op of ops) {
    switch (op.kind) {
      case 0:
        sink += book.limit(op.limit).done.length;
        break;
      case 1:
        sink += book.market(op.market).done.length;
        break;
      case 2:
        if (book.cancel(op.cancel) !== undefined) sink++;
        break;
    }
  }
  return sink;
}
