-- Alerting: the outbox the worker writes with each run result, the alert
-- state of each rule, the deliveries the dispatcher sends, their items and
-- every attempt. Same model as migrations/sqlite/0003_alerts.sql (read the
-- comments there), with native types.

CREATE TABLE alert_outbox (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text        NOT NULL CHECK (kind IN ('VIOLATION', 'RECOVERY')),
    rule_id      bigint      NOT NULL REFERENCES rules (id),
    rule_name    text        NOT NULL,
    run_id       text        COLLATE "C" NOT NULL REFERENCES runs (id),
    violation_id bigint      REFERENCES violations (id),
    created_at   timestamptz NOT NULL,
    planned_at   timestamptz,
    decision     text
);

CREATE INDEX alert_outbox_pending ON alert_outbox (id) WHERE planned_at IS NULL;

CREATE TABLE alert_state (
    rule_id           bigint      PRIMARY KEY REFERENCES rules (id),
    open              boolean     NOT NULL,
    opened_at         timestamptz,
    severity          text,
    fingerprint       text,
    last_violation_id bigint,
    notified_at       timestamptz,
    channels          jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(channels) = 'array'),
    suppressed        bigint      NOT NULL DEFAULT 0,
    last_alert_at     timestamptz,
    updated_at        timestamptz NOT NULL
);

CREATE TABLE alert_deliveries (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel     text        NOT NULL,
    batch_key   text        NOT NULL,
    state       text        NOT NULL
        CHECK (state IN ('PENDING', 'SENDING', 'SENT', 'FAILED', 'IN_DOUBT')),
    created_at  timestamptz NOT NULL,
    due_at      timestamptz NOT NULL,
    attempts    bigint      NOT NULL DEFAULT 0,
    claimed_by  text,
    lease_until timestamptz,
    sent_at     timestamptz,
    last_error  text
);

CREATE INDEX alert_deliveries_due ON alert_deliveries (due_at) WHERE state = 'PENDING';
CREATE INDEX alert_deliveries_sending ON alert_deliveries (lease_until) WHERE state = 'SENDING';
CREATE INDEX alert_deliveries_created ON alert_deliveries (created_at);

CREATE TABLE alert_delivery_items (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES alert_deliveries (id),
    outbox_id   bigint REFERENCES alert_outbox (id),
    rule_id     bigint NOT NULL REFERENCES rules (id),
    item        jsonb  NOT NULL
);

CREATE INDEX alert_delivery_items_delivery ON alert_delivery_items (delivery_id);

CREATE TABLE alert_attempts (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id bigint      NOT NULL REFERENCES alert_deliveries (id),
    attempt     bigint      NOT NULL,
    dispatcher  text        NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    outcome     text        NOT NULL
        CHECK (outcome IN ('STARTED', 'DELIVERED', 'RETRY', 'FAILED', 'UNKNOWN')),
    status      bigint,
    error       text,
    UNIQUE (delivery_id, attempt)
);

CREATE INDEX violations_rule_unresolved ON violations (rule_id) WHERE resolved_at IS NULL;

ALTER TABLE violations ADD COLUMN ack_delay_ms bigint;
