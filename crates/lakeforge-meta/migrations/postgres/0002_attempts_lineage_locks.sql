-- Version 2: a run's status is one of a known set (now with `cancelled`); node executions are
-- keyed by attempt (retries) and keep their error text; table-level lineage per node
-- execution; leases for exclusive work. The same logical schema as sqlite/0002.

ALTER TABLE runs ADD CONSTRAINT runs_status_check
    CHECK (status IN ('running', 'success', 'error', 'cancelled'));
CREATE INDEX runs_by_start ON runs(started_at);

ALTER TABLE node_executions ADD COLUMN attempt BIGINT NOT NULL DEFAULT 1;
ALTER TABLE node_executions ADD COLUMN error TEXT;
UPDATE node_executions SET error = message WHERE status IN ('error', 'fail');
ALTER TABLE node_executions DROP CONSTRAINT node_executions_pkey;
ALTER TABLE node_executions ADD PRIMARY KEY (run_id, unique_id, attempt);

CREATE TABLE lineage (
    run_id            TEXT NOT NULL REFERENCES runs(run_id),
    unique_id         TEXT NOT NULL,
    attempt           BIGINT NOT NULL DEFAULT 1,
    upstream          TEXT NOT NULL,
    upstream_relation TEXT,
    upstream_version  BIGINT,
    PRIMARY KEY (run_id, unique_id, attempt, upstream)
);
CREATE INDEX lineage_by_upstream ON lineage(upstream, run_id);

CREATE TABLE locks (
    name           TEXT PRIMARY KEY,
    owner          TEXT NOT NULL,
    acquired_at_ms BIGINT NOT NULL,
    expires_at_ms  BIGINT NOT NULL
);
