//! `lakeforge-meta` is the metadata store: the record of every run and of every node a run
//! executed (status, timings, rows, the Delta version each write produced, the hash of the SQL
//! that ran). It is SQLite in the lake folder by default. The schema is applied by numbered
//! migrations embedded in the binary, each in one transaction, so two processes opening the
//! same store never see it half-migrated.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/0001_runs.sql"))];

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error(
        "Failed to open the metadata store at {location}: {source}\nhint: check that the folder is writable, or set `metadata:` in lakeforge.yml"
    )]
    Open {
        location: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("Metadata store query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error(
        "The metadata store at {location} has schema version {found}, newer than this lakeforge knows ({known})\nhint: upgrade lakeforge"
    )]
    TooNew {
        location: String,
        found: i64,
        known: i64,
    },
}

pub type Result<T, E = MetaError> = std::result::Result<T, E>;

/// One node's execution, as recorded.
#[derive(Debug, Clone)]
pub struct NodeRecord {
    pub unique_id: String,
    pub status: String,
    pub started_at: String,
    pub elapsed_s: f64,
    pub rows_affected: Option<i64>,
    pub delta_version: Option<i64>,
    pub sql_hash: Option<String>,
    pub message: Option<String>,
}

/// A run as recorded.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub run_id: String,
    pub command: String,
    pub status: String,
    pub started_at: String,
    pub elapsed_s: Option<f64>,
}

#[derive(Clone)]
pub struct MetaStore {
    pool: SqlitePool,
}

impl MetaStore {
    /// Open (creating if needed) the SQLite store at `path` and bring its schema up to date.
    pub async fn open_sqlite(path: &Path) -> Result<MetaStore> {
        let location = path.display().to_string();
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{location}"))
            .map_err(|e| MetaError::Open {
                location: location.clone(),
                source: e,
            })?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .map_err(|e| MetaError::Open {
                location: location.clone(),
                source: e,
            })?;
        let store = MetaStore { pool };
        store.migrate(&location).await?;
        Ok(store)
    }

    async fn migrate(&self, location: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            .execute(&mut *tx)
            .await?;
        let current: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            .fetch_one(&mut *tx)
            .await?
            .get(0);
        let known = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
        if current > known {
            return Err(MetaError::TooNew {
                location: location.into(),
                found: current,
                known,
            });
        }
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_version (version) VALUES (?)")
                .bind(version)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn start_run(
        &self,
        run_id: &str,
        command: &str,
        args: &str,
        started_at: &str,
    ) -> Result<()> {
        sqlx::query("INSERT INTO runs (run_id, command, args, status, started_at) VALUES (?, ?, ?, 'running', ?)")
            .bind(run_id)
            .bind(command)
            .bind(args)
            .bind(started_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn record_node(&self, run_id: &str, r: &NodeRecord) -> Result<()> {
        sqlx::query(
            "INSERT OR REPLACE INTO node_executions (run_id, unique_id, status, started_at, elapsed_s, rows_affected, delta_version, sql_hash, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(run_id)
        .bind(&r.unique_id)
        .bind(&r.status)
        .bind(&r.started_at)
        .bind(r.elapsed_s)
        .bind(r.rows_affected)
        .bind(r.delta_version)
        .bind(&r.sql_hash)
        .bind(&r.message)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn finish_run(
        &self,
        run_id: &str,
        status: &str,
        finished_at: &str,
        elapsed_s: f64,
    ) -> Result<()> {
        sqlx::query("UPDATE runs SET status = ?, finished_at = ?, elapsed_s = ? WHERE run_id = ?")
            .bind(status)
            .bind(finished_at)
            .bind(elapsed_s)
            .bind(run_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The most recent runs, newest first.
    pub async fn runs(&self, limit: i64) -> Result<Vec<RunRecord>> {
        let rows = sqlx::query("SELECT run_id, command, status, started_at, elapsed_s FROM runs ORDER BY started_at DESC LIMIT ?")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| RunRecord {
                run_id: r.get(0),
                command: r.get(1),
                status: r.get(2),
                started_at: r.get(3),
                elapsed_s: r.get(4),
            })
            .collect())
    }

    pub async fn node_executions(&self, run_id: &str) -> Result<Vec<NodeRecord>> {
        let rows = sqlx::query(
            "SELECT unique_id, status, started_at, elapsed_s, rows_affected, delta_version, sql_hash, message FROM node_executions WHERE run_id = ? ORDER BY started_at",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| NodeRecord {
                unique_id: r.get(0),
                status: r.get(1),
                started_at: r.get(2),
                elapsed_s: r.get(3),
                rows_affected: r.get(4),
                delta_version: r.get(5),
                sql_hash: r.get(6),
                message: r.get(7),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_runs_and_nodes_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        let store = MetaStore::open_sqlite(&path).await.unwrap();
        store
            .start_run("r1", "build", "[]", "2026-01-01T00:00:00Z")
            .await
            .unwrap();
        store
            .record_node(
                "r1",
                &NodeRecord {
                    unique_id: "model.shop.a".into(),
                    status: "success".into(),
                    started_at: "2026-01-01T00:00:01Z".into(),
                    elapsed_s: 0.5,
                    rows_affected: Some(3),
                    delta_version: Some(0),
                    sql_hash: None,
                    message: None,
                },
            )
            .await
            .unwrap();
        store
            .finish_run("r1", "success", "2026-01-01T00:00:02Z", 2.0)
            .await
            .unwrap();
        drop(store);
        let store = MetaStore::open_sqlite(&path).await.unwrap();
        let runs = store.runs(10).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, "success");
        let nodes = store.node_executions("r1").await.unwrap();
        assert_eq!(nodes[0].rows_affected, Some(3));
    }
}
