import type { NatsConnection, Subscription } from 'nats';
import type { Logger } from 'pino';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { CommandResult } from '../../actors/market/types.ts';
import type { Supervisor } from '../../actors/supervisor.ts';
import type { ClusterMetrics } from '../../cluster/metrics.ts';
import { decodeBatch } from '../../persistence/journalCodec.ts';
import {
  clusterSubjects,
  decodeCommandRequest,
  encodeCommandReply,
  type CommandRequest,
} from './commands.ts';

/** Most command ids remembered for redeliveries (a few minutes of orders at bench rates). */
const REMEMBERED_COMMANDS = 200_000;

export interface CommandServerOptions {
  readonly subjects: ReturnType<typeof clusterSubjects>;
  readonly supervisor: Supervisor;
  readonly metrics: ClusterMetrics;
  readonly log: Logger;
  /** Whether this engine serves the market now (leased, claimed, caught up). */
  readonly serving: (marketId: string) => boolean;
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
          msg.respond(encodeCommandReply(result));
        };
        if (!this.options.serving(marketId) || request.symbol !== symbol) {
          respond({
            ok: false,
            code: 'unavailable',
            message: `market ${request.symbol} is moving; try again`,
          });
          return;
        }
        this.answer(symbol, request, respond);
      },
    });
  }

  private answer(symbol: string, request: CommandRequest, respond: (result: CommandResult) => void): void {
    const done = this.answered.get(request.id);
    if (done !== undefined) {
      this.options.metrics.redeliveries.inc();
      respond(done);
      return;
    }
    const waiting = this.inFlight.get(request.id);
    if (waiting !== undefined) {
      this.options.metrics.redeliveries.inc();
      waiting.push(respond);
      return;
    }
    this.inFlight.set(request.id, [respond]);
    this.options.supervisor.send(
      symbol,
      request.command,
      request.ts,
      (result) => {
        // Refusals before the journal (busy, not committed) may be asked again and run then.
        if (result.ok || (result.code !== 'overloaded' && result.code !== 'unavailable')) {
          this.remember(request.id, result);
        }
        const replies = this.inFlight.get(request.id) ?? [];
        this.inFlight.delete(request.id);
        for (const reply of replies) reply(result);
      },
      request.id,
    );
  }
}

const RecentRow = z.object({ record: z.instanceof(Buffer) });
