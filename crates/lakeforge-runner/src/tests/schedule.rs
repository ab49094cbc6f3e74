//! The schedule loop against a real SQLite store, with a launcher that runs nothing.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lakeforge_meta::MetaStore;
use lakeforge_project::schedule::{OneOrMany, Schedule, ScheduleFile, check_schedules};
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::schedule::{
    LEASE, SchedulerConfig, SchedulerEvent, SchedulerEvents, SchedulerOutcome, TickLauncher,
    TickRun, run_scheduler,
};
use crate::{Command, RunSummary};

#[derive(Default)]
struct Events(Mutex<Vec<SchedulerEvent>>);

impl SchedulerEvents for Events {
    fn event(&self, event: SchedulerEvent) {
        self.0.lock().push(event);
    }
}

impl Events {
    fn take(&self) -> Vec<String> {
        self.0.lock().drain(..).map(|e| e.to_string()).collect()
    }
}

/// Answers each launch with the next outcome: Ok(cancelled?) or Err(message).
struct Launcher {
    outcomes: Mutex<Vec<Result<bool, String>>>,
    /// (command, the `schedule` args recorded with the run).
    launched: Mutex<Vec<(Command, serde_json::Value)>>,
}

impl TickLauncher for Launcher {
    type Error = String;

    async fn launch(&self, run: TickRun<'_>) -> Result<RunSummary, String> {
        self.launched
            .lock()
            .push((run.command, run.extra_args["schedule"].clone()));
        let cancelled = self.outcomes.lock().remove(0)?;
        Ok(RunSummary {
            run_id: format!("run-{}", self.launched.lock().len()),
            results: Vec::new(),
            hooks: Vec::new(),
            elapsed: 0.5,
            cancelled,
        })
    }
}

fn hourly() -> Vec<Schedule> {
    check_schedules(
        Path::new("lakeforge.yml"),
        vec![ScheduleFile {
            name: "hourly".into(),
            cron: "0 * * * *".into(),
            timezone: None,
            command: Some("run".into()),
            select: Some(OneOrMany::One("tag:hourly".into())),
            exclude: None,
            vars: Default::default(),
            full_refresh: false,
            catchup: Some("all".into()),
            max_catchup: None,
        }],
    )
    .unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

async fn once(
    store: &MetaStore,
    owner: &str,
    now: &str,
    launcher: &Launcher,
    events: &Arc<Events>,
) -> SchedulerOutcome {
    // The sender stays alive so that no stop signal is implied.
    let (_tx, signals) = watch::channel(0u8);
    let config = SchedulerConfig {
        owner: owner.into(),
        poll_interval: Duration::from_millis(50),
        lease_ttl: Duration::from_secs(30),
        once: true,
        now: Some(at(now)),
    };
    run_scheduler(
        config,
        store.clone(),
        hourly(),
        signals,
        launcher,
        events.clone(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn due_ticks_are_claimed_run_and_recorded_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = MetaStore::open_sqlite(&dir.path().join("meta.db"))
        .await
        .unwrap();
    let events = Arc::new(Events::default());
    let launcher = Launcher {
        outcomes: Mutex::new(vec![Ok(false), Ok(true), Err("no project here".into())]),
        launched: Mutex::default(),
    };

    // First sighting: the latest past tick is recorded as skipped, nothing runs.
    let outcome = once(&store, "a:1", "2026-01-01T10:30:00Z", &launcher, &events).await;
    assert_eq!(
        outcome,
        SchedulerOutcome {
            cancelled: false,
            failed_runs: 0
        }
    );
    let location = store.location().to_string();
    assert_eq!(
        events.take(),
        vec![
            format!("scheduler a:1: active on {location} (1 schedule)"),
            "tick hourly 2026-01-01T10:00:00Z: skipped (the schedule was first seen after this tick)"
                .to_string(),
            format!("scheduler a:1: stopped; released the lease on {location}"),
        ]
    );
    assert!(launcher.launched.lock().is_empty());

    // Three hours later: the three ticks since run in order; a cancelled run and a run that
    // could not start count as failed.
    let outcome = once(&store, "a:1", "2026-01-01T13:30:00Z", &launcher, &events).await;
    assert_eq!(outcome.failed_runs, 2);
    let lines = events.take();
    assert_eq!(
        lines[1..lines.len() - 1],
        [
            "tick hourly 2026-01-01T11:00:00Z: starting `run` -s tag:hourly",
            "tick hourly 2026-01-01T11:00:00Z: run run-1 success in 0.5s",
            "tick hourly 2026-01-01T12:00:00Z: starting `run` -s tag:hourly",
            "tick hourly 2026-01-01T12:00:00Z: run run-2 cancelled in 0.5s",
            "tick hourly 2026-01-01T13:00:00Z: starting `run` -s tag:hourly",
            "tick hourly 2026-01-01T13:00:00Z: error: no project here",
        ],
        "{lines:#?}"
    );
    let launched = launcher.launched.lock().clone();
    assert_eq!(launched.len(), 3);
    assert_eq!(launched[0].0, Command::Run);
    assert_eq!(launched[0].1["tick"], "2026-01-01T11:00:00.000Z");
    assert_eq!(launched[0].1["owner"], "a:1");
    let last = store.last_tick("hourly").await.unwrap().unwrap();
    assert_eq!(
        (last.tick_at, last.status.as_str()),
        (at("2026-01-01T13:00:00Z"), "error")
    );

    // Nothing is due any more: a second pass claims nothing.
    once(&store, "a:1", "2026-01-01T13:40:00Z", &launcher, &events).await;
    assert_eq!(launcher.launched.lock().len(), 3);
    assert_eq!(store.lock_holder(LEASE).await.unwrap(), None);
}

#[tokio::test]
async fn a_scheduler_stands_by_while_another_holds_the_lease() {
    let dir = tempfile::tempdir().unwrap();
    let store = MetaStore::open_sqlite(&dir.path().join("meta.db"))
        .await
        .unwrap();
    assert!(
        store
            .try_lock(LEASE, "b:2", Duration::from_secs(60))
            .await
            .unwrap()
    );
    let events = Arc::new(Events::default());
    let launcher = Launcher {
        outcomes: Mutex::default(),
        launched: Mutex::default(),
    };
    let outcome = once(&store, "a:1", "2026-01-01T10:30:00Z", &launcher, &events).await;
    assert_eq!(outcome.failed_runs, 0);
    let location = store.location().to_string();
    assert_eq!(
        events.take(),
        vec![format!(
            "scheduler a:1: standby: b:2 is the active scheduler on {location}; nothing to do"
        )]
    );
    // It never claimed a tick: the schedule is still unseen.
    assert!(store.last_tick("hourly").await.unwrap().is_none());
}
