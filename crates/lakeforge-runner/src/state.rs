//! State-aware execution: what each node read (lineage edges with the Delta versions of its
//! upstream tables) and whether it can be skipped under `--changed` because its SQL, config
//! and inputs are the same as at its last successful execution and its own table is still
//! the one that execution wrote.

use parking_lot::Mutex;
use std::collections::HashMap;

use lakeforge_engine::{Engine, StoredKind};
use lakeforge_meta::{LatestExecution, LineageEdge};
use lakeforge_project::{Materialization, Node, Project, ResourceType};

/// Delta versions of the tables this run has seen, by unique id: written by a node of the run,
/// or read once from the lake.
#[derive(Default)]
pub(crate) struct Versions(Mutex<HashMap<String, Option<i64>>>);

impl Versions {
    pub fn set(&self, unique_id: &str, version: Option<i64>) {
        self.0.lock().insert(unique_id.to_string(), version);
    }

    /// The current version of a node's or source's table; None for views, ephemeral models
    /// and tables that do not exist.
    async fn get(&self, engine: &Engine, project: &Project, unique_id: &str) -> Option<i64> {
        if let Some(v) = self.0.lock().get(unique_id) {
            return *v;
        }
        let relation = match project.nodes.get(unique_id) {
            Some(n) if n.config.materialized == Materialization::Ephemeral => None,
            // An ML model's version is the registry's; the run learns it when the model
            // trains or a scoring node loads it.
            Some(n) if n.resource_type == ResourceType::MlModel => None,
            Some(n) => Some(&n.relation),
            None => project.sources.get(unique_id).map(|s| &s.relation),
        };
        let v = match relation {
            Some(r) => engine.table_version(r).await,
            None => None,
        };
        self.set(unique_id, v);
        v
    }
}

/// What the node reads now: every node or source it depends on, with its current version.
pub(crate) async fn upstream_edges(
    versions: &Versions,
    engine: &Engine,
    project: &Project,
    node: &Node,
) -> Vec<LineageEdge> {
    let mut edges = Vec::with_capacity(node.depends_on.len());
    for dep in &node.depends_on {
        let relation = project
            .nodes
            .get(dep)
            .filter(|n| {
                n.config.materialized != Materialization::Ephemeral
                    && n.resource_type != ResourceType::MlModel
            })
            .map(|n| n.relation.to_string())
            .or_else(|| project.sources.get(dep).map(|s| s.relation.to_string()));
        edges.push(LineageEdge {
            upstream: dep.clone(),
            upstream_relation: relation,
            upstream_version: versions.get(engine, project, dep).await,
        });
    }
    edges
}

/// Whether `node` would produce what it already produced: same hash, same upstream tables at
/// the same versions, and its own output untouched. Returns the output's current Delta
/// version (None for views and tests) when it is up to date.
pub(crate) async fn up_to_date(
    last: Option<&LatestExecution>,
    engine: &Engine,
    node: &Node,
    hash: &str,
    upstream: &[LineageEdge],
) -> Option<Option<i64>> {
    let last = last?;
    if !matches!(last.status.as_str(), "success" | "pass") || last.sql_hash.as_deref() != Some(hash)
    {
        return None;
    }
    let key = |e: &LineageEdge| (e.upstream.clone(), e.upstream_version);
    let mut now: Vec<_> = upstream.iter().map(key).collect();
    let mut then: Vec<_> = last.upstream.iter().map(key).collect();
    now.sort();
    then.sort();
    // An input without a version (a view, an ephemeral model, a table outside the lake) may
    // have changed without a trace: such a node always runs.
    if now != then || now.iter().any(|(_, v)| v.is_none()) {
        return None;
    }
    match (node.resource_type, node.config.materialized) {
        (ResourceType::Test, _) => Some(None),
        // A trained model's version stays in the registry; nothing in the lake to compare.
        (ResourceType::MlModel, _) => Some(last.delta_version),
        (ResourceType::UnitTest, _) | (_, Materialization::Ephemeral) => None,
        (_, Materialization::View) => {
            (engine.stored(&node.relation) == Some(StoredKind::View)).then_some(None)
        }
        _ => {
            let current = engine.table_version(&node.relation).await?;
            (Some(current) == last.delta_version).then_some(Some(current))
        }
    }
}
