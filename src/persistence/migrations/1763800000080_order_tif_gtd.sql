-- Up Migration

-- Issue 14: orders may be good till a date (tif GTD, PROTOCOL v1.1 "More order types").

ALTER TABLE orders DROP CONSTRAINT orders_tif_check;
ALTER TABLE orders ADD CONSTRAINT orders_tif_check CHECK (tif IN ('GTC', 'IOC', 'FOK', 'GTD'));

-- Down Migration

ALTER TABLE orders DROP CONSTRAINT orders_tif_check;
ALTER TABLE orders ADD CONSTRAINT orders_tif_check CHECK (tif IN ('GTC', 'IOC', 'FOK'));
