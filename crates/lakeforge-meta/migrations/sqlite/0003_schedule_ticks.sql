-- Version 3: the ticks of `schedules:` (lakeforge.yml) that a scheduler claimed. One row per
-- schedule and tick time: claiming a tick is an insert that the primary key lets succeed
-- once, so a tick runs at most once however many schedulers race for it or restart. `status`
-- follows the run the tick started; `skipped` marks a tick passed over on purpose (the
-- schedule was first seen after it, or catchup: none). The same text on both backends.

CREATE TABLE schedule_ticks (
    schedule    TEXT NOT NULL,
    tick_at     TEXT NOT NULL,
    owner       TEXT NOT NULL,
    claimed_at  TEXT NOT NULL,
    status      TEXT NOT NULL
                CHECK (status IN ('running', 'success', 'error', 'cancelled', 'skipped')),
    run_id      TEXT,
    finished_at TEXT,
    message     TEXT,
    PRIMARY KEY (schedule, tick_at)
);
CREATE INDEX schedule_ticks_by_run ON schedule_ticks(run_id);
