-- Up Migration

-- Chain payouts (issue 16): the signed transaction of a withdrawal's payout, written before it is
-- broadcast. A retried job reads it back: it re-sends the same bytes (which can mine only once) or,
-- when its nonce went to another transaction, knows it was never paid and signs anew.
CREATE TABLE chain_payouts (
  reference  text PRIMARY KEY,
  tx_hash    text NOT NULL,
  raw_tx     text NOT NULL,
  from_address text NOT NULL,
  nonce      bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE chain_payouts;
