-- Up Migration

-- A lifecycle command's metadata (the decision's: a webhook's event id and source, an admin's
-- note) is journaled with its event and projected here, so the approval audit comes from the
-- journal alone (issue 13): the issuance service no longer writes a market_approval_events row
-- per transition. Rows written before keep theirs (GET /markets/:id/events still joins them for
-- transitions projected without metadata); `market.registered` rows (not a transition) stay there.
ALTER TABLE market_lifecycle_events ADD COLUMN metadata jsonb;

-- Down Migration
ALTER TABLE market_lifecycle_events DROP COLUMN metadata;
