CREATE TABLE IF NOT EXISTS runs (
    run_id       TEXT PRIMARY KEY,
    command      TEXT NOT NULL,
    args         TEXT NOT NULL,
    status       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    elapsed_s    DOUBLE PRECISION
);
CREATE TABLE IF NOT EXISTS node_executions (
    run_id       TEXT NOT NULL REFERENCES runs(run_id),
    unique_id    TEXT NOT NULL,
    status       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    elapsed_s    DOUBLE PRECISION NOT NULL,
    rows_affected BIGINT,
    delta_version BIGINT,
    sql_hash     TEXT,
    message      TEXT,
    PRIMARY KEY (run_id, unique_id)
);
CREATE INDEX IF NOT EXISTS node_executions_by_node ON node_executions(unique_id, started_at);
