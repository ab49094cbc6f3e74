//! The commit that makes files already written into a table's folder its new contents: one
//! `CREATE OR REPLACE` (the new schema, every earlier file out of the snapshot, these files in),
//! shared by the Parquet pass-through (files copied as they are) and the parallel writers (files
//! encoded by several writers). Nothing refers to the files before the commit lands, so a failed
//! commit removes them and the previous version stands.

use deltalake::DeltaTable;
use deltalake::kernel::{Action, Add, StructType};
use deltalake::operations::create::CreateBuilder;
use deltalake::protocol::SaveMode;
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
    let actions: Vec<Action> = adds.iter().cloned().map(Action::Add).collect();
    let committed = CreateBuilder::new()
        .with_log_store(table.log_store())
        .with_columns(schema.fields().cloned())
        .with_save_mode(SaveMode::Overwrite)
        .with_commit_properties(crate::write::materialize::commit_properties())
        .with_actions(actions)
        .await;
    match committed {
        Ok(table) => {
            engine.lake().note_table(relation);
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
