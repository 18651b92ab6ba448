-- Retention (`dq cleanup`, the beat's retention job) deletes old runs with
-- the rows that reference them. A foreign key without an index makes the
-- database scan the whole referencing table for every parent row deleted
-- (and makes "is an alert about this run still undelivered" a scan too);
-- these indexes make each check one probe. violations.run_id and
-- alert_attempts.delivery_id are indexed already by their UNIQUE constraints.
CREATE INDEX metrics_run ON metrics (run_id);
CREATE INDEX alert_outbox_run ON alert_outbox (run_id);
CREATE INDEX alert_outbox_violation ON alert_outbox (violation_id);
CREATE INDEX alert_delivery_items_outbox ON alert_delivery_items (outbox_id);

-- /metrics observes each acknowledgement once (the response-time
-- histogram): every scrape reads the violations acknowledged since the
-- last one, a range of this index.
CREATE INDEX violations_acknowledged_at ON violations (acknowledged_at);
