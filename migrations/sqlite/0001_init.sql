-- dq store schema, SQLite flavour. The PostgreSQL migration is the same model
-- with native types: INTEGER PRIMARY KEY -> BIGINT GENERATED ALWAYS AS IDENTITY,
-- TEXT timestamps (RFC 3339, UTC, microseconds, fixed width so that text order
-- is time order) -> timestamptz, JSON TEXT -> jsonb, INTEGER 0/1 -> boolean.
-- Every timestamp is written by the application, never defaulted here, so both
-- backends store the same values.

CREATE TABLE rules (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    target      TEXT    NOT NULL,
    dataset     TEXT    NOT NULL,
    check_kind  TEXT    NOT NULL,
    severity    TEXT    NOT NULL,
    queue       TEXT    NOT NULL,
    schedule    TEXT    NOT NULL,
    timezone    TEXT    NOT NULL,
    enabled     INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    tags        TEXT    NOT NULL DEFAULT '[]',
    owner       TEXT,
    -- The whole dq_core::Rule as JSON: the source of truth. The columns above
    -- are copies kept for querying.
    definition  TEXT    NOT NULL,
    -- The manifest the rule was loaded from; a later load of the same manifest
    -- disables the rules it no longer contains.
    source      TEXT,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

CREATE INDEX rules_source ON rules (source);

CREATE TABLE runs (
    id                    TEXT    PRIMARY KEY,
    rule_id               INTEGER NOT NULL REFERENCES rules (id),
    rule_name             TEXT    NOT NULL,
    target                TEXT    NOT NULL,
    dataset               TEXT    NOT NULL,
    scheduled_for         TEXT    NOT NULL,
    enqueued_at           TEXT,
    started_at            TEXT,
    finished_at           TEXT,
    status                TEXT    NOT NULL,
    severity              TEXT,
    observed_value        REAL,
    expected              TEXT    NOT NULL DEFAULT '',
    message               TEXT    NOT NULL DEFAULT '',
    observation           TEXT,
    effective_sample_size INTEGER,
    row_count             INTEGER,
    worker                TEXT,
    queue                 TEXT    NOT NULL,
    attempt               INTEGER NOT NULL DEFAULT 1,
    error                 TEXT,
    retriable             INTEGER NOT NULL DEFAULT 0 CHECK (retriable IN (0, 1)),
    duration_ms           INTEGER
);

CREATE INDEX runs_rule_finished ON runs (rule_id, finished_at);
CREATE INDEX runs_status_finished ON runs (status, finished_at);
-- Listings (`dq runs --since`) read runs by the tick they belong to.
CREATE INDEX runs_scheduled_for ON runs (scheduled_for);

CREATE TABLE violations (
    id              INTEGER PRIMARY KEY,
    run_id          TEXT    NOT NULL UNIQUE REFERENCES runs (id),
    rule_id         INTEGER NOT NULL REFERENCES rules (id),
    rule_name       TEXT    NOT NULL,
    severity        TEXT    NOT NULL,
    detected_at     TEXT    NOT NULL,
    message         TEXT    NOT NULL,
    observed_value  REAL,
    expected        TEXT    NOT NULL DEFAULT '',
    -- A JSON array of row objects, bounded by the writer.
    sample          TEXT    NOT NULL DEFAULT '[]',
    acknowledged    INTEGER NOT NULL DEFAULT 0 CHECK (acknowledged IN (0, 1)),
    acknowledged_by TEXT,
    acknowledged_at TEXT,
    ack_note        TEXT,
    resolved_at     TEXT
);

CREATE INDEX violations_detected ON violations (detected_at);
CREATE INDEX violations_acknowledged_detected ON violations (acknowledged, detected_at);

CREATE TABLE metrics (
    id          INTEGER PRIMARY KEY,
    run_id      TEXT    REFERENCES runs (id),
    rule_id     INTEGER REFERENCES rules (id),
    target      TEXT    NOT NULL,
    dataset     TEXT    NOT NULL,
    column_name TEXT,
    name        TEXT    NOT NULL,
    value       REAL    NOT NULL,
    observed_at TEXT    NOT NULL
);

CREATE INDEX metrics_name_observed ON metrics (name, observed_at);
CREATE INDEX metrics_series ON metrics (target, dataset, name, observed_at);
