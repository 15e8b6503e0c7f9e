-- Up Migration

-- A market's smallest order notional (PROTOCOL v1.1, "Fees round up"): a decimal string in quote
-- units, as listed or registered; NULL when the market sets none. Checked by the catalog at listing.

ALTER TABLE markets ADD COLUMN min_notional text;

-- Down Migration

ALTER TABLE markets DROP COLUMN min_notional;
