//! The scheduler of one run: runs the plan's nodes as soon as everything they wait for has
//! succeeded, at most `threads` at a time, and skips every node downstream of a failure. Each
//! attempt of a node runs under its `timeout`, an errored one again up to `retries` times with
//! backoff; what a node does by its kind is `node/`'s business. Every attempt is recorded in
//! the store as it finishes; the run's hooks wrap the nodes, and target/'s files
//! (`artifacts.rs`) are written at the end, also when the run was cancelled.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use lakeforge_engine::{Engine, EngineAdapter};
use lakeforge_meta::{MetaStore, NodeRecord};
use lakeforge_project::hooks::HookKind;
use lakeforge_project::{CompileContext, Node, Project, ResourceType};
use tokio::task::JoinSet;

use crate::node::test_batch::test_batches;
use crate::node::{NodeEnv, execute_node};
use crate::plan::{Command, plan};
use crate::results::{NodeResult, NodeStatus, RunSummary, now};
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
    // Each task runs a batch of ready nodes one after the other and returns their results.
    let mut tasks: JoinSet<Vec<(NodeResult, Vec<NodeResult>)>> = JoinSet::new();
    let mut finished: std::collections::VecDeque<(NodeResult, Vec<NodeResult>)> =
        Default::default();
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
            let r = NodeResult::blank(
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

    while done < total && !(cancelled && tasks.is_empty() && finished.is_empty()) {
        while !cancelled && tasks.len() < threads && finished.is_empty() {
            let size = batch_size(opts.command, ready.len(), threads - tasks.len());
            let mut batch = Vec::with_capacity(size);
            while batch.len() < size {
                let Some((_, id)) = ready.pop_first() else {
                    break;
                };
                let node = project.nodes[&id].clone();
                reporter.node_started(&node, done + running.len() + 1, total);
                running.insert(id);
                batch.push(node);
            }
            if batch.is_empty() {
                break;
            }
            let env = env.clone();
            let reporter = reporter.clone();
            tasks.spawn(async move {
                let mut results = Vec::with_capacity(batch.len());
                for node in batch {
                    results.push(attempt_with_retries(env.clone(), node, reporter.clone()).await);
                }
                results
            });
        }
        if finished.is_empty() {
            let joined = tokio::select! {
                joined = tasks.join_next() => joined,
                _ = &mut interrupted, if !cancelled => {
                    // Stop what runs now (a Delta commit is atomic: an interrupted write
                    // leaves the table at its previous version) and start nothing more.
                    cancelled = true;
                    tasks.abort_all();
                    continue;
                }
            };
            let Some(joined) = joined else {
                break;
            };
            match joined {
                Ok(batch) => finished.extend(batch),
                Err(e) if e.is_cancelled() => continue,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
        let Some((result, failed_attempts)) = finished.pop_front() else {
            continue;
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
                    // The plan gave every chosen node a count of what it waits on.
                    let Some(n) = remaining.get_mut(&child) else {
                        return Err(RunnerError::Bug(format!(
                            "{child} waits on {finished} but has no count in the plan"
                        )));
                    };
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
        // runs both. A stopped node's error replaces the attempt whose start was recorded.
        let started = match &meta {
            Some(m) => m.node_executions(&run_id).await?,
            None => Vec::new(),
        };
        for id in &running {
            let node = &project.nodes[id];
            let r = NodeResult::blank(node, NodeStatus::Error, "cancelled while running".into());
            let attempt = started
                .iter()
                .filter(|e| &e.record.unique_id == id)
                .map(|e| e.attempt)
                .max()
                .unwrap_or(1);
            done += 1;
            reporter.node_finished(node, &r, done, total);
            record(&meta, &run_id, u32::try_from(attempt).unwrap_or(1), &r).await?;
            results.push(r);
        }
        for id in &plan.order {
            if results.iter().any(|r| &r.unique_id == id) {
                continue;
            }
            let node = &project.nodes[id];
            let r = NodeResult::blank(
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
    crate::artifacts::write_artifacts(&project, &summary, opts.command, &opts.args)?;
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

/// How many ready nodes one task takes, with `free` tasks still to start. Nodes that only
/// compile take tens of microseconds, less than handing a task to a worker thread and back
/// (a 2,000-model `compile` spent a third of its time switching threads), so they go in
/// batches that share the ready nodes between the free tasks; every other command runs one
/// node per task, so a long node never holds back the ones queued behind it.
fn batch_size(command: Command, ready: usize, free: usize) -> usize {
    const MAX_COMPILE_BATCH: usize = 64;
    match command {
        Command::Compile => ready.div_ceil(free.max(1)).clamp(1, MAX_COMPILE_BATCH),
        _ => 1,
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
        record_start(&env, &node, attempt).await;
        let mut result = attempt_once(&env, &node).await;
        result.attempts = attempt;
        let retry = result.status == NodeStatus::Error
            && attempt <= node.config.retries
            && env.command != Command::Compile;
        if !retry {
            return (result, failed);
        }
        // Its start is in the store: record its end now rather than after the last retry,
        // so it does not look running through the backoff. The main loop records it again.
        if let Err(e) = record(&env.meta, &env.run_id, attempt, &result).await {
            tracing::warn!(error = %e, node = %node.unique_id, "recording a failed attempt failed");
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
                    let mut r = NodeResult::blank(
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
            NodeResult::blank(
                node,
                NodeStatus::Error,
                format!("internal error (a bug in Lakeforge, please report it): {what}"),
            )
        }
    }
}

/// Record that attempt `attempt` of `node` has started (status `running`, no time elapsed),
/// so that a run's page (lakeforge-ui) shows it while it runs; the attempt's result replaces
/// the row when it ends. Not under `compile`, whose nodes take microseconds. A store that
/// cannot be written fails the run when the result is recorded; here it is only logged.
async fn record_start(env: &NodeEnv, node: &Node, attempt: u32) {
    let Some(meta) = env
        .meta
        .as_ref()
        .filter(|_| env.command != Command::Compile)
    else {
        return;
    };
    let started = NodeRecord {
        unique_id: node.unique_id.clone(),
        status: "running".into(),
        started_at: now(),
        elapsed_s: 0.0,
        rows_affected: None,
        delta_version: None,
        sql_hash: None,
        message: None,
        ..NodeRecord::default()
    };
    if let Err(e) = meta
        .record_node_attempt(&env.run_id, i64::from(attempt.max(1)), &started)
        .await
    {
        tracing::warn!(error = %e, node = %node.unique_id, "recording a node's start failed");
    }
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
                failures: r.failures.map(|x| x as i64),
                quarantined: r.quarantined.map(|x| x as i64),
                sample: r.sample.clone(),
            },
        )
        .await?;
    }
    Ok(())
}

fn skipped_result(node: &Node, because: &str) -> NodeResult {
    let upstream = because.rsplit('.').next().unwrap_or(because);
    NodeResult::blank(
        node,
        NodeStatus::Skipped,
        format!("skipped: upstream {upstream} did not succeed"),
    )
}
