-- Up Migration

-- The projector's `trades` (1763800000001) and the market data's `price_candles` (1763800000060) as
-- time series (docs/analytics.md, Time-series storage): declaratively range-partitioned by month on
-- their time (trades.ts, price_candles.open_time), partitions named <table>_YYYYMM made ahead by the
-- exchange (src/persistence/timeSeries.ts: this month and the next, at boot and hourly), whole months
-- dropped past TRADES_RETENTION_DAYS / CANDLES_RETENTION_DAYS (0, the default: kept), a BRIN index on
-- the time (rows arrive in time order, so block ranges stay tight) beside the btree indexes the
-- reads use.
--
-- A DEFAULT partition (<table>_default) is the safety net: a row of a month not made yet (a rebuild
-- of old history, a clock far off) lands there instead of failing the projector's page; the next
-- housekeeping moves each of its months into a partition of its own. It is empty in steady state.
--
-- trades: a primary key of a partitioned table must hold the partition key, so it is (id, ts). The
-- id alone stays unique by construction: it is marketId:seq:n of the journal record that made the
-- trade, which also gives its ts, and the projector inserts a record's trades only in the statement
-- that moves its cursor past that record (exactly once; a replay after a reset rebuilds the same
-- rows). A lookup by id uses the key's leading column in each partition.
--
-- Existing rows are moved (in this migration's transaction): the old table is renamed, the
-- partitions of every month it holds are made, its rows copied, and it is dropped.

-- Month arithmetic in UTC, whatever the session's zone.
SET LOCAL TimeZone = 'UTC';

-- The old tables lose their constraints first, so the new ones get the same names
-- (trades_maker_order_id_fkey, trades_price_check, ...; Postgres would number them otherwise).

ALTER TABLE trades RENAME TO trades_unpartitioned;
DO $$
DECLARE c text;
BEGIN
  FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'trades_unpartitioned'::regclass LOOP
    EXECUTE format('ALTER TABLE trades_unpartitioned DROP CONSTRAINT %I', c);
  END LOOP;
END
$$;
DROP INDEX trades_by_market_ts, trades_by_maker_order, trades_by_taker_order;

CREATE TABLE trades (
  id             text NOT NULL, -- marketId:seq:n (market seq of the entry, n-th fill in it)
  market_id      text NOT NULL,
  maker_order_id text NOT NULL REFERENCES orders (id),
  taker_order_id text NOT NULL REFERENCES orders (id),
  maker_user_id  text NOT NULL,
  taker_user_id  text NOT NULL,
  taker_side     text NOT NULL CHECK (taker_side IN ('buy', 'sell')),
  price          int8 NOT NULL CHECK (price > 0),
  qty            int8 NOT NULL CHECK (qty > 0),
  ts             timestamptz NOT NULL,
  global_seq     int8 NOT NULL,
  PRIMARY KEY (id, ts)
) PARTITION BY RANGE (ts);
CREATE INDEX trades_by_market_ts ON trades (market_id, ts);
CREATE INDEX trades_by_maker_order ON trades (maker_order_id);
CREATE INDEX trades_by_taker_order ON trades (taker_order_id);
CREATE INDEX trades_ts_brin ON trades USING brin (ts);
CREATE TABLE trades_default PARTITION OF trades DEFAULT;

ALTER TABLE price_candles RENAME TO price_candles_unpartitioned;
DO $$
DECLARE c text;
BEGIN
  FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'price_candles_unpartitioned'::regclass LOOP
    EXECUTE format('ALTER TABLE price_candles_unpartitioned DROP CONSTRAINT %I', c);
  END LOOP;
END
$$;

CREATE TABLE price_candles (
  market_id  text NOT NULL,
  interval   text NOT NULL CHECK (interval IN ('1m', '5m', '1h')),
  open_time  timestamptz NOT NULL,
  open       int8 NOT NULL CHECK (open > 0),
  high       int8 NOT NULL CHECK (high > 0),
  low        int8 NOT NULL CHECK (low > 0),
  close      int8 NOT NULL CHECK (close > 0),
  volume     int8 NOT NULL CHECK (volume > 0),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (market_id, interval, open_time),
  CHECK (low <= open AND low <= close AND high >= open AND high >= close)
) PARTITION BY RANGE (open_time);
CREATE INDEX price_candles_open_time_brin ON price_candles USING brin (open_time);
CREATE TABLE price_candles_default PARTITION OF price_candles DEFAULT;

-- The months of the rows already there, and this month and the next.
DO $$
DECLARE
  spec record;
  m timestamp;
BEGIN
  FOR spec IN
    SELECT 'trades' AS parent, month FROM (
      SELECT DISTINCT date_trunc('month', ts AT TIME ZONE 'UTC') AS month FROM trades_unpartitioned
    ) t
    UNION SELECT 'price_candles', month FROM (
      SELECT DISTINCT date_trunc('month', open_time AT TIME ZONE 'UTC') AS month
      FROM price_candles_unpartitioned
    ) c
    UNION SELECT p, date_trunc('month', now() AT TIME ZONE 'UTC') + n * interval '1 month'
      FROM unnest(ARRAY['trades', 'price_candles']) p, generate_series(0, 1) n
  LOOP
    m := spec.month;
    EXECUTE format(
      'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
      spec.parent || '_' || to_char(m, 'YYYYMM'),
      spec.parent,
      to_char(m, 'YYYY-MM-DD') || ' 00:00:00+00',
      to_char(m + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00'
    );
  END LOOP;
END
$$;

INSERT INTO trades (id, market_id, maker_order_id, taker_order_id, maker_user_id, taker_user_id,
  taker_side, price, qty, ts, global_seq)
SELECT id, market_id, maker_order_id, taker_order_id, maker_user_id, taker_user_id, taker_side, price,
  qty, ts, global_seq
FROM trades_unpartitioned;
DROP TABLE trades_unpartitioned;

INSERT INTO price_candles (market_id, interval, open_time, open, high, low, close, volume, updated_at)
SELECT market_id, interval, open_time, open, high, low, close, volume, updated_at
FROM price_candles_unpartitioned;
DROP TABLE price_candles_unpartitioned;

-- Down Migration

-- Back to the plain tables of 1763800000001 and 1763800000060, rows kept (a trade id is unique there
-- again, as it was by construction here).
SET LOCAL TimeZone = 'UTC';

ALTER TABLE trades RENAME TO trades_partitioned;
DO $$
DECLARE c text;
BEGIN
  FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'trades_partitioned'::regclass LOOP
    EXECUTE format('ALTER TABLE trades_partitioned DROP CONSTRAINT %I', c);
  END LOOP;
END
$$;
DROP INDEX trades_by_market_ts, trades_by_maker_order, trades_by_taker_order;
CREATE TABLE trades (
  id             text PRIMARY KEY,
  market_id      text NOT NULL,
  maker_order_id text NOT NULL REFERENCES orders (id),
  taker_order_id text NOT NULL REFERENCES orders (id),
  maker_user_id  text NOT NULL,
  taker_user_id  text NOT NULL,
  taker_side     text NOT NULL CHECK (taker_side IN ('buy', 'sell')),
  price          int8 NOT NULL CHECK (price > 0),
  qty            int8 NOT NULL CHECK (qty > 0),
  ts             timestamptz NOT NULL,
  global_seq     int8 NOT NULL
);
INSERT INTO trades SELECT id, market_id, maker_order_id, taker_order_id, maker_user_id, taker_user_id,
  taker_side, price, qty, ts, global_seq FROM trades_partitioned;
DROP TABLE trades_partitioned;
CREATE INDEX trades_by_market_ts ON trades (market_id, ts);
CREATE INDEX trades_by_maker_order ON trades (maker_order_id);
CREATE INDEX trades_by_taker_order ON trades (taker_order_id);

ALTER TABLE price_candles RENAME TO price_candles_partitioned;
DO $$
DECLARE c text;
BEGIN
  FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'price_candles_partitioned'::regclass LOOP
    EXECUTE format('ALTER TABLE price_candles_partitioned DROP CONSTRAINT %I', c);
  END LOOP;
END
$$;
CREATE TABLE price_candles (
  market_id  text NOT NULL,
  interval   text NOT NULL CHECK (interval IN ('1m', '5m', '1h')),
  open_time  timestamptz NOT NULL,
  open       int8 NOT NULL CHECK (open > 0),
  high       int8 NOT NULL CHECK (high > 0),
  low        int8 NOT NULL CHECK (low > 0),
  close      int8 NOT NULL CHECK (close > 0),
  volume     int8 NOT NULL CHECK (volume > 0),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (market_id, interval, open_time),
  CHECK (low <= open AND low <= close AND high >= open AND high >= close)
);
INSERT INTO price_candles SELECT market_id, interval, open_time, open, high, low, close, volume,
  updated_at FROM price_candles_partitioned;
DROP TABLE price_candles_partitioned;
