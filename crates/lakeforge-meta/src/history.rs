//! Run history: runs, the executions of their nodes (one row per attempt), and the table-level
//! lineage of each execution. The SQL here is the same text on SQLite and PostgreSQL (`$n`
//! placeholders, `ON CONFLICT` upserts); timestamps are RFC 3339 text in UTC, which sorts in
//! time order.

use crate::decode::RowExt;
use serde::Serialize;

use crate::{MetaError, MetaStore, Result};

/// The states a run is recorded in: `running` from its start until it finishes as `success`,
/// `error` or `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Success,
    Error,
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 4] = [
        RunStatus::Running,
        RunStatus::Success,
        RunStatus::Error,
        RunStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Error => "error",
            RunStatus::Cancelled => "cancelled",
        }
    }
}

impl std::str::FromStr for RunStatus {
    type Err = MetaError;

    fn from_str(s: &str) -> Result<RunStatus> {
        crate::decode::from_text(&RunStatus::ALL, RunStatus::as_str, s)
            .ok_or_else(|| MetaError::InvalidStatus { status: s.into() })
    }
}

/// Node statuses counted as having succeeded, and as having failed (what blocks downstream,
/// skips aside).
const OK_STATUSES: &str = "('success', 'pass', 'warn')";
const FAILED_STATUSES: &str = "('error', 'fail')";

/// One node's execution, as the runner records it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NodeRecord {
    pub unique_id: String,
    pub status: String,
    pub started_at: String,
    pub elapsed_s: f64,
    pub rows_affected: Option<i64>,
    /// The Delta table version this execution's write produced.
    pub delta_version: Option<i64>,
    /// SHA-256 of the compiled SQL that ran.
    pub sql_hash: Option<String>,
    pub message: Option<String>,
    /// Tests: the value of the test's `fail_calc` over its failing rows (their count by
    /// default).
    pub failures: Option<i64>,
    /// Models with quarantine: the rows routed to the quarantine table.
    pub quarantined: Option<i64>,
    /// Tests that did not pass: a few failing rows, formatted as a text table.
    pub sample: Option<String>,
}

impl NodeRecord {
    /// The error text kept for this execution: its message when it errored or failed.
    fn error(&self) -> Option<&str> {
        matches!(self.status.as_str(), "error" | "fail")
            .then_some(self.message.as_deref())
            .flatten()
    }
}

/// One attempt at a node in a run, as recorded: what the runner recorded, and what the store
/// adds. Its JSON is flat (`lakeforge runs show --format json`).
#[derive(Debug, Clone, Serialize)]
pub struct NodeExecution {
    #[serde(flatten)]
    pub record: NodeRecord,
    /// 1 for the first attempt; retries count up.
    pub attempt: i64,
    /// The message, when the execution errored or failed.
    pub error: Option<String>,
}

/// How a node ended in one run (its last attempt there), with the run's start and command: a
/// point of the node's history across runs.
#[derive(Debug, Clone, Serialize)]
pub struct NodeRunResult {
    pub run_id: String,
    pub run_started_at: String,
    pub command: String,
    #[serde(flatten)]
    pub execution: NodeExecution,
}

/// A run as recorded, with how its nodes ended (their latest attempts).
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub run_id: String,
    pub command: String,
    /// What the user typed, as JSON.
    pub args: String,
    /// One of [`RunStatus`]'s values.
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub elapsed_s: Option<f64>,
    pub nodes_ok: i64,
    pub nodes_failed: i64,
    pub nodes_skipped: i64,
}

/// Something a node execution read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineageEdge {
    /// The upstream node's unique id (`model.shop.orders`, `source.shop.raw.orders`), or the
    /// relation itself when no node produces it.
    pub upstream: String,
    /// The relation read (`schema.table`), where known.
    pub upstream_relation: Option<String>,
    /// The Delta version read, where known.
    pub upstream_version: Option<i64>,
}

/// A lineage edge as recorded: which execution read what.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineageRecord {
    pub unique_id: String,
    pub attempt: i64,
    #[serde(flatten)]
    pub edge: LineageEdge,
}

/// Which runs [`MetaStore::find_runs`] lists: each field that is set narrows the list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunQuery {
    pub status: Option<RunStatus>,
    /// The command as recorded (`build`, `run`, `test`...).
    pub command: Option<String>,
    /// Runs started at or after this time: RFC 3339 in UTC as the store writes it, or a
    /// prefix of one (`2026-01-31` is that day's first moment). Compared as text, which is
    /// time order for the store's fixed-width timestamps.
    pub started_from: Option<String>,
    /// Runs started before this time (the same form).
    pub started_before: Option<String>,
}

/// One page of runs, newest first, and how many runs match in all.
#[derive(Debug, Clone, Serialize)]
pub struct RunPage {
    pub runs: Vec<RunRecord>,
    pub total: i64,
}

/// The conditions on `runs` of a query, each with the one text value it binds: `?` in a
/// condition is that value's placeholder. Placeholders are numbered from where the query's
/// own parameters end, so the same conditions serve the page and the count.
#[derive(Default)]
struct RunConditions(Vec<(&'static str, String)>);

impl RunConditions {
    fn and(mut self, condition: &'static str, value: impl Into<String>) -> Self {
        self.0.push((condition, value.into()));
        self
    }

    /// `WHERE ...` with placeholders from `$first` on (empty without conditions).
    fn sql(&self, first: usize) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let parts: Vec<String> = self
            .0
            .iter()
            .enumerate()
            .map(|(i, (c, _))| c.replace('?', &format!("${}", first + i)))
            .collect();
        format!("WHERE {}", parts.join(" AND "))
    }

    fn values(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(_, v)| v.as_str())
    }
}

impl From<&RunQuery> for RunConditions {
    fn from(q: &RunQuery) -> Self {
        let mut c = RunConditions::default();
        if let Some(s) = q.status {
            c = c.and("status = ?", s.as_str());
        }
        if let Some(cmd) = &q.command {
            c = c.and("command = ?", cmd.as_str());
        }
        if let Some(t) = &q.started_from {
            c = c.and("started_at >= ?", t.as_str());
        }
        if let Some(t) = &q.started_before {
            c = c.and("started_at < ?", t.as_str());
        }
        c
    }
}

/// The columns of `node_executions` (aliased `n`) that [`execution_row!`] reads, in its order.
const EXECUTION_COLUMNS: &str = "n.unique_id, n.attempt, n.status, n.started_at, n.elapsed_s, \
    n.rows_affected, n.delta_version, n.sql_hash, n.message, n.error, n.failures, \
    n.quarantined, n.sample";

/// A [`NodeExecution`] from [`EXECUTION_COLUMNS`] starting at column `$at` of a row, whichever
/// backend it came from.
macro_rules! execution_row {
    ($r:expr, $at:expr) => {{
        let (r, at, t) = ($r, $at, "node_executions");
        Ok::<_, MetaError>(NodeExecution {
            record: NodeRecord {
                unique_id: r.col(t, at)?,
                status: r.col(t, at + 2)?,
                started_at: r.col(t, at + 3)?,
                elapsed_s: r.col(t, at + 4)?,
                rows_affected: r.col(t, at + 5)?,
                delta_version: r.col(t, at + 6)?,
                sql_hash: r.col(t, at + 7)?,
                message: r.col(t, at + 8)?,
                failures: r.col(t, at + 10)?,
                quarantined: r.col(t, at + 11)?,
                sample: r.col(t, at + 12)?,
            },
            attempt: r.col(t, at + 1)?,
            error: r.col(t, at + 9)?,
        })
    }};
}

impl MetaStore {
    pub async fn start_run(
        &self,
        run_id: &str,
        command: &str,
        args: &str,
        started_at: &str,
    ) -> Result<()> {
        let sql = "INSERT INTO runs (run_id, command, args, status, started_at) \
                   VALUES ($1, $2, $3, 'running', $4)";
        on_pool!(&self.pool, p => {
            sqlx::query(sql)
                .bind(run_id)
                .bind(command)
                .bind(args)
                .bind(started_at)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// Record how a run ended; `status` is one of [`RunStatus`]'s values.
    pub async fn finish_run(
        &self,
        run_id: &str,
        status: &str,
        finished_at: &str,
        elapsed_s: f64,
    ) -> Result<()> {
        let status: RunStatus = status.parse()?;
        let sql = "UPDATE runs SET status = $1, finished_at = $2, elapsed_s = $3 WHERE run_id = $4";
        on_pool!(&self.pool, p => {
            sqlx::query(sql)
                .bind(status.as_str())
                .bind(finished_at)
                .bind(elapsed_s)
                .bind(run_id)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// Record a node's (first) execution in a run.
    pub async fn record_node(&self, run_id: &str, r: &NodeRecord) -> Result<()> {
        self.record_node_attempt(run_id, 1, r).await
    }

    /// Record attempt `attempt` (from 1) of a node in a run; recording the same attempt again
    /// replaces it. Its message is kept as the error text when it errored or failed.
    pub async fn record_node_attempt(
        &self,
        run_id: &str,
        attempt: i64,
        r: &NodeRecord,
    ) -> Result<()> {
        let sql = "INSERT INTO node_executions (run_id, unique_id, attempt, status, started_at, \
                   elapsed_s, rows_affected, delta_version, sql_hash, message, error, failures, \
                   quarantined, sample) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                   ON CONFLICT (run_id, unique_id, attempt) DO UPDATE SET \
                   status = excluded.status, started_at = excluded.started_at, \
                   elapsed_s = excluded.elapsed_s, rows_affected = excluded.rows_affected, \
                   delta_version = excluded.delta_version, sql_hash = excluded.sql_hash, \
                   message = excluded.message, error = excluded.error, \
                   failures = excluded.failures, quarantined = excluded.quarantined, \
                   sample = excluded.sample";
        on_pool!(&self.pool, p => {
            sqlx::query(sql)
                .bind(run_id)
                .bind(&r.unique_id)
                .bind(attempt)
                .bind(&r.status)
                .bind(&r.started_at)
                .bind(r.elapsed_s)
                .bind(r.rows_affected)
                .bind(r.delta_version)
                .bind(&r.sql_hash)
                .bind(&r.message)
                .bind(r.error())
                .bind(r.failures)
                .bind(r.quarantined)
                .bind(&r.sample)
                .execute(p)
                .await?;
        });
        Ok(())
    }

    /// Record what attempt `attempt` of node `unique_id` read, in one transaction; an edge
    /// recorded again (same upstream) is replaced.
    pub async fn record_lineage(
        &self,
        run_id: &str,
        unique_id: &str,
        attempt: i64,
        upstream: &[LineageEdge],
    ) -> Result<()> {
        let sql = "INSERT INTO lineage (run_id, unique_id, attempt, upstream, upstream_relation, \
                   upstream_version) VALUES ($1, $2, $3, $4, $5, $6) \
                   ON CONFLICT (run_id, unique_id, attempt, upstream) DO UPDATE SET \
                   upstream_relation = excluded.upstream_relation, \
                   upstream_version = excluded.upstream_version";
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            for e in upstream {
                sqlx::query(sql)
                    .bind(run_id)
                    .bind(unique_id)
                    .bind(attempt)
                    .bind(&e.upstream)
                    .bind(&e.upstream_relation)
                    .bind(e.upstream_version)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?
        });
        Ok(())
    }

    /// The lineage recorded in a run, by node, attempt and upstream.
    pub async fn lineage(&self, run_id: &str) -> Result<Vec<LineageRecord>> {
        let sql = "SELECT unique_id, attempt, upstream, upstream_relation, upstream_version \
                   FROM lineage WHERE run_id = $1 ORDER BY unique_id, attempt, upstream";
        Ok(on_pool!(&self.pool, p => sqlx::query(sql)
            .bind(run_id)
            .fetch_all(p)
            .await?
            .into_iter()
            .map(|r| Ok(LineageRecord {
                unique_id: r.col("lineage", 0)?,
                attempt: r.col("lineage", 1)?,
                edge: LineageEdge {
                    upstream: r.col("lineage", 2)?,
                    upstream_relation: r.col("lineage", 3)?,
                    upstream_version: r.col("lineage", 4)?,
                },
            }))
            .collect::<Result<Vec<_>>>()?))
    }

    /// The most recent runs, newest first.
    pub async fn runs(&self, limit: i64) -> Result<Vec<RunRecord>> {
        self.query_runs(&RunConditions::default(), limit, 0).await
    }

    /// The runs `query` matches, newest first: `limit` of them after skipping `offset`, and
    /// how many match in all.
    pub async fn find_runs(&self, query: &RunQuery, limit: i64, offset: i64) -> Result<RunPage> {
        let conditions = RunConditions::from(query);
        let count_sql = format!("SELECT COUNT(*) FROM runs {}", conditions.sql(1));
        let total: i64 = on_pool!(&self.pool, p => {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.as_str()));
            for v in conditions.values() {
                q = q.bind(v);
            }
            q.fetch_one(p).await?
        });
        let runs = self.query_runs(&conditions, limit, offset).await?;
        Ok(RunPage { runs, total })
    }

    /// The run with this exact id.
    pub async fn run(&self, run_id: &str) -> Result<Option<RunRecord>> {
        Ok(self
            .query_runs(&RunConditions::default().and("run_id = ?", run_id), 1, 0)
            .await?
            .into_iter()
            .next())
    }

    /// The run `spec` names: `last` (the most recent), an id, or a prefix of exactly one id.
    pub async fn resolve_run(&self, spec: &str) -> Result<RunRecord> {
        let not_found = || MetaError::RunNotFound {
            spec: spec.into(),
            location: self.location.clone(),
        };
        if spec == "last" {
            return self.runs(1).await?.into_iter().next().ok_or_else(not_found);
        }
        if let Some(run) = self.run(spec).await? {
            return Ok(run);
        }
        const SHOWN: usize = 5;
        let mut found = self
            .query_runs(
                &RunConditions::default().and("substr(run_id, 1, length(?)) = ?", spec),
                SHOWN as i64 + 1,
                0,
            )
            .await?;
        match found.len() {
            0 => Err(not_found()),
            1 => Ok(found.remove(0)),
            n => {
                let mut ids: Vec<String> =
                    found.iter().take(SHOWN).map(|r| r.run_id.clone()).collect();
                if n > SHOWN {
                    ids.push("...".into());
                }
                Err(MetaError::AmbiguousRun {
                    spec: spec.into(),
                    candidates: format!("several runs: {}", ids.join(", ")),
                })
            }
        }
    }

    async fn query_runs(
        &self,
        conditions: &RunConditions,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<RunRecord>> {
        // $1 and $2 are the limit and offset; the conditions' values follow.
        let condition = conditions.sql(3);
        // The newest runs first, then how their nodes ended: each node's latest attempt.
        let sql = format!(
            "SELECT r.run_id, r.command, r.args, r.status, r.started_at, r.finished_at, r.elapsed_s, \
               COUNT(CASE WHEN n.status IN {OK_STATUSES} THEN 1 END) AS nodes_ok, \
               COUNT(CASE WHEN n.status IN {FAILED_STATUSES} THEN 1 END) AS nodes_failed, \
               COUNT(CASE WHEN n.status = 'skipped' THEN 1 END) AS nodes_skipped \
             FROM (SELECT * FROM runs {condition} ORDER BY started_at DESC, run_id DESC \
               LIMIT $1 OFFSET $2) r \
             LEFT JOIN node_executions n ON n.run_id = r.run_id AND n.attempt = \
               (SELECT MAX(m.attempt) FROM node_executions m \
                WHERE m.run_id = n.run_id AND m.unique_id = n.unique_id) \
             GROUP BY r.run_id, r.command, r.args, r.status, r.started_at, r.finished_at, r.elapsed_s \
             ORDER BY r.started_at DESC, r.run_id DESC"
        );
        Ok(on_pool!(&self.pool, p => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(limit).bind(offset);
            for v in conditions.values() {
                q = q.bind(v);
            }
            q.fetch_all(p)
                .await?
                .into_iter()
                .map(|r| Ok(RunRecord {
                    run_id: r.col("runs", 0)?,
                    command: r.col("runs", 1)?,
                    args: r.col("runs", 2)?,
                    status: r.col("runs", 3)?,
                    started_at: r.col("runs", 4)?,
                    finished_at: r.col("runs", 5)?,
                    elapsed_s: r.col("runs", 6)?,
                    nodes_ok: r.col("runs", 7)?,
                    nodes_failed: r.col("runs", 8)?,
                    nodes_skipped: r.col("runs", 9)?,
                }))
                .collect::<Result<Vec<_>>>()?
        }))
    }

    /// Every recorded execution in a run, in the order they started.
    pub async fn node_executions(&self, run_id: &str) -> Result<Vec<NodeExecution>> {
        let sql = format!(
            "SELECT {EXECUTION_COLUMNS} FROM node_executions n \
             WHERE n.run_id = $1 ORDER BY n.started_at, n.unique_id, n.attempt"
        );
        Ok(
            on_pool!(&self.pool, p => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(run_id)
            .fetch_all(p)
            .await?
            .into_iter()
            .map(|r| execution_row!(&r, 0))
            .collect::<Result<Vec<_>>>()?),
        )
    }

    /// How the nodes whose unique id starts with `prefix` (`test.`) ended in each of the
    /// `runs` latest runs that executed any of them: each node's last attempt in each run,
    /// newest run first.
    pub async fn results_by_prefix(&self, prefix: &str, runs: i64) -> Result<Vec<NodeRunResult>> {
        self.node_results(
            |t| format!("substr({t}.unique_id, 1, length($2)) = $2"),
            Some(prefix),
            runs,
        )
        .await
    }

    /// The models' quarantine counts in each of the `runs` latest runs that quarantined rows
    /// of any model (a model with quarantine on records a count, 0 included, when it runs).
    pub async fn quarantine_results(&self, runs: i64) -> Result<Vec<NodeRunResult>> {
        self.node_results(|t| format!("{t}.quarantined IS NOT NULL"), None, runs)
            .await
    }

    /// How one node ended in each of the `runs` latest runs that executed it, newest first.
    pub async fn node_history(&self, unique_id: &str, runs: i64) -> Result<Vec<NodeRunResult>> {
        self.node_results(|t| format!("{t}.unique_id = $2"), Some(unique_id), runs)
            .await
    }

    /// The last attempts, in the `runs` latest runs where `condition` holds of an execution,
    /// of the executions it holds of. `condition(alias)` is SQL on the `node_executions` row
    /// `alias`, binding `value` as `$2` if it uses it.
    async fn node_results(
        &self,
        condition: impl Fn(&str) -> String,
        value: Option<&str>,
        runs: i64,
    ) -> Result<Vec<NodeRunResult>> {
        let sql = format!(
            "SELECT r.run_id, r.started_at, r.command, {EXECUTION_COLUMNS} \
             FROM node_executions n JOIN runs r ON r.run_id = n.run_id \
             WHERE n.run_id IN (SELECT x.run_id FROM runs x WHERE EXISTS \
                 (SELECT 1 FROM node_executions e WHERE e.run_id = x.run_id AND {}) \
               ORDER BY x.started_at DESC, x.run_id DESC LIMIT $1) \
             AND {} \
             AND n.attempt = (SELECT MAX(m.attempt) FROM node_executions m \
               WHERE m.run_id = n.run_id AND m.unique_id = n.unique_id) \
             ORDER BY r.started_at DESC, r.run_id DESC, n.unique_id",
            condition("e"),
            condition("n"),
        );
        Ok(on_pool!(&self.pool, p => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(runs);
            if let Some(v) = value {
                q = q.bind(v);
            }
            q.fetch_all(p)
                .await?
                .into_iter()
                .map(|r| Ok(NodeRunResult {
                    run_id: r.col("runs", 0)?,
                    run_started_at: r.col("runs", 1)?,
                    command: r.col("runs", 2)?,
                    execution: execution_row!(&r, 3)?,
                }))
                .collect::<Result<Vec<_>>>()?
        }))
    }
}
