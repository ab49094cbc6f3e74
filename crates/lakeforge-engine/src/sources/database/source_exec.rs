//! The scan of a database source at execution time: the provider's plan (one remote `SELECT`)
//! wrapped so that an error raised while rows stream in (the server went away, a value the
//! provider cannot convert) names the source and its connection, as errors at open do,
//! instead of surfacing as a bare driver message. Nothing else changes: the wrapped plan
//! keeps its partitioning and shows as the child in EXPLAIN.

use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::TryStreamExt;

#[derive(Debug)]
pub(crate) struct SourceScanExec {
    /// `source shop_db.orders: reading table `public.orders` of connection `shop` (postgres
    /// at host:5432)`, already free of secrets.
    context: Arc<str>,
    /// The connection URL, whose password is blanked from driver messages.
    url: Arc<str>,
    inner: Arc<dyn ExecutionPlan>,
}

impl SourceScanExec {
    pub(crate) fn new(context: String, url: String, inner: Arc<dyn ExecutionPlan>) -> Self {
        SourceScanExec {
            context: context.into(),
            url: url.into(),
            inner,
        }
    }

    fn reword(context: &str, url: &str, e: DataFusionError) -> DataFusionError {
        let text = crate::sources::database::redact(&e.to_string(), url);
        DataFusionError::Execution(format!(
            "{context} failed while reading rows: {}\nhint: check that the database is up and that the source's column types are ones Lakeforge reads (cast others in a view); nothing was written for the models that failed",
            text.trim()
        ))
    }
}

impl DisplayAs for SourceScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SourceScanExec")
    }
}

impl ExecutionPlan for SourceScanExec {
    fn name(&self) -> &str {
        "SourceScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.inner]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let inner = children
            .pop()
            .ok_or_else(|| DataFusionError::Internal("SourceScanExec has one child".into()))?;
        Ok(Arc::new(SourceScanExec {
            context: self.context.clone(),
            url: self.url.clone(),
            inner,
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let (ctx, url) = (self.context.clone(), self.url.clone());
        let stream = self
            .inner
            .execute(partition, context)
            .map_err(|e| Self::reword(&ctx, &url, e))?;
        let schema = stream.schema();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            stream.map_err(move |e| Self::reword(&ctx, &url, e)),
        )))
    }
}
