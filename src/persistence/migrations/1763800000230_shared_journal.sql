-- Up Migration

-- Several engine writers on one journal (issue 22, docs/scale-out.md "Shared journal"). ROLE=all
-- keeps its single writer (max(global_seq) + 1, no head row touched); an engine's writer takes
-- its global_seq range from this one row inside its batch transaction
-- (`UPDATE journal_head SET seq = seq + n RETURNING seq`): the row lock serialises the engines'
-- commits, so commit order is global_seq order and a reader of the journal (the projector, the
-- replicas) never sees a later row before an earlier one commits.
CREATE TABLE journal_head (
  id   int PRIMARY KEY CHECK (id = 1),
  seq  int8 NOT NULL,
  -- The global_seq up to which cluster_funds equals the journal's available balances (NULL: not
  -- seeded). A row after it written by ROLE=all (writer NULL) makes an engine seed again.
  funds_at int8
);
INSERT INTO journal_head (id, seq) SELECT 1, coalesce(max(global_seq), 0) FROM journal;

-- Which engine process wrote the row (NULL: the single writer of ROLE=all). Replicas skip their own.
ALTER TABLE journal ADD COLUMN writer text;

-- The debit fence of money across engines: every user's available balance per asset as the
-- committed journal has it, maintained by each engine batch's transaction. A batch that would take
-- an available balance below zero violates the CHECK and commits nothing.
CREATE TABLE cluster_funds (
  account   text NOT NULL,
  asset     text NOT NULL,
  available numeric NOT NULL CHECK (available >= 0),
  PRIMARY KEY (account, asset)
);

-- Down Migration

DROP TABLE cluster_funds;
ALTER TABLE journal DROP COLUMN writer;
DROP TABLE journal_head;
