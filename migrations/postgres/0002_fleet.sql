-- What the fleet needs beyond 0001: leader leases for beats, worker
-- heartbeats, and the indexes of the run lifecycle (the publish outbox, and
-- where the beat resumes). Same model as migrations/sqlite/0002_fleet.sql,
-- with native types.

-- One row per lease name, never deleted (a release expires it), so its
-- fencing token only ever grows.
CREATE TABLE leases (
    name       text        COLLATE "C" PRIMARY KEY,
    owner      text        NOT NULL,
    token      bigint      NOT NULL,
    expires_at timestamptz NOT NULL
);

-- One row per worker process, upserted by its heartbeats.
CREATE TABLE workers (
    worker      text        COLLATE "C" PRIMARY KEY,
    queue       text        NOT NULL,
    pool        text        NOT NULL,
    concurrency bigint      NOT NULL,
    processed   bigint      NOT NULL,
    failed      bigint      NOT NULL,
    rss_bytes   bigint,
    started_at  timestamptz NOT NULL,
    seen_at     timestamptz NOT NULL,
    version     text        NOT NULL
);

-- The outbox: runs inserted by a beat and not yet published. Partial, so it
-- holds only the few rows in flight, not the whole history.
CREATE INDEX runs_outbox ON runs (scheduled_for)
    WHERE status = 'PENDING' AND enqueued_at IS NULL;
-- The latest tick of each rule, one index probe per rule.
CREATE INDEX runs_rule_scheduled ON runs (rule_id, scheduled_for);
