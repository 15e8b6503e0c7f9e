-- Up Migration

-- Issue 14: trailing stops (PROTOCOL v1.1 "More order types") are orders of type trailing_stop.

ALTER TABLE orders DROP CONSTRAINT orders_type_check;
ALTER TABLE orders ADD CONSTRAINT orders_type_check
  CHECK (type IN ('limit', 'market', 'stop_limit', 'stop_market', 'trailing_stop'));

-- Down Migration

ALTER TABLE orders DROP CONSTRAINT orders_type_check;
ALTER TABLE orders ADD CONSTRAINT orders_type_check
  CHECK (type IN ('limit', 'market', 'stop_limit', 'stop_market'));
