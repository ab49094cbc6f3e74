//! `lakeforge lineage NODE`: where a table's data comes from and what reads it.
//!
//! Table level, from the project's graph alone: the models, seeds and sources upstream and
//! downstream of NODE as trees, each with its materialization and, when it is stored, its
//! latest Delta version. Column level, from DataFusion's logical plans
//! (`lakeforge_engine::lineage`): every output column of NODE (or `--column`) with the columns
//! it is computed from, followed model by model up to seeds and sources, or with
//! `--downstream` the columns of downstream models that use it. Direct dependencies (values
//! flow) are followed; indirect ones (filters, join and group keys, sorts) are listed but not
//! followed, or the trees would hold most of the project.
//!
//! Column lineage plans the SQL of every model it traces (compiled as a full refresh), so the
//! tables those models read must be in the lake; ephemeral models are registered in the session
//! first, as a run does. `--tables` needs nothing built.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;
use clap::{Args, ValueEnum};
use lakeforge_engine::{DependencyKind, Engine, StoredKind, query_lineage};
use lakeforge_project::error::suggest;
use lakeforge_project::{CompileContext, Materialization, Project, Relation, ResourceType};
use serde_json::{Value, json};

use super::{default_threads, load_project, open_engine};
use crate::ProjectArgs;

#[derive(Args, Clone, Debug)]
pub struct LineageArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The model or seed to trace, or a source as `source_name.table_name`.
    pub node: String,
    /// Trace this output column only.
    #[arg(long, short = 'c')]
    pub column: Option<String>,
    /// How many levels to follow (default: all).
    #[arg(long)]
    pub depth: Option<usize>,
    /// Text for people, or JSON for tools.
    #[arg(long, value_enum, default_value = "text")]
    pub format: LineageFormat,
    /// Only what NODE is built from.
    #[arg(long, conflicts_with = "downstream")]
    pub upstream: bool,
    /// Only what reads NODE: downstream tables, and which columns of downstream models use
    /// each column.
    #[arg(long)]
    pub downstream: bool,
    /// Table-level lineage only: plans no SQL, so nothing has to be built first.
    #[arg(long, conflicts_with = "column")]
    pub tables: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum LineageFormat {
    Text,
    Json,
}

pub async fn run(args: LineageArgs) -> anyhow::Result<ExitCode> {
    if args.depth == Some(0) {
        bail!("--depth counts levels and must be at least 1");
    }
    let project = load_project(&args.project)?;
    let root = resolve_node(&project, &args.node)?;
    let engine = open_engine(&project, default_threads()).await?;
    let tables_up = !args.downstream;
    let tables_down = !args.upstream;

    // Table level: the graph, and what the lake holds for each table in it.
    let up_tree = tables_up.then(|| tree(&project, &project.graph.parents, &root, args.depth));
    let down_tree = tables_down.then(|| tree(&project, &project.graph.children, &root, args.depth));
    let mut states = HashMap::new();
    let store = super::runs::open_store(&args.project).await?;
    let ids = std::iter::once(root.as_str())
        .chain(up_tree.iter().flatten().map(|l| l.id.as_str()))
        .chain(down_tree.iter().flatten().map(|l| l.id.as_str()));
    for id in ids {
        if !states.contains_key(id) {
            let state = table_state(&project, &engine, store.as_ref(), id).await;
            states.insert(id.to_string(), state);
        }
    }

    // Column level. An ML model has no columns of its own: its lineage is its tables.
    let is_ml = project
        .nodes
        .get(&root)
        .is_some_and(|n| n.resource_type == ResourceType::MlModel);
    let columns = if args.tables || is_ml {
        None
    } else {
        let mut tracer = Tracer::new(&project, &engine, &args.node);
        let direction = if args.downstream {
            Direction::Down
        } else {
            Direction::Up
        };
        Some(
            tracer
                .trace(&root, args.column.as_deref(), direction, args.depth)
                .await?,
        )
    };

    let view = View {
        project: &project,
        states: &states,
    };
    match args.format {
        LineageFormat::Text => {
            print!(
                "{}",
                view.text(
                    &root,
                    up_tree.as_deref(),
                    down_tree.as_deref(),
                    columns.as_ref()
                )
            );
        }
        LineageFormat::Json => {
            let json = view.json(
                &root,
                tables_up.then(|| &project.graph.parents),
                tables_down.then(|| &project.graph.children),
                args.depth,
                columns.as_ref(),
            );
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A model or seed by name, a source as `source_name.table_name`, or any of them by unique id.
fn resolve_node(project: &Project, name: &str) -> anyhow::Result<String> {
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
    bail!("no model, seed or source named `{name}`\nhint: {hint}")
}

/// A table of the graph: a model, seed or source (tests are left out).
struct Entity<'a> {
    name: String,
    resource_type: &'static str,
    materialized: Option<Materialization>,
    relation: &'a Relation,
}

fn entity<'a>(project: &'a Project, id: &str) -> Option<Entity<'a>> {
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

/// Where a source that is not a table of the lake is read from: its database table or its
/// files (None for any other node).
fn read_in_place(project: &Project, id: &str) -> Option<String> {
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

fn is_ephemeral(project: &Project, id: &str) -> bool {
    project
        .nodes
        .get(id)
        .is_some_and(|n| n.config.materialized == Materialization::Ephemeral)
}

fn is_model(project: &Project, id: &str) -> bool {
    project
        .nodes
        .get(id)
        .is_some_and(|n| n.resource_type == ResourceType::Model)
}

fn display_name(project: &Project, id: &str) -> String {
    entity(project, id)
        .map(|e| e.name)
        .unwrap_or_else(|| id.to_string())
}

/// What the lake holds under a table's relation.
#[derive(Debug, Clone, Default)]
struct TableState {
    stored: Option<StoredKind>,
    version: Option<i64>,
}

async fn table_state(
    project: &Project,
    engine: &Engine,
    store: Option<&lakeforge_meta::MetaStore>,
    id: &str,
) -> TableState {
    let Some(e) = entity(project, id) else {
        return TableState::default();
    };
    if e.materialized == Some(Materialization::Ephemeral) {
        return TableState::default();
    }
    if e.materialized == Some(Materialization::MlModel) {
        // An ML model lives in the registry: its version is the one its alias names now.
        let spec = project.nodes.get(id).and_then(|n| n.ml_model.as_deref());
        let version = match (store, spec) {
            (Some(s), Some(spec)) => s
                .resolve_alias(
                    &e.name,
                    spec.promote_to
                        .as_deref()
                        .unwrap_or(lakeforge_meta::DEFAULT_ALIAS),
                )
                .await
                .ok()
                .flatten(),
            _ => None,
        };
        return TableState {
            stored: None,
            version,
        };
    }
    let stored = engine.stored(e.relation);
    let version = match stored {
        Some(StoredKind::Table) => engine.table_version(e.relation).await,
        _ => None,
    };
    TableState { stored, version }
}

// ---------------------------------------------------------------------------------------------
// Table level

struct TreeLine {
    depth: usize,
    id: String,
    /// Already shown with its own subtree higher up.
    repeated: bool,
}

/// The tables reachable from `root` along `edges` (parents or children), depth first, sorted by
/// name at each level; a table reached again is not expanded again.
fn tree(
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
fn reachable(
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

// ---------------------------------------------------------------------------------------------
// Column level

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

/// Whose column: a table of the project, or a relation the project does not manage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Owner {
    Node(String),
    Relation(Relation),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Col {
    owner: Owner,
    column: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    kind: DependencyKind,
    to: Col,
}

/// One column reached by the trace, with its edges (sources upstream, users downstream).
struct Visited {
    col: Col,
    edges: Vec<Edge>,
}

struct TraceLine {
    depth: usize,
    col: Col,
    /// None for a root column.
    kind: Option<DependencyKind>,
    repeated: bool,
}

struct ColumnTrace {
    direction: Direction,
    lines: Vec<TraceLine>,
    visited: Vec<Visited>,
}

struct Tracer<'a> {
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
    fn new(project: &'a Arc<Project>, engine: &'a Engine, asked: &'a str) -> Self {
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

    async fn trace(
        &mut self,
        root: &str,
        column: Option<&str>,
        direction: Direction,
        max_depth: Option<usize>,
    ) -> anyhow::Result<ColumnTrace> {
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
                    let hint = suggest(c, all_columns.iter().map(String::as_str))
                        .map(|s| format!("\nhint: did you mean `{s}`?"))
                        .unwrap_or_default();
                    bail!(
                        "{} has no column `{c}`; its columns are: {}{hint}",
                        display_name(self.project, root),
                        all_columns.join(", ")
                    );
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
    async fn plan(
        &mut self,
        models: &BTreeSet<String>,
        direction: Direction,
    ) -> anyhow::Result<()> {
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
    fn check_built(&self, id: &str, direction: Direction) -> anyhow::Result<()> {
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
            bail!(
                "`{}` ({}), which {} reads, is not in the lake yet; column lineage plans the SQL of the models it traces, and that needs the tables they read\nhint: run `lakeforge build -s +{target}` first, or pass --tables for table-level lineage only",
                e.name,
                e.relation,
                display_name(project, id),
            );
        }
        Ok(())
    }

    /// The columns of a table: a planned model's outputs, or what the lake holds.
    async fn columns_of(&self, id: &str) -> anyhow::Result<Vec<String>> {
        if let Some(cols) = self.lineage.get(id) {
            return Ok(cols.iter().map(|(n, _)| n.clone()).collect());
        }
        let Some(e) = entity(self.project, id) else {
            bail!("`{id}` is not a model, seed or source");
        };
        if self.engine.stored(e.relation).is_none() && read_in_place(self.project, id).is_none() {
            bail!(
                "`{}` ({}) is not in the lake yet, so its columns are unknown\nhint: run `lakeforge build -s +{}` first, or pass --tables for table-level lineage only",
                e.name,
                e.relation,
                self.asked
            );
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

fn col_name(project: &Project, col: &Col) -> String {
    match &col.owner {
        Owner::Node(id) => format!("{}.{}", display_name(project, id), col.column),
        Owner::Relation(r) => format!("{r}.{}", col.column),
    }
}

// ---------------------------------------------------------------------------------------------
// Output

struct View<'a> {
    project: &'a Project,
    states: &'a HashMap<String, TableState>,
}

impl View<'_> {
    /// `table main_analytics.person_totals, Delta version 3`, `ephemeral model, not stored`, ...
    fn describe(&self, id: &str) -> String {
        let Some(e) = entity(self.project, id) else {
            return id.to_string();
        };
        let state = self.states.get(id).cloned().unwrap_or_default();
        let what = match (e.resource_type, e.materialized) {
            (_, Some(Materialization::Ephemeral)) => return "ephemeral model, not stored".into(),
            (_, Some(Materialization::MlModel)) => {
                let alias = self
                    .project
                    .nodes
                    .get(id)
                    .and_then(|n| n.ml_model.as_deref())
                    .and_then(|s| s.promote_to.as_deref())
                    .unwrap_or(lakeforge_meta::DEFAULT_ALIAS);
                return match state.version {
                    Some(v) => format!("ml model, {alias} version {v}"),
                    None => format!("ml model, no {alias} version yet"),
                };
            }
            ("model", Some(m)) => m.as_str(),
            (kind, _) => kind,
        };
        let stored = match (state.stored, state.version) {
            (Some(_), Some(v)) => format!(", Delta version {v}"),
            (Some(_), None) => String::new(),
            (None, _) if e.resource_type == "source" => match read_in_place(self.project, id) {
                Some(place) => format!(", read in place from {place}"),
                None => ", not in the lake".into(),
            },
            (None, _) => ", not built".into(),
        };
        format!("{what} {}{stored}", e.relation)
    }

    fn text(
        &self,
        root: &str,
        up: Option<&[TreeLine]>,
        down: Option<&[TreeLine]>,
        columns: Option<&ColumnTrace>,
    ) -> String {
        let name = display_name(self.project, root);
        let mut out = format!("{name}: {}\n", self.describe(root));
        for (title, arrow, lines, none) in [
            ("Upstream", "<-", up, "reads no other table"),
            ("Downstream", "->", down, "nothing reads it"),
        ] {
            let Some(lines) = lines else { continue };
            out.push_str(&format!("\n{title}:\n"));
            if lines.is_empty() {
                out.push_str(&format!("  ({none})\n"));
            }
            for l in lines {
                out.push_str(&format!(
                    "{}{arrow} {} ({}){}\n",
                    "  ".repeat(l.depth),
                    display_name(self.project, &l.id),
                    self.describe(&l.id),
                    if l.repeated { " ... shown above" } else { "" }
                ));
            }
        }
        if let Some(trace) = columns {
            let (arrow, header, none) = match trace.direction {
                Direction::Up => (
                    "<-",
                    "Columns (upstream; direct sources are followed, indirect ones listed):",
                    "no source columns",
                ),
                Direction::Down => (
                    "->",
                    "Columns (downstream; direct uses are followed, indirect ones listed):",
                    "no downstream model uses it",
                ),
            };
            out.push_str(&format!("\n{header}\n"));
            for (i, l) in trace.lines.iter().enumerate() {
                let indent = "  ".repeat(l.depth + 1);
                let name = col_name(self.project, &l.col);
                match l.kind {
                    None => {
                        out.push_str(&format!("{indent}{name}\n"));
                        let has_children = trace.lines.get(i + 1).is_some_and(|n| n.depth > 0);
                        if !has_children {
                            out.push_str(&format!("{indent}  ({none})\n"));
                        }
                    }
                    Some(kind) => out.push_str(&format!(
                        "{indent}{arrow} {name} ({}){}\n",
                        kind.as_str(),
                        if l.repeated { " ... shown above" } else { "" }
                    )),
                }
            }
        }
        out
    }

    fn table_json(&self, id: &str) -> Value {
        let e = entity(self.project, id);
        let state = self.states.get(id).cloned().unwrap_or_default();
        json!({
            "name": display_name(self.project, id),
            "unique_id": id,
            "resource_type": e.as_ref().map(|e| e.resource_type),
            "materialized": e.as_ref().and_then(|e| e.materialized).map(|m| m.as_str()),
            "relation": e.as_ref().map(|e| e.relation.to_string()),
            "stored": state.stored.map(|s| match s {
                StoredKind::Table => "table",
                StoredKind::View => "view",
            }),
            "delta_version": state.version,
        })
    }

    fn col_json(&self, col: &Col) -> Value {
        let (node, relation) = match &col.owner {
            Owner::Node(id) => (
                Some(display_name(self.project, id)),
                entity(self.project, id).map(|e| e.relation.to_string()),
            ),
            Owner::Relation(r) => (None, Some(r.to_string())),
        };
        json!({"node": node, "relation": relation, "column": col.column})
    }

    fn json(
        &self,
        root: &str,
        up: Option<&BTreeMap<String, Vec<String>>>,
        down: Option<&BTreeMap<String, Vec<String>>>,
        max_depth: Option<usize>,
        columns: Option<&ColumnTrace>,
    ) -> Value {
        let mut out = serde_json::Map::new();
        out.insert("node".into(), self.table_json(root));
        for (key, edges_key, edges) in [("upstream", "reads", up), ("downstream", "read_by", down)]
        {
            let Some(edges) = edges else { continue };
            let tables = reachable(self.project, edges, root, max_depth);
            let shown: HashSet<&str> = tables
                .iter()
                .map(|(id, _)| id.as_str())
                .chain([root])
                .collect();
            let list: Vec<Value> = tables
                .iter()
                .map(|(id, depth)| {
                    let mut t = self.table_json(id);
                    let mut next: Vec<String> = edges
                        .get(id)
                        .into_iter()
                        .flatten()
                        .filter(|n| shown.contains(n.as_str()))
                        .map(|n| display_name(self.project, n))
                        .collect();
                    next.sort();
                    t["depth"] = json!(depth);
                    t[edges_key] = json!(next);
                    t
                })
                .collect();
            out.insert(key.into(), Value::Array(list));
        }
        if let Some(trace) = columns {
            let (key, edges_key) = match trace.direction {
                Direction::Up => ("upstream_columns", "sources"),
                Direction::Down => ("downstream_columns", "used_by"),
            };
            let list: Vec<Value> = trace
                .visited
                .iter()
                .map(|v| {
                    let mut c = self.col_json(&v.col);
                    c[edges_key] = v
                        .edges
                        .iter()
                        .map(|e| {
                            let mut to = self.col_json(&e.to);
                            to["kind"] = json!(e.kind.as_str());
                            to
                        })
                        .collect();
                    c
                })
                .collect();
            out.insert(key.into(), Value::Array(list));
        }
        Value::Object(out)
    }
}
