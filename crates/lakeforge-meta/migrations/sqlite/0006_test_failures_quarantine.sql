-- Version 6: what a node execution found in the data, for the UI's data-quality page: a
-- test's failures (the value of its `fail_calc`) and a few of its failing rows as the runner
-- formatted them, a model's rows routed to its quarantine table. NULL where the node has
-- none (models, seeds; executions recorded before this version).
-- The same text on both backends.

ALTER TABLE node_executions ADD COLUMN failures BIGINT;
ALTER TABLE node_executions ADD COLUMN quarantined BIGINT;
ALTER TABLE node_executions ADD COLUMN sample TEXT;
