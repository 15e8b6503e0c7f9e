-- Up Migration

-- RWA valuations (issue 19, src/trends/valuations.ts): append-only, each row its own audit (who
-- recorded it, when, from which source, on which document). `value` is the asset's total value in
-- the market's quote units; `per_unit` that over the token's total supply, rounded half up to the
-- market's price decimals: the market's indexPrice. A source gives one valuation per date.
CREATE TABLE rwa_valuations (
  id             bigserial PRIMARY KEY,
  market_id      text NOT NULL,
  value          numeric NOT NULL CHECK (value > 0),
  currency       text NOT NULL,
  per_unit       numeric NOT NULL CHECK (per_unit > 0),
  valuation_date date NOT NULL,
  source         text NOT NULL,
  document_ref   text NOT NULL,
  recorded_by    text NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (market_id, valuation_date, source)
);
CREATE INDEX rwa_valuations_by_market ON rwa_valuations (market_id, valuation_date DESC, id DESC);

-- Down Migration

DROP TABLE rwa_valuations;
