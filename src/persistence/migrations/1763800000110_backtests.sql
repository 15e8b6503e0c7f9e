-- Up Migration

-- Back-tests (src/analytics, PROTOCOL v1.1 POST /backtests): one row per run, its config as the
-- owner sent it (parsed), its status, and once done its result (performance, trades, equity curve
-- and, for a sweep, every parameter set ranked) or the reason it failed. Visible to its owner only.
CREATE TABLE backtests (
  id          text PRIMARY KEY,
  user_id     text NOT NULL,
  status      text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
  config      jsonb NOT NULL,
  result      jsonb,
  error       text,
  -- Milliseconds, as the list's cursor carries them.
  created_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
  started_at  timestamptz,
  finished_at timestamptz,
  CHECK ((status = 'done') = (result IS NOT NULL)),
  CHECK ((status = 'failed') = (error IS NOT NULL))
);
-- The owner's list, newest first, and the count of runs still going per user (the bound).
CREATE INDEX backtests_by_user ON backtests (user_id, created_at DESC, id DESC);
CREATE INDEX backtests_active_by_user ON backtests (user_id) WHERE status IN ('queued', 'running');

-- Down Migration

DROP TABLE backtests;
