//! A table model's rows encoded by several Parquet writers at once. delta-rs writes an
//! unpartitioned table through one writer task, so however many cores computed the rows, one
//! encodes them all (on two cores a 10M-row table kept 1.2 of them busy). Here each partition
//! of the query's physical plan gets a writer of its own, on a task of its own, and the files
//! they write are committed together in one commit (`commit.rs`, shared with the Parquet
//! pass-through): a failure before the commit leaves the previous version readable and nothing
//! refers to the files it wrote (they are removed).
//!
//! A plan of one partition (a query ending in `ORDER BY`, a small scan) gets one writer, which
//! keeps its row order; every table write then takes the same path and commit (`commit.rs`),
//! planned once, its row count known without reading the commit back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use datafusion::physical_plan::{ExecutionPlan, execute_stream_partitioned};
use datafusion::prelude::DataFrame;
use delta_kernel::table_properties::DataSkippingNumIndexedCols;
use deltalake::datafile::writer::{DeltaWriter, WriterConfig};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::{Add, StructType};
use futures::StreamExt as _;
use lakeforge_project::Relation;
use object_store::ObjectStoreExt as _;
use tokio::task::JoinSet;

use crate::error::{EngineError, Result};
use crate::session::Engine;
use crate::write::materialize::WriteOutcome;

/// Columns with statistics in each file's Add action: Delta's default, as delta-rs writes.
const INDEXED_COLUMNS: u64 = 32;

/// Replace `relation` with the rows of `df`, one writer per partition of its plan; `None` when
/// the plan has a type Delta cannot name or the table's writes must be checked (constraints,
/// generated columns): the caller writes it the ordinary way, which plans the query again and
/// checks or says what is wrong.
pub(crate) async fn replace(
    engine: &Engine,
    relation: &Relation,
    df: DataFrame,
) -> Result<Option<WriteOutcome>> {
    let plan = df
        .create_physical_plan()
        .await
        .map_err(|e| EngineError::sql(relation.to_string().as_str(), e))?;
    let schema = plan.schema();
    let converted: std::result::Result<StructType, _> = schema.as_ref().try_into_kernel();
    let Ok(delta_schema) = converted else {
        // A type Delta has no name for: the ordinary write says which.
        return Ok(None);
    };
    let table = engine.lake().table_for_write(relation).await?;
    if crate::write::commit::writes_need_checks(&table) {
        return Ok(None);
    }
    let store = table.log_store().object_store(None);
    let properties = engine
        .context()
        .state()
        .config_options()
        .execution
        .parquet
        .into_writer_properties_builder()
        .map_err(|e| EngineError::sql(relation.to_string().as_str(), e))?
        .build();
    let config = WriterConfig::new(
        schema.clone(),
        Vec::new(),
        Some(properties),
        None,
        None,
        DataSkippingNumIndexedCols::NumColumns(INDEXED_COLUMNS),
        None,
    );
    let written = write_partitions(engine, relation, plan, store.clone(), config).await;
    let (adds, rows) = match written {
        Ok(w) => w,
        Err((e, adds)) => {
            remove_files(&store, &adds).await;
            return Err(e);
        }
    };
    crate::write::commit::replace_with_files(
        engine,
        relation,
        &table,
        &delta_schema,
        adds,
        rows,
        |adds| async move { remove_files(&store, &adds).await },
    )
    .await
    .map(Some)
}

/// Drain each partition of `plan` through a writer of its own; the files written and the rows
/// in them, or the first error with every file written (for the caller to remove).
///
/// A failing writer does not abort the others: a task aborted while closing its file would
/// leave a file no one knows of. It raises `stop`, each writer closes what it has at its next
/// batch, and every file written is returned.
async fn write_partitions(
    engine: &Engine,
    relation: &Relation,
    plan: Arc<dyn ExecutionPlan>,
    store: deltalake::logstore::ObjectStoreRef,
    config: WriterConfig,
) -> std::result::Result<(Vec<Add>, u64), (EngineError, Vec<Add>)> {
    let context = relation.to_string();
    let streams = execute_stream_partitioned(plan, engine.context().task_ctx())
        .map_err(|e| (EngineError::sql(context.as_str(), e), Vec::new()))?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = JoinSet::new();
    for mut stream in streams {
        let mut writer = DeltaWriter::new(store.clone(), config.clone());
        let context = context.clone();
        let relation = relation.clone();
        let stop = stop.clone();
        tasks.spawn(async move {
            let mut rows = 0u64;
            let mut failure = None;
            while let Some(batch) = stream.next().await {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let written = match batch {
                    Ok(b) => {
                        rows += b.num_rows() as u64;
                        writer
                            .write(&b)
                            .await
                            .map_err(|e| EngineError::delta(&relation, e))
                    }
                    Err(e) => Err(EngineError::sql(context.as_str(), e)),
                };
                if let Err(e) = written {
                    stop.store(true, Ordering::Relaxed);
                    failure = Some(e);
                    break;
                }
            }
            // Closed even after a failure, so that every file it wrote is known (and removed).
            match writer.close().await {
                Ok(adds) => (adds, rows, failure),
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    (
                        Vec::new(),
                        rows,
                        failure.or(Some(EngineError::delta(&relation, e))),
                    )
                }
            }
        });
    }
    let mut adds = Vec::new();
    let mut rows = 0;
    let mut failed = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((a, r, failure)) => {
                adds.extend(a);
                rows += r;
                if let Some(e) = failure {
                    failed.get_or_insert(e);
                }
            }
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                failed.get_or_insert(EngineError::Internal(format!(
                    "a writer of {relation} stopped: {e}"
                )));
            }
        }
    }
    match failed {
        Some(e) => Err((e, adds)),
        None => Ok((adds, rows)),
    }
}

/// Remove files a failed write left; the table never referred to them.
async fn remove_files(store: &deltalake::logstore::ObjectStoreRef, adds: &[Add]) {
    for add in adds {
        let Ok(path) = object_store::path::Path::parse(&add.path) else {
            continue;
        };
        let _ = store.delete(&path).await;
    }
}
