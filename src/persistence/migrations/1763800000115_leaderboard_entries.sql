-- Up Migration

-- The boards as the `update-market-stats` job computed them (src/analytics/leaderboards.ts): per
-- market, period and measure the opted-in users in rank order (at most 100, so an opt-out between
-- runs still leaves a full top ten), their value (lots, or the quote asset's minor units), and when.
-- Reads join the profiles again, so an opt-out removes a user at once; user ids never leave the server.
CREATE TABLE leaderboard_entries (
  market_id   text NOT NULL,
  period      text NOT NULL,
  by          text NOT NULL CHECK (by IN ('volume', 'realizedPnl')),
  rank        int4 NOT NULL,
  user_id     text NOT NULL,
  value       numeric(78, 0) NOT NULL,
  computed_at timestamptz NOT NULL,
  PRIMARY KEY (market_id, period, by, rank)
);

CREATE TABLE leaderboard_runs (
  market_id   text NOT NULL,
  period      text NOT NULL,
  by          text NOT NULL,
  computed_at timestamptz NOT NULL,
  PRIMARY KEY (market_id, period, by)
);

-- Down Migration

DROP TABLE leaderboard_runs;
DROP TABLE leaderboard_entries;
