//! Test batching: the planned row-level tests of one table (not_null, unique on integers,
//! accepted_values...) are counted together in one scan of the table instead of one query
//! each. A test whose count is zero passes from the batch; a failing one runs its own query
//! (see `test.rs`) for its sample rows.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use lakeforge_engine::test::count_row_failures;
use lakeforge_engine::{Engine, EngineError};
use lakeforge_project::{CompileContext, Project, Relation, ResourceType, RowCheck, TestKind};

use crate::{Result, RunnerError};

/// Row-level tests of one table that are counted together in one scan.
pub(crate) struct TestBatch {
    relation: Relation,
    checks: Vec<RowCheck>,
    /// Failing rows per test id, counted by whichever test of the batch runs first.
    counts: tokio::sync::OnceCell<std::result::Result<HashMap<String, u64>, Arc<EngineError>>>,
}

impl TestBatch {
    /// The failing rows of every test of the batch, by test id; the scan runs once, for the
    /// first test that asks (`context` names it in errors).
    pub(crate) async fn counts(
        &self,
        engine: &Engine,
        context: &str,
    ) -> Result<&HashMap<String, u64>> {
        self.counts
            .get_or_init(|| async {
                count_row_failures(engine, context, &self.relation, &self.checks)
                    .await
                    .map_err(Arc::new)
            })
            .await
            .as_ref()
            .map_err(|e| RunnerError::TestBatch(e.clone()))
    }
}

/// Test id → the batch it is counted in.
pub(crate) type TestBatches = HashMap<String, Arc<TestBatch>>;

/// Group the planned row-level tests by the table they test. Tests with their own
/// `fail_calc`, `where`, `store_failures`, or a subquery (relationships) run on their own.
pub(crate) fn test_batches(
    project: &Project,
    compile: &CompileContext,
    planned: &[String],
) -> TestBatches {
    let planned: BTreeSet<&String> = planned.iter().collect();
    let mut out = TestBatches::new();
    for model in project
        .nodes
        .values()
        .filter(|n| !matches!(n.resource_type, ResourceType::Test | ResourceType::UnitTest))
    {
        let Ok(checks) = compile.row_checks(model) else {
            continue;
        };
        let checks: Vec<RowCheck> = checks
            .into_iter()
            .filter(|c| !c.uses_subquery && planned.contains(&c.test_id))
            .filter(|c| {
                let cfg = &project.nodes[&c.test_id].config;
                cfg.test.fail_calc == "count(*)"
                    && !cfg.test.store_failures
                    && matches!(
                        project.nodes[&c.test_id].test,
                        Some(TestKind::Generic { .. })
                    )
            })
            .collect();
        if checks.len() < 2 {
            continue;
        }
        let batch = Arc::new(TestBatch {
            relation: model.relation.clone(),
            checks,
            counts: tokio::sync::OnceCell::new(),
        });
        for c in &batch.checks {
            out.insert(c.test_id.clone(), batch.clone());
        }
    }
    out
}
