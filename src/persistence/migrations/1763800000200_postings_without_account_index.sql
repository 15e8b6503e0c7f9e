-- Up Migration

-- ledger_postings_by_account cost an index entry per posting (~6 per order) for one read, the
-- notifier's holders of an asset as of a journal record (src/notifications/store.ts holdersAt),
-- which now reads the postings after that record by the primary key's global_seq range
-- (issue 21: Postgres CPU per order).

DROP INDEX ledger_postings_by_account;

-- Down Migration

CREATE INDEX ledger_postings_by_account ON ledger_postings (account, asset, global_seq);
