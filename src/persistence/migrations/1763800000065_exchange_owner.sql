-- Up Migration

-- The exchange that owns this database (src/persistence/owner.ts). Ownership itself is a
-- session-level advisory lock held on a dedicated connection for the exchange's life; this row
-- only names the holder, so that a second exchange can say who it is, and carries the fencing
-- token: every claim increments it, and the journal writer's INSERT goes through only while the
-- row still holds the token it was given (a stale owner can never append).
CREATE TABLE exchange_owner (
  id           int PRIMARY KEY CHECK (id = 1),
  token        int8 NOT NULL CHECK (token > 0),
  host         text NOT NULL,
  pid          int NOT NULL,
  port         int,
  started_at   timestamptz NOT NULL,
  -- pg_backend_pid() of the connection holding the advisory lock.
  backend_pid  int NOT NULL,
  released_at  timestamptz
);

-- Down Migration

DROP TABLE exchange_owner;
