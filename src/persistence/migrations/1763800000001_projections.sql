-- Up Migration

-- Relational projections of the journal (DESIGN.md principle 5), built by src/persistence/projector.ts
-- in global_seq order, one transaction per page with the 'relational' projection cursor; they can be
-- dropped and rebuilt from the journal at any time (npm run rebuild-projections). Prices and
-- quantities are integers (ticks, lots); money is numeric(78,0) in minor units, read as text.

CREATE TABLE orders (
  id                 text PRIMARY KEY, -- marketId:orderId
  market_id          text NOT NULL,
  order_id           int8 NOT NULL,
  user_id            text NOT NULL,
  client_order_id    text,
  side               text NOT NULL CHECK (side IN ('buy', 'sell')),
  type               text NOT NULL CHECK (type IN ('limit', 'market', 'stop_limit', 'stop_market')),
  tif                text NOT NULL CHECK (tif IN ('GTC', 'IOC', 'FOK')),
  price              int8 CHECK (price > 0),
  stop_price         int8 CHECK (stop_price > 0),
  qty                int8 NOT NULL CHECK (qty > 0),
  filled_qty         int8 NOT NULL CHECK (filled_qty >= 0),
  remaining          int8 NOT NULL CHECK (remaining >= 0),
  status             text NOT NULL
    CHECK (status IN ('open', 'partially_filled', 'filled', 'canceled', 'pending_trigger')),
  created_global_seq int8 NOT NULL,
  updated_global_seq int8 NOT NULL,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  UNIQUE (market_id, order_id),
  CHECK (filled_qty <= qty),
  CHECK (updated_global_seq >= created_global_seq)
);
CREATE INDEX orders_open_by_market ON orders (market_id, order_id)
  WHERE status IN ('open', 'partially_filled', 'pending_trigger');
CREATE INDEX orders_by_user ON orders (user_id, created_global_seq);

CREATE TABLE trades (
  id             text PRIMARY KEY, -- marketId:seq:n (market seq of the entry, n-th fill in it)
  market_id      text NOT NULL,
  maker_order_id text NOT NULL REFERENCES orders (id),
  taker_order_id text NOT NULL REFERENCES orders (id),
  maker_user_id  text NOT NULL,
  taker_user_id  text NOT NULL,
  taker_side     text NOT NULL CHECK (taker_side IN ('buy', 'sell')),
  price          int8 NOT NULL CHECK (price > 0),
  qty            int8 NOT NULL CHECK (qty > 0),
  ts             timestamptz NOT NULL,
  global_seq     int8 NOT NULL
);
CREATE INDEX trades_by_market_ts ON trades (market_id, ts);
CREATE INDEX trades_by_maker_order ON trades (maker_order_id);
CREATE INDEX trades_by_taker_order ON trades (taker_order_id);

CREATE TABLE ledger_postings (
  global_seq    int8 NOT NULL,
  entry_index   int4 NOT NULL,
  posting_index int4 NOT NULL,
  market_id     text NOT NULL, -- the journal record's market ('@ledger' for ledger commands)
  account       text NOT NULL,
  asset         text NOT NULL,
  bucket        text NOT NULL CHECK (bucket IN ('available', 'locked')),
  amount        numeric(78, 0) NOT NULL,
  kind          text NOT NULL,
  ts            timestamptz NOT NULL,
  PRIMARY KEY (global_seq, entry_index, posting_index)
);
CREATE INDEX ledger_postings_by_account ON ledger_postings (account, asset, global_seq);

CREATE TABLE balances (
  account   text NOT NULL,
  asset     text NOT NULL,
  available numeric(78, 0) NOT NULL CHECK (available >= 0 OR account = '@external'),
  locked    numeric(78, 0) NOT NULL CHECK (locked >= 0),
  PRIMARY KEY (account, asset)
);

-- Down Migration
DROP TABLE balances;
DROP TABLE ledger_postings;
DROP TABLE trades;
DROP TABLE orders;
