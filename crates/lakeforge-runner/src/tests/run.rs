//! A run's scheduling and dispatch, end to end in one process.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lakeforge_project::Relation;

use super::{Fixture, Recorder, result};
use crate::{Command, NodeStatus};

const KINDS: &[(&str, &str)] = &[
    ("seeds/people.csv", "id,name\n1,a\n2,b\n3,c\n"),
    (
        "models/people_v.sql",
        "{{ config(materialized='view') }}\nselect * from {{ ref('people') }}",
    ),
    (
        "models/counts.sql",
        "select count(*) as n from {{ ref('people') }}",
    ),
    (
        "models/schema.yml",
        r#"
version: 2
models:
  - name: people_v
    columns:
      - name: id
        tests: [not_null, unique]
      - name: name
        tests: [not_null]
unit_tests:
  - name: counts_rows
    model: counts
    given:
      - input: ref('people')
        rows:
          - {id: 1, name: a}
          - {id: 2, name: b}
    expect:
      rows:
        - {n: 2}
"#,
    ),
    (
        "tests/no_empty_names.sql",
        "select * from {{ ref('people') }} where name = ''",
    ),
];

/// Statuses by node kind: `kind → [status...]`, sorted.
fn by_kind(f: &Fixture, summary: &crate::RunSummary) -> BTreeMap<&'static str, Vec<NodeStatus>> {
    let mut out: BTreeMap<&'static str, Vec<NodeStatus>> = BTreeMap::new();
    for r in &summary.results {
        let kind = f.project.nodes[&r.unique_id].resource_type.as_str();
        out.entry(kind).or_default().push(r.status);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_node_runs_as_its_kind() {
    let f = Fixture::new(KINDS).await;
    let summary = f.run(Command::Build, Arc::default()).await;
    use NodeStatus::{Pass, Success};
    assert_eq!(
        by_kind(&f, &summary),
        BTreeMap::from([
            ("seed", vec![Success]),
            ("model", vec![Success, Success]),
            ("test", vec![Pass, Pass, Pass, Pass]),
            ("unit_test", vec![Pass]),
        ]),
        "{:#?}",
        summary.results
    );
    assert!(summary.success());
    assert_eq!(
        result(&summary, &f.project, "people").rows_affected,
        Some(3)
    );
    assert_eq!(
        f.engine.table_version(&relation(&f, "counts")).await,
        result(&summary, &f.project, "counts").delta_version
    );
    // A data test's compiled SQL is kept; a unit test's is its own plan.
    assert!(
        result(&summary, &f.project, "no_empty_names")
            .compiled_code
            .is_some()
    );
    let run_results = f.dir.path().join("target/run_results.json");
    let run_results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_results).unwrap()).unwrap();
    assert_eq!(run_results["results"].as_array().unwrap().len(), 8);
    assert_eq!(run_results["status"], "success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compile_compiles_every_kind_and_writes_nothing() {
    let f = Fixture::new(KINDS).await;
    let summary = f.run(Command::Compile, Arc::default()).await;
    for r in &summary.results {
        let node = &f.project.nodes[&r.unique_id];
        let expected = match node.resource_type.as_str() {
            "seed" => "seed",
            _ => "compiled",
        };
        assert_eq!(
            (r.status, r.message.as_str()),
            (NodeStatus::Success, expected),
            "{r:?}"
        );
    }
    assert_eq!(summary.results.len(), 8);
    assert_eq!(f.engine.table_version(&relation(&f, "people")).await, None);
    assert!(f.dir.path().join("target/manifest.json").exists());
    assert!(!f.dir.path().join("target/run_results.json").exists());
}

fn relation(f: &Fixture, name: &str) -> Relation {
    f.project
        .nodes
        .values()
        .find(|n| n.name == name)
        .unwrap()
        .relation
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_sits_downstream_of_a_failure_is_skipped() {
    let f = Fixture::new(&[
        ("models/bad.sql", "select * from no_such_table"),
        ("models/child.sql", "select * from {{ ref('bad') }}"),
        ("models/grandchild.sql", "select * from {{ ref('child') }}"),
        ("models/fine.sql", "select 1 as x"),
        // A failing error-severity test stops its model's children in `build`.
        ("models/nulls.sql", "select cast(null as int) as v"),
        ("models/after_nulls.sql", "select * from {{ ref('nulls') }}"),
        (
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: nulls\n    columns:\n      - name: v\n        tests: [not_null]\n",
        ),
    ])
    .await;
    let summary = f.run(Command::Build, Arc::default()).await;
    let status = |name| result(&summary, &f.project, name).status;
    let message = |name| result(&summary, &f.project, name).message.clone();
    assert_eq!(status("bad"), NodeStatus::Error);
    assert!(
        message("bad").contains("no_such_table"),
        "{}",
        message("bad")
    );
    assert_eq!(status("child"), NodeStatus::Skipped);
    assert_eq!(message("child"), "skipped: upstream bad did not succeed");
    assert_eq!(status("grandchild"), NodeStatus::Skipped);
    assert_eq!(
        message("grandchild"),
        "skipped: upstream child did not succeed"
    );
    assert_eq!(status("fine"), NodeStatus::Success);
    assert_eq!(status("nulls"), NodeStatus::Success);
    assert_eq!(status("not_null_nulls_v"), NodeStatus::Fail);
    assert_eq!(
        message("not_null_nulls_v"),
        "Got 1 result, configured to fail if != 0"
    );
    assert_eq!(status("after_nulls"), NodeStatus::Skipped);
    assert!(!summary.success());
    // Every node is recorded, the skipped ones too, and the run as failed.
    let executions = f.meta.node_executions(&summary.run_id).await.unwrap();
    assert_eq!(executions.len(), 7);
    // The failing test's count and sample rows are recorded with it, for the UI.
    let test = executions
        .iter()
        .find(|e| f.project.nodes[&e.record.unique_id].name == "not_null_nulls_v")
        .unwrap();
    assert_eq!(test.record.failures, Some(1));
    let sample = test.record.sample.as_deref().unwrap_or_default();
    assert!(sample.contains("| v |"), "{sample}");
    let model = executions
        .iter()
        .find(|e| f.project.nodes[&e.record.unique_id].name == "fine")
        .unwrap();
    assert_eq!(
        (model.record.failures, model.record.quarantined),
        (None, None)
    );
    let run = f.meta.run(&summary.run_id).await.unwrap().unwrap();
    assert_eq!(run.status, "error");
    assert_eq!(
        f.engine.table_version(&relation(&f, "after_nulls")).await,
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erroring_node_is_retried_with_backoff_until_it_succeeds() {
    let f = Fixture::new(&[
        ("seeds/events_src.csv", "id,kind\n1,a\n2,b\n3,c\n"),
        (
            "models/sources.yml",
            "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: events\n",
        ),
        (
            "models/late.sql",
            "{{ config(retries=3, retry_delay=0.05) }}\nselect id, kind from {{ source('raw', 'events') }}",
        ),
    ])
    .await;
    f.run(Command::Seed, Arc::default()).await;
    let lake = f.dir.path().join("lake");
    // The source table lands while the run waits for the third attempt.
    let reporter = Arc::new(Recorder {
        on_retry: Some(Box::new(move |_, attempt| {
            if attempt == 2 {
                std::fs::create_dir_all(lake.join("raw")).unwrap();
                std::fs::rename(lake.join("main/events_src"), lake.join("raw/events")).unwrap();
            }
        })),
        ..Recorder::default()
    });
    let summary = f.run(Command::Run, reporter.clone()).await;
    let late = result(&summary, &f.project, "late");
    assert_eq!(
        (late.status, late.attempts),
        (NodeStatus::Success, 3),
        "{late:?}"
    );
    assert_eq!(late.rows_affected, Some(3));
    // Exponential backoff: each wait doubles the one before.
    assert_eq!(
        *reporter.retries.lock(),
        vec![("late".to_string(), 1, 0.05), ("late".to_string(), 2, 0.1)]
    );
    assert_eq!(
        f.attempts(&summary.run_id, "late").await,
        vec![
            (1, "error".to_string()),
            (2, "error".to_string()),
            (3, "success".to_string())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_stop_after_the_configured_count() {
    let f = Fixture::new(&[
        (
            "models/never.sql",
            "{{ config(retries=2, retry_delay=0.01) }}\nselect * from no_such_table",
        ),
        ("models/after.sql", "select * from {{ ref('never') }}"),
    ])
    .await;
    let reporter = Arc::new(Recorder::default());
    let summary = f.run(Command::Run, reporter.clone()).await;
    let never = result(&summary, &f.project, "never");
    assert_eq!((never.status, never.attempts), (NodeStatus::Error, 3));
    assert_eq!(reporter.retries.lock().len(), 2);
    assert_eq!(
        result(&summary, &f.project, "after").status,
        NodeStatus::Skipped
    );
    assert_eq!(
        f.attempts(&summary.run_id, "never").await,
        vec![
            (1, "error".to_string()),
            (2, "error".to_string()),
            (3, "error".to_string())
        ]
    );
    // The reporter heard of each node once, when it was done.
    assert_eq!(
        *reporter.finished.lock(),
        vec![
            ("never".to_string(), NodeStatus::Error),
            ("after".to_string(), NodeStatus::Skipped)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_past_its_timeout_errors_and_writes_nothing() {
    let f = Fixture::new(&[
        (
            "models/timed.sql",
            "{{ config(timeout='0.3s') }}\nselect count(*) as n from range(0, 4000000000)",
        ),
        ("models/quick.sql", "select 1 as x"),
    ])
    .await;
    let started = Instant::now();
    let summary = f.run(Command::Run, Arc::default()).await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the timeout stopped the query"
    );
    let timed = result(&summary, &f.project, "timed");
    assert_eq!(timed.status, NodeStatus::Error);
    assert_eq!(
        timed.message,
        "timed out after 0.3s (config `timeout`); nothing was written"
    );
    assert_eq!(
        result(&summary, &f.project, "quick").status,
        NodeStatus::Success
    );
    assert!(!f.dir.path().join("lake/main/timed/_delta_log").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_stops_what_runs_and_starts_nothing_more() {
    let f = Fixture::new(&[
        (
            "models/slow.sql",
            "select count(*) as n from range(0, 4000000000)",
        ),
        (
            "models/after_slow.sql",
            "select n + 1 as m from {{ ref('slow') }}",
        ),
    ])
    .await;
    let started = Instant::now();
    let cancel = tokio::time::sleep(Duration::from_millis(300));
    let summary = f.run_until(Command::Run, Arc::default(), cancel).await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the cancel stopped the query"
    );
    assert!(summary.cancelled);
    let slow = result(&summary, &f.project, "slow");
    assert_eq!(
        (slow.status, slow.message.as_str()),
        (NodeStatus::Error, "cancelled while running")
    );
    let after = result(&summary, &f.project, "after_slow");
    assert_eq!(
        (after.status, after.message.as_str()),
        (NodeStatus::Skipped, "cancelled before it started")
    );
    let run = f.meta.run(&summary.run_id).await.unwrap().unwrap();
    assert_eq!(run.status, "cancelled");
    assert!(!f.dir.path().join("lake/main/slow/_delta_log").exists());
}

/// A node's start is in the store while it runs (for the UI's live timeline), and its end
/// replaces that row: here the run is cancelled as soon as the store shows the node running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_is_in_the_store_as_running_while_it_runs() {
    let f = Fixture::new(&[(
        "models/slow.sql",
        "select count(*) as n from range(0, 4000000000)",
    )])
    .await;
    let seen = Arc::new(parking_lot::Mutex::new(None));
    let watch = {
        let meta = f.meta.clone();
        let seen = seen.clone();
        async move {
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(30) {
                if let Some(run) = meta.runs(1).await.unwrap().into_iter().next() {
                    let executions = meta.node_executions(&run.run_id).await.unwrap();
                    if let Some(e) = executions
                        .into_iter()
                        .find(|e| e.record.status == "running")
                    {
                        *seen.lock() = Some(e);
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let summary = f.run_until(Command::Run, Arc::default(), watch).await;
    let running = seen
        .lock()
        .clone()
        .expect("the store never showed the node running");
    assert_eq!(
        (
            running.record.unique_id.as_str(),
            running.attempt,
            running.record.elapsed_s
        ),
        ("model.t.slow", 1, 0.0)
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(&running.record.started_at).is_ok(),
        "{}",
        running.record.started_at
    );
    assert!(summary.cancelled);
    assert_eq!(
        f.attempts(&summary.run_id, "slow").await,
        vec![(1, "error".to_string())]
    );
}
