-- Up Migration

-- Entity-permissions decisions received by webhook (direct or SNS) or by polling
-- (src/integrations/decisionEvents.ts). One row per event_id, claimed before the decision is taken
-- so a repeated or concurrent delivery of the same event is answered `duplicate` and changes
-- nothing. 'processing' is the claim; a claim older than the lease (a crash mid-decision) may be
-- taken over by the next delivery.
CREATE TABLE processed_events (
  event_id     text PRIMARY KEY,
  status       text NOT NULL CHECK (status IN ('processing', 'success', 'failed', 'skipped')),
  source       text NOT NULL CHECK (source IN ('direct', 'sns', 'polling')),
  event_type   text,
  market_id    text,
  error        text,
  payload      jsonb NOT NULL,
  attempts     int4 NOT NULL DEFAULT 1 CHECK (attempts > 0),
  received_at  timestamptz NOT NULL DEFAULT now(),
  claimed_at   timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz,
  CHECK ((status = 'processing') = (processed_at IS NULL))
);
CREATE INDEX processed_events_by_market ON processed_events (market_id, received_at);

-- Deliveries refused before they could be trusted (unsigned, badly signed, stale, malformed, SNS
-- certificate or subscribe host not allowlisted). Kept apart from processed_events on purpose: an
-- unauthenticated request must never claim an event_id, or a forged post could make the genuine
-- event look like a duplicate.
CREATE TABLE webhook_rejections (
  id          bigserial PRIMARY KEY,
  source      text NOT NULL CHECK (source IN ('direct', 'sns', 'polling')),
  status_code int4 NOT NULL,
  error       text NOT NULL,
  event_id    text, -- as claimed by the body, unverified
  body        text NOT NULL, -- the raw body, truncated
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_rejections_by_time ON webhook_rejections (received_at);

-- Where a polling consumer has read up to in an external events API (opaque cursor of that API).
CREATE TABLE integration_cursors (
  name       text PRIMARY KEY,
  cursor     text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE integration_cursors;
DROP TABLE webhook_rejections;
DROP TABLE processed_events;
