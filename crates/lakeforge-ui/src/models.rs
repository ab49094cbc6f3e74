//! The model registry's part of the JSON API, read-only:
//!
//! - `GET /api/models`: every registered model, its versions counted, its aliases, and its
//!   latest version's number, gate status, creation time and first metric;
//! - `GET /api/models/{name}`: its versions newest first (status, metrics, parameters, the
//!   training data and its Delta version, aliases, the charts its task can have), its aliases
//!   and their history (`ml_alias_history`);
//! - `GET /api/models/{name}/versions/{version}/charts/{kind}.svg`: one evaluation chart of a
//!   version as SVG (`kind`: lakeforge-report's `Figure` names: `roc`, `pr`, `residuals`,
//!   `residual-histogram`, `importance`).
//!
//! The registry is lakeforge-meta's; a chart is drawn from the evaluation the training node
//! stored beside the version's artifact in the lake, read through the [`LakeFiles`] the CLI
//! passes, made into report data by lakeforge-report's `stored` module (the rule `lakeforge
//! models show --report` uses) and drawn by its `charts`, which escape every text they write.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use lakeforge_meta::{AliasChange, DEFAULT_ALIAS, ModelVersion};
use lakeforge_report::charts::Figure;
use lakeforge_report::stored::{evaluation_path, report_data};
use serde::Serialize;

use crate::UiState;
use crate::error::{UiError, UiResult};

/// Reads a file of the lake (its path relative to the lake's root); a missing file is
/// `ErrorKind::NotFound`. The same shape as the prediction server's reader, so the CLI builds
/// one for both.
pub type ReadFile = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<u8>>> + Send>> + Send + Sync,
>;

/// The lake's files, for the evaluations charts are drawn from.
#[derive(Clone)]
pub struct LakeFiles {
    /// Where the lake is, for messages (`lake/`, `s3://bucket/lake`).
    pub location: String,
    pub read: ReadFile,
}

impl std::fmt::Debug for LakeFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LakeFiles")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// An alias and the version it names.
#[derive(Debug, Clone, Serialize)]
pub struct AliasEntry {
    pub alias: String,
    pub version: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    pub name: String,
    /// `null` when the metric is undefined (NaN) for this version.
    pub value: f64,
}

/// A model's latest version, as the list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LatestVersion {
    pub version: i64,
    /// The quality gate's verdict: `passed` or `rejected`.
    pub status: String,
    pub created_at: String,
    /// The first metric its training recorded (the task's main one).
    pub key_metric: Option<Metric>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelListEntry {
    pub name: String,
    pub versions: i64,
    pub aliases: Vec<AliasEntry>,
    pub latest: LatestVersion,
}

#[derive(Debug, Serialize)]
pub struct ModelList {
    pub models: Vec<ModelListEntry>,
    /// The alias trainings promote to and `predict('name')` reads.
    pub default_alias: &'static str,
}

fn metrics(pairs: &[(String, f64)]) -> Vec<Metric> {
    pairs
        .iter()
        .map(|(name, value)| Metric {
            name: name.clone(),
            value: *value,
        })
        .collect()
}

fn aliases(pairs: Vec<(String, i64)>) -> Vec<AliasEntry> {
    pairs
        .into_iter()
        .map(|(alias, version)| AliasEntry { alias, version })
        .collect()
}

pub async fn list(State(state): State<Arc<UiState>>) -> UiResult<Json<ModelList>> {
    let store = &state.store;
    let mut models = Vec::new();
    for m in store.model_summaries().await? {
        let latest = store.require_version(&m.name, m.latest).await?;
        models.push(ModelListEntry {
            latest: LatestVersion {
                version: latest.version,
                status: latest.trained.status.to_string(),
                created_at: latest.created_at,
                key_metric: metrics(&latest.trained.metrics).into_iter().next(),
            },
            name: m.name,
            versions: m.versions,
            aliases: aliases(m.aliases),
        });
    }
    Ok(Json(ModelList {
        models,
        default_alias: DEFAULT_ALIAS,
    }))
}

/// One version as the model's page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct VersionEntry {
    pub version: i64,
    pub status: String,
    /// Why the gate rejected it (or what it met).
    pub gate_message: Option<String>,
    pub created_at: String,
    pub run_id: Option<String>,
    pub task: String,
    pub algorithm: String,
    pub metrics: Vec<Metric>,
    /// The parameters it was trained with, after tuning.
    pub params: BTreeMap<String, String>,
    pub training_relation: String,
    /// The Delta version of the training relation it read, when recorded.
    pub training_version: Option<i64>,
    pub train_rows: i64,
    pub test_rows: i64,
    pub aliases: Vec<String>,
    /// The charts its task can have (`Figure` names); one whose data is missing answers 404.
    pub charts: Vec<&'static str>,
}

impl From<ModelVersion> for VersionEntry {
    fn from(v: ModelVersion) -> Self {
        let t = v.trained;
        VersionEntry {
            version: v.version,
            status: t.status.to_string(),
            gate_message: t.gate_message,
            created_at: v.created_at,
            run_id: t.run_id,
            charts: Figure::for_task(&t.task).iter().map(|f| f.name()).collect(),
            task: t.task,
            algorithm: t.algorithm,
            metrics: metrics(&t.metrics),
            params: serde_json::from_str(&t.params_json).unwrap_or_default(),
            training_relation: t.training_relation,
            training_version: t.training_version,
            train_rows: t.train_rows,
            test_rows: t.test_rows,
            aliases: v.aliases,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ModelDetail {
    pub name: String,
    /// Newest first.
    pub versions: Vec<VersionEntry>,
    pub aliases: Vec<AliasEntry>,
    /// Every change of its aliases, oldest first.
    pub alias_history: Vec<AliasChange>,
    pub default_alias: &'static str,
}

fn unknown_model(name: &str) -> UiError {
    UiError::NotFound {
        what: format!("model `{name}`"),
    }
}

pub async fn detail(
    State(state): State<Arc<UiState>>,
    path: Result<Path<String>, PathRejection>,
) -> UiResult<Json<ModelDetail>> {
    let Path(name) = path.map_err(|_| UiError::NotFound {
        what: "model with that name".into(),
    })?;
    let store = &state.store;
    let mut versions = store.model_versions(&name).await?;
    if versions.is_empty() {
        return Err(unknown_model(&name));
    }
    versions.sort_by_key(|v| std::cmp::Reverse(v.version));
    Ok(Json(ModelDetail {
        versions: versions.into_iter().map(VersionEntry::from).collect(),
        aliases: aliases(store.model_aliases(&name).await?),
        alias_history: store.alias_history(&name).await?,
        default_alias: DEFAULT_ALIAS,
        name,
    }))
}

/// `{kind}.svg` as a figure, or None.
fn chart_kind(file: &str) -> Option<Figure> {
    file.strip_suffix(".svg").and_then(Figure::from_name)
}

pub async fn chart(
    State(state): State<Arc<UiState>>,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> UiResult<Response> {
    let Path((name, version, file)) = path.map_err(|_| UiError::NotFound {
        what: "chart".into(),
    })?;
    let figure = chart_kind(&file).ok_or_else(|| UiError::NotFound {
        what: format!("chart `{file}`"),
    })?;
    let version: i64 = version.parse().map_err(|_| UiError::NotFound {
        what: format!("version `{version}` of model `{name}`"),
    })?;
    let v = match state.store.model_version(&name, version).await? {
        Some(v) => v,
        None if state.store.model_versions(&name).await?.is_empty() => {
            return Err(unknown_model(&name));
        }
        None => {
            return Err(UiError::NotFound {
                what: format!("version {version} of model `{name}`"),
            });
        }
    };
    let files = state.files.as_ref().ok_or_else(|| {
        UiError::NoChart(
            "charts need the lake's files, and this UI was started without them".into(),
        )
    })?;
    let file = evaluation_path(&v.trained.artifact_path);
    let location = format!("{}/{file}", files.location);
    let bytes = match (files.read)(file).await {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(UiError::NoChart(format!(
                "{location} (the held-out predictions of {name} version {version}) is missing"
            )));
        }
        Err(source) => return Err(UiError::Lake { location, source }),
    };
    let text = String::from_utf8_lossy(&bytes);
    let report = report_data(&v, &[], &text, &location).map_err(UiError::Evaluation)?;
    let svg = figure.draw(&report).ok_or_else(|| {
        UiError::NoChart(format!(
            "{name} version {version} has no data for the `{}` chart",
            figure.name()
        ))
    })?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_files_are_figure_names_with_svg() {
        assert_eq!(chart_kind("roc.svg"), Some(Figure::Roc));
        assert_eq!(chart_kind("pr.svg"), Some(Figure::PrecisionRecall));
        assert_eq!(
            chart_kind("residual-histogram.svg"),
            Some(Figure::ResidualHistogram)
        );
        assert_eq!(chart_kind("roc"), None);
        assert_eq!(chart_kind("roc.png"), None);
        assert_eq!(chart_kind("confusion.svg"), None);
    }

    #[test]
    fn a_version_lists_the_charts_of_its_task() {
        let v = ModelVersion {
            name: "m".into(),
            version: 1,
            created_at: String::new(),
            trained: lakeforge_meta::TrainingRecord {
                task: "regression".into(),
                params_json: r#"{"max_depth":"6"}"#.into(),
                ..Default::default()
            },
            aliases: Vec::new(),
        };
        let e = VersionEntry::from(v);
        assert_eq!(e.charts, ["residuals", "residual-histogram", "importance"]);
        assert_eq!(e.params["max_depth"], "6");
    }
}
