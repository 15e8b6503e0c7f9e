-- Up Migration

-- The catalog (src/actors/catalog.ts): assets and the markets listed on them. Configuration, written
-- before first use; the journal refers to markets by id. Lifecycle state lives in the journal.

CREATE TABLE assets (
  symbol     text PRIMARY KEY CHECK (symbol ~ '^[A-Z0-9]{1,16}$'),
  decimals   int4 NOT NULL CHECK (decimals BETWEEN 0 AND 36),
  kind       text NOT NULL CHECK (kind IN ('crypto', 'stable', 'rwa', 'fiat')),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE markets (
  id             text PRIMARY KEY,
  symbol         text NOT NULL UNIQUE,
  base_asset     text NOT NULL REFERENCES assets (symbol),
  quote_asset    text NOT NULL REFERENCES assets (symbol),
  price_decimals int4 NOT NULL CHECK (price_decimals BETWEEN 0 AND 18),
  qty_decimals   int4 NOT NULL CHECK (qty_decimals BETWEEN 0 AND 18),
  tick_size      text NOT NULL,
  lot_size       text NOT NULL,
  min_qty        text NOT NULL,
  max_qty        text NOT NULL,
  maker_fee_bps  int4 NOT NULL CHECK (maker_fee_bps BETWEEN 0 AND 1000),
  taker_fee_bps  int4 NOT NULL CHECK (taker_fee_bps BETWEEN 0 AND 1000),
  max_orders     int4 NOT NULL CHECK (max_orders > 0),
  created_at     timestamptz NOT NULL DEFAULT now(),
  CHECK (base_asset <> quote_asset),
  CHECK (symbol = base_asset || '-' || quote_asset)
);

-- Down Migration

DROP TABLE markets;
DROP TABLE assets;
