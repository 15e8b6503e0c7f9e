-- Up Migration

-- The committed event stream's durable consumers (src/events/stream.ts) each keep their cursor as
-- a row of this table, named by the consumer (the projector's is `relational`): a consumer's
-- effects and its row's move commit in one transaction, so it sees every event exactly once.
COMMENT ON TABLE projection_cursors IS
  'The cursor of each durable consumer of the committed event stream (src/events/stream.ts): the last journal global_seq whose effects committed.';

-- Down Migration
COMMENT ON TABLE projection_cursors IS NULL;
