//! Ingest of Parquet files as they are: the table materialization of a model that is exactly
//! `select * from` a Parquet file source (no filter, no expression, no rename) copies the
//! source's files into the table and commits them, instead of decoding and re-encoding every
//! row group. The table holds the same rows, columns and types either way; what changes is the
//! cost (a file copy against a full Parquet rewrite, which delta-rs does on one thread).
//!
//! Only when it is safe: a lake on local disk, local source files, no hive partition columns,
//! and every file with the same schema made only of types Delta stores as they are (no
//! unsigned integers, nanosecond timestamps, view or large strings). Anything else takes the
//! ordinary write. The copy happens before the commit, and one commit swaps the table's files
//! (`commit.rs`), so a failure leaves the previous version readable.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::datasource::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::source_as_provider;
use datafusion::logical_expr::LogicalPlan;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::prelude::DataFrame;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::{Add, StructType};
use futures::TryStreamExt;
use lakeforge_project::Relation;

use crate::error::{EngineError, Result};
use crate::session::Engine;
use crate::write::materialize::WriteOutcome;

/// Write `df` into `relation` by copying its Parquet files, when `df` is a plain scan of
/// them; None when it is not (the caller writes it the ordinary way).
pub(crate) async fn copy_parquet_files(
    engine: &Engine,
    relation: &Relation,
    df: &DataFrame,
) -> Result<Option<WriteOutcome>> {
    let Some(table_dir) = engine
        .lake()
        .local_root()
        .map(|r| r.join(&relation.schema).join(&relation.identifier))
    else {
        return Ok(None);
    };
    let Some(files) = plain_parquet_scan(engine, df).await? else {
        return Ok(None);
    };
    // Footers only: the schema and row count of each file.
    let checked = tokio::task::spawn_blocking(move || check_files(files))
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?;
    let Some((schema, files)) = checked else {
        return Ok(None);
    };

    let delta_schema: StructType = schema
        .as_ref()
        .try_into_kernel()
        .map_err(|e| EngineError::delta(relation, e))?;
    let table = engine.lake().table_for_write(relation).await?;
    if crate::write::commit::writes_need_checks(&table) {
        return Ok(None);
    }
    let copy_dir = table_dir.clone();
    let copied = tokio::task::spawn_blocking(move || copy_files(&files, &copy_dir))
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))??;
    let rows: u64 = copied.iter().map(|(_, n)| *n).sum();
    let adds: Vec<Add> = copied.into_iter().map(|(a, _)| a).collect();
    crate::write::commit::replace_with_files(
        engine,
        relation,
        &table,
        &delta_schema,
        adds,
        rows,
        |adds| async move { remove_copies(&adds, &table_dir) },
    )
    .await
    .map(Some)
}

/// The local files `df` reads, when its optimized plan is a bare scan of every column of a
/// Parquet listing table without partition columns.
async fn plain_parquet_scan(engine: &Engine, df: &DataFrame) -> Result<Option<Vec<PathBuf>>> {
    let Ok(plan) = df.clone().into_optimized_plan() else {
        return Ok(None);
    };
    let LogicalPlan::TableScan(scan) = &plan else {
        return Ok(None);
    };
    if !scan.filters.is_empty() || scan.fetch.is_some() {
        return Ok(None);
    }
    let Ok(provider) = source_as_provider(&scan.source) else {
        return Ok(None);
    };
    let Some(listing) = provider.downcast_ref::<ListingTable>() else {
        return Ok(None);
    };
    let width = listing.schema().fields().len();
    if scan
        .projection
        .as_ref()
        .is_some_and(|p| *p != (0..width).collect::<Vec<_>>())
    {
        return Ok(None);
    }
    let options = listing.options();
    if !options.table_partition_cols.is_empty()
        || (options.format.as_ref() as &dyn std::any::Any)
            .downcast_ref::<ParquetFormat>()
            .is_none()
    {
        return Ok(None);
    }
    let state = engine.context().state();
    let mut files = Vec::new();
    for url in listing.table_paths() {
        if url.scheme() != "file" {
            return Ok(None);
        }
        let store = state
            .runtime_env()
            .object_store(url)
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        let listed: Vec<_> = url
            .list_all_files(&state, store.as_ref(), &options.file_extension)
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?
            .try_collect()
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        for meta in listed {
            files.push(PathBuf::from(format!("/{}", meta.location)));
        }
    }
    files.sort();
    Ok((!files.is_empty()).then_some(files))
}

/// A Parquet file to commit: its path, size in bytes and row count.
type CheckedFile = (PathBuf, u64, u64);

/// Each file with its row count, and their common schema, when they all share one that Delta
/// stores as it is.
fn check_files(files: Vec<PathBuf>) -> Option<(SchemaRef, Vec<CheckedFile>)> {
    let mut schema: Option<SchemaRef> = None;
    let mut out = Vec::with_capacity(files.len());
    for path in files {
        let file = std::fs::File::open(&path).ok()?;
        let size = file.metadata().ok()?.len();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).ok()?;
        let rows = u64::try_from(reader.metadata().file_metadata().num_rows()).ok()?;
        let this = Arc::new(Schema::new(reader.schema().fields().clone()));
        if !this.fields().iter().all(|f| stored_as_is(f.data_type())) {
            return None;
        }
        match &schema {
            Some(s) if s != &this => return None,
            Some(_) => {}
            None => schema = Some(this),
        }
        out.push((path, size, rows));
    }
    Some((schema?, out))
}

/// Types a Delta table holds exactly as Parquet gives them.
fn stored_as_is(t: &DataType) -> bool {
    use arrow::datatypes::TimeUnit;
    match t {
        DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::Float32
        | DataType::Float64
        | DataType::Utf8
        | DataType::Binary
        | DataType::Date32
        | DataType::Decimal128(_, _) => true,
        DataType::Timestamp(TimeUnit::Microsecond, None) => true,
        DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) => tz.as_ref() == "UTC",
        _ => false,
    }
}

/// Copy the files into the table folder under new names; the Add action and row count of
/// each. A failed copy removes what it copied.
fn copy_files(
    files: &[(PathBuf, u64, u64)],
    table_dir: &std::path::Path,
) -> Result<Vec<(Add, u64)>> {
    let run = uuid::Uuid::new_v4();
    let now = chrono::Utc::now().timestamp_millis();
    let mut copied: Vec<(Add, u64)> = Vec::with_capacity(files.len());
    for (i, (path, size, rows)) in files.iter().enumerate() {
        let name = format!("part-{i:05}-{run}-c000.parquet");
        if let Err(e) = std::fs::copy(path, table_dir.join(&name)) {
            let done: Vec<Add> = copied.into_iter().map(|(a, _)| a).collect();
            remove_copies(&done, table_dir);
            return Err(EngineError::Lake {
                path: path.clone(),
                source: e,
            });
        }
        let add = Add {
            path: name,
            size: *size as i64,
            modification_time: now,
            data_change: true,
            stats: Some(format!("{{\"numRecords\":{rows}}}")),
            ..Default::default()
        };
        copied.push((add, *rows));
    }
    Ok(copied)
}

fn remove_copies(copied: &[Add], table_dir: &std::path::Path) {
    for add in copied {
        let _ = std::fs::remove_file(table_dir.join(&add.path));
    }
}
