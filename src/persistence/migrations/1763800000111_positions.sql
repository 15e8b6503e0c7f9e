-- Up Migration

-- Positions from fills (src/analytics/portfolio): per user, asset bought and the quote asset paid,
-- the quantity held from fills, its cost and the PnL sells realized, all in minor units (numeric:
-- an 18-decimal asset passes int8). Kept by the durable consumer `portfolio` (its cursor is a row
-- of projection_cursors, moved in the same transaction); rebuilt from the journal by deleting the
-- rows and that cursor row (src/persistence/portfolioStore.ts resetPortfolio).
CREATE TABLE positions (
  user_id     text NOT NULL,
  asset       text NOT NULL,
  quote_asset text NOT NULL,
  qty         numeric(78, 0) NOT NULL CHECK (qty >= 0),
  cost        numeric(78, 0) NOT NULL CHECK (cost >= 0),
  realized    numeric(78, 0) NOT NULL,
  fills       int8 NOT NULL CHECK (fills > 0),
  global_seq  int8 NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, asset, quote_asset)
);

-- Down Migration

DROP TABLE positions;
