-- Up Migration

-- Leaderboards (src/analytics/leaderboards.ts): users opt in under a display name of their own;
-- boards show display names only, never user ids. realized_pnl: what each sell realized, written by
-- the `portfolio` consumer with the position (the same transaction as its cursor), in the quote
-- asset's minor units; the boards sum it per market and period.
CREATE TABLE leaderboard_profiles (
  user_id      text PRIMARY KEY,
  display_name text NOT NULL UNIQUE,
  opt_in       boolean NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE realized_pnl (
  user_id    text NOT NULL,
  market_id  text NOT NULL,
  global_seq int8 NOT NULL,
  n          int4 NOT NULL,
  t          timestamptz NOT NULL,
  pnl        numeric(78, 0) NOT NULL,
  PRIMARY KEY (global_seq, n, user_id)
);
CREATE INDEX realized_pnl_by_market_t ON realized_pnl (market_id, t);

-- Down Migration

DROP TABLE realized_pnl;
DROP TABLE leaderboard_profiles;
