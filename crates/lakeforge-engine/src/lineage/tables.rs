//! Table-level lineage, from the project's graph alone: the models, seeds and sources around
//! a node, as the trees `lakeforge lineage` prints (depth first, each table expanded once) or
//! as a flat list with distances. No SQL is planned, so nothing has to be built first. The
//! column-level trace (`trace.rs`) walks the same tables. [`resolve`] finds the table a user
//! named, for `lakeforge lineage NODE` and the web UI's lineage page alike.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use lakeforge_project::error::suggest;
use lakeforge_project::{Materialization, Project, Relation, ResourceType};

use crate::error::{EngineError, Result};

/// A table of the graph: a model, seed or source (tests are left out).
pub struct Entity<'a> {
    /// As users name it: the node's name, or `source_name.table_name`.
    pub name: String,
    pub resource_type: &'static str,
    /// None for a source.
    pub materialized: Option<Materialization>,
    pub relation: &'a Relation,
}

/// The table `id` names, if it is one.
pub fn entity<'a>(project: &'a Project, id: &str) -> Option<Entity<'a>> {
    if let Some(n) = project.nodes.get(id) {
        return matches!(
            n.resource_type,
            ResourceType::Model | ResourceType::Seed | ResourceType::MlModel
        )
        .then(|| Entity {
            name: n.name.clone(),
            resource_type: n.resource_type.as_str(),
            materialized: Some(n.config.materialized),
            relation: &n.relation,
        });
    }
    project.sources.get(id).map(|s| Entity {
        name: format!("{}.{}", s.source_name, s.name),
        resource_type: "source",
        materialized: None,
        relation: &s.relation,
    })
}

/// The unique id of the table `name` names: a model, seed or ML model by name, a source as
/// `source_name.table_name`, or any of them by unique id. Else an error suggesting the
/// nearest name.
pub fn resolve(project: &Project, name: &str) -> Result<String> {
    if let Some(node) = project.node_by_name(name)
        && matches!(
            node.resource_type,
            ResourceType::Model | ResourceType::Seed | ResourceType::MlModel
        )
    {
        return Ok(node.unique_id.clone());
    }
    if let Some(source) = project
        .sources
        .values()
        .find(|s| format!("{}.{}", s.source_name, s.name) == name)
    {
        return Ok(source.unique_id.clone());
    }
    if entity(project, name).is_some() {
        return Ok(name.to_string());
    }
    let candidates: Vec<String> = project
        .nodes
        .values()
        .filter(|n| matches!(n.resource_type, ResourceType::Model | ResourceType::Seed))
        .map(|n| n.name.clone())
        .chain(
            project
                .sources
                .values()
                .map(|s| format!("{}.{}", s.source_name, s.name)),
        )
        .collect();
    let hint = match suggest(name, candidates.iter().map(String::as_str)) {
        Some(s) => format!("did you mean `{s}`?"),
        None => "`lakeforge ls` lists the project's models and seeds".to_string(),
    };
    Err(EngineError::NoSuchTable {
        name: name.to_string(),
        hint,
    })
}

/// Whether `id` has columns to trace: an ML model's lineage is its tables only.
pub fn has_columns(project: &Project, id: &str) -> bool {
    project
        .nodes
        .get(id)
        .is_none_or(|n| n.resource_type != ResourceType::MlModel)
}

/// Where a source that is not a table of the lake is read from: its database table or its
/// files (None for any other node).
pub fn read_in_place(project: &Project, id: &str) -> Option<String> {
    let s = project.sources.get(id)?;
    if let Some(db) = &s.database {
        return Some(format!(
            "{} table {} of connection `{}`",
            db.kind.as_str(),
            db.remote_name(),
            db.connection
        ));
    }
    s.external
        .as_ref()
        .map(|x| format!("files at {}", x.location))
}

pub(super) fn is_ephemeral(project: &Project, id: &str) -> bool {
    project
        .nodes
        .get(id)
        .is_some_and(|n| n.config.materialized == Materialization::Ephemeral)
}

pub(super) fn is_model(project: &Project, id: &str) -> bool {
    project
        .nodes
        .get(id)
        .is_some_and(|n| n.resource_type == ResourceType::Model)
}

/// The name users know `id` by (its id when it is not a table).
pub fn display_name(project: &Project, id: &str) -> String {
    entity(project, id)
        .map(|e| e.name)
        .unwrap_or_else(|| id.to_string())
}

/// A line of a table tree: a table at a depth below the root.
pub struct TreeLine {
    pub depth: usize,
    pub id: String,
    /// Already shown with its own subtree higher up.
    pub repeated: bool,
}

/// The tables reachable from `root` along `edges` (parents or children), depth first, sorted by
/// name at each level; a table reached again is not expanded again.
pub fn tree(
    project: &Project,
    edges: &BTreeMap<String, Vec<String>>,
    root: &str,
    max_depth: Option<usize>,
) -> Vec<TreeLine> {
    fn next(project: &Project, edges: &BTreeMap<String, Vec<String>>, id: &str) -> Vec<String> {
        let mut ids: Vec<String> = edges
            .get(id)
            .into_iter()
            .flatten()
            .filter(|c| entity(project, c).is_some())
            .cloned()
            .collect();
        ids.sort_by_key(|c| display_name(project, c));
        ids.dedup();
        ids
    }
    let mut lines = Vec::new();
    let mut expanded = HashSet::new();
    let mut stack: Vec<(usize, String)> = next(project, edges, root)
        .into_iter()
        .rev()
        .map(|id| (1, id))
        .collect();
    while let Some((depth, id)) = stack.pop() {
        let children = if max_depth.is_none_or(|d| depth < d) {
            next(project, edges, &id)
        } else {
            Vec::new()
        };
        let repeated = !children.is_empty() && !expanded.insert(id.clone());
        if !repeated {
            stack.extend(children.into_iter().rev().map(|c| (depth + 1, c)));
        }
        lines.push(TreeLine {
            depth,
            id,
            repeated,
        });
    }
    lines
}

/// Tables within `max_depth` of `root` along `edges`, with their distance, nearest first.
pub fn reachable(
    project: &Project,
    edges: &BTreeMap<String, Vec<String>>,
    root: &str,
    max_depth: Option<usize>,
) -> Vec<(String, usize)> {
    let mut seen: HashMap<String, usize> = HashMap::from([(root.to_string(), 0)]);
    let mut queue = VecDeque::from([root.to_string()]);
    let mut out = Vec::new();
    while let Some(id) = queue.pop_front() {
        let depth = seen[&id];
        if max_depth.is_some_and(|d| depth >= d) {
            continue;
        }
        for n in edges.get(&id).into_iter().flatten() {
            if entity(project, n).is_some() && !seen.contains_key(n) {
                seen.insert(n.clone(), depth + 1);
                out.push((n.clone(), depth + 1));
                queue.push_back(n.clone());
            }
        }
    }
    out.sort_by_key(|a| (a.1, display_name(project, &a.0)));
    out
}
