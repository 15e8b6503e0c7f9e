import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { Ledger } from '../actors/ledger/index.ts';
import type { MarketActor } from '../actors/market/marketActor.ts';
import {
  LEDGER_JOURNAL_ID,
  type BatchEntry,
  type JournalCommand,
  type MarketCommand,
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
  /** Journal rows read per query. */
  readonly pageSize?: number;
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
const LedgerSnapshotRow = z.object({ global_seq: z.string(), state: z.instanceof(Buffer) });
const MarketSnapshotRow = z.object({ market_id: z.string(), seq: z.string(), state: z.instanceof(Buffer) });
const JournalMarket = z.object({ market_id: z.string() });

/**
 * Rebuilds the exchange from the latest snapshot set and the journal after it (DESIGN.md principles
 * 2 and 4; snapshots.ts): the ledger and every market of the set start from their snapshot at its
 * global_seq G, a market registered since starts from its initial state, then every record after
 * G (all of them without a snapshot) is replayed in global_seq order, streamed in pages. A `@ledger` record's postings are applied to the ledger; a
 * market record's entries each apply their journaled postings (the exact ledger effect) and replay
 * their book and lifecycle input into the market's actor. Afterwards each market takes a rebuild
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
  let last = snapshot.globalSeq;
  let records = 0;
  let entries = 0;
  let ledgerSeq = snapshot.ledgerSeq;
  for (;;) {
    const page = await pool.any(sql.type(JournalPage)`
      SELECT global_seq::text AS global_seq, record FROM journal
      WHERE global_seq > ${last} ORDER BY journal.global_seq LIMIT ${pageSize}`);
    for (const row of page) {
      const globalSeq = Number(row.global_seq);
      if (globalSeq !== last + 1) throw new RecoveryError(`global_seq ${row.global_seq} follows ${last}`);
      last = globalSeq;
      const batch = decodeBatch(row.record);
      const where = `global_seq ${globalSeq} (${batch.symbol})`;
      const apply = (entry: BatchEntry<JournalCommand>) => {
        const applied = ledger.apply(entry.postings);
        if (!applied.ok) {
          throw new RecoveryError(
            `${where} seq ${entry.seq}: the ledger refuses its postings: ${applied.message}`,
          );
        }
      };
      if (batch.marketId === LEDGER_JOURNAL_ID) {
        for (const entry of batch.entries) {
          if (entry.command.kind !== 'deposit') {
            throw new RecoveryError(`${where}: a ${entry.command.kind} command in a ledger record`);
          }
          if (entry.seq <= ledgerSeq) throw new RecoveryError(`${where}: ledger seq ${entry.seq} goes back`);
          apply(entry);
          ledgerSeq = entry.seq;
        }
      } else {
        const actor = actors.get(batch.marketId);
        if (actor === undefined) {
          throw new RecoveryError(
            `${where}: market ${batch.marketId} is not registered; add every market before recovering`,
          );
        }
        for (const entry of batch.entries) {
          const { command } = entry;
          if (command.kind === 'deposit') throw new RecoveryError(`${where}: a deposit in a market record`);
          apply(entry);
          actor.replayEntry({ ...entry, command: command satisfies MarketCommand });
        }
      }
      records++;
      entries += batch.entries.length;
    }
    if (page.length < pageSize) break;
  }
  for (const actor of actors.values()) actor.finishRecovery();
  supervisor.resumeLedgerSeq(ledgerSeq);
  return {
    records,
    entries,
    snapshotGlobalSeq: snapshot.globalSeq,
    snapshotMarkets: snapshot.markets,
    lastGlobalSeq: last,
  };
}

/**
 * Loads the latest snapshot set into the fresh ledger and the markets, if there is one: the
 * ledger_snapshots row with the highest global_seq G and each market's latest market_snapshots row
 * with global_seq <= G (takeSnapshot writes them together; a market unchanged since its previous
 * snapshot keeps that row). A registered market without a row must have no journal record up to G;
 * a row for a market that is not registered is an error, as its journal records would be.
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
  const restored = new Set<string>();
  for (const row of rows) {
    const actor = actors.get(row.market_id);
    if (actor === undefined) {
      throw new RecoveryError(
        `${where}: market ${row.market_id} is not registered; add every market before recovering`,
      );
    }
    const state = decodeMarketState(row.state);
    if (state.seq !== Number(row.seq)) {
      throw new RecoveryError(`${where}: market ${row.market_id} holds seq ${state.seq}, its row ${row.seq}`);
    }
    actor.restoreState(state);
    restored.add(row.market_id);
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
