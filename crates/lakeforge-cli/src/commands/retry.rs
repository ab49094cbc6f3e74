//! `lakeforge retry`: run again what did not succeed in the last run, as dbt's `retry` does.
//! It reads `target/run_results.json`, takes the nodes that errored, failed or were skipped
//! (including those a cancelled run never started), and runs the same command on them with the
//! same selection, vars and flags.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use lakeforge_runner::Command;

use crate::{ProjectArgs, RunArgs};

#[derive(Args, Debug)]
pub struct RetryArgs {
    /// The project folder (the one holding dbt_project.yml).
    #[arg(long, default_value = ".", env = "LAKEFORGE_PROJECT_DIR")]
    pub project_dir: std::path::PathBuf,
    /// Target from profiles.yml.
    #[arg(long, short = 't')]
    pub target: Option<String>,
    /// Nodes run at once (default: what the last run used).
    #[arg(long)]
    pub threads: Option<usize>,
}

pub async fn run(args: RetryArgs) -> anyhow::Result<ExitCode> {
    let target_path = std::fs::read_to_string(args.project_dir.join("dbt_project.yml"))
        .ok()
        .and_then(|t| serde_yaml::from_str::<serde_yaml::Value>(&t).ok())
        .and_then(|v| {
            v.get("target-path")
                .and_then(|p| p.as_str())
                .map(String::from)
        })
        .unwrap_or_else(|| "target".into());
    let path = args.project_dir.join(target_path).join("run_results.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {}\nhint: `lakeforge retry` re-runs the last build, run, seed or test; run one first",
            path.display()
        )
    })?;
    let previous: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let which = previous["args"]["which"].as_str().unwrap_or_default();
    let command = match which {
        "build" => Command::Build,
        "run" => Command::Run,
        "seed" => Command::Seed,
        "test" => Command::Test,
        other => bail!(
            "{}: the last command was `{other}`, which retry cannot repeat",
            path.display()
        ),
    };
    let ids: BTreeSet<String> = previous["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| matches!(r["status"].as_str(), Some("error" | "fail" | "skipped")))
        .filter_map(|r| r["unique_id"].as_str().map(String::from))
        .collect();
    let run_id = previous["metadata"]["invocation_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if ids.is_empty() {
        println!("Nothing to retry: every node of the last `{which}` ({run_id}) succeeded");
        return Ok(ExitCode::SUCCESS);
    }
    let old = &previous["args"]["vars"];
    let strings = |key: &str| -> Vec<String> {
        old[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(String::from))
            .collect()
    };
    let run_args = RunArgs {
        project: ProjectArgs {
            project_dir: args.project_dir,
            target: args.target,
            vars: old["vars"].as_str().map(String::from),
        },
        select: strings("select"),
        exclude: strings("exclude"),
        threads: args
            .threads
            .or_else(|| old["threads"].as_u64().map(|n| n as usize)),
        full_refresh: old["full_refresh"].as_bool().unwrap_or(false),
        junit_xml: None,
    };
    println!(
        "Retrying {} node{} of `{which}` run {run_id}",
        ids.len(),
        if ids.len() == 1 { "" } else { "s" }
    );
    super::execute::run_with(command, run_args, Some((ids, run_id))).await
}
