import type { NatsConnection, Subscription } from 'nats';
import type { Logger } from 'pino';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { LEDGER_JOURNAL_ID, type CommandResult } from '../../actors/market/types.ts';
import type { Supervisor } from '../../actors/supervisor.ts';
import type { ClusterMetrics } from '../../cluster/metrics.ts';
import { decodeBatch } from '../../persistence/journalCodec.ts';
import {
  clusterSubjects,
  decodeCommandRequest,
  encodeCommandReply,
  type CommandRequest,
} from './commands.ts';
import { decodeLedgerRequest, fundingResult, type LedgerRequest } from './ledgerCommands.ts';

/** Most command ids remembered for redeliveries (a few minutes of orders at bench rates). */
const REMEMBERED_COMMANDS = 200_000;

export interface CommandServerOptions {
  readonly subjects: ReturnType<typeof clusterSubjects>;
  readonly supervisor: Supervisor;
  readonly metrics: ClusterMetrics;
  readonly log: Logger;
  /** Whether this engine serves the market now (leased, claimed, caught up). */
  readonly serving: (marketId: string) => boolean;
  /** The journal's last global_seq this engine committed or followed (sent with `@ledger` replies). */
  readonly committedSeq: () => number;
  /**
   * Resolves once this engine's replica applied the journal up to `globalSeq`; undefined when it
   * already has (a request's `after`: what the client could have seen on its gateway).
   */
  readonly reach: (globalSeq: number) => Promise<void> | undefined;
}

/**
 * An engine's answers to `<cluster>.cmd.<marketId>` (docs/scale-out.md, "Commands"): each request
 * runs once. An id answered before (by us, by a predecessor, or by another engine: the journal
 * tail's ids are remembered too) gets its journaled result again; an id in flight gets the same
 * reply when it commits; a market we do not serve answers `unavailable` (the gateway asks again).
 */
export class CommandServer {
  private readonly answered = new Map<string, CommandResult>();
  private readonly inFlight = new Map<string, ((result: CommandResult) => void)[]>();
  /** Per market: the commands held until the replica reaches their `after`, in arrival order. */
  private readonly held = new Map<string, Promise<void>>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: CommandServerOptions,
  ) {}

  /** Records an answered command (bounded: the oldest ids go first). */
  remember(id: string, result: CommandResult): void {
    this.answered.set(id, result);
    if (this.answered.size > REMEMBERED_COMMANDS) this.answered.delete(this.answered.keys().next().value!);
  }

  /**
   * The command ids (and results) of the journal's rows committed in the last minute, up to
   * `upTo`: a command answered before this start may be asked again until the gateway's deadline.
   */
  async rememberRecent(pool: DatabasePool, upTo: number): Promise<void> {
    const rows = await pool.any(sql.type(RecentRow)`
      SELECT record FROM journal
      WHERE global_seq <= ${upTo} AND global_seq > ${upTo - REMEMBERED_COMMANDS}
        AND committed_at > now() - interval '60 seconds' AND writer IS NOT NULL
      ORDER BY journal.global_seq`);
    for (const row of rows) {
      for (const entry of decodeBatch(row.record).entries) {
        if (entry.commandId !== undefined) this.remember(entry.commandId, entry.result);
      }
    }
  }

  /** Subscribes the market's command subject; unsubscribe to stop serving it. */
  serve(marketId: string, symbol: string): Subscription {
    return this.nc.subscribe(this.options.subjects.command(marketId), {
      callback: (error, msg) => {
        if (error !== null) return;
        let request: CommandRequest;
        try {
          request = decodeCommandRequest(msg.data);
        } catch (parseError) {
          this.options.log.warn({ err: parseError, marketId }, 'a command request that does not parse');
          return;
        }
        const respond = (result: CommandResult) => {
          msg.respond(encodeCommandReply(result, this.options.committedSeq()));
        };
        if (!this.options.serving(marketId) || request.symbol !== symbol) {
          respond({
            ok: false,
            code: 'unavailable',
            message: `market ${request.symbol} is moving; try again`,
          });
          return;
        }
        this.answerInOrder(symbol, request, respond);
      },
    });
  }

  /**
   * Runs a command once the replica holds what its gateway had seen; a command behind a held one
   * waits too, so a market's commands run in the order they arrived.
   */
  private answerInOrder(
    symbol: string,
    request: CommandRequest,
    respond: (result: CommandResult) => void,
  ): void {
    const run = () => {
      this.answer(symbol, request, respond);
    };
    const before = this.held.get(symbol);
    const reached = request.after === undefined ? undefined : this.options.reach(request.after);
    if (before === undefined && reached === undefined) {
      run();
      return;
    }
    // A replica that cannot get there fails the engine (onFatal); the command runs regardless.
    const tail: Promise<void> = (before ?? Promise.resolve())
      .then(() => reached)
      .then(run, run)
      .finally(() => {
        if (this.held.get(symbol) === tail) this.held.delete(symbol);
      });
    this.held.set(symbol, tail);
  }

  /**
   * Serves `<cluster>.cmd.@ledger` (credits and funding commands) while this engine owns
   * `@ledger`; each request id runs once, journaled with its entry.
   */
  serveLedger(): Subscription {
    return this.nc.subscribe(this.options.subjects.command(LEDGER_JOURNAL_ID), {
      callback: (error, msg) => {
        if (error !== null) return;
        let request: LedgerRequest;
        try {
          request = decodeLedgerRequest(msg.data);
        } catch (parseError) {
          this.options.log.warn({ err: parseError }, 'a ledger request that does not parse');
          return;
        }
        // With the journal position it committed at: the gateway answers once its replica is there.
        const respond = (result: CommandResult) => {
          msg.respond(encodeCommandReply(result, this.options.committedSeq()));
        };
        if (!this.options.serving(LEDGER_JOURNAL_ID)) {
          respond({ ok: false, code: 'unavailable', message: 'the ledger is moving; try again' });
          return;
        }
        const { supervisor } = this.options;
        const { id, ts, op } = request;
        this.once(id, respond, (done) => {
          const ran =
            op.kind === 'credit'
              ? supervisor.credit(op.userId, op.asset, op.amount, ts, id)
              : supervisor.fund(op.command, ts, id).then(fundingResult);
          ran.then(done, (runError: unknown) => {
            done({ ok: false, code: 'unavailable', message: String(runError) });
          });
        });
      },
    });
  }

  private answer(symbol: string, request: CommandRequest, respond: (result: CommandResult) => void): void {
    this.once(request.id, respond, (done) => {
      this.options.supervisor.send(symbol, request.command, request.ts, done, request.id);
    });
  }

  /**
   * Runs a request id once: answered before → its result again; in flight → the same reply when it
   * commits; else `run`, whose result is remembered unless it was refused before the journal.
   */
  private once(
    id: string,
    respond: (result: CommandResult) => void,
    run: (done: (result: CommandResult) => void) => void,
  ): void {
    const done = this.answered.get(id);
    if (done !== undefined) {
      this.options.metrics.redeliveries.inc();
      respond(done);
      return;
    }
    const waiting = this.inFlight.get(id);
    if (waiting !== undefined) {
      this.options.metrics.redeliveries.inc();
      waiting.push(respond);
      return;
    }
    this.inFlight.set(id, [respond]);
    run((result) => {
      // Refusals before the journal (busy, not committed) may be asked again and run then.
      if (result.ok || (result.code !== 'overloaded' && result.code !== 'unavailable')) {
        this.remember(id, result);
      }
      const replies = this.inFlight.get(id) ?? [];
      this.inFlight.delete(id);
      for (const reply of replies) reply(result);
    });
  }
}

const RecentRow = z.object({ record: z.instanceof(Buffer) });
