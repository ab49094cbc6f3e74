//! What a person sees while a run goes: a line per node (status, what it did, rows, seconds),
//! a progress bar when the output is a terminal, and a summary that names each failure with its
//! message and, for tests, a few failing rows.

use parking_lot::Mutex;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use lakeforge_project::{Node, Project, ResourceType, TestKind};
use lakeforge_runner::{Command, HookResult, NodeResult, NodeStatus, Reporter, RunSummary};

pub struct ConsoleReporter {
    bar: Mutex<Option<ProgressBar>>,
    command: Command,
}

impl ConsoleReporter {
    pub fn new(command: Command) -> Self {
        ConsoleReporter {
            bar: Mutex::new(None),
            command,
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.lock().take() {
            bar.finish_and_clear();
        }
    }

    fn print(&self, line: String) {
        match self.bar.lock().as_ref() {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }
}

impl Reporter for ConsoleReporter {
    fn run_started(&self, total: usize) {
        let what = if self.command == Command::Compile {
            "Compiling"
        } else {
            "Running"
        };
        if total == 0 {
            println!(
                "Nothing to do: no selected node is one that `{}` runs\nhint: check --select/--exclude and the nodes' `enabled` configs; `lakeforge ls` lists what a selector picks",
                self.command.as_str()
            );
            return;
        }
        println!("{what} {total} node{}", if total == 1 { "" } else { "s" });
        if std::io::stderr().is_terminal() && total > 1 {
            let bar = ProgressBar::new(total as u64);
            // The template is a constant that parses; were it ever wrong, the bar keeps its
            // default look rather than stopping the build.
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{bar:30}] {pos}/{len} {elapsed_precise} {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            *self.bar.lock() = Some(bar);
        }
    }

    fn node_started(&self, node: &Node, _index: usize, _total: usize) {
        if let Some(bar) = self.bar.lock().as_ref() {
            bar.set_message(node.name.clone());
        }
    }

    fn run_finished(&self, _summary: &RunSummary) {
        self.finish();
    }

    fn node_retrying(&self, node: &Node, attempt: u32, error: &str, delay_s: f64) {
        self.print(format!(
            "RETRY {} after attempt {attempt} of {} errored, in {delay_s}s: {}",
            describe(node),
            node.config.retries + 1,
            error.lines().next().unwrap_or("")
        ));
    }

    fn hook_finished(&self, h: &HookResult) {
        let status = match h.status {
            NodeStatus::Error => "ERROR",
            NodeStatus::Skipped => "SKIP",
            _ => "OK",
        };
        let detail = match (h.status, h.rows_affected) {
            (NodeStatus::Error, _) => "error".to_string(),
            (NodeStatus::Skipped, _) => "skipped".to_string(),
            (_, Some(n)) => format!("{n} rows"),
            (_, None) => "OK".to_string(),
        };
        let dots = 56usize.saturating_sub(h.name.len() + 5).max(3);
        self.print(format!(
            "{status:<5} hook {} {} [{detail} in {:.2}s]",
            h.name,
            ".".repeat(dots),
            h.execution_time
        ));
    }

    fn node_finished(&self, node: &Node, r: &NodeResult, index: usize, total: usize) {
        let width = total.to_string().len();
        let status = match r.status {
            NodeStatus::Success => "OK",
            NodeStatus::Pass => "PASS",
            NodeStatus::Error => "ERROR",
            NodeStatus::Fail => "FAIL",
            NodeStatus::Warn => "WARN",
            NodeStatus::Skipped => "SKIP",
        };
        let what = describe(node);
        let detail = match r.status {
            NodeStatus::Success => {
                let mut d = match r.rows_affected {
                    // `CREATE TABLE 120 rows, exported ...`: the count belongs to the action.
                    Some(n) => match r.message.split_once(", ") {
                        Some((action, rest)) => format!("{action} {n} rows, {rest}"),
                        None => format!("{} {n} rows", r.message),
                    },
                    None => r.message.clone(),
                };
                if let Some(q) = r.quarantined {
                    d.push_str(&format!(", {q} quarantined"));
                }
                d
            }
            NodeStatus::Fail | NodeStatus::Warn => {
                format!("{} failing rows", r.failures.unwrap_or(0))
            }
            NodeStatus::Error => "error".into(),
            NodeStatus::Skipped => "skipped".into(),
            NodeStatus::Pass => "pass".into(),
        };
        let dots = 56usize.saturating_sub(what.len()).max(3);
        self.print(format!(
            "{index:>width$} of {total} {status:<5} {what} {} [{detail} in {:.2}s]",
            ".".repeat(dots),
            r.execution_time
        ));
        if let Some(bar) = self.bar.lock().as_ref() {
            bar.set_position(index as u64);
        }
    }
}

fn describe(node: &Node) -> String {
    match node.resource_type {
        ResourceType::Seed => format!("seed {}", node.relation),
        ResourceType::Test => format!("test {}", node.name),
        ResourceType::MlModel => format!("ml model {}", node.name),
        ResourceType::Snapshot => format!("snapshot {}", node.relation),
        ResourceType::SavedQuery => format!("saved query {}", node.name),
        ResourceType::UnitTest => format!(
            "unit_test {}::{}",
            node.fqn
                .iter()
                .rev()
                .nth(1)
                .map(String::as_str)
                .unwrap_or(""),
            node.name
        ),
        _ => format!("{} {}", node.config.materialized.as_str(), node.relation),
    }
}

pub fn print_summary(project: &Project, summary: &RunSummary, command: Command) {
    let ok = summary.count(NodeStatus::Success) + summary.count(NodeStatus::Pass);
    println!();
    if command == Command::Compile {
        println!(
            "Compiled {} nodes into {} in {:.2}s",
            ok,
            project.target_dir().join("compiled").display(),
            summary.elapsed
        );
        if summary.success() {
            return;
        }
    }
    let problems: Vec<&NodeResult> = summary
        .results
        .iter()
        .filter(|r| {
            matches!(
                r.status,
                NodeStatus::Error | NodeStatus::Fail | NodeStatus::Warn
            )
        })
        .collect();
    for h in summary
        .hooks
        .iter()
        .filter(|h| h.status == NodeStatus::Error)
    {
        println!("Error in hook {}", h.name);
        for line in h.message.lines() {
            println!("  {line}");
        }
        println!();
    }
    for r in &problems {
        let node = &project.nodes[&r.unique_id];
        let kind = match r.status {
            NodeStatus::Warn => "Warning",
            NodeStatus::Fail => "Failure",
            _ => "Error",
        };
        println!(
            "{kind} in {} {} ({})",
            node.resource_type.as_str(),
            node.name,
            node.path
        );
        if let Some(TestKind::Generic {
            name,
            column,
            attached_to,
            ..
        }) = &node.test
        {
            let on = attached_to.rsplit('.').next().unwrap_or(attached_to);
            match column {
                Some(c) => println!("  {name} on {on}.{c}"),
                None => println!("  {name} on {on}"),
            }
        }
        for line in r.message.lines() {
            println!("  {line}");
        }
        if let Some(sample) = &r.sample {
            if matches!(node.test, Some(TestKind::Unit(_))) {
                println!("  rows that differ (- expected, + actual):");
            } else {
                println!("  sample of failing rows:");
            }
            for line in sample.lines() {
                println!("  {line}");
            }
        }
        println!();
    }
    println!(
        "Done in {:.2}s. OK={} WARN={} ERROR={} SKIP={} TOTAL={}",
        summary.elapsed,
        ok,
        summary.count(NodeStatus::Warn),
        summary.count(NodeStatus::Error)
            + summary.count(NodeStatus::Fail)
            + summary
                .hooks
                .iter()
                .filter(|h| h.status == NodeStatus::Error)
                .count(),
        summary.count(NodeStatus::Skipped),
        summary.results.len()
    );
}

/// `--log-format json`: one JSON object per line and event, for log collectors.
pub struct JsonReporter;

fn emit(mut event: serde_json::Value) {
    event["ts"] =
        serde_json::json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    println!("{event}");
}

impl Reporter for JsonReporter {
    fn run_started(&self, total: usize) {
        emit(serde_json::json!({"event": "run_started", "nodes": total}));
    }

    fn node_started(&self, node: &Node, index: usize, total: usize) {
        emit(serde_json::json!({
            "event": "node_started",
            "unique_id": node.unique_id,
            "resource_type": node.resource_type.as_str(),
            "index": index,
            "total": total,
        }));
    }

    fn node_retrying(&self, node: &Node, attempt: u32, error: &str, delay_s: f64) {
        emit(serde_json::json!({
            "event": "node_retrying",
            "unique_id": node.unique_id,
            "attempt": attempt,
            "error": error,
            "delay_s": delay_s,
        }));
    }

    fn hook_finished(&self, h: &HookResult) {
        emit(serde_json::json!({
            "event": "hook_finished",
            "unique_id": h.unique_id,
            "name": h.name,
            "status": h.status.as_str(),
            "message": h.message,
            "execution_time": h.execution_time,
            "rows_affected": h.rows_affected,
        }));
    }

    fn node_finished(&self, node: &Node, r: &NodeResult, index: usize, total: usize) {
        emit(serde_json::json!({
            "event": "node_finished",
            "unique_id": node.unique_id,
            "resource_type": node.resource_type.as_str(),
            "status": r.status.as_str(),
            "message": r.message,
            "execution_time": r.execution_time,
            "rows_affected": r.rows_affected,
            "rows_quarantined": r.quarantined,
            "delta_version": r.delta_version,
            "failures": r.failures,
            "attempts": r.attempts,
            "index": index,
            "total": total,
        }));
    }

    fn run_finished(&self, s: &RunSummary) {
        emit(serde_json::json!({
            "event": "run_finished",
            "run_id": s.run_id,
            "status": s.status(),
            "elapsed": s.elapsed,
            "success": s.count(NodeStatus::Success),
            "pass": s.count(NodeStatus::Pass),
            "warn": s.count(NodeStatus::Warn),
            "error": s.count(NodeStatus::Error),
            "fail": s.count(NodeStatus::Fail),
            "skipped": s.count(NodeStatus::Skipped),
        }));
    }
}
