-- Up Migration

-- Market data derived from committed trades (src/marketdata): candles and 24h stats, upserted by
-- src/persistence/marketDataStore.ts about once a second from the in-memory series, and rebuilt at
-- start from these rows plus the trades projection after them. Prices are ticks, quantities lots
-- (integers, as in `trades`); only candles with at least one trade are stored (reads fill gaps).

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

-- The 24h figures as of the last save (a projection for SQL readers; the live ones are in memory).
CREATE TABLE market_stats (
  market_id     text PRIMARY KEY,
  last_price    int8,
  high_24h      int8,
  low_24h       int8,
  volume_24h    int8 NOT NULL CHECK (volume_24h >= 0),
  -- The price 24h ago: the last trade before the window, else the first trade.
  reference     int8,
  change_24h    int8,
  last_trade_at timestamptz,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- The latest external reference price per market (fetch-external-prices job), as a decimal with the
-- market's price decimals, and the source's key it came from.
CREATE TABLE reference_prices (
  market_id  text PRIMARY KEY,
  price      numeric NOT NULL CHECK (price > 0),
  source_key text NOT NULL,
  fetched_at timestamptz NOT NULL
);

-- Down Migration

DROP TABLE reference_prices;
DROP TABLE market_stats;
DROP TABLE price_candles;
