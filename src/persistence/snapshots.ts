import { Packr } from 'msgpackr';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { LIFECYCLE_STATES } from '../../machines/marketLifecycle.ts';
import type { LedgerSnapshot } from '../actors/ledger/index.ts';
import type { MarketState } from '../actors/market/marketActor.ts';
import type { Supervisor } from '../actors/supervisor.ts';
import type { JournalWriterStats } from './journalWriter.ts';

/**
 * Durable snapshots (issue 5 §4): recovery loads the latest set and replays only the journal after
 * it (src/persistence/recovery.ts).
 *
 * A snapshot set is every market's MarketState and the ledger, all at one global sequence G, written
 * in one transaction: market_snapshots rows (market_id, seq, global_seq = G; an unchanged market
 * keeps its earlier row, see takeSnapshot) and a ledger_snapshots row at G. Each reflects exactly the journal records with global_seq <= G. That is guaranteed by
 * taking the state at a quiescent instant (Supervisor.atQuiescence: nothing processed is
 * uncommitted, so memory equals the committed journal) and pairing it, in the same synchronous step,
 * with the writer's last committed global sequence.
 *
 * The simple choice, documented: one exchange-wide snapshot at a quiescent instant. Such instants
 * come after every flush that commits all outstanding batches, but with many busy markets a
 * production version would rather snapshot each market on its own (its state right after one of its
 * batches commits, with that batch's global_seq, the ledger separately from per-account positions)
 * so no global pause point is needed, and would prune old snapshots. Nothing is pruned here.
 *
 * Records are plain MessagePack (no msgpackr records or extensions, undefined fields dropped):
 *   market = [MARKET_SNAPSHOT_VERSION, MarketState as maps]
 *   ledger = [SNAPSHOT_VERSION, ledgerSeq, LedgerSnapshot as maps]
 * Market version 2 adds the state's `activity` (book seq, open orders' last-change ts and filled
 * notional: PROTOCOL v1.1 "Sequences survive restarts"); version 1 records still decode, without
 * it, and recovery does not start from them (it replays the journal: recovery.ts).
 */
export const SNAPSHOT_VERSION = 1;
export const MARKET_SNAPSHOT_VERSION = 2;

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' });

/** The writer's side of a snapshot: its last committed position. */
export interface SnapshotSource {
  readonly supervisor: Supervisor;
  readonly writer: { stats(): Pick<JournalWriterStats, 'lastGlobalSeq' | 'pending'> };
}

export interface SnapshotResult {
  /** The global sequence the set reflects; 0 when the journal was empty (nothing written). */
  readonly globalSeq: number;
  readonly markets: number;
  readonly bytes: number;
}

export class SnapshotError extends Error {
  constructor(message: string) {
    super(`snapshot: ${message}`);
    this.name = 'SnapshotError';
  }
}

/** A deep copy without undefined fields (plain MessagePack has no undefined). */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = plain(v);
    return out;
  }
  return value;
}

export function encodeMarketState(state: MarketState): Buffer {
  return packr.pack([MARKET_SNAPSHOT_VERSION, plain(state)]);
}

export function encodeLedgerSnapshot(ledgerSeq: number, snapshot: LedgerSnapshot): Buffer {
  return packr.pack([SNAPSHOT_VERSION, ledgerSeq, plain(snapshot)]);
}

const OpenOrderShape = z.object({
  orderId: z.number().int(),
  userId: z.string(),
  clientOrderId: z.string().optional(),
  side: z.enum(['buy', 'sell']),
  type: z.enum(['limit', 'market', 'stop_limit', 'stop_market', 'trailing_stop']),
  tif: z.enum(['GTC', 'IOC', 'FOK', 'GTD']),
  postOnly: z.boolean(),
  stp: z.enum(['cancel_taker', 'cancel_maker', 'cancel_both', 'decrement']),
  price: z.number().int().optional(),
  stopPrice: z.number().int().optional(),
  qty: z.number().int(),
  remaining: z.number().int(),
  quoteBudget: z.number().int().positive().optional(),
  expireAt: z.number().int().positive().optional(),
  // Issue 14 (iceberg): the largest slice, and a resting iceberg's shown slice.
  displayQty: z.number().int().positive().optional(),
  shownQty: z.number().int().positive().optional(),
  // Issue 14 (trailing stops): the rule and the anchor it trails.
  trailingOffset: z.number().int().positive().optional(),
  trailingBps: z.number().int().positive().optional(),
  limitOffset: z.number().int().nonnegative().optional(),
  trailAnchor: z.number().int().positive().optional(),
  // Issue 14 (OCO): a linked leg's list (the limit leg's orderId).
  listId: z.number().int().optional(),
});

const ActivityShape = z.object({
  bookSeq: z.number().int().nonnegative(),
  orders: z.array(
    z.object({
      orderId: z.number().int(),
      ts: z.number().int().optional(),
      filledNotional: z
        .string()
        .regex(/^(0|[1-9][0-9]*)$/)
        .optional(),
    }),
  ),
});

const MarketStateFields = z.object({
  seq: z.number().int().nonnegative(),
  nextOrderId: z.number().int().nonnegative(),
  lifecycle: z.object({
    state: z.enum(LIFECYCLE_STATES),
    // The rest of the context (last transition, deployment facts) is the machine's own data.
    context: z.object({ marketId: z.string(), seq: z.number().int() }).passthrough(),
  }),
  book: z.object({
    version: z.literal(1),
    config: z.object({ maxOrders: z.number().int(), maxQty: z.number().int() }),
    lastPrice: z.number().int().nullable(),
    resting: z.array(OpenOrderShape),
    stops: z.array(OpenOrderShape),
  }),
});

const MarketStateShape = z.union([
  z.tuple([z.literal(1), MarketStateFields]),
  z.tuple([z.literal(MARKET_SNAPSHOT_VERSION), MarketStateFields.extend({ activity: ActivityShape })]),
]);

const Amount = z.string();
const LedgerShape = z.tuple([
  z.literal(SNAPSHOT_VERSION),
  z.number().int().nonnegative(),
  z.object({
    assets: z.array(z.object({ symbol: z.string(), decimals: z.number().int() })),
    accounts: z.array(
      z.object({
        account: z.string(),
        balances: z.array(z.object({ asset: z.string(), available: Amount, locked: Amount })),
      }),
    ),
  }),
]);

export function decodeMarketState(bytes: Uint8Array): MarketState {
  const parsed = MarketStateShape.safeParse(packr.unpack(bytes));
  if (!parsed.success) throw new SnapshotError(`bad market snapshot: ${parsed.error.message}`);
  return parsed.data[1];
}

export function decodeLedgerSnapshot(bytes: Uint8Array): { ledgerSeq: number; ledger: LedgerSnapshot } {
  const parsed = LedgerShape.safeParse(packr.unpack(bytes));
  if (!parsed.success) throw new SnapshotError(`bad ledger snapshot: ${parsed.error.message}`);
  return { ledgerSeq: parsed.data[1], ledger: parsed.data[2] };
}

/**
 * Writes a snapshot set of the whole exchange at the next quiescent instant (see the module
 * comment): resolves with the global sequence it reflects once its transaction has committed.
 * Nothing is written for an empty journal. A market whose seq has not moved since its previous
 * snapshot keeps its earlier row (primary key market_id, seq): same seq, so no record of it since
 * and the same state (a row of an older record version is rewritten in the current one). The set
 * at G is therefore each market's latest row with global_seq <= G (what recovery loads), and
 * every earlier set stays usable.
 */
export async function takeSnapshot(
  pool: DatabasePool,
  { supervisor, writer }: SnapshotSource,
): Promise<SnapshotResult> {
  const taken = await supervisor.atQuiescence((state) => {
    const { lastGlobalSeq, pending } = writer.stats();
    // At quiescence every batch and credit has settled, so the writer holds nothing.
    if (pending !== 0)
      throw new SnapshotError(`the writer holds ${pending} uncommitted records at quiescence`);
    return {
      globalSeq: lastGlobalSeq,
      markets: state.markets.map((m) => ({ id: m.id, seq: m.state.seq, record: encodeMarketState(m.state) })),
      ledger: encodeLedgerSnapshot(state.ledgerSeq, state.ledger),
    };
  });
  const { globalSeq, markets, ledger } = taken;
  if (globalSeq === 0) return { globalSeq, markets: 0, bytes: 0 };
  await pool.transaction(async (tx) => {
    if (markets.length > 0) {
      await tx.query(sql.unsafe`
        INSERT INTO market_snapshots (market_id, seq, global_seq, state)
        SELECT m, s, ${globalSeq}::int8, r
        FROM unnest(
          ${sql.array(
            markets.map((m) => m.id),
            'text',
          )},
          ${sql.array(
            markets.map((m) => m.seq),
            'int8',
          )},
          ${sql.array(
            markets.map((m) => m.record),
            'bytea',
          )}
        ) AS u(m, s, r)
        ON CONFLICT (market_id, seq) DO UPDATE SET state = excluded.state
          -- Same seq, same state: only a row of an older record version (its second byte) is rewritten.
          WHERE get_byte(market_snapshots.state, 1) <> get_byte(excluded.state, 1)`);
    }
    await tx.query(sql.unsafe`
      INSERT INTO ledger_snapshots (global_seq, state) VALUES (${globalSeq}, ${sql.binary(ledger)})
      ON CONFLICT (global_seq) DO NOTHING`);
  });
  const bytes = markets.reduce((n, m) => n + m.record.length, ledger.length);
  return { globalSeq, markets: markets.length, bytes };
}

export interface SnapshotScheduleOptions {
  /** Snapshot once this many journal records were committed since the last snapshot (default 100,000). */
  readonly everyRecords?: number;
  /** ... or once this long has passed since it, if anything was committed (default 60 s). */
  readonly intervalMs?: number;
  /** How often the conditions are checked (default 1 s, at most intervalMs). */
  readonly checkMs?: number;
  /** A snapshot is about to be taken (before the quiescent instant is awaited). */
  readonly onStart?: () => void;
  readonly onSnapshot?: (result: SnapshotResult) => void;
  /** A failed snapshot is reported and retried at the next check (default: ignored). */
  readonly onError?: (error: Error) => void;
}

export interface SnapshotSchedule {
  /** Stops the checks and waits for a snapshot under way. */
  stop(): Promise<void>;
}

/**
 * Takes snapshots periodically: every `everyRecords` committed journal records or `intervalMs`,
 * whichever comes first, one at a time. The timer does not keep the process alive.
 */
export function scheduleSnapshots(
  pool: DatabasePool,
  source: SnapshotSource,
  options: SnapshotScheduleOptions = {},
): SnapshotSchedule {
  const everyRecords = options.everyRecords ?? 100_000;
  const intervalMs = options.intervalMs ?? 60_000;
  const checkMs = Math.min(options.checkMs ?? 1_000, intervalMs);
  if (!Number.isSafeInteger(everyRecords) || everyRecords < 1) {
    throw new RangeError('everyRecords must be a positive integer');
  }
  if (!(intervalMs > 0) || !(checkMs > 0)) throw new RangeError('intervalMs and checkMs must be positive');
  let lastSeq = source.writer.stats().lastGlobalSeq;
  let lastAt = Date.now();
  let running: Promise<void> | undefined;
  const check = () => {
    if (running !== undefined) return;
    const seq = source.writer.stats().lastGlobalSeq;
    if (seq === lastSeq || (seq - lastSeq < everyRecords && Date.now() - lastAt < intervalMs)) return;
    options.onStart?.();
    running = takeSnapshot(pool, source)
      .then(
        (result) => {
          lastSeq = result.globalSeq;
          lastAt = Date.now();
          options.onSnapshot?.(result);
        },
        (error: unknown) => options.onError?.(error instanceof Error ? error : new Error(String(error))),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(check, checkMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
