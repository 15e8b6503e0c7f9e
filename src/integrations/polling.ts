import type { Logger } from 'pino';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { DecisionProcessor } from './decisionEvents.ts';
import type { DecisionEventSource } from './entityPermissions.ts';

/*
 * The polling fallback: when a webhook never arrives, the decision is still read from the
 * service's events API. Each round reads pages from the persisted cursor and feeds every event to
 * the same decision path as the webhook (decisionEvents.ts), where an event already processed is a
 * duplicate and changes nothing. The cursor moves past a page only once every event of it is
 * settled (processed, duplicate, refused or skipped); a page with an event that could not be taken
 * now (`unavailable`) is read again next round, which is safe for the same reason.
 *
 * An event refused because it did not apply (an approval for a market not registered yet) is
 * recorded as failed and is not a duplicate (decisionEvents.ts): each round first decides again the
 * events it polled and saw refused in the last `retryRefusedForMs` (oldest first, at most a page),
 * since the cursor has moved past them and the service will not list them again. (A refused
 * webhook delivery is the sender's to retry.)
 *
 * Rounds never overlap (each is scheduled when the previous one ends); several exchange processes
 * polling the same service are safe too, since the claim in processed_events decides who acts.
 */

export interface PollerOptions {
  readonly pool: DatabasePool;
  readonly source: DecisionEventSource;
  readonly processor: DecisionProcessor;
  readonly log: Logger;
  /** Pause between rounds; default 10 s. */
  readonly intervalMs?: number;
  /** Events asked for per page; default 100. */
  readonly pageSize?: number;
  /** Pages read per round at most, so one round ends; default 10. */
  readonly maxPagesPerRound?: number;
  /** Row of integration_cursors; default 'entity-permissions.events'. */
  readonly cursorName?: string;
  /** How long a refused (failed) event is decided again each round; default 24 h. */
  readonly retryRefusedForMs?: number;
}

export interface PollRound {
  readonly fetched: number;
  readonly processed: number;
  readonly duplicates: number;
  readonly refused: number;
  readonly skipped: number;
  /** Refused events decided again this round (their outcomes are counted above too). */
  readonly retried: number;
  /** False when the service or Postgres could not be reached, or an event must be retried. */
  readonly complete: boolean;
}

const CursorRow = z.object({ cursor: z.string() });
const RefusedRow = z.object({ payload: z.unknown() });

type Tally = { -readonly [K in keyof PollRound]: PollRound[K] };

export class DecisionPoller {
  private readonly intervalMs: number;
  private readonly pageSize: number;
  private readonly maxPages: number;
  private readonly cursorName: string;
  private readonly retryRefusedForMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;

  constructor(private readonly options: PollerOptions) {
    this.intervalMs = options.intervalMs ?? 10_000;
    this.pageSize = options.pageSize ?? 100;
    this.maxPages = options.maxPagesPerRound ?? 10;
    this.cursorName = options.cursorName ?? 'entity-permissions.events';
    this.retryRefusedForMs = options.retryRefusedForMs ?? 24 * 3_600_000;
    if (this.intervalMs <= 0 || this.pageSize <= 0 || this.maxPages <= 0 || this.retryRefusedForMs < 0) {
      throw new Error('decision poller: interval, page size and pages per round must be positive');
    }
  }

  /** Polls every interval until stop(); the first round runs after one interval. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  /** Stops scheduling and waits for a round in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One round now (tests, or an operator nudging it). Never throws. */
  async pollOnce(): Promise<PollRound> {
    const round: Tally = {
      fetched: 0,
      processed: 0,
      duplicates: 0,
      refused: 0,
      skipped: 0,
      retried: 0,
      complete: true,
    };
    const { pool, source, log } = this.options;
    try {
      for (const { payload } of await this.refusedEvents()) {
        round.retried++;
        if (!(await this.decide(payload, round))) return { ...round, complete: false };
      }
      let cursor = await this.readCursor();
      for (let page = 0; page < this.maxPages; page++) {
        const reply = await source.events(cursor, this.pageSize);
        if (!reply.ok) {
          log.warn({ reason: reply.message }, 'decision poller: events API unavailable');
          return { ...round, complete: false };
        }
        const { events, next } = reply.value;
        round.fetched += events.length;
        for (const event of events) {
          if (!(await this.decide(event, round))) return { ...round, complete: false };
        }
        if (next !== cursor) {
          await pool.query(sql.unsafe`
            INSERT INTO integration_cursors (name, cursor) VALUES (${this.cursorName}, ${next})
            ON CONFLICT (name) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()`);
          cursor = next;
        }
        if (events.length < this.pageSize) break;
      }
    } catch (error) {
      log.warn({ err: error }, 'decision poller: round failed');
      return { ...round, complete: false };
    }
    return round;
  }

  /** One event through the decision path, counted; false when it must wait for the next round. */
  private async decide(event: unknown, round: Tally): Promise<boolean> {
    const { processor, log } = this.options;
    const outcome = await processor.process(event, 'polling');
    switch (outcome.kind) {
      case 'processed':
        round.processed++;
        return true;
      case 'duplicate':
        round.duplicates++;
        return true;
      case 'invalid_transition':
        round.refused++;
        return true;
      case 'malformed':
        round.skipped++;
        if (outcome.eventId !== undefined) {
          await processor.skip(outcome.eventId, event, 'polling', outcome.message);
        } else {
          log.warn({ reason: outcome.message }, 'decision poller: event without an event_id skipped');
        }
        return true;
      case 'unavailable':
        log.warn({ eventId: outcome.eventId, reason: outcome.message }, 'decision poller: retry next round');
        return false;
    }
  }

  /** Events refused within the retry window, oldest first, at most a page. */
  private async refusedEvents(): Promise<readonly { payload?: unknown }[]> {
    if (this.retryRefusedForMs === 0) return [];
    return this.options.pool.any(sql.type(RefusedRow)`
      SELECT payload FROM processed_events
      WHERE status = 'failed' AND source = 'polling'
        AND received_at > now() - make_interval(secs => ${this.retryRefusedForMs / 1000})
      ORDER BY received_at, event_id
      LIMIT ${this.pageSize}`);
  }

  private async readCursor(): Promise<string | undefined> {
    const row = await this.options.pool.maybeOne(
      sql.type(CursorRow)`SELECT cursor FROM integration_cursors WHERE name = ${this.cursorName}`,
    );
    return row?.cursor;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const round = this.pollOnce().then((result) => {
        if (result.fetched > 0) this.options.log.info(result, 'decision poller round');
      });
      this.running = round;
      void round.finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, this.intervalMs);
    this.timer.unref();
  }
}
