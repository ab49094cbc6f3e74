//! Leases for exclusive work (a scheduler tick, a compaction): a row per lock name in `locks`,
//! held by an owner until it expires. Taking one is a single conditional upsert, so under
//! concurrency exactly one contender gets it, on SQLite (writes are serialized) and on
//! PostgreSQL (the conflicting insert waits for the row and re-checks the condition) alike. An
//! expired lease can be taken by anyone; its owner keeps it alive with
//! [`MetaStore::refresh_lock`]. Expiry is judged by the database's clock, so processes on
//! machines whose clocks disagree still agree on who holds a lease.

use std::time::Duration;

use crate::decode::RowExt;
use serde::Serialize;

use crate::{MetaStore, Pool, Result};

/// Who holds a lock, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockInfo {
    pub name: String,
    pub owner: String,
    /// When the current owner took it, in milliseconds since the Unix epoch.
    pub acquired_at_ms: i64,
    /// When it lapses unless refreshed, in milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
    /// Whether it has lapsed (anyone may take it).
    pub expired: bool,
}

impl Pool {
    /// SQL for the database's current time in milliseconds since the Unix epoch.
    fn now_ms(&self) -> &'static str {
        match self {
            Pool::Sqlite(_) => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
            Pool::Postgres(_) => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }
}

fn millis(ttl: Duration) -> i64 {
    // Capped at about a century, so `now + ttl` cannot overflow.
    ttl.as_millis().min(3_155_760_000_000) as i64
}

impl MetaStore {
    /// Take the lock `name` for `owner` for `ttl`, if it is free, expired, or already
    /// `owner`'s (then its lease is extended). Returns whether `owner` holds it now.
    pub async fn try_lock(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool> {
        let now = self.pool.now_ms();
        let sql = format!(
            "INSERT INTO locks (name, owner, acquired_at_ms, expires_at_ms) \
             VALUES ($1, $2, {now}, {now} + $3) \
             ON CONFLICT (name) DO UPDATE SET \
               owner = excluded.owner, \
               acquired_at_ms = CASE WHEN locks.owner = excluded.owner \
                 THEN locks.acquired_at_ms ELSE excluded.acquired_at_ms END, \
               expires_at_ms = excluded.expires_at_ms \
             WHERE locks.owner = excluded.owner OR locks.expires_at_ms <= {now}"
        );
        let done = on_pool!(&self.pool, p => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(name)
            .bind(owner)
            .bind(millis(ttl))
            .execute(p)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Extend `owner`'s lease on `name` to `ttl` from now. Returns false when `owner` no longer
    /// holds it (it expired and another took it, or it was released): the work it guarded
    /// must stop.
    pub async fn refresh_lock(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool> {
        let now = self.pool.now_ms();
        let sql =
            format!("UPDATE locks SET expires_at_ms = {now} + $3 WHERE name = $1 AND owner = $2");
        let done = on_pool!(&self.pool, p => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(name)
            .bind(owner)
            .bind(millis(ttl))
            .execute(p)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Release `owner`'s lock on `name`. Returns false when `owner` did not hold it.
    pub async fn unlock(&self, name: &str, owner: &str) -> Result<bool> {
        let sql = "DELETE FROM locks WHERE name = $1 AND owner = $2";
        let done = on_pool!(&self.pool, p => sqlx::query(sql)
            .bind(name)
            .bind(owner)
            .execute(p)
            .await?
            .rows_affected());
        Ok(done == 1)
    }

    /// Who holds (or last held, if it expired) the lock `name`.
    pub async fn lock_holder(&self, name: &str) -> Result<Option<LockInfo>> {
        let now = self.pool.now_ms();
        let sql = format!(
            "SELECT name, owner, acquired_at_ms, expires_at_ms, {now} AS now_ms \
             FROM locks WHERE name = $1"
        );
        Ok(
            on_pool!(&self.pool, p => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(name)
            .fetch_optional(p)
            .await?
            .map(|r| {
                let expires_at_ms: i64 = r.col("locks", 3)?;
                let now_ms: i64 = r.col("locks", 4)?;
                Ok::<_, crate::MetaError>(LockInfo {
                    name: r.col("locks", 0)?,
                    owner: r.col("locks", 1)?,
                    acquired_at_ms: r.col("locks", 2)?,
                    expires_at_ms,
                    expired: expires_at_ms <= now_ms,
                })
            })
            .transpose()?),
        )
    }
}
