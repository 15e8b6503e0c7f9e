-- Up Migration

-- Rollups of the trades (src/analytics/rollups.ts, the durable consumer `rollups`): per market and
-- bucket (1m, 5m, 1h, 1d, aligned to the epoch) the open, high, low, close (ticks), volume (lots),
-- notional (Σ price × qty, ticks × lots) and count of its trades, maintained incrementally in the
-- consumer's transaction (1m from the page's trades, 5m from those 1m, 1h from the 5m, 1d from the
-- 1h). The open and the close carry their trade's (global_seq, id), the order `trades` is read in,
-- so pieces combine exactly. Time series: range-partitioned by month on t, partitions created
-- ahead by the exchange (and by a page that reaches a month not made yet), whole months dropped
-- past ANALYTICS_ROLLUP_RETENTION_DAYS; BRIN on t (rows arrive in time order).
CREATE TABLE trade_rollups (
  market_id text NOT NULL,
  bucket    text NOT NULL CHECK (bucket IN ('1m', '5m', '1h', '1d')),
  t         timestamptz NOT NULL,
  o         int8 NOT NULL,
  h         int8 NOT NULL,
  l         int8 NOT NULL,
  c         int8 NOT NULL,
  v         numeric(78, 0) NOT NULL,
  notional  numeric(78, 0) NOT NULL,
  n         int8 NOT NULL,
  o_seq     int8 NOT NULL,
  o_id      text NOT NULL,
  c_seq     int8 NOT NULL,
  c_id      text NOT NULL,
  -- The earliest and latest trade time in the bucket: a read's sub-minute end uses the 1m row
  -- instead of the raw trades when the row's trades all lie inside it.
  t_min     timestamptz NOT NULL,
  t_max     timestamptz NOT NULL,
  PRIMARY KEY (market_id, bucket, t)
) PARTITION BY RANGE (t);
CREATE INDEX trade_rollups_t_brin ON trade_rollups USING brin (t);

-- Down Migration

DROP TABLE trade_rollups;
