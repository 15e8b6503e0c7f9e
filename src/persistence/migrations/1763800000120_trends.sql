-- Up Migration

-- Trend markets (issue 19, src/trends; docs/trends.md). Scores, sentiments and velocities are
-- integers scaled at the edge (hundredths of a point, basis points, hundredths of a percent per
-- hour); prices are ticks of the trend's market.

-- Every symbol the normalizer gave: the topic's key (what makes two topics the same topic) is
-- given one symbol, once; the per-stem counter is the largest number of its region and stem.
CREATE TABLE trend_topics (
  topic_key  text PRIMARY KEY,
  topic      text NOT NULL,
  region     text NOT NULL,
  stem       text NOT NULL,
  number     integer NOT NULL CHECK (number > 0),
  symbol     text NOT NULL UNIQUE,
  category   text,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (region, stem, number)
);

-- The metrics time series, partitioned by month (src/trends/trendStore.ts creates each month's
-- partition before its first row); BRIN on time for range scans, btree for one symbol's series.
CREATE TABLE trend_metrics (
  symbol            text NOT NULL,
  ts                timestamptz NOT NULL,
  virality_centi    integer NOT NULL CHECK (virality_centi BETWEEN 0 AND 10000),
  sentiment_bp      integer NOT NULL CHECK (sentiment_bp BETWEEN -10000 AND 10000),
  velocity_centi    integer NOT NULL CHECK (velocity_centi BETWEEN -10000 AND 10000),
  engagement_bp     integer CHECK (engagement_bp BETWEEN 0 AND 10000),
  volume            int8 CHECK (volume >= 0),
  -- `http` (POST /trends by the token's subject) or the pulling job's source name.
  source            text NOT NULL,
  -- The trend market's index price this update gave, when the symbol has a market.
  index_price_ticks int8,
  received_at       timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (ts);
CREATE INDEX trend_metrics_symbol_ts ON trend_metrics (symbol, ts);
CREATE INDEX trend_metrics_ts_brin ON trend_metrics USING brin (ts);

-- A trend symbol listed as a market (POST /trends/markets), with its pricing terms in ticks.
CREATE TABLE trend_markets (
  symbol         text PRIMARY KEY REFERENCES trend_topics (symbol),
  market_id      text NOT NULL UNIQUE,
  base_ticks     int8 NOT NULL CHECK (base_ticks > 0),
  point_ticks    int8 NOT NULL CHECK (point_ticks >= 0),
  floor_ticks    int8 NOT NULL CHECK (floor_ticks > 0),
  baseline_centi integer NOT NULL CHECK (baseline_centi BETWEEN 0 AND 10000),
  listed_by      text NOT NULL,
  listed_at      timestamptz NOT NULL DEFAULT now()
);

-- Down Migration

DROP TABLE trend_markets;
DROP TABLE trend_metrics;
DROP TABLE trend_topics;
