import type { Logger } from 'pino';
import { sql, type DatabasePool, type SerializableValue } from 'slonik';
import { z as zv3 } from 'zod';
import { z } from 'zod/v4';
import { isUnstorableText, unstorableTextAt, unstorableTextMessage } from '../protocol/text.ts';

/*
 * The one path every entity-permissions decision takes, whether it came by direct webhook, SNS or
 * polling: validate, claim the event_id in processed_events, hand the decision to the issuance
 * service, record the outcome.
 *
 * The claim is an INSERT ... ON CONFLICT committed before deciding (status 'processing'), not a
 * transaction held open around the decision: the issuance service writes through the same pool,
 * and ten concurrent deliveries each holding a connection while waiting on the first one's row
 * lock would starve it. A second delivery that finds the claim answers `duplicate`; a claim left
 * by a crash is taken over once older than the lease. When the service is unavailable the claim is
 * released, so the sender's retry (or the poller) decides later.
 *
 * Only a processed event is a duplicate (PROTOCOL v1.1, failed external events are retryable): an
 * event refused because it did not apply (`failed`: an approval for a market not registered yet,
 * or in a state that does not take it) or skipped as unreadable stays recorded with its error, and
 * a later delivery of the same event_id claims it again and is decided afresh.
 */

export const DECISION_EVENT_TYPES = ['market.approved', 'market.rejected'] as const;

const Reason = z
  .string()
  .max(2_000)
  .nullish()
  .transform((value) => value ?? undefined);

/** The payload of PROTOCOL.md (HTTP, entity-permissions event payload). */
export const DecisionEvent = z
  .object({
    event_id: z.string().min(1).max(200),
    event_type: z.enum(DECISION_EVENT_TYPES),
    payload: z.object({
      market_id: z.string().min(1).max(200),
      entity_id: z.string().min(1).max(200),
      decision: z.enum(['approved', 'rejected']),
      reason: Reason,
    }),
    context: z.object({ actor_id: z.string().min(1).max(200) }),
  })
  .refine((event) => event.event_type === `market.${event.payload.decision}`, {
    message: 'event_type and payload.decision disagree',
    path: ['event_type'],
  });
export type DecisionEvent = z.infer<typeof DecisionEvent>;

export type DecisionSource = 'direct' | 'sns' | 'polling';

/** What the issuance service is asked to do with a decision (the lead's service implements it). */
export interface MarketDecision {
  readonly marketId: string;
  readonly decision: 'approved' | 'rejected';
  readonly reason?: string;
  readonly actor: { readonly id: string; readonly type: 'compliance' };
  readonly eventId: string;
  readonly metadata: {
    readonly source: DecisionSource;
    readonly entityId: string;
    readonly eventType: DecisionEvent['event_type'];
  };
}

export type DecideResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly code: 'invalid_transition' | 'unknown_market' | 'unavailable';
      readonly message: string;
    };

export type Decide = (decision: MarketDecision) => Promise<DecideResult>;

export type DecisionOutcome =
  | { readonly kind: 'processed'; readonly eventId: string }
  | { readonly kind: 'duplicate'; readonly eventId: string }
  /** Unknown market or a state that does not accept the decision: recorded as failed. */
  | { readonly kind: 'invalid_transition'; readonly eventId: string; readonly message: string }
  /** Not a decision event of PROTOCOL.md (the caller records it; nothing is claimed). */
  | { readonly kind: 'malformed'; readonly eventId: string | undefined; readonly message: string }
  /** Postgres or the issuance service could not take it: nothing recorded, try again later. */
  | { readonly kind: 'unavailable'; readonly eventId: string; readonly message: string };

export interface DecisionProcessorOptions {
  readonly pool: DatabasePool;
  readonly decide: Decide;
  readonly log: Logger;
  /** Age after which a 'processing' claim is considered abandoned; default 60 s. */
  readonly claimLeaseMs?: number;
}

const Claimed = zv3.object({ event_id: zv3.string() });

export class DecisionProcessor {
  private readonly leaseMs: number;

  constructor(private readonly options: DecisionProcessorOptions) {
    this.leaseMs = options.claimLeaseMs ?? 60_000;
  }

  /** `raw` is the parsed JSON of the event; validated here. */
  async process(raw: unknown, source: DecisionSource): Promise<DecisionOutcome> {
    const parsed = DecisionEvent.safeParse(raw);
    if (!parsed.success) {
      return { kind: 'malformed', eventId: claimedEventId(raw), message: z.prettifyError(parsed.error) };
    }
    // Postgres cannot store U+0000 or a lone surrogate: such an event could never be claimed, so
    // it is malformed (400, which a sender does not retry), not unavailable (503, retried forever).
    const unstorable = unstorableTextAt(raw);
    if (unstorable !== undefined) {
      const eventId = isUnstorableText(parsed.data.event_id) ? undefined : parsed.data.event_id;
      return { kind: 'malformed', eventId, message: unstorableTextMessage(unstorable) };
    }
    const event = parsed.data;
    const { pool, log } = this.options;
    const eventId = event.event_id;

    let claimed: boolean;
    try {
      claimed = await this.claim(event, raw, source);
    } catch (error) {
      log.warn({ err: error, eventId }, 'entity-permissions event: could not claim (Postgres)');
      return { kind: 'unavailable', eventId, message: 'durable storage unavailable' };
    }
    if (!claimed) return { kind: 'duplicate', eventId };

    let result: DecideResult;
    try {
      result = await this.options.decide({
        marketId: event.payload.market_id,
        decision: event.payload.decision,
        ...(event.payload.reason === undefined ? {} : { reason: event.payload.reason }),
        actor: { id: event.context.actor_id, type: 'compliance' },
        eventId,
        metadata: { source, entityId: event.payload.entity_id, eventType: event.event_type },
      });
    } catch (error) {
      log.error({ err: error, eventId }, 'entity-permissions event: decide threw');
      result = { ok: false, code: 'unavailable', message: 'the issuance service failed' };
    }

    try {
      if (result.ok) {
        await this.finish(eventId, 'success', null);
        log.info(
          { eventId, marketId: event.payload.market_id, source },
          'entity-permissions decision applied',
        );
        return { kind: 'processed', eventId };
      }
      if (result.code === 'unavailable') {
        await pool.query(sql.unsafe`
          DELETE FROM processed_events WHERE event_id = ${eventId} AND status = 'processing'`);
        return { kind: 'unavailable', eventId, message: result.message };
      }
      await this.finish(eventId, 'failed', `${result.code}: ${result.message}`);
      log.warn({ eventId, code: result.code, reason: result.message }, 'entity-permissions decision refused');
      return { kind: 'invalid_transition', eventId, message: result.message };
    } catch (error) {
      // The decision may have been applied; the claim stays 'processing' until the lease runs out.
      log.error({ err: error, eventId, result }, 'entity-permissions event: could not record the outcome');
      return { kind: 'unavailable', eventId, message: 'durable storage unavailable' };
    }
  }

  /**
   * Records an event that will not be decided (polling: malformed or not a decision type) so it is
   * not looked at again. A first record wins; it never overwrites a claim.
   */
  async skip(eventId: string, raw: unknown, source: DecisionSource, error: string): Promise<void> {
    // An event Postgres cannot store is recorded without its payload, or it would stall the poller.
    const payload = unstorableTextAt(raw) === undefined ? toJson(raw) : { unstorable: true };
    await this.options.pool.query(sql.unsafe`
      INSERT INTO processed_events (event_id, status, source, error, payload, processed_at)
      VALUES (${eventId}, 'skipped', ${source}, ${error}, ${sql.jsonb(payload)}, now())
      ON CONFLICT (event_id) DO NOTHING`);
  }

  private async claim(event: DecisionEvent, raw: unknown, source: DecisionSource): Promise<boolean> {
    const row = await this.options.pool.maybeOne(sql.type(Claimed)`
      INSERT INTO processed_events (event_id, status, source, event_type, market_id, payload)
      VALUES (${event.event_id}, 'processing', ${source}, ${event.event_type}, ${event.payload.market_id},
              ${sql.jsonb(toJson(raw))})
      ON CONFLICT (event_id) DO UPDATE
        SET status = 'processing', processed_at = NULL, claimed_at = now(),
            attempts = processed_events.attempts + 1, source = EXCLUDED.source,
            event_type = EXCLUDED.event_type, market_id = EXCLUDED.market_id, payload = EXCLUDED.payload
        WHERE processed_events.status IN ('failed', 'skipped')
           OR (processed_events.status = 'processing'
               AND processed_events.claimed_at < now() - make_interval(secs => ${this.leaseMs / 1000}))
      RETURNING event_id`);
    return row !== null;
  }

  private async finish(eventId: string, status: 'success' | 'failed', error: string | null): Promise<void> {
    await this.options.pool.query(sql.unsafe`
      UPDATE processed_events SET status = ${status}, error = ${error}, processed_at = now()
      WHERE event_id = ${eventId}`);
  }
}

function claimedEventId(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null || !('event_id' in raw)) return undefined;
  const id = raw.event_id;
  return typeof id === 'string' && id.length > 0 && id.length <= 200 ? id : undefined;
}

/** `raw` came from JSON.parse, so it already is JSON; this only convinces the type checker. */
function toJson(raw: unknown): SerializableValue {
  return raw as SerializableValue;
}
