//! `lakeforge source freshness`: for every source table with a `loaded_at_field` and a
//! `freshness:` policy (dbt's `warn_after` / `error_after`, and an optional `filter`), how long
//! ago its newest row was loaded, judged pass, warn or error, printed as a table and written
//! to `target/sources.json` in dbt's shape. Exits 1 when any source is past `error_after` or
//! cannot be queried.

use std::process::ExitCode;

use anyhow::Context;
use arrow::array::{Array, Int64Array};
use clap::{Args, Subcommand};
use lakeforge_project::SourceTable;
use serde_json::{Value, json};

use super::{default_threads, load_project, open_engine};
use crate::ProjectArgs;

#[derive(Args, Debug)]
pub struct SourceArgs {
    #[command(subcommand)]
    pub command: SourceCommand,
}

#[derive(Subcommand, Debug)]
pub enum SourceCommand {
    /// Check how recently each source was loaded against its `freshness:` policy.
    Freshness {
        #[command(flatten)]
        project: ProjectArgs,
        /// Sources to check: `source:name`, `source:name.table`, or names (default: all).
        #[arg(long, short = 's', num_args = 1..)]
        select: Vec<String>,
    },
}

/// A `warn_after` / `error_after` threshold, in seconds.
fn threshold(v: &Value) -> Option<i64> {
    let count = v.get("count")?.as_i64()?;
    let unit = match v.get("period")?.as_str()? {
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return None,
    };
    Some(count * unit)
}

pub async fn run(args: SourceArgs) -> anyhow::Result<ExitCode> {
    let SourceCommand::Freshness { project, select } = args.command;
    let project = load_project(&project)?;
    let wanted: Vec<&SourceTable> = project
        .sources
        .values()
        .filter(|s| {
            select.is_empty()
                || select.iter().any(|sel| {
                    let sel = sel.strip_prefix("source:").unwrap_or(sel);
                    sel == s.source_name || sel == format!("{}.{}", s.source_name, s.name)
                })
        })
        .collect();
    if wanted.is_empty() && !select.is_empty() {
        anyhow::bail!(
            "no declared source matches {}\nhint: name a source (`shop`) or one of its tables (`shop.orders`)",
            select.join(" ")
        );
    }
    let engine = open_engine(
        &project,
        project.target.threads.unwrap_or_else(default_threads),
    )
    .await?;
    let now = chrono::Utc::now();
    let mut results = Vec::new();
    let mut rows = Vec::new();
    let mut failed = false;
    for s in wanted {
        let policy = s.raw.get("freshness").cloned().unwrap_or(Value::Null);
        let Some(field) = &s.loaded_at_field else {
            continue;
        };
        if policy.is_null() {
            continue;
        }
        let warn = policy.get("warn_after").and_then(threshold);
        let error = policy.get("error_after").and_then(threshold);
        if warn.is_none() && error.is_none() {
            continue;
        }
        let filter = policy
            .get("filter")
            .and_then(|f| f.as_str())
            .map(|f| format!(" where {f}"))
            .unwrap_or_default();
        let sql = format!(
            "select cast(cast(max({field}) as timestamp) as bigint) as max_loaded_at from {}{filter}",
            s.relation
        );
        let name = format!("{}.{}", s.source_name, s.name);
        let outcome = engine.query(&format!("source {name}"), &sql).await;
        let (status, max_loaded, age, message) = match outcome {
            Err(e) => (
                "runtime error",
                None,
                None,
                Some(lakeforge_project::error_text(&e)),
            ),
            Ok((_, batches)) => {
                let nanos = batches.iter().find(|b| b.num_rows() > 0).and_then(|b| {
                    let a = b.column(0).as_any().downcast_ref::<Int64Array>()?;
                    (!a.is_null(0)).then(|| a.value(0))
                });
                match nanos {
                    None => (
                        "error",
                        None,
                        None,
                        Some(format!("no rows with a `{field}` (the table is empty)")),
                    ),
                    Some(n) => {
                        let loaded = chrono::DateTime::from_timestamp_nanos(n);
                        let age = (now - loaded).num_milliseconds() as f64 / 1000.0;
                        let status = if error.is_some_and(|e| age > e as f64) {
                            "error"
                        } else if warn.is_some_and(|w| age > w as f64) {
                            "warn"
                        } else {
                            "pass"
                        };
                        (status, Some(loaded), Some(age), None)
                    }
                }
            }
        };
        failed |= matches!(status, "error" | "runtime error");
        rows.push(vec![
            name.clone(),
            status.to_string(),
            max_loaded
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "-".into()),
            age.map(human).unwrap_or_else(|| "-".into()),
            [("warn", warn), ("error", error)]
                .iter()
                .filter_map(|(k, v)| v.map(|v| format!("{k} after {}", human(v as f64))))
                .collect::<Vec<_>>()
                .join(", "),
        ]);
        results.push(json!({
            "unique_id": s.unique_id,
            "status": status,
            "max_loaded_at": max_loaded.map(|t| t.to_rfc3339()),
            "snapshotted_at": now.to_rfc3339(),
            "max_loaded_at_time_ago_in_seconds": age,
            "criteria": {"warn_after": policy.get("warn_after"), "error_after": policy.get("error_after"), "filter": policy.get("filter")},
            "error": message,
        }));
        if let (Some(m), Some(row)) = (message, rows.last_mut()) {
            row.push(m);
        }
    }
    if rows.is_empty() {
        println!(
            "No source has both a `loaded_at_field` and a `freshness:` policy\nhint: add `freshness: {{warn_after: {{count: 12, period: hour}}}}` and `loaded_at_field:` to a source in properties YAML"
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::ASCII_MARKDOWN);
    table.set_header(vec!["source", "status", "newest row", "age", "policy"]);
    for r in &rows {
        table.add_row(r.iter().take(5).cloned().collect::<Vec<_>>());
    }
    println!("{table}");
    for r in rows.iter().filter(|r| r.len() > 5) {
        println!("{}: {}", r[0], r[5]);
    }
    let dir = project.target_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let artifact = json!({
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/sources/v3.json",
            "generator": "lakeforge",
            "generated_at": now.to_rfc3339(),
        },
        "results": results,
        "elapsed_time": (chrono::Utc::now() - now).num_milliseconds() as f64 / 1000.0,
    });
    let path = dir.join("sources.json");
    std::fs::write(&path, serde_json::to_string_pretty(&artifact)?)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Seconds as people say them: 45s, 12m, 3.5h, 2.0d.
fn human(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.0}s")
    } else if secs < 3600.0 {
        format!("{:.0}m", secs / 60.0)
    } else if secs < 86_400.0 {
        format!("{:.1}h", secs / 3600.0)
    } else {
        format!("{:.1}d", secs / 86_400.0)
    }
}
