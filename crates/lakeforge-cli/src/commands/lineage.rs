//! `lakeforge lineage NODE`: where a table's data comes from and what reads it, printed as
//! text for people or JSON for tools.
//!
//! Table level: the models, seeds and sources upstream and downstream of NODE as trees, each
//! with its materialization and, when it is stored, its latest Delta version (or, for an ML
//! model, the version its alias names in the registry). Column level: every output column of
//! NODE (or `--column`) with the columns it is computed from, or with `--downstream` the
//! columns of downstream models that use it. Both are traced by the engine
//! (`lakeforge_engine::lineage::{tables, trace}`, which also resolve NODE and give the column
//! trace as JSON, as the web UI's lineage page shows it); this command reads what the lake and
//! the registry hold, and prints. `--tables` needs nothing built.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, ValueEnum};
use lakeforge_engine::lineage::tables::{
    TreeLine, display_name, entity, has_columns, reachable, read_in_place, resolve, tree,
};
use lakeforge_engine::lineage::trace::{ColumnTrace, Direction, Tracer, col_name};
use lakeforge_engine::{Engine, StoredKind};
use lakeforge_project::{Materialization, Project};
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
    let root = resolve(&project, &args.node)?;
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
    let columns = if args.tables || !has_columns(&project, &root) {
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
            let (key, list) = trace.to_json(self.project);
            out.insert(key.into(), list);
        }
        Value::Object(out)
    }
}
