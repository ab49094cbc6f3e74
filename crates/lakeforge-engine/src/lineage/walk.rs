//! The walk over a logical plan that [`plan_lineage`] does: each plan node maps the lineage of
//! its inputs' columns to its own output columns (projections, aggregates, joins, unions...),
//! and each expression says which input columns it reads and how (directly or not).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use arrow::datatypes::Fields;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, TableReference};
use datafusion::logical_expr::utils::grouping_set_to_exprlist;
use datafusion::logical_expr::{Distinct, Expr, JoinType, LogicalPlan, Subquery, TableScan};
use lakeforge_project::Relation;

use super::{ColumnDependency, ColumnLineage, DependencyKind, QueryLineage};

/// The column lineage of a logical plan. Unqualified table names belong to `default_schema`.
pub fn plan_lineage(
    plan: &LogicalPlan,
    default_schema: &str,
    expand_view: &dyn Fn(&Relation) -> bool,
) -> QueryLineage {
    let mut walker = Walker {
        default_schema,
        expand_view,
        relations: BTreeSet::new(),
        work_tables: HashMap::new(),
        view_depth: 0,
    };
    let flow = walker.walk(plan, &[]);
    let columns = plan
        .schema()
        .fields()
        .iter()
        .zip(&flow.cols)
        .map(|(field, deps)| {
            let mut all = deps.clone();
            add_all(&mut all, &flow.rows, DependencyKind::Indirect);
            ColumnLineage {
                name: field.name().clone(),
                sources: all
                    .into_iter()
                    .map(|(s, kind)| ColumnDependency {
                        relation: s.relation,
                        column: s.column,
                        kind,
                    })
                    .collect(),
            }
        })
        .collect();
    QueryLineage {
        columns,
        relations: walker.relations,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Source {
    relation: Relation,
    column: String,
}

/// Source columns with the strongest kind each is reached by.
type Deps = BTreeMap<Source, DependencyKind>;

/// What a plan node's output depends on: one entry per output column, plus what decides which
/// rows there are (always indirect; it applies to every column).
#[derive(Debug, Clone, Default)]
struct Flow {
    cols: Vec<Deps>,
    rows: Deps,
}

/// A plan's output schema with the lineage of its columns, to resolve column references.
#[derive(Clone, Copy)]
struct Scope<'a> {
    schema: &'a DFSchema,
    flow: &'a Flow,
}

fn add(deps: &mut Deps, source: Source, kind: DependencyKind) {
    let entry = deps.entry(source).or_insert(kind);
    *entry = (*entry).min(kind);
}

/// Add `from` as reached through a use of `kind`: an indirect use makes everything indirect.
fn add_all(deps: &mut Deps, from: &Deps, kind: DependencyKind) {
    for (s, k) in from {
        add(deps, s.clone(), (*k).max(kind));
    }
}

/// Views nest; a self-referencing chain cannot plan, but stop anyway.
const MAX_VIEW_DEPTH: usize = 64;

struct Walker<'a> {
    default_schema: &'a str,
    expand_view: &'a dyn Fn(&Relation) -> bool,
    relations: BTreeSet<Relation>,
    /// Recursive CTEs: the work table's name and what its rows are known to depend on.
    work_tables: HashMap<String, Flow>,
    view_depth: usize,
}

impl Walker<'_> {
    /// The lineage of `plan`'s output. `outer` are the scopes a correlated subquery can refer
    /// to, innermost last.
    fn walk(&mut self, plan: &LogicalPlan, outer: &[Scope]) -> Flow {
        use DependencyKind::{Direct, Indirect};
        let flow = match plan {
            LogicalPlan::Projection(p) => {
                let input = self.walk(&p.input, outer);
                let scope = Scope {
                    schema: p.input.schema(),
                    flow: &input,
                };
                let cols = p
                    .expr
                    .iter()
                    .map(|e| self.expr_deps(e, Direct, scope, outer))
                    .collect();
                Flow {
                    cols,
                    rows: input.rows.clone(),
                }
            }
            LogicalPlan::Filter(f) => {
                let mut input = self.walk(&f.input, outer);
                let scope = Scope {
                    schema: f.input.schema(),
                    flow: &input,
                };
                let predicate = self.expr_deps(&f.predicate, Indirect, scope, outer);
                add_all(&mut input.rows, &predicate, Indirect);
                input
            }
            LogicalPlan::Window(w) => {
                let input = self.walk(&w.input, outer);
                let scope = Scope {
                    schema: w.input.schema(),
                    flow: &input,
                };
                let mut cols = input.cols.clone();
                for e in &w.window_expr {
                    cols.push(self.expr_deps(e, Direct, scope, outer));
                }
                Flow {
                    cols,
                    rows: input.rows.clone(),
                }
            }
            LogicalPlan::Aggregate(a) => match grouping_set_to_exprlist(&a.group_expr) {
                Err(_) => self.fallback(plan, outer),
                Ok(groups) => {
                    let input = self.walk(&a.input, outer);
                    let scope = Scope {
                        schema: a.input.schema(),
                        flow: &input,
                    };
                    let mut rows = input.rows.clone();
                    let mut cols = Vec::new();
                    for g in groups {
                        let deps = self.expr_deps(g, Direct, scope, outer);
                        add_all(&mut rows, &deps, Indirect);
                        cols.push(deps);
                    }
                    if matches!(a.group_expr.as_slice(), [Expr::GroupingSet(_)]) {
                        // The internal grouping id says which set a row belongs to.
                        cols.push(Deps::new());
                    }
                    for e in &a.aggr_expr {
                        cols.push(self.expr_deps(e, Direct, scope, outer));
                    }
                    Flow { cols, rows }
                }
            },
            LogicalPlan::Sort(s) => {
                let mut input = self.walk(&s.input, outer);
                let scope = Scope {
                    schema: s.input.schema(),
                    flow: &input,
                };
                let mut keys = Deps::new();
                for e in &s.expr {
                    let deps = self.expr_deps(&e.expr, Indirect, scope, outer);
                    add_all(&mut keys, &deps, Indirect);
                }
                add_all(&mut input.rows, &keys, Indirect);
                input
            }
            LogicalPlan::Join(j) => {
                let left = self.walk(&j.left, outer);
                let right = self.walk(&j.right, outer);
                let mut keys = Deps::new();
                let (ls, rs) = (
                    Scope {
                        schema: j.left.schema(),
                        flow: &left,
                    },
                    Scope {
                        schema: j.right.schema(),
                        flow: &right,
                    },
                );
                for (l, r) in &j.on {
                    let deps = self.expr_deps(l, Indirect, ls, outer);
                    add_all(&mut keys, &deps, Indirect);
                    let deps = self.expr_deps(r, Indirect, rs, outer);
                    add_all(&mut keys, &deps, Indirect);
                }
                let (mut cols, mark) = match j.join_type {
                    JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => {
                        (concat(&left.cols, &right.cols), false)
                    }
                    JoinType::LeftSemi | JoinType::LeftAnti => (left.cols.clone(), false),
                    JoinType::RightSemi | JoinType::RightAnti => (right.cols.clone(), false),
                    JoinType::LeftMark => (left.cols.clone(), true),
                    JoinType::RightMark => (right.cols.clone(), true),
                };
                if mark {
                    cols.push(Deps::new());
                }
                let mut rows = left.rows.clone();
                add_all(&mut rows, &right.rows, Indirect);
                if let Some(filter) = &j.filter {
                    // The filter sees both sides: resolve it against left and right together.
                    let both = Flow {
                        cols: concat(&left.cols, &right.cols),
                        rows: Deps::new(),
                    };
                    let schema = j.left.schema().join(j.right.schema());
                    let deps = match &schema {
                        Ok(schema) => self.expr_deps(
                            filter,
                            Indirect,
                            Scope {
                                schema,
                                flow: &both,
                            },
                            outer,
                        ),
                        Err(_) => all_columns(&both),
                    };
                    add_all(&mut keys, &deps, Indirect);
                }
                if mark && let Some(last) = cols.last_mut() {
                    add_all(last, &keys, Indirect);
                }
                add_all(&mut rows, &keys, Indirect);
                Flow { cols, rows }
            }
            LogicalPlan::Union(u) => {
                let n = u.schema.fields().len();
                let mut flow = Flow {
                    cols: vec![Deps::new(); n],
                    rows: Deps::new(),
                };
                for input in &u.inputs {
                    let f = self.walk(input, outer);
                    union_into(&mut flow, &f);
                }
                flow
            }
            LogicalPlan::TableScan(t) => self.scan(t, outer),
            LogicalPlan::EmptyRelation(e) => empty(e.schema.fields().len()),
            LogicalPlan::Values(v) => empty(v.schema.fields().len()),
            LogicalPlan::Subquery(s) => self.walk(&s.subquery, outer),
            LogicalPlan::SubqueryAlias(s) => match self.kept_view(&s.alias) {
                Some(relation) => self.leaf(relation, s.schema.fields()),
                None => self.walk(&s.input, outer),
            },
            LogicalPlan::Limit(l) => self.walk(&l.input, outer),
            LogicalPlan::Repartition(r) => self.walk(&r.input, outer),
            LogicalPlan::Distinct(Distinct::All(input)) => self.walk(input, outer),
            LogicalPlan::Distinct(Distinct::On(d)) => {
                let input = self.walk(&d.input, outer);
                let scope = Scope {
                    schema: d.input.schema(),
                    flow: &input,
                };
                let cols = d
                    .select_expr
                    .iter()
                    .map(|e| self.expr_deps(e, Direct, scope, outer))
                    .collect();
                let mut rows = input.rows.clone();
                let sorts = d.sort_expr.iter().flatten().map(|s| &s.expr);
                for e in d.on_expr.iter().chain(sorts) {
                    let deps = self.expr_deps(e, Indirect, scope, outer);
                    add_all(&mut rows, &deps, Indirect);
                }
                Flow { cols, rows }
            }
            LogicalPlan::RecursiveQuery(r) => {
                // The recursive term reads the work table: what the static term produced, then
                // what earlier iterations did. Two rounds reach everything a column can get
                // from the two terms.
                let base = self.walk(&r.static_term, outer);
                let saved = self.work_tables.remove(&r.name);
                let mut flow = base.clone();
                for _ in 0..2 {
                    self.work_tables.insert(r.name.clone(), flow.clone());
                    let step = self.walk(&r.recursive_term, outer);
                    flow = base.clone();
                    union_into(&mut flow, &step);
                }
                self.work_tables.remove(&r.name);
                if let Some(saved) = saved {
                    self.work_tables.insert(r.name.clone(), saved);
                }
                flow
            }
            _ => self.fallback(plan, outer),
        };
        if flow.cols.len() == plan.schema().fields().len() {
            flow
        } else {
            self.fallback(plan, outer)
        }
    }

    /// A scan: a leaf relation, a view followed into its plan, or a recursive CTE's work table.
    fn scan(&mut self, t: &TableScan, outer: &[Scope]) -> Flow {
        let full = if let TableReference::Bare { table } = &t.table_name
            && let Some(work) = self.work_tables.get(table.as_ref())
        {
            work.clone()
        } else {
            let relation = self.relation(&t.table_name);
            let view = t.source.get_logical_plan();
            match view {
                Some(view) if self.view_depth < MAX_VIEW_DEPTH && (self.expand_view)(&relation) => {
                    self.view_depth += 1;
                    let flow = self.walk(view.as_ref(), &[]);
                    self.view_depth -= 1;
                    flow
                }
                _ => self.leaf(relation, t.source.schema().fields()),
            }
        };
        let mut flow = match &t.projection {
            Some(indices) => Flow {
                cols: indices
                    .iter()
                    .map(|i| full.cols.get(*i).cloned().unwrap_or_default())
                    .collect(),
                rows: full.rows.clone(),
            },
            None => full.clone(),
        };
        if !t.filters.is_empty() {
            // Pushed-down filters name the scan's columns; an unoptimized plan has none.
            let projected = flow.clone();
            let scope = Scope {
                schema: &t.projected_schema,
                flow: &projected,
            };
            for f in &t.filters {
                let deps = self.expr_deps(f, DependencyKind::Indirect, scope, outer);
                add_all(&mut flow.rows, &deps, DependencyKind::Indirect);
            }
        }
        flow
    }

    /// A relation read as it is: each of its columns is a source.
    fn leaf(&mut self, relation: Relation, fields: &Fields) -> Flow {
        let cols = fields
            .iter()
            .map(|f| {
                Deps::from([(
                    Source {
                        relation: relation.clone(),
                        column: f.name().clone(),
                    },
                    DependencyKind::Direct,
                )])
            })
            .collect();
        self.relations.insert(relation);
        Flow {
            cols,
            rows: Deps::new(),
        }
    }

    /// DataFusion inlines a view where the query names it, as a subquery aliased with the name
    /// as written. A schema-qualified alias is such a view (SQL aliases of CTEs and derived
    /// tables cannot be qualified); it is kept as a leaf unless the caller wants it followed.
    /// An unqualified view name cannot be told from a CTE's, so such views are followed.
    fn kept_view(&self, alias: &TableReference) -> Option<Relation> {
        if matches!(alias, TableReference::Bare { .. }) {
            return None;
        }
        let relation = self.relation(alias);
        (!(self.expand_view)(&relation)).then_some(relation)
    }

    fn relation(&self, t: &TableReference) -> Relation {
        Relation::new(t.schema().unwrap_or(self.default_schema), t.table())
    }

    /// An unknown node: every output column depends on every input column.
    fn fallback(&mut self, plan: &LogicalPlan, outer: &[Scope]) -> Flow {
        let mut all = Deps::new();
        let mut rows = Deps::new();
        for input in plan.inputs() {
            let f = self.walk(input, outer);
            add_all(&mut all, &all_columns(&f), DependencyKind::Direct);
            add_all(&mut rows, &f.rows, DependencyKind::Indirect);
        }
        Flow {
            cols: vec![all; plan.schema().fields().len()],
            rows,
        }
    }

    /// The source columns an expression reads, each reached as `kind` at most.
    fn expr_deps(
        &mut self,
        expr: &Expr,
        kind: DependencyKind,
        scope: Scope,
        outer: &[Scope],
    ) -> Deps {
        let mut out = Deps::new();
        self.collect(expr, kind, scope, outer, &mut out);
        out
    }

    fn collect(
        &mut self,
        expr: &Expr,
        kind: DependencyKind,
        scope: Scope,
        outer: &[Scope],
        out: &mut Deps,
    ) {
        use DependencyKind::Indirect;
        // Visiting never fails: the closure returns Ok.
        let _ = expr.apply(|e| {
            Ok(match e {
                Expr::Column(c) => {
                    match scope.schema.maybe_index_of_column(c) {
                        Some(i) => add_all(out, &scope.flow.cols[i], kind),
                        None => match find_outer(outer, c) {
                            Some(deps) => add_all(out, deps, kind),
                            // Not resolvable: assume it may be any input column.
                            None => add_all(out, &all_columns(scope.flow), kind),
                        },
                    }
                    TreeNodeRecursion::Continue
                }
                Expr::OuterReferenceColumn(_, c) => {
                    if let Some(deps) = find_outer(outer, c) {
                        add_all(out, deps, kind);
                    }
                    TreeNodeRecursion::Continue
                }
                Expr::Case(case) => {
                    if let Some(base) = &case.expr {
                        self.collect(base, Indirect, scope, outer, out);
                    }
                    for (when, then) in &case.when_then_expr {
                        self.collect(when, Indirect, scope, outer, out);
                        self.collect(then, kind, scope, outer, out);
                    }
                    if let Some(e) = &case.else_expr {
                        self.collect(e, kind, scope, outer, out);
                    }
                    TreeNodeRecursion::Jump
                }
                Expr::AggregateFunction(af) => {
                    for a in &af.params.args {
                        self.collect(a, kind, scope, outer, out);
                    }
                    if let Some(f) = &af.params.filter {
                        self.collect(f, Indirect, scope, outer, out);
                    }
                    for s in &af.params.order_by {
                        self.collect(&s.expr, Indirect, scope, outer, out);
                    }
                    TreeNodeRecursion::Jump
                }
                Expr::WindowFunction(wf) => {
                    for a in &wf.params.args {
                        self.collect(a, kind, scope, outer, out);
                    }
                    for p in &wf.params.partition_by {
                        self.collect(p, Indirect, scope, outer, out);
                    }
                    for s in &wf.params.order_by {
                        self.collect(&s.expr, Indirect, scope, outer, out);
                    }
                    if let Some(f) = &wf.params.filter {
                        self.collect(f, Indirect, scope, outer, out);
                    }
                    TreeNodeRecursion::Jump
                }
                Expr::ScalarSubquery(sq) => {
                    let f = self.subquery(sq, scope, outer);
                    if let Some(first) = f.cols.first() {
                        add_all(out, first, kind);
                    }
                    add_all(out, &f.rows, Indirect);
                    TreeNodeRecursion::Jump
                }
                Expr::Exists(ex) => {
                    let f = self.subquery(&ex.subquery, scope, outer);
                    add_all(out, &all_columns(&f), Indirect);
                    add_all(out, &f.rows, Indirect);
                    TreeNodeRecursion::Jump
                }
                Expr::InSubquery(i) => {
                    self.collect(&i.expr, kind, scope, outer, out);
                    let f = self.subquery(&i.subquery, scope, outer);
                    add_all(out, &all_columns(&f), Indirect);
                    add_all(out, &f.rows, Indirect);
                    TreeNodeRecursion::Jump
                }
                Expr::SetComparison(s) => {
                    self.collect(&s.expr, kind, scope, outer, out);
                    let f = self.subquery(&s.subquery, scope, outer);
                    add_all(out, &all_columns(&f), Indirect);
                    add_all(out, &f.rows, Indirect);
                    TreeNodeRecursion::Jump
                }
                _ => TreeNodeRecursion::Continue,
            })
        });
    }

    /// A subquery in an expression, which may refer to `scope` and the scopes around it.
    fn subquery(&mut self, sq: &Subquery, scope: Scope, outer: &[Scope]) -> Flow {
        let mut scopes: Vec<Scope> = outer.to_vec();
        scopes.push(scope);
        self.walk(&sq.subquery, &scopes)
    }
}

fn find_outer<'a>(outer: &[Scope<'a>], c: &Column) -> Option<&'a Deps> {
    outer.iter().rev().find_map(|s| {
        s.schema
            .maybe_index_of_column(c)
            .and_then(|i| s.flow.cols.get(i))
    })
}

fn all_columns(flow: &Flow) -> Deps {
    let mut all = Deps::new();
    for c in &flow.cols {
        add_all(&mut all, c, DependencyKind::Direct);
    }
    all
}

fn concat(a: &[Deps], b: &[Deps]) -> Vec<Deps> {
    a.iter().chain(b).cloned().collect()
}

fn empty(n: usize) -> Flow {
    Flow {
        cols: vec![Deps::new(); n],
        rows: Deps::new(),
    }
}

/// Positional union (UNION, recursive CTEs): column i comes from column i of every input.
fn union_into(flow: &mut Flow, other: &Flow) {
    for (i, c) in other.cols.iter().enumerate() {
        if let Some(target) = flow.cols.get_mut(i) {
            add_all(target, c, DependencyKind::Direct);
        }
    }
    add_all(&mut flow.rows, &other.rows, DependencyKind::Indirect);
}
