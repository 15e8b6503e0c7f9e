import type { DatabaseTransactionConnection } from 'slonik';
import { tradeId } from '../events/ids.ts';
import type { DurableConsumer, EventPage } from '../persistence/durableConsumers.ts';
import {
  ensureRollupMonths,
  monthOf,
  upsertRollups,
  ROLLUP_STEPS,
  type RollupStep,
} from '../persistence/rollupStore.ts';

/*
 * Rollups of the trades, 1m → 5m → 1h → 1d (trade_rollups, migration 1763800000114), kept by the
 * durable consumer `rollups`: each page's fills become 1m deltas, those are merged into 5m, the 5m
 * into 1h, the 1h into 1d, and every delta is upserted onto its row in the page's transaction (with
 * the cursor): high/low the extremes, volume, notional and count added, the close the delta's (a
 * later page's trades are later), the open kept. Pure but for the upsert; exactly once; a reset
 * (delete the rows and the cursor) rebuilds them from the journal.
 */

export type RollupBucket = RollupStep;
const ROLLUP_MS = ROLLUP_STEPS;
export const ROLLUP_CONSUMER = 'rollups';

/** A trade as the rollups read it: the `trades` row's fields (price in ticks, qty in lots). */
export interface RollupTrade {
  readonly marketId: string;
  readonly id: string;
  readonly globalSeq: number;
  readonly ts: number;
  readonly price: number;
  readonly qty: number;
}

/** One bucket's aggregate; o/c carry their trade's order key (global_seq, id). */
export interface RollupRow {
  readonly marketId: string;
  readonly bucket: RollupBucket;
  readonly t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: bigint;
  notional: bigint;
  n: number;
  oSeq: number;
  oId: string;
  cSeq: number;
  cId: string;
  tMin: number;
  tMax: number;
}

/** The order of `trades` (global_seq, then length(id), then id): negative when a is first. */
export function compareKeys(aSeq: number, aId: string, bSeq: number, bId: string): number {
  return aSeq - bSeq || aId.length - bId.length || (aId < bId ? -1 : aId > bId ? 1 : 0);
}

function merge(into: RollupRow, piece: RollupRow): void {
  if (compareKeys(piece.oSeq, piece.oId, into.oSeq, into.oId) < 0) {
    into.o = piece.o;
    into.oSeq = piece.oSeq;
    into.oId = piece.oId;
  }
  if (compareKeys(piece.cSeq, piece.cId, into.cSeq, into.cId) > 0) {
    into.c = piece.c;
    into.cSeq = piece.cSeq;
    into.cId = piece.cId;
  }
  into.h = Math.max(into.h, piece.h);
  into.l = Math.min(into.l, piece.l);
  into.v += piece.v;
  into.notional += piece.notional;
  into.n += piece.n;
  into.tMin = Math.min(into.tMin, piece.tMin);
  into.tMax = Math.max(into.tMax, piece.tMax);
}

function rollUp(pieces: readonly RollupRow[], bucket: RollupBucket): RollupRow[] {
  const step = ROLLUP_MS[bucket];
  const out = new Map<string, RollupRow>();
  for (const piece of pieces) {
    const t = Math.floor(piece.t / step) * step;
    const key = `${piece.marketId}|${t}`;
    const row = out.get(key);
    if (row === undefined) out.set(key, { ...piece, bucket, t });
    else merge(row, piece);
  }
  return [...out.values()];
}

/** The deltas of these trades at every bucket: 1m from the trades, each next level from the last. */
export function rollupDeltas(trades: readonly RollupTrade[]): RollupRow[] {
  const minutes = rollUp(
    trades.map((trade) => ({
      marketId: trade.marketId,
      bucket: '1m',
      t: trade.ts,
      o: trade.price,
      h: trade.price,
      l: trade.price,
      c: trade.price,
      v: BigInt(trade.qty),
      notional: BigInt(trade.price) * BigInt(trade.qty),
      n: 1,
      oSeq: trade.globalSeq,
      oId: trade.id,
      cSeq: trade.globalSeq,
      cId: trade.id,
      tMin: trade.ts,
      tMax: trade.ts,
    })),
    '1m',
  );
  const fives = rollUp(minutes, '5m');
  const hours = rollUp(fives, '1h');
  return [...minutes, ...fives, ...hours, ...rollUp(hours, '1d')];
}

/**
 * The durable consumer `rollups`. Trades older than `keepFrom()` (past retention) are not rolled
 * up: their months are dropped, and a rebuild must not make them again.
 */
export class RollupConsumer implements DurableConsumer {
  readonly name = ROLLUP_CONSUMER;
  /** Months whose partition is known to exist (added once a page that made one committed). */
  readonly #months = new Set<number>();
  #pendingMonths: number[] = [];
  /** The last global_seq whose page committed (as far as this process saw), and who waits for it. */
  #at = 0;
  #waiters: { readonly seq: number; readonly wake: (reached: boolean) => void }[] = [];

  constructor(private readonly keepFrom: () => number = () => 0) {}

  /** The consumer's cursor as read at start (a round that finds nothing new calls no hook). */
  seen(globalSeq: number): void {
    this.#advance(globalSeq);
  }

  /** Resolves true once the rollups hold every record up to globalSeq, false after timeoutMs. */
  waitFor(globalSeq: number, timeoutMs: number): Promise<boolean> {
    if (this.#at >= globalSeq) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        seq: globalSeq,
        wake: (reached: boolean) => {
          clearTimeout(timer);
          resolve(reached);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  #advance(globalSeq: number): void {
    if (globalSeq <= this.#at) return;
    this.#at = globalSeq;
    const ready = this.#waiters.filter((w) => w.seq <= globalSeq);
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => w.seq > globalSeq);
    for (const waiter of ready) waiter.wake(true);
  }

  async apply(tx: DatabaseTransactionConnection, page: EventPage): Promise<void> {
    const cutoff = this.keepFrom();
    const trades: RollupTrade[] = [];
    for (const record of page.records) {
      const { marketId } = record.batch;
      for (const event of record.events) {
        if (event.type !== 'fill' || event.ts < cutoff) continue;
        trades.push({
          marketId,
          id: tradeId(marketId, event.seq, event.n),
          globalSeq: record.globalSeq,
          ts: event.ts,
          price: event.fill.price,
          qty: event.fill.qty,
        });
      }
    }
    this.#pendingMonths = [];
    if (trades.length === 0) return;
    const months = [...new Set(trades.map((trade) => monthOf(trade.ts)))].filter((m) => !this.#months.has(m));
    await ensureRollupMonths(tx, months);
    this.#pendingMonths = months;
    await upsertRollups(tx, rollupDeltas(trades));
  }

  committed(page: EventPage): void {
    for (const month of this.#pendingMonths) this.#months.add(month);
    this.#pendingMonths = [];
    this.#advance(page.to);
  }

  /** Forgets the months it made (after partitions were dropped). */
  forgetMonths(): void {
    this.#months.clear();
  }
}
