-- Alerting: the outbox the worker writes with each run result, the alert
-- state of each rule (its open incident, what was notified, when), the
-- deliveries the dispatcher sends (one message to one channel, batching
-- several items), their items, and every attempt. Same model as
-- migrations/postgres/0003_alerts.sql.

-- Written in the transaction that finishes a run: a VIOLATION for each
-- violation, a RECOVERY when a passing run resolves a rule's open
-- violations. `planned_at` is set when the dispatcher has decided what the
-- event sends (or that it sends nothing, and why: `decision`).
CREATE TABLE alert_outbox (
    id           INTEGER PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('VIOLATION', 'RECOVERY')),
    rule_id      INTEGER NOT NULL REFERENCES rules (id),
    rule_name    TEXT    NOT NULL,
    run_id       TEXT    NOT NULL REFERENCES runs (id),
    violation_id INTEGER REFERENCES violations (id),
    created_at   TEXT    NOT NULL,
    planned_at   TEXT,
    decision     TEXT
);

-- Only the few rows not yet planned.
CREATE INDEX alert_outbox_pending ON alert_outbox (id) WHERE planned_at IS NULL;

-- One row per rule that ever alerted: the open incident (from its first
-- violation to the passing run that resolves it) and the notifications.
CREATE TABLE alert_state (
    rule_id           INTEGER PRIMARY KEY REFERENCES rules (id),
    open              INTEGER NOT NULL CHECK (open IN (0, 1)),
    opened_at         TEXT,
    severity          TEXT,
    fingerprint       TEXT,
    last_violation_id INTEGER,
    -- The last notification of the open incident, and the channels it reached.
    notified_at       TEXT,
    channels          TEXT    NOT NULL DEFAULT '[]',
    suppressed        INTEGER NOT NULL DEFAULT 0,
    -- The last violation notification of any incident: the rule's cooldown.
    last_alert_at     TEXT,
    updated_at        TEXT    NOT NULL
);

-- One message to one channel. PENDING until `due_at` (the end of its
-- batching window, or of a retry's backoff); SENDING while a dispatcher
-- holds it (`claimed_by` until `lease_until`); then SENT, FAILED, or
-- IN_DOUBT (its dispatcher died during an attempt: never sent again).
CREATE TABLE alert_deliveries (
    id          INTEGER PRIMARY KEY,
    channel     TEXT    NOT NULL,
    batch_key   TEXT    NOT NULL,
    state       TEXT    NOT NULL
        CHECK (state IN ('PENDING', 'SENDING', 'SENT', 'FAILED', 'IN_DOUBT')),
    created_at  TEXT    NOT NULL,
    due_at      TEXT    NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    claimed_by  TEXT,
    lease_until TEXT,
    sent_at     TEXT,
    last_error  TEXT
);

CREATE INDEX alert_deliveries_due ON alert_deliveries (due_at) WHERE state = 'PENDING';
CREATE INDEX alert_deliveries_sending ON alert_deliveries (lease_until) WHERE state = 'SENDING';
CREATE INDEX alert_deliveries_created ON alert_deliveries (created_at);

-- What a delivery says: one item per violation, recovery or escalation,
-- as the JSON the channels render.
CREATE TABLE alert_delivery_items (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES alert_deliveries (id),
    outbox_id   INTEGER REFERENCES alert_outbox (id),
    rule_id     INTEGER NOT NULL REFERENCES rules (id),
    item        TEXT    NOT NULL
);

CREATE INDEX alert_delivery_items_delivery ON alert_delivery_items (delivery_id);

-- Every attempt: STARTED is committed before the request goes out, so an
-- attempt its dispatcher did not live to finish is visible (UNKNOWN).
CREATE TABLE alert_attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES alert_deliveries (id),
    attempt     INTEGER NOT NULL,
    dispatcher  TEXT    NOT NULL,
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    outcome     TEXT    NOT NULL
        CHECK (outcome IN ('STARTED', 'DELIVERED', 'RETRY', 'FAILED', 'UNKNOWN')),
    status      INTEGER,
    error       TEXT,
    UNIQUE (delivery_id, attempt)
);

-- A passing run resolves its rule's open violations: one index probe.
CREATE INDEX violations_rule_unresolved ON violations (rule_id) WHERE resolved_at IS NULL;

-- The alert response time: from detection to acknowledgement.
ALTER TABLE violations ADD COLUMN ack_delay_ms INTEGER;
