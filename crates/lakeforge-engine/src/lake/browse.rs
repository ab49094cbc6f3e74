//! What a table page shows of one stored relation, read from the lake as it is when asked (a
//! table a run committed after the page's server started included): a table's Delta history,
//! its columns at a version, a page of its rows at a version (time travel), its row count and
//! simple column profiles; a view's SQL and columns (views have no history). Tables are opened
//! as every read of the lake opens them ([`Lake::open_table`], whose snapshot cache serves the
//! latest version), and rows and profiles are DataFusion queries over the table's provider at
//! that version. The web UI (lakeforge-ui) is its reader.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::{DataType, Field, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::functions_aggregate::expr_fn::{approx_distinct, avg, count, max, min};
use datafusion::prelude::{DataFrame, Expr, SessionContext, cast, ident, lit};
use deltalake::DeltaTable;
use deltalake::logstore::LogStore;
use futures::{StreamExt, TryStreamExt};
use lakeforge_project::Relation;
use lakeforge_project::adapter::Cell;

use crate::error::{EngineError, Result};
use crate::jinja_adapter::cells;
use crate::lake::StoredKind;
use crate::session::Engine;

/// The most rows one page of a preview holds.
pub const MAX_PAGE_ROWS: usize = 500;
/// Text cells longer than this many characters are cut, ending in [`CUT_MARKER`].
pub const MAX_CELL_CHARS: usize = 300;
/// What a cut cell ends with.
pub const CUT_MARKER: &str = "…";
/// Commit files read at once for a history: each is one read of the lake.
const HISTORY_READS: usize = 16;
/// Tables summarised at once for a list.
const SUMMARY_OPENS: usize = 8;

/// One commit of a table's Delta log, from its `commitInfo` action.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Commit {
    pub version: i64,
    /// When it was committed, in milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
    /// `WRITE`, `CREATE OR REPLACE TABLE`, `MERGE`...
    pub operation: Option<String>,
    /// The operation's parameters (`mode`, `predicate`...) as the writer recorded them.
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// Rows written, as delta-rs (`num_added_rows`) or Spark (`numOutputRows`) records them.
    pub rows_written: Option<u64>,
    /// Files added, likewise (`num_added_files`, `numFiles`).
    pub files_added: Option<u64>,
    /// Files removed, likewise (`num_removed_files`, `numRemovedFiles`).
    pub files_removed: Option<u64>,
    /// Every metric the writer recorded (`operationMetrics`).
    pub metrics: BTreeMap<String, serde_json::Value>,
    pub engine_info: Option<String>,
}

/// A table's latest commits, newest first.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct History {
    pub latest: i64,
    pub commits: Vec<Commit>,
}

/// One column of a relation, its type as Lakeforge's SQL spells it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ColumnType {
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
}

/// How many rows a table has at a version.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RowCount {
    pub rows: u64,
    /// Summed from the Delta log's per-file statistics (nothing read); else counted by a query.
    pub from_stats: bool,
}

/// What is stored under a relation, at the version asked for.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Stored {
    Table {
        /// The version described.
        version: i64,
        /// The table's latest version.
        latest: i64,
        rows: RowCount,
    },
    View {
        sql: String,
    },
}

/// A relation's columns and what it is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Description {
    #[serde(flatten)]
    pub stored: Stored,
    pub columns: Vec<ColumnType>,
}

/// What a list of tables shows of one, from the latest version's log alone (no rows read).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Summary {
    pub kind: &'static str,
    /// A table's latest version (None for a view).
    pub version: Option<i64>,
    /// A table's rows from its log's statistics, when every file has them.
    pub rows: Option<u64>,
}

/// A page of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct RowsPage {
    /// The version read (None for a view).
    pub version: Option<i64>,
    pub columns: Vec<ColumnType>,
    pub rows: Vec<Vec<Cell>>,
    pub offset: usize,
    /// Whether rows follow this page.
    pub more: bool,
    /// Text cells cut to [`MAX_CELL_CHARS`].
    pub cut_cells: usize,
}

/// One column's profile.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ColumnProfile {
    pub name: String,
    pub data_type: String,
    pub nulls: u64,
    /// Distinct values other than null, estimated (HyperLogLog: DataFusion's
    /// `approx_distinct`); None for types it cannot hash.
    pub distinct_approx: Option<u64>,
    /// The smallest and largest value as text, for types that have an order.
    pub min: Option<String>,
    pub max: Option<String>,
    /// Numeric columns only.
    pub mean: Option<f64>,
}

/// The profiles of every column at a version.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Profile {
    pub version: Option<i64>,
    pub rows: u64,
    pub columns: Vec<ColumnProfile>,
}

/// What is stored under `relation`, or the error saying it is not in the lake.
async fn stored(engine: &Engine, relation: &Relation) -> Result<StoredKind> {
    engine
        .lake()
        .stored_now(relation)
        .await?
        .ok_or_else(|| EngineError::NotInLake {
            relation: relation.to_string(),
        })
}

/// The table of `relation` at `version` (None: its latest) with the latest version number; a
/// version the table does not have is [`EngineError::NoSuchVersion`].
async fn table_at(
    engine: &Engine,
    relation: &Relation,
    version: Option<i64>,
) -> Result<(DeltaTable, i64)> {
    let lake = engine.lake();
    let latest_table = lake
        .open_table(relation, None)
        .await
        .map_err(|e| EngineError::delta(relation, e))?;
    let latest = version_of(&latest_table);
    match version {
        None => Ok((latest_table, latest)),
        Some(v) if v == latest => Ok((latest_table, latest)),
        Some(v) if !(0..latest).contains(&v) => Err(EngineError::NoSuchVersion {
            relation: relation.to_string(),
            version: v,
            latest: Some(latest),
        }),
        Some(v) => {
            let table = lake
                .open_table(relation, Some(v))
                .await
                .map_err(|e| EngineError::delta(relation, e))?;
            Ok((table, latest))
        }
    }
}

fn version_of(table: &DeltaTable) -> i64 {
    table.version().map_or(0, |v| v as i64)
}

/// A session that reads a relation as one partition, so its rows come in one order (a
/// table's files in log order) and an offset means the same rows on every request.
fn ordered_session(engine: &Engine) -> SessionContext {
    let mut state = engine.context().state();
    state.config_mut().options_mut().execution.target_partitions = 1;
    SessionContext::new_with_state(state)
}

/// The relation's rows at `version` as a DataFrame of `ctx`, with the version read.
async fn frame(
    engine: &Engine,
    ctx: &SessionContext,
    relation: &Relation,
    version: Option<i64>,
) -> Result<(DataFrame, Option<i64>)> {
    match stored(engine, relation).await? {
        StoredKind::Table => {
            let (table, _) = table_at(engine, relation, version).await?;
            let read = version_of(&table);
            let provider = table
                .table_provider()
                .await
                .map_err(|e| EngineError::delta(relation, e))?;
            let df = ctx
                .read_table(provider)
                .map_err(|e| EngineError::sql(relation.to_string(), e))?;
            Ok((df, Some(read)))
        }
        StoredKind::View => {
            if let Some(v) = version {
                return Err(EngineError::NoSuchVersion {
                    relation: relation.to_string(),
                    version: v,
                    latest: None,
                });
            }
            let df = ctx
                .sql(&format!("SELECT * FROM {relation}"))
                .await
                .map_err(|e| EngineError::sql(relation.to_string(), e))?;
            Ok((df, None))
        }
    }
}

fn column_types(schema: &SchemaRef) -> Vec<ColumnType> {
    schema.fields().iter().map(|f| column_type(f)).collect()
}

fn column_type(f: &Field) -> ColumnType {
    ColumnType {
        name: f.name().clone(),
        data_type: cells::sql_type_name(f.data_type()),
        nullable: f.is_nullable(),
    }
}

/// The table's latest `limit` commits, newest first. Each commit file is read for its
/// `commitInfo`; versions whose file the log no longer holds (cleaned up) are left out.
pub async fn history(engine: &Engine, relation: &Relation, limit: usize) -> Result<History> {
    let (table, latest) = table_at(engine, relation, None).await?;
    let store = table.log_store();
    let first = (latest - limit as i64 + 1).max(0);
    let read: Vec<_> = futures::stream::iter((first..=latest).rev().map(|v| {
        let store = store.clone();
        async move {
            let bytes = store.read_commit_entry(v as u64).await?;
            Ok::<_, deltalake::DeltaTableError>((v, bytes))
        }
    }))
    .buffered(HISTORY_READS)
    .try_collect()
    .await
    .map_err(|e| EngineError::delta(relation, e))?;
    let commits = read
        .into_iter()
        .filter_map(|(v, bytes)| Some(commit(v, &bytes?)))
        .collect();
    Ok(History { latest, commits })
}

/// The commit of `version` from its file's `commitInfo` action (empty when it has none).
fn commit(version: i64, bytes: &[u8]) -> Commit {
    let info = bytes
        .split(|b| *b == b'\n')
        // Only the commitInfo line is parsed: the others may be thousands of file actions.
        .filter(|line| line.windows(14).any(|w| w == b"\"commitInfo\":{"))
        .filter_map(|line| serde_json::from_slice::<serde_json::Value>(line).ok())
        .find_map(|mut action| action.get_mut("commitInfo").map(serde_json::Value::take))
        .unwrap_or_default();
    let map = |key: &str| -> BTreeMap<String, serde_json::Value> {
        info.get(key)
            .and_then(serde_json::Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    };
    let metrics = map("operationMetrics");
    let metric = |names: &[&str]| {
        names.iter().find_map(|n| match metrics.get(*n)? {
            serde_json::Value::Number(x) => x.as_u64(),
            // Spark records its metrics as text.
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        })
    };
    Commit {
        version,
        timestamp_ms: info
            .get("inCommitTimestamp")
            .or_else(|| info.get("timestamp"))
            .and_then(serde_json::Value::as_i64),
        operation: info
            .get("operation")
            .and_then(|o| o.as_str())
            .map(str::to_string),
        parameters: map("operationParameters"),
        rows_written: metric(&["num_added_rows", "numOutputRows"]),
        files_added: metric(&["num_added_files", "numFiles", "numAddedFiles"]),
        files_removed: metric(&["num_removed_files", "numRemovedFiles"]),
        engine_info: info
            .get("engineInfo")
            .and_then(|o| o.as_str())
            .map(str::to_string),
        metrics,
    }
}

/// The rows of a table's files from the Delta log's statistics; None when a file has none or
/// has rows deleted by a deletion vector (its record count then says too much).
fn rows_from_stats(table: &DeltaTable) -> Option<u64> {
    let snapshot = table.snapshot().ok()?;
    let mut rows = 0u64;
    for file in snapshot.log_data().iter() {
        if file.deletion_vector_descriptor().is_some() {
            return None;
        }
        rows += file.num_records()? as u64;
    }
    Some(rows)
}

/// A relation's columns and what it is: a table at `version` (None: its latest) with its row
/// count, or a view with its SQL.
pub async fn describe(
    engine: &Engine,
    relation: &Relation,
    version: Option<i64>,
) -> Result<Description> {
    match stored(engine, relation).await? {
        StoredKind::Table => {
            let (table, latest) = table_at(engine, relation, version).await?;
            let read = version_of(&table);
            let provider = table
                .table_provider()
                .await
                .map_err(|e| EngineError::delta(relation, e))?;
            let columns = column_types(&provider.schema());
            let rows = match rows_from_stats(&table) {
                Some(rows) => RowCount {
                    rows,
                    from_stats: true,
                },
                None => {
                    let df = engine
                        .context()
                        .read_table(provider)
                        .map_err(|e| EngineError::sql(relation.to_string(), e))?;
                    let rows = df
                        .count()
                        .await
                        .map_err(|e| EngineError::sql(relation.to_string(), e))?;
                    RowCount {
                        rows: rows as u64,
                        from_stats: false,
                    }
                }
            };
            Ok(Description {
                stored: Stored::Table {
                    version: read,
                    latest,
                    rows,
                },
                columns,
            })
        }
        StoredKind::View => {
            let sql = engine.lake().read_view(relation).await?;
            let (df, _) = frame(engine, engine.context(), relation, None).await?;
            let columns = column_types(&Arc::new(df.schema().as_arrow().clone()));
            Ok(Description {
                stored: Stored::View { sql },
                columns,
            })
        }
    }
}

/// What a list shows of each relation (None: not in the lake), `relations` summarised a few
/// at a time; the answers come in the order asked.
pub async fn summaries(engine: &Engine, relations: &[Relation]) -> Vec<Result<Option<Summary>>> {
    // Owned relations: a closure over borrowed ones makes a future that is not `Send` for
    // every lifetime, which a server's handler must be.
    let owned = relations.iter().cloned();
    futures::stream::iter(owned.map(|r| async move { summary(engine, &r).await }))
        .buffered(SUMMARY_OPENS)
        .collect()
        .await
}

async fn summary(engine: &Engine, relation: &Relation) -> Result<Option<Summary>> {
    Ok(match engine.lake().stored_now(relation).await? {
        None => None,
        Some(StoredKind::View) => Some(Summary {
            kind: "view",
            version: None,
            rows: None,
        }),
        Some(StoredKind::Table) => {
            let (table, latest) = table_at(engine, relation, None).await?;
            Some(Summary {
                kind: "table",
                version: Some(latest),
                rows: rows_from_stats(&table),
            })
        }
    })
}

/// Rows `offset..offset + limit` of the relation at `version` (None: its latest; views have
/// none), in the table's file order; `limit` is at most [`MAX_PAGE_ROWS`].
pub async fn rows(
    engine: &Engine,
    relation: &Relation,
    version: Option<i64>,
    offset: usize,
    limit: usize,
) -> Result<RowsPage> {
    let limit = limit.min(MAX_PAGE_ROWS);
    let ctx = ordered_session(engine);
    let (df, read) = frame(engine, &ctx, relation, version).await?;
    let columns = column_types(&Arc::new(df.schema().as_arrow().clone()));
    // One row beyond the page says whether another follows.
    let fail = |e| EngineError::sql(relation.to_string(), e);
    let batches = df
        .limit(offset, Some(limit + 1))
        .map_err(fail)?
        .collect()
        .await
        .map_err(fail)?;
    let mut rows = cells::rows(&batches).map_err(|e| EngineError::sql(relation.to_string(), e))?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let mut cut_cells = 0;
    for cell in rows.iter_mut().flatten() {
        if let Cell::Text(s) = cell
            && cut(s)
        {
            cut_cells += 1;
        }
    }
    Ok(RowsPage {
        version: read,
        columns,
        rows,
        offset,
        more,
        cut_cells,
    })
}

/// Per column: nulls, approximate distinct values, min and max, and for numbers the mean, at
/// `version` (None: the latest), computed by one aggregate query over the relation.
pub async fn profile(
    engine: &Engine,
    relation: &Relation,
    version: Option<i64>,
) -> Result<Profile> {
    let (df, read) = frame(engine, engine.context(), relation, version).await?;
    let fields: Vec<Field> = df
        .schema()
        .as_arrow()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut aggregates = vec![count(lit(1)).alias("rows")];
    for (i, f) in fields.iter().enumerate() {
        let c = ident(f.name());
        aggregates.push(count(c.clone()).alias(format!("n{i}")));
        if let Some(d) = distinct_input(f.data_type(), c.clone()) {
            aggregates.push(approx_distinct(d).alias(format!("d{i}")));
        }
        if ordered(f.data_type()) {
            aggregates.push(min(c.clone()).alias(format!("lo{i}")));
            aggregates.push(max(c.clone()).alias(format!("hi{i}")));
        }
        if f.data_type().is_numeric() {
            aggregates.push(avg(cast(c, DataType::Float64)).alias(format!("m{i}")));
        }
    }
    let fail = |e| EngineError::sql(relation.to_string(), e);
    let batches = df
        .aggregate(vec![], aggregates)
        .map_err(fail)?
        .collect()
        .await
        .map_err(fail)?;
    let batch = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| EngineError::Internal(format!("no profile row for {relation}")))?;
    let rows = unsigned(batch, "rows").unwrap_or(0);
    let columns = fields
        .iter()
        .enumerate()
        .map(|(i, f)| ColumnProfile {
            name: f.name().clone(),
            data_type: cells::sql_type_name(f.data_type()),
            nulls: rows.saturating_sub(unsigned(batch, &format!("n{i}")).unwrap_or(0)),
            distinct_approx: unsigned(batch, &format!("d{i}")),
            min: text(batch, &format!("lo{i}")),
            max: text(batch, &format!("hi{i}")),
            mean: match scalar(batch, &format!("m{i}")) {
                Some(ScalarValue::Float64(m)) => m,
                _ => None,
            },
        })
        .collect();
    Ok(Profile {
        version: read,
        rows,
        columns,
    })
}

/// What `approx_distinct` is given for a column of type `t`: the column, or its text for the
/// types it cannot hash itself (floats, dictionaries); None for nested types.
fn distinct_input(t: &DataType, c: Expr) -> Option<Expr> {
    match t {
        DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Dictionary(..) => {
            Some(cast(c, DataType::Utf8))
        }
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::FixedSizeList(..)
        | DataType::ListView(_)
        | DataType::LargeListView(_)
        | DataType::Map(..)
        | DataType::Struct(_)
        | DataType::Union(..)
        | DataType::RunEndEncoded(..) => None,
        _ => Some(c),
    }
}

/// Whether min and max mean something for type `t` (and DataFusion computes them).
fn ordered(t: &DataType) -> bool {
    t.is_numeric()
        || t.is_temporal()
        || matches!(
            t,
            DataType::Boolean | DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        )
}

fn scalar(batch: &RecordBatch, name: &str) -> Option<ScalarValue> {
    let column = batch.column_by_name(name)?;
    ScalarValue::try_from_array(column.as_ref(), 0).ok()
}

fn unsigned(batch: &RecordBatch, name: &str) -> Option<u64> {
    match scalar(batch, name)? {
        ScalarValue::Int64(Some(n)) => u64::try_from(n).ok(),
        ScalarValue::UInt64(Some(n)) => Some(n),
        _ => None,
    }
}

fn text(batch: &RecordBatch, name: &str) -> Option<String> {
    let column = batch.column_by_name(name)?;
    if column.is_null(0) {
        return None;
    }
    arrow::util::display::array_value_to_string(column.as_ref(), 0)
        .ok()
        .map(|mut s| {
            cut(&mut s);
            s
        })
}

/// Cut `s` to [`MAX_CELL_CHARS`] characters and the marker; whether it was longer.
fn cut(s: &mut String) -> bool {
    match s.char_indices().nth(MAX_CELL_CHARS) {
        Some((end, _)) => {
            s.truncate(end);
            s.push_str(CUT_MARKER);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests;
