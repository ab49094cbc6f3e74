//! lakeforge.yml's `schedules:` run by a long-lived scheduler. One scheduler per metadata store
//! is active: it holds the store's lease `scheduler` (`lease.rs`); any other stands by and
//! takes over when the lease is released or lapses. The active one catches up on ticks missed
//! since each schedule's last recorded tick (per its `catchup` policy), then sleeps until the
//! next tick, claims it in the store (exactly once, whatever other schedulers do) and has the
//! caller's [`TickLauncher`] run the schedule's command as a normal recorded run, one at a
//! time. The tick arithmetic itself is lakeforge-project's (`schedule.rs`).
//!
//! Stop signals arrive counted in a watch channel the caller feeds: the first stops claiming
//! ticks and lets the run in flight finish, the second cancels that run.

mod events;
mod lease;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lakeforge_meta::{MetaStore, RunStatus};
use lakeforge_project::schedule::{Schedule, ScheduleCommand};
use tokio::sync::watch;

pub use events::{SchedulerEvent, SchedulerEvents, selection_flags, tick_time};
use lease::Lease;

use crate::Result;
use crate::plan::Command;
use crate::results::RunSummary;

/// The name of the store lease that makes a scheduler active.
pub const LEASE: &str = "scheduler";

/// How a scheduler behaves; the CLI fills it from its flags (checked there).
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Who this scheduler is in the lease and the tick records (`host:pid`).
    pub owner: String,
    /// How soon a standby scheduler sees that the lease is free, and the longest an active
    /// one sleeps.
    pub poll_interval: Duration,
    /// How long the lease lasts unless refreshed (it is refreshed every third of it).
    pub lease_ttl: Duration,
    /// Run what is due now, then stop.
    pub once: bool,
    /// The time to take as now when computing due ticks (replaying what a scheduler would
    /// do); None: the clock.
    pub now: Option<DateTime<Utc>>,
}

/// A tick's run, as the scheduler asks the launcher to start it.
pub struct TickRun<'a> {
    pub schedule: &'a Schedule,
    pub command: Command,
    /// Recorded with the run's arguments: `{"schedule": {name, tick, owner}}`.
    pub extra_args: serde_json::Map<String, serde_json::Value>,
    /// Resolves when the run should be cancelled (a second stop signal).
    pub cancel: Pin<Box<dyn Future<Output = ()> + Send>>,
}

/// Starts a tick's run and waits for it: the CLI loads the project, runs it as `build` does
/// and prints its nodes. An error means the run could not be made or recorded; it is recorded
/// as the tick's error, in the words `lakeforge_project::error_text` gives it and its causes.
pub trait TickLauncher {
    type Error: Into<Box<dyn std::error::Error + Send + Sync>>;

    fn launch(
        &self,
        run: TickRun<'_>,
    ) -> impl Future<Output = std::result::Result<RunSummary, Self::Error>>;
}

/// How a scheduler ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerOutcome {
    /// A second stop signal came: the run in flight, if any, was cancelled.
    pub cancelled: bool,
    /// Runs that did not succeed.
    pub failed_runs: usize,
}

impl From<ScheduleCommand> for Command {
    fn from(c: ScheduleCommand) -> Command {
        match c {
            ScheduleCommand::Build => Command::Build,
            ScheduleCommand::Run => Command::Run,
            ScheduleCommand::Test => Command::Test,
            ScheduleCommand::Seed => Command::Seed,
        }
    }
}

/// Run `schedules` until stopped (or, with `once`, until what is due now has run).
pub async fn run_scheduler<L: TickLauncher>(
    config: SchedulerConfig,
    store: MetaStore,
    schedules: Vec<Schedule>,
    signals: watch::Receiver<u8>,
    launcher: &L,
    events: Arc<dyn SchedulerEvents>,
) -> Result<SchedulerOutcome> {
    let scheduler = Scheduler {
        config,
        store,
        schedules,
        signals,
        events,
        failed_runs: 0,
    };
    scheduler.main(launcher).await
}

struct Scheduler {
    config: SchedulerConfig,
    store: MetaStore,
    schedules: Vec<Schedule>,
    /// How many stop signals arrived: 1 stops claiming, 2 cancels the run in flight.
    signals: watch::Receiver<u8>,
    events: Arc<dyn SchedulerEvents>,
    /// Runs that did not succeed.
    failed_runs: usize,
}

/// Why the active phase ended.
enum Ended {
    /// Stopped (signal, or `once` done): release the lease and exit.
    Stopped,
    /// Another scheduler took the lease: stand by again.
    LostLease,
}

impl Scheduler {
    fn stopping(&self) -> bool {
        *self.signals.borrow() > 0
    }

    fn now(&self) -> DateTime<Utc> {
        self.config.now.unwrap_or_else(Utc::now)
    }

    fn owner(&self) -> String {
        self.config.owner.clone()
    }

    fn emit(&self, event: SchedulerEvent) {
        self.events.event(event);
    }

    /// Sleep for `d`, or less when a stop signal arrives.
    async fn sleep(&self, d: Duration) {
        let mut signals = self.signals.clone();
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = signals.wait_for(|n| *n > 0) => {}
        }
    }

    async fn main<L: TickLauncher>(mut self, launcher: &L) -> Result<SchedulerOutcome> {
        let location = self.store.location().to_string();
        loop {
            if !self.acquire(&location).await? {
                if self.stopping() {
                    self.emit(SchedulerEvent::StoppedStandingBy {
                        owner: self.owner(),
                    });
                }
                break;
            }
            let lease = Lease::start(
                self.store.clone(),
                self.owner(),
                self.config.lease_ttl,
                self.events.clone(),
            );
            let ended = self.active(&lease, launcher).await;
            let lost = lease.stop(&self.store, &self.config.owner).await;
            match ended? {
                Ended::Stopped if !lost => {
                    self.emit(SchedulerEvent::Stopped {
                        owner: self.owner(),
                        location: location.clone(),
                    });
                    break;
                }
                _ => {
                    let holder = self.store.lock_holder(LEASE).await?;
                    self.emit(SchedulerEvent::LostLease {
                        owner: self.owner(),
                        location: location.clone(),
                        holder: holder.map(|h| h.owner),
                    });
                    if self.config.once {
                        break;
                    }
                }
            }
        }
        Ok(SchedulerOutcome {
            cancelled: *self.signals.borrow() > 1,
            failed_runs: self.failed_runs,
        })
    }

    /// Wait until this scheduler holds the lease. False when it stops first (a signal, or
    /// `once` while another scheduler is active).
    async fn acquire(&self, location: &str) -> Result<bool> {
        let mut announced: Option<String> = None;
        loop {
            if self.stopping() {
                return Ok(false);
            }
            let (owner, ttl) = (&self.config.owner, self.config.lease_ttl);
            if self.store.try_lock(LEASE, owner, ttl).await? {
                self.emit(SchedulerEvent::Active {
                    owner: self.owner(),
                    location: location.into(),
                    schedules: self.schedules.len(),
                });
                return Ok(true);
            }
            let holder = self
                .store
                .lock_holder(LEASE)
                .await?
                .map(|h| h.owner)
                .unwrap_or_else(|| "another scheduler".into());
            if self.config.once {
                self.emit(SchedulerEvent::Standby {
                    owner: self.owner(),
                    holder,
                    location: location.into(),
                    once: true,
                });
                return Ok(false);
            }
            // Said once per holder, not at every poll.
            if announced.as_deref() != Some(holder.as_str()) {
                self.emit(SchedulerEvent::Standby {
                    owner: self.owner(),
                    holder: holder.clone(),
                    location: location.into(),
                    once: false,
                });
                announced = Some(holder);
            }
            self.sleep(self.config.poll_interval).await;
        }
    }

    /// Fire due ticks until stopped (or, with `once`, once).
    async fn active<L: TickLauncher>(&mut self, lease: &Lease, launcher: &L) -> Result<Ended> {
        loop {
            if self.stopping() {
                return Ok(Ended::Stopped);
            }
            if lease.lost() {
                return Ok(Ended::LostLease);
            }
            let due = self.due_ticks().await?;
            for (tick, i) in due {
                if self.stopping() {
                    return Ok(Ended::Stopped);
                }
                if lease.lost() {
                    return Ok(Ended::LostLease);
                }
                let schedule = self.schedules[i].clone();
                self.fire(&schedule, tick, launcher).await?;
            }
            if self.config.once {
                return Ok(Ended::Stopped);
            }
            let poll = self.config.poll_interval;
            let now = Utc::now();
            let next = self
                .schedules
                .iter()
                .filter_map(|s| s.next_after(now))
                .min();
            let wait = next
                .and_then(|t| (t - now).to_std().ok())
                .map(|d| d + Duration::from_millis(1))
                .unwrap_or(poll)
                .min(poll);
            self.sleep(wait).await;
        }
    }

    /// The ticks to fire now, oldest first, with the index of their schedule. Records the
    /// ticks passed over on purpose (a schedule's first sighting, `catchup: none`).
    async fn due_ticks(&self) -> Result<Vec<(DateTime<Utc>, usize)>> {
        let now = self.now();
        let mut fire = Vec::new();
        for (i, s) in self.schedules.iter().enumerate() {
            let last = self.store.last_tick(&s.name).await?.map(|t| t.tick_at);
            let due = s.due(last, now);
            if let Some((tick, why)) = due.skip
                && self
                    .store
                    .skip_tick(&s.name, tick, &self.config.owner, why.message())
                    .await?
            {
                self.emit(SchedulerEvent::TickSkipped {
                    schedule: s.name.clone(),
                    tick,
                    why: why.message(),
                });
            }
            if due.passed_over > 0 {
                self.emit(SchedulerEvent::PassingOver {
                    schedule: s.name.clone(),
                    count: due.passed_over,
                    catchup: s.catchup,
                    max_catchup: s.max_catchup,
                });
            }
            fire.extend(due.fire.into_iter().map(|t| (t, i)));
        }
        fire.sort();
        Ok(fire)
    }

    /// Claim `tick` of `schedule` and, if this scheduler got it, run it and record how it
    /// went.
    async fn fire<L: TickLauncher>(
        &mut self,
        schedule: &Schedule,
        tick: DateTime<Utc>,
        launcher: &L,
    ) -> Result<()> {
        let name = &schedule.name;
        if !self
            .store
            .claim_tick(name, tick, &self.config.owner)
            .await?
        {
            self.emit(SchedulerEvent::AlreadyClaimed {
                schedule: name.clone(),
                tick,
            });
            return Ok(());
        }
        self.emit(SchedulerEvent::TickStarting {
            schedule: name.clone(),
            tick,
            command: schedule.command.as_str(),
            selection: selection_flags(schedule),
        });
        let mut extra = serde_json::Map::new();
        extra.insert(
            "schedule".into(),
            serde_json::json!({
                "name": name,
                "tick": lakeforge_meta::tick_text(tick),
                "owner": self.config.owner,
            }),
        );
        let mut signals = self.signals.clone();
        let cancel = Box::pin(async move {
            // The sender gone means no signal can come any more: never cancel.
            if signals.wait_for(|n| *n > 1).await.is_err() {
                std::future::pending::<()>().await;
            }
        });
        let run = TickRun {
            schedule,
            command: schedule.command.into(),
            extra_args: extra,
            cancel,
        };
        match launcher.launch(run).await {
            Ok(summary) => {
                let status: RunStatus = summary.status().parse()?;
                self.store
                    .finish_tick(name, tick, Some(&summary.run_id), status, None)
                    .await?;
                if status != RunStatus::Success {
                    self.failed_runs += 1;
                }
                self.emit(SchedulerEvent::TickFinished {
                    schedule: name.clone(),
                    tick,
                    run_id: summary.run_id.clone(),
                    status: status.as_str(),
                    elapsed: summary.elapsed,
                });
            }
            Err(e) => {
                let e: Box<dyn std::error::Error + Send + Sync> = e.into();
                let message = lakeforge_project::error_text(e.as_ref());
                self.store
                    .finish_tick(name, tick, None, RunStatus::Error, Some(&message))
                    .await?;
                self.failed_runs += 1;
                self.emit(SchedulerEvent::TickError {
                    schedule: name.clone(),
                    tick,
                    message,
                });
            }
        }
        Ok(())
    }
}
