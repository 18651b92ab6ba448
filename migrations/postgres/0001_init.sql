-- dq store schema, PostgreSQL flavour: the model of migrations/sqlite with
-- native types. Timestamps are timestamptz (microseconds, as the SQLite text
-- form), JSON is jsonb, booleans are boolean (SQLite's CHECK (x IN (0, 1))
-- is the type itself here), ids are identities, values double precision.
-- Every timestamp is written by the application, never defaulted here, so
-- both backends store the same values.
--
-- Text that listings order by (rule names, run ids) uses the "C" collation:
-- byte order, as in SQLite, whatever the database's locale.

CREATE TABLE rules (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        COLLATE "C" NOT NULL UNIQUE,
    target      text        NOT NULL,
    dataset     text        NOT NULL,
    check_kind  text        NOT NULL,
    severity    text        NOT NULL,
    queue       text        NOT NULL,
    schedule    text        NOT NULL,
    timezone    text        NOT NULL,
    enabled     boolean     NOT NULL,
    tags        jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tags) = 'array'),
    owner       text,
    -- The whole dq_core::Rule as JSON: the source of truth. The columns above
    -- are copies kept for querying.
    definition  jsonb       NOT NULL,
    -- The manifest the rule was loaded from; a later load of the same manifest
    -- disables the rules it no longer contains.
    source      text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE INDEX rules_source ON rules (source);

CREATE TABLE runs (
    id                    text             COLLATE "C" PRIMARY KEY,
    rule_id               bigint           NOT NULL REFERENCES rules (id),
    rule_name             text             NOT NULL,
    target                text             NOT NULL,
    dataset               text             NOT NULL,
    scheduled_for         timestamptz      NOT NULL,
    enqueued_at           timestamptz,
    started_at            timestamptz,
    finished_at           timestamptz,
    status                text             NOT NULL,
    severity              text,
    observed_value        double precision,
    expected              text             NOT NULL DEFAULT '',
    message               text             NOT NULL DEFAULT '',
    observation           jsonb,
    effective_sample_size bigint,
    row_count             bigint,
    worker                text,
    queue                 text             NOT NULL,
    attempt               bigint           NOT NULL DEFAULT 1,
    error                 text,
    retriable             boolean          NOT NULL DEFAULT false,
    duration_ms           bigint
);

CREATE INDEX runs_rule_finished ON runs (rule_id, finished_at);
CREATE INDEX runs_status_finished ON runs (status, finished_at);
-- Listings (`dq runs --since`) read runs by the tick they belong to.
CREATE INDEX runs_scheduled_for ON runs (scheduled_for);

CREATE TABLE violations (
    id              bigint           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          text             COLLATE "C" NOT NULL UNIQUE REFERENCES runs (id),
    rule_id         bigint           NOT NULL REFERENCES rules (id),
    rule_name       text             NOT NULL,
    severity        text             NOT NULL,
    detected_at     timestamptz      NOT NULL,
    message         text             NOT NULL,
    observed_value  double precision,
    expected        text             NOT NULL DEFAULT '',
    -- A JSON array of row objects, bounded by the writer.
    sample          jsonb            NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(sample) = 'array'),
    acknowledged    boolean          NOT NULL DEFAULT false,
    acknowledged_by text,
    acknowledged_at timestamptz,
    ack_note        text,
    resolved_at     timestamptz
);

CREATE INDEX violations_detected ON violations (detected_at);
CREATE INDEX violations_acknowledged_detected ON violations (acknowledged, detected_at);

CREATE TABLE metrics (
    id          bigint           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      text             COLLATE "C" REFERENCES runs (id),
    rule_id     bigint           REFERENCES rules (id),
    target      text             NOT NULL,
    dataset     text             NOT NULL,
    column_name text,
    name        text             NOT NULL,
    value       double precision NOT NULL,
    observed_at timestamptz      NOT NULL
);

CREATE INDEX metrics_name_observed ON metrics (name, observed_at);
CREATE INDEX metrics_series ON metrics (target, dataset, name, observed_at);
