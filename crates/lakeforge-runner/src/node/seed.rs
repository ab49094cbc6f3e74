//! A seed node: the CSV file is read, typed and written to the lake as one Delta commit by
//! the engine, between the seed's pre- and post-hooks. Its state hash is the file's checksum.

use lakeforge_engine::load_seed;
use lakeforge_project::Node;
use lakeforge_project::hooks::HookKind;

use super::{NodeEnv, check_state, note_hooks};
use crate::Result;
use crate::hooks::run_node_hooks;
use crate::plan::Command;
use crate::results::NodeResult;

pub(super) async fn run(env: &NodeEnv, node: &Node, result: &mut NodeResult) -> Result<()> {
    if env.command == Command::Compile {
        result.message = "seed".into();
        return Ok(());
    }
    if let Some(version) = check_state(env, node, "", result).await {
        result.delta_version = version;
        return Ok(());
    }
    let pre = run_node_hooks(&env.adapter, &env.compile, node, HookKind::PreHook, false).await?;
    let outcome = load_seed(&env.engine, node, &env.root.join(&node.path)).await?;
    result.message = outcome.action.to_string();
    result.rows_affected = outcome.rows;
    result.delta_version = outcome.version;
    let post = run_node_hooks(&env.adapter, &env.compile, node, HookKind::PostHook, false).await?;
    note_hooks(result, pre + post);
    Ok(())
}
