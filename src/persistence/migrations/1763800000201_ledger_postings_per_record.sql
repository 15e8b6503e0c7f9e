-- Up Migration

-- ledger_postings at the grain of a journal record and an account's asset (issue 21: Postgres
-- CPU per order): one row sums the record's postings to that account and asset, per bucket. An
-- order made ~6 posting rows; a record of a batch of hundreds of orders from a few dozen accounts
-- now makes one row per account and asset it touched. The individual postings (entry, kind) stay
-- in the journal, the truth, which the projections derive from. Read by the notifier's holders
-- as of a record (src/notifications/store.ts holdersAt); sums per account and asset equal
-- `balances`. Existing rows are summed into the new grain here (the same sums the projector now
-- makes), so the projections need no rebuild.

CREATE TABLE ledger_postings_per_record (
  global_seq int8 NOT NULL,                -- the journal record
  account    text NOT NULL,
  asset      text NOT NULL,
  market_id  text NOT NULL,                -- the record's market ('@ledger' for ledger commands)
  available  numeric(78, 0) NOT NULL,      -- the sum of its postings to the available bucket
  locked     numeric(78, 0) NOT NULL,      -- ... and to the locked bucket
  postings   int4 NOT NULL CHECK (postings > 0), -- how many postings the row sums
  ts         timestamptz NOT NULL,         -- the time of the record's last entry with one of them
  CONSTRAINT ledger_postings_per_record_pkey PRIMARY KEY (global_seq, account, asset)
);
INSERT INTO ledger_postings_per_record
SELECT global_seq, account, asset, min(market_id),
  coalesce(sum(amount) FILTER (WHERE bucket = 'available'), 0),
  coalesce(sum(amount) FILTER (WHERE bucket = 'locked'), 0),
  count(*), max(ts)
FROM ledger_postings GROUP BY global_seq, account, asset;
DROP TABLE ledger_postings;
ALTER TABLE ledger_postings_per_record RENAME TO ledger_postings;
ALTER TABLE ledger_postings RENAME CONSTRAINT ledger_postings_per_record_pkey TO ledger_postings_pkey;
ALTER TABLE ledger_postings
  RENAME CONSTRAINT ledger_postings_per_record_postings_check TO ledger_postings_postings_check;

-- Down Migration

-- The individual postings cannot be recovered from the sums: the relational projections are
-- emptied and their cursor reset, so the projector rebuilds them from the journal.
DROP TABLE ledger_postings;
CREATE TABLE ledger_postings (
  global_seq    int8 NOT NULL,
  entry_index   int4 NOT NULL,
  posting_index int4 NOT NULL,
  market_id     text NOT NULL,
  account       text NOT NULL,
  asset         text NOT NULL,
  bucket        text NOT NULL CHECK (bucket IN ('available', 'locked')),
  amount        numeric(78, 0) NOT NULL,
  kind          text NOT NULL,
  ts            timestamptz NOT NULL,
  PRIMARY KEY (global_seq, entry_index, posting_index)
);
TRUNCATE trades, orders, balances, market_lifecycle_events, audit_log;
UPDATE projection_cursors SET global_seq = 0, updated_at = now() WHERE projection = 'relational';
