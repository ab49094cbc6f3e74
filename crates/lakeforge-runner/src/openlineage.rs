//! OpenLineage run events (the open standard that Marquez, DataHub, Atlan and others read):
//! a START when a node begins and a COMPLETE, FAIL or ABORT when it ends, each naming the
//! node's input and output tables with the Delta versions read and written, under a parent
//! run for the whole `lakeforge` command. Events go to a file of JSON lines and/or are POSTed
//! to an HTTP endpoint; a transport failure is reported once and never fails the run.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use lakeforge_project::settings::OpenLineageConfig;
use lakeforge_project::{Materialization, Node, Project, ResourceType};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::plan::Command;
use crate::results::{NodeResult, NodeStatus, RunSummary};
use crate::scheduler::Reporter;

const SCHEMA_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
const PARENT_FACET: &str =
    "https://openlineage.io/spec/facets/1-0-1/ParentRunFacet.json#/$defs/ParentRunFacet";
const ERROR_FACET: &str = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet";
const VERSION_FACET: &str = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet";

fn producer() -> String {
    format!(
        "https://github.com/lakeforge/lakeforge/tree/v{}",
        env!("CARGO_PKG_VERSION")
    )
}

/// Wraps the reporter that prints progress and sends OpenLineage events beside it.
pub struct OpenLineageReporter {
    inner: Arc<dyn Reporter>,
    project: Arc<Project>,
    command: Command,
    namespace: String,
    datasets: String,
    parent_run: String,
    node_runs: Mutex<HashMap<String, String>>,
    file: Option<Mutex<std::fs::File>>,
    post: Mutex<Option<mpsc::UnboundedSender<Value>>>,
    poster: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl OpenLineageReporter {
    /// Open the transports of `config`; the events of one run of `command`.
    pub fn new(
        inner: Arc<dyn Reporter>,
        project: Arc<Project>,
        command: Command,
        config: &OpenLineageConfig,
    ) -> std::io::Result<OpenLineageReporter> {
        let file = match &config.file {
            Some(path) => {
                if let Some(dir) = std::path::Path::new(path).parent() {
                    std::fs::create_dir_all(dir)?;
                }
                Some(Mutex::new(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)?,
                ))
            }
            None => None,
        };
        let (post, poster) = match &config.url {
            Some(url) => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Some(tx), Some(tokio::spawn(post_events(url.clone(), rx))))
            }
            None => (None, None),
        };
        let lake = &project.target.lake;
        let datasets = if lake.contains("://") {
            lake.clone()
        } else {
            format!("file://{lake}")
        };
        Ok(OpenLineageReporter {
            inner,
            namespace: config
                .namespace
                .clone()
                .unwrap_or_else(|| project.name.clone()),
            project,
            command,
            datasets,
            parent_run: uuid::Uuid::new_v4().to_string(),
            node_runs: Mutex::new(HashMap::new()),
            file,
            post: Mutex::new(post),
            poster: Mutex::new(poster),
        })
    }

    /// Wait until every event was POSTed (call after the run; at most 10 seconds).
    pub async fn close(&self) {
        // Dropping the sender ends the poster once it has sent what is queued.
        drop(self.post.lock().take());
        let handle = self.poster.lock().take();
        if let Some(h) = handle {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), h).await;
        }
    }

    fn emit(&self, event: Value) {
        if let Some(f) = &self.file {
            let mut f = f.lock();
            if let Err(e) = writeln!(f, "{event}") {
                eprintln!("warning: could not write an OpenLineage event: {e}");
            }
        }
        if let Some(tx) = self.post.lock().as_ref() {
            let _ = tx.send(event);
        }
    }

    fn event(
        &self,
        event_type: &str,
        run_id: &str,
        job: &str,
        run_facets: Value,
        inputs: Vec<Value>,
        outputs: Vec<Value>,
    ) -> Value {
        json!({
            "eventType": event_type,
            "eventTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "producer": producer(),
            "schemaURL": SCHEMA_URL,
            "run": {"runId": run_id, "facets": run_facets},
            "job": {"namespace": self.namespace, "name": job, "facets": {}},
            "inputs": inputs,
            "outputs": outputs,
        })
    }

    fn parent_job(&self) -> String {
        format!("{}.{}", self.project.name, self.command.as_str())
    }

    fn dataset(&self, relation: &str, version: Option<i64>) -> Value {
        let mut facets = json!({});
        if let Some(v) = version {
            facets["version"] = json!({
                "_producer": producer(),
                "_schemaURL": VERSION_FACET,
                "datasetVersion": v.to_string(),
            });
        }
        json!({"namespace": self.datasets, "name": relation, "facets": facets})
    }

    /// The relation a node or source id reads from; None for ephemeral models and tests.
    fn relation_of(&self, id: &str) -> Option<String> {
        match self.project.nodes.get(id) {
            Some(n)
                if n.config.materialized == Materialization::Ephemeral
                    || matches!(n.resource_type, ResourceType::Test | ResourceType::UnitTest) =>
            {
                None
            }
            Some(n) => Some(n.relation.to_string()),
            None => self.project.sources.get(id).map(|s| s.relation.to_string()),
        }
    }

    fn outputs(&self, node: &Node, version: Option<i64>) -> Vec<Value> {
        self.relation_of(&node.unique_id)
            .map(|r| vec![self.dataset(&r, version)])
            .unwrap_or_default()
    }

    fn parent_facets(&self) -> Value {
        json!({"parent": {
            "_producer": producer(),
            "_schemaURL": PARENT_FACET,
            "run": {"runId": self.parent_run},
            "job": {"namespace": self.namespace, "name": self.parent_job()},
        }})
    }
}

impl Reporter for OpenLineageReporter {
    fn run_started(&self, total: usize) {
        self.emit(self.event(
            "START",
            &self.parent_run,
            &self.parent_job(),
            json!({}),
            vec![],
            vec![],
        ));
        self.inner.run_started(total);
    }

    fn node_started(&self, node: &Node, index: usize, total: usize) {
        let run_id = uuid::Uuid::new_v4().to_string();
        self.node_runs
            .lock()
            .insert(node.unique_id.clone(), run_id.clone());
        let inputs = node
            .depends_on
            .iter()
            .filter_map(|d| self.relation_of(d))
            .map(|r| self.dataset(&r, None))
            .collect();
        self.emit(self.event(
            "START",
            &run_id,
            &node.unique_id,
            self.parent_facets(),
            inputs,
            self.outputs(node, None),
        ));
        self.inner.node_started(node, index, total);
    }

    fn node_retrying(&self, node: &Node, attempt: u32, error: &str, delay_s: f64) {
        self.inner.node_retrying(node, attempt, error, delay_s);
    }

    fn hook_finished(&self, hook: &crate::hooks::HookResult) {
        self.inner.hook_finished(hook);
    }

    fn node_finished(&self, node: &Node, r: &NodeResult, index: usize, total: usize) {
        // Skipped nodes never started: they have no run to end.
        if let Some(run_id) = self.node_runs.lock().remove(&node.unique_id) {
            let (event_type, mut facets) = match r.status {
                NodeStatus::Success | NodeStatus::Pass | NodeStatus::Warn => {
                    ("COMPLETE", self.parent_facets())
                }
                NodeStatus::Skipped => ("ABORT", self.parent_facets()),
                NodeStatus::Error | NodeStatus::Fail => ("FAIL", self.parent_facets()),
            };
            if event_type == "FAIL" {
                facets["errorMessage"] = json!({
                    "_producer": producer(),
                    "_schemaURL": ERROR_FACET,
                    "message": r.message,
                    "programmingLanguage": "SQL",
                });
            }
            let inputs = r
                .upstream
                .iter()
                .filter_map(|e| {
                    let rel = e.upstream_relation.clone()?;
                    Some(self.dataset(&rel, e.upstream_version))
                })
                .collect();
            let outputs = if event_type == "COMPLETE" {
                self.outputs(node, r.delta_version)
            } else {
                vec![]
            };
            self.emit(self.event(
                event_type,
                &run_id,
                &node.unique_id,
                facets,
                inputs,
                outputs,
            ));
        }
        self.inner.node_finished(node, r, index, total);
    }

    fn run_finished(&self, summary: &RunSummary) {
        let event_type = match summary.status() {
            "success" => "COMPLETE",
            "cancelled" => "ABORT",
            _ => "FAIL",
        };
        self.emit(self.event(
            event_type,
            &self.parent_run,
            &self.parent_job(),
            json!({}),
            vec![],
            vec![],
        ));
        self.inner.run_finished(summary);
    }
}

/// POST each event in order; report the first failure and keep going quietly.
async fn post_events(url: String, mut rx: mpsc::UnboundedReceiver<Value>) {
    let client = reqwest::Client::new();
    let key = std::env::var("OPENLINEAGE_API_KEY").ok();
    let mut warned = false;
    while let Some(event) = rx.recv().await {
        let mut req = client
            .post(&url)
            .header("content-type", "application/json")
            .body(event.to_string())
            .timeout(std::time::Duration::from_secs(10));
        if let Some(k) = &key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        let outcome = match req.send().await {
            Ok(resp) if resp.status().is_success() => Ok(()),
            Ok(resp) => Err(format!("HTTP {}", resp.status())),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = outcome
            && !warned
        {
            warned = true;
            eprintln!("warning: OpenLineage events could not be sent to {url}: {e}");
        }
    }
}
