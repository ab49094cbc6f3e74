//! What the scheduler tells its operator, as events: the CLI prints each one's text (a line of
//! its log); a UI could show them otherwise. The texts are the scheduler's log lines.

use std::fmt;

use chrono::{DateTime, Utc};
use lakeforge_project::schedule::{COUNT_CAP, Catchup, Schedule};

/// Receives the scheduler's events, in order, as they happen (the lease's refresh task sends
/// from a task of its own).
pub trait SchedulerEvents: Send + Sync {
    fn event(&self, event: SchedulerEvent);
}

#[derive(Debug, Clone, PartialEq)]
pub enum SchedulerEvent {
    /// This scheduler took the lease and fires ticks now.
    Active {
        owner: String,
        location: String,
        schedules: usize,
    },
    /// Another scheduler holds the lease; this one waits for it (or, with `once`, gives up).
    Standby {
        owner: String,
        holder: String,
        location: String,
        once: bool,
    },
    /// Stopped while standing by.
    StoppedStandingBy { owner: String },
    /// Stopped while active; the lease is released.
    Stopped { owner: String, location: String },
    /// Another scheduler took the lease (`holder`, when known).
    LostLease {
        owner: String,
        location: String,
        holder: Option<String>,
    },
    /// A tick recorded as skipped on purpose (a schedule's first sighting, `catchup: none`).
    TickSkipped {
        schedule: String,
        tick: DateTime<Utc>,
        why: &'static str,
    },
    /// Missed ticks the catch-up policy does not run.
    PassingOver {
        schedule: String,
        count: u64,
        catchup: Catchup,
        max_catchup: usize,
    },
    /// Another scheduler claimed the tick first.
    AlreadyClaimed {
        schedule: String,
        tick: DateTime<Utc>,
    },
    /// The tick's run starts: `command` and its selection flags as a user would type them.
    TickStarting {
        schedule: String,
        tick: DateTime<Utc>,
        command: &'static str,
        selection: String,
    },
    /// The tick's run finished (whatever its status).
    TickFinished {
        schedule: String,
        tick: DateTime<Utc>,
        run_id: String,
        status: &'static str,
        elapsed: f64,
    },
    /// The tick's run could not start or stopped with an error.
    TickError {
        schedule: String,
        tick: DateTime<Utc>,
        message: String,
    },
    /// Refreshing the lease failed (it is tried again); a warning, not a line of the log.
    LeaseRefreshFailed { error: String },
}

impl SchedulerEvent {
    /// A warning for the error stream rather than a line of the scheduler's log.
    pub fn is_warning(&self) -> bool {
        matches!(self, SchedulerEvent::LeaseRefreshFailed { .. })
    }
}

impl fmt::Display for SchedulerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchedulerEvent::Active {
                owner,
                location,
                schedules,
            } => write!(
                f,
                "scheduler {owner}: active on {location} ({schedules} schedule{})",
                plural(*schedules as u64)
            ),
            SchedulerEvent::Standby {
                owner,
                holder,
                location,
                once: true,
            } => write!(
                f,
                "scheduler {owner}: standby: {holder} is the active scheduler on {location}; nothing to do"
            ),
            SchedulerEvent::Standby {
                owner,
                holder,
                location,
                once: false,
            } => write!(
                f,
                "scheduler {owner}: standby: {holder} holds the lease on {location}; taking over when it is released or lapses"
            ),
            SchedulerEvent::StoppedStandingBy { owner } => {
                write!(f, "scheduler {owner}: stopped (it was standing by)")
            }
            SchedulerEvent::Stopped { owner, location } => {
                write!(
                    f,
                    "scheduler {owner}: stopped; released the lease on {location}"
                )
            }
            SchedulerEvent::LostLease {
                owner,
                location,
                holder,
            } => write!(
                f,
                "scheduler {owner}: lost the lease on {location}{}; standing by",
                holder
                    .as_ref()
                    .map(|h| format!(" to {h}"))
                    .unwrap_or_default()
            ),
            SchedulerEvent::TickSkipped {
                schedule,
                tick,
                why,
            } => write!(f, "tick {schedule} {}: skipped ({why})", tick_time(*tick)),
            SchedulerEvent::PassingOver {
                schedule,
                count,
                catchup,
                max_catchup,
            } => {
                let more = if *count >= COUNT_CAP { "at least " } else { "" };
                write!(
                    f,
                    "schedule {schedule}: passing over {more}{count} missed tick{} (catchup: {}{})",
                    plural(*count),
                    catchup.as_str(),
                    if *catchup == Catchup::All {
                        format!(", max_catchup: {max_catchup}")
                    } else {
                        String::new()
                    }
                )
            }
            SchedulerEvent::AlreadyClaimed { schedule, tick } => write!(
                f,
                "tick {schedule} {}: already claimed elsewhere",
                tick_time(*tick)
            ),
            SchedulerEvent::TickStarting {
                schedule,
                tick,
                command,
                selection,
            } => write!(
                f,
                "tick {schedule} {}: starting `{command}`{selection}",
                tick_time(*tick)
            ),
            SchedulerEvent::TickFinished {
                schedule,
                tick,
                run_id,
                status,
                elapsed,
            } => write!(
                f,
                "tick {schedule} {}: run {run_id} {status} in {elapsed:.1}s",
                tick_time(*tick)
            ),
            SchedulerEvent::TickError {
                schedule,
                tick,
                message,
            } => write!(f, "tick {schedule} {}: error: {message}", tick_time(*tick)),
            SchedulerEvent::LeaseRefreshFailed { error } => {
                write!(f, "warning: could not refresh the scheduler lease: {error}")
            }
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A schedule's selection as `lakeforge` flags (` -s tag:daily --full-refresh`), empty when it
/// runs everything.
pub fn selection_flags(s: &Schedule) -> String {
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
pub fn tick_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
