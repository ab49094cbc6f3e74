//! Materializations: how a model's SELECT becomes something in the lake. Tables and
//! incremental models are written as one Delta commit each, so a failed or killed build leaves
//! the previous version readable; views are stored SQL; ephemeral models exist only inside the
//! session, inlined into whatever reads them.

use std::sync::Arc;

use arrow::datatypes::Schema;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{cast, ident, lit};
use datafusion::prelude::DataFrame;
use deltalake::DeltaTable;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use futures::TryStreamExt;
use lakeforge_project::{
    IncrementalStrategy, Materialization, Node, OnSchemaChange, Relation, quote_ident,
};

use crate::error::{EngineError, Result};
use crate::lake::StoredKind;
use crate::lake::conflict::{retry_on_conflict, write_error};
use crate::session::Engine;
use crate::write::contract;
use crate::write::normalize;

/// What a write did, for the run's log line and its records.
#[derive(Debug, Clone)]
pub struct WriteOutcome {
    /// `CREATE TABLE`, `INSERT`, `MERGE`, `CREATE VIEW`, `EPHEMERAL`.
    pub action: &'static str,
    pub rows: Option<u64>,
    /// The Delta version this write committed.
    pub version: Option<i64>,
}

/// Build `node` from its compiled `sql`.
pub async fn materialize(
    engine: &Engine,
    node: &Node,
    sql: &str,
    full_refresh: bool,
) -> Result<WriteOutcome> {
    let context = node.path.as_str();
    let relation = &node.relation;
    // `full_refresh: false` in a model's config protects it from --full-refresh.
    let full_refresh = full_refresh && node.config.full_refresh != Some(false);
    match node.config.materialized {
        Materialization::View => {
            // Plan first: a view that does not plan must not replace a working one.
            let df = engine.dataframe(context, sql).await?;
            contract::check(node, df.schema().as_arrow())?;
            engine.lake().write_view(relation, sql).await?;
            engine.lake().remove_table(relation).await?;
            Ok(WriteOutcome {
                action: "CREATE VIEW",
                rows: None,
                version: None,
            })
        }
        Materialization::Ephemeral => {
            engine.register_ephemeral(context, relation, sql).await?;
            Ok(WriteOutcome {
                action: "EPHEMERAL",
                rows: None,
                version: None,
            })
        }
        Materialization::Incremental
            if !full_refresh && engine.stored(relation) == Some(StoredKind::Table) =>
        {
            // The version the model's SQL reads (`{{ this }}`), taken before planning: the
            // write is based on it, so a commit another run made since then is a conflict.
            let read = engine.table_version(relation).await;
            let df = engine.dataframe(context, sql).await?;
            contract::check(node, df.schema().as_arrow())?;
            incremental(engine, node, normalize::for_delta(df, context)?, read).await
        }
        Materialization::Table | Materialization::Incremental => {
            let df = engine.dataframe(context, sql).await?;
            contract::check(node, df.schema().as_arrow())?;
            // A table model replaces the whole table from its own inputs: safe to redo when
            // another run committed to it meanwhile (see `conflict`).
            let df = &df;
            let outcome = retry_on_conflict(|| async move {
                match crate::write::passthrough::copy_parquet_files(engine, relation, df).await? {
                    Some(copied) => Ok(copied),
                    None => {
                        let df = normalize::for_delta(df.clone(), context)?;
                        write_replacement(engine, relation, df, "CREATE TABLE").await
                    }
                }
            })
            .await?;
            engine.lake().remove_view(relation).await?;
            Ok(outcome)
        }
        Materialization::Snapshot => crate::write::snapshot::snapshot(engine, node, sql).await,
        Materialization::Seed | Materialization::Test | Materialization::MlModel => {
            Err(EngineError::Internal(format!(
                "{} is not a model and cannot be materialized",
                node.unique_id
            )))
        }
    }
}

/// The table to commit to: at its latest version, or at `based_on`, the version the data being
/// written was computed from (then delta-rs checks every commit since against this one).
async fn open_for_write(
    engine: &Engine,
    relation: &Relation,
    based_on: Option<i64>,
) -> Result<DeltaTable> {
    let mut table = engine.lake().table_for_write(relation).await?;
    if let Some(v) = based_on {
        let version = u64::try_from(v).map_err(|_| {
            EngineError::Internal(format!("{relation}: negative Delta version {v}"))
        })?;
        if table.version() == Some(version) {
            return Ok(table);
        }
        table
            .load_version(version)
            .await
            .map_err(|e| EngineError::delta(relation, e))?;
    }
    Ok(table)
}

/// Replace the table's contents and schema in one commit, redoing it when another run committed
/// first. Only for data that does not come from the table itself (a seed, a table model, an
/// audit table): the redo does not look at what the other run wrote.
pub(crate) async fn replace(
    engine: &Engine,
    relation: &Relation,
    df: DataFrame,
    action: &'static str,
) -> Result<WriteOutcome> {
    retry_on_conflict(|| write_replacement(engine, relation, df.clone(), action)).await
}

/// Replace the table's contents and schema with `df` in one commit: encoded by one writer per
/// partition of its plan (`parallel`), or by delta-rs's write when a column has a type Delta
/// cannot name (its error says which) or the table's writes must be checked (constraints).
async fn write_replacement(
    engine: &Engine,
    relation: &Relation,
    df: DataFrame,
    action: &'static str,
) -> Result<WriteOutcome> {
    if let Some(written) = crate::write::parallel::replace(engine, relation, df.clone()).await? {
        return Ok(WriteOutcome { action, ..written });
    }
    overwrite(engine, relation, df, action, None).await
}

/// Replace the table's contents and schema in one commit based on version `based_on` (None:
/// the latest); a concurrent commit fails it with [`EngineError::ConcurrentWrite`].
pub(crate) async fn overwrite(
    engine: &Engine,
    relation: &Relation,
    df: DataFrame,
    action: &'static str,
    based_on: Option<i64>,
) -> Result<WriteOutcome> {
    let table = open_for_write(engine, relation, based_on).await?;
    let checks = crate::write::commit::checks_of(&table);
    let state = Arc::new(engine.context().state());
    let table = table
        .write(Vec::new())
        .with_input_plan(df.into_unoptimized_plan())
        .with_session_state(state)
        .with_commit_properties(commit_properties())
        .with_save_mode(SaveMode::Overwrite)
        .with_schema_mode(SchemaMode::Overwrite)
        .await
        .map_err(|e| checked_write_error(relation, checks, e))?;
    finish(engine, relation, table, action).await
}

pub(crate) async fn append(
    engine: &Engine,
    relation: &Relation,
    df: DataFrame,
    merge_schema: bool,
    based_on: Option<i64>,
) -> Result<WriteOutcome> {
    let table = open_for_write(engine, relation, based_on).await?;
    let checks = crate::write::commit::checks_of(&table);
    let mut builder = table
        .write(Vec::new())
        .with_input_plan(df.into_unoptimized_plan())
        .with_session_state(Arc::new(engine.context().state()))
        .with_commit_properties(commit_properties())
        .with_save_mode(SaveMode::Append);
    if merge_schema {
        builder = builder.with_schema_mode(SchemaMode::Merge);
    }
    let table = builder
        .await
        .map_err(|e| checked_write_error(relation, checks, e))?;
    finish(engine, relation, table, "INSERT").await
}

/// Append rows already in the table's shape (an `INSERT` a hook or macro runs). Parallel
/// nodes' hooks often insert into one audit table, so a conflict redoes the insert, its query
/// re-run against the table as it now is (what a database's INSERT ... SELECT does under read
/// committed).
pub(crate) async fn append_rows(
    engine: &Engine,
    relation: &Relation,
    df: DataFrame,
) -> Result<WriteOutcome> {
    retry_on_conflict(|| append(engine, relation, df.clone(), false, None)).await
}

/// Append a query's rows to a table, creating it on first use and adding new columns. The
/// rows do not come from the table, so the append is redone if another run committed first.
pub(crate) async fn append_df(
    engine: &Engine,
    relation: &Relation,
    df: DataFrame,
) -> Result<WriteOutcome> {
    retry_on_conflict(|| append(engine, relation, df.clone(), true, None)).await
}

/// Every Lakeforge commit carries this application id (Delta's `txn` action). delta-rs lets
/// a blind append commit over a concurrent one unchecked; with the same id in both, the later
/// commit fails instead, so a write computed from the table (an incremental model's new rows
/// after `{{ this }}`'s watermark) never lands on top of rows it did not see.
const APP_ID: &str = "lakeforge";

pub(crate) fn commit_properties() -> CommitProperties {
    let now_ms = chrono::Utc::now().timestamp_millis();
    // No retries inside delta-rs: its conflict checker rebases a losing commit onto the
    // winner's version unchanged, so two runs creating a table at once both "create" it and the
    // second lands as version 1 without removing the first's files (rows doubled). A conflict
    // surfaces instead; writes that may be redone go through `retry_on_conflict`, which reopens
    // the table and recomputes the commit, and the others fail in our words.
    CommitProperties::default()
        .with_application_transaction(Transaction::new(APP_ID, now_ms))
        .with_max_retries(0)
}

/// [`write_error`], naming the table's `checks` when the write broke one of them.
fn checked_write_error(
    relation: &Relation,
    checks: Option<String>,
    e: deltalake::DeltaTableError,
) -> EngineError {
    use crate::error::IntoDeltaCause as _;
    // delta-rs reports a broken check as invalid data, in these words (its own tests say so).
    match checks {
        Some(checks) if e.to_string().contains("failed validation check") => {
            EngineError::Constraint {
                relation: relation.to_string(),
                checks,
                cause: e.into_cause(),
            }
        }
        _ => write_error(relation, e),
    }
}

async fn finish(
    engine: &Engine,
    relation: &Relation,
    table: DeltaTable,
    action: &'static str,
) -> Result<WriteOutcome> {
    engine.lake().note_table(relation);
    engine.lake().committed(relation, &table).await;
    let version = table.version().map(|v| v as i64);
    let commits: Vec<_> = table
        .history(Some(1))
        .try_collect()
        .await
        .map_err(|e| EngineError::delta(relation, e))?;
    let rows = commits
        .first()
        .and_then(|c| c.info.get("operationMetrics"))
        .and_then(|m| m.get("num_added_rows"))
        .and_then(|v| v.as_u64());
    Ok(WriteOutcome {
        action,
        rows,
        version,
    })
}

/// Write the new rows of an incremental model whose SQL read the table at version `read`.
async fn incremental(
    engine: &Engine,
    node: &Node,
    new: DataFrame,
    read: Option<i64>,
) -> Result<WriteOutcome> {
    let relation = &node.relation;
    let context = node.path.as_str();
    let target_df = engine
        .dataframe(context, &format!("select * from {relation}"))
        .await?;
    let target = target_df.schema().as_arrow().clone();
    let source = new.schema().as_arrow().clone();
    let added: Vec<String> = source
        .fields()
        .iter()
        .filter(|f| target.field_with_name(f.name()).is_err())
        .map(|f| f.name().clone())
        .collect();
    let removed: Vec<String> = target
        .fields()
        .iter()
        .filter(|f| source.field_with_name(f.name()).is_err())
        .map(|f| f.name().clone())
        .collect();
    let changed = !added.is_empty() || !removed.is_empty();
    let strategy =
        node.config
            .incremental_strategy
            .unwrap_or(if node.config.unique_key.is_empty() {
                IncrementalStrategy::Append
            } else {
                IncrementalStrategy::Merge
            });
    if strategy == IncrementalStrategy::Merge && node.config.unique_key.is_empty() {
        return Err(EngineError::Schema {
            relation: relation.to_string(),
            message: format!(
                "{context}: incremental_strategy merge needs a unique_key\nhint: add unique_key to the model's config"
            ),
        });
    }
    for key in &node.config.unique_key {
        if source.field_with_name(key).is_err() {
            return Err(EngineError::Schema {
                relation: relation.to_string(),
                message: format!("unique_key `{key}` is not a column of the model's query"),
            });
        }
    }

    let policy = node.config.on_schema_change;
    if changed && policy == OnSchemaChange::Fail {
        return Err(EngineError::Schema {
            relation: relation.to_string(),
            message: format!(
                "the model's columns changed (added: [{}], removed: [{}]) and on_schema_change is `fail`\nhint: run with --full-refresh, or set on_schema_change to append_new_columns or sync_all_columns",
                added.join(", "),
                removed.join(", ")
            ),
        });
    }

    // A column whose type changed is cast only when no value is lost; else nothing is written.
    let lossy = crate::write::drift::lossy_changes(
        &target,
        &source,
        policy == OnSchemaChange::SyncAllColumns,
    );
    if !lossy.is_empty() {
        return Err(EngineError::Schema {
            relation: relation.to_string(),
            message: format!(
                "{context}: a column changed type in a way that would lose values, so nothing was written:\n  {}\nhint: cast the column in the model's SQL to the table's type, or run with --full-refresh to rebuild the table with the new types",
                lossy.join("\n  ")
            ),
        });
    }

    if changed && policy == OnSchemaChange::SyncAllColumns {
        // Dropping columns rewrites the table: the new rows plus the kept old rows, in the new
        // shape, in one overwrite commit.
        let kept = conform(target_df, &source, context)?;
        let kept = if strategy == IncrementalStrategy::Merge {
            let keys = &node.config.unique_key;
            let sel: Vec<_> = keys.iter().map(ident).collect();
            let new_keys = new
                .clone()
                .select(sel.clone())
                .map_err(|e| EngineError::sql(context, e))?;
            kept.join(
                new_keys,
                datafusion::common::JoinType::LeftAnti,
                &keys.iter().map(String::as_str).collect::<Vec<_>>(),
                &keys.iter().map(String::as_str).collect::<Vec<_>>(),
                None,
            )
            .map_err(|e| EngineError::sql(context, e))?
        } else {
            kept
        };
        let all = new.union(kept).map_err(|e| EngineError::sql(context, e))?;
        return overwrite(
            engine,
            relation,
            all,
            if strategy == IncrementalStrategy::Merge {
                "MERGE"
            } else {
                "INSERT"
            },
            read,
        )
        .await;
    }

    // `ignore` keeps the table's shape: new columns are dropped, missing ones written as NULL.
    let (new, merge_schema) = match policy {
        OnSchemaChange::AppendNewColumns => (conform_common(new, &target, context)?, true),
        _ => (conform(new, &target, context)?, false),
    };
    match strategy {
        IncrementalStrategy::Append => append(engine, relation, new, merge_schema, read).await,
        IncrementalStrategy::Merge => merge(engine, node, new, merge_schema, read).await,
    }
}

/// Project `df` onto `schema`: same columns in the same order, cast to the schema's types,
/// NULL where `df` lacks a column.
pub(crate) fn conform(df: DataFrame, schema: &Schema, context: &str) -> Result<DataFrame> {
    let have = df.schema().as_arrow().clone();
    let exprs: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| match have.field_with_name(f.name()) {
            Ok(h) if h.data_type() == f.data_type() => ident(f.name()),
            Ok(_) => cast(ident(f.name()), f.data_type().clone()).alias(f.name()),
            Err(_) => cast(lit(ScalarValue::Null), f.data_type().clone()).alias(f.name()),
        })
        .collect();
    df.select(exprs).map_err(|e| EngineError::sql(context, e))
}

/// `df` with the columns it shares with `schema` cast to the schema's types; its other columns
/// as they are (new columns a schema merge will add).
fn conform_common(df: DataFrame, schema: &Schema, context: &str) -> Result<DataFrame> {
    let have = df.schema().as_arrow().clone();
    let exprs: Vec<_> = have
        .fields()
        .iter()
        .map(|h| match schema.field_with_name(h.name()) {
            Ok(f) if f.data_type() != h.data_type() => {
                cast(ident(h.name()), f.data_type().clone()).alias(h.name())
            }
            _ => ident(h.name()),
        })
        .collect();
    df.select(exprs).map_err(|e| EngineError::sql(context, e))
}

async fn merge(
    engine: &Engine,
    node: &Node,
    source: DataFrame,
    merge_schema: bool,
    based_on: Option<i64>,
) -> Result<WriteOutcome> {
    let relation = &node.relation;
    // MERGE runs its source more than once; a database source is read once (see
    // `database::read_once`), so the database is queried once for a consistent set of rows.
    let source = crate::sources::database::read_once(engine.context(), source)
        .await
        .map_err(|e| EngineError::sql(node.path.as_str(), e))?;
    let table = open_for_write(engine, relation, based_on).await?;
    let predicate = node
        .config
        .unique_key
        .iter()
        .map(|k| format!("target.{q} = source.{q}", q = quote_ident(k)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let columns: Vec<String> = source
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let update_cols = columns.clone();
    let insert_cols = columns;
    let (table, metrics) = table
        .merge(source, predicate.as_str())
        .with_source_alias("source")
        .with_target_alias("target")
        .with_merge_schema(merge_schema)
        .with_commit_properties(commit_properties())
        .with_session_state(Arc::new(engine.context().state()))
        .when_matched_update(|mut u| {
            for c in &update_cols {
                u = u.update(quote_ident(c), format!("source.{}", quote_ident(c)));
            }
            u
        })
        .map_err(|e| EngineError::delta(relation, e))?
        .when_not_matched_insert(|mut i| {
            for c in &insert_cols {
                i = i.set(quote_ident(c), format!("source.{}", quote_ident(c)));
            }
            i
        })
        .map_err(|e| EngineError::delta(relation, e))?
        .await
        .map_err(|e| write_error(relation, e))?;
    engine.lake().committed(relation, &table).await;
    Ok(WriteOutcome {
        action: "MERGE",
        // usize to u64: lossless on every platform Lakeforge builds for.
        rows: Some((metrics.num_target_rows_inserted + metrics.num_target_rows_updated) as u64),
        version: table.version().map(|v| v as i64),
    })
}
