-- Up Migration

-- The source address of a refused webhook post (IPv4, or an IPv6 /64 prefix): refusals are
-- counted and limited per address (src/integrations/webhookRefusals.ts), and the stored ones say
-- where they came from. Rows from before this migration have none.
ALTER TABLE webhook_rejections ADD COLUMN source_address text;

-- Down Migration
ALTER TABLE webhook_rejections DROP COLUMN source_address;
