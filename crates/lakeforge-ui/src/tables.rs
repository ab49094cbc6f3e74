//! The tables of the lake, for the tables pages: the project's models, seeds, snapshots and
//! sources that are stored in the lake, and each one's columns (with the descriptions and
//! tests the project's YAML gives them), Delta history, rows at any version and column
//! profiles, read through lakeforge-engine's `lake::browse` over the engine the CLI opened:
//!
//! - `GET /api/tables`: every stored relation with its materialization, latest version and
//!   row count (from the Delta log's statistics);
//! - `GET /api/tables/{relation}?version=`: its columns at that version (the latest when
//!   left out), its history, a view's SQL;
//! - `GET /api/tables/{relation}/rows?version=&offset=&limit=`: a page of rows;
//! - `GET /api/tables/{relation}/profile?version=`: nulls, distinct values, min, max, mean.
//!
//! `{relation}` is `schema.name` as the lake stores it, or the node's unique id. The lake is
//! read when asked, so a table a run builds while the UI runs shows up at once.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use lakeforge_engine::lake::browse;
use lakeforge_engine::{Engine, EngineError};
use lakeforge_project::adapter::Cell;
use lakeforge_project::{ColumnInfo, Materialization, Project, Relation, ResourceType, TestKind};
use serde::Serialize;
use serde_json::{Value, json};

use crate::UiState;
use crate::error::{UiError, UiResult};
use crate::filters::number;

/// Commits a table's history shows, newest first.
pub const HISTORY_LIMIT: usize = 200;
/// Rows a preview page holds unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 50;
/// The furthest a preview may page into a table: reading up to it is a scan of that many rows.
const MAX_OFFSET: i64 = 10_000_000;

/// A relation of the project that may be stored in the lake.
pub struct Entry<'a> {
    pub unique_id: &'a str,
    pub name: String,
    pub resource_type: ResourceType,
    pub materialized: Option<&'static str>,
    pub relation: &'a Relation,
    pub description: &'a str,
    pub columns: &'a [ColumnInfo],
}

impl Entry<'_> {
    /// How the relation is named in the pages' addresses: `schema.name`.
    pub fn key(&self) -> String {
        key(self.relation)
    }
}

fn key(relation: &Relation) -> String {
    format!("{}.{}", relation.schema, relation.identifier)
}

/// Every model, seed and snapshot the project writes to the lake, and every source that is
/// not read in place (files or a database), sorted by relation.
pub fn entries(project: &Project) -> Vec<Entry<'_>> {
    let mut entries: Vec<Entry<'_>> = all(project).collect();
    entries.sort_by_cached_key(|e| (e.key(), e.unique_id));
    entries
}

fn all(project: &Project) -> impl Iterator<Item = Entry<'_>> {
    let nodes = project.nodes.values().filter(|n| {
        matches!(
            n.resource_type,
            ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
        ) && n.config.materialized != Materialization::Ephemeral
    });
    nodes
        .map(|n| Entry {
            unique_id: &n.unique_id,
            name: n.name.clone(),
            resource_type: n.resource_type,
            materialized: Some(n.config.materialized.as_str()),
            relation: &n.relation,
            description: &n.description,
            columns: &n.columns,
        })
        .chain(
            project
                .sources
                .values()
                .filter(|s| s.external.is_none() && s.database.is_none())
                .map(|s| Entry {
                    unique_id: &s.unique_id,
                    name: format!("{}.{}", s.source_name, s.name),
                    resource_type: ResourceType::Source,
                    materialized: None,
                    relation: &s.relation,
                    description: &s.description,
                    columns: &s.columns,
                }),
        )
}

/// The entry `wanted` names: its `schema.name` or its unique id.
pub fn find<'a>(project: &'a Project, wanted: &str) -> Option<Entry<'a>> {
    all(project).find(|e| e.unique_id == wanted || e.key() == wanted)
}

/// The engine, or why the tables cannot be read.
fn engine(state: &UiState) -> UiResult<&Arc<Engine>> {
    state.engine.as_ref().ok_or_else(|| {
        UiError::NoLake(
            "the lake's tables are unavailable: this UI has no query session over the lake (the \
             project did not load or its lake could not be opened; `lakeforge ui` printed why \
             when it started)\nhint: fix what it printed, then start `lakeforge ui` again"
                .to_string(),
        )
    })
}

/// An engine error as the API answers it: a version the table lacks is the client's
/// mistake, a relation not in the lake a 404; anything else is the server's, logged.
fn engine_error(e: EngineError) -> UiError {
    match e {
        EngineError::NoSuchVersion { .. } => {
            UiError::bad("version", lakeforge_project::error_text(&e))
        }
        EngineError::NotInLake { relation } => UiError::NotFound {
            what: format!("{relation} in the lake"),
        },
        e => UiError::Engine(e),
    }
}

/// One relation in the list.
#[derive(Debug, Serialize)]
struct Listed<'a> {
    relation: String,
    unique_id: &'a str,
    name: &'a str,
    resource_type: &'static str,
    materialized: Option<&'static str>,
    #[serde(flatten)]
    summary: browse::Summary,
}

/// `GET /api/tables`.
pub async fn list(
    State(state): State<Arc<UiState>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> UiResult<Json<Value>> {
    let Query(pairs) = query.map_err(|e| UiError::bad("query", e.body_text()))?;
    if let Some((name, _)) = pairs.first() {
        return Err(UiError::bad(
            name,
            format!("unknown parameter `{name}`; the list of tables takes none"),
        ));
    }
    let project = state.project.project()?;
    let engine = engine(&state)?;
    let entries = entries(project);
    let relations: Vec<Relation> = entries.iter().map(|e| e.relation.clone()).collect();
    let summaries = browse::summaries(engine, &relations).await;
    let mut tables = Vec::new();
    let mut not_built = 0;
    for (entry, summary) in entries.iter().zip(summaries) {
        match summary.map_err(engine_error)? {
            Some(summary) => tables.push(Listed {
                relation: entry.key(),
                unique_id: entry.unique_id,
                name: &entry.name,
                resource_type: entry.resource_type.as_str(),
                materialized: entry.materialized,
                summary,
            }),
            None => not_built += 1,
        }
    }
    Ok(Json(json!({ "tables": tables, "not_built": not_built })))
}

/// The checked query of a table route.
#[derive(Debug, Default, PartialEq)]
struct TableQuery {
    version: Option<i64>,
    offset: usize,
    limit: usize,
}

/// Parse `pairs`, allowing only the parameters named in `allowed`; an empty value is unset.
fn table_query(pairs: &[(String, String)], allowed: &[&str]) -> UiResult<TableQuery> {
    let mut q = TableQuery {
        limit: DEFAULT_LIMIT,
        ..TableQuery::default()
    };
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in pairs {
        if !allowed.contains(&name.as_str()) {
            return Err(UiError::bad(
                name,
                format!("unknown parameter `{name}` (known: {})", allowed.join(", ")),
            ));
        }
        if seen.contains(&name.as_str()) {
            return Err(UiError::bad(name, format!("`{name}` is given twice")));
        }
        seen.push(name);
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match name.as_str() {
            "version" => q.version = Some(number(name, value, 0, i64::MAX)?),
            "offset" => q.offset = number(name, value, 0, MAX_OFFSET)? as usize,
            "limit" => q.limit = number(name, value, 1, browse::MAX_PAGE_ROWS as i64)? as usize,
            _ => {}
        }
    }
    Ok(q)
}

/// The entry a route's `{relation}` names, or a 404.
fn entry<'a>(state: &'a UiState, path: Result<Path<String>, PathRejection>) -> UiResult<Entry<'a>> {
    let project = state.project.project()?;
    let not_found = |what: String| UiError::NotFound { what };
    let Path(wanted) = path.map_err(|_| not_found("table of that name".into()))?;
    find(project, &wanted).ok_or_else(|| {
        not_found(format!(
            "`{wanted}` among the project's models, seeds, snapshots and sources"
        ))
    })
}

/// A test attached to a relation or one of its columns.
#[derive(Debug, Serialize)]
struct AttachedTest<'a> {
    unique_id: &'a str,
    name: &'a str,
    /// `generic` (with the test's name: `not_null`...), `singular` or `unit`.
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    test: Option<&'a str>,
}

/// The tests of `unique_id`: per column (generic tests with a column) and of the whole
/// relation (the others, and singular and unit tests that read it).
fn tests_of<'a>(
    project: &'a Project,
    unique_id: &str,
) -> (Vec<(&'a str, AttachedTest<'a>)>, Vec<AttachedTest<'a>>) {
    let (mut by_column, mut whole) = (Vec::new(), Vec::new());
    for n in project.nodes.values() {
        let test = |kind, which| AttachedTest {
            unique_id: &n.unique_id,
            name: &n.name,
            kind,
            test: which,
        };
        match &n.test {
            Some(TestKind::Generic {
                name,
                column,
                attached_to,
                ..
            }) if attached_to == unique_id => match column {
                Some(c) => by_column.push((c.as_str(), test("generic", Some(name.as_str())))),
                None => whole.push(test("generic", Some(name.as_str()))),
            },
            Some(TestKind::Singular) if n.depends_on.iter().any(|d| d == unique_id) => {
                whole.push(test("singular", None));
            }
            Some(TestKind::Unit(_)) if n.depends_on.iter().any(|d| d == unique_id) => {
                whole.push(test("unit", None));
            }
            _ => {}
        }
    }
    (by_column, whole)
}

/// `GET /api/tables/{relation}`.
pub async fn detail(
    State(state): State<Arc<UiState>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> UiResult<Json<Value>> {
    let Query(pairs) = query.map_err(|e| UiError::bad("query", e.body_text()))?;
    let q = table_query(&pairs, &["version"])?;
    let entry = entry(&state, path)?;
    let engine = engine(&state)?;
    let described = browse::describe(engine, entry.relation, q.version)
        .await
        .map_err(engine_error)?;
    let history = match described.stored {
        browse::Stored::Table { .. } => Some(
            browse::history(engine, entry.relation, HISTORY_LIMIT)
                .await
                .map_err(engine_error)?,
        ),
        browse::Stored::View { .. } => None,
    };
    let project = state.project.project()?;
    let (by_column, whole) = tests_of(project, entry.unique_id);
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let documented = |name: &str| entry.columns.iter().find(|c| same(&c.name, name));
    let tests_for = |name: &str| {
        by_column
            .iter()
            .filter(|(c, _)| same(c, name))
            .map(|(_, t)| t)
            .collect::<Vec<_>>()
    };
    let mut columns: Vec<Value> = described
        .columns
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "data_type": c.data_type,
                "nullable": c.nullable,
                "in_table": true,
                "description": documented(&c.name).map_or("", |d| d.description.as_str()),
                "tests": tests_for(&c.name),
            })
        })
        .collect();
    // Columns the YAML documents that the table (at this version) does not have.
    for c in entry.columns {
        if !described.columns.iter().any(|t| same(&t.name, &c.name)) {
            columns.push(json!({
                "name": c.name,
                "data_type": c.data_type,
                "nullable": null,
                "in_table": false,
                "description": c.description,
                "tests": tests_for(&c.name),
            }));
        }
    }
    let mut body = json!({
        "relation": entry.key(),
        "unique_id": entry.unique_id,
        "name": entry.name,
        "resource_type": entry.resource_type.as_str(),
        "materialized": entry.materialized,
        "description": entry.description,
        "columns": columns,
        "tests": whole,
        "history": history.map(|h| h.commits),
    });
    if let (Some(map), Value::Object(stored)) = (
        body.as_object_mut(),
        serde_json::to_value(&described.stored).unwrap_or_default(),
    ) {
        map.extend(stored);
    }
    Ok(Json(body))
}

/// A cell as JSON: numbers that JavaScript holds exactly as numbers, the rest as text.
fn cell(c: Cell) -> Value {
    // 2^53: beyond it a JavaScript number is no longer every integer.
    const EXACT: i64 = 1 << 53;
    match c {
        Cell::Null => Value::Null,
        Cell::Bool(b) => Value::Bool(b),
        Cell::Int(i) if (-EXACT..=EXACT).contains(&i) => json!(i),
        Cell::Int(i) => Value::String(i.to_string()),
        Cell::Float(f) => serde_json::Number::from_f64(f)
            .map_or_else(|| Value::String(f.to_string()), Value::Number),
        Cell::Decimal(s) | Cell::Text(s) | Cell::Date(s) | Cell::Timestamp(s) => Value::String(s),
    }
}

/// `GET /api/tables/{relation}/rows`.
pub async fn rows(
    State(state): State<Arc<UiState>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> UiResult<Json<Value>> {
    let Query(pairs) = query.map_err(|e| UiError::bad("query", e.body_text()))?;
    let q = table_query(&pairs, &["version", "offset", "limit"])?;
    let entry = entry(&state, path)?;
    let page = browse::rows(
        engine(&state)?,
        entry.relation,
        q.version,
        q.offset,
        q.limit,
    )
    .await
    .map_err(engine_error)?;
    let rows: Vec<Vec<Value>> = page
        .rows
        .into_iter()
        .map(|r| r.into_iter().map(cell).collect())
        .collect();
    Ok(Json(json!({
        "relation": entry.key(),
        "version": page.version,
        "offset": page.offset,
        "limit": q.limit,
        "more": page.more,
        "columns": page.columns,
        "rows": rows,
        "cut_cells": page.cut_cells,
        "max_cell_chars": browse::MAX_CELL_CHARS,
    })))
}

/// `GET /api/tables/{relation}/profile`.
pub async fn profile(
    State(state): State<Arc<UiState>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> UiResult<Json<Value>> {
    let Query(pairs) = query.map_err(|e| UiError::bad("query", e.body_text()))?;
    let q = table_query(&pairs, &["version"])?;
    let entry = entry(&state, path)?;
    let profile = browse::profile(engine(&state)?, entry.relation, q.version)
        .await
        .map_err(engine_error)?;
    Ok(Json(json!({
        "relation": entry.key(),
        "version": profile.version,
        "rows": profile.rows,
        "distinct_is_approximate": true,
        "columns": profile.columns,
    })))
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
    fn the_query_is_checked_parameter_by_parameter() {
        let all = ["version", "offset", "limit"];
        assert_eq!(
            table_query(
                &pairs(&[("version", "3"), ("offset", "50"), ("limit", "")]),
                &all
            )
            .unwrap(),
            TableQuery {
                version: Some(3),
                offset: 50,
                limit: DEFAULT_LIMIT
            }
        );
        for (bad, field) in [
            (vec![("version", "-1")], "version"),
            (vec![("version", "v2")], "version"),
            (vec![("limit", "0")], "limit"),
            (vec![("limit", "501")], "limit"),
            (vec![("offset", "x")], "offset"),
            (vec![("sort", "id")], "sort"),
            (vec![("limit", "1"), ("limit", "2")], "limit"),
        ] {
            match table_query(&pairs(&bad), &all) {
                Err(UiError::BadRequest { field: f, .. }) => assert_eq!(f, field, "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(table_query(&pairs(&[("offset", "1")]), &["version"]).is_err());
    }

    #[test]
    fn cells_become_json_numbers_only_when_exact() {
        assert_eq!(cell(Cell::Int(42)), json!(42));
        assert_eq!(cell(Cell::Int(i64::MAX)), json!(i64::MAX.to_string()));
        assert_eq!(cell(Cell::Float(1.5)), json!(1.5));
        assert_eq!(cell(Cell::Float(f64::NAN)), json!("NaN"));
        assert_eq!(cell(Cell::Decimal("1.10".into())), json!("1.10"));
        assert_eq!(cell(Cell::Null), Value::Null);
    }
}
