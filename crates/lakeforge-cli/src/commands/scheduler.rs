//! `lakeforge scheduler`: runs the `schedules:` of lakeforge.yml. One scheduler per metadata
//! store is active: it holds the store's lease `scheduler` (taken with a TTL and refreshed
//! while it lives); any other stands by, says so, and takes over when the lease is released
//! or lapses. The active one catches up on ticks missed since each schedule's last recorded
//! tick (per its `catchup` policy), then sleeps until the next tick, claims it in the store
//! (exactly once, whatever other schedulers do) and runs the schedule's command with its
//! selection and vars as a normal recorded run, one at a time. SIGINT/SIGTERM stop claiming,
//! let the run in flight finish (a second signal cancels it), release the lease and exit 0.
//!
//! `--once` runs what is due now and exits (for cron-driven setups); `--status` shows each
//! schedule's last and next tick and who holds the lease.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use comfy_table::{Table, presets};
use lakeforge_meta::{Location, MetaStore, RunStatus, TickRecord};
use lakeforge_project::schedule::{Schedule, ScheduleCommand};
use lakeforge_project::settings::{Target, read_target};
use lakeforge_runner::Command;
use tokio::sync::watch;

use super::execute::{Launch, execute, hostname};
use crate::{ProjectArgs, RunArgs};

/// The name of the store lease that makes a scheduler active.
pub const LEASE: &str = "scheduler";

#[derive(Args, Debug)]
pub struct SchedulerArgs {
    /// The project folder (the one holding dbt_project.yml and lakeforge.yml).
    #[arg(long, default_value = ".", env = "LAKEFORGE_PROJECT_DIR")]
    pub project_dir: PathBuf,
    /// Target from profiles.yml.
    #[arg(long, short = 't')]
    pub target: Option<String>,
    #[command(flatten)]
    pub profiles: crate::ProfileArgs,
    /// Run what is due now (missed ticks, per each schedule's catchup policy), then exit.
    #[arg(long)]
    pub once: bool,
    /// Seconds between checks: how soon a standby scheduler sees that the lease is free, and
    /// the longest an active one sleeps.
    #[arg(long, value_name = "S", default_value_t = 5.0)]
    pub poll_interval: f64,
    /// Seconds the lease lasts unless refreshed (it is refreshed every third of it): after a
    /// scheduler dies, how long a standby waits before taking over.
    #[arg(long, value_name = "S", default_value_t = 30.0)]
    pub lease_ttl: f64,
    /// Nodes each run executes at once (default: lakeforge.yml's threads, else the cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Show the schedules, their last and next ticks and who holds the lease, then exit.
    #[arg(long, conflicts_with = "once")]
    pub status: bool,
    /// With --status: a table, or JSON.
    #[arg(long, value_enum, default_value = "table", requires = "status")]
    pub format: StatusFormat,
    /// With --once: the time (RFC 3339) to take as now, to replay what a scheduler would do.
    #[arg(long, hide = true, requires = "once")]
    pub now: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum StatusFormat {
    Table,
    Json,
}

pub async fn run(args: SchedulerArgs) -> anyhow::Result<ExitCode> {
    let target = read_target(
        &args.project_dir,
        &args.profiles.flags(args.target.as_deref()),
    )?;
    if args.status {
        return status(&args, &target).await;
    }
    if target.schedules.is_empty() {
        bail!(
            "no schedules in {}\nhint: add `schedules:` to lakeforge.yml, e.g.\n  schedules:\n    - name: nightly\n      cron: \"0 2 * * *\"\n      select: tag:daily",
            args.project_dir.join("lakeforge.yml").display()
        );
    }
    // Checked here once, so that `poll()` and `ttl()` below convert values known to fit, and
    // clock arithmetic with them (now + ttl, in the store's milliseconds) cannot overflow.
    for (flag, secs) in [
        ("--poll-interval", args.poll_interval),
        ("--lease-ttl", args.lease_ttl),
    ] {
        if super::seconds_arg(flag, secs)? > Duration::from_secs(86_400) {
            bail!("{flag} {secs} is more than a day\nhint: give at most 86400 seconds");
        }
    }
    if args.lease_ttl < 1.0 {
        bail!("--lease-ttl must be a number of seconds, at least 1");
    }
    let now = match &args.now {
        Some(text) => Some(
            DateTime::parse_from_rfc3339(text)
                .with_context(|| format!("--now `{text}` is not an RFC 3339 time"))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let store = MetaStore::open(&target.metadata).await?;
    let signals = install_signals()?;
    let scheduler = Scheduler {
        owner: format!("{}:{}", hostname(), std::process::id()),
        store,
        schedules: target.schedules,
        signals,
        now,
        args,
        failed_runs: 0,
    };
    scheduler.main().await
}

struct Scheduler {
    args: SchedulerArgs,
    owner: String,
    store: MetaStore,
    schedules: Vec<Schedule>,
    /// How many stop signals arrived: 1 stops claiming, 2 cancels the run in flight.
    signals: watch::Receiver<u8>,
    /// `--now`.
    now: Option<DateTime<Utc>>,
    /// Runs that did not succeed (`--once` exits 1 then).
    failed_runs: usize,
}

/// Why the active phase ended.
enum Ended {
    /// Stopped (signal, or `--once` done): release the lease and exit.
    Stopped,
    /// Another scheduler took the lease: stand by again.
    LostLease,
}

impl Scheduler {
    fn stopping(&self) -> bool {
        *self.signals.borrow() > 0
    }

    fn poll(&self) -> Duration {
        Duration::from_secs_f64(self.args.poll_interval)
    }

    fn ttl(&self) -> Duration {
        Duration::from_secs_f64(self.args.lease_ttl)
    }

    fn now(&self) -> DateTime<Utc> {
        self.now.unwrap_or_else(Utc::now)
    }

    /// Sleep for `d`, or less when a stop signal arrives.
    async fn sleep(&self, d: Duration) {
        let mut signals = self.signals.clone();
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = signals.wait_for(|n| *n > 0) => {}
        }
    }

    async fn main(mut self) -> anyhow::Result<ExitCode> {
        let location = self.store.location().to_string();
        loop {
            if !self.acquire(&location).await? {
                if self.stopping() {
                    println!("scheduler {}: stopped (it was standing by)", self.owner);
                }
                break;
            }
            let lease = Lease::start(self.store.clone(), self.owner.clone(), self.ttl());
            let ended = self.active(&lease).await;
            let lost = lease.stop(&self.store, &self.owner).await;
            match ended? {
                Ended::Stopped if !lost => {
                    println!(
                        "scheduler {}: stopped; released the lease on {location}",
                        self.owner
                    );
                    break;
                }
                _ => {
                    let holder = self.store.lock_holder(LEASE).await?;
                    println!(
                        "scheduler {}: lost the lease on {location}{}; standing by",
                        self.owner,
                        holder
                            .map(|h| format!(" to {}", h.owner))
                            .unwrap_or_default()
                    );
                    if self.args.once {
                        break;
                    }
                }
            }
        }
        Ok(if *self.signals.borrow() > 1 {
            ExitCode::from(130)
        } else if self.args.once && self.failed_runs > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }

    /// Wait until this scheduler holds the lease. False when it stops first (a signal, or
    /// `--once` while another scheduler is active).
    async fn acquire(&self, location: &str) -> anyhow::Result<bool> {
        let mut announced: Option<String> = None;
        loop {
            if self.stopping() {
                return Ok(false);
            }
            if self.store.try_lock(LEASE, &self.owner, self.ttl()).await? {
                println!(
                    "scheduler {}: active on {location} ({} schedule{})",
                    self.owner,
                    self.schedules.len(),
                    if self.schedules.len() == 1 { "" } else { "s" }
                );
                return Ok(true);
            }
            let holder = self
                .store
                .lock_holder(LEASE)
                .await?
                .map(|h| h.owner)
                .unwrap_or_else(|| "another scheduler".into());
            if self.args.once {
                println!(
                    "scheduler {}: standby: {holder} is the active scheduler on {location}; nothing to do",
                    self.owner
                );
                return Ok(false);
            }
            if announced.as_deref() != Some(holder.as_str()) {
                println!(
                    "scheduler {}: standby: {holder} holds the lease on {location}; taking over when it is released or lapses",
                    self.owner
                );
                announced = Some(holder);
            }
            self.sleep(self.poll()).await;
        }
    }

    /// Fire due ticks until stopped (or, with `--once`, once).
    async fn active(&mut self, lease: &Lease) -> anyhow::Result<Ended> {
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
                self.fire(&schedule, tick).await?;
            }
            if self.args.once {
                return Ok(Ended::Stopped);
            }
            let now = Utc::now();
            let next = self
                .schedules
                .iter()
                .filter_map(|s| s.next_after(now))
                .min();
            let wait = next
                .and_then(|t| (t - now).to_std().ok())
                .map(|d| d + Duration::from_millis(1))
                .unwrap_or(self.poll())
                .min(self.poll());
            self.sleep(wait).await;
        }
    }

    /// The ticks to fire now, oldest first, with the index of their schedule. Records the
    /// ticks passed over on purpose (a schedule's first sighting, `catchup: none`).
    async fn due_ticks(&self) -> anyhow::Result<Vec<(DateTime<Utc>, usize)>> {
        let now = self.now();
        let mut fire = Vec::new();
        for (i, s) in self.schedules.iter().enumerate() {
            let last = self.store.last_tick(&s.name).await?.map(|t| t.tick_at);
            let due = s.due(last, now);
            if let Some((tick, why)) = due.skip
                && self
                    .store
                    .skip_tick(&s.name, tick, &self.owner, why.message())
                    .await?
            {
                println!(
                    "tick {} {}: skipped ({})",
                    s.name,
                    show(tick),
                    why.message()
                );
            }
            if due.passed_over > 0 {
                let n = due.passed_over;
                let more = if n >= lakeforge_project::schedule::COUNT_CAP {
                    "at least "
                } else {
                    ""
                };
                println!(
                    "schedule {}: passing over {more}{n} missed tick{} (catchup: {}{})",
                    s.name,
                    if n == 1 { "" } else { "s" },
                    s.catchup.as_str(),
                    if s.catchup == lakeforge_project::schedule::Catchup::All {
                        format!(", max_catchup: {}", s.max_catchup)
                    } else {
                        String::new()
                    }
                );
            }
            fire.extend(due.fire.into_iter().map(|t| (t, i)));
        }
        fire.sort();
        Ok(fire)
    }

    /// Claim `tick` of `schedule` and, if this scheduler got it, run it and record how it
    /// went.
    async fn fire(&mut self, schedule: &Schedule, tick: DateTime<Utc>) -> anyhow::Result<()> {
        let name = &schedule.name;
        if !self.store.claim_tick(name, tick, &self.owner).await? {
            println!("tick {name} {}: already claimed elsewhere", show(tick));
            return Ok(());
        }
        println!(
            "tick {name} {}: starting `{}`{}",
            show(tick),
            schedule.command.as_str(),
            describe_selection(schedule)
        );
        let run_args = RunArgs {
            threads: self.args.threads,
            full_refresh: schedule.full_refresh,
            ..RunArgs::started_by_lakeforge(
                ProjectArgs {
                    project_dir: self.args.project_dir.clone(),
                    target: self.args.target.clone(),
                    profiles: self.args.profiles.clone(),
                    vars: schedule.vars_text(),
                },
                schedule.select.clone(),
                schedule.exclude.clone(),
            )
        };
        let mut extra = serde_json::Map::new();
        extra.insert(
            "schedule".into(),
            serde_json::json!({
                "name": name,
                "tick": lakeforge_meta::tick_text(tick),
                "owner": self.owner,
            }),
        );
        let mut signals = self.signals.clone();
        let cancel = Box::pin(async move {
            if signals.wait_for(|n| *n > 1).await.is_err() {
                std::future::pending::<()>().await;
            }
        });
        let launch = Launch {
            extra_args: extra,
            cancel: Some(cancel),
        };
        match execute(command(schedule.command), run_args, None, launch).await {
            Ok(summary) => {
                let status: RunStatus = summary.status().parse()?;
                self.store
                    .finish_tick(name, tick, Some(&summary.run_id), status, None)
                    .await?;
                if status != RunStatus::Success {
                    self.failed_runs += 1;
                }
                println!(
                    "tick {name} {}: run {} {} in {:.1}s",
                    show(tick),
                    summary.run_id,
                    status.as_str(),
                    summary.elapsed
                );
            }
            Err(e) => {
                let message = format!("{e:#}");
                self.store
                    .finish_tick(name, tick, None, RunStatus::Error, Some(&message))
                    .await?;
                self.failed_runs += 1;
                println!("tick {name} {}: error: {message}", show(tick));
            }
        }
        Ok(())
    }
}

fn command(c: ScheduleCommand) -> Command {
    match c {
        ScheduleCommand::Build => Command::Build,
        ScheduleCommand::Run => Command::Run,
        ScheduleCommand::Test => Command::Test,
        ScheduleCommand::Seed => Command::Seed,
    }
}

fn describe_selection(s: &Schedule) -> String {
    let mut out = String::new();
    if !s.select.is_empty() {
        out.push_str(&format!(" -s {}", s.select.join(" ")));
    }
    if !s.exclude.is_empty() {
        out.push_str(&format!(" --exclude {}", s.exclude.join(" ")));
    }
    if let Some(vars) = s.vars_text() {
        out.push_str(&format!(" --vars '{vars}'"));
    }
    if s.full_refresh {
        out.push_str(" --full-refresh");
    }
    out
}

/// A tick time as printed: UTC, to the second.
fn show(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The scheduler's hold on the store lease: refreshed in the background every third of its
/// TTL; `lost` once a refresh finds that another scheduler took it.
struct Lease {
    lost: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Lease {
    fn start(store: MetaStore, owner: String, ttl: Duration) -> Lease {
        let lost = Arc::new(AtomicBool::new(false));
        let flag = lost.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(ttl / 3).await;
                match store.refresh_lock(LEASE, &owner, ttl).await {
                    Ok(true) => {}
                    Ok(false) => {
                        flag.store(true, Ordering::SeqCst);
                        return;
                    }
                    Err(e) => eprintln!("warning: could not refresh the scheduler lease: {e}"),
                }
            }
        });
        Lease { lost, task }
    }

    fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Stop refreshing and release the lease if this scheduler still holds it. Returns
    /// whether it had been lost.
    async fn stop(self, store: &MetaStore, owner: &str) -> bool {
        self.task.abort();
        let _ = self.task.await;
        let held = store.unlock(LEASE, owner).await.unwrap_or(false);
        self.lost.load(Ordering::SeqCst) || !held
    }
}

/// Count SIGINT/SIGTERM into a watch channel: 1 stops claiming ticks, 2 cancels the run in
/// flight. The handlers are installed before this returns, so a signal that comes early is
/// not the default (killing the process).
fn install_signals() -> anyhow::Result<watch::Receiver<u8>> {
    let (tx, rx) = watch::channel(0u8);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                let n = (*tx.borrow()).saturating_add(1).min(2);
                if n == 1 {
                    println!(
                        "scheduler: {name}: stopping; the run in flight (if any) finishes first (signal again to cancel it)"
                    );
                } else {
                    println!("scheduler: {name} again: cancelling the run in flight");
                }
                tx.send_replace(n);
            }
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            let n = (*tx.borrow()).saturating_add(1).min(2);
            tx.send_replace(n);
        }
    });
    Ok(rx)
}

/// `--status`: each schedule with its last and next tick, and the lease's holder.
async fn status(args: &SchedulerArgs, target: &Target) -> anyhow::Result<ExitCode> {
    let store = match Location::parse(&target.metadata)? {
        Location::Sqlite(path) if !path.exists() => None,
        _ => Some(MetaStore::open(&target.metadata).await?),
    };
    let now = Utc::now();
    let lease = match &store {
        Some(s) => s.lock_holder(LEASE).await?,
        None => None,
    };
    let mut rows: Vec<(&Schedule, Option<TickRecord>)> = Vec::new();
    for s in &target.schedules {
        let last = match &store {
            Some(store) => store.last_tick(&s.name).await?,
            None => None,
        };
        rows.push((s, last));
    }
    if args.format == StatusFormat::Json {
        let schedules: Vec<serde_json::Value> = rows
            .iter()
            .map(|(s, last)| {
                serde_json::json!({
                    "name": s.name,
                    "cron": s.cron,
                    "timezone": s.timezone.name(),
                    "command": s.command.as_str(),
                    "select": s.select,
                    "exclude": s.exclude,
                    "vars": s.vars,
                    "full_refresh": s.full_refresh,
                    "catchup": s.catchup.as_str(),
                    "max_catchup": s.max_catchup,
                    "last_tick": last,
                    "next_tick": s.next_after(now).map(lakeforge_meta::tick_text),
                })
            })
            .collect();
        let out = serde_json::json!({ "lease": lease, "schedules": schedules });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("No schedules in lakeforge.yml.");
    } else {
        let mut table = Table::new();
        table.load_preset(presets::ASCII_FULL_CONDENSED);
        table.set_header(vec![
            "schedule",
            "cron",
            "timezone",
            "runs",
            "catchup",
            "last tick (UTC)",
            "status",
            "run id",
            "next tick (UTC)",
        ]);
        for (s, last) in &rows {
            table.add_row(vec![
                s.name.clone(),
                s.cron.clone(),
                s.timezone.name().to_string(),
                format!("{}{}", s.command.as_str(), describe_selection(s)),
                s.catchup.as_str().to_string(),
                last.as_ref().map(|t| show(t.tick_at)).unwrap_or_default(),
                last.as_ref().map(|t| t.status.clone()).unwrap_or_default(),
                last.as_ref()
                    .and_then(|t| t.run_id.clone())
                    .unwrap_or_default(),
                s.next_after(now).map(show).unwrap_or_default(),
            ]);
        }
        println!("{table}");
    }
    match lease {
        Some(l) if !l.expired => println!("Active scheduler: {}", l.owner),
        _ => println!("No scheduler is active."),
    }
    Ok(ExitCode::SUCCESS)
}
