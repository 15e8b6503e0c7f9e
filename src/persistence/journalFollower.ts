import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { isFundingCommand } from '../actors/funding/index.ts';
import type { Ledger } from '../actors/ledger/index.ts';
import {
  isLedgerCommand,
  LEDGER_JOURNAL_ID,
  TRENDS_JOURNAL_ID,
  type JournalBatch,
} from '../actors/market/types.ts';
import type { Supervisor } from '../actors/supervisor.ts';
import { decodeBatch } from './journalCodec.ts';
import type { Posting } from '../actors/ledger/index.ts';
import { marketEntries, RecoveryError } from './recovery.ts';

/*
 * A replica of the shared journal (docs/scale-out.md, "Shared journal"): after recovery, every
 * engine and every gateway keeps following the committed journal, applying the rows other writers
 * committed to its own ledger and market actors (the same replay as recovery.ts) and handing each
 * to the committed event stream (market data, open orders, balances). So every process holds the
 * whole ledger and every book: an engine's debits see what the other engines spent (the debit
 * fence in Postgres decides races), a gateway serves books with the owner's seq and checksum, and a
 * takeover only has to catch up the tail. Rows of this process's own writer are skipped: their
 * effects were applied when they were processed.
 */

const Row = z.object({ global_seq: z.string(), writer: z.string().nullable(), record: z.instanceof(Buffer) });

export interface FollowerOptions {
  readonly ledger: Ledger;
  readonly supervisor: Supervisor;
  /** This process's journal writer id (engines); undefined for a replica that writes nothing. */
  readonly self?: string | undefined;
  /** The last global_seq recovery replayed. */
  readonly after: number;
  /** Each applied foreign row, after it was applied. */
  readonly publish: (batch: JournalBatch, globalSeq: number) => void;
  /**
   * The ledger refused a foreign row's postings: our own uncommitted batches hold the funds it
   * spends (the debit fence will refuse them). Resolves once those have settled, to try again.
   */
  readonly settled?: () => Promise<void>;
  /** The replica cannot follow (a row that does not fit): the process must recover from scratch. */
  readonly onFatal: (error: Error) => void;
  /**
   * A row of a market this process does not know: listed since it started (cluster roles). Loads
   * what the catalog gained; the row is applied if the market is known then, else the replica fails.
   */
  readonly unknownMarket?: (symbol: string) => Promise<void>;
  /** Fallback polling period when no one pokes (default 100 ms). */
  readonly everyMs?: number;
  readonly pageSize?: number;
}

export class JournalFollower {
  private last: number;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failed: Error | undefined;
  private applied = 0;
  private waiters: { upTo: number; resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(
    private readonly pool: DatabasePool,
    private readonly options: FollowerOptions,
  ) {
    this.last = options.after;
  }

  /** The last global_seq applied (or skipped as our own). */
  get position(): number {
    return this.last;
  }

  /** Foreign rows applied so far (for /metrics). */
  get appliedRows(): number {
    return this.applied;
  }

  start(): void {
    this.schedule();
  }

  /** A writer committed (a NATS notice, or our own commit): read the tail now. */
  poke(): void {
    if (this.stopped) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = this.round().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.poke();
      }
    });
  }

  /** Resolves once every row committed before this call has been applied. */
  async catchUp(): Promise<number> {
    const head = await this.pool.oneFirst(
      sql.type(z.object({ seq: z.string() }))`SELECT seq::text AS seq FROM journal_head WHERE id = 1`,
    );
    return this.reach(Number(head));
  }

  /** Resolves once every row up to `upTo` has been applied. */
  async reach(upTo: number): Promise<number> {
    if (this.failed !== undefined) throw this.failed;
    if (this.last >= upTo) return this.last;
    const reached = new Promise<void>((resolve, reject) => this.waiters.push({ upTo, resolve, reject }));
    this.poke();
    await reached;
    return this.last;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.poke();
      this.schedule();
    }, this.options.everyMs ?? 100);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    if (this.failed !== undefined) return;
    const pageSize = this.options.pageSize ?? 256;
    try {
      for (;;) {
        const page = await this.pool.any(sql.type(Row)`
          SELECT global_seq::text AS global_seq, writer, record FROM journal
          WHERE global_seq > ${this.last} ORDER BY journal.global_seq LIMIT ${pageSize}`);
        for (const row of page) await this.apply(row);
        this.release();
        if (page.length < pageSize || this.stopped) return;
      }
    } catch (error) {
      this.failed = error instanceof Error ? error : new Error(String(error));
      for (const w of this.waiters.splice(0)) w.reject(this.failed);
      this.options.onFatal(this.failed);
    }
  }

  private release(): void {
    const done = this.waiters.filter((w) => w.upTo <= this.last);
    this.waiters = this.waiters.filter((w) => w.upTo > this.last);
    for (const w of done) w.resolve();
  }

  private async apply(row: z.infer<typeof Row>): Promise<void> {
    const globalSeq = Number(row.global_seq);
    if (globalSeq !== this.last + 1) {
      throw new RecoveryError(`follower: global_seq ${row.global_seq} follows ${this.last}`);
    }
    if (row.writer !== null && row.writer === this.options.self) {
      this.last = globalSeq;
      return;
    }
    const batch = decodeBatch(row.record);
    const where = `global_seq ${globalSeq} (${batch.symbol}, writer ${row.writer ?? 'ROLE=all'})`;
    const { supervisor } = this.options;
    if (batch.marketId === TRENDS_JOURNAL_ID) {
      // Trend signals change no state.
    } else if (batch.marketId === LEDGER_JOURNAL_ID) {
      await this.applyFunds(batch, where);
      let seq = 0;
      for (const entry of batch.entries) {
        if (!isLedgerCommand(entry.command)) throw new RecoveryError(`${where}: not a ledger command`);
        if (isFundingCommand(entry.command)) supervisor.funding.replay(entry.command);
        seq = Math.max(seq, entry.seq);
      }
      supervisor.resumeLedgerSeq(Math.max(seq, supervisor.ledgerSequence));
    } else {
      let actor = supervisor.actor(batch.symbol);
      if (actor === undefined && this.options.unknownMarket !== undefined) {
        await this.options.unknownMarket(batch.symbol);
        actor = supervisor.actor(batch.symbol);
      }
      if (actor === undefined) {
        throw new RecoveryError(
          `${where}: market ${batch.symbol} is not known here (listed since this start)`,
        );
      }
      const entries = marketEntries(batch.entries, where);
      await this.applyFunds(batch, where);
      actor.replayBatch(entries);
    }
    this.last = globalSeq;
    this.applied++;
    this.options.publish(batch, globalSeq);
  }

  /**
   * The row's postings as one set, all or nothing (recovery's applyPostings names the failing
   * entry by applying them one by one, which a retry must not repeat); when our own uncommitted
   * batches hold the funds, once more after they settle.
   */
  private async applyFunds(batch: JournalBatch, where: string): Promise<void> {
    const { ledger, settled } = this.options;
    const all: Posting[] = [];
    for (const entry of batch.entries) for (const p of entry.postings) all.push(p);
    if (all.length === 0 || ledger.apply(all).ok) return;
    if (settled !== undefined) {
      await settled();
      const again = ledger.apply(all);
      if (again.ok) return;
    }
    throw new RecoveryError(`${where}: the ledger refuses the row's postings`);
  }
}
