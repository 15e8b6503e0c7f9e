-- Up Migration

-- Each user's equity at a fixed interval (src/analytics/portfolio/history.ts), valued in each asset
-- of PORTFOLIO_HISTORY_IN, in that asset's minor units. Time series: declaratively range-partitioned
-- by month on t, the partitions created ahead by the exchange (the current and next month, at every
-- recording), those past PORTFOLIO_HISTORY_RETENTION_DAYS dropped whole; a BRIN index on t (rows
-- arrive in time order, so block ranges stay tight). No default partition: a row never lands
-- outside a month the exchange created.
CREATE TABLE equity_points (
  user_id text NOT NULL,
  asset   text NOT NULL,
  t       timestamptz NOT NULL,
  equity  numeric(78, 0) NOT NULL,
  PRIMARY KEY (user_id, asset, t)
) PARTITION BY RANGE (t);
CREATE INDEX equity_points_t_brin ON equity_points USING brin (t);

-- Down Migration

DROP TABLE equity_points;
