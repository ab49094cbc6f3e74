//! `lakeforge backfill --select X --start D1 --end D2`: runs a date-partitioned selection once
//! per date from D1 to D2 inclusive (every `--step`), each date passed in a var (`ds` unless
//! `--var` says otherwise) merged into `--vars`, as a normal recorded run. Dates run in order,
//! one at a time; the first that fails stops the backfill, which says how to resume there.
//! The dates themselves are `lakeforge_runner::backfill`'s.

use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use lakeforge_runner::Command;
use lakeforge_runner::backfill::{Step, StepError, dates};

use super::execute::{Launch, execute};
use crate::{ProjectArgs, RunArgs};

#[derive(Args, Debug)]
pub struct BackfillArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Nodes to run for each date, as for build (space = union, comma = intersection).
    #[arg(long, short = 's', num_args = 1.., required = true, alias = "models", short_alias = 'm')]
    pub select: Vec<String>,
    /// Nodes to leave out, in the same syntax as --select.
    #[arg(long, num_args = 1..)]
    pub exclude: Vec<String>,
    /// The first date, YYYY-MM-DD.
    #[arg(long, value_parser = parse_date)]
    pub start: NaiveDate,
    /// The last date, YYYY-MM-DD (included).
    #[arg(long, value_parser = parse_date)]
    pub end: NaiveDate,
    /// The var that carries the date (as YYYY-MM-DD) into the models: `{{ var('ds') }}`.
    #[arg(long, default_value = "ds")]
    pub var: String,
    /// Distance between dates: days (`1d`, `7d`), weeks (`1w`) or months (`1mo`).
    #[arg(long, default_value = "1d", value_parser = parse_step)]
    pub step: Step,
    /// What runs for each date: `build` (models with their tests) or `run` (models only).
    #[arg(long, value_enum, default_value = "build")]
    pub command: BackfillCommand,
    /// Nodes run at once (default: the number of cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Rebuild incremental models from scratch on the first date; later dates add to them.
    #[arg(long)]
    pub full_refresh: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackfillCommand {
    Build,
    Run,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|e| format!("`{s}` is not a date as YYYY-MM-DD ({e})"))
}

fn parse_step(s: &str) -> Result<Step, StepError> {
    s.parse()
}

pub async fn run(args: BackfillArgs) -> anyhow::Result<ExitCode> {
    if args.end < args.start {
        bail!(
            "--end {} is before --start {}\nhint: both dates are included; swap them",
            args.end,
            args.start
        );
    }
    if args.var.trim().is_empty() {
        bail!("--var must name a var, e.g. --var ds");
    }
    let base_vars = base_vars(args.project.vars.as_deref())?;
    let dates = dates(args.start, args.end, args.step);
    let n = dates.len();
    let command = match args.command {
        BackfillCommand::Build => Command::Build,
        BackfillCommand::Run => Command::Run,
    };
    println!(
        "Backfilling {} over {n} date{} ({} = {} .. {}, every {})",
        args.select.join(" "),
        if n == 1 { "" } else { "s" },
        args.var,
        args.start,
        args.end,
        args.step
    );
    for (i, date) in dates.iter().enumerate() {
        let ds = date.format("%Y-%m-%d").to_string();
        let progress = format!("backfill {}/{n} {}={ds}", i + 1, args.var);
        println!("{progress}: starting `{}`", command.as_str());
        let mut vars = base_vars.clone();
        vars.insert(args.var.clone(), serde_json::Value::String(ds.clone()));
        let run_args = RunArgs {
            threads: args.threads,
            full_refresh: args.full_refresh && i == 0,
            ..RunArgs::started_by_lakeforge(
                ProjectArgs {
                    project_dir: args.project.project_dir.clone(),
                    target: args.project.target.clone(),
                    profiles: args.project.profiles.clone(),
                    vars: Some(serde_json::Value::Object(vars).to_string()),
                },
                args.select.clone(),
                args.exclude.clone(),
            )
        };
        let mut extra = serde_json::Map::new();
        extra.insert(
            "backfill".into(),
            serde_json::json!({"var": args.var, "value": ds, "index": i + 1, "of": n}),
        );
        let launch = Launch {
            extra_args: extra,
            cancel: None,
        };
        let summary = execute(command, run_args, None, launch)
            .await
            .with_context(|| {
                format!(
                    "backfill stopped at {}={ds}\nhint: fix it, then resume with `{}`",
                    args.var,
                    resume(&args, &ds)
                )
            })?;
        println!(
            "{progress}: run {} {} in {:.1}s",
            summary.run_id,
            summary.status(),
            summary.elapsed
        );
        if !summary.success() {
            eprintln!(
                "error: backfill stopped at {}={ds}: run {} {}{}\nhint: fix it, then resume with `{}`",
                args.var,
                summary.run_id,
                summary.status(),
                if i + 1 < n {
                    format!(
                        " ({} later date{} not run)",
                        n - i - 1,
                        if n - i - 1 == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                },
                resume(&args, &ds)
            );
            return Ok(super::execute::exit_code(&summary));
        }
    }
    println!(
        "Backfilled {n} date{} of {} ({} .. {})",
        if n == 1 { "" } else { "s" },
        args.select.join(" "),
        args.start,
        args.end
    );
    Ok(ExitCode::SUCCESS)
}

/// `--vars` as a mapping, to which each date's var is added.
fn base_vars(text: Option<&str>) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(serde_json::Map::new());
    };
    let value: serde_json::Value = serde_yaml::from_str(text).with_context(|| {
        format!("Invalid --vars `{text}`\nhint: pass YAML, e.g. --vars '{{region: eu}}'")
    })?;
    match value {
        serde_json::Value::Object(m) => Ok(m),
        _ => bail!(
            "Invalid --vars: expected a mapping, got `{text}`\nhint: pass YAML, e.g. --vars '{{region: eu}}'"
        ),
    }
}

/// The command that resumes this backfill at `from`.
fn resume(args: &BackfillArgs, from: &str) -> String {
    let mut parts = vec!["lakeforge backfill".to_string(), "--select".into()];
    parts.extend(args.select.iter().map(|s| quote(s)));
    if !args.exclude.is_empty() {
        parts.push("--exclude".into());
        parts.extend(args.exclude.iter().map(|s| quote(s)));
    }
    parts.push(format!("--start {from} --end {}", args.end));
    if args.var != "ds" {
        parts.push(format!("--var {}", quote(&args.var)));
    }
    if args.step != Step::Days(1) {
        parts.push(format!("--step {}", args.step));
    }
    if args.command == BackfillCommand::Run {
        parts.push("--command run".into());
    }
    if let Some(vars) = &args.project.vars {
        parts.push(format!("--vars {}", quote(vars)));
    }
    if let Some(t) = &args.project.target {
        parts.push(format!("--target {}", quote(t)));
    }
    if let Some(d) = &args.project.profiles.profiles_dir {
        parts.push(format!(
            "--profiles-dir {}",
            quote(&d.display().to_string())
        ));
    }
    if let Some(p) = &args.project.profiles.profile {
        parts.push(format!("--profile {}", quote(p)));
    }
    if let Some(n) = args.threads {
        parts.push(format!("--threads {n}"));
    }
    parts.join(" ")
}

/// `s` as one shell word.
fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-+.,:/@*=".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_steps_parse_as_flags() {
        assert!(parse_date("2024-13-01").is_err());
        assert!(parse_date(" 2024-02-29 ").is_ok());
        assert_eq!(parse_step("1w").unwrap(), Step::Days(7));
        assert!(
            parse_step("1h")
                .unwrap_err()
                .to_string()
                .contains("unknown unit `h`")
        );
    }

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(quote("tag:daily"), "tag:daily");
        assert_eq!(quote("{a: 1}"), "'{a: 1}'");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
