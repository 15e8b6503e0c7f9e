import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { Ledger, Posting } from '../actors/ledger/index.ts';
import type { MarketActor } from '../actors/market/marketActor.ts';
import { isFundingCommand, type FundingCommand } from '../actors/funding/index.ts';
import {
  isLedgerCommand,
  LEDGER_JOURNAL_ID,
  TRENDS_JOURNAL_ID,
  type BatchEntry,
  type JournalCommand,
} from '../actors/market/types.ts';
import type { Supervisor } from '../actors/supervisor.ts';
import { decodeBatch } from './journalCodec.ts';
import { decodeLedgerSnapshot, decodeMarketState } from './snapshots.ts';

export interface RecoveryTarget {
  /** The ledger the supervisor was built with: fresh (assets defined, nothing posted). */
  readonly ledger: Ledger;
  /** A supervisor with every market of the journal added (addMarket) and no command processed. */
  readonly supervisor: Supervisor;
}

export interface RecoveryOptions {
  /** Most journal rows read per query (default 1,000). */
  readonly pageSize?: number;
  /**
   * Bytes of records a page aims at (default 4 MB): after the first page, the row limit follows
   * the records' mean size so pages stay small enough to overlap reading with replaying.
   */
  readonly pageBytes?: number;
}

export interface RecoveryStats {
  /** Journal records replayed (those after the snapshot, when one was loaded). */
  readonly records: number;
  readonly entries: number;
  /** The global_seq of the snapshot set recovery started from (0: none, the whole journal replayed). */
  readonly snapshotGlobalSeq: number;
  /** Markets restored from that snapshot set. */
  readonly snapshotMarkets: number;
  /** The last global_seq replayed (0 for an empty journal): the JournalWriter continues after it. */
  readonly lastGlobalSeq: number;
}

export class RecoveryError extends Error {
  constructor(message: string) {
    super(`recovery: ${message}`);
    this.name = 'RecoveryError';
  }
}

const JournalPage = z.object({ global_seq: z.string(), record: z.instanceof(Buffer) });
type JournalRow = z.infer<typeof JournalPage>;
const LedgerSnapshotRow = z.object({ global_seq: z.string(), state: z.instanceof(Buffer) });
const MarketSnapshotRow = z.object({ market_id: z.string(), seq: z.string(), state: z.instanceof(Buffer) });
const JournalMarket = z.object({ market_id: z.string() });

/**
 * Rebuilds the exchange from the latest snapshot set and the journal after it (DESIGN.md principles
 * 2 and 4; snapshots.ts): the ledger and every market of the set start from their snapshot at its
 * global_seq G, a market registered since starts from its initial state, then every record after
 * G (all of them without a snapshot) is replayed in global_seq order, streamed in pages. A `@ledger` record's postings are applied to the ledger; a
 * market record's entries each apply their journaled postings (the exact ledger effect) and replay
 * their book and lifecycle input into the market's actor (MarketActor.replayBatch, one record at a time). Afterwards each market takes a rebuild
 * point and the supervisor's credits continue the `@ledger` sequence; a JournalWriter opened
 * afterwards continues the global sequence. Throws on anything that does not fit (a gap in the
 * global sequence, an unknown market, postings the ledger refuses, an entry out of seq order).
 */
export async function recover(
  pool: DatabasePool,
  { ledger, supervisor }: RecoveryTarget,
  options: RecoveryOptions = {},
): Promise<RecoveryStats> {
  const pageSize = options.pageSize ?? 1_000;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1)
    throw new RangeError('pageSize must be a positive integer');
  const actors = new Map<string, MarketActor>();
  for (const { id, symbol } of supervisor.list()) actors.set(id, supervisor.actor(symbol)!);

  const snapshot = await loadSnapshot(pool, ledger, actors);
  if (snapshot.globalSeq > 0) await replayFundingUpTo(pool, supervisor, snapshot.globalSeq);
  let last = snapshot.globalSeq;
  let records = 0;
  let entries = 0;
  let ledgerSeq = snapshot.ledgerSeq;
  const pageBytes = options.pageBytes ?? 4_000_000;
  const fetchAfter = (from: number, limit: number) =>
    pool.any(sql.type(JournalPage)`
      SELECT global_seq::text AS global_seq, record FROM journal
      WHERE global_seq > ${from} ORDER BY journal.global_seq LIMIT ${limit}`);
  // A market batch of 512 commands is ~65 KB: the first page is kept short so replay starts soon.
  let limit = Math.min(pageSize, 16);
  let next: Promise<readonly JournalRow[]> | undefined = fetchAfter(last, limit);
  while (next !== undefined) {
    const page: readonly JournalRow[] = await next;
    // The next page is read (and parsed by the driver) while this one is decoded and applied.
    const tail = page.at(-1);
    if (page.length === limit && tail !== undefined) {
      const mean = page.reduce((n, row) => n + row.record.length, 0) / page.length;
      limit = Math.max(1, Math.min(pageSize, Math.round(pageBytes / Math.max(mean, 1))));
      next = fetchAfter(Number(tail.global_seq), limit);
    } else next = undefined;
    // Handled before an error can escape below, so a failing replay leaves no unhandled rejection.
    next?.catch(() => undefined);
    for (const row of page) {
      const globalSeq = Number(row.global_seq);
      if (globalSeq !== last + 1) throw new RecoveryError(`global_seq ${row.global_seq} follows ${last}`);
      last = globalSeq;
      const batch = decodeBatch(row.record);
      const where = `global_seq ${globalSeq} (${batch.symbol})`;
      if (batch.marketId === TRENDS_JOURNAL_ID) {
        // Trend signals (issue 19) change no state: checked, then skipped.
        for (const entry of batch.entries) {
          if (!isTrendSignal(entry)) {
            throw new RecoveryError(`${where}: a ${entry.command.kind} command in a trends record`);
          }
        }
      } else if (batch.marketId === LEDGER_JOURNAL_ID) {
        for (const entry of batch.entries) {
          if (!isLedgerCommand(entry.command)) {
            throw new RecoveryError(`${where}: a ${entry.command.kind} command in a ledger record`);
          }
          if (isFundingCommand(entry.command)) replayFunding(supervisor, entry.command, where);
          if (entry.seq <= ledgerSeq) throw new RecoveryError(`${where}: ledger seq ${entry.seq} goes back`);
          ledgerSeq = entry.seq;
        }
        applyPostings(ledger, batch.entries, where);
      } else {
        const actor = actors.get(batch.marketId);
        if (actor === undefined) {
          throw new RecoveryError(
            `${where}: market ${batch.marketId} is not registered; add every market before recovering`,
          );
        }
        applyPostings(ledger, batch.entries, where);
        actor.replayBatch(marketEntries(batch.entries, where));
      }
      records++;
      entries += batch.entries.length;
    }
  }
  for (const actor of actors.values()) actor.finishRecovery();
  supervisor.resumeLedgerSeq(ledgerSeq);
  supervisor.armExpiries();
  return {
    records,
    entries,
    snapshotGlobalSeq: snapshot.globalSeq,
    snapshotMarkets: snapshot.markets,
    lastGlobalSeq: last,
  };
}

function isMarketEntry(entry: BatchEntry<JournalCommand>): entry is BatchEntry {
  return !isLedgerCommand(entry.command) && !isTrendSignal(entry);
}

export function isTrendSignal(entry: BatchEntry<JournalCommand>): boolean {
  return entry.command.kind === 'trend_detected' || entry.command.kind === 'market_breakout';
}

function replayFunding(supervisor: Supervisor, command: FundingCommand, where: string): void {
  try {
    supervisor.funding.replay(command);
  } catch (error) {
    throw new RecoveryError(`${where}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * The funding register holds every deposit and withdrawal ever journaled (issue 15: a credit is
 * refused for a deposit credited before, however long ago), while a snapshot holds balances only:
 * the `@ledger` records up to the snapshot's global_seq are read for their funding commands alone
 * (their postings are in the snapshot's balances already).
 */
async function replayFundingUpTo(
  pool: DatabasePool,
  supervisor: Supervisor,
  globalSeq: number,
): Promise<void> {
  let after = 0;
  for (;;) {
    const page = await pool.any(sql.type(JournalPage)`
      SELECT global_seq::text AS global_seq, record FROM journal
      WHERE market_id = ${LEDGER_JOURNAL_ID} AND global_seq > ${after} AND global_seq <= ${globalSeq}
      ORDER BY journal.global_seq LIMIT 1000`);
    for (const row of page) {
      const where = `global_seq ${row.global_seq} (@ledger, before the snapshot)`;
      for (const entry of decodeBatch(row.record).entries) {
        if (isFundingCommand(entry.command)) replayFunding(supervisor, entry.command, where);
      }
      after = Number(row.global_seq);
    }
    if (page.length < 1000) return;
  }
}

/** A market record's entries, checked to hold market commands only. */
export function marketEntries(
  entries: readonly BatchEntry<JournalCommand>[],
  where: string,
): readonly BatchEntry[] {
  if (!entries.every(isMarketEntry)) throw new RecoveryError(`${where}: a deposit in a market record`);
  return entries;
}

/**
 * Applies a record's postings to the ledger as one set: its final balances are exactly those of
 * applying them entry by entry, at a fraction of the checking cost (measured: ledger.apply per
 * entry was ~1.8 s of a 10 s recovery of 1,000,000 commands). The set is checked as a whole (sums
 * per asset, no balance below zero at the end of the record): a balance negative only between two
 * entries of a record would go unnoticed, which the actor ruled out when it processed them. When
 * the set is refused (nothing applied), the entries are applied one by one to name the first that
 * fails.
 */
function applyPostings(
  ledger: Ledger,
  batchEntries: readonly BatchEntry<JournalCommand>[],
  where: string,
): void {
  let count = 0;
  for (const entry of batchEntries) count += entry.postings.length;
  if (count === 0) return;
  const all: Posting[] = new Array<Posting>(count);
  let i = 0;
  for (const entry of batchEntries) for (const posting of entry.postings) all[i++] = posting;
  if (ledger.apply(all).ok) return;
  for (const entry of batchEntries) {
    const applied = ledger.apply(entry.postings);
    if (!applied.ok) {
      throw new RecoveryError(
        `${where} seq ${entry.seq}: the ledger refuses its postings: ${applied.message}`,
      );
    }
  }
  throw new RecoveryError(`${where}: the ledger refuses the record's postings as a whole`);
}

/**
 * Loads the latest snapshot set into the fresh ledger and the markets, if there is one: the
 * ledger_snapshots row with the highest global_seq G and each market's latest market_snapshots row
 * with global_seq <= G (takeSnapshot writes them together; a market unchanged since its previous
 * snapshot keeps that row). A registered market without a row must have no journal record up to G;
 * a row for a market that is not registered is an error, as its journal records would be. A set
 * holding a market snapshot of version 1 (no activity) is not used: recovery replays the journal.
 */
async function loadSnapshot(
  pool: DatabasePool,
  ledger: Ledger,
  actors: ReadonlyMap<string, MarketActor>,
): Promise<{ globalSeq: number; ledgerSeq: number; markets: number }> {
  const latest = await pool.maybeOne(sql.type(LedgerSnapshotRow)`
    SELECT global_seq::text AS global_seq, state FROM ledger_snapshots
    ORDER BY ledger_snapshots.global_seq DESC LIMIT 1`);
  if (latest === null) return { globalSeq: 0, ledgerSeq: 0, markets: 0 };
  const globalSeq = Number(latest.global_seq);
  const where = `snapshot at global_seq ${globalSeq}`;
  const rows = await pool.any(sql.type(MarketSnapshotRow)`
    SELECT DISTINCT ON (market_id) market_id, seq::text AS seq, state FROM market_snapshots
    WHERE global_seq <= ${globalSeq}
    ORDER BY market_id, market_snapshots.global_seq DESC`);
  const states = rows.map((row) => {
    const state = decodeMarketState(row.state);
    if (state.seq !== Number(row.seq)) {
      throw new RecoveryError(`${where}: market ${row.market_id} holds seq ${state.seq}, its row ${row.seq}`);
    }
    return { marketId: row.market_id, state };
  });
  // A set written before markets kept their activity (book seq, orders' ts and fills) cannot
  // continue those exactly: the whole journal (never pruned) is replayed instead, once.
  if (states.some(({ state }) => state.activity === undefined)) {
    return { globalSeq: 0, ledgerSeq: 0, markets: 0 };
  }
  const restored = new Set<string>();
  for (const { marketId, state } of states) {
    const actor = actors.get(marketId);
    if (actor === undefined) {
      throw new RecoveryError(
        `${where}: market ${marketId} is not registered; add every market before recovering`,
      );
    }
    actor.restoreState(state);
    restored.add(marketId);
  }
  const others = [...actors.keys()].filter((id) => !restored.has(id));
  if (others.length > 0) {
    const missed = await pool.maybeOne(sql.type(JournalMarket)`
      SELECT market_id FROM journal
      WHERE market_id = ANY(${sql.array(others, 'text')}) AND global_seq <= ${globalSeq} LIMIT 1`);
    if (missed !== null) {
      throw new RecoveryError(`${where}: market ${missed.market_id} has journal records but no snapshot`);
    }
  }
  const { ledgerSeq, ledger: balances } = decodeLedgerSnapshot(latest.state);
  try {
    ledger.load(balances);
  } catch (error) {
    throw new RecoveryError(`${where}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { globalSeq, ledgerSeq, markets: rows.length };
}
