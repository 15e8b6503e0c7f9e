-- Up Migration

-- Lifecycle and audit projections of the journal, built by src/persistence/projector.ts with the
-- other relational projections (same 'relational' cursor, same transaction per page) and rebuilt
-- with them by npm run rebuild-projections.

-- Every journaled lifecycle command of a market: a transition taken (from/to and what the machine
-- recorded) or one refused (outcome 'rejected', with the error; from/to unknown).
CREATE TABLE market_lifecycle_events (
  market_id        text NOT NULL,
  market_seq       int8 NOT NULL,  -- the market sequence of the journal entry
  lifecycle_seq    int8,           -- the machine's transition count (transitions only)
  outcome          text NOT NULL CHECK (outcome IN ('transition', 'rejected')),
  from_state       text,
  to_state         text,
  event_type       text NOT NULL,
  actor_id         text NOT NULL,
  actor_type       text NOT NULL,
  reason           text,
  error_code       text,
  error_message    text,
  contract_address text,
  tx_hash          text,
  deploy_error     text,
  ts               timestamptz NOT NULL,
  global_seq       int8 NOT NULL,
  PRIMARY KEY (market_id, market_seq),
  CHECK ((outcome = 'transition') = (to_state IS NOT NULL))
);
CREATE INDEX market_lifecycle_events_by_ts ON market_lifecycle_events (ts);

-- Money entering or leaving the exchange from outside (deposits / credits; withdrawals when they
-- are journaled), one row per accepted ledger command.
CREATE TABLE audit_log (
  global_seq  int8 NOT NULL,
  entry_index int4 NOT NULL,
  ledger_seq  int8 NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('deposit', 'withdrawal')),
  account     text NOT NULL,
  asset       text NOT NULL,
  amount      numeric(78, 0) NOT NULL CHECK (amount > 0),
  ts          timestamptz NOT NULL,
  PRIMARY KEY (global_seq, entry_index)
);
CREATE INDEX audit_log_by_account ON audit_log (account, global_seq);

-- Down Migration
DROP TABLE audit_log;
DROP TABLE market_lifecycle_events;
