-- Rule lifecycle: every change to a rule is a version (who, when, what),
-- runs record the version they executed, a rule may run in shadow (no
-- alerts) and be deleted while its history stays (a tombstone).

ALTER TABLE rules ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE rules ADD COLUMN shadow INTEGER NOT NULL DEFAULT 0 CHECK (shadow IN (0, 1));
-- Set: deleted with --keep-history; hidden from listings and never scheduled.
ALTER TABLE rules ADD COLUMN deleted_at TEXT;

ALTER TABLE runs ADD COLUMN rule_version INTEGER;

CREATE TABLE rule_versions (
    id          INTEGER PRIMARY KEY,
    rule_id     INTEGER NOT NULL REFERENCES rules (id),
    version     INTEGER NOT NULL,
    -- The whole dq_core::Rule as JSON, as it was from this version on.
    definition  TEXT    NOT NULL,
    source      TEXT,
    changed_by  TEXT    NOT NULL,
    changed_at  TEXT    NOT NULL,
    -- created, changed, disabled, enabled, promoted, rolled back to vN, deleted, ...
    change      TEXT    NOT NULL,
    -- The definition fields that changed (JSON array of dotted paths).
    fields      TEXT    NOT NULL DEFAULT '[]',
    UNIQUE (rule_id, version)
);

-- The rules stored before versions existed start at version 1.
INSERT INTO rule_versions (rule_id, version, definition, source, changed_by, changed_at, change)
SELECT id, 1, definition, source, 'dq migrate', updated_at, 'created (before rule versions)'
FROM rules;
