//! A data test node (generic or singular): count the rows its query returns and judge them
//! by the test's severity, `error_if` and `warn_if`, as dbt does. A test counted with others
//! of its table in one scan (`test_batch.rs`) passes from that count when it is zero; unique
//! tests on integer keys are counted natively; the rest run the test's SQL.

use lakeforge_engine::run_test;
use lakeforge_project::{Node, Severity};

use super::NodeEnv;
use crate::Result;
use crate::results::{NodeResult, NodeStatus};

/// Run the test whose compiled query is `sql`.
pub(super) async fn run(
    env: &NodeEnv,
    node: &Node,
    sql: &str,
    result: &mut NodeResult,
) -> Result<()> {
    let engine = env.engine.as_ref();
    let cfg = &node.config.test;
    // Tests batched with others on the same table: one scan counted them all; only a
    // failing one runs its own query, for the sample rows.
    if let Some(batch) = env.batches.get(&node.unique_id) {
        let counts = batch.counts(engine, &node.path).await?;
        if counts.get(&node.unique_id) == Some(&0) {
            result.failures = Some(0);
            result.status = NodeStatus::Pass;
            result.message = "PASS".into();
            return Ok(());
        }
    }
    // Duplicate keys are counted natively when the keys are integers (see
    // lakeforge_engine::duplicates); anything else runs the test's SQL.
    let native = match env.compile.duplicate_key_check(node) {
        Some(check)
            if cfg.fail_calc == "count(*)" && !cfg.store_failures && cfg.limit.is_none() =>
        {
            lakeforge_engine::duplicates::count_duplicates(
                engine,
                &node.path,
                &check.from,
                &check.columns,
                check.skip_nulls,
                5,
            )
            .await?
        }
        _ => None,
    };
    let outcome = match native {
        Some(d) => lakeforge_engine::TestOutcome {
            failures: d.failures,
            sample: d.sample,
            stored_in: None,
        },
        None => run_test(engine, &node.path, sql, cfg, &node.relation, 5).await?,
    };
    let n = outcome.failures;
    result.failures = Some(n);
    // dbt's order: an error-severity test fails when error_if holds, else warns when
    // warn_if holds.
    let (status, condition) =
        if node.config.severity == Severity::Error && cfg.error_if.holds(n as f64) {
            (NodeStatus::Fail, &cfg.error_if)
        } else if cfg.warn_if.holds(n as f64) {
            (NodeStatus::Warn, &cfg.warn_if)
        } else {
            (NodeStatus::Pass, &cfg.error_if)
        };
    result.status = status;
    result.message = if status == NodeStatus::Pass {
        "PASS".into()
    } else {
        let what = if cfg.fail_calc == "count(*)" {
            "result"
        } else {
            "failure"
        };
        format!(
            "Got {n} {what}{}, configured to {} if {condition}",
            if n == 1 { "" } else { "s" },
            if status == NodeStatus::Fail {
                "fail"
            } else {
                "warn"
            }
        )
    };
    if let Some(rel) = outcome.stored_in {
        result
            .message
            .push_str(&format!("\nfailing rows stored in {rel}"));
    }
    if status != NodeStatus::Pass {
        result.sample = arrow::util::pretty::pretty_format_batches(&outcome.sample)
            .ok()
            .map(|t| t.to_string());
    }
    Ok(())
}
