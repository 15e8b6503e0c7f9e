-- Up Migration

-- Settlement on chain and minting (issue 16, PROTOCOL v1.1 Chain).

-- The exchange's own contracts per chain (the Settlement contract): the deployment's hash is
-- recorded before its broadcast, the address once it is mined.
CREATE TABLE chain_contracts (
  chain_id   integer NOT NULL,
  name       text NOT NULL,
  tx_hash    text NOT NULL,
  address    text CHECK (address ~ '^0x[0-9a-fA-F]{40}$'),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, name)
);

-- A settlement round: the trades of some committed journal records of markets with tokens, their
-- ledger movements netted per token and account. `pending` until its transaction is signed and
-- recorded (before the broadcast), `submitted` until mined with CHAIN_CONFIRMATIONS, then `settled`;
-- `failed` after SETTLEMENT_ATTEMPTS refusals (listed for an operator).
CREATE TABLE settlement_rounds (
  id            bigserial PRIMARY KEY,
  chain_id      integer NOT NULL,
  status        text NOT NULL CHECK (status IN ('pending', 'submitted', 'settled', 'failed')),
  trades        integer NOT NULL CHECK (trades >= 0),
  first_global_seq int8 NOT NULL,
  last_global_seq  int8 NOT NULL,
  attempts      integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  tx_hash       text,
  raw_tx        text,
  from_address  text,
  nonce         bigint,
  legs          integer,
  gas_used      numeric(78, 0),
  error         text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  settled_at    timestamptz
);
CREATE INDEX settlement_rounds_open ON settlement_rounds (chain_id, id) WHERE status IN ('pending', 'submitted');
CREATE INDEX settlement_rounds_by_status ON settlement_rounds (status, id);

-- What a round moves: the ledger's net change of each account in each asset with a token.
CREATE TABLE settlement_deltas (
  round_id bigint NOT NULL REFERENCES settlement_rounds (id),
  asset    text NOT NULL,
  account  text NOT NULL,
  amount   numeric(78, 0) NOT NULL,
  PRIMARY KEY (round_id, asset, account)
);

-- The round of each trade (trade id as the projection's: marketId:seq:n), ts the trade's (ms).
CREATE TABLE trade_settlements (
  trade_id  text PRIMARY KEY,
  market_id text NOT NULL,
  round_id  bigint NOT NULL REFERENCES settlement_rounds (id),
  ts        int8 NOT NULL
);
CREATE INDEX trade_settlements_by_round ON trade_settlements (round_id);

-- POST /markets/:id/mint: one row per request, the mint's signed transaction recorded before its
-- broadcast; `credited` once the issuer's deposit_credit (keyed by the mint id) is journaled.
CREATE TABLE chain_mints (
  id           uuid PRIMARY KEY,
  market_id    text NOT NULL,
  user_id      text NOT NULL,
  asset        text NOT NULL,
  amount       numeric(78, 0) NOT NULL CHECK (amount > 0),
  requested_by text NOT NULL,
  status       text NOT NULL CHECK (status IN ('pending', 'submitted', 'credited', 'failed')),
  tx_hash      text,
  raw_tx       text,
  from_address text,
  nonce        bigint,
  error        text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chain_mints_by_market ON chain_mints (market_id, created_at);

-- Down Migration
DROP TABLE chain_mints;
DROP TABLE trade_settlements;
DROP TABLE settlement_deltas;
DROP TABLE settlement_rounds;
DROP TABLE chain_contracts;
