//! Data quality, for the quality page: `GET /api/quality` (every data test of the project
//! with how it ended in each of the latest runs that ran tests, filterable by model and by
//! latest status; the models' quarantine counts over runs; each source's freshness policy and
//! the last `lakeforge source freshness` result) and `GET /api/quality/tests/{unique_id}` (one
//! test: what the project says of it, its history, its compiled SQL, its failing rows).
//!
//! What ran is the store's (the runner records each test's failures and failing-row sample,
//! each model's quarantined rows, `lakeforge-meta`'s version 6); what a test checks (its
//! model, column, arguments) is the loaded project's; a test that stores its failures has
//! them read from the lake through the engine, a bounded `SELECT` of the audit table; a
//! freshness result is the one `lakeforge source freshness` wrote to `target/sources.json`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use lakeforge_engine::Engine;
use lakeforge_meta::NodeRunResult;
use lakeforge_project::{
    CompileContext, Node, Project, Relation, ResourceType, Severity, TestKind,
};
use serde::Serialize;
use serde_json::Value;

use crate::UiState;
use crate::api::{node_name, resource_type};
use crate::error::{UiError, UiResult};

/// Runs the grid shows by default, and at most.
const DEFAULT_RUNS: i64 = 20;
const MAX_RUNS: i64 = 100;
/// Rows of a stored failures table the test page shows.
const FAILING_ROWS: usize = 50;
/// The latest statuses the list filters by; `none` is a test with no recorded result.
const STATUSES: &[&str] = &["pass", "warn", "fail", "error", "skipped", "none"];

/// Whether `unique_id` names a test (data or unit test): the test routes answer for those
/// only, not for any node with a history.
pub(crate) fn is_test_id(unique_id: &str) -> bool {
    unique_id.starts_with("test.") || unique_id.starts_with("unit_test.")
}

/// The query of both routes: `runs=N` (1 to 100), and for the list `model=` (a model's
/// unique id or name) and `status=` (one of [`STATUSES`]).
#[derive(Debug, Default)]
struct QualityQuery {
    runs: i64,
    model: Option<String>,
    status: Option<String>,
}

impl QualityQuery {
    fn parse(pairs: &[(String, String)]) -> UiResult<QualityQuery> {
        let mut q = QualityQuery {
            runs: DEFAULT_RUNS,
            ..QualityQuery::default()
        };
        for (key, value) in pairs {
            let value = value.trim();
            match key.as_str() {
                "runs" => {
                    q.runs = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_RUNS).contains(n))
                        .ok_or_else(|| {
                            UiError::bad(
                                "runs",
                                format!("`{value}` is not a number of runs from 1 to {MAX_RUNS}"),
                            )
                        })?
                }
                "model" if !value.is_empty() => q.model = Some(value.to_string()),
                "status" if !value.is_empty() => {
                    if !STATUSES.contains(&value) {
                        return Err(UiError::bad(
                            "status",
                            format!(
                                "`{value}` is not a test status; use one of {}",
                                STATUSES.join(", ")
                            ),
                        ));
                    }
                    q.status = Some(value.to_string());
                }
                "model" | "status" => {}
                other => {
                    return Err(UiError::bad(
                        other,
                        format!("unknown parameter `{other}`; use runs, model or status"),
                    ));
                }
            }
        }
        Ok(q)
    }
}

fn query_of(query: Result<Query<Vec<(String, String)>>, QueryRejection>) -> UiResult<QualityQuery> {
    let Query(pairs) = query.map_err(|e| UiError::bad("query", e.body_text()))?;
    QualityQuery::parse(&pairs)
}

/// A run a grid column stands for.
#[derive(Debug, Serialize, PartialEq)]
pub struct RunColumn {
    pub run_id: String,
    pub started_at: String,
    pub command: String,
}

/// How a node ended in one run: a cell of a grid.
#[derive(Debug, Serialize)]
pub struct Cell {
    pub status: String,
    /// Tests: the value of `fail_calc` (failing rows, by default). Models: rows quarantined.
    pub count: Option<i64>,
}

/// What a data test checks, from the project (or only its id, for a test the project no
/// longer has).
#[derive(Debug, Serialize)]
pub struct TestInfo {
    pub unique_id: String,
    pub name: String,
    /// The generic test (`not_null`, `accepted_values`); none for a singular test.
    pub test_name: Option<String>,
    /// The model (seed, source, snapshot) the test is attached to, or a singular test's only
    /// input.
    pub model: Option<String>,
    /// `model`'s name.
    pub model_name: Option<String>,
    pub column: Option<String>,
    /// What a singular test reads.
    pub reads: Vec<String>,
    pub severity: Option<&'static str>,
    pub store_failures: bool,
    /// Whether the loaded project has this test.
    pub in_project: bool,
}

#[derive(Debug, Serialize)]
pub struct TestRow {
    #[serde(flatten)]
    pub info: TestInfo,
    /// Its status in the newest run that ran it; `none` if no run did.
    pub latest_status: String,
    pub latest_failures: Option<i64>,
    /// One cell per run of the list's `runs`, `null` where that run did not run it.
    pub results: Vec<Option<Cell>>,
}

#[derive(Debug, Serialize)]
pub struct QuarantineRow {
    pub unique_id: String,
    pub name: String,
    /// The quarantine table, where the project has the model.
    pub relation: Option<String>,
    pub counts: Vec<Option<Cell>>,
}

#[derive(Debug, Serialize)]
pub struct Quarantine {
    pub runs: Vec<RunColumn>,
    pub models: Vec<QuarantineRow>,
}

/// A source's freshness policy, and the last check of it.
#[derive(Debug, Serialize)]
pub struct SourceFreshness {
    pub unique_id: String,
    pub name: String,
    pub loaded_at_field: Option<String>,
    /// The `freshness:` policy as written (`warn_after`, `error_after`, `filter`).
    pub policy: Value,
    /// The entry of `target/sources.json` for this source, if the last check had one.
    pub result: Option<Value>,
}

#[derive(Debug, Serialize)]
pub struct QualityPage {
    /// Newest first: the runs that ran data tests.
    pub runs: Vec<RunColumn>,
    pub tests: Vec<TestRow>,
    /// Every model a test is attached to (for the filter), as (unique id, name).
    pub models: Vec<(String, String)>,
    pub statuses: &'static [&'static str],
    pub quarantine: Quarantine,
    pub sources: Vec<SourceFreshness>,
    /// When the freshness results were written (`target/sources.json`), if ever.
    pub freshness_checked_at: Option<String>,
    /// Why the project's side (models, columns, sources) is missing, when it is.
    pub project_error: Option<String>,
}

/// The project, or why there is none (the page still shows what the store recorded).
fn project_of(state: &UiState) -> (Option<Arc<Project>>, Option<String>) {
    match state.project.shared() {
        Ok(p) => (Some(p.clone()), None),
        Err(e) => (None, Some(e.to_string())),
    }
}

fn test_info(unique_id: &str, project: Option<&Project>) -> TestInfo {
    let node = project.and_then(|p| p.nodes.get(unique_id));
    let name_of = |id: &str| {
        project
            .and_then(|p| {
                p.nodes.get(id).map(|n| n.name.clone()).or_else(|| {
                    p.sources
                        .get(id)
                        .map(|s| format!("{}.{}", s.source_name, s.name))
                })
            })
            .unwrap_or_else(|| id.to_string())
    };
    let Some(node) = node else {
        return TestInfo {
            unique_id: unique_id.to_string(),
            name: node_name(unique_id, resource_type(unique_id)),
            test_name: None,
            model: None,
            model_name: None,
            column: None,
            reads: Vec::new(),
            severity: None,
            store_failures: false,
            in_project: false,
        };
    };
    let (test_name, model, column, reads) = match &node.test {
        Some(TestKind::Generic {
            name,
            column,
            attached_to,
            ..
        }) => (
            Some(name.clone()),
            Some(attached_to.clone()),
            column.clone(),
            Vec::new(),
        ),
        _ => {
            let only = (node.depends_on.len() == 1).then(|| node.depends_on[0].clone());
            (None, only, None, node.depends_on.clone())
        }
    };
    TestInfo {
        unique_id: node.unique_id.clone(),
        name: node.name.clone(),
        test_name,
        model_name: model.as_deref().map(name_of),
        model,
        column,
        reads,
        severity: Some(match node.config.severity {
            Severity::Warn => "warn",
            Severity::Error => "error",
        }),
        store_failures: node.config.test.store_failures,
        in_project: true,
    }
}

/// The runs of `results` (newest first, as the store lists them), each once.
fn run_columns(results: &[NodeRunResult]) -> Vec<RunColumn> {
    let mut runs: Vec<RunColumn> = Vec::new();
    for r in results {
        if runs.last().is_none_or(|last| last.run_id != r.run_id) {
            runs.push(RunColumn {
                run_id: r.run_id.clone(),
                started_at: r.run_started_at.clone(),
                command: r.command.clone(),
            });
        }
    }
    runs
}

/// Each node's cells across `runs`, from `results`, with `count` read from each execution.
fn cells_by_node(
    runs: &[RunColumn],
    results: Vec<NodeRunResult>,
    count: impl Fn(&NodeRunResult) -> Option<i64>,
) -> BTreeMap<String, Vec<Option<Cell>>> {
    let column: HashMap<&str, usize> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.run_id.as_str(), i))
        .collect();
    let mut out: BTreeMap<String, Vec<Option<Cell>>> = BTreeMap::new();
    for r in &results {
        let Some(&i) = column.get(r.run_id.as_str()) else {
            continue;
        };
        let cells = out
            .entry(r.execution.record.unique_id.clone())
            .or_insert_with(|| (0..runs.len()).map(|_| None).collect());
        cells[i] = Some(Cell {
            status: r.execution.record.status.clone(),
            count: count(r),
        });
    }
    out
}

pub async fn overview(
    State(state): State<Arc<UiState>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> UiResult<Json<QualityPage>> {
    let q = query_of(query)?;
    let (project, project_error) = project_of(&state);
    let project = project.as_deref();

    let results = state.store.results_by_prefix("test.", q.runs).await?;
    let runs = run_columns(&results);
    let mut cells = cells_by_node(&runs, results, |r| r.execution.record.failures);
    // The project's tests, also those no run has run yet.
    for (id, node) in project.map(|p| &p.nodes).into_iter().flatten() {
        if node.resource_type == ResourceType::Test {
            cells
                .entry(id.clone())
                .or_insert_with(|| (0..runs.len()).map(|_| None).collect());
        }
    }
    let mut models: BTreeMap<String, String> = BTreeMap::new();
    let mut tests = Vec::new();
    for (id, results) in cells {
        let info = test_info(&id, project);
        if let (Some(m), Some(n)) = (&info.model, &info.model_name) {
            models.insert(m.clone(), n.clone());
        }
        let latest = results.iter().flatten().next();
        let row = TestRow {
            latest_status: latest.map_or("none".to_string(), |c| c.status.clone()),
            latest_failures: latest.and_then(|c| c.count),
            info,
            results,
        };
        if q.status.as_ref().is_some_and(|s| *s != row.latest_status) {
            continue;
        }
        if let Some(m) = &q.model {
            let matches = |id: &str| {
                id == m
                    || project
                        .and_then(|p| p.nodes.get(id))
                        .is_some_and(|n| &n.name == m)
            };
            let hit = row.info.model.as_deref().is_some_and(matches)
                || row.info.reads.iter().any(|r| matches(r));
            if !hit {
                continue;
            }
        }
        tests.push(row);
    }
    // By model, then column, then name; tests of no model last.
    tests.sort_by(|a, b| {
        let key = |t: &TestRow| {
            (
                t.info.model_name.is_none(),
                t.info.model_name.clone(),
                t.info.column.clone(),
                t.info.name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });

    let quarantine = quarantine(&state, project, q.runs).await?;
    let (sources, freshness_checked_at) = freshness(project).await;
    Ok(Json(QualityPage {
        runs,
        tests,
        models: models.into_iter().collect(),
        statuses: STATUSES,
        quarantine,
        sources,
        freshness_checked_at,
        project_error,
    }))
}

async fn quarantine(state: &UiState, project: Option<&Project>, runs: i64) -> UiResult<Quarantine> {
    let results = state.store.quarantine_results(runs).await?;
    let runs = run_columns(&results);
    let models = cells_by_node(&runs, results, |r| r.execution.record.quarantined)
        .into_iter()
        .map(|(id, counts)| {
            let node = project.and_then(|p| p.nodes.get(&id));
            QuarantineRow {
                name: node.map_or_else(|| id.clone(), |n| n.name.clone()),
                relation: node.map(|n| lakeforge_engine::quarantine::relation(n).to_string()),
                unique_id: id,
                counts,
            }
        })
        .collect();
    Ok(Quarantine { runs, models })
}

/// Every source with a `freshness:` policy, with its entry of `target/sources.json` (what the
/// last `lakeforge source freshness` found), and when that file was written.
async fn freshness(project: Option<&Project>) -> (Vec<SourceFreshness>, Option<String>) {
    let Some(project) = project else {
        return (Vec::new(), None);
    };
    let file = project.target_dir().join("sources.json");
    let written: Option<Value> = tokio::fs::read(&file)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let checked_at = written
        .as_ref()
        .and_then(|w| w.pointer("/metadata/generated_at"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut results: HashMap<String, Value> = HashMap::new();
    if let Some(Value::Array(entries)) = written.as_ref().and_then(|w| w.get("results")) {
        for e in entries {
            if let Some(id) = e.get("unique_id").and_then(Value::as_str) {
                results.insert(id.to_string(), e.clone());
            }
        }
    }
    let sources = project
        .sources
        .values()
        .filter_map(|s| {
            let policy = s.raw.get("freshness").filter(|p| !p.is_null())?.clone();
            Some(SourceFreshness {
                unique_id: s.unique_id.clone(),
                name: format!("{}.{}", s.source_name, s.name),
                loaded_at_field: s.loaded_at_field.clone(),
                result: results.remove(&s.unique_id),
                policy,
            })
        })
        .collect();
    (sources, checked_at)
}

/// One attempt of the test's history.
#[derive(Debug, Serialize)]
pub struct HistoryEntry {
    pub run_id: String,
    pub run_started_at: String,
    pub command: String,
    pub status: String,
    pub attempt: i64,
    pub started_at: String,
    pub elapsed_s: f64,
    pub failures: Option<i64>,
    pub message: Option<String>,
}

/// A test's failing rows, from where they are kept.
#[derive(Debug, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum FailingRows {
    /// The table `store_failures` writes, as it is in the lake now (the latest run's rows).
    Stored {
        relation: String,
        columns: Vec<String>,
        /// Each cell as text; `null` for SQL's NULL.
        rows: Vec<Vec<Option<String>>>,
        /// Whether the table holds more rows than shown.
        truncated: bool,
    },
    /// The few rows the runner kept with the latest failing result, formatted as a table.
    Sample { run_id: String, text: String },
    /// Neither: why.
    None { reason: String },
}

#[derive(Debug, Serialize)]
pub struct TestDetail {
    pub test: TestInfo,
    pub path: Option<String>,
    pub description: Option<String>,
    pub arguments: Option<Value>,
    pub where_clause: Option<String>,
    pub fail_calc: Option<String>,
    pub warn_if: Option<String>,
    pub error_if: Option<String>,
    /// The audit table its failing rows are stored in, with `store_failures`.
    pub audit_relation: Option<String>,
    /// The SQL of its last compile (`target/compiled/...`), if that file is there.
    pub compiled_sql: Option<String>,
    /// Newest first.
    pub history: Vec<HistoryEntry>,
    pub failing_rows: FailingRows,
}

pub async fn test(
    State(state): State<Arc<UiState>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> UiResult<Json<TestDetail>> {
    let Path(unique_id) =
        path.ok()
            .filter(|Path(id)| is_test_id(id))
            .ok_or_else(|| UiError::NotFound {
                what: "test with that id".into(),
            })?;
    let q = query_of(query)?;
    let (project, _) = project_of(&state);
    let node = project
        .as_ref()
        .and_then(|p| p.nodes.get(&unique_id))
        .filter(|n| matches!(n.resource_type, ResourceType::Test | ResourceType::UnitTest));
    let results = state.store.node_history(&unique_id, q.runs).await?;
    if node.is_none() && results.is_empty() {
        return Err(UiError::NotFound {
            what: format!("test `{unique_id}`"),
        });
    }
    let latest_sample = results
        .iter()
        .find_map(|r| Some((r.run_id.clone(), r.execution.record.sample.clone()?)));
    let history = results
        .into_iter()
        .map(|r| {
            let e = r.execution;
            HistoryEntry {
                run_id: r.run_id,
                run_started_at: r.run_started_at,
                command: r.command,
                status: e.record.status,
                attempt: e.attempt,
                started_at: e.record.started_at,
                elapsed_s: e.record.elapsed_s,
                failures: e.record.failures,
                message: e.record.message,
            }
        })
        .collect();
    let info = test_info(&unique_id, project.as_deref());
    let audit = node
        .filter(|n| n.config.test.store_failures)
        .map(|n| n.relation.clone());
    let failing_rows = failing_rows(&state, &unique_id, audit.as_ref(), latest_sample).await;
    let compiled_sql = match (&project, node) {
        (Some(p), Some(n)) => compiled_sql(p, n).await,
        _ => None,
    };
    let cfg = node.map(|n| &n.config.test);
    Ok(Json(TestDetail {
        test: info,
        path: node.map(|n| n.path.clone()),
        description: node
            .map(|n| n.description.clone())
            .filter(|d| !d.is_empty()),
        arguments: node.and_then(|n| match &n.test {
            Some(TestKind::Generic { args, .. }) => serde_json::to_value(args).ok(),
            _ => None,
        }),
        where_clause: node.and_then(|n| n.config.where_clause.clone()),
        fail_calc: cfg.map(|c| c.fail_calc.clone()),
        warn_if: cfg.map(|c| c.warn_if.to_string()),
        error_if: cfg.map(|c| c.error_if.to_string()),
        audit_relation: audit.map(|r| r.to_string()),
        compiled_sql,
        history,
        failing_rows,
    }))
}

/// The SQL the test compiled to when it last ran or was compiled, where the runner writes it.
async fn compiled_sql(project: &Arc<Project>, node: &Node) -> Option<String> {
    let path = CompileContext::new(project.clone()).compiled_path(node);
    tokio::fs::read_to_string(path).await.ok()
}

/// The stored failures table when the test has one in the lake, else the sample of its latest
/// result that kept one (`sample`: that run and its text).
async fn failing_rows(
    state: &UiState,
    unique_id: &str,
    audit: Option<&Relation>,
    sample: Option<(String, String)>,
) -> FailingRows {
    if let (Some(relation), Some(engine)) = (audit, &state.engine)
        && engine.stored(relation).is_some()
    {
        match stored_rows(engine, unique_id, relation).await {
            Ok(rows) => return rows,
            // The history stays worth showing: the page says why the rows are missing.
            Err(reason) => {
                tracing::warn!(test = %unique_id, relation = %relation, error = %reason, "the stored failures could not be read");
                return FailingRows::None {
                    reason: format!("{relation} could not be read: {reason}"),
                };
            }
        }
    }
    match sample {
        Some((run_id, text)) => FailingRows::Sample { run_id, text },
        None => FailingRows::None {
            reason: match (audit, &state.engine) {
                (Some(r), Some(_)) => format!(
                    "the failures table {r} is not in the lake yet, and no run recorded failing rows of this test"
                ),
                (Some(r), None) => format!(
                    "the lake is not open in this UI, so {r} cannot be read, and no run recorded failing rows of this test"
                ),
                (None, _) => "no run recorded failing rows of this test (a test that passed keeps none; runs before this version kept none)".to_string(),
            },
        },
    }
}

/// The first rows of the table `store_failures` wrote: a bounded `SELECT` through the engine.
async fn stored_rows(
    engine: &Engine,
    unique_id: &str,
    relation: &Relation,
) -> Result<FailingRows, String> {
    let sql = format!("select * from {relation} limit {}", FAILING_ROWS + 1);
    let (schema, batches) = engine
        .query(&format!("the failures of {unique_id}"), &sql)
        .await
        .map_err(|e| lakeforge_project::error_text(&e))?;
    let mut rows = text_rows(&batches).map_err(|e| e.to_string())?;
    let truncated = rows.len() > FAILING_ROWS;
    rows.truncate(FAILING_ROWS);
    Ok(FailingRows::Stored {
        relation: relation.to_string(),
        columns: schema.fields().iter().map(|f| f.name().clone()).collect(),
        rows,
        truncated,
    })
}

/// Every row of `batches` as text cells (`None` for NULL).
fn text_rows(
    batches: &[RecordBatch],
) -> Result<Vec<Vec<Option<String>>>, arrow::error::ArrowError> {
    let options = FormatOptions::default();
    let mut out = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..batch.num_rows() {
            out.push(
                batch
                    .columns()
                    .iter()
                    .zip(&formatters)
                    .map(|(c, f)| (!c.is_null(i)).then(|| f.value(i).to_string()))
                    .collect(),
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_query_names_the_parameter_it_refuses() {
        let q = QualityQuery::parse(&pairs(&[
            ("runs", "5"),
            ("model", "orders"),
            ("status", "fail"),
        ]))
        .unwrap();
        assert_eq!(
            (q.runs, q.model.as_deref(), q.status.as_deref()),
            (5, Some("orders"), Some("fail"))
        );
        let q = QualityQuery::parse(&pairs(&[("model", ""), ("status", "")])).unwrap();
        assert_eq!((q.runs, q.model, q.status), (DEFAULT_RUNS, None, None));
        for (bad, field) in [
            (("runs", "0"), "runs"),
            (("runs", "101"), "runs"),
            (("runs", "x"), "runs"),
            (("status", "broken"), "status"),
            (("colour", "red"), "colour"),
        ] {
            match QualityQuery::parse(&pairs(&[bad])) {
                Err(UiError::BadRequest { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
