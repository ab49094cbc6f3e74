//! An ML model node: trained by `train.rs` from its training relation, registered in the
//! store. The node's "version" is the registry's version number; a version the gate rejected
//! is a warning, and still counts as trained for what reads it.

use lakeforge_project::Node;

use super::{NodeEnv, check_state};
use crate::Result;
use crate::plan::Command;
use crate::results::{NodeResult, NodeStatus};

pub(super) async fn run(env: &NodeEnv, node: &Node, result: &mut NodeResult) -> Result<()> {
    if env.command == Command::Compile {
        result.message = "ml model".into();
        return Ok(());
    }
    if let Some(version) = check_state(env, node, &node.raw_code, result).await {
        result.delta_version = version;
        return Ok(());
    }
    let outcome =
        crate::train::train_node(&env.engine, env.meta.as_ref(), &env.run_id, node).await?;
    result.message = outcome.message;
    result.rows_affected = Some(outcome.train_rows as u64);
    result.delta_version = Some(outcome.version);
    if !outcome.passed {
        result.status = NodeStatus::Warn;
    }
    if let Some(spec) = &node.ml_model
        && let Some(edge) = result
            .upstream
            .iter_mut()
            .find(|e| e.upstream == spec.training_id)
    {
        edge.upstream_version = outcome.training_version;
    }
    Ok(())
}
