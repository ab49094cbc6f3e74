//! The overview's schedules: each of lakeforge.yml's `schedules:` (as the loaded project's
//! target checked them) with its next tick, by lakeforge-project's tick arithmetic, and the
//! last tick a scheduler claimed or skipped, from the store; what `lakeforge scheduler
//! --status` prints.

use chrono::{DateTime, Utc};
use lakeforge_meta::{MetaStore, TickRecord, tick_text};
use serde::Serialize;

use crate::error::UiResult;
use crate::lineage::ProjectGraph;

/// One schedule as the overview lists it.
#[derive(Debug, Serialize)]
pub struct ScheduleEntry {
    pub name: String,
    /// The cron expression as written, in `timezone`.
    pub cron: String,
    pub timezone: String,
    /// `build`, `run`...
    pub command: &'static str,
    /// The first tick after now (UTC), or none when the expression never fires again.
    pub next_tick: Option<String>,
    /// The latest tick claimed (with its run) or skipped.
    pub last_tick: Option<TickRecord>,
}

/// The schedules, or why they cannot be listed (the project did not load).
#[derive(Debug, Serialize, Default)]
pub struct Schedules {
    pub schedules: Vec<ScheduleEntry>,
    /// Set when the project's settings are unknown to the UI.
    pub unavailable: Option<String>,
}

pub async fn schedules(
    project: &ProjectGraph,
    store: &MetaStore,
    now: DateTime<Utc>,
) -> UiResult<Schedules> {
    let project = match project {
        ProjectGraph::Loaded(project) => project,
        ProjectGraph::Failed(_) => {
            return Ok(Schedules {
                unavailable: Some("the project did not load, so its schedules are unknown".into()),
                ..Schedules::default()
            });
        }
        ProjectGraph::Absent => {
            return Ok(Schedules {
                unavailable: Some("no project was given to the UI".into()),
                ..Schedules::default()
            });
        }
    };
    let mut schedules = Vec::with_capacity(project.target.schedules.len());
    for s in &project.target.schedules {
        schedules.push(ScheduleEntry {
            name: s.name.clone(),
            cron: s.cron.clone(),
            timezone: s.timezone.name().to_string(),
            command: s.command.as_str(),
            next_tick: s.next_after(now).map(tick_text),
            last_tick: store.last_tick(&s.name).await?,
        });
    }
    Ok(Schedules {
        schedules,
        unavailable: None,
    })
}
