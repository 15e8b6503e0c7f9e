-- Up Migration

-- The durable truth: one record per processed batch (per market) or per ledger command, in the
-- global order they were processed. Everything else is a projection of it.
CREATE TABLE journal (
  global_seq   bigint PRIMARY KEY,
  market_id    text,
  seq_from     bigint NOT NULL,
  seq_to       bigint NOT NULL,
  flush_id     bigint NOT NULL,
  committed_at timestamptz NOT NULL DEFAULT now(),
  record       bytea NOT NULL,
  CHECK (seq_from <= seq_to)
);
CREATE INDEX journal_market_seq ON journal (market_id, seq_to);

CREATE TABLE market_snapshots (
  market_id  text NOT NULL,
  seq        bigint NOT NULL,
  global_seq bigint NOT NULL,
  state      bytea NOT NULL,
  taken_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (market_id, seq)
);

CREATE TABLE ledger_snapshots (
  global_seq bigint PRIMARY KEY,
  state      bytea NOT NULL,
  taken_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projection_cursors (
  projection text PRIMARY KEY,
  global_seq bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE projection_cursors;
DROP TABLE ledger_snapshots;
DROP TABLE market_snapshots;
DROP TABLE journal;
