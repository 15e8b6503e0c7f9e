-- Up Migration

-- Compliance gating of RWA markets (src/actors/compliance.ts): one record per user and asset, and
-- the audit of every change (who set what, when).

CREATE TABLE compliance_records (
  user_id        text NOT NULL,
  asset          text NOT NULL REFERENCES assets (symbol),
  kyc_status     text NOT NULL CHECK (kyc_status IN ('pending', 'approved', 'rejected')),
  allowlisted    boolean NOT NULL,
  accredited     boolean NOT NULL,
  expires_at     timestamptz,
  wallet_address text CHECK (wallet_address ~ '^0x[0-9a-fA-F]{40}$'),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  updated_by     text NOT NULL,
  PRIMARY KEY (user_id, asset)
);

CREATE TABLE compliance_audit (
  id         bigserial PRIMARY KEY,
  user_id    text NOT NULL,
  asset      text NOT NULL,
  record     jsonb NOT NULL,
  actor_id   text NOT NULL,
  ts         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX compliance_audit_by_user ON compliance_audit (user_id, asset, id);

-- Down Migration

DROP TABLE compliance_audit;
DROP TABLE compliance_records;
