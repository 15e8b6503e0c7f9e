-- Up Migration

-- The addresses and devices (user agents) each user's sessions came from (docs/notifications.md):
-- a session from one not seen before, when the user has been seen before, is a `security_alert`.
CREATE TABLE notification_session_origins (
  user_id    text NOT NULL,
  kind       text NOT NULL CHECK (kind IN ('address', 'device')),
  value      text NOT NULL,
  first_seen timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, kind, value)
);

-- Down Migration
DROP TABLE notification_session_origins;
