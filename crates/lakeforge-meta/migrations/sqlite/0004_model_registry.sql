-- Version 4: the model registry. A version of an ML model is recorded whether or not it
-- passed its quality gate (`status`), with what it was trained from (the Delta version of
-- its training table), the parameters it ended with, its metrics, the schema of its input
-- features and where its artifact lies in the lake, with the artifact's SHA-256 so a
-- reproduction can be compared byte for byte. Every tuning trial is kept. Aliases
-- (`production`, `staging`, ...) point at versions; every change of an alias is appended
-- to `ml_alias_history`, so what an alias pointed at on any date can be answered later.
-- The same text on both backends.

CREATE TABLE ml_model_versions (
    name              TEXT NOT NULL,
    version           BIGINT NOT NULL,
    created_at        TEXT NOT NULL,
    run_id            TEXT,
    status            TEXT NOT NULL CHECK (status IN ('passed', 'rejected')),
    gate_message      TEXT,
    task              TEXT NOT NULL,
    algorithm         TEXT NOT NULL,
    spec              TEXT NOT NULL,
    params            TEXT NOT NULL,
    metrics           TEXT NOT NULL,
    feature_schema    TEXT NOT NULL,
    artifact_path     TEXT NOT NULL,
    artifact_sha256   TEXT NOT NULL,
    training_relation TEXT NOT NULL,
    training_version  BIGINT,
    train_rows        BIGINT NOT NULL,
    test_rows         BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE ml_model_trials (
    name       TEXT NOT NULL,
    version    BIGINT NOT NULL,
    trial      BIGINT NOT NULL,
    params     TEXT NOT NULL,
    score      DOUBLE PRECISION NOT NULL,
    iterations BIGINT NOT NULL,
    PRIMARY KEY (name, version, trial)
);

CREATE TABLE ml_model_aliases (
    name    TEXT NOT NULL,
    alias   TEXT NOT NULL,
    version BIGINT NOT NULL,
    set_at  TEXT NOT NULL,
    PRIMARY KEY (name, alias)
);

CREATE TABLE ml_alias_history (
    name     TEXT NOT NULL,
    alias    TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    version  BIGINT,
    previous BIGINT,
    set_at   TEXT NOT NULL,
    set_by   TEXT NOT NULL,
    PRIMARY KEY (name, alias, seq)
);
