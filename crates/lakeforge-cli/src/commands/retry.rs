//! `lakeforge retry`: run again what did not succeed in the last recorded run, as dbt's
//! `retry` does, but from the metadata store rather than `run_results.json`, so that it also
//! finishes a run whose process was killed before it could write any file. It repeats the
//! command with the same selection, vars and flags, on the selected nodes that did not end
//! in success, pass or warn.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use lakeforge_meta::MetaStore;
use lakeforge_project::settings::read_target;
use lakeforge_runner::Command;

use super::execute::{hostname, run_with};
use super::load_project;
use crate::{ProjectArgs, RunArgs};

#[derive(Args, Debug)]
pub struct RetryArgs {
    /// The project folder (the one holding dbt_project.yml).
    #[arg(long, default_value = ".", env = "LAKEFORGE_PROJECT_DIR")]
    pub project_dir: std::path::PathBuf,
    /// Target from profiles.yml.
    #[arg(long, short = 't')]
    pub target: Option<String>,
    #[command(flatten)]
    pub profiles: crate::ProfileArgs,
    /// Nodes run at once (default: what the last run used).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub async fn run(args: RetryArgs) -> anyhow::Result<ExitCode> {
    let target = read_target(
        &args.project_dir,
        &args.profiles.flags(args.target.as_deref()),
    )?;
    let store = MetaStore::open(&target.metadata).await?;
    let Some(last) = store.runs(1).await?.into_iter().next() else {
        bail!(
            "no run is recorded in {}\nhint: `lakeforge retry` repeats the last build, run, seed or test",
            store.location()
        );
    };
    let old: serde_json::Value = serde_json::from_str(&last.args).unwrap_or_default();
    if last.status == "running" {
        let pid = old["pid"].as_u64();
        let here = old["host"].as_str() == Some(hostname().as_str());
        match pid {
            Some(pid) if here && std::path::Path::new(&format!("/proc/{pid}")).exists() => bail!(
                "run {} is still going (process {pid})\nhint: wait for it, or stop it with Ctrl-C / kill -TERM {pid}",
                last.run_id
            ),
            _ if !here && pid.is_some() => bail!(
                "run {} was started on {} and is recorded as still running\nhint: retry it there, or wait for it to end",
                last.run_id,
                old["host"].as_str().unwrap_or("another machine")
            ),
            _ => {
                // Its process is gone without recording an end: it was killed.
                let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                store.finish_run(&last.run_id, "error", &now, 0.0).await?;
                println!(
                    "Run {} ended without finishing (its process is gone); recorded it as error",
                    last.run_id
                );
            }
        }
    }
    let command = match last.command.as_str() {
        "build" => Command::Build,
        "run" => Command::Run,
        "seed" => Command::Seed,
        "test" => Command::Test,
        other => bail!(
            "the last run ({}) was `{other}`, which retry cannot repeat",
            last.run_id
        ),
    };
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()
    };
    let run_args = RunArgs {
        threads: args
            .threads
            .or_else(|| old["threads"].as_u64().map(|n| n as usize)),
        full_refresh: old["full_refresh"].as_bool().unwrap_or(false),
        changed: old["changed"].as_bool().unwrap_or(false),
        ..RunArgs::started_by_lakeforge(
            ProjectArgs {
                project_dir: args.project_dir,
                target: args.target,
                profiles: args.profiles,
                vars: old["vars"].as_str().map(String::from),
            },
            strings(&old["select"]),
            strings(&old["exclude"]),
        )
    };

    // What that run was to do, less what it did.
    let project = load_project(&run_args.project)?;
    let mut todo = lakeforge_project::select(&project, &run_args.select, &run_args.exclude)?;
    if old["only"].is_array() {
        let only: BTreeSet<String> = strings(&old["only"]).into_iter().collect();
        todo.retain(|id| only.contains(id));
    }
    let mut latest: std::collections::HashMap<String, (i64, String)> = Default::default();
    for e in store.node_executions(&last.run_id).await? {
        let slot = latest
            .entry(e.record.unique_id)
            .or_insert((0, String::new()));
        if e.attempt >= slot.0 {
            *slot = (e.attempt, e.record.status);
        }
    }
    todo.retain(|id| {
        !latest
            .get(id)
            .is_some_and(|(_, s)| matches!(s.as_str(), "success" | "pass" | "warn"))
    });
    if todo.is_empty() {
        println!(
            "Nothing to retry: every node of the last `{}` ({}) succeeded",
            last.command, last.run_id
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Retrying {} node{} of `{}` run {}",
        todo.len(),
        if todo.len() == 1 { "" } else { "s" },
        last.command,
        last.run_id
    );
    run_with(command, run_args, Some((todo, last.run_id))).await
}
