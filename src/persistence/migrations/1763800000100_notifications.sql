-- Up Migration

-- Notifications (docs/notifications.md): the in-app rows the notifier (a durable consumer of the
-- committed event stream, src/notifications/notifier.ts) writes in the transaction that moves its
-- cursor. `source` names what made a row (a journal record and the draft's place in it, a
-- broadcast, an admission refusal): one notification per user and source, whatever is retried.
CREATE TABLE notifications (
  id         bigserial PRIMARY KEY,
  user_id    text NOT NULL,
  type       text NOT NULL,
  title      text NOT NULL,
  body       text NOT NULL,
  data       jsonb NOT NULL DEFAULT '{}',
  source     text NOT NULL,
  ts         int8 NOT NULL,
  read_at    timestamptz,
  UNIQUE (user_id, source)
);
CREATE INDEX notifications_by_user ON notifications (user_id, id DESC);
CREATE INDEX notifications_unread ON notifications (user_id, id DESC) WHERE read_at IS NULL;

-- What a user wants (PROTOCOL v1.1, Notifications: preferences), as PUT stored it; the webhook's
-- signing secret beside it (answered once, when the webhook is first set).
CREATE TABLE notification_preferences (
  user_id        text PRIMARY KEY,
  preferences    jsonb NOT NULL,
  webhook_secret text,
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Price alerts: fired once, by the first trade that crosses (the notifier sets fired_seq in the
-- transaction that writes the price_alert notification).
CREATE TABLE price_alerts (
  id          bigserial PRIMARY KEY,
  user_id     text NOT NULL,
  market_id   text NOT NULL,
  direction   text NOT NULL CHECK (direction IN ('above', 'below')),
  price_ticks int8 NOT NULL,
  price       text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  fired_seq   int8,
  fired_at    timestamptz
);
CREATE INDEX price_alerts_armed ON price_alerts (market_id) WHERE fired_seq IS NULL;
CREATE INDEX price_alerts_by_user ON price_alerts (user_id, id);

-- The outbox of the other channels: one row per notification and channel, written with the
-- notification; the dispatcher enqueues pending rows (BullMQ job id = notification and channel,
-- so a second enqueue is a no-op) and the channel's worker records the outcome.
CREATE TABLE notification_deliveries (
  notification_id bigint NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
  channel         text NOT NULL,
  status          text NOT NULL CHECK (status IN ('pending', 'queued', 'sent', 'failed', 'skipped')),
  -- Not before this (quiet hours, a digest's window): the dispatcher delays the job until then.
  release_at      timestamptz NOT NULL DEFAULT now(),
  attempts        int4 NOT NULL DEFAULT 0,
  last_error      text,
  -- Standard Webhooks `webhook-id`: fixed at the first attempt, the same on every retry.
  webhook_id      text,
  sent_at         timestamptz,
  PRIMARY KEY (notification_id, channel)
);
CREATE INDEX notification_deliveries_pending ON notification_deliveries (release_at)
  WHERE status = 'pending';

-- Keys the exchange generates and keeps (the VAPID key pair when VAPID_* is unset).
CREATE TABLE notification_settings (
  key   text PRIMARY KEY,
  value text NOT NULL
);

-- Template overrides (src/notifications/templates.ts holds the defaults in the repo).
CREATE TABLE notification_templates (
  type       text NOT NULL,
  channel    text NOT NULL,
  locale     text NOT NULL DEFAULT 'en',
  template   jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (type, channel, locale)
);

-- Down Migration
DROP TABLE notification_templates;
DROP TABLE notification_settings;
DROP TABLE notification_deliveries;
DROP TABLE price_alerts;
DROP TABLE notification_preferences;
DROP TABLE notifications;
