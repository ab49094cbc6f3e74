//! `lakeforge build`, `run`, `seed`, `test` and `compile`: select nodes, execute them through
//! the runner, print a line per node and a summary, exit 1 when anything failed.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use lakeforge_meta::MetaStore;
use lakeforge_runner::openlineage::OpenLineageReporter;
use lakeforge_runner::{Command, Reporter, RunOptions, RunSummary};

use super::{default_threads, load_project_with_state, open_engine};
use crate::output::{ConsoleReporter, JsonReporter, print_summary};
use crate::{LogFormat, RunArgs};

pub async fn run(command: Command, args: RunArgs) -> anyhow::Result<ExitCode> {
    run_with(command, args, None).await
}

/// Run `command`; `only` (from `lakeforge retry`: node ids and the run retried) narrows the
/// selection to those nodes.
pub async fn run_with(
    command: Command,
    args: RunArgs,
    only: Option<(BTreeSet<String>, String)>,
) -> anyhow::Result<ExitCode> {
    let summary = execute(command, args, only, Launch::default()).await?;
    Ok(exit_code(&summary))
}

/// How a run was started, for runs that no one typed (the scheduler's, backfill's).
#[derive(Default)]
pub struct Launch {
    /// Recorded with the run's arguments: which schedule tick or backfill date started it.
    pub extra_args: serde_json::Map<String, serde_json::Value>,
    /// Cancels the run cleanly when it resolves; None: Ctrl-C or SIGTERM does.
    pub cancel: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

/// Run `command` as [`run_with`] does, printing its nodes and summary, and return how it
/// went.
pub async fn execute(
    command: Command,
    args: RunArgs,
    only: Option<(BTreeSet<String>, String)>,
    launch: Launch,
) -> anyhow::Result<RunSummary> {
    let project = load_project_with_state(&args.project, args.state.as_deref())?;
    let mut selected = super::select_nodes(&project, &args.select, &args.exclude)?;
    let (retry_of, only_ids) = match only {
        Some((ids, previous_run)) => {
            selected.retain(|id| ids.contains(id));
            (Some(previous_run), Some(ids))
        }
        None => (None, None),
    };
    let threads = args
        .threads
        .or(project.target.threads)
        .unwrap_or_else(default_threads)
        .max(1);
    let engine = open_engine(&project, threads).await?;
    let meta = if command == Command::Compile {
        None
    } else {
        Some(MetaStore::open(&project.target.metadata).await?)
    };
    let json = args.log_format == LogFormat::Json;
    let mut reporter: Arc<dyn Reporter> = if json {
        Arc::new(JsonReporter)
    } else {
        Arc::new(ConsoleReporter::new(command))
    };
    let lineage = match (&project.target.openlineage, command) {
        (Some(config), c) if c != Command::Compile => {
            let r = Arc::new(
                OpenLineageReporter::new(reporter.clone(), project.clone(), command, config)
                    .context("opening the OpenLineage transport of lakeforge.yml")?,
            );
            reporter = r.clone();
            Some(r)
        }
        _ => None,
    };
    let mut opts = RunOptions {
        command,
        selected,
        threads,
        full_refresh: args.full_refresh,
        changed: args.changed,
        // What `lakeforge retry` needs to repeat the run, and to tell a run whose process
        // was killed from one still going.
        args: serde_json::json!({
            "select": args.select,
            "exclude": args.exclude,
            "vars": args.project.vars,
            "full_refresh": args.full_refresh,
            "threads": threads,
            "changed": args.changed,
            "retry_of": retry_of,
            "only": only_ids,
            "pid": std::process::id(),
            "host": hostname(),
        }),
    };
    if let Some(recorded) = opts.args.as_object_mut() {
        recorded.extend(launch.extra_args);
    }
    let summary = match launch.cancel {
        Some(cancel) => {
            lakeforge_runner::run_until(project.clone(), engine, meta, opts, reporter, cancel)
                .await?
        }
        None => lakeforge_runner::run(project.clone(), engine, meta, opts, reporter).await?,
    };
    if let Some(l) = lineage {
        l.close().await;
    }
    if let Some(path) = &args.junit_xml {
        std::fs::write(path, summary.junit_xml(&project))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if !json {
        print_summary(&project, &summary, command);
    }
    Ok(summary)
}

/// The process's exit code after a run: 0 when it succeeded, 1 when something failed, 130
/// when it was cancelled.
pub fn exit_code(summary: &RunSummary) -> ExitCode {
    if summary.cancelled {
        // The shell's convention for a run stopped by SIGINT.
        ExitCode::from(130)
    } else if summary.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// This machine's name, recorded with each run.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}
