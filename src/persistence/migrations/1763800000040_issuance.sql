-- Up Migration

-- RWA issuance (issue 7): the registered asset behind a market, and the approval audit trail.
-- Written by the issuance service after the journal has committed the transition it describes.

CREATE TABLE market_assets (
  market_id            text PRIMARY KEY REFERENCES markets (id),
  name                 text NOT NULL,
  asset_type           text NOT NULL CHECK (asset_type IN ('real_estate', 'corporate_stock', 'government_bond',
                         'commodity', 'private_equity', 'art_collectible', 'carbon_credit', 'other')),
  token_symbol         text NOT NULL,
  token_name           text NOT NULL,
  total_supply         text NOT NULL CHECK (total_supply ~ '^[0-9]+(\.[0-9]+)?$'),
  issuer_id            text NOT NULL,
  details              jsonb NOT NULL,
  contract_address     text,
  deployment_tx_hash   text,
  deploy_error         text,
  rejected_reason      text,
  approved_at          timestamptz,
  activated_at         timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE market_approval_events (
  id         bigserial PRIMARY KEY,
  market_id  text NOT NULL REFERENCES markets (id),
  event_type text NOT NULL CHECK (event_type ~ '^market\.[a-z_]+$'),
  actor_id   text NOT NULL,
  actor_type text NOT NULL CHECK (actor_type IN ('admin', 'issuer', 'system', 'compliance')),
  decision   text CHECK (decision IN ('approved', 'rejected')),
  reason     text,
  metadata   jsonb,
  ts         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX market_approval_events_by_market ON market_approval_events (market_id, id);

-- Down Migration

DROP TABLE market_approval_events;
DROP TABLE market_assets;
