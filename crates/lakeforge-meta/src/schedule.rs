//! Schedule ticks: which tick of which schedule (lakeforge.yml `schedules:`) a scheduler
//! claimed, and how the run it started ended. Claiming is one `INSERT ... ON CONFLICT DO
//! NOTHING` on the primary key (schedule, tick time), so among any number of schedulers, on
//! SQLite (writes are serialized) and PostgreSQL (the conflicting insert waits for the first
//! and then does nothing) alike, exactly one claims a tick; a scheduler that restarts finds
//! the tick taken and does not run it again. Tick times are RFC 3339 text in UTC with
//! milliseconds, which sorts in time order.

use crate::decode::RowExt;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::{MetaStore, Result, RunStatus};

/// A claimed (or deliberately skipped) tick, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TickRecord {
    pub schedule: String,
    /// When the tick was due, in UTC.
    pub tick_at: DateTime<Utc>,
    /// The scheduler that claimed it.
    pub owner: String,
    pub claimed_at: String,
    /// `running` until its run ends as `success`, `error` or `cancelled`; `skipped` for a
    /// tick passed over on purpose.
    pub status: String,
    pub run_id: Option<String>,
    pub finished_at: Option<String>,
    /// Why it was skipped, or why its run could not start.
    pub message: Option<String>,
}

/// A tick time as stored: fixed width, so text order is time order.
pub fn tick_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn now() -> String {
    tick_text(Utc::now())
}

const COLUMNS: &str = "schedule, tick_at, owner, claimed_at, status, run_id, finished_at, message";

/// A [`TickRecord`] from a row of [`COLUMNS`], whichever backend it came from.
macro_rules! tick_row {
    ($r:expr) => {{
        let r = $r;
        let t = "schedule_ticks";
        let at: String = r.col(t, 1)?;
        let tick_at = DateTime::parse_from_rfc3339(&at)
            .map_err(|e| crate::decode::corrupt(t, "tick_at", Box::new(e)))?
            .with_timezone(&Utc);
        Ok::<_, crate::MetaError>(TickRecord {
            schedule: r.col(t, 0)?,
            tick_at,
            owner: r.col(t, 2)?,
            claimed_at: r.col(t, 3)?,
            status: r.col(t, 4)?,
            run_id: r.col(t, 5)?,
            finished_at: r.col(t, 6)?,
            message: r.col(t, 7)?,
        })
    }};
}

impl MetaStore {
    /// Claim the tick `tick_at` of `schedule` for `owner`. Returns true for exactly one
    /// claimer of each tick, ever; false when the tick was already claimed (or skipped).
    pub async fn claim_tick(
        &self,
        schedule: &str,
        tick_at: DateTime<Utc>,
        owner: &str,
    ) -> Result<bool> {
        self.insert_tick(schedule, tick_at, owner, "running", None)
            .await
    }

    /// Record that `owner` passes over the tick `tick_at` of `schedule` on purpose (`message`
    /// says why), so that no scheduler runs it later. Returns false when it was already
    /// claimed.
    pub async fn skip_tick(
        &self,
        schedule: &str,
        tick_at: DateTime<Utc>,
        owner: &str,
        message: &str,
    ) -> Result<bool> {
        self.insert_tick(schedule, tick_at, owner, "skipped", Some(message))
            .await
    }

    async fn insert_tick(
        &self,
        schedule: &str,
        tick_at: DateTime<Utc>,
        owner: &str,
        status: &str,
        message: Option<&str>,
    ) -> Result<bool> {
        let sql = "INSERT INTO schedule_ticks (schedule, tick_at, owner, claimed_at, status, \
                   message) VALUES ($1, $2, $3, $4, $5, $6) \
                   ON CONFLICT (schedule, tick_at) DO NOTHING";
        let done = on_pool!(&self.pool, p => sqlx::query(sql)
            .bind(schedule)
            .bind(tick_text(tick_at))
            .bind(owner)
            .bind(now())
            .bind(status)
            .bind(message)
            .execute(p)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Record how the run a claimed tick started ended: its id (None when it could not
    /// start), its status, and a message (why it could not start).
    pub async fn finish_tick(
        &self,
        schedule: &str,
        tick_at: DateTime<Utc>,
        run_id: Option<&str>,
        status: RunStatus,
        message: Option<&str>,
    ) -> Result<()> {
        let sql = "UPDATE schedule_ticks SET run_id = $1, status = $2, finished_at = $3, \
                   message = $4 WHERE schedule = $5 AND tick_at = $6";
        on_pool!(&self.pool, p => {
            sqlx::query(sql)
                .bind(run_id)
                .bind(status.as_str())
                .bind(now())
                .bind(message)
                .bind(schedule)
                .bind(tick_text(tick_at))
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// The latest tick of `schedule` that was claimed or skipped.
    pub async fn last_tick(&self, schedule: &str) -> Result<Option<TickRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM schedule_ticks WHERE schedule = $1 \
             ORDER BY tick_at DESC LIMIT 1"
        );
        Ok(
            on_pool!(&self.pool, p => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(schedule)
            .fetch_optional(p)
            .await?
            .map(|r| tick_row!(r))
            .transpose()?),
        )
    }

    /// The latest `limit` ticks, of one schedule or of all, newest first.
    pub async fn ticks(&self, schedule: Option<&str>, limit: i64) -> Result<Vec<TickRecord>> {
        let condition = if schedule.is_some() {
            "WHERE schedule = $2"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM schedule_ticks {condition} \
             ORDER BY tick_at DESC, schedule LIMIT $1"
        );
        Ok(on_pool!(&self.pool, p => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(limit);
            if let Some(s) = schedule {
                q = q.bind(s);
            }
            q.fetch_all(p)
                .await?
                .into_iter()
                .map(|r| tick_row!(r))
                .collect::<Result<Vec<_>>>()?
        }))
    }
}
