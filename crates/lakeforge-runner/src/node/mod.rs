//! One node of a run, from compile to result. The scheduler hands each node to
//! [`execute_node`]; [`dispatch`] is the one place that chooses, by the node's kind, which
//! file of this folder runs it. What every kind shares lives here too: the run-wide
//! [`NodeEnv`], the `--changed` state check and the result's hook count.

mod compile;
mod ml_model;
mod model;
mod seed;
mod test;
pub(crate) mod test_batch;
mod unit_test;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use lakeforge_engine::{Engine, EngineAdapter};
use lakeforge_meta::{LatestExecution, MetaStore};
use lakeforge_project::{CompileContext, Node, ResourceType};

use crate::Result;
use crate::plan::Command;
use crate::results::{NodeResult, NodeStatus};
use crate::state::Versions;
use test_batch::TestBatches;

/// What every node of one run executes with.
pub(crate) struct NodeEnv {
    pub engine: Arc<Engine>,
    /// The engine as dbt's adapter: hooks run through it.
    pub adapter: EngineAdapter,
    pub compile: CompileContext,
    pub root: PathBuf,
    pub command: Command,
    pub full_refresh: bool,
    pub batches: TestBatches,
    /// `--changed`: each node's latest recorded execution, to skip what is up to date.
    pub changed: Option<HashMap<String, LatestExecution>>,
    pub versions: Versions,
    /// The store the run records to; ML models are registered in it and loaded from it.
    pub meta: Option<MetaStore>,
    pub run_id: String,
}

/// Run one attempt of `node`; an error becomes the result's status and message.
pub(crate) async fn execute_node(env: &NodeEnv, node: &Node) -> NodeResult {
    let clock = Instant::now();
    let mut result = NodeResult::blank(node, NodeStatus::Success, String::new());
    if let Err(e) = dispatch(env, node, &mut result).await {
        result.status = NodeStatus::Error;
        result.message = lakeforge_project::error_text(&e);
    }
    result.execution_time = clock.elapsed().as_secs_f64();
    result
}

/// Run `node` by its kind.
async fn dispatch(env: &NodeEnv, node: &Node, result: &mut NodeResult) -> Result<()> {
    match node.resource_type {
        ResourceType::Seed => seed::run(env, node, result).await,
        ResourceType::UnitTest => unit_test::run(env, node, result).await,
        ResourceType::MlModel => ml_model::run(env, node, result).await,
        // dbt runs saved queries as no-ops: they wait for their models, and do nothing.
        ResourceType::SavedQuery => {
            result.message = "NO-OP".into();
            Ok(())
        }
        ResourceType::Test => {
            let Some(sql) = compile::compile(env, node, result).await? else {
                return Ok(());
            };
            test::run(env, node, &sql.sql, result).await
        }
        // Snapshots are written by the engine's `materialize` as models are; sources are never
        // planned (no command runs them), and would be materialized as what they declare.
        ResourceType::Model | ResourceType::Snapshot | ResourceType::Source => {
            let Some(sql) = compile::compile(env, node, result).await? else {
                return Ok(());
            };
            model::run(env, node, sql, result).await
        }
    }
}

/// Say in the node's message how many of its hooks ran.
fn note_hooks(result: &mut NodeResult, n: usize) {
    if n > 0 {
        let s = if n == 1 { "" } else { "s" };
        result.message.push_str(&format!(", {n} hook{s}"));
    }
}

/// Note the node's state hash and what it reads; under `--changed`, when it is up to date,
/// mark the result so and return its output's current version.
async fn check_state(
    env: &NodeEnv,
    node: &Node,
    compiled_sql: &str,
    result: &mut NodeResult,
) -> Option<Option<i64>> {
    let project = env.compile.project();
    let hash = node.state_hash(compiled_sql);
    result.upstream = crate::state::upstream_edges(&env.versions, &env.engine, project, node).await;
    result.state_hash = Some(hash.clone());
    let last = env.changed.as_ref()?.get(&node.unique_id);
    let version =
        crate::state::up_to_date(last, &env.engine, node, &hash, &result.upstream).await?;
    result.message = "up to date".into();
    if node.resource_type == ResourceType::Test {
        result.status = NodeStatus::Pass;
        result.failures = Some(0);
    }
    Some(version)
}
