-- Up Migration

-- A user's fills, newest first (GET /api/v1/fills, issue 20): a trade is a fill of its maker and
-- of its taker, so one index per role, each leading with the user and ordered as the read pages
-- (ts, then the journal position, descending; the few rows of one record are then sorted by the
-- trade id's numbers, src/persistence/userFills.ts). Made on the month-partitioned parent (1763800000170), so every
-- partition, the default one and those made later (src/persistence/timeSeries.ts) get theirs;
-- the read's LIMIT then walks each month's index from the newest row.

CREATE INDEX trades_by_maker_user ON trades (maker_user_id, ts DESC, global_seq DESC);
CREATE INDEX trades_by_taker_user ON trades (taker_user_id, ts DESC, global_seq DESC);

-- Down Migration

DROP INDEX trades_by_maker_user;
DROP INDEX trades_by_taker_user;
