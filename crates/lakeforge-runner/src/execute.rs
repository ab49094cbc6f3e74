//! The scheduler: runs the plan's nodes as soon as everything they wait for has succeeded,
//! at most `threads` at a time, and skips every node downstream of a failure. Each node is
//! compiled just before it runs, because is_incremental() depends on what the lake holds then.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use lakeforge_engine::test::count_row_failures;
use lakeforge_engine::{Engine, EngineAdapter, StoredKind, load_seed, materialize, run_test};
use lakeforge_meta::{MetaStore, NodeRecord};
use lakeforge_project::hooks::HookKind;
use lakeforge_project::{
    CompileContext, Materialization, Node, Project, ResourceType, RowCheck, Severity, TestKind,
};
use tokio::task::JoinSet;

use crate::plan::{Command, plan};
use crate::results::{NodeResult, NodeStatus, RunSummary};
use crate::{Result, RunnerError};

/// How the run reports progress; the CLI prints lines and a progress bar from these.
pub trait Reporter: Send + Sync {
    fn run_started(&self, _total: usize) {}
    fn node_started(&self, _node: &Node, _index: usize, _total: usize) {}
    fn node_finished(&self, node: &Node, result: &NodeResult, index: usize, total: usize);
    /// Attempt `attempt` of `node` errored; it runs again after `delay_s` seconds.
    fn node_retrying(&self, _node: &Node, _attempt: u32, _error: &str, _delay_s: f64) {}
    /// An `on-run-start`/`on-run-end` hook finished.
    fn hook_finished(&self, _hook: &crate::hooks::HookResult) {}
    /// Every node is done and the run recorded.
    fn run_finished(&self, _summary: &RunSummary) {}
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub command: Command,
    pub selected: BTreeSet<String>,
    pub threads: usize,
    pub full_refresh: bool,
    /// Skip nodes whose SQL, config and inputs are unchanged since their last success.
    pub changed: bool,
    /// Recorded with the run (what the user typed).
    pub args: serde_json::Value,
}

/// Execute a command over a loaded project; Ctrl-C or SIGTERM cancels it cleanly.
pub async fn run(
    project: Arc<Project>,
    engine: Arc<Engine>,
    meta: Option<MetaStore>,
    opts: RunOptions,
    reporter: Arc<dyn Reporter>,
) -> Result<RunSummary> {
    run_until(project, engine, meta, opts, reporter, interrupted()).await
}

/// Execute a command over a loaded project, cancelling it cleanly when `cancel` resolves
/// (for [`run`], on Ctrl-C or SIGTERM; the scheduler, which lets its run in flight finish on
/// those, passes a future of its own).
pub async fn run_until(
    project: Arc<Project>,
    engine: Arc<Engine>,
    meta: Option<MetaStore>,
    opts: RunOptions,
    reporter: Arc<dyn Reporter>,
    cancel: impl std::future::Future<Output = ()>,
) -> Result<RunSummary> {
    let started = Instant::now();
    let run_id = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ"),
        std::process::id()
    );
    // Macros query the lake while nodes compile (dbt's `execute` is true in a run, compile too).
    let adapter = EngineAdapter::new(engine.clone());
    let compile =
        CompileContext::new(project.clone()).with_adapter(std::sync::Arc::new(adapter.clone()));
    let plan = plan(&project, &opts.selected, opts.command);
    let batches = if opts.command == Command::Compile {
        HashMap::new()
    } else {
        test_batches(&project, &compile, &plan.order)
    };
    let env = Arc::new(NodeEnv {
        engine: engine.clone(),
        adapter: adapter.clone(),
        compile: compile.clone(),
        root: project.root.clone(),
        command: opts.command,
        full_refresh: opts.full_refresh,
        batches,
        changed: match (&meta, opts.changed) {
            (Some(m), true) => Some(m.latest_executions().await?),
            _ => None,
        },
        versions: Default::default(),
        meta: meta.clone(),
        run_id: run_id.clone(),
    });
    let total = plan.order.len();
    if let Some(m) = &meta {
        m.start_run(
            &run_id,
            opts.command.as_str(),
            &opts.args.to_string(),
            &now(),
        )
        .await?;
    }
    reporter.run_started(total);
    let hooks_run = opts.command != Command::Compile;
    let mut hooks = Vec::new();
    if hooks_run {
        hooks = crate::hooks::run_project_hooks(&adapter, &compile, HookKind::OnRunStart).await;
        hooks.iter().for_each(|h| reporter.hook_finished(h));
    }
    let start_failed = hooks.iter().any(|h| h.status == NodeStatus::Error);

    let mut remaining: HashMap<String, usize> = plan
        .waits_on
        .iter()
        .map(|(k, v)| (k.clone(), v.len()))
        .collect();
    let mut dependents: HashMap<String, Vec<String>> = HashMap::new();
    for (id, deps) in &plan.waits_on {
        for d in deps {
            dependents.entry(d.clone()).or_default().push(id.clone());
        }
    }
    let position: HashMap<&String, usize> = plan
        .order
        .iter()
        .enumerate()
        .map(|(i, id)| (id, i))
        .collect();
    let mut ready: BTreeMap<usize, String> = plan
        .order
        .iter()
        .filter(|id| remaining[*id] == 0)
        .map(|id| (position[id], id.clone()))
        .collect();

    let mut results: Vec<NodeResult> = Vec::with_capacity(total);
    let mut done = 0usize;
    let mut tasks: JoinSet<(NodeResult, Vec<NodeResult>)> = JoinSet::new();
    let mut skipped: BTreeSet<String> = BTreeSet::new();
    let threads = opts.threads.max(1);
    let mut running: BTreeSet<String> = BTreeSet::new();
    let mut cancelled = false;
    let interrupted = cancel;
    tokio::pin!(interrupted);
    if start_failed {
        // As in dbt: no node runs after a failed on-run-start.
        for id in &plan.order {
            let node = &project.nodes[id];
            let r = blank_result(
                node,
                NodeStatus::Skipped,
                "skipped: an on-run-start hook failed".into(),
            );
            done += 1;
            reporter.node_finished(node, &r, done, total);
            record(&meta, &run_id, 1, &r).await?;
            results.push(r);
        }
    }

    while done < total && !(cancelled && tasks.is_empty()) {
        while !cancelled && tasks.len() < threads {
            let Some((_, id)) = ready.pop_first() else {
                break;
            };
            let node = project.nodes[&id].clone();
            reporter.node_started(&node, done + tasks.len() + 1, total);
            let env = env.clone();
            let reporter = reporter.clone();
            running.insert(id.clone());
            tasks.spawn(attempt_with_retries(env, node, reporter));
        }
        let joined = tokio::select! {
            joined = tasks.join_next() => joined,
            _ = &mut interrupted, if !cancelled => {
                // Stop what runs now (a Delta commit is atomic: an interrupted write leaves
                // the table at its previous version) and start nothing more.
                cancelled = true;
                tasks.abort_all();
                continue;
            }
        };
        let Some(joined) = joined else {
            break;
        };
        let (result, failed_attempts) = match joined {
            Ok(r) => r,
            Err(e) if e.is_cancelled() => continue,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        let id = result.unique_id.clone();
        running.remove(&id);
        let blocks = result.status.blocks_downstream();
        done += 1;
        reporter.node_finished(&project.nodes[&id], &result, done, total);
        for (i, failed) in failed_attempts.iter().enumerate() {
            record(&meta, &run_id, i as u32 + 1, failed).await?;
        }
        record(&meta, &run_id, result.attempts, &result).await?;
        // A model version its gate rejected (warn) was still trained from these inputs.
        let trained = result.status == NodeStatus::Warn
            && project.nodes[&id].resource_type == ResourceType::MlModel;
        if matches!(result.status, NodeStatus::Success | NodeStatus::Pass) || trained {
            env.versions.set(&id, result.delta_version);
            if let (Some(m), false) = (&meta, result.upstream.is_empty()) {
                m.record_lineage(&run_id, &id, result.attempts as i64, &result.upstream)
                    .await?;
            }
        }
        results.push(result);

        let mut frontier = vec![(id.clone(), blocks)];
        while let Some((finished, failed)) = frontier.pop() {
            for child in dependents.get(&finished).cloned().unwrap_or_default() {
                if skipped.contains(&child) {
                    continue;
                }
                if failed {
                    skipped.insert(child.clone());
                    let node = &project.nodes[&child];
                    let r = skipped_result(node, &finished);
                    done += 1;
                    reporter.node_finished(node, &r, done, total);
                    record(&meta, &run_id, 1, &r).await?;
                    results.push(r);
                    frontier.push((child, true));
                } else {
                    // Cannot fail: the plan gave every chosen node a count of what it waits on.
                    let n = remaining.get_mut(&child).expect("planned");
                    *n -= 1;
                    if *n == 0 {
                        ready.insert(position[&child], child);
                    }
                }
            }
        }
    }

    if cancelled {
        // Nodes stopped mid-run errored; nodes never started are skipped; `lakeforge retry`
        // runs both.
        for id in &running {
            let node = &project.nodes[id];
            let r = blank_result(node, NodeStatus::Error, "cancelled while running".into());
            done += 1;
            reporter.node_finished(node, &r, done, total);
            record(&meta, &run_id, 1, &r).await?;
            results.push(r);
        }
        for id in &plan.order {
            if results.iter().any(|r| &r.unique_id == id) {
                continue;
            }
            let node = &project.nodes[id];
            let r = blank_result(
                node,
                NodeStatus::Skipped,
                "cancelled before it started".into(),
            );
            record(&meta, &run_id, 1, &r).await?;
            results.push(r);
        }
    }
    if hooks_run && !cancelled {
        let end = crate::hooks::run_project_hooks(&adapter, &compile, HookKind::OnRunEnd).await;
        end.iter().for_each(|h| reporter.hook_finished(h));
        hooks.extend(end);
    }
    let summary = RunSummary {
        run_id: run_id.clone(),
        results,
        hooks,
        elapsed: started.elapsed().as_secs_f64(),
        cancelled,
    };
    write_artifacts(&project, &summary, opts.command, &opts.args)?;
    if let Some(m) = &meta {
        m.finish_run(&run_id, summary.status(), &now(), summary.elapsed)
            .await?;
    }
    reporter.run_finished(&summary);
    Ok(summary)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Run a node with its `timeout`, again after an error up to `retries` times with exponential
/// backoff; returns the final result and the results of the attempts that errored before it.
async fn attempt_with_retries(
    env: Arc<NodeEnv>,
    node: Node,
    reporter: Arc<dyn Reporter>,
) -> (NodeResult, Vec<NodeResult>) {
    let mut failed = Vec::new();
    let mut attempt = 1u32;
    loop {
        let mut result = attempt_once(&env, &node).await;
        result.attempts = attempt;
        let retry = result.status == NodeStatus::Error
            && attempt <= node.config.retries
            && env.command != Command::Compile;
        if !retry {
            return (result, failed);
        }
        // `attempt` is at most `retries + 1`; capped so the exponent cannot wrap.
        let exponent = i32::try_from(attempt.min(1024)).unwrap_or(1024) - 1;
        let delay = node.config.retry_delay * 2f64.powi(exponent);
        reporter.node_retrying(&node, attempt, &result.message, delay);
        failed.push(result);
        tokio::time::sleep(seconds(delay)).await;
        attempt += 1;
    }
}

/// A duration of `secs` seconds from a project's config: values too large for a `Duration`
/// (`timeout: 1e300`, a doubled retry delay) mean "practically never" instead of a panic.
fn seconds(secs: f64) -> std::time::Duration {
    std::time::Duration::try_from_secs_f64(secs).unwrap_or(std::time::Duration::MAX)
}

async fn attempt_once(env: &NodeEnv, node: &Node) -> NodeResult {
    // A panic in one node (a bug) becomes that node's error instead of ending the run.
    let run = AssertUnwindSafe(execute_node(env, node)).catch_unwind();
    let outcome = match node.config.timeout {
        Some(secs) => {
            let clock = Instant::now();
            match tokio::time::timeout(seconds(secs), run).await {
                Ok(r) => r,
                Err(_) => {
                    let mut r = blank_result(
                        node,
                        NodeStatus::Error,
                        format!("timed out after {secs}s (config `timeout`); nothing was written"),
                    );
                    r.execution_time = clock.elapsed().as_secs_f64();
                    return r;
                }
            }
        }
        None => run.await,
    };
    match outcome {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            blank_result(
                node,
                NodeStatus::Error,
                format!("internal error (a bug in Lakeforge, please report it): {what}"),
            )
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn record(
    meta: &Option<MetaStore>,
    run_id: &str,
    attempt: u32,
    r: &NodeResult,
) -> Result<()> {
    if let Some(m) = meta {
        m.record_node_attempt(
            run_id,
            attempt.max(1) as i64,
            &NodeRecord {
                unique_id: r.unique_id.clone(),
                status: r.status.as_str().into(),
                started_at: r.started_at.clone(),
                elapsed_s: r.execution_time,
                rows_affected: r.rows_affected.map(|x| x as i64),
                delta_version: r.delta_version,
                sql_hash: r.state_hash.clone(),
                message: Some(r.message.clone()),
            },
        )
        .await?;
    }
    Ok(())
}

/// A result for `node` with nothing done yet.
fn blank_result(node: &Node, status: NodeStatus, message: String) -> NodeResult {
    NodeResult {
        unique_id: node.unique_id.clone(),
        status,
        execution_time: 0.0,
        started_at: now(),
        message,
        rows_affected: None,
        delta_version: None,
        failures: None,
        quarantined: None,
        sample: None,
        compiled_code: None,
        attempts: 1,
        state_hash: None,
        upstream: Vec::new(),
        relation_name: (!matches!(
            node.resource_type,
            ResourceType::Test | ResourceType::UnitTest | ResourceType::SavedQuery
        ))
        .then(|| node.relation.to_string()),
    }
}

fn skipped_result(node: &Node, because: &str) -> NodeResult {
    let upstream = because.rsplit('.').next().unwrap_or(because);
    blank_result(
        node,
        NodeStatus::Skipped,
        format!("skipped: upstream {upstream} did not succeed"),
    )
}

/// What every node of one run executes with.
struct NodeEnv {
    engine: Arc<Engine>,
    /// The engine as dbt's adapter: hooks run through it.
    adapter: EngineAdapter,
    compile: CompileContext,
    root: std::path::PathBuf,
    command: Command,
    full_refresh: bool,
    batches: TestBatches,
    /// `--changed`: each node's latest recorded execution, to skip what is up to date.
    changed: Option<HashMap<String, lakeforge_meta::LatestExecution>>,
    versions: crate::state::Versions,
    /// The store the run records to; ML models are registered in it and loaded from it.
    meta: Option<MetaStore>,
    run_id: String,
}

async fn execute_node(env: &NodeEnv, node: &Node) -> NodeResult {
    let clock = Instant::now();
    let mut result = blank_result(node, NodeStatus::Success, String::new());
    if let Err(message) = execute_inner(env, node, &mut result).await {
        result.status = NodeStatus::Error;
        result.message = message;
    }
    result.execution_time = clock.elapsed().as_secs_f64();
    result
}

async fn execute_inner(
    env: &NodeEnv,
    node: &Node,
    result: &mut NodeResult,
) -> std::result::Result<(), String> {
    let (engine, compile, root, batches) = (
        env.engine.as_ref(),
        &env.compile,
        env.root.as_path(),
        &env.batches,
    );
    let (command, full_refresh) = (env.command, env.full_refresh);
    if node.resource_type == ResourceType::Seed {
        if command == Command::Compile {
            result.message = "seed".into();
            return Ok(());
        }
        if let Some(version) = check_state(env, node, "", result).await {
            result.delta_version = version;
            return Ok(());
        }
        let pre =
            crate::hooks::run_node_hooks(&env.adapter, compile, node, HookKind::PreHook, false)
                .await?;
        let outcome = load_seed(engine, node, &root.join(&node.path))
            .await
            .map_err(|e| e.to_string())?;
        result.message = outcome.action.to_string();
        result.rows_affected = outcome.rows;
        result.delta_version = outcome.version;
        let post =
            crate::hooks::run_node_hooks(&env.adapter, compile, node, HookKind::PostHook, false)
                .await?;
        note_hooks(result, pre + post);
        return Ok(());
    }
    if node.resource_type == ResourceType::UnitTest {
        return run_unit_test(env, node, result).await;
    }
    // dbt runs saved queries as no-ops: they wait for their models, and do nothing.
    if node.resource_type == ResourceType::SavedQuery {
        result.message = "NO-OP".into();
        return Ok(());
    }
    if node.resource_type == ResourceType::MlModel {
        return train_ml_model(env, node, result).await;
    }
    let incremental_run = node.config.materialized == Materialization::Incremental
        && engine.stored(&node.relation) == Some(StoredKind::Table)
        && !(full_refresh && node.config.full_refresh != Some(false));
    let mut compiled = compile
        .compile(node, incremental_run)
        .map_err(|e| e.to_string())?;
    // `predict_alias` config: predict('name', ...) without an alias or version of its own
    // scores with this alias of the model; the compiled SQL shows the pinned references.
    if let Some(alias) = node.config.raw.get("predict_alias") {
        let alias = alias
            .as_str()
            .filter(|a| !a.is_empty() && !a.contains('\''))
            .ok_or_else(|| {
                format!(
                    "{}: config `predict_alias` must be an alias name or a version number, not {alias}",
                    node.path
                )
            })?;
        compiled.sql = crate::train::pin_predict_alias(&compiled.sql, alias);
    }
    write_compiled(compile, node, &compiled.sql).map_err(|e| e.to_string())?;
    result.compiled_code = Some(compiled.sql.clone());
    if command == Command::Compile {
        result.message = "compiled".into();
        return Ok(());
    }
    if let Some(version) = check_state(env, node, &compiled.sql, result).await {
        result.delta_version = version;
        return Ok(());
    }
    match node.resource_type {
        ResourceType::Test => {
            let cfg = &node.config.test;
            // Tests batched with others on the same table: one scan counted them all; only a
            // failing one runs its own query, for the sample rows.
            if let Some(batch) = batches.get(&node.unique_id) {
                let counts = batch
                    .counts
                    .get_or_init(|| async {
                        count_row_failures(engine, &node.path, &batch.relation, &batch.checks)
                            .await
                            .map_err(|e| e.to_string())
                    })
                    .await
                    .clone()?;
                if counts.get(&node.unique_id) == Some(&0) {
                    result.failures = Some(0);
                    result.status = NodeStatus::Pass;
                    result.message = "PASS".into();
                    return Ok(());
                }
            }
            // Duplicate keys are counted natively when the keys are integers (see
            // lakeforge_engine::duplicates); anything else runs the test's SQL.
            let native = match compile.duplicate_key_check(node) {
                Some(check)
                    if cfg.fail_calc == "count(*)"
                        && !cfg.store_failures
                        && cfg.limit.is_none() =>
                {
                    lakeforge_engine::duplicates::count_duplicates(
                        engine,
                        &node.path,
                        &check.from,
                        &check.columns,
                        check.skip_nulls,
                        5,
                    )
                    .await
                    .map_err(|e| e.to_string())?
                }
                _ => None,
            };
            let outcome = match native {
                Some(d) => lakeforge_engine::TestOutcome {
                    failures: d.failures,
                    sample: d.sample,
                    stored_in: None,
                },
                None => run_test(engine, &node.path, &compiled.sql, cfg, &node.relation, 5)
                    .await
                    .map_err(|e| e.to_string())?,
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
        }
        _ => {
            let hooked = node.config.materialized != Materialization::Ephemeral;
            let mut hooks = 0;
            if hooked {
                hooks += crate::hooks::run_node_hooks(
                    &env.adapter,
                    compile,
                    node,
                    HookKind::PreHook,
                    incremental_run,
                )
                .await?;
            }
            let mut sql = compiled.sql.clone();
            // Models this SQL scores with are resolved (aliases, now) and loaded first; the
            // lineage edge to each records the version used.
            let scored = crate::train::load_scoring_models(&env.engine, env.meta.as_ref(), &sql)
                .await
                .map_err(|e| format!("{}: {e}", node.path))?;
            for (_, name, version) in scored {
                let id = format!("ml_model.{}.{}", env.compile.project().name, name);
                if let Some(edge) = result.upstream.iter_mut().find(|e| e.upstream == id) {
                    edge.upstream_version = Some(version);
                }
            }
            if node.config.materialized != Materialization::Ephemeral
                && lakeforge_engine::quarantine::enabled(node)
            {
                let checks = compile.row_checks(node).map_err(|e| e.to_string())?;
                let (good, quarantined) =
                    lakeforge_engine::quarantine::split(engine, node, &sql, &checks)
                        .await
                        .map_err(|e| e.to_string())?;
                result.quarantined = Some(quarantined);
                sql = good;
            }
            let outcome = materialize(engine, node, &sql, full_refresh)
                .await
                .map_err(|e| e.to_string())?;
            result.message = outcome.action.to_string();
            result.rows_affected = outcome.rows;
            result.delta_version = outcome.version;
            if hooked {
                hooks += crate::hooks::run_node_hooks(
                    &env.adapter,
                    compile,
                    node,
                    HookKind::PostHook,
                    incremental_run,
                )
                .await?;
            }
            note_hooks(result, hooks);
            export_model(env, node, result).await?;
        }
    }
    Ok(())
}

/// Say in the node's message how many of its hooks ran.
fn note_hooks(result: &mut NodeResult, n: usize) {
    if n > 0 {
        let s = if n == 1 { "" } else { "s" };
        result.message.push_str(&format!(", {n} hook{s}"));
    }
}

/// Train an ML model (see `train.rs`): the node's version is the registry's version number.
async fn train_ml_model(
    env: &NodeEnv,
    node: &Node,
    result: &mut NodeResult,
) -> std::result::Result<(), String> {
    if env.command == Command::Compile {
        result.message = "ml model".into();
        return Ok(());
    }
    if let Some(version) = check_state(env, node, &node.raw_code, result).await {
        result.delta_version = version;
        return Ok(());
    }
    let outcome = crate::train::train_node(&env.engine, env.meta.as_ref(), &env.run_id, node)
        .await
        .map_err(|e| e.to_string())?;
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

/// After the Delta commit, write the table to each destination of the model's `export:`.
async fn export_model(
    env: &NodeEnv,
    node: &Node,
    result: &mut NodeResult,
) -> std::result::Result<(), String> {
    let Some(config) = node.config.raw.get("export") else {
        return Ok(());
    };
    let project = env.compile.project();
    let specs =
        lakeforge_engine::export::parse_exports(config, &project.root, &project.target.connections)
            .map_err(|e| format!("{}: `export:` {e}", node.path))?;
    for spec in specs {
        let rows = lakeforge_engine::export::export(&env.engine, &node.relation, &spec)
            .await
            .map_err(|e| {
                format!(
                    "{e}\n(the table {} itself was committed{})",
                    node.relation,
                    result
                        .delta_version
                        .map(|v| format!(", version {v}"))
                        .unwrap_or_default()
                )
            })?;
        result
            .message
            .push_str(&format!(", exported {rows} rows to {}", spec.destination()));
    }
    Ok(())
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
    let hash = crate::state::state_hash(node, compiled_sql);
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

async fn run_unit_test(
    env: &NodeEnv,
    node: &Node,
    result: &mut NodeResult,
) -> std::result::Result<(), String> {
    let plan = env
        .compile
        .compile_unit_test(node)
        .map_err(|e| e.to_string())?;
    write_compiled(&env.compile, node, &plan.sql).map_err(|e| e.to_string())?;
    result.compiled_code = Some(plan.sql.clone());
    if env.command == Command::Compile {
        result.message = "compiled".into();
        return Ok(());
    }
    let context = format!("{} (unit test `{}`)", node.path, node.name);
    let outcome = lakeforge_engine::run_unit_test(&env.engine, &context, &plan)
        .await
        .map_err(|e| e.to_string())?;
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

fn write_compiled(compile: &CompileContext, node: &Node, sql: &str) -> Result<()> {
    let path = compile.compiled_path(node);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| RunnerError::Io {
            path: dir.into(),
            source: e,
        })?;
    }
    crate::files::write_atomic(&path, format!("{sql}\n"))
}

fn write_artifacts(
    project: &Project,
    summary: &RunSummary,
    command: Command,
    args: &serde_json::Value,
) -> Result<()> {
    let dir = project.target_dir();
    std::fs::create_dir_all(&dir).map_err(|e| RunnerError::Io {
        path: dir.clone(),
        source: e,
    })?;
    let compiled: HashMap<String, String> = summary
        .results
        .iter()
        .filter_map(|r| r.compiled_code.clone().map(|c| (r.unique_id.clone(), c)))
        .collect();
    let manifest = lakeforge_project::manifest::manifest_json(project, &compiled);
    write_json(&dir.join("manifest.json"), &manifest)?;
    if command != Command::Compile {
        write_json(
            &dir.join("run_results.json"),
            &summary.run_results_json(command.as_str(), args),
        )?;
    }
    Ok(())
}

pub(crate) fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    // Cannot fail: a serde_json::Value has string keys and no non-finite numbers.
    let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    crate::files::write_atomic(path, text)
}

/// Row-level tests of one table that are counted together in one scan.
struct TestBatch {
    relation: lakeforge_project::Relation,
    checks: Vec<RowCheck>,
    counts: tokio::sync::OnceCell<std::result::Result<HashMap<String, u64>, String>>,
}

/// Test id → the batch it is counted in.
type TestBatches = HashMap<String, Arc<TestBatch>>;

/// Group the planned row-level tests by the table they test. Tests with their own
/// `fail_calc`, `where`, `store_failures`, or a subquery (relationships) run on their own.
fn test_batches(project: &Project, compile: &CompileContext, planned: &[String]) -> TestBatches {
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
