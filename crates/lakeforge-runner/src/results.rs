//! Results of a run: one per executed node, and `target/run_results.json` in the shape dbt
//! writes, so tooling built for dbt reads ours.

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
    /// Tests: a few failing rows, formatted as a table.
    pub sample: Option<String>,
    pub compiled_code: Option<String>,
    pub relation_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_id: String,
    pub results: Vec<NodeResult>,
    pub elapsed: f64,
}

impl RunSummary {
    pub fn count(&self, status: NodeStatus) -> usize {
        self.results.iter().filter(|r| r.status == status).count()
    }

    /// A run fails when any node errored or any error-severity test failed.
    pub fn success(&self) -> bool {
        self.count(NodeStatus::Error) == 0 && self.count(NodeStatus::Fail) == 0
    }

    pub fn run_results_json(&self, command: &str, args: &serde_json::Value) -> serde_json::Value {
        json!({
            "metadata": {
                "dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json",
                "generator": "lakeforge",
                "generator_version": env!("CARGO_PKG_VERSION"),
                "invocation_id": self.run_id,
            },
            "results": self.results.iter().map(|r| json!({
                "unique_id": r.unique_id,
                "status": r.status.as_str(),
                "execution_time": r.execution_time,
                "thread_id": "Thread-1",
                "timing": [{"name": "execute", "started_at": r.started_at}],
                "message": r.message,
                "failures": r.failures,
                "adapter_response": {"_message": r.message, "rows_affected": r.rows_affected, "delta_version": r.delta_version},
                "compiled_code": r.compiled_code,
                "relation_name": r.relation_name,
            })).collect::<Vec<_>>(),
            "elapsed_time": self.elapsed,
            "args": {"which": command, "vars": args},
        })
    }
}
