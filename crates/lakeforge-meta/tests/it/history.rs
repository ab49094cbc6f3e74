//! Runs, node executions with attempts, lineage, and finding a run by id, prefix or `last`.

use lakeforge_meta::{LineageEdge, MetaError, NodeRecord, RunQuery, RunStatus};

use crate::common::Db;

on_both!(
    records_runs_nodes_and_reopens,
    attempts_are_kept_apart,
    records_lineage,
    finds_runs_by_prefix_and_last,
    finds_runs_by_status_command_and_date_in_pages,
    run_status_is_checked,
    results_across_runs_keep_failures_quarantine_and_samples,
);

fn node(id: &str, status: &str, started_at: &str, message: Option<&str>) -> NodeRecord {
    NodeRecord {
        unique_id: id.into(),
        status: status.into(),
        started_at: started_at.into(),
        elapsed_s: 0.25,
        rows_affected: (status == "success").then_some(3),
        delta_version: (status == "success").then_some(7),
        sql_hash: Some("abc123".into()),
        message: message.map(str::to_string),
        ..NodeRecord::default()
    }
}

async fn records_runs_nodes_and_reopens(db: Db) {
    let store = db.open().await;
    store
        .start_run(
            "r1",
            "build",
            r#"{"select":[]}"#,
            "2026-01-01T00:00:00.000Z",
        )
        .await
        .unwrap();
    let running = store.run("r1").await.unwrap().unwrap();
    assert_eq!(running.status, "running");
    assert_eq!(running.finished_at, None);
    for n in [
        node(
            "seed.p.s",
            "success",
            "2026-01-01T00:00:00.100Z",
            Some("INSERT 3"),
        ),
        node(
            "model.p.a",
            "error",
            "2026-01-01T00:00:00.200Z",
            Some("Division by zero\nin model a"),
        ),
        node(
            "model.p.b",
            "skipped",
            "2026-01-01T00:00:00.300Z",
            Some("skipped: upstream a"),
        ),
        node(
            "test.p.t",
            "fail",
            "2026-01-01T00:00:00.400Z",
            Some("Got 2 results"),
        ),
        node(
            "test.p.u",
            "warn",
            "2026-01-01T00:00:00.500Z",
            Some("Got 1 result"),
        ),
    ] {
        store.record_node("r1", &n).await.unwrap();
    }
    store
        .finish_run("r1", "error", "2026-01-01T00:00:02.000Z", 2.0)
        .await
        .unwrap();
    store.close().await;

    let store = db.open().await;
    let runs = store.runs(10).await.unwrap();
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert_eq!(
        (r.run_id.as_str(), r.command.as_str(), r.status.as_str()),
        ("r1", "build", "error")
    );
    assert_eq!(r.args, r#"{"select":[]}"#);
    assert_eq!(r.finished_at.as_deref(), Some("2026-01-01T00:00:02.000Z"));
    assert_eq!(r.elapsed_s, Some(2.0));
    assert_eq!((r.nodes_ok, r.nodes_failed, r.nodes_skipped), (2, 2, 1));

    let nodes = store.node_executions("r1").await.unwrap();
    let ids: Vec<&str> = nodes.iter().map(|n| n.record.unique_id.as_str()).collect();
    assert_eq!(
        ids,
        ["seed.p.s", "model.p.a", "model.p.b", "test.p.t", "test.p.u"]
    );
    assert_eq!(nodes[0].record.rows_affected, Some(3));
    assert_eq!(nodes[0].record.delta_version, Some(7));
    assert_eq!(nodes[0].record.sql_hash.as_deref(), Some("abc123"));
    assert_eq!(nodes[0].record.elapsed_s, 0.25);
    assert_eq!(nodes[0].attempt, 1);
    assert_eq!(nodes[0].error, None);
    assert_eq!(
        nodes[1].error.as_deref(),
        Some("Division by zero\nin model a")
    );
    assert_eq!(nodes[2].error, None, "a skip is not an error of its own");
    assert_eq!(nodes[3].error.as_deref(), Some("Got 2 results"));
    assert_eq!(nodes[4].error, None);
    assert!(store.node_executions("nope").await.unwrap().is_empty());
}

async fn attempts_are_kept_apart(db: Db) {
    let store = db.open().await;
    store
        .start_run("r1", "run", "{}", "2026-01-01T00:00:00.000Z")
        .await
        .unwrap();
    let failed = node(
        "model.p.a",
        "error",
        "2026-01-01T00:00:01.000Z",
        Some("timeout"),
    );
    let ok = node("model.p.a", "success", "2026-01-01T00:00:02.000Z", None);
    store.record_node_attempt("r1", 1, &failed).await.unwrap();
    store.record_node_attempt("r1", 2, &ok).await.unwrap();
    // Recording an attempt again replaces it.
    store.record_node_attempt("r1", 2, &ok).await.unwrap();
    let nodes = store.node_executions("r1").await.unwrap();
    let seen: Vec<(i64, &str)> = nodes
        .iter()
        .map(|n| (n.attempt, n.record.status.as_str()))
        .collect();
    assert_eq!(seen, [(1, "error"), (2, "success")]);
    // The run's counts follow each node's latest attempt.
    let run = store.run("r1").await.unwrap().unwrap();
    assert_eq!((run.nodes_ok, run.nodes_failed), (1, 0));
}

async fn records_lineage(db: Db) {
    let store = db.open().await;
    store
        .start_run("r1", "build", "{}", "2026-01-01T00:00:00.000Z")
        .await
        .unwrap();
    let edges = [
        LineageEdge {
            upstream: "seed.p.people".into(),
            upstream_relation: Some("main.people".into()),
            upstream_version: Some(4),
        },
        LineageEdge {
            upstream: "model.p.stg_events".into(),
            upstream_relation: Some("main.stg_events".into()),
            upstream_version: None,
        },
    ];
    store
        .record_lineage("r1", "model.p.totals", 1, &edges)
        .await
        .unwrap();
    // Again, with a version now known: replaced, not duplicated.
    let mut again = edges[1].clone();
    again.upstream_version = Some(9);
    store
        .record_lineage("r1", "model.p.totals", 1, std::slice::from_ref(&again))
        .await
        .unwrap();
    let got = store.lineage("r1").await.unwrap();
    assert_eq!(got.len(), 2);
    assert!(
        got.iter()
            .all(|l| l.unique_id == "model.p.totals" && l.attempt == 1)
    );
    assert_eq!(got[0].edge, again);
    assert_eq!(got[1].edge, edges[0]);
    // Lineage belongs to a recorded run.
    assert!(
        store
            .record_lineage("no-run", "model.p.x", 1, &edges)
            .await
            .is_err()
    );
    assert!(store.lineage("no-run").await.unwrap().is_empty());
}

async fn finds_runs_by_prefix_and_last(db: Db) {
    let store = db.open().await;
    for (id, at) in [
        ("20260101T000000000Z-11", "2026-01-01T00:00:00.000Z"),
        ("20260102T000000000Z-22", "2026-01-02T00:00:00.000Z"),
        ("20260102T000000000Z-23", "2026-01-02T00:00:00.000Z"),
    ] {
        store.start_run(id, "build", "{}", at).await.unwrap();
    }
    let ids = |runs: Vec<lakeforge_meta::RunRecord>| {
        runs.into_iter().map(|r| r.run_id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.runs(10).await.unwrap()),
        [
            "20260102T000000000Z-23",
            "20260102T000000000Z-22",
            "20260101T000000000Z-11"
        ]
    );
    assert_eq!(
        ids(store.runs(1).await.unwrap()),
        ["20260102T000000000Z-23"]
    );
    assert_eq!(
        store.resolve_run("last").await.unwrap().run_id,
        "20260102T000000000Z-23"
    );
    assert_eq!(
        store.resolve_run("20260101").await.unwrap().run_id,
        "20260101T000000000Z-11"
    );
    assert_eq!(
        store
            .resolve_run("20260102T000000000Z-22")
            .await
            .unwrap()
            .run_id,
        "20260102T000000000Z-22"
    );
    match store.resolve_run("20260102").await {
        Err(e @ MetaError::AmbiguousRun { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("20260102T000000000Z-22"), "{msg}");
            assert!(msg.contains("hint:"), "{msg}");
        }
        other => panic!("expected an ambiguous id, got {other:?}"),
    }
    // `%` and `_` are not wildcards in a prefix.
    for spec in ["2027", "%", "_0260101", "x"] {
        match store.resolve_run(spec).await {
            Err(e @ MetaError::RunNotFound { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("hint:") && msg.contains(spec), "{msg}");
            }
            other => panic!("expected no run for {spec}, got {other:?}"),
        }
    }
}

async fn finds_runs_by_status_command_and_date_in_pages(db: Db) {
    let store = db.open().await;
    for (id, command, at, status) in [
        ("a", "build", "2026-01-01T10:00:00.000Z", Some("success")),
        ("b", "run", "2026-01-01T23:59:59.999Z", Some("error")),
        ("c", "build", "2026-01-02T00:00:00.000Z", Some("error")),
        ("d", "test", "2026-01-03T08:00:00.000Z", None),
    ] {
        store.start_run(id, command, "{}", at).await.unwrap();
        if let Some(s) = status {
            store.finish_run(id, s, at, 1.0).await.unwrap();
        }
    }
    let find = |q: RunQuery, limit, offset| {
        let store = store.clone();
        async move {
            let page = store.find_runs(&q, limit, offset).await.unwrap();
            let ids: Vec<String> = page.runs.into_iter().map(|r| r.run_id).collect();
            (ids, page.total)
        }
    };
    assert_eq!(
        find(RunQuery::default(), 2, 0).await,
        (vec!["d".into(), "c".into()], 4)
    );
    assert_eq!(
        find(RunQuery::default(), 2, 2).await,
        (vec!["b".into(), "a".into()], 4)
    );
    assert_eq!(find(RunQuery::default(), 2, 4).await, (vec![], 4));
    let errors = RunQuery {
        status: Some(RunStatus::Error),
        ..RunQuery::default()
    };
    assert_eq!(
        find(errors.clone(), 10, 0).await,
        (vec!["c".into(), "b".into()], 2)
    );
    let built_with_errors = RunQuery {
        command: Some("build".into()),
        ..errors
    };
    assert_eq!(find(built_with_errors, 10, 0).await, (vec!["c".into()], 1));
    // A day's range: from its first moment, before the next day's.
    let first_day = RunQuery {
        started_from: Some("2026-01-01".into()),
        started_before: Some("2026-01-02".into()),
        ..RunQuery::default()
    };
    assert_eq!(
        find(first_day, 10, 0).await,
        (vec!["b".into(), "a".into()], 2)
    );
    let running = RunQuery {
        status: Some(RunStatus::Running),
        started_from: Some("2026-01-02".into()),
        ..RunQuery::default()
    };
    assert_eq!(find(running, 10, 0).await, (vec!["d".into()], 1));
}

async fn run_status_is_checked(db: Db) {
    let store = db.open().await;
    store
        .start_run("r1", "build", "{}", "2026-01-01T00:00:00.000Z")
        .await
        .unwrap();
    store
        .finish_run("r1", "cancelled", "2026-01-01T00:00:01.000Z", 1.0)
        .await
        .unwrap();
    assert_eq!(store.resolve_run("r1").await.unwrap().status, "cancelled");
    let err = store
        .finish_run("r1", "exploded", "2026-01-01T00:00:01.000Z", 1.0)
        .await
        .unwrap_err();
    assert!(matches!(err, MetaError::InvalidStatus { .. }), "{err}");
    assert!(err.to_string().contains("cancelled"), "{err}");
}

/// A test's failures and sample and a model's quarantine count are kept, and read back across
/// runs: by id prefix, by node, and the runs that quarantined rows.
async fn results_across_runs_keep_failures_quarantine_and_samples(db: Db) {
    let store = db.open().await;
    let test = |status: &str, at: &str, failures: i64| NodeRecord {
        failures: Some(failures),
        sample: (failures > 0).then(|| "+----+\n| id |\n+----+\n| 7  |\n+----+".to_string()),
        ..node("test.p.t", status, at, Some("Got some results"))
    };
    // r1: the test fails, then passes on a retry; r2 runs models only, one quarantining rows;
    // r3: the test fails with 3 failures; r4 runs nothing of interest (a seed).
    store
        .start_run("r1", "build", "{}", "2026-01-01T00:00:00.000Z")
        .await
        .unwrap();
    store
        .record_node_attempt("r1", 1, &test("fail", "2026-01-01T00:00:01.000Z", 2))
        .await
        .unwrap();
    store
        .record_node_attempt("r1", 2, &test("pass", "2026-01-01T00:00:02.000Z", 0))
        .await
        .unwrap();
    store
        .start_run("r2", "run", "{}", "2026-01-02T00:00:00.000Z")
        .await
        .unwrap();
    let quarantining = NodeRecord {
        quarantined: Some(4),
        ..node("model.p.q", "success", "2026-01-02T00:00:01.000Z", None)
    };
    store.record_node("r2", &quarantining).await.unwrap();
    store
        .record_node(
            "r2",
            &node("model.p.a", "success", "2026-01-02T00:00:02.000Z", None),
        )
        .await
        .unwrap();
    store
        .start_run("r3", "test", "{}", "2026-01-03T00:00:00.000Z")
        .await
        .unwrap();
    store
        .record_node("r3", &test("fail", "2026-01-03T00:00:01.000Z", 3))
        .await
        .unwrap();
    store
        .record_node(
            "r3",
            &node("test.p.u", "pass", "2026-01-03T00:00:02.000Z", None),
        )
        .await
        .unwrap();
    store
        .start_run("r4", "seed", "{}", "2026-01-04T00:00:00.000Z")
        .await
        .unwrap();
    store
        .record_node(
            "r4",
            &node("seed.p.s", "success", "2026-01-04T00:00:01.000Z", None),
        )
        .await
        .unwrap();

    let tests = store.results_by_prefix("test.", 10).await.unwrap();
    let seen: Vec<(&str, &str, &str, i64, Option<i64>)> = tests
        .iter()
        .map(|r| {
            let e = &r.execution;
            (
                r.run_id.as_str(),
                e.record.unique_id.as_str(),
                e.record.status.as_str(),
                e.attempt,
                e.record.failures,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("r3", "test.p.t", "fail", 1, Some(3)),
            ("r3", "test.p.u", "pass", 1, None),
            ("r1", "test.p.t", "pass", 2, Some(0)),
        ]
    );
    assert_eq!(tests[0].command, "test");
    assert_eq!(tests[0].run_started_at, "2026-01-03T00:00:00.000Z");
    assert!(
        tests[0]
            .execution
            .record
            .sample
            .as_deref()
            .unwrap()
            .contains("| 7  |")
    );
    assert_eq!(tests[2].execution.record.sample, None);
    // Only the latest run that ran tests, when asked for one.
    let latest = store.results_by_prefix("test.", 1).await.unwrap();
    assert!(latest.iter().all(|r| r.run_id == "r3") && latest.len() == 2);

    let history = store.node_history("test.p.t", 10).await.unwrap();
    let runs: Vec<&str> = history.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(runs, ["r3", "r1"]);
    assert!(
        store
            .node_history("test.p.none", 10)
            .await
            .unwrap()
            .is_empty()
    );

    let quarantine = store.quarantine_results(10).await.unwrap();
    assert_eq!(quarantine.len(), 1);
    assert_eq!(quarantine[0].run_id, "r2");
    assert_eq!(quarantine[0].execution.record.unique_id, "model.p.q");
    assert_eq!(quarantine[0].execution.record.quarantined, Some(4));
}
