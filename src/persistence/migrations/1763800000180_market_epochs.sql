-- Up Migration

-- The fencing token of each market's owner (src/cluster/epochs.ts, docs/scale-out.md). An engine
-- that takes a market's lease (src/cluster/lease.ts) claims its epoch here, the lease's JetStream
-- revision, which only grows; a claim never lowers it. Every journal batch of the market is
-- inserted under a FOR SHARE lock of this row holding the writer's epoch, in the same statement:
-- once a new owner's claim has committed (it waits for batches in flight), a batch of the old
-- owner inserts nothing.
CREATE TABLE market_epochs (
  market_id   text PRIMARY KEY,
  epoch       int8 NOT NULL CHECK (epoch > 0),
  -- Who claimed it (engine id, host, pid), for /admin/cluster and for the operator.
  holder      text NOT NULL,
  claimed_at  timestamptz NOT NULL DEFAULT now()
);

-- Down Migration

DROP TABLE market_epochs;
