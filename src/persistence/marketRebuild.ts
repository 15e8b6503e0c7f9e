import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { Ledger } from '../actors/ledger/index.ts';
import { MarketActor, type MarketState } from '../actors/market/marketActor.ts';
import type { MarketRebuildRequest } from '../actors/supervisor.ts';
import { decodeBatch } from './journalCodec.ts';
import { marketEntries, RecoveryError } from './recovery.ts';
import { decodeMarketState } from './snapshots.ts';

export interface MarketRebuildOptions {
  /** Journal rows read per query (default 256: a 512-command batch is tens of KB). */
  readonly pageSize?: number;
}

const SnapshotRow = z.object({ seq: z.string(), state: z.instanceof(Buffer) });
const JournalPage = z.object({ global_seq: z.string(), seq_to: z.string(), record: z.instanceof(Buffer) });

/**
 * The Supervisor's durable rebuild (SupervisorOptions.rebuildMarket; issue 5 §4): a market after a
 * fault or a failed commit is rebuilt from what is durable, not from memory.
 */
export function durableMarketRebuild(
  pool: DatabasePool,
  options: MarketRebuildOptions = {},
): (request: MarketRebuildRequest) => Promise<MarketState> {
  return (request) => rebuildMarketState(pool, request, options);
}

/**
 * One market's state from its latest durable snapshot plus its committed journal records after it,
 * replayed in order through the same code as recovery (decodeBatch, MarketActor.replayBatch; see
 * recovery.ts) into a scratch actor. Book, lifecycle, order ids and sequence only: the ledger is not
 * touched (the supervisor keeps it exact by undoing what was not committed). Reads the market's own
 * rows through the (market_id, seq_to) index, so its cost is that market's journal since its
 * snapshot, whatever the other markets wrote. Throws a RecoveryError on anything that does not fit
 * (a record out of seq order, a deposit in a market record).
 */
export async function rebuildMarketState(
  pool: DatabasePool,
  request: Omit<MarketRebuildRequest, 'seq'>,
  options: MarketRebuildOptions = {},
): Promise<MarketState> {
  const pageSize = options.pageSize ?? 256;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1)
    throw new RangeError('pageSize must be a positive integer');
  const { definition } = request;
  const actor = new MarketActor({
    definition,
    // replayBatch never touches the ledger; the actor needs one to exist.
    ledger: new Ledger(),
    baseDecimals: request.baseDecimals,
    quoteDecimals: request.quoteDecimals,
    mailboxSize: 1,
    batchSize: 1,
  });
  const snapshot = await pool.maybeOne(sql.type(SnapshotRow)`
    SELECT seq::text AS seq, state FROM market_snapshots
    WHERE market_id = ${definition.id} ORDER BY market_snapshots.seq DESC LIMIT 1`);
  let seq = 0;
  const state = snapshot === null ? undefined : decodeMarketState(snapshot.state);
  // A version 1 snapshot (no activity): the market's whole journal instead, as recovery does.
  if (snapshot !== null && state?.activity !== undefined) {
    if (state.seq !== Number(snapshot.seq)) {
      throw new RecoveryError(
        `market ${definition.id}: its snapshot holds seq ${state.seq}, its row ${snapshot.seq}`,
      );
    }
    actor.restoreState(state);
    seq = state.seq;
  }
  for (;;) {
    const page = await pool.any(sql.type(JournalPage)`
      SELECT global_seq::text AS global_seq, seq_to::text AS seq_to, record FROM journal
      WHERE market_id = ${definition.id} AND seq_to > ${seq}
      ORDER BY journal.seq_to LIMIT ${pageSize}`);
    for (const row of page) {
      const batch = decodeBatch(row.record);
      const where = `global_seq ${row.global_seq} (${batch.symbol})`;
      if (batch.marketId !== definition.id) {
        throw new RecoveryError(
          `${where}: a record of market ${batch.marketId} in the rows of ${definition.id}`,
        );
      }
      actor.replayBatch(marketEntries(batch.entries, where));
      seq = Number(row.seq_to);
    }
    if (page.length < pageSize) break;
  }
  actor.finishRecovery();
  return actor.currentState();
}
