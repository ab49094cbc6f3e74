//! `lakeforge runs` and `lakeforge runs show RUN_ID`: the run history the metadata store keeps
//! (SQLite in the lake, or the PostgreSQL database `metadata:` names), newest first, and one
//! run's node executions. A run id may be shortened to a unique prefix, or be `last`.

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use comfy_table::{CellAlignment, Table, presets};
use lakeforge_meta::{Location, MetaStore, NodeExecution, RunRecord};
use lakeforge_project::settings::read_target;

use crate::ProjectArgs;

#[derive(Args, Clone, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub command: Option<RunsCommand>,
    #[command(flatten)]
    pub project: ProjectArgs,
    /// How many runs to list, newest first.
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Print a table, or JSON.
    #[arg(long, value_enum, default_value = "table")]
    pub format: RunsFormat,
}

#[derive(Subcommand, Clone, Debug)]
pub enum RunsCommand {
    /// One run and the executions of its nodes.
    Show(ShowRunArgs),
}

#[derive(Args, Clone, Debug)]
pub struct ShowRunArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The run's id, a prefix of exactly one id, or `last`.
    pub run_id: String,
    /// Print a table, or JSON.
    #[arg(long, value_enum, default_value = "table")]
    pub format: RunsFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum RunsFormat {
    Table,
    Json,
}

pub async fn run(args: RunsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        None => list(&args.project, args.limit, args.format).await,
        Some(RunsCommand::Show(show_args)) => show(&show_args).await,
    }
}

/// The project's store, or None when it is a SQLite file that does not exist yet (nothing ran;
/// listing history should not create it). Only the project's settings are read, so history
/// can be looked at while a model does not compile.
pub(crate) async fn open_store(project: &ProjectArgs) -> anyhow::Result<Option<MetaStore>> {
    let target = read_target(&project.project_dir, &project.profile_flags())?;
    let location = &target.metadata;
    if let Location::Sqlite(path) = Location::parse(location)?
        && !path.exists()
    {
        return Ok(None);
    }
    Ok(Some(MetaStore::open(location).await?))
}

async fn list(project: &ProjectArgs, limit: u32, format: RunsFormat) -> anyhow::Result<ExitCode> {
    let runs = match open_store(project).await? {
        Some(store) => store.runs(limit.into()).await?,
        None => Vec::new(),
    };
    if format == RunsFormat::Json {
        println!("{}", serde_json::to_string_pretty(&runs)?);
        return Ok(ExitCode::SUCCESS);
    }
    if runs.is_empty() {
        println!("No runs recorded yet.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new();
    table.load_preset(presets::ASCII_FULL_CONDENSED);
    table.set_header(vec![
        "run id",
        "command",
        "status",
        "started (UTC)",
        "elapsed",
        "ok",
        "failed",
        "skipped",
    ]);
    for r in &runs {
        table.add_row(vec![
            r.run_id.clone(),
            r.command.clone(),
            r.status.clone(),
            time(&r.started_at),
            elapsed(r.elapsed_s),
            r.nodes_ok.to_string(),
            r.nodes_failed.to_string(),
            r.nodes_skipped.to_string(),
        ]);
    }
    for c in 4..8 {
        if let Some(col) = table.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    println!("{table}");
    Ok(ExitCode::SUCCESS)
}

async fn show(args: &ShowRunArgs) -> anyhow::Result<ExitCode> {
    let Some(store) = open_store(&args.project).await? else {
        anyhow::bail!(
            "No run `{}`: nothing has run in this project yet\nhint: `lakeforge build` records a run",
            args.run_id
        );
    };
    let run = store.resolve_run(&args.run_id).await?;
    let nodes = store.node_executions(&run.run_id).await?;
    if args.format == RunsFormat::Json {
        let lineage = store.lineage(&run.run_id).await?;
        let out = serde_json::json!({ "run": run, "nodes": nodes, "lineage": lineage });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    print_run(&run);
    if nodes.is_empty() {
        println!("No node executions recorded.");
    } else {
        println!("{}", nodes_table(&nodes));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_run(run: &RunRecord) {
    println!("Run {}", run.run_id);
    println!("  command   {}", run.command);
    println!("  args      {}", run.args);
    println!("  status    {}", run.status);
    println!("  started   {} UTC", time(&run.started_at));
    if let Some(finished) = &run.finished_at {
        println!(
            "  finished  {} UTC, after {}",
            time(finished),
            elapsed(run.elapsed_s)
        );
    }
    println!(
        "  nodes     {} ok, {} failed, {} skipped",
        run.nodes_ok, run.nodes_failed, run.nodes_skipped
    );
}

fn nodes_table(nodes: &[NodeExecution]) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::ASCII_FULL_CONDENSED);
    table.set_header(vec![
        "node",
        "status",
        "attempt",
        "elapsed",
        "rows",
        "delta version",
        "message",
    ]);
    for n in nodes {
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        let r = &n.record;
        table.add_row(vec![
            r.unique_id.clone(),
            r.status.clone(),
            n.attempt.to_string(),
            elapsed(Some(r.elapsed_s)),
            opt(r.rows_affected),
            opt(r.delta_version),
            first_line(r.message.as_deref().unwrap_or_default()),
        ]);
    }
    for c in 2..6 {
        if let Some(col) = table.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

/// `2026-01-02T03:04:05.678Z` as `2026-01-02 03:04:05`.
pub(crate) fn time(rfc3339: &str) -> String {
    match rfc3339.get(..19) {
        Some(s) => s.replacen('T', " ", 1),
        None => rfc3339.to_string(),
    }
}

fn elapsed(seconds: Option<f64>) -> String {
    seconds
        .map(|s| format!("{s:.2}s"))
        .unwrap_or_else(|| "-".into())
}

/// A message's first line, at most 100 characters.
fn first_line(message: &str) -> String {
    const MAX: usize = 100;
    let line = message.lines().next().unwrap_or_default();
    if line.chars().count() > MAX {
        format!("{}...", line.chars().take(MAX).collect::<String>())
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_and_messages() {
        assert_eq!(time("2026-01-02T03:04:05.678Z"), "2026-01-02 03:04:05");
        assert_eq!(time("bad"), "bad");
        assert_eq!(elapsed(Some(1.234)), "1.23s");
        assert_eq!(elapsed(None), "-");
        assert_eq!(first_line("one\ntwo"), "one");
        assert_eq!(first_line(&"x".repeat(150)).len(), 103);
    }
}
