//! Lineage, beside the flow: what a table is built from and what reads it. Column-level
//! lineage is read from DataFusion's logical plans: for each output column of a query, the
//! columns of the relations it scans that the column is computed from (here and `walk.rs`).
//! Across a project, `tables.rs` walks the graph at table level and `trace.rs` follows columns
//! model by model, as `lakeforge lineage` prints them.
//!
//! The plan is the *unoptimized* one (`DataFrame::into_unoptimized_plan`), so it still mirrors
//! the SQL: projections, filters, aggregates, joins, unions, CTEs (inlined as subquery
//! aliases), subqueries in expressions, window functions. DataFusion inlines a view (and an
//! ephemeral model, which the engine registers as one) where a query names it, as a subquery
//! aliased with the name as written; for a schema-qualified name, which is how compiled `ref()`s
//! and `source()`s read, the caller decides (`expand_view`) whether lineage follows the view's
//! own SQL or stops at it as at a table. Every other scan is a leaf: a relation `schema.table`.
//!
//! Dependencies come in two kinds, as in OpenLineage: **direct** ones give the column its
//! value (`amount * 2`, `sum(amount)`, a CASE's results, a scalar subquery's result), while
//! **indirect** ones decide which rows there are or which branch is taken (filter predicates,
//! join keys, group keys, sort keys, window partitions and orders, CASE conditions, the
//! columns an `EXISTS`/`IN` subquery reads). A column depends on a source both ways when it
//! does so through two paths; direct wins. Plan nodes this module does not know are treated
//! conservatively: each output column depends on every input column.

pub mod tables;
pub mod trace;
mod walk;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use lakeforge_project::Relation;
use serde::Serialize;

use crate::error::Result;
use crate::session::Engine;

pub use walk::plan_lineage;

/// How an output column depends on a source column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DependencyKind {
    /// The source's values flow into the column's values.
    Direct,
    /// The source decides which rows there are (filters, join and group keys, sorts) or which
    /// branch of an expression is taken, without its values reaching the column.
    Indirect,
}

impl DependencyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DependencyKind::Direct => "direct",
            DependencyKind::Indirect => "indirect",
        }
    }
}

/// One source column an output column depends on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ColumnDependency {
    pub relation: Relation,
    pub column: String,
    pub kind: DependencyKind,
}

/// The lineage of one output column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnLineage {
    pub name: String,
    /// Sorted by relation, then column.
    pub sources: Vec<ColumnDependency>,
}

impl ColumnLineage {
    pub fn direct(&self) -> impl Iterator<Item = &ColumnDependency> {
        self.sources
            .iter()
            .filter(|d| d.kind == DependencyKind::Direct)
    }

    pub fn indirect(&self) -> impl Iterator<Item = &ColumnDependency> {
        self.sources
            .iter()
            .filter(|d| d.kind == DependencyKind::Indirect)
    }
}

/// The lineage of a query: one entry per output column, in output order, and every relation the
/// query scans (after following views).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QueryLineage {
    pub columns: Vec<ColumnLineage>,
    pub relations: BTreeSet<Relation>,
}

impl QueryLineage {
    /// The output column named `name` (exactly, else ignoring case).
    pub fn column(&self, name: &str) -> Option<&ColumnLineage> {
        self.columns.iter().find(|c| c.name == name).or_else(|| {
            self.columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
        })
    }
}

/// Plan `sql` in the engine's session (without running it) and derive its column lineage.
/// Scans of views and ephemeral models are followed into their SQL when `expand_view` says so
/// for their relation; otherwise they are leaves like tables.
pub async fn query_lineage(
    engine: &Engine,
    context: &str,
    sql: &str,
    expand_view: &(dyn Fn(&Relation) -> bool + Sync),
) -> Result<QueryLineage> {
    let plan = engine
        .dataframe(context, sql)
        .await?
        .into_unoptimized_plan();
    Ok(plan_lineage(&plan, &engine.default_schema(), expand_view))
}
