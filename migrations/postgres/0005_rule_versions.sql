-- Rule lifecycle: every change to a rule is a version (who, when, what),
-- runs record the version they executed, a rule may run in shadow (no
-- alerts) and be deleted while its history stays (a tombstone).

ALTER TABLE rules ADD COLUMN version bigint NOT NULL DEFAULT 1;
ALTER TABLE rules ADD COLUMN shadow boolean NOT NULL DEFAULT FALSE;
-- Set: deleted with --keep-history; hidden from listings and never scheduled.
ALTER TABLE rules ADD COLUMN deleted_at timestamptz;

ALTER TABLE runs ADD COLUMN rule_version bigint;

CREATE TABLE rule_versions (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id     bigint      NOT NULL REFERENCES rules (id),
    version     bigint      NOT NULL,
    -- The whole dq_core::Rule as JSON, as it was from this version on.
    definition  jsonb       NOT NULL,
    source      text,
    changed_by  text        NOT NULL,
    changed_at  timestamptz NOT NULL,
    -- created, changed, disabled, enabled, promoted, rolled back to vN, deleted, ...
    change      text        NOT NULL,
    -- The definition fields that changed (dotted paths).
    fields      jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(fields) = 'array'),
    UNIQUE (rule_id, version)
);

-- The rules stored before versions existed start at version 1.
INSERT INTO rule_versions (rule_id, version, definition, source, changed_by, changed_at, change)
SELECT id, 1, definition, source, 'dq migrate', updated_at, 'created (before rule versions)'
FROM rules;
