//! The JSON API under `/api/` that the pages are clients of (and tests, and scripts):
//!
//! - `GET /api/overview`: the last runs, the failing tests of the latest run, the registered
//!   models with the version their production alias points at, the schedules' next ticks;
//! - `GET /api/runs`: runs newest first, filtered and paged (`filters`);
//! - `GET /api/runs/{run_id}`: one run and every attempt of its nodes.
//!
//! Everything here is read from the metadata store as it is when asked; nothing is cached, so
//! a page that polls sees a run as it progresses (a node appears once an attempt finishes,
//! as the runner records it then).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use lakeforge_meta::{DEFAULT_ALIAS, NodeExecution, RunRecord};
use serde::Serialize;

use crate::UiState;
use crate::error::{UiError, UiResult};
use crate::filters::RunsFilter;

/// Runs the overview lists.
const OVERVIEW_RUNS: i64 = 10;

/// One attempt at a node, as the pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeAttempt {
    pub unique_id: String,
    /// The kind of node, from its id's first part (`model`, `test`, `seed`...).
    pub resource_type: &'static str,
    /// The id without its type and package (`orders` of `model.shop.orders`), and for a
    /// generic test without the hash dbt appends (`not_null_orders_id` of
    /// `test.shop.not_null_orders_id.61055f5794`).
    pub name: String,
    pub status: String,
    /// 1 for the first attempt; retries count up.
    pub attempt: i64,
    pub started_at: String,
    /// `started_at` plus the elapsed time; absent while it runs, or when the start is not a
    /// timestamp.
    pub finished_at: Option<String>,
    pub elapsed_s: f64,
    pub rows_affected: Option<i64>,
    /// The Delta version this attempt's write produced.
    pub delta_version: Option<i64>,
    /// The error text, when the attempt errored or failed.
    pub error: Option<String>,
    /// The runner's message (`INSERT 3`, `skipped: upstream a`, the error again).
    pub message: Option<String>,
}

/// The resource types node ids start with; anything else is `unknown`.
const RESOURCE_TYPES: &[&str] = &[
    "model",
    "seed",
    "test",
    "unit_test",
    "snapshot",
    "source",
    "ml_model",
    "saved_query",
    "operation",
];

pub(crate) fn resource_type(unique_id: &str) -> &'static str {
    let prefix = unique_id.split('.').next().unwrap_or_default();
    RESOURCE_TYPES
        .iter()
        .find(|t| **t == prefix)
        .copied()
        .unwrap_or("unknown")
}

/// What a node is called in the pages; see [`NodeAttempt::name`].
pub(crate) fn node_name(unique_id: &str, resource_type: &str) -> String {
    let parts: Vec<&str> = unique_id.split('.').collect();
    let Some(mut rest) = parts.get(2..).filter(|r| !r.is_empty()) else {
        return unique_id.to_string();
    };
    if let [head @ .., hash] = rest
        && resource_type == "test"
        && !head.is_empty()
        && hash.len() == 10
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
    {
        rest = head;
    }
    rest.join(".")
}

/// `started_at + elapsed_s` in the store's form (RFC 3339 UTC, milliseconds).
fn finished_at(started_at: &str, elapsed_s: f64) -> Option<String> {
    let start = DateTime::parse_from_rfc3339(started_at).ok()?;
    let elapsed = TimeDelta::try_milliseconds((elapsed_s.max(0.0) * 1000.0).round() as i64)?;
    let end = start.with_timezone(&Utc).checked_add_signed(elapsed)?;
    Some(end.to_rfc3339_opts(SecondsFormat::Millis, true))
}

impl From<NodeExecution> for NodeAttempt {
    fn from(e: NodeExecution) -> Self {
        let r = e.record;
        let kind = resource_type(&r.unique_id);
        NodeAttempt {
            resource_type: kind,
            name: node_name(&r.unique_id, kind),
            // A running attempt (its start recorded by the runner) has not finished.
            finished_at: (r.status != "running")
                .then(|| finished_at(&r.started_at, r.elapsed_s))
                .flatten(),
            unique_id: r.unique_id,
            status: r.status,
            attempt: e.attempt,
            started_at: r.started_at,
            elapsed_s: r.elapsed_s,
            rows_affected: r.rows_affected,
            delta_version: r.delta_version,
            error: e.error,
            message: r.message,
        }
    }
}

/// A registered model and where its production alias points.
#[derive(Debug, Clone, Serialize)]
pub struct ModelEntry {
    pub name: String,
    pub versions: i64,
    pub latest: i64,
    pub latest_created_at: String,
    /// The version the `production` alias points at, if any.
    pub production: Option<i64>,
    /// Every alias and its version, by alias.
    pub aliases: Vec<(String, i64)>,
}

#[derive(Debug, Serialize)]
pub struct Overview {
    pub runs: Vec<RunRecord>,
    /// The most recent run, whose failing tests are listed.
    pub latest_run: Option<RunRecord>,
    /// The tests (data and unit tests) whose last attempt in the latest run failed or errored.
    pub failing_tests: Vec<NodeAttempt>,
    pub models: Vec<ModelEntry>,
    /// The alias `production` means (lakeforge-meta's default alias).
    pub production_alias: &'static str,
    /// lakeforge.yml's schedules with their next and last ticks.
    pub schedules: crate::schedules::Schedules,
}

pub async fn overview(State(state): State<Arc<UiState>>) -> UiResult<Json<Overview>> {
    let store = &state.store;
    let runs = store.runs(OVERVIEW_RUNS).await?;
    let latest_run = runs.first().cloned();
    let failing_tests = match &latest_run {
        Some(run) => last_attempts(store.node_executions(&run.run_id).await?)
            .into_iter()
            .map(NodeAttempt::from)
            .filter(|n| {
                matches!(n.resource_type, "test" | "unit_test")
                    && matches!(n.status.as_str(), "fail" | "error")
            })
            .collect(),
        None => Vec::new(),
    };
    let models = store
        .model_summaries()
        .await?
        .into_iter()
        .map(|m| ModelEntry {
            production: m
                .aliases
                .iter()
                .find(|(a, _)| a == DEFAULT_ALIAS)
                .map(|(_, v)| *v),
            name: m.name,
            versions: m.versions,
            latest: m.latest,
            latest_created_at: m.latest_created_at,
            aliases: m.aliases,
        })
        .collect();
    let schedules = crate::schedules::schedules(&state.project, store, Utc::now()).await?;
    Ok(Json(Overview {
        runs,
        latest_run,
        failing_tests,
        models,
        production_alias: DEFAULT_ALIAS,
        schedules,
    }))
}

/// Each node's last attempt, in the order the executions came.
fn last_attempts(executions: Vec<NodeExecution>) -> Vec<NodeExecution> {
    let mut last: Vec<NodeExecution> = Vec::new();
    for e in executions {
        match last
            .iter_mut()
            .find(|l| l.record.unique_id == e.record.unique_id)
        {
            Some(l) if l.attempt < e.attempt => *l = e,
            Some(_) => {}
            None => last.push(e),
        }
    }
    last
}

#[derive(Debug, Serialize)]
pub struct RunsPage {
    pub runs: Vec<RunRecord>,
    /// Runs matching the filters, on every page.
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

pub async fn runs(
    State(state): State<Arc<UiState>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> UiResult<Json<RunsPage>> {
    let Query(pairs) = query.map_err(|e| UiError::bad("query", e.body_text()))?;
    let filter = RunsFilter::parse(&pairs)?;
    let found = state
        .store
        .find_runs(&filter.query, filter.per_page, filter.offset())
        .await?;
    Ok(Json(RunsPage {
        runs: found.runs,
        total: found.total,
        page: filter.page,
        per_page: filter.per_page,
    }))
}

#[derive(Debug, Serialize)]
pub struct RunDetail {
    pub run: RunRecord,
    /// Every attempt of every node, in the order they started.
    pub nodes: Vec<NodeAttempt>,
}

/// The run with this exact id, or 404 (an id the path cannot even carry is 404 too).
pub(crate) async fn find_run(state: &UiState, run_id: &str) -> UiResult<RunRecord> {
    state
        .store
        .run(run_id)
        .await?
        .ok_or_else(|| UiError::NotFound {
            what: format!("run `{run_id}`"),
        })
}

pub async fn run(
    State(state): State<Arc<UiState>>,
    path: Result<Path<String>, PathRejection>,
) -> UiResult<Json<RunDetail>> {
    let Path(run_id) = path.map_err(|_| UiError::NotFound {
        what: "run with that id".into(),
    })?;
    let run = find_run(&state, &run_id).await?;
    let nodes = state
        .store
        .node_executions(&run.run_id)
        .await?
        .into_iter()
        .map(NodeAttempt::from)
        .collect();
    Ok(Json(RunDetail { run, nodes }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_types_come_from_the_id() {
        assert_eq!(resource_type("model.shop.orders"), "model");
        assert_eq!(resource_type("unit_test.shop.orders.t"), "unit_test");
        assert_eq!(resource_type("operation.shop.on-run-start.0"), "operation");
        assert_eq!(resource_type("nonsense"), "unknown");
        assert_eq!(resource_type(""), "unknown");
    }

    #[test]
    fn names_drop_the_type_the_package_and_a_test_hash() {
        let name = |id: &str| node_name(id, resource_type(id));
        assert_eq!(name("model.shop.orders"), "orders");
        assert_eq!(
            name("test.shop.not_null_orders_id.61055f5794"),
            "not_null_orders_id"
        );
        assert_eq!(name("test.shop.assert_positive"), "assert_positive");
        assert_eq!(name("unit_test.shop.orders.t"), "orders.t");
        assert_eq!(name("source.shop.raw.orders"), "raw.orders");
        assert_eq!(name("model.shop.version.61055f5794"), "version.61055f5794");
        assert_eq!(name("odd"), "odd");
        assert_eq!(name("model.shop"), "model.shop");
    }

    #[test]
    fn the_end_is_the_start_plus_the_elapsed_time() {
        assert_eq!(
            finished_at("2026-01-01T23:59:59.500Z", 1.25).as_deref(),
            Some("2026-01-02T00:00:00.750Z")
        );
        assert_eq!(
            finished_at("2026-01-01T10:00:00+02:00", 0.0).as_deref(),
            Some("2026-01-01T08:00:00.000Z")
        );
        assert_eq!(finished_at("yesterday", 1.0), None);
        assert_eq!(finished_at("2026-01-01T00:00:00Z", f64::INFINITY), None);
    }
}
