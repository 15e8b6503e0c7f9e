import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import type { LifecycleEventType } from '../../machines/marketLifecycle.ts';
import type { ApprovalEvent } from './issuanceStore.ts';

/**
 * A market's lifecycle history as GET /markets/:id/events answers it (PROTOCOL: `{eventType,
 * actorId, actorType, decision?, reason?, metadata?, ts}` oldest first). One source: the journaled
 * lifecycle transitions, as the projector writes them to market_lifecycle_events (with the
 * metadata journaled with each command's event), the same transitions the market's lifecycle
 * actor took (and the actor-state visualizer shows), whichever path drove them (issuance, a
 * webhook, an admin listing, the seed at first start). market_approval_events adds the
 * registration (not a transition), and for transitions audited before migration 082 (when the
 * issuance service wrote a row per transition after commit) their decision and metadata, joined
 * by the machine's transition count. Callers wait for the projector to reach what is committed
 * (src/app/services.ts), so an answer does not miss what a reply already confirmed.
 */

/** The audit `eventType` of each machine event (PROTOCOL's list). */
export const AUDIT_EVENT_TYPE: Readonly<Record<LifecycleEventType, string>> = {
  'lifecycle.submit': 'market.approval_requested',
  'lifecycle.approve': 'market.approved',
  'lifecycle.reject': 'market.rejected',
  'lifecycle.activate': 'market.activation_started',
  'lifecycle.deployed': 'market.activated',
  'lifecycle.deploy_failed': 'market.activation_failed',
  'lifecycle.pause': 'market.paused',
  'lifecycle.resume': 'market.resumed',
  'lifecycle.archive': 'market.archived',
};

const ActorType = z.enum(['admin', 'issuer', 'system', 'compliance']);
const HistoryRow = z.object({
  source: z.enum(['transition', 'audit']),
  lifecycle_seq: z.string().nullable(),
  event_type: z.string(),
  actor_id: z.string(),
  actor_type: ActorType,
  reason: z.string().nullable(),
  contract_address: z.string().nullable(),
  tx_hash: z.string().nullable(),
  deploy_error: z.string().nullable(),
  ts: z.number(),
  decision: z.enum(['approved', 'rejected']).nullable(),
  audit_reason: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
  audit_id: z.string().nullable(),
});
type HistoryRow = z.infer<typeof HistoryRow>;

const DECISION_OF: Partial<Record<string, 'approved' | 'rejected'>> = {
  'lifecycle.approve': 'approved',
  'lifecycle.reject': 'rejected',
};

const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

/** Every transition of the market, oldest first, after its registration when it was registered. */
export async function listMarketEvents(pool: CommonQueryMethods, marketId: string): Promise<ApprovalEvent[]> {
  // One statement, so the projection and the audit rows are read at one instant.
  const rows = await pool.any(sql.type(HistoryRow)`
    WITH t AS (
      SELECT * FROM market_lifecycle_events
      WHERE market_id = ${marketId} AND outcome = 'transition'
    )
    SELECT 'transition' AS source, t.lifecycle_seq::text AS lifecycle_seq, t.event_type, t.actor_id,
           t.actor_type, t.reason, t.contract_address, t.tx_hash, t.deploy_error,
           (extract(epoch FROM t.ts) * 1000)::float8 AS ts,
           a.decision, a.reason AS audit_reason, coalesce(t.metadata, a.metadata) AS metadata,
           a.id::text AS audit_id
    FROM t LEFT JOIN LATERAL (
      SELECT * FROM market_approval_events e
      WHERE e.market_id = t.market_id AND e.lifecycle_seq = t.lifecycle_seq
      ORDER BY e.id LIMIT 1
    ) a ON true
    UNION ALL
    SELECT 'audit', a.lifecycle_seq::text, a.event_type, a.actor_id, a.actor_type, a.reason, NULL,
           NULL, NULL, (extract(epoch FROM a.ts) * 1000)::float8, a.decision, a.reason, a.metadata,
           a.id::text
    FROM market_approval_events a
    WHERE a.market_id = ${marketId}
      AND (a.event_type = 'market.registered'
           OR (a.lifecycle_seq IS NOT NULL
               AND NOT EXISTS (SELECT FROM t WHERE t.lifecycle_seq = a.lifecycle_seq)))`);
  const ordered = [...rows].sort(
    (a, b) => rank(a) - rank(b) || Number(a.audit_id ?? 0) - Number(b.audit_id ?? 0),
  );
  return ordered.map((row) => (row.source === 'transition' ? transitionEvent(row) : auditEvent(row)));
}

/** The registration first (it made the market), then transitions by the machine's count. */
function rank(row: HistoryRow): number {
  return row.lifecycle_seq === null ? 0 : Number(row.lifecycle_seq);
}

function transitionEvent(row: HistoryRow): ApprovalEvent {
  const machineEvent = row.event_type as LifecycleEventType;
  const reason =
    opt(row.reason) ?? (machineEvent === 'lifecycle.deploy_failed' ? opt(row.deploy_error) : undefined);
  const deployed =
    machineEvent === 'lifecycle.deployed' && row.contract_address !== null
      ? { contractAddress: row.contract_address, ...(row.tx_hash === null ? {} : { txHash: row.tx_hash }) }
      : undefined;
  const metadata =
    deployed === undefined && row.metadata === null ? undefined : { ...deployed, ...row.metadata };
  return {
    eventType: (AUDIT_EVENT_TYPE as Partial<Record<string, string>>)[row.event_type] ?? row.event_type,
    actorId: row.actor_id,
    actorType: row.actor_type,
    decision: opt(row.decision) ?? DECISION_OF[machineEvent],
    reason: reason ?? opt(row.audit_reason),
    metadata,
    ts: Math.round(row.ts),
  };
}

function auditEvent(row: HistoryRow): ApprovalEvent {
  return {
    eventType: row.event_type,
    actorId: row.actor_id,
    actorType: row.actor_type,
    decision: opt(row.decision),
    reason: opt(row.audit_reason),
    metadata: opt(row.metadata),
    ts: Math.round(row.ts),
  };
}

/** A transition as the actor-state visualizer lists it (src/transport/inspection.ts). */
export interface RecordedTransition {
  readonly from: string;
  readonly to: string;
  readonly event: string;
  readonly ts: number;
}

const RecentRow = z.object({
  market_id: z.string(),
  from_state: z.string(),
  to_state: z.string(),
  event_type: z.string(),
  ts: z.number(),
});

/**
 * The latest `limit` journaled transitions of every market, oldest first: what the visualizer
 * starts from after a restart (a market restored from a snapshot replays none of them), so it and
 * /events show the same transitions.
 */
export async function recentTransitions(
  pool: CommonQueryMethods,
  limit: number,
): Promise<Map<string, RecordedTransition[]>> {
  const rows = await pool.any(sql.type(RecentRow)`
    SELECT market_id, from_state, to_state, event_type, (extract(epoch FROM ts) * 1000)::float8 AS ts
    FROM (
      SELECT *, row_number() OVER (PARTITION BY market_id ORDER BY lifecycle_seq DESC) AS n
      FROM market_lifecycle_events WHERE outcome = 'transition'
    ) latest
    WHERE n <= ${limit}
    ORDER BY market_id, lifecycle_seq`);
  const out = new Map<string, RecordedTransition[]>();
  for (const row of rows) {
    let list = out.get(row.market_id);
    if (list === undefined) out.set(row.market_id, (list = []));
    list.push({ from: row.from_state, to: row.to_state, event: row.event_type, ts: Math.round(row.ts) });
  }
  return out;
}
