//! The model registry: versions of ML models as training nodes record them, their tuning
//! trials, and aliases (`production`, `staging`, ...) that point at versions. Aliases, not
//! stages: a version may hold several, and every change of an alias is appended to a history,
//! so [`MetaStore::alias_at`] can say which version an alias named at any past moment.
//!
//! Version numbers count up from 1 per model; the next one is taken inside the transaction
//! that inserts it (`BEGIN IMMEDIATE` on SQLite, a per-model advisory lock on PostgreSQL), so
//! two trainings of the same model never get the same number.
//!
//! This file reads and writes the registry's tables; `rules` holds what every caller must
//! agree on (a version's status, the default alias, which alias names are valid, when a
//! version may be promoted).

mod rules;

use crate::decode::RowExt;
use chrono::{SecondsFormat, Utc};
use serde::Serialize;

pub use rules::{AliasProblem, DEFAULT_ALIAS, ModelStatus, Promotion, check_alias_name};

use crate::{MetaStore, Result};

/// What the training of a version recorded: everything about a version but its name and what
/// the registry gives it (its number, the time, the aliases). A new version carries it in,
/// a stored one carries it out, so each field is declared here once.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrainingRecord {
    pub run_id: Option<String>,
    /// The quality gate's verdict.
    pub status: ModelStatus,
    /// Why the gate rejected the version (or the conditions it met).
    pub gate_message: Option<String>,
    pub task: String,
    pub algorithm: String,
    /// The training declaration as JSON (split, seed, features, tuning space, ...).
    pub spec_json: String,
    /// The parameters the model was trained with, after tuning, as JSON.
    pub params_json: String,
    pub metrics: Vec<(String, f64)>,
    /// Input columns and their types, as JSON.
    pub feature_schema_json: String,
    /// Relative to the lake's root.
    pub artifact_path: String,
    pub artifact_sha256: String,
    pub training_relation: String,
    pub training_version: Option<i64>,
    pub train_rows: i64,
    pub test_rows: i64,
}

impl TrainingRecord {
    /// The training relation and the Delta version read: `main.features @ v3`.
    pub fn trained_on(&self) -> String {
        match self.training_version {
            Some(v) => format!("{} @ v{v}", self.training_relation),
            None => self.training_relation.clone(),
        }
    }

    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }
}

/// Everything a training node records about a new version.
#[derive(Debug, Clone, Default)]
pub struct NewModelVersion {
    pub name: String,
    pub trained: TrainingRecord,
    pub trials: Vec<TrialRecord>,
}

/// One tuning trial.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialRecord {
    pub trial: i64,
    pub params_json: String,
    pub score: f64,
    pub iterations: i64,
}

/// A recorded version. Its JSON (`lakeforge models show --json`) is flat: the training
/// record's fields sit beside the version's own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelVersion {
    pub name: String,
    pub version: i64,
    pub created_at: String,
    #[serde(flatten)]
    pub trained: TrainingRecord,
    /// The aliases pointing at this version now.
    pub aliases: Vec<String>,
}

/// One change of an alias.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AliasChange {
    pub alias: String,
    /// The version it pointed at from then on; None when it was removed.
    pub version: Option<i64>,
    pub previous: Option<i64>,
    pub set_at: String,
    /// A run id, `cli` for `lakeforge models promote`, or `api` for the server's admin route.
    pub set_by: String,
}

/// A model with its versions counted, for `lakeforge models list`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSummary {
    pub name: String,
    pub versions: i64,
    pub latest: i64,
    pub latest_created_at: String,
    pub aliases: Vec<(String, i64)>,
}

/// Time as stored: RFC 3339 in UTC with microseconds, fixed width so text order is time order.
pub fn registry_time_text(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn now() -> String {
    registry_time_text(Utc::now())
}

const VERSION_COLUMNS: &str = "name, version, created_at, run_id, status, gate_message, task, \
    algorithm, spec, params, metrics, feature_schema, artifact_path, artifact_sha256, \
    training_relation, training_version, train_rows, test_rows";

/// A [`ModelVersion`] from a row of [`VERSION_COLUMNS`], whichever backend it came from.
macro_rules! version_row {
    ($r:expr) => {{
        let r = $r;
        let metrics: String = r.col(T, 10)?;
        // JSON has no NaN: serde_json writes a NaN metric as null, so null reads back as NaN.
        let metrics: Vec<(String, Option<f64>)> = serde_json::from_str(&metrics)
            .map_err(|e| crate::decode::corrupt(T, "metrics", Box::new(e)))?;
        let metrics = metrics
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
            .collect();
        let status: String = r.col(T, 4)?;
        let status: ModelStatus = status
            .parse()
            .map_err(|e: crate::MetaError| crate::decode::corrupt(T, "status", Box::new(e)))?;
        Ok::<_, crate::MetaError>(ModelVersion {
            name: r.col(T, 0)?,
            version: r.col(T, 1)?,
            created_at: r.col(T, 2)?,
            trained: TrainingRecord {
                run_id: r.col(T, 3)?,
                status,
                gate_message: r.col(T, 5)?,
                task: r.col(T, 6)?,
                algorithm: r.col(T, 7)?,
                spec_json: r.col(T, 8)?,
                params_json: r.col(T, 9)?,
                metrics,
                feature_schema_json: r.col(T, 11)?,
                artifact_path: r.col(T, 12)?,
                artifact_sha256: r.col(T, 13)?,
                training_relation: r.col(T, 14)?,
                training_version: r.col(T, 15)?,
                train_rows: r.col(T, 16)?,
                test_rows: r.col(T, 17)?,
            },
            aliases: Vec::new(),
        })
    }};
}

/// Runs `$body` with `$tx` bound to a connection in a transaction that holds model `$name`'s
/// lock, committing after it: the whole SQLite file (`BEGIN IMMEDIATE`) or a per-model
/// advisory lock on PostgreSQL, so writers of one model's versions or aliases take turns.
macro_rules! model_transaction {
    ($pool:expr, $name:expr, $tx:ident => $body:expr) => {
        match $pool {
            crate::Pool::Sqlite(p) => {
                let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
                let $tx = &mut *tx;
                let out = $body;
                tx.commit().await?;
                out
            }
            crate::Pool::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock(hashtext('lakeforge.model.' || $1))")
                    .bind($name)
                    .execute(&mut *tx)
                    .await?;
                let $tx = &mut *tx;
                let out = $body;
                tx.commit().await?;
                out
            }
        }
    };
}

/// The table [`version_row!`] reads.
const T: &str = "ml_model_versions";

impl MetaStore {
    /// Record a new version of `new.name` with its trials; returns its number.
    pub async fn register_model_version(&self, new: &NewModelVersion) -> Result<i64> {
        let v = &new.trained;
        let metrics = serde_json::to_string(&v.metrics).unwrap_or_else(|_| "[]".into());
        let insert = format!(
            "INSERT INTO ml_model_versions ({VERSION_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        );
        let trial_sql = "INSERT INTO ml_model_trials (name, version, trial, params, score, \
                         iterations) VALUES ($1, $2, $3, $4, $5, $6)";
        let next_sql =
            "SELECT COALESCE(MAX(version), 0) + 1 FROM ml_model_versions WHERE name = $1";
        macro_rules! insert_all {
            ($tx:expr) => {{
                let tx = $tx;
                let version: i64 = sqlx::query_scalar(next_sql)
                    .bind(&new.name)
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query(sqlx::AssertSqlSafe(insert.as_str()))
                    .bind(&new.name)
                    .bind(version)
                    .bind(now())
                    .bind(&v.run_id)
                    .bind(v.status.as_str())
                    .bind(&v.gate_message)
                    .bind(&v.task)
                    .bind(&v.algorithm)
                    .bind(&v.spec_json)
                    .bind(&v.params_json)
                    .bind(&metrics)
                    .bind(&v.feature_schema_json)
                    .bind(&v.artifact_path)
                    .bind(&v.artifact_sha256)
                    .bind(&v.training_relation)
                    .bind(v.training_version)
                    .bind(v.train_rows)
                    .bind(v.test_rows)
                    .execute(&mut *tx)
                    .await?;
                for t in &new.trials {
                    sqlx::query(trial_sql)
                        .bind(&new.name)
                        .bind(version)
                        .bind(t.trial)
                        .bind(&t.params_json)
                        .bind(if t.score.is_finite() {
                            t.score
                        } else {
                            f64::MAX
                        })
                        .bind(t.iterations)
                        .execute(&mut *tx)
                        .await?;
                }
                version
            }};
        }
        Ok(model_transaction!(&self.pool, &new.name, tx => insert_all!(tx)))
    }

    /// Every version of `name`, oldest first, with the aliases each holds now.
    pub async fn model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM ml_model_versions WHERE name = $1 ORDER BY version"
        );
        let mut versions: Vec<ModelVersion> = on_pool!(&self.pool, p => {
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(name)
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| version_row!(r))
                .collect::<Result<Vec<_>>>()?
        });
        for (alias, version) in self.model_aliases(name).await? {
            if let Some(v) = versions.iter_mut().find(|v| v.version == version) {
                v.aliases.push(alias);
            }
        }
        Ok(versions)
    }

    /// One version of `name`.
    pub async fn model_version(&self, name: &str, version: i64) -> Result<Option<ModelVersion>> {
        Ok(self
            .model_versions(name)
            .await?
            .into_iter()
            .find(|v| v.version == version))
    }

    /// One version of `name` that must exist: [`MetaError::NoSuchVersion`](crate::MetaError)
    /// otherwise.
    pub async fn require_version(&self, name: &str, version: i64) -> Result<ModelVersion> {
        self.model_version(name, version)
            .await?
            .ok_or_else(|| crate::MetaError::NoSuchVersion {
                name: name.into(),
                version,
            })
    }

    /// Every model with at least one version, by name.
    pub async fn model_summaries(&self) -> Result<Vec<ModelSummary>> {
        let sql = "SELECT name, COUNT(*), MAX(version), MAX(created_at) FROM ml_model_versions \
                   GROUP BY name ORDER BY name";
        let aliases_sql = "SELECT name, alias, version FROM ml_model_aliases ORDER BY name, alias";
        let (mut models, aliases): (Vec<ModelSummary>, Vec<(String, String, i64)>) = on_pool!(&self.pool, p => {
            let models = sqlx::query(sql)
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| Ok(ModelSummary {
                    name: r.col("ml_model_versions", 0)?,
                    versions: r.col("ml_model_versions", 1)?,
                    latest: r.col("ml_model_versions", 2)?,
                    latest_created_at: r.col("ml_model_versions", 3)?,
                    aliases: Vec::new(),
                }))
                .collect::<Result<Vec<_>>>()?;
            let aliases = sqlx::query(aliases_sql)
                .fetch_all(p)
                .await?
                .iter()
                .map(|r| {
                    let t = "ml_model_aliases";
                    Ok((r.col(t, 0)?, r.col(t, 1)?, r.col(t, 2)?))
                })
                .collect::<Result<Vec<_>>>()?;
            (models, aliases)
        });
        for (name, alias, version) in aliases {
            if let Some(m) = models.iter_mut().find(|m| m.name == name) {
                m.aliases.push((alias, version));
            }
        }
        Ok(models)
    }

    /// The aliases of `name` and the versions they point at now.
    pub async fn model_aliases(&self, name: &str) -> Result<Vec<(String, i64)>> {
        let sql = "SELECT alias, version FROM ml_model_aliases WHERE name = $1 ORDER BY alias";
        Ok(on_pool!(&self.pool, p => sqlx::query(sql)
            .bind(name)
            .fetch_all(p)
            .await?
            .iter()
            .map(|r| Ok((r.col("ml_model_aliases", 0)?, r.col("ml_model_aliases", 1)?)))
            .collect::<Result<Vec<_>>>()?))
    }

    /// The version `alias` of `name` points at now.
    pub async fn resolve_alias(&self, name: &str, alias: &str) -> Result<Option<i64>> {
        let sql = "SELECT version FROM ml_model_aliases WHERE name = $1 AND alias = $2";
        Ok(on_pool!(&self.pool, p => sqlx::query_scalar(sql)
            .bind(name)
            .bind(alias)
            .fetch_optional(p)
            .await?))
    }

    /// Point `alias` of `name` at `version` (None removes the alias), appending the change
    /// to the history; returns the version it pointed at before. An alias is only set under a
    /// valid name ([`check_alias_name`]); removing is always allowed, so an alias set before
    /// the rule existed can still be cleared. No gate check: [`MetaStore::promotion`] is the
    /// way in for a person's promotion.
    pub async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: Option<i64>,
        set_by: &str,
    ) -> Result<Option<i64>> {
        if version.is_some() {
            check_alias_name(alias)?;
        }
        let at = now();
        let current_sql = "SELECT version FROM ml_model_aliases WHERE name = $1 AND alias = $2";
        let seq_sql = "SELECT COALESCE(MAX(seq), 0) + 1 FROM ml_alias_history \
                       WHERE name = $1 AND alias = $2";
        let upsert = "INSERT INTO ml_model_aliases (name, alias, version, set_at) \
                      VALUES ($1, $2, $3, $4) ON CONFLICT (name, alias) \
                      DO UPDATE SET version = excluded.version, set_at = excluded.set_at";
        let delete = "DELETE FROM ml_model_aliases WHERE name = $1 AND alias = $2";
        let history = "INSERT INTO ml_alias_history (name, alias, seq, version, previous, \
                       set_at, set_by) VALUES ($1, $2, $3, $4, $5, $6, $7)";
        macro_rules! change {
            ($tx:expr) => {{
                let tx = $tx;
                let previous: Option<i64> = sqlx::query_scalar(current_sql)
                    .bind(name)
                    .bind(alias)
                    .fetch_optional(&mut *tx)
                    .await?;
                let seq: i64 = sqlx::query_scalar(seq_sql)
                    .bind(name)
                    .bind(alias)
                    .fetch_one(&mut *tx)
                    .await?;
                match version {
                    Some(v) => {
                        sqlx::query(upsert)
                            .bind(name)
                            .bind(alias)
                            .bind(v)
                            .bind(&at)
                            .execute(&mut *tx)
                            .await?;
                    }
                    None => {
                        sqlx::query(delete)
                            .bind(name)
                            .bind(alias)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                sqlx::query(history)
                    .bind(name)
                    .bind(alias)
                    .bind(seq)
                    .bind(version)
                    .bind(previous)
                    .bind(&at)
                    .bind(set_by)
                    .execute(&mut *tx)
                    .await?;
                previous
            }};
        }
        Ok(model_transaction!(&self.pool, name, tx => change!(tx)))
    }

    /// Every change of every alias of `name`, oldest first.
    pub async fn alias_history(&self, name: &str) -> Result<Vec<AliasChange>> {
        let sql = "SELECT alias, version, previous, set_at, set_by FROM ml_alias_history \
                   WHERE name = $1 ORDER BY set_at, alias, seq";
        Ok(on_pool!(&self.pool, p => sqlx::query(sql)
            .bind(name)
            .fetch_all(p)
            .await?
            .iter()
            .map(|r| Ok(AliasChange {
                alias: r.col("ml_alias_history", 0)?,
                version: r.col("ml_alias_history", 1)?,
                previous: r.col("ml_alias_history", 2)?,
                set_at: r.col("ml_alias_history", 3)?,
                set_by: r.col("ml_alias_history", 4)?,
            }))
            .collect::<Result<Vec<_>>>()?))
    }

    /// The version `alias` of `name` pointed at at the moment `at` (RFC 3339, UTC).
    pub async fn alias_at(
        &self,
        name: &str,
        alias: &str,
        at: chrono::DateTime<Utc>,
    ) -> Result<Option<i64>> {
        let sql = "SELECT version FROM ml_alias_history WHERE name = $1 AND alias = $2 \
                   AND set_at <= $3 ORDER BY seq DESC LIMIT 1";
        let found: Option<Option<i64>> = on_pool!(&self.pool, p => sqlx::query_scalar(sql)
            .bind(name)
            .bind(alias)
            .bind(registry_time_text(at))
            .fetch_optional(p)
            .await?);
        Ok(found.flatten())
    }

    /// The tuning trials of one version, in trial order.
    pub async fn model_trials(&self, name: &str, version: i64) -> Result<Vec<TrialRecord>> {
        let sql = "SELECT trial, params, score, iterations FROM ml_model_trials \
                   WHERE name = $1 AND version = $2 ORDER BY trial";
        Ok(on_pool!(&self.pool, p => sqlx::query(sql)
            .bind(name)
            .bind(version)
            .fetch_all(p)
            .await?
            .iter()
            .map(|r| Ok(TrialRecord {
                trial: r.col("ml_model_trials", 0)?,
                params_json: r.col("ml_model_trials", 1)?,
                score: r.col("ml_model_trials", 2)?,
                iterations: r.col("ml_model_trials", 3)?,
            }))
            .collect::<Result<Vec<_>>>()?))
    }
}
