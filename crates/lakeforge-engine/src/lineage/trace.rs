//! Column-level lineage across a project: every output column of a node followed model by
//! model up to seeds and sources (upstream), or to the columns of downstream models that use
//! it (downstream, the planned models' lineage inverted). Each model's own lineage comes from
//! [`query_lineage`] over its SQL compiled as a full refresh, so the tables the traced models
//! read must be in the lake; ephemeral models are registered in the session first, as a run
//! does. Direct dependencies are followed; indirect ones (filters, join and group keys, sorts)
//! are listed but not followed, or the trees would hold most of the project. A trace is read
//! as a tree (`lines`, what `lakeforge lineage` prints) or as JSON ([`ColumnTrace::to_json`],
//! what its `--format json` and the web UI's lineage page show).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use lakeforge_project::error::suggest;
use lakeforge_project::{CompileContext, Materialization, Project, Relation, ResourceType};
use serde_json::{Value, json};

use super::tables::{display_name, entity, is_ephemeral, is_model, read_in_place};
use super::{DependencyKind, query_lineage};
use crate::error::{EngineError, Result};
use crate::session::Engine;

/// Which way a column trace goes: to the columns a column is computed from, or to the
/// columns of downstream models that use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// Whose column: a table of the project, or a relation the project does not manage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    Node(String),
    Relation(Relation),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
/// A column of a table of the project (or of a relation it does not manage).
pub struct Col {
    pub owner: Owner,
    pub column: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
/// One step of a trace: a source column (upstream) or a using column (downstream).
pub struct Edge {
    pub kind: DependencyKind,
    pub to: Col,
}

/// One column reached by the trace, with its edges (sources upstream, users downstream).
pub struct Visited {
    pub col: Col,
    pub edges: Vec<Edge>,
}

/// A line of the trace as a tree, depth first.
pub struct TraceLine {
    pub depth: usize,
    pub col: Col,
    /// None for a root column.
    pub kind: Option<DependencyKind>,
    /// Already shown with its own subtree higher up.
    pub repeated: bool,
}

/// The result of a trace: as a tree (`lines`) and as each column reached with its edges
/// (`visited`, in the order first reached).
pub struct ColumnTrace {
    pub direction: Direction,
    pub lines: Vec<TraceLine>,
    pub visited: Vec<Visited>,
}

impl ColumnTrace {
    /// The columns traced from, in order (every output column of the node, or the one asked).
    pub fn root_columns(&self) -> impl Iterator<Item = &str> {
        self.lines
            .iter()
            .filter(|l| l.kind.is_none())
            .map(|l| l.col.column.as_str())
    }

    /// Every column reached with its edges, under the key that says which way they go:
    /// `upstream_columns` (each with its `sources`) or `downstream_columns` (`used_by`).
    pub fn to_json(&self, project: &Project) -> (&'static str, Value) {
        let (key, edges_key) = match self.direction {
            Direction::Up => ("upstream_columns", "sources"),
            Direction::Down => ("downstream_columns", "used_by"),
        };
        let list: Vec<Value> = self
            .visited
            .iter()
            .map(|v| {
                let mut c = col_json(project, &v.col);
                c[edges_key] = v
                    .edges
                    .iter()
                    .map(|e| {
                        let mut to = col_json(project, &e.to);
                        to["kind"] = json!(e.kind.as_str());
                        to
                    })
                    .collect();
                c
            })
            .collect();
        (key, Value::Array(list))
    }
}

/// A column as JSON: the table as users name it (null for a relation the project does not
/// manage), its relation, the column's name.
pub fn col_json(project: &Project, col: &Col) -> Value {
    let (node, relation) = match &col.owner {
        Owner::Node(id) => (
            Some(display_name(project, id)),
            entity(project, id).map(|e| e.relation.to_string()),
        ),
        Owner::Relation(r) => (None, Some(r.to_string())),
    };
    json!({"node": node, "relation": relation, "column": col.column})
}

/// Traces columns through the models of one project, planning each model's SQL once.
pub struct Tracer<'a> {
    project: &'a Project,
    engine: &'a Engine,
    compile: CompileContext,
    /// What the user asked about, for hints.
    asked: &'a str,
    /// Every relation the project manages, and which table it belongs to (models and seeds
    /// before sources that share their relation).
    owners: HashMap<Relation, String>,
    /// Each planned model's output columns, in order, with their sources.
    lineage: HashMap<String, Vec<(String, Vec<Edge>)>>,
}

impl<'a> Tracer<'a> {
    /// A tracer over `project`'s models in `engine`'s session. `asked` is the node as the user
    /// named it, for hints.
    pub fn new(project: &'a Arc<Project>, engine: &'a Engine, asked: &'a str) -> Self {
        let mut owners = HashMap::new();
        for n in project.nodes.values() {
            if matches!(n.resource_type, ResourceType::Model | ResourceType::Seed) {
                owners.insert(n.relation.clone(), n.unique_id.clone());
            }
        }
        for s in project.sources.values() {
            owners
                .entry(s.relation.clone())
                .or_insert_with(|| s.unique_id.clone());
        }
        Tracer {
            project,
            engine,
            compile: CompileContext::new(project.clone()),
            asked,
            owners,
            lineage: HashMap::new(),
        }
    }

    /// The columns of `root` (all, or `column`) traced `direction`, at most `max_depth`
    /// levels deep.
    pub async fn trace(
        &mut self,
        root: &str,
        column: Option<&str>,
        direction: Direction,
        max_depth: Option<usize>,
    ) -> Result<ColumnTrace> {
        let graph = &self.project.graph;
        let around: BTreeSet<String> = match direction {
            Direction::Up => graph.ancestors(root, max_depth),
            Direction::Down => graph.descendants(root, max_depth),
        };
        let mut models: BTreeSet<String> = around
            .into_iter()
            .filter(|id| is_model(self.project, id))
            .collect();
        if is_model(self.project, root) {
            models.insert(root.to_string());
        }
        self.plan(&models, direction).await?;

        let all_columns = self.columns_of(root).await?;
        let roots: Vec<String> = match column {
            None => all_columns,
            Some(c) => match all_columns
                .iter()
                .find(|x| *x == c)
                .or_else(|| all_columns.iter().find(|x| x.eq_ignore_ascii_case(c)))
            {
                Some(found) => vec![found.clone()],
                None => {
                    return Err(EngineError::NoSuchColumn {
                        table: display_name(self.project, root),
                        column: c.to_string(),
                        suggestion: suggest(c, all_columns.iter().map(String::as_str)),
                        columns: all_columns,
                    });
                }
            },
        };

        // Downstream, every planned model's sources inverted: who uses each column.
        let mut users: HashMap<Col, Vec<Edge>> = HashMap::new();
        if direction == Direction::Down {
            for (model, cols) in &self.lineage {
                for (name, edges) in cols {
                    for e in edges {
                        users.entry(e.to.clone()).or_default().push(Edge {
                            kind: e.kind,
                            to: Col {
                                owner: Owner::Node(model.clone()),
                                column: name.clone(),
                            },
                        });
                    }
                }
            }
        }
        let edges_of = |col: &Col| -> Vec<Edge> {
            let mut edges = match direction {
                Direction::Up => match &col.owner {
                    Owner::Node(id) => self
                        .lineage
                        .get(id)
                        .and_then(|cols| cols.iter().find(|(n, _)| *n == col.column))
                        .map(|(_, e)| e.clone())
                        .unwrap_or_default(),
                    Owner::Relation(_) => Vec::new(),
                },
                Direction::Down => users.get(col).cloned().unwrap_or_default(),
            };
            edges.sort_by_key(|e| (e.kind, self.col_name(&e.to)));
            edges.dedup();
            edges
        };

        let mut trace = ColumnTrace {
            direction,
            lines: Vec::new(),
            visited: Vec::new(),
        };
        let mut expanded: HashSet<Col> = HashSet::new();
        for name in roots {
            let col = Col {
                owner: Owner::Node(root.to_string()),
                column: name,
            };
            let mut stack = vec![(0usize, col, None::<DependencyKind>)];
            while let Some((depth, col, kind)) = stack.pop() {
                let follow =
                    kind != Some(DependencyKind::Indirect) && max_depth.is_none_or(|d| depth < d);
                let edges = if follow { edges_of(&col) } else { Vec::new() };
                let first = follow && expanded.insert(col.clone());
                let repeated = follow && !first && !edges.is_empty();
                if first {
                    trace.visited.push(Visited {
                        col: col.clone(),
                        edges: edges.clone(),
                    });
                    stack.extend(
                        edges
                            .into_iter()
                            .rev()
                            .map(|e| (depth + 1, e.to, Some(e.kind))),
                    );
                }
                trace.lines.push(TraceLine {
                    depth,
                    col,
                    kind,
                    repeated,
                });
            }
        }
        Ok(trace)
    }

    /// Register the ephemeral models the `models` read (they are not in the lake), then plan
    /// each of the `models` and keep its column lineage.
    async fn plan(&mut self, models: &BTreeSet<String>, direction: Direction) -> Result<()> {
        let project = self.project;
        let mut needed: BTreeSet<String> = models
            .iter()
            .filter(|id| is_ephemeral(project, id))
            .cloned()
            .collect();
        for id in models {
            needed.extend(
                project
                    .graph
                    .ancestors(id, None)
                    .into_iter()
                    .filter(|a| is_ephemeral(project, a)),
            );
        }
        for id in project.graph.order.iter().filter(|id| needed.contains(*id)) {
            let node = &project.nodes[id];
            self.check_built(id, direction)?;
            let sql = self.compile.compile(node, false)?.sql;
            self.engine
                .register_ephemeral(&node.path, &node.relation, &sql)
                .await?;
        }
        let managed: HashSet<Relation> = self.owners.keys().cloned().collect();
        let expand = move |r: &Relation| !managed.contains(r);
        for id in project.graph.order.iter().filter(|id| models.contains(*id)) {
            let node = &project.nodes[id];
            self.check_built(id, direction)?;
            let sql = self.compile.compile(node, false)?.sql;
            let lineage = query_lineage(self.engine, &node.path, &sql, &expand).await?;
            let cols = lineage
                .columns
                .into_iter()
                .map(|c| {
                    let edges = c
                        .sources
                        .into_iter()
                        .map(|d| Edge {
                            kind: d.kind,
                            to: Col {
                                owner: self.owner(id, &d.relation),
                                column: d.column,
                            },
                        })
                        .collect();
                    (c.name, edges)
                })
                .collect();
            self.lineage.insert(id.clone(), cols);
        }
        Ok(())
    }

    /// The tables `id` reads must be in the lake for its SQL to plan.
    fn check_built(&self, id: &str, direction: Direction) -> Result<()> {
        let project = self.project;
        for parent in project.graph.parents.get(id).into_iter().flatten() {
            let Some(e) = entity(project, parent) else {
                continue;
            };
            if matches!(
                e.materialized,
                Some(Materialization::Ephemeral | Materialization::MlModel)
            ) || self.engine.stored(e.relation).is_some()
                || read_in_place(project, parent).is_some()
            {
                continue;
            }
            let target = match direction {
                Direction::Up => self.asked.to_string(),
                Direction::Down => display_name(project, id),
            };
            return Err(EngineError::NotBuilt {
                table: e.name,
                relation: Box::new(e.relation.clone()),
                reader: Some(display_name(project, id)),
                target,
            });
        }
        Ok(())
    }

    /// The columns of a table: a planned model's outputs, or what the lake holds.
    async fn columns_of(&self, id: &str) -> Result<Vec<String>> {
        if let Some(cols) = self.lineage.get(id) {
            return Ok(cols.iter().map(|(n, _)| n.clone()).collect());
        }
        let Some(e) = entity(self.project, id) else {
            return Err(EngineError::NotATable { id: id.to_string() });
        };
        if self.engine.stored(e.relation).is_none() && read_in_place(self.project, id).is_none() {
            return Err(EngineError::NotBuilt {
                table: e.name,
                relation: Box::new(e.relation.clone()),
                reader: None,
                target: self.asked.to_string(),
            });
        }
        let df = self
            .engine
            .dataframe(&e.name, &format!("select * from {}", e.relation))
            .await?;
        Ok(df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect())
    }

    /// The table a relation scanned by `model` belongs to: one of the model's parents if it
    /// can be, else any table of the project, else the bare relation.
    fn owner(&self, model: &str, relation: &Relation) -> Owner {
        let parents = self.project.graph.parents.get(model).into_iter().flatten();
        for p in parents {
            if entity(self.project, p).is_some_and(|e| e.relation == relation) {
                return Owner::Node(p.clone());
            }
        }
        match self.owners.get(relation) {
            Some(id) => Owner::Node(id.clone()),
            None => Owner::Relation(relation.clone()),
        }
    }

    fn col_name(&self, col: &Col) -> String {
        col_name(self.project, col)
    }
}

/// `table.column` as users name the table.
pub fn col_name(project: &Project, col: &Col) -> String {
    match &col.owner {
        Owner::Node(id) => format!("{}.{}", display_name(project, id), col.column),
        Owner::Relation(r) => format!("{r}.{}", col.column),
    }
}
