-- Up Migration

-- GET /markets/:id/events reads the market's lifecycle transitions from the journal's projection
-- (market_lifecycle_events), so markets listed directly (or seeded) show theirs too; an approval
-- row adds what only the issuance service knows (the decision's metadata, a webhook's event id)
-- to the transition it audits, named by the machine's transition count. Rows written before this
-- column existed are matched to their projected transition where one has the same type, actor
-- and time; `market.registered` rows (not a transition) keep it NULL.
ALTER TABLE market_approval_events ADD COLUMN lifecycle_seq int8;

UPDATE market_approval_events a SET lifecycle_seq = t.lifecycle_seq
FROM market_lifecycle_events t
WHERE t.market_id = a.market_id
  AND t.outcome = 'transition'
  AND t.actor_id = a.actor_id
  AND date_trunc('milliseconds', t.ts) = date_trunc('milliseconds', a.ts)
  AND a.event_type = CASE t.event_type
    WHEN 'lifecycle.submit' THEN 'market.approval_requested'
    WHEN 'lifecycle.approve' THEN 'market.approved'
    WHEN 'lifecycle.reject' THEN 'market.rejected'
    WHEN 'lifecycle.activate' THEN 'market.activation_started'
    WHEN 'lifecycle.deployed' THEN 'market.activated'
    WHEN 'lifecycle.deploy_failed' THEN 'market.activation_failed'
    WHEN 'lifecycle.pause' THEN 'market.paused'
    WHEN 'lifecycle.resume' THEN 'market.resumed'
    WHEN 'lifecycle.archive' THEN 'market.archived'
  END;

CREATE INDEX market_approval_events_by_transition ON market_approval_events (market_id, lifecycle_seq);

-- Down Migration
DROP INDEX market_approval_events_by_transition;
ALTER TABLE market_approval_events DROP COLUMN lifecycle_seq;
