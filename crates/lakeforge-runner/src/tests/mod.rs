//! In-process tests of a run against a temporary project: its lake and its SQLite metadata
//! store live in a temp dir, the engine is the real one. `run.rs`: dispatch by node kind,
//! skip-on-failure, retries with backoff, timeouts, cancellation; `schedule.rs`: the tick loop
//! with a fake launcher.

mod run;
mod schedule;

use std::collections::BTreeSet;
use std::sync::Arc;

use lakeforge_engine::{Engine, Lake};
use lakeforge_meta::{MetaStore, NodeExecution};
use lakeforge_project::{LoadOptions, Node, Project};
use parking_lot::Mutex;

use crate::{Command, NodeResult, NodeStatus, Reporter, RunOptions, RunSummary};

/// A project written to a temp dir, loaded, with its engine and store open.
struct Fixture {
    dir: tempfile::TempDir,
    project: Arc<Project>,
    engine: Arc<Engine>,
    meta: MetaStore,
}

const PROJECT_YML: &str = "name: t\nmodels:\n  t:\n    +materialized: table\n";

impl Fixture {
    /// `files`: (path in the project, content); dbt_project.yml is written unless given.
    async fn new(files: &[(&str, &str)]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("dbt_project.yml", PROJECT_YML);
        for (path, text) in files {
            write(path, text);
        }
        let project = Arc::new(Project::load(dir.path(), &LoadOptions::default()).unwrap());
        let lake = Lake::open_target(&project.target).await.unwrap();
        let engine = Engine::new(lake, &project.target.schema, 2).unwrap();
        engine.register_sources(&project);
        let meta = MetaStore::open(&project.target.metadata).await.unwrap();
        Fixture {
            dir,
            project,
            engine: Arc::new(engine),
            meta,
        }
    }

    /// Run `command` over every node of the project.
    async fn run(&self, command: Command, reporter: Arc<Recorder>) -> RunSummary {
        self.run_until(command, reporter, std::future::pending())
            .await
    }

    /// Run `command` over every node of the project until `cancel` resolves.
    async fn run_until(
        &self,
        command: Command,
        reporter: Arc<Recorder>,
        cancel: impl std::future::Future<Output = ()>,
    ) -> RunSummary {
        let opts = RunOptions {
            command,
            selected: self.project.nodes.keys().cloned().collect::<BTreeSet<_>>(),
            threads: 2,
            full_refresh: false,
            changed: false,
            args: serde_json::json!({}),
        };
        crate::run_until(
            self.project.clone(),
            self.engine.clone(),
            Some(self.meta.clone()),
            opts,
            reporter,
            cancel,
        )
        .await
        .unwrap()
    }

    /// The recorded attempts of `name`'s node in run `run_id`: (attempt, status).
    async fn attempts(&self, run_id: &str, name: &str) -> Vec<(i64, String)> {
        let mut out: Vec<(i64, String)> = self
            .meta
            .node_executions(run_id)
            .await
            .unwrap()
            .into_iter()
            .filter(|e: &NodeExecution| self.project.nodes[&e.record.unique_id].name == name)
            .map(|e| (e.attempt, e.record.status))
            .collect();
        out.sort();
        out
    }
}

/// The result of the node named `name`.
fn result<'a>(summary: &'a RunSummary, project: &Project, name: &str) -> &'a NodeResult {
    summary
        .results
        .iter()
        .find(|r| project.nodes[&r.unique_id].name == name)
        .unwrap_or_else(|| panic!("no result for {name}: {:#?}", summary.results))
}

/// Called with the node and the attempt that errored, before the next attempt waits.
type RetryHook = Box<dyn Fn(&Node, u32) + Send + Sync>;

/// A reporter that keeps the retries it was told of, and can act when one is announced
/// (the test's way to change the world between two attempts).
#[derive(Default)]
struct Recorder {
    /// (node name, attempt that errored, delay before the next one).
    retries: Mutex<Vec<(String, u32, f64)>>,
    finished: Mutex<Vec<(String, NodeStatus)>>,
    on_retry: Option<RetryHook>,
}

impl Reporter for Recorder {
    fn node_finished(&self, node: &Node, result: &NodeResult, _index: usize, _total: usize) {
        self.finished
            .lock()
            .push((node.name.clone(), result.status));
    }

    fn node_retrying(&self, node: &Node, attempt: u32, _error: &str, delay_s: f64) {
        self.retries
            .lock()
            .push((node.name.clone(), attempt, delay_s));
        if let Some(f) = &self.on_retry {
            f(node, attempt);
        }
    }
}
