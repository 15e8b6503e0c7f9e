-- Up Migration

-- Fiat deposits (issue 15). The money is the journal's (`@ledger` deposit_credit / deposit_fail
-- records); this row is the deposit's request and its provider session, its status following the
-- journal (written right after the journal commit, reconciled with it at start).
CREATE TABLE deposits (
  id             uuid PRIMARY KEY,
  user_id        text NOT NULL,
  provider       text NOT NULL CHECK (provider IN ('paystack', 'payfast', 'ozow')),
  reference      text NOT NULL,
  asset          text NOT NULL,
  amount         numeric(40, 0) NOT NULL CHECK (amount > 0),
  status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed', 'failed')),
  redirect_url   text NOT NULL,
  form_fields    jsonb,
  provider_id    text,
  failure_reason text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  completed_at   timestamptz,
  UNIQUE (provider, reference)
);
CREATE INDEX deposits_user_page ON deposits (user_id, created_at DESC, id DESC);
CREATE INDEX deposits_pending ON deposits (user_id) WHERE status = 'pending';

-- Every notification that did not credit (bad signature, unknown reference, mismatch, provider
-- down...), with the deposit it named when there is one. Bounded: pruned to the newest rows.
CREATE TABLE deposit_refusals (
  id             bigserial PRIMARY KEY,
  deposit_id     uuid,
  provider       text NOT NULL,
  reference      text,
  reason         text NOT NULL,
  source_address text,
  at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deposit_refusals_deposit ON deposit_refusals (deposit_id) WHERE deposit_id IS NOT NULL;

-- Withdrawals (issue 15): the lock and each status change are `@ledger` withdrawal records; this row
-- follows them. `payout_reference` is written before the payout is sent, so a retried job finds it.
CREATE TABLE withdrawals (
  id               uuid PRIMARY KEY,
  user_id          text NOT NULL,
  asset            text NOT NULL,
  amount           numeric(40, 0) NOT NULL CHECK (amount > 0),
  destination      text NOT NULL,
  status           text NOT NULL CHECK (status IN ('pending_approval', 'approved', 'submitted', 'confirmed', 'rejected', 'failed')),
  reason           text,
  tx_hash          text,
  payout_reference text UNIQUE,
  payout_attempts  integer NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX withdrawals_user_page ON withdrawals (user_id, created_at DESC, id DESC);
CREATE INDEX withdrawals_status_page ON withdrawals (status, created_at, id);

-- Down Migration
DROP TABLE withdrawals;
DROP TABLE deposit_refusals;
DROP TABLE deposits;
