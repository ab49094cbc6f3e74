-- Version 2: a run's status is one of a known set (now with `cancelled`); node executions are
-- keyed by attempt (retries) and keep their error text; table-level lineage per node
-- execution; leases for exclusive work.
--
-- SQLite cannot add a CHECK or change a primary key in place, so `runs` and `node_executions`
-- are rebuilt as SQLite's documentation describes: the migration runs on a connection with
-- foreign keys off, checks them before it commits, and is one transaction.

CREATE TABLE runs_new (
    run_id       TEXT PRIMARY KEY,
    command      TEXT NOT NULL,
    args         TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('running', 'success', 'error', 'cancelled')),
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    elapsed_s    DOUBLE PRECISION
);
INSERT INTO runs_new (run_id, command, args, status, started_at, finished_at, elapsed_s)
SELECT run_id, command, args, status, started_at, finished_at, elapsed_s FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_by_start ON runs(started_at);

CREATE TABLE node_executions_new (
    run_id        TEXT NOT NULL REFERENCES runs(run_id),
    unique_id     TEXT NOT NULL,
    status        TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    elapsed_s     DOUBLE PRECISION NOT NULL,
    rows_affected BIGINT,
    delta_version BIGINT,
    sql_hash      TEXT,
    message       TEXT,
    attempt       BIGINT NOT NULL DEFAULT 1,
    error         TEXT,
    PRIMARY KEY (run_id, unique_id, attempt)
);
INSERT INTO node_executions_new
    (run_id, unique_id, status, started_at, elapsed_s, rows_affected, delta_version, sql_hash,
     message, attempt, error)
SELECT run_id, unique_id, status, started_at, elapsed_s, rows_affected, delta_version, sql_hash,
       message, 1, CASE WHEN status IN ('error', 'fail') THEN message END
FROM node_executions;
DROP TABLE node_executions;
ALTER TABLE node_executions_new RENAME TO node_executions;
CREATE INDEX node_executions_by_node ON node_executions(unique_id, started_at);

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
