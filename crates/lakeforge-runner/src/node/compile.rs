//! The step models, snapshots and data tests share before they run: compile the node's SQL
//! against the lake as it is now (is_incremental() depends on it), pin `predict_alias`, write
//! the SQL under target/compiled/, and check `--changed` state. `compile` stops here.

use lakeforge_engine::StoredKind;
use lakeforge_project::{Materialization, Node};

use super::{NodeEnv, check_state};
use crate::plan::Command;
use crate::results::NodeResult;
use crate::{Result, RunnerError};

/// A node's SQL, ready to run.
pub(super) struct CompiledSql {
    pub sql: String,
    /// The node is an incremental model whose table exists and is not being rebuilt: its SQL
    /// and hooks see `is_incremental()` true.
    pub incremental: bool,
}

/// Compile `node`; None when there is nothing more to do (the command only compiles, or the
/// node is up to date under `--changed`), with the result saying so.
pub(super) async fn compile(
    env: &NodeEnv,
    node: &Node,
    result: &mut NodeResult,
) -> Result<Option<CompiledSql>> {
    let incremental = node.config.materialized == Materialization::Incremental
        && env.engine.stored(&node.relation) == Some(StoredKind::Table)
        && !(env.full_refresh && node.config.full_refresh != Some(false));
    let mut compiled = env.compile.compile(node, incremental)?;
    // `predict_alias` config: predict('name', ...) without an alias or version of its own
    // scores with this alias of the model; the compiled SQL shows the pinned references.
    if let Some(alias) = node.config.raw.get("predict_alias") {
        let alias = alias
            .as_str()
            .filter(|a| !a.is_empty() && !a.contains('\''))
            .ok_or_else(|| RunnerError::PredictAlias {
                path: node.path.clone(),
                value: alias.to_string(),
            })?;
        compiled.sql = crate::train::pin_predict_alias(&compiled.sql, alias);
    }
    crate::artifacts::write_compiled(&env.compile, node, &compiled.sql)?;
    result.compiled_code = Some(compiled.sql.clone());
    if env.command == Command::Compile {
        result.message = "compiled".into();
        return Ok(None);
    }
    if let Some(version) = check_state(env, node, &compiled.sql, result).await {
        result.delta_version = version;
        return Ok(None);
    }
    Ok(Some(CompiledSql {
        sql: compiled.sql,
        incremental,
    }))
}
