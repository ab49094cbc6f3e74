//! `lakeforge build`, `run`, `seed`, `test` and `compile`: select nodes, execute them through
//! the runner, print a line per node and a summary, exit 1 when anything failed.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use lakeforge_meta::MetaStore;
use lakeforge_runner::{Command, RunOptions};

use super::{default_threads, load_project, open_engine};
use crate::RunArgs;
use crate::output::{ConsoleReporter, print_summary};

pub async fn run(command: Command, args: RunArgs) -> anyhow::Result<ExitCode> {
    run_with(command, args, None).await
}

/// Run `command`; `only` (from `lakeforge retry`) narrows the selection to these nodes.
pub async fn run_with(
    command: Command,
    args: RunArgs,
    only: Option<(BTreeSet<String>, String)>,
) -> anyhow::Result<ExitCode> {
    let project = load_project(&args.project)?;
    let mut selected = lakeforge_project::select(&project, &args.select, &args.exclude)?;
    let mut retry_of = None;
    if let Some((ids, previous_run)) = only {
        selected.retain(|id| ids.contains(id));
        retry_of = Some(previous_run);
    }
    let threads = args
        .threads
        .or(project.target.threads)
        .unwrap_or_else(default_threads)
        .max(1);
    let engine = open_engine(&project, threads)?;
    let meta = if command == Command::Compile {
        None
    } else {
        Some(MetaStore::open(&project.target.metadata).await?)
    };
    let reporter = Arc::new(ConsoleReporter::new(command));
    let opts = RunOptions {
        command,
        selected,
        threads,
        full_refresh: args.full_refresh,
        args: serde_json::json!({
            "select": args.select,
            "exclude": args.exclude,
            "vars": args.project.vars,
            "full_refresh": args.full_refresh,
            "threads": threads,
            "retry_of": retry_of,
        }),
    };
    let summary =
        lakeforge_runner::run(project.clone(), engine, meta, opts, reporter.clone()).await?;
    reporter.finish();
    if let Some(path) = &args.junit_xml {
        std::fs::write(path, summary.junit_xml(&project))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    print_summary(&project, &summary, command);
    Ok(if summary.cancelled {
        // The shell's convention for a run stopped by SIGINT.
        ExitCode::from(130)
    } else if summary.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
