//! The project's graph at table level, for the lineage page: `GET /api/lineage` (every node
//! and source with the edges between them) and `GET /api/lineage?select=...` (the unique ids
//! dbt's selector syntax picks, through lakeforge-project's own selection, the one
//! `lakeforge ls -s` uses); and one node's column-level lineage,
//! `GET /api/lineage/{unique_id}/columns[?column=&downstream=true]`, traced by
//! lakeforge-engine's `lineage::trace` through the UI's query session, as `lakeforge lineage`
//! traces it (the same resolving of the node, the same JSON).
//!
//! The graph is the project as the CLI loaded it when the UI started ([`ProjectGraph`]); a
//! project that did not load leaves the other pages working, and these routes answer with its
//! load error.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use lakeforge_engine::lineage::tables::{display_name, has_columns, resolve};
use lakeforge_engine::lineage::trace::{Direction, Owner, Tracer};
use lakeforge_project::{Node, Project, ResourceType, SourceTable};
use serde::Serialize;
use serde_json::{Value, json};

use crate::UiState;
use crate::error::{UiError, UiResult};

/// The project the lineage page draws.
#[derive(Debug, Clone, Default)]
pub enum ProjectGraph {
    /// No project was given to the UI.
    #[default]
    Absent,
    Loaded(Arc<Project>),
    /// The project did not load: its error as users read it (`error_text`).
    Failed(String),
}

impl ProjectGraph {
    pub(crate) fn project(&self) -> UiResult<&Project> {
        self.shared().map(|p| p.as_ref())
    }

    /// The project, or why there is none.
    pub(crate) fn shared(&self) -> UiResult<&Arc<Project>> {
        match self {
            ProjectGraph::Loaded(p) => Ok(p),
            ProjectGraph::Failed(message) => Err(UiError::NoProject(format!(
                "the project did not load: {message}"
            ))),
            ProjectGraph::Absent => Err(UiError::NoProject(
                "no project was given to the UI".to_string(),
            )),
        }
    }
}

/// One node of the graph as the page reads it.
#[derive(Debug, Serialize, PartialEq)]
pub struct GraphNode<'a> {
    pub unique_id: &'a str,
    pub name: String,
    pub resource_type: &'static str,
    pub package: &'a str,
    /// Where the node has one: models and snapshots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub materialized: Option<&'static str>,
    pub path: &'a str,
    pub description: &'a str,
    pub tags: &'a [String],
}

fn node_entry(node: &Node) -> GraphNode<'_> {
    let materialized = matches!(
        node.resource_type,
        ResourceType::Model | ResourceType::Snapshot
    )
    .then(|| node.config.materialized.as_str());
    GraphNode {
        unique_id: &node.unique_id,
        name: node.name.clone(),
        resource_type: node.resource_type.as_str(),
        package: node.package(),
        materialized,
        path: &node.path,
        description: &node.description,
        tags: &node.config.tags,
    }
}

fn source_entry(source: &SourceTable) -> GraphNode<'_> {
    GraphNode {
        unique_id: &source.unique_id,
        // As dbt shows a source: `source_name.table`.
        name: format!("{}.{}", source.source_name, source.name),
        resource_type: ResourceType::Source.as_str(),
        package: source.package(),
        materialized: None,
        path: &source.path,
        description: &source.description,
        tags: &[],
    }
}

/// The graph: every node and source, and each dependency between two of them as
/// `[parent, child]` (a dependency on something the project does not define is left out).
pub fn graph(project: &Project) -> Value {
    let nodes: Vec<GraphNode<'_>> = project
        .sources
        .values()
        .map(source_entry)
        .chain(project.nodes.values().map(node_entry))
        .collect();
    let known = |id: &str| project.nodes.contains_key(id) || project.sources.contains_key(id);
    let edges: BTreeSet<(&str, &str)> = project
        .nodes
        .values()
        .flat_map(|n| {
            n.depends_on
                .iter()
                .filter(|p| known(p))
                .map(move |p| (p.as_str(), n.unique_id.as_str()))
        })
        .collect();
    let edges: Vec<[&str; 2]> = edges.into_iter().map(|(p, c)| [p, c]).collect();
    json!({ "project": project.name, "nodes": nodes, "edges": edges })
}

/// `GET /api/lineage`, or with `?select=` the ids that selection picks (sources are never
/// selected, as in `lakeforge ls`).
pub async fn lineage(
    State(state): State<Arc<UiState>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> UiResult<Json<Value>> {
    let Query(pairs) = query.map_err(|e| UiError::bad("query", e.body_text()))?;
    let mut select = None;
    for (key, value) in pairs {
        match key.as_str() {
            "select" => select = Some(value),
            other => {
                return Err(UiError::bad(
                    other,
                    format!("unknown parameter `{other}`; the lineage takes `select`"),
                ));
            }
        }
    }
    let project = state.project.project()?;
    match select {
        None => Ok(Json(graph(project))),
        Some(select) => {
            let selected =
                lakeforge_project::select(project, std::slice::from_ref(&select), &[])
                    .map_err(|e| UiError::bad("select", lakeforge_project::error_text(&e)))?;
            Ok(Json(json!({ "select": select, "selected": selected })))
        }
    }
}

/// `GET /api/lineage/{unique_id}/columns`: the node's columns, each traced upstream to the
/// columns it is computed from (direct ones followed model by model, indirect ones listed), or
/// with `downstream=true` to the columns of downstream models that use it; `column=` traces
/// one column. The node may also be named as `lakeforge lineage` takes it. `tables` maps each
/// table named in the trace to its unique id, for links. The tables the traced models read
/// must be in the lake (else a 409 saying what to build).
pub async fn columns(
    State(state): State<Arc<UiState>>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> UiResult<Json<Value>> {
    let Path(asked) = id.map_err(|e| UiError::bad("unique_id", e.body_text()))?;
    let Query(pairs) = query.map_err(|e| UiError::bad("query", e.body_text()))?;
    let mut column = None;
    let mut direction = Direction::Up;
    for (key, value) in pairs {
        match key.as_str() {
            "column" if !value.is_empty() => column = Some(value),
            "column" => {}
            "downstream" => {
                direction = match value.as_str() {
                    "true" | "1" => Direction::Down,
                    "false" | "0" | "" => Direction::Up,
                    other => {
                        return Err(UiError::bad(
                            "downstream",
                            format!("`{other}` is not a boolean; use `downstream=true`"),
                        ));
                    }
                }
            }
            other => {
                return Err(UiError::bad(
                    other,
                    format!(
                        "unknown parameter `{other}`; column lineage takes `column` and `downstream`"
                    ),
                ));
            }
        }
    }
    let project = state.project.shared()?;
    let root = resolve(project, &asked).map_err(UiError::Lineage)?;
    let name = display_name(project, &root);
    let way = match direction {
        Direction::Up => "upstream",
        Direction::Down => "downstream",
    };
    let mut out = json!({
        "node": {"unique_id": root, "name": name},
        "direction": way,
        "column": column,
    });
    if !has_columns(project, &root) {
        out["columns"] = json!([]);
        out["note"] = json!("an ML model has no columns of its own: its lineage is its tables");
        return Ok(Json(out));
    }
    let engine = state.engine.as_ref().ok_or_else(|| {
        UiError::NoLake(
            "the lake could not be opened when the UI started (its warning says why), so column lineage is unavailable\nhint: restart `lakeforge ui` once the lake opens".to_string(),
        )
    })?;
    let mut tracer = Tracer::new(project, engine, &name);
    let trace = tracer
        .trace(&root, column.as_deref(), direction, None)
        .await
        .map_err(UiError::Lineage)?;
    let mut tables = BTreeMap::new();
    for v in &trace.visited {
        for col in std::iter::once(&v.col).chain(v.edges.iter().map(|e| &e.to)) {
            if let Owner::Node(id) = &col.owner {
                tables.insert(display_name(project, id), id.clone());
            }
        }
    }
    out["columns"] = json!(trace.root_columns().collect::<Vec<_>>());
    let (key, list) = trace.to_json(project);
    out[key] = list;
    out["tables"] = json!(tables);
    Ok(Json(out))
}
