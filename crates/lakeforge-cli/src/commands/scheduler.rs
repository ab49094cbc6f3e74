//! `lakeforge scheduler`: runs the `schedules:` of lakeforge.yml through the runner's
//! scheduler (`lakeforge_runner::schedule`: one active scheduler per metadata store holding the
//! lease `scheduler`, the others standing by; each tick claimed in the store, then run as a
//! normal recorded run). This file checks the flags, wires SIGINT/SIGTERM (the first stops
//! claiming and lets the run in flight finish, a second cancels it; then the lease is released
//! and the exit code is 0), starts each tick's run as `build` does, and prints the scheduler's
//! log.
//!
//! `--once` runs what is due now and exits (for cron-driven setups); `--status` shows each
//! schedule's last and next tick and who holds the lease.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use comfy_table::{Table, presets};
use lakeforge_meta::{Location, MetaStore, TickRecord};
use lakeforge_project::schedule::Schedule;
use lakeforge_project::settings::{Target, read_target};
use lakeforge_runner::RunSummary;
use lakeforge_runner::schedule::{
    LEASE, SchedulerConfig, SchedulerEvent, SchedulerEvents, TickLauncher, TickRun, run_scheduler,
    selection_flags, tick_time,
};
use tokio::sync::watch;

use super::execute::{Launch, execute, hostname};
use crate::{ProjectArgs, RunArgs};

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
    // Checked here once, so that the durations below are made from values known to fit, and
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
    let config = SchedulerConfig {
        owner: format!("{}:{}", hostname(), std::process::id()),
        // Both checked above: positive, finite, at most a day.
        poll_interval: Duration::from_secs_f64(args.poll_interval),
        lease_ttl: Duration::from_secs_f64(args.lease_ttl),
        once: args.once,
        now,
    };
    let launcher = Launcher { args: &args };
    let outcome = run_scheduler(
        config,
        store,
        target.schedules,
        signals,
        &launcher,
        Arc::new(PrintEvents),
    )
    .await?;
    Ok(if outcome.cancelled {
        ExitCode::from(130)
    } else if args.once && outcome.failed_runs > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Starts a tick's run as `lakeforge <command> -s ...` would: the project loaded afresh, its
/// nodes and summary printed.
struct Launcher<'a> {
    args: &'a SchedulerArgs,
}

impl TickLauncher for Launcher<'_> {
    type Error = anyhow::Error;

    async fn launch(&self, run: TickRun<'_>) -> anyhow::Result<RunSummary> {
        let schedule = run.schedule;
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
        let launch = Launch {
            extra_args: run.extra_args,
            cancel: Some(run.cancel),
        };
        execute(run.command, run_args, None, launch).await
    }
}

/// The scheduler's log on stdout, its warnings on stderr.
struct PrintEvents;

impl SchedulerEvents for PrintEvents {
    fn event(&self, event: SchedulerEvent) {
        if event.is_warning() {
            eprintln!("{event}");
        } else {
            println!("{event}");
        }
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
                format!("{}{}", s.command.as_str(), selection_flags(s)),
                s.catchup.as_str().to_string(),
                last.as_ref()
                    .map(|t| tick_time(t.tick_at))
                    .unwrap_or_default(),
                last.as_ref().map(|t| t.status.clone()).unwrap_or_default(),
                last.as_ref()
                    .and_then(|t| t.run_id.clone())
                    .unwrap_or_default(),
                s.next_after(now).map(tick_time).unwrap_or_default(),
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
