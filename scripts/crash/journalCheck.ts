import { isDeepStrictEqual } from 'node:util';
import { createPool, sql } from 'slonik';
import { z } from 'zod';
import {
  LEDGER_JOURNAL_ID,
  type BatchEntry,
  type BatchOutput,
  type JournalBatch,
  type JournalCommand,
} from '../../src/actors/market/types.ts';
import { isLedgerCommand } from '../../src/actors/market/types.ts';
import { loadCatalog, type StoredCatalog } from '../../src/persistence/catalogStore.ts';
import { decodeBatch } from '../../src/persistence/journalCodec.ts';
import { recover } from '../../src/persistence/recovery.ts';
import { actualLocks, expectedLocks } from '../../test/support/markets.ts';
import { buildExchange, type AckLine, type CrashExchange } from './exchange.ts';

/**
 * The crash test's journal checks (scripts/crash/harness.ts), each discrepancy counted in
 * `mismatches` (an acknowledged command missing from the journal counts in `lost`):
 *  - every acknowledged command is in the journal under its market and seq, ok, with the same kind,
 *    order id and book events;
 *  - re-executing the journal's commands in global order through a fresh supervisor (independently
 *    of recovery's replay) gives exactly the journaled results and postings, entry by entry, and the
 *    same books, market states and ledger as recover() on the same journal and snapshots: nothing
 *    in the recovered state came from outside the journal;
 *  - the recovered ledger's invariants hold, and each user's locked funds are exactly what their
 *    open orders need.
 */

export interface JournalVerdict {
  readonly lost: number;
  readonly mismatches: number;
  readonly journaled: number;
  readonly problems: string[];
}

const JournalRow = z.object({ global_seq: z.string(), record: z.instanceof(Buffer) });

export async function verifyJournal(
  databaseUrl: string,
  acks: readonly AckLine[],
  users: readonly string[],
): Promise<JournalVerdict> {
  const pool = await createPool(databaseUrl, { maximumPoolSize: 2 });
  try {
    const rows = await pool.any(
      sql.type(
        JournalRow,
      )`SELECT global_seq::text AS global_seq, record FROM journal ORDER BY journal.global_seq`,
    );
    const batches = rows.map((r) => decodeBatch(r.record));
    const catalog = await loadCatalog(pool);
    const problems: string[] = [];
    let lost = 0;
    let mismatches = 0;
    const mismatch = (message: string) => {
      mismatches++;
      problems.push(message);
    };

    // 1. Every acknowledged command is journaled with the same outcome.
    const entries = new Map<string, BatchEntry<JournalCommand>>();
    for (const batch of batches)
      for (const entry of batch.entries) entries.set(`${batch.symbol}#${entry.seq}`, entry);
    const seen = new Set<string>();
    for (const ack of acks) {
      const key = `${ack.market}#${ack.seq}`;
      if (seen.has(key)) mismatch(`${key} was acknowledged twice`);
      seen.add(key);
      const entry = entries.get(key);
      if (entry === undefined) {
        lost++;
        problems.push(`${key} (${ack.kind}) was acknowledged but is not in the journal`);
        continue;
      }
      const journaled = plain(ackOf(ack.market, entry));
      if (!isDeepStrictEqual(journaled, plain(ack))) {
        mismatch(`${key}: acknowledged ${JSON.stringify(ack)}, journaled ${JSON.stringify(journaled)}`);
      }
    }

    // 2. The journal re-executed from scratch gives the journaled results, and recovery agrees.
    const recovered = buildExchange(catalog, { commit: () => undefined });
    await recover(pool, recovered);
    const reexecuted = await reexecute(catalog, batches, mismatch);
    const difference = firstDifference(stateOf(recovered), stateOf(reexecuted));
    if (difference !== undefined) {
      mismatch(`the recovered exchange differs from the journal re-executed at ${difference}`);
    }

    // 3. Ledger invariants, and locked funds are what the open orders need.
    for (const violation of recovered.ledger.checkInvariants()) mismatch(`ledger: ${violation}`);
    const expected = Object.fromEntries(expectedLocks(recovered.supervisor));
    const actual = Object.fromEntries(actualLocks(recovered.ledger, users));
    if (!isDeepStrictEqual(plain(expected), plain(actual))) {
      mismatch(
        `locked funds ${JSON.stringify(plain(actual))}, open orders need ${JSON.stringify(plain(expected))}`,
      );
    }
    if (recovered.supervisor.list().some((m) => m.state !== 'active')) mismatch('a market is not active');

    const journaled = batches.reduce((n, b) => n + b.entries.length, 0);
    return { lost, mismatches, journaled, problems };
  } finally {
    await pool.end();
  }
}

/** What the child would have printed for this journal entry. */
function ackOf(market: string, entry: BatchEntry<JournalCommand>): unknown {
  const { result } = entry;
  if (!result.ok) return { refused: result };
  return {
    type: 'ack',
    market,
    seq: result.seq,
    orderId: result.orderId ?? null,
    kind: entry.command.kind,
    events: result.events.filter((e) => e.type !== 'level'),
  };
}

/**
 * Runs the journal's commands again, in global order, through a fresh supervisor and ledger (real
 * matching and funds checks, unlike recovery's replay): each batch's commands are submitted
 * together and answered before the next batch goes. Reports every entry whose result or postings
 * differ from the journal's.
 */
async function reexecute(
  catalog: StoredCatalog,
  batches: readonly JournalBatch[],
  mismatch: (message: string) => void,
): Promise<CrashExchange> {
  const produced: BatchOutput[] = [];
  const exchange = buildExchange(catalog, { commit: (batch) => void produced.push(batch as BatchOutput) });
  const { supervisor } = exchange;
  const journaledEntries = new Map<string, BatchEntry<JournalCommand>[]>();
  for (const batch of batches) {
    const list = journaledEntries.get(batch.symbol) ?? [];
    list.push(...batch.entries);
    journaledEntries.set(batch.symbol, list);
    // Trend signals (`@trends`, issue 19) change no state: nothing to re-execute.
    if (batch.marketId === '@trends') continue;
    if (batch.marketId === LEDGER_JOURNAL_ID) {
      for (const entry of batch.entries) {
        const { command } = entry;
        if (command.kind !== 'deposit') {
          mismatch(`a ${command.kind} command in a @ledger record`);
          continue;
        }
        supervisor.resumeLedgerSeq(entry.seq - 1);
        const result = await supervisor.credit(command.userId, command.asset, command.amount, entry.ts);
        if (!isDeepStrictEqual(plain(result), plain(entry.result))) {
          mismatch(`@ledger#${entry.seq}: re-executed ${JSON.stringify(plain(result))}`);
        }
      }
      continue;
    }
    await Promise.all(
      batch.entries.map(({ command, ts }) => {
        if (
          isLedgerCommand(command) ||
          command.kind === 'trend_detected' ||
          command.kind === 'market_breakout'
        )
          throw new Error(`a ${command.kind} in a ${batch.symbol} record`);
        return supervisor.submit(batch.symbol, command, ts);
      }),
    );
  }
  await supervisor.idle();
  for (const { symbol } of catalog.markets) {
    const journaled = journaledEntries.get(symbol) ?? [];
    const again = produced.filter((b) => b.symbol === symbol).flatMap((b) => b.entries);
    if (again.length !== journaled.length) {
      mismatch(`${symbol}: ${journaled.length} journaled entries, ${again.length} re-executed`);
    }
    for (let i = 0; i < Math.min(again.length, journaled.length); i++) {
      const fresh = plain(withoutLiveOnly(again[i]!));
      if (!isDeepStrictEqual(fresh, plain(journaled[i]))) {
        mismatch(`${symbol}#${journaled[i]!.seq}: re-executed ${JSON.stringify(fresh)}`);
        break;
      }
    }
  }
  return exchange;
}

/**
 * A live entry as the journal keeps it: a cancel's result carries `filledQty` for the `canceled`
 * reply only (the journal does not store it; replay never replies).
 */
function withoutLiveOnly(entry: BatchEntry<JournalCommand>): BatchEntry<JournalCommand> {
  if (entry.command.kind !== 'cancel' || !entry.result.ok || !('filledQty' in entry.result)) return entry;
  const journaled: Record<string, unknown> = { ...entry.result };
  delete journaled.filledQty;
  return { ...entry, result: journaled as unknown as typeof entry.result };
}

/** Everything recovery must reproduce (open-order terms by order id: their map order is not state). */
function stateOf({ ledger, supervisor }: CrashExchange): unknown {
  return plain({
    ledger: ledger.snapshot(),
    markets: supervisor.list().map(({ symbol }) => {
      const actor = supervisor.actor(symbol)!;
      return {
        symbol,
        market: actor.currentState(),
        terms: [...actor.openOrderTerms].sort(([a], [b]) => a - b),
      };
    }),
  });
}

/** The path of the first place where two JSON-shaped values differ, with both values there. */
function firstDifference(a: unknown, b: unknown, at = '$'): string | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) {
    const left = a as Record<string, unknown>;
    const right = b as Record<string, unknown>;
    for (const key of new Set([...Object.keys(left), ...Object.keys(right)])) {
      const found = firstDifference(left[key], right[key], `${at}.${key}`);
      if (found !== undefined) return found;
    }
  }
  const show = (v: unknown) => (v === undefined ? 'undefined' : JSON.stringify(v).slice(0, 200));
  return `${at}: ${show(a)} vs ${show(b)}`;
}

/** A JSON-shaped copy: bigints as strings, undefined fields dropped (as the journal decodes them). */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));
}
