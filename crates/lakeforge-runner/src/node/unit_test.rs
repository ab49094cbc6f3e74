//! A dbt unit test node: the model's SQL over the given rows, in a session of its own (see
//! the engine's `run_unit_test`), compared with the expected rows. It passes or fails; only a
//! query that cannot run is an error.

use lakeforge_project::Node;

use super::NodeEnv;
use crate::Result;
use crate::plan::Command;
use crate::results::{NodeResult, NodeStatus};

pub(super) async fn run(env: &NodeEnv, node: &Node, result: &mut NodeResult) -> Result<()> {
    let plan = env.compile.compile_unit_test(node)?;
    crate::artifacts::write_compiled(&env.compile, node, &plan.sql)?;
    result.compiled_code = Some(plan.sql.clone());
    if env.command == Command::Compile {
        result.message = "compiled".into();
        return Ok(());
    }
    let context = format!("{} (unit test `{}`)", node.path, node.name);
    let outcome = lakeforge_engine::run_unit_test(&env.engine, &context, &plan).await?;
    result.failures = Some((outcome.missing + outcome.unexpected) as u64);
    if outcome.passed() {
        result.status = NodeStatus::Pass;
        result.message = "PASS".into();
    } else {
        result.status = NodeStatus::Fail;
        result.message = format!(
            "actual differs from expected: {} expected row{} missing, {} unexpected row{}",
            outcome.missing,
            if outcome.missing == 1 { "" } else { "s" },
            outcome.unexpected,
            if outcome.unexpected == 1 { "" } else { "s" },
        );
        result.sample = outcome.diff;
    }
    Ok(())
}
