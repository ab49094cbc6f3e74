//! Results of a run: one per executed node, and `target/run_results.json` in the shape dbt
//! writes, so tooling built for dbt reads ours.

use lakeforge_project::{Node, ResourceType};
use serde::Serialize;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeStatus {
    Success,
    Error,
    Skipped,
    Pass,
    Fail,
    Warn,
}

impl NodeStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            NodeStatus::Success => "success",
            NodeStatus::Error => "error",
            NodeStatus::Skipped => "skipped",
            NodeStatus::Pass => "pass",
            NodeStatus::Fail => "fail",
            NodeStatus::Warn => "warn",
        }
    }

    /// Whether this result stops what is downstream.
    pub fn blocks_downstream(&self) -> bool {
        matches!(
            self,
            NodeStatus::Error | NodeStatus::Fail | NodeStatus::Skipped
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeResult {
    pub unique_id: String,
    pub status: NodeStatus,
    pub execution_time: f64,
    pub started_at: String,
    /// `CREATE TABLE`, `MERGE`, an error message, or the failing-row summary of a test.
    pub message: String,
    pub rows_affected: Option<u64>,
    pub delta_version: Option<i64>,
    /// Tests: number of failing rows.
    pub failures: Option<u64>,
    /// Models with quarantine: rows routed to the quarantine table.
    pub quarantined: Option<u64>,
    /// Tests: a few failing rows, formatted as a table.
    pub sample: Option<String>,
    pub compiled_code: Option<String>,
    pub relation_name: Option<String>,
    /// How many times the node ran: 1, or more when it was retried after errors.
    pub attempts: u32,
    /// The hash of its compiled SQL and config (lakeforge-project's `Node::state_hash`).
    #[serde(skip)]
    pub state_hash: Option<String>,
    /// What it read, with the versions of the tables.
    #[serde(skip)]
    pub upstream: Vec<lakeforge_meta::LineageEdge>,
}

impl NodeResult {
    /// A result for `node` with nothing done yet.
    pub(crate) fn blank(node: &Node, status: NodeStatus, message: String) -> NodeResult {
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
}

/// The time as results and the store record it: UTC, RFC 3339, milliseconds.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_id: String,
    pub results: Vec<NodeResult>,
    /// `on-run-start` then `on-run-end` hooks, in the order they ran.
    pub hooks: Vec<crate::hooks::HookResult>,
    pub elapsed: f64,
    /// The run was interrupted (Ctrl-C / SIGTERM): nodes running then errored as cancelled,
    /// nodes not started yet are skipped.
    pub cancelled: bool,
}

impl RunSummary {
    pub fn count(&self, status: NodeStatus) -> usize {
        self.results.iter().filter(|r| r.status == status).count()
    }

    /// A run fails when any node errored or any error-severity test failed.
    pub fn success(&self) -> bool {
        !self.cancelled
            && self.count(NodeStatus::Error) == 0
            && self.count(NodeStatus::Fail) == 0
            && !self.hooks.iter().any(|h| h.status == NodeStatus::Error)
    }

    /// The run's status as recorded: success, error or cancelled.
    pub fn status(&self) -> &'static str {
        if self.cancelled {
            "cancelled"
        } else if self.success() {
            "success"
        } else {
            "error"
        }
    }

    pub fn run_results_json(&self, command: &str, args: &serde_json::Value) -> serde_json::Value {
        json!({
            "metadata": {
                "dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json",
                "generator": "lakeforge",
                "generator_version": env!("CARGO_PKG_VERSION"),
                "invocation_id": self.run_id,
            },
            "results": self.hooks.iter().filter(|h| h.unique_id.contains("-on-run-start")).map(hook_json)
                .chain(self.results.iter().map(|r| json!({
                "unique_id": r.unique_id,
                "status": r.status.as_str(),
                "execution_time": r.execution_time,
                "thread_id": "Thread-1",
                "timing": [{"name": "execute", "started_at": r.started_at}],
                "message": r.message,
                "failures": r.failures,
                "adapter_response": {"_message": r.message, "rows_affected": r.rows_affected, "rows_quarantined": r.quarantined, "delta_version": r.delta_version},
                "compiled_code": r.compiled_code,
                "relation_name": r.relation_name,
                "attempts": r.attempts,
            })))
                .chain(self.hooks.iter().filter(|h| h.unique_id.contains("-on-run-end")).map(hook_json))
                .collect::<Vec<_>>(),
            "elapsed_time": self.elapsed,
            "status": self.status(),
            "args": {"which": command, "vars": args},
        })
    }
}

/// An `on-run-*` hook as dbt lists its operations in run_results.json.
fn hook_json(h: &crate::hooks::HookResult) -> serde_json::Value {
    json!({
        "unique_id": h.unique_id,
        "status": h.status.as_str(),
        "execution_time": h.execution_time,
        "thread_id": "Thread-1",
        "timing": [{"name": "execute", "started_at": h.started_at}],
        "message": h.message,
        "failures": null,
        "adapter_response": {"_message": h.message, "rows_affected": h.rows_affected},
        "compiled_code": h.compiled_code,
        "relation_name": null,
        "attempts": 1,
    })
}

/// Escape text for an XML attribute or element.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => {}
            c => out.push(c),
        }
    }
    out
}

impl RunSummary {
    /// JUnit XML for CI servers (Jenkins, GitLab): one test case per node; failed tests and
    /// errored nodes are failures/errors with the message and sample rows, skipped nodes are
    /// skipped, warnings pass with their message in system-out.
    pub fn junit_xml(&self, project: &lakeforge_project::Project) -> String {
        let count = |s: NodeStatus| self.count(s);
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        xml.push_str(&format!(
            "<testsuites name=\"lakeforge\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">\n",
            self.results.len(),
            count(NodeStatus::Fail),
            count(NodeStatus::Error),
            count(NodeStatus::Skipped),
            self.elapsed
        ));
        xml.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">\n",
            xml_escape(&project.name),
            self.results.len(),
            count(NodeStatus::Fail),
            count(NodeStatus::Error),
            count(NodeStatus::Skipped),
            self.elapsed
        ));
        for r in &self.results {
            let node = &project.nodes[&r.unique_id];
            xml.push_str(&format!(
                "    <testcase classname=\"{}.{}\" name=\"{}\" file=\"{}\" time=\"{:.3}\"",
                xml_escape(&project.name),
                node.resource_type.as_str(),
                xml_escape(&node.name),
                xml_escape(&node.path),
                r.execution_time
            ));
            let detail = match &r.sample {
                Some(s) => format!("{}\n{}", r.message, s),
                None => r.message.clone(),
            };
            match r.status {
                NodeStatus::Success | NodeStatus::Pass => xml.push_str("/>\n"),
                NodeStatus::Warn => xml.push_str(&format!(">\n      <system-out>{}</system-out>\n    </testcase>\n", xml_escape(&detail))),
                NodeStatus::Skipped => xml.push_str(&format!(">\n      <skipped message=\"{}\"/>\n    </testcase>\n", xml_escape(&r.message))),
                NodeStatus::Fail => xml.push_str(&format!(
                    ">\n      <failure message=\"{}\" type=\"test failure\">{}</failure>\n    </testcase>\n",
                    xml_escape(r.message.lines().next().unwrap_or("")),
                    xml_escape(&detail)
                )),
                NodeStatus::Error => xml.push_str(&format!(
                    ">\n      <error message=\"{}\" type=\"error\">{}</error>\n    </testcase>\n",
                    xml_escape(r.message.lines().next().unwrap_or("")),
                    xml_escape(&detail)
                )),
            }
        }
        xml.push_str("  </testsuite>\n</testsuites>\n");
        xml
    }
}
