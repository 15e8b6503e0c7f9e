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
  readonly records: number;
  readonly entries: number;
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

/**
 * Rebuilds the exchange from the journal (DESIGN.md principles 2 and 4): every record in
 * global_seq order, streamed in pages. A `@ledger` record's postings are applied to the ledger; a
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

  let last = 0;
  let records = 0;
  let entries = 0;
  let ledgerSeq = 0;
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
  return { records, entries, lastGlobalSeq: last };
}
