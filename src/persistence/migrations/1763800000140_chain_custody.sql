-- Up Migration

-- Custodial deposit addresses (issue 16): one per user, derived from CHAIN_CUSTODY_MNEMONIC at
-- `address_index`. The index is what Postgres assigns; the address is stored to look users up by it.
CREATE TABLE custody_addresses (
  user_id       text PRIMARY KEY,
  address_index integer NOT NULL UNIQUE CHECK (address_index >= 0),
  address       text NOT NULL UNIQUE CHECK (address ~ '^0x[0-9a-fA-F]{40}$'),
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE custody_address_index AS integer MINVALUE 0 START 0 OWNED BY custody_addresses.address_index;

-- An ERC-20 bound to a stable or crypto asset (POST /assets contractAddress); RWA tokens are on
-- market_assets.
ALTER TABLE assets ADD COLUMN contract_address text CHECK (contract_address ~ '^0x[0-9a-fA-F]{40}$');
CREATE UNIQUE INDEX assets_contract_address ON assets (lower(contract_address)) WHERE contract_address IS NOT NULL;

-- Chain deposits are deposits of provider `chain` (reference `<txHash>:<logIndex>`).
ALTER TABLE deposits DROP CONSTRAINT deposits_provider_check;
ALTER TABLE deposits ADD CONSTRAINT deposits_provider_check CHECK (provider IN ('paystack', 'payfast', 'ozow', 'chain'));

-- Where sync-blockchain goes on: the first block not yet final (every block before it was read with
-- CHAIN_CONFIRMATIONS confirmations).
CREATE TABLE chain_sync_cursors (
  chain_id   integer PRIMARY KEY,
  next_block bigint NOT NULL CHECK (next_block >= 0),
  head_block bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every Transfer log of a known token the sync read. `pending` while inside the confirmation window
-- (re-read each run: a reorganisation marks it `orphaned`), `final` once confirmed. A final log into
-- a deposit address from outside is a chain deposit: `deposit_id` is set when it was credited.
CREATE TABLE blockchain_events (
  chain_id     integer NOT NULL,
  tx_hash      text NOT NULL,
  log_index    integer NOT NULL,
  block_number bigint NOT NULL,
  block_hash   text NOT NULL,
  token        text NOT NULL,
  from_address text NOT NULL,
  to_address   text NOT NULL,
  amount       numeric(78, 0) NOT NULL,
  status       text NOT NULL CHECK (status IN ('pending', 'final', 'orphaned')),
  deposit_user text,
  deposit_id   uuid,
  seen_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX blockchain_events_window ON blockchain_events (chain_id, block_number) WHERE status = 'pending';
CREATE INDEX blockchain_events_uncredited ON blockchain_events (chain_id)
  WHERE status = 'final' AND deposit_user IS NOT NULL AND deposit_id IS NULL;

-- Down Migration
DROP TABLE blockchain_events;
DROP TABLE chain_sync_cursors;
ALTER TABLE deposits DROP CONSTRAINT deposits_provider_check;
ALTER TABLE deposits ADD CONSTRAINT deposits_provider_check CHECK (provider IN ('paystack', 'payfast', 'ozow'));
DROP INDEX assets_contract_address;
ALTER TABLE assets DROP COLUMN contract_address;
DROP TABLE custody_addresses;
