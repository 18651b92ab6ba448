-- What the fleet needs beyond 0001: leader leases for beats, worker
-- heartbeats, and the indexes of the run lifecycle (the publish outbox, and
-- where the beat resumes). Same model as migrations/postgres/0002_fleet.sql.

-- One row per lease name, never deleted (a release expires it), so its
-- fencing token only ever grows.
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    owner      TEXT    NOT NULL,
    token      INTEGER NOT NULL,
    expires_at TEXT    NOT NULL
);

-- One row per worker process, upserted by its heartbeats.
CREATE TABLE workers (
    worker      TEXT    PRIMARY KEY,
    queue       TEXT    NOT NULL,
    pool        TEXT    NOT NULL,
    concurrency INTEGER NOT NULL,
    processed   INTEGER NOT NULL,
    failed      INTEGER NOT NULL,
    rss_bytes   INTEGER,
    started_at  TEXT    NOT NULL,
    seen_at     TEXT    NOT NULL,
    version     TEXT    NOT NULL
);

-- The outbox: runs inserted by a beat and not yet published. Partial, so it
-- holds only the few rows in flight, not the whole history.
CREATE INDEX runs_outbox ON runs (scheduled_for)
    WHERE status = 'PENDING' AND enqueued_at IS NULL;
-- The latest tick of each rule, one index probe per rule.
CREATE INDEX runs_rule_scheduled ON runs (rule_id, scheduled_for);
