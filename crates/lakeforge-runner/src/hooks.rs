//! dbt's hooks in a run. A model's (seed's, snapshot's) `pre-hook`s run in order just before
//! its materialization and its `post-hook`s just after; dbt_project.yml's `on-run-start` hooks
//! run before the first node and `on-run-end` after the last, also when nodes failed. Each is
//! rendered with Jinja when it runs (`this` is the node's relation) and executed through the
//! engine's adapter, so `insert into`, `create table`, `delete` and queries all work. A failing
//! hook fails its node, naming the hook; a failing `on-run-start` skips every node and fails the
//! run, as in dbt.

use std::time::Instant;

use lakeforge_engine::EngineAdapter;
use lakeforge_project::hooks::{Hook, HookKind, node_hooks, run_hooks};
use lakeforge_project::{CompileContext, Node};
use serde::Serialize;

use crate::results::{NodeStatus, now};
use crate::{Result, RunnerError};

/// How one `on-run-start`/`on-run-end` hook went, reported as dbt reports its operations.
#[derive(Debug, Clone, Serialize)]
pub struct HookResult {
    /// dbt's id for it: `operation.<project>.<project>-on-run-end-0`.
    pub unique_id: String,
    /// `on-run-end #1 of dbt_project.yml`.
    pub name: String,
    pub status: NodeStatus,
    pub message: String,
    pub execution_time: f64,
    pub started_at: String,
    pub rows_affected: Option<u64>,
    /// The SQL as rendered, when it was.
    pub compiled_code: Option<String>,
}

/// Render and run one hook; returns the rendered SQL and the rows it reported.
async fn run_one(
    adapter: &EngineAdapter,
    compile: &CompileContext,
    hook: &Hook,
    node: Option<&Node>,
    is_incremental: bool,
) -> (Option<String>, Result<Option<u64>>) {
    let label = hook.label();
    // Rendering may query the lake (run_query in a macro): the adapter bridges that itself.
    // Its errors name the hook already (`models/a.sql (post-hook #1):2: ...`).
    let sql = match compile.render_hook(hook, node, is_incremental) {
        Ok(sql) => sql,
        Err(e) => return (None, Err(e.into())),
    };
    if sql.is_empty() {
        return (Some(sql), Ok(None));
    }
    let outcome = adapter
        .run_sql(&label, &sql, false)
        .await
        .map(|r| r.rows_affected)
        .map_err(RunnerError::from);
    (Some(sql), outcome)
}

/// Run `node`'s pre- or post-hooks in order; the first failure stops them. Returns how many ran.
pub(crate) async fn run_node_hooks(
    adapter: &EngineAdapter,
    compile: &CompileContext,
    node: &Node,
    kind: HookKind,
    is_incremental: bool,
) -> Result<usize> {
    let hooks = node_hooks(node, kind)?;
    for hook in &hooks {
        let (_, outcome) = run_one(adapter, compile, hook, Some(node), is_incremental).await;
        outcome.map_err(|e| RunnerError::Hook {
            post: kind == HookKind::PostHook,
            source: Box::new(e),
        })?;
    }
    Ok(hooks.len())
}

/// Run the project's `on-run-start` or `on-run-end` hooks. After a failure the rest are
/// reported skipped.
pub(crate) async fn run_project_hooks(
    adapter: &EngineAdapter,
    compile: &CompileContext,
    kind: HookKind,
) -> Vec<HookResult> {
    let project = compile.project();
    let hooks = match run_hooks(project, kind) {
        Ok(h) => h,
        Err(e) => {
            return vec![HookResult {
                unique_id: format!("operation.{0}.{0}-{kind}", project.name),
                name: format!("{kind} of dbt_project.yml"),
                status: NodeStatus::Error,
                message: lakeforge_project::error_text(&e),
                execution_time: 0.0,
                started_at: now(),
                rows_affected: None,
                compiled_code: None,
            }];
        }
    };
    let mut out = Vec::with_capacity(hooks.len());
    let mut failed = false;
    for hook in &hooks {
        let clock = Instant::now();
        let mut r = HookResult {
            unique_id: format!("operation.{0}.{0}-{kind}-{1}", project.name, hook.index - 1),
            name: hook.label(),
            status: NodeStatus::Success,
            message: "OK".into(),
            execution_time: 0.0,
            started_at: now(),
            rows_affected: None,
            compiled_code: None,
        };
        if failed {
            r.status = NodeStatus::Skipped;
            r.message = format!("skipped: an earlier {kind} hook failed");
        } else {
            let (sql, outcome) = run_one(adapter, compile, hook, None, false).await;
            r.compiled_code = sql;
            match outcome {
                Ok(rows) => r.rows_affected = rows,
                Err(e) => {
                    failed = true;
                    r.status = NodeStatus::Error;
                    r.message = lakeforge_project::error_text(&e);
                }
            }
        }
        r.execution_time = clock.elapsed().as_secs_f64();
        out.push(r);
    }
    out
}
