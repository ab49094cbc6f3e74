//! Incremental extraction from databases: a model's watermark is usually a scalar subquery
//! over its own table (`where updated_at > (select max(updated_at) from {{ this }})`), which
//! DataFusion cannot send to another database. The session's query planner
//! ([`SourcePlanner`]) runs such uncorrelated subqueries first, against the lake, and puts
//! their values in the filter as literals, which the provider then sends inside the remote
//! `WHERE`: the database returns only the new rows.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::datasource::source_as_provider;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::context::{QueryPlanner, SessionState};
use datafusion::logical_expr::{Expr, LogicalPlan, Subquery};
use datafusion::physical_plan::ExecutionPlan;

use super::DatabaseTable;

/// The session's query planner: Delta's, after inlining the watermark subqueries of filters
/// over database tables (see the module doc).
#[derive(Debug)]
pub(crate) struct SourcePlanner {
    inner: Arc<dyn QueryPlanner + Send + Sync>,
}

impl SourcePlanner {
    pub(crate) fn new(inner: Arc<dyn QueryPlanner + Send + Sync>) -> Arc<SourcePlanner> {
        Arc::new(SourcePlanner { inner })
    }
}

#[async_trait]
impl QueryPlanner for SourcePlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if let Some(state) = session.as_any().downcast_ref::<SessionState>()
            && let Some(plan) = inline_watermarks(logical_plan, session).await?
        {
            let plan = state.optimize(&plan)?;
            return self.inner.create_physical_plan(&plan, session).await;
        }
        self.inner.create_physical_plan(logical_plan, session).await
    }
}

/// `plan` with every uncorrelated scalar subquery in a filter over a database table replaced
/// by its value, or None when there is none.
pub(crate) async fn inline_watermarks(
    plan: &LogicalPlan,
    session: &dyn Session,
) -> DfResult<Option<LogicalPlan>> {
    let subqueries = watermark_subqueries(plan)?;
    if subqueries.is_empty() {
        return Ok(None);
    }
    let mut values = Vec::with_capacity(subqueries.len());
    for subquery in subqueries {
        let value = scalar_value(&subquery, session).await?;
        values.push((subquery, value));
    }
    let rewritten = plan
        .clone()
        .transform_up(|node| {
            if !matches!(node, LogicalPlan::Filter(_)) {
                return Ok(Transformed::no(node));
            }
            node.map_expressions(|expr| {
                expr.transform_up(|e| match &e {
                    Expr::ScalarSubquery(sq) => match values.iter().find(|(s, _)| s == sq) {
                        Some((_, v)) => Ok(Transformed::yes(Expr::Literal(v.clone(), None))),
                        None => Ok(Transformed::no(e)),
                    },
                    _ => Ok(Transformed::no(e)),
                })
            })
        })?
        .data;
    Ok(Some(rewritten))
}

/// The uncorrelated scalar subqueries in the predicates of filters that read a database table.
fn watermark_subqueries(plan: &LogicalPlan) -> DfResult<Vec<Subquery>> {
    let mut found: Vec<Subquery> = Vec::new();
    plan.apply(|node| {
        if let LogicalPlan::Filter(filter) = node
            && reads_database(&filter.input)?
        {
            filter.predicate.apply(|e| {
                if let Expr::ScalarSubquery(sq) = e
                    && sq.outer_ref_columns.is_empty()
                    && !found.contains(sq)
                {
                    found.push(sq.clone());
                }
                Ok(TreeNodeRecursion::Continue)
            })?;
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(found)
}

/// Whether `plan` scans a database table.
fn reads_database(plan: &LogicalPlan) -> DfResult<bool> {
    plan.exists(|node| {
        Ok(match node {
            LogicalPlan::TableScan(scan) => source_as_provider(&scan.source)
                .map(|p| p.is::<DatabaseTable>())
                .unwrap_or(false),
            _ => false,
        })
    })
}

/// `df` itself, or, when it reads a database table, its rows read once into memory: for
/// operations that run their input more than once (MERGE runs it for the early filter's key
/// range, then for the merge), so the database is queried once and every pass sees the same
/// rows even while the remote table changes.
pub(crate) async fn read_once(
    ctx: &datafusion::prelude::SessionContext,
    df: datafusion::prelude::DataFrame,
) -> DfResult<datafusion::prelude::DataFrame> {
    if !reads_database(df.logical_plan())? {
        return Ok(df);
    }
    let logical: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    let schema = batches.first().map(|b| b.schema()).unwrap_or(logical);
    let table = datafusion::datasource::MemTable::try_new(schema, vec![batches])?;
    ctx.read_table(Arc::new(table))
}

/// Run a scalar subquery: its one value, null when it returns no row.
async fn scalar_value(subquery: &Subquery, session: &dyn Session) -> DfResult<ScalarValue> {
    let plan = session.create_physical_plan(&subquery.subquery).await?;
    let schema = plan.schema();
    let batches = datafusion::physical_plan::collect(plan, session.task_ctx()).await?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if schema.fields().len() != 1 {
        return Err(DataFusionError::Plan(format!(
            "a scalar subquery must return one column, not {}",
            schema.fields().len()
        )));
    }
    match rows {
        0 => ScalarValue::try_from(schema.field(0).data_type()),
        1 => {
            let batch = batches.iter().find(|b| b.num_rows() == 1).ok_or_else(|| {
                DataFusionError::Internal("scalar subquery row went missing".into())
            })?;
            ScalarValue::try_from_array(batch.column(0).as_ref(), 0)
        }
        n => Err(DataFusionError::Execution(format!(
            "a scalar subquery used as a watermark returned {n} rows; it must return one\nhint: aggregate it, e.g. (select max(updated_at) from ...)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, RecordBatch};
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;

    /// A database table stands in as a memory table marked as one; the watermark subquery of
    /// the filter over it becomes the value it returns, and nothing else changes.
    #[tokio::test]
    async fn watermark_subqueries_over_database_tables_become_values() {
        let ctx = SessionContext::new();
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let rows = |v: Vec<i64>| {
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(v))]).unwrap()
        };
        let remote = MemTable::try_new(schema.clone(), vec![vec![rows(vec![1, 2, 3, 4])]]).unwrap();
        ctx.register_table(
            "remote",
            Arc::new(DatabaseTable {
                label: "source s.remote".into(),
                context: "source s.remote: reading table `remote`".into(),
                url: String::new(),
                inner: Arc::new(remote),
            }),
        )
        .unwrap();
        let local = MemTable::try_new(schema.clone(), vec![vec![rows(vec![1, 2])]]).unwrap();
        ctx.register_table("local", Arc::new(local)).unwrap();

        let state = ctx.state();
        let plan_of = |sql: &'static str| {
            let ctx = ctx.clone();
            async move {
                let df = ctx.sql(sql).await.unwrap();
                ctx.state().optimize(df.logical_plan()).unwrap()
            }
        };
        let plan = plan_of("select v from remote where v > (select max(v) from local)").await;
        let inlined = inline_watermarks(&plan, &state).await.unwrap().unwrap();
        let text = inlined.display_indent().to_string();
        assert!(
            text.contains("Int64(2)") && !text.contains("Subquery"),
            "{text}"
        );
        let batches = datafusion::physical_plan::collect(
            state.create_physical_plan(&inlined).await.unwrap(),
            state.task_ctx(),
        )
        .await
        .unwrap();
        let got: Vec<i64> = batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(got, vec![3, 4]);

        // Over the lake alone, or correlated: left to DataFusion.
        let plan = plan_of("select v from local where v > (select min(v) from remote)").await;
        assert!(inline_watermarks(&plan, &state).await.unwrap().is_none());
        let plan = plan_of(
            "select v from remote r where v > (select max(l.v) from local l where l.v < r.v)",
        )
        .await;
        assert!(inline_watermarks(&plan, &state).await.unwrap().is_none());
    }
}
