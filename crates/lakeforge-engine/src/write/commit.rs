//! The commit that makes files already written into a table's folder its new contents, shared
//! by the Parquet pass-through (files copied as they are) and the parallel writers (files
//! encoded by several writers). Nothing refers to the files before the commit lands, so a
//! failed commit removes them and the previous version stands.
//!
//! An existing table is overwritten as delta-rs's own overwrite does it: one `WRITE` commit
//! removing every current file, adding the new ones and, when the columns changed, the table's
//! metadata with the new schema. The table keeps its id, properties and protocol, so readers
//! that follow it (a streaming reader, a change-data feed) see one table across builds. A new
//! table, or one whose layout the new files cannot join (partition columns, column mapping, a
//! type its protocol does not allow), is created over in one `CREATE OR REPLACE` instead. A
//! table whose writes must be checked as they go (constraints, generated columns) is not
//! written through here at all (`writes_need_checks`).

use deltalake::DeltaTable;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, PROTOCOL};
use deltalake::kernel::{
    Action, Add, DataType, EagerSnapshot, MetadataExt as _, StructField, StructType,
};
use deltalake::operations::create::CreateBuilder;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::table::state::DeltaTableState;
use futures::TryStreamExt as _;
use lakeforge_project::Relation;

use crate::error::Result;
use crate::session::Engine;
use crate::write::materialize::WriteOutcome;

/// Commit `adds` (holding `rows` rows of `schema`) as the whole of `table`; on failure
/// `remove` is given them to delete before the error is returned.
pub(crate) async fn replace_with_files<F, Fut>(
    engine: &Engine,
    relation: &Relation,
    table: &DeltaTable,
    schema: &StructType,
    adds: Vec<Add>,
    rows: u64,
    remove: F,
) -> Result<WriteOutcome>
where
    F: FnOnce(Vec<Add>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let committed = match table.snapshot() {
        Ok(state) if joinable(state.snapshot(), schema) => {
            overwrite(table, state, schema, &adds, rows).await
        }
        _ => create_or_replace(table, schema, &adds, properties(&adds, rows, None)).await,
    };
    match committed {
        Ok(table) => {
            engine.lake().note_table(relation);
            engine.lake().committed(relation, &table).await;
            Ok(WriteOutcome {
                action: "CREATE TABLE",
                rows: Some(rows),
                version: table.version().map(|v| v as i64),
            })
        }
        Err(e) => {
            remove(adds).await;
            Err(crate::lake::conflict::write_error(relation, e))
        }
    }
}

/// Whether writes to `table` must check or compute values as they go: CHECK constraints,
/// column invariants ([`checks_of`]), generated or identity columns (set by another tool;
/// Lakeforge sets none). The writers whose files this module commits do none of that, so such
/// a table is written by delta-rs's own write, which does. Asked before any file is written.
pub(crate) fn writes_need_checks(table: &DeltaTable) -> bool {
    let Ok(state) = table.snapshot() else {
        return false;
    };
    let mut computed = false;
    visit_fields(state.schema().fields(), "", &mut |_, f| {
        computed |= f.metadata.keys().any(|k| {
            k.starts_with("delta.generationExpression") || k.starts_with("delta.identity")
        });
    });
    computed || checks_of(table).is_some()
}

/// The CHECK constraints (`name: expression`) and column invariants (nested columns too) of
/// `table`, for an error that a write broke one of them; None when it has neither.
pub(crate) fn checks_of(table: &DeltaTable) -> Option<String> {
    let state = table.snapshot().ok()?;
    let mut checks: Vec<String> = state
        .metadata()
        .configuration()
        .iter()
        .filter_map(|(k, v)| Some(format!("{}: {v}", k.strip_prefix("delta.constraints.")?)))
        .collect();
    checks.sort();
    visit_fields(state.schema().fields(), "", &mut |path, f| {
        if let Some(invariant) = f.metadata().get("delta.invariants") {
            let text = match invariant {
                deltalake::kernel::MetadataValue::String(s) => s.clone(),
                other => format!("{other:?}"),
            };
            checks.push(format!("invariant of {path}: {text}"));
        }
    });
    (!checks.is_empty()).then(|| checks.join("; "))
}

/// Call `visit` with every field and its dotted path, struct fields' own fields included.
fn visit_fields<'a>(
    fields: impl Iterator<Item = &'a StructField>,
    prefix: &str,
    visit: &mut dyn FnMut(&str, &StructField),
) {
    for f in fields {
        let path = format!("{prefix}{}", f.name());
        visit(&path, f);
        if let DataType::Struct(inner) = f.data_type() {
            visit_fields(inner.fields(), &format!("{path}."), visit);
        }
    }
}

/// Lakeforge's commit properties with the metrics delta-rs's own writes record, so the
/// table's history shows the rows and files of this commit too. `removed`: the files an
/// overwrite removes, when it is one.
fn properties(adds: &[Add], rows: u64, removed: Option<usize>) -> CommitProperties {
    let mut metrics = serde_json::json!({
        "num_added_files": adds.len(),
        "num_added_rows": rows,
    });
    if let Some(removed) = removed {
        metrics["num_removed_files"] = removed.into();
    }
    crate::write::materialize::commit_properties()
        .with_metadata([("operationMetrics".to_string(), metrics)])
}

/// Whether files of `schema`, unpartitioned and named by their columns, can replace the
/// contents of the table `snapshot` describes within its current layout and protocol.
fn joinable(snapshot: &EagerSnapshot, schema: &StructType) -> bool {
    use delta_kernel::table_features::ColumnMappingMode;
    snapshot.metadata().partition_columns().is_empty()
        && snapshot.table_configuration().column_mapping_mode() == ColumnMappingMode::None
        && PROTOCOL
            .check_can_write_timestamp_ntz(snapshot, schema)
            .is_ok()
        && PROTOCOL.check_can_write_variant(snapshot, schema).is_ok()
}

/// One `WRITE` (overwrite) commit on top of `state`: every current file out, `adds` in, the
/// metadata's schema replaced when it differs. A commit by someone else since `state` fails it
/// (no retries: see `commit_properties`).
async fn overwrite(
    table: &DeltaTable,
    state: &DeltaTableState,
    schema: &StructType,
    adds: &[Add],
    rows: u64,
) -> deltalake::DeltaResult<DeltaTable> {
    let snapshot = state.snapshot();
    let mut actions: Vec<Action> = snapshot
        .file_views(table.log_store().as_ref(), None)
        .map_ok(|file| Action::Remove(file.remove_action(true)))
        .try_collect()
        .await?;
    let properties = properties(adds, rows, Some(actions.len()));
    if snapshot.schema().as_ref() != schema {
        actions.push(Action::Metadata(
            snapshot.metadata().clone().with_schema(schema)?,
        ));
    }
    actions.extend(adds.iter().cloned().map(Action::Add));
    let operation = DeltaOperation::Write {
        mode: SaveMode::Overwrite,
        partition_by: None,
        predicate: None,
    };
    let commit = CommitBuilder::from(properties)
        .with_actions(actions)
        .build(Some(state), table.log_store(), operation)
        .await?;
    let mut committed = DeltaTable::new(table.log_store());
    committed.state = Some(commit.snapshot);
    Ok(committed)
}

/// One `CREATE OR REPLACE` commit: a table of `schema` holding exactly `adds`.
async fn create_or_replace(
    table: &DeltaTable,
    schema: &StructType,
    adds: &[Add],
    properties: CommitProperties,
) -> deltalake::DeltaResult<DeltaTable> {
    CreateBuilder::new()
        .with_log_store(table.log_store())
        .with_columns(schema.fields().cloned())
        .with_save_mode(SaveMode::Overwrite)
        .with_commit_properties(properties)
        .with_actions(adds.iter().cloned().map(Action::Add))
        .await
}
