//! The data-quality API and pages over a project in a temporary folder (a model with generic
//! tests on two columns, a singular test storing its failures, a source with a freshness
//! policy), runs recorded through the store's API on top of the shared fixture's, the failures
//! table written to a real Delta lake by lakeforge-engine's own test runner, the compiled SQL
//! and `target/sources.json` where the CLI writes them.

use std::sync::Arc;

use axum::http::StatusCode;
use lakeforge_engine::{Engine, Lake};
use lakeforge_meta::NodeRecord;
use lakeforge_project::{CompileContext, LoadOptions, Project};
use lakeforge_ui::{ProjectGraph, UiOptions, UiState};
use serde_json::{Value, json};

use super::{Fixture, content_type, get, get_json, node, send, text};

const MARKUP: &str = "<b onmouseover=alert(1)>x</b>";

fn write_project(dir: &std::path::Path) {
    let files = [
        ("dbt_project.yml", "name: shop\n"),
        ("models/orders.sql", "select 1 as id, 'a' as status\n"),
        (
            "models/schema.yml",
            "version: 2\n\
             sources:\n  - name: app\n    loaded_at_field: at\n    freshness:\n      warn_after: {count: 12, period: hour}\n    tables:\n      - name: events\n      - name: users\n        freshness: null\n\
             models:\n  - name: orders\n    config:\n      quarantine: true\n    columns:\n      - name: id\n        data_tests: [not_null, unique]\n      - name: status\n        data_tests:\n          - accepted_values:\n              arguments: {values: [a, b]}\n",
        ),
        (
            "tests/assert_small.sql",
            "{{ config(store_failures=true) }}\nselect id from {{ ref('orders') }} where id < 0\n",
        ),
    ];
    for (path, content) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

struct Shop {
    _dir: tempfile::TempDir,
    fixture: Fixture,
    project: Arc<Project>,
    state: Arc<UiState>,
}

/// The unique id of the project's node named `name`.
fn id(project: &Project, name: &str) -> String {
    project
        .nodes
        .values()
        .find(|n| n.name == name)
        .unwrap_or_else(|| panic!("no node {name}"))
        .unique_id
        .clone()
}

fn test_result(
    id: &str,
    status: &str,
    at: &str,
    failures: i64,
    sample: Option<&str>,
) -> NodeRecord {
    NodeRecord {
        failures: Some(failures),
        sample: sample.map(str::to_string),
        ..node(id, status, at, 0.1, Some("Got some results"))
    }
}

/// The project, two runs of its tests (`q1` then `q2`, after the fixture's runs), the
/// singular test's failures stored in the lake, its compiled SQL, a freshness check.
async fn shop() -> Shop {
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path());
    let project = Arc::new(Project::load(dir.path(), &LoadOptions::default()).unwrap());
    let fixture = Fixture::new().await;
    let s = &fixture.store;
    let (not_null, unique, small) = (
        id(&project, "not_null_orders_id"),
        id(&project, "unique_orders_id"),
        id(&project, "assert_small"),
    );
    let table = "+----+\n| id |\n+----+\n| 1  |\n+----+";
    s.start_run("q1", "build", "{}", "2026-01-04T08:00:00.000Z")
        .await
        .unwrap();
    for n in [
        NodeRecord {
            quarantined: Some(2),
            ..node(
                "model.shop.orders",
                "success",
                "2026-01-04T08:00:00.100Z",
                0.2,
                None,
            )
        },
        test_result(&not_null, "pass", "2026-01-04T08:00:01.000Z", 0, None),
        test_result(&unique, "fail", "2026-01-04T08:00:01.100Z", 2, Some(table)),
        test_result(&small, "pass", "2026-01-04T08:00:01.200Z", 0, None),
    ] {
        s.record_node("q1", &n).await.unwrap();
    }
    s.finish_run("q1", "error", "2026-01-04T08:00:02.000Z", 2.0)
        .await
        .unwrap();
    s.start_run("q2", "test", "{}", "2026-01-05T08:00:00.000Z")
        .await
        .unwrap();
    for n in [
        test_result(&not_null, "pass", "2026-01-05T08:00:01.000Z", 0, None),
        test_result(
            &unique,
            "fail",
            "2026-01-05T08:00:01.100Z",
            3,
            Some(&format!("{table}\n{MARKUP}")),
        ),
        test_result(&small, "fail", "2026-01-05T08:00:01.200Z", 2, None),
    ] {
        s.record_node("q2", &n).await.unwrap();
    }
    s.finish_run("q2", "error", "2026-01-05T08:00:02.000Z", 2.0)
        .await
        .unwrap();

    // The singular test's failing rows, stored as the runner stores them.
    let lake = Lake::open_target(&project.target).await.unwrap();
    let engine = Arc::new(Engine::new(lake, &project.target.schema, 2).unwrap());
    let test = &project.nodes[&small];
    let failing = format!(
        "select 7 as id, '{MARKUP}' as label union all select 8 as id, cast(null as varchar) as label"
    );
    let outcome = lakeforge_engine::run_test(
        &engine,
        "assert_small",
        &failing,
        &test.config.test,
        &test.relation,
        5,
    )
    .await
    .unwrap();
    assert_eq!(outcome.failures, 2);
    assert_eq!(outcome.stored_in.as_ref(), Some(&test.relation));
    let compiled = CompileContext::new(project.clone()).compiled_path(test);
    std::fs::create_dir_all(compiled.parent().unwrap()).unwrap();
    std::fs::write(&compiled, "select id from main.orders where id < 0\n").unwrap();

    let target = project.target_dir();
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(
        target.join("sources.json"),
        json!({
            "metadata": {"generated_at": "2026-01-05T09:00:00+00:00"},
            "results": [{
                "unique_id": "source.shop.app.events",
                "status": "warn",
                "max_loaded_at": "2026-01-04T09:00:00+00:00",
                "max_loaded_at_time_ago_in_seconds": 86400.0,
                "error": null,
            }],
        })
        .to_string(),
    )
    .unwrap();

    let state = UiState::with_project(
        fixture.store.clone(),
        UiOptions {
            title: "shop".into(),
            ..UiOptions::default()
        },
        None,
        ProjectGraph::Loaded(project.clone()),
        Some(engine),
    );
    Shop {
        _dir: dir,
        fixture,
        project,
        state,
    }
}

fn test_row<'a>(body: &'a Value, unique_id: &str) -> &'a Value {
    body["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["unique_id"] == unique_id)
        .unwrap_or_else(|| panic!("no test {unique_id} in {body}"))
}

fn ids(body: &Value) -> Vec<&str> {
    body["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["unique_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn tests_are_listed_by_model_and_column_with_their_results_over_runs() {
    let shop = shop().await;
    let p = &shop.project;
    let (status, body) = get_json(&shop.state, "/api/quality").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The runs that ran tests, newest first (r-live ran a model only).
    let runs: Vec<&str> = body["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(runs, ["q2", "q1", "r-err", "r-ok"]);
    assert_eq!(body["runs"][0]["command"], "test");

    let unique = test_row(&body, &id(p, "unique_orders_id"));
    assert_eq!(unique["name"], "unique_orders_id");
    assert_eq!(unique["test_name"], "unique");
    assert_eq!(unique["model"], "model.shop.orders");
    assert_eq!(unique["model_name"], "orders");
    assert_eq!(unique["column"], "id");
    assert_eq!(unique["severity"], "error");
    assert_eq!(unique["in_project"], true);
    assert_eq!(unique["latest_status"], "fail");
    assert_eq!(unique["latest_failures"], 3);
    assert_eq!(
        unique["results"],
        json!([
            {"status": "fail", "count": 3},
            {"status": "fail", "count": 2},
            null,
            null,
        ])
    );
    // A test no run has run yet is listed too.
    let accepted = test_row(&body, &id(p, "accepted_values_orders_status__a__b"));
    assert_eq!(accepted["column"], "status");
    assert_eq!(accepted["latest_status"], "none");
    assert_eq!(accepted["results"], json!([null, null, null, null]));
    // A singular test reading one model belongs to it; it stores its failures.
    let small = test_row(&body, &id(p, "assert_small"));
    assert_eq!(small["model_name"], "orders");
    assert_eq!(small["column"], Value::Null);
    assert_eq!(small["store_failures"], true);
    assert_eq!(small["results"][1], json!({"status": "pass", "count": 0}));
    // A test the project no longer has keeps its history, by the name of its id.
    let gone = test_row(&body, "test.shop.accepted_values");
    assert_eq!(gone["in_project"], false);
    assert_eq!(gone["latest_status"], "warn");
    assert_eq!(gone["results"][2]["status"], "warn");
    // By model, then column: orders' id tests come before its status test.
    let order = ids(&body);
    let at = |name: &str| order.iter().position(|i| *i == id(p, name)).unwrap();
    assert!(at("not_null_orders_id") < at("accepted_values_orders_status__a__b"));
    let tests = body["tests"].as_array().unwrap();
    assert_eq!(
        tests.last().unwrap()["model_name"],
        Value::Null,
        "tests of no model come last"
    );
    assert_eq!(body["models"], json!([["model.shop.orders", "orders"]]));

    // Quarantine counts per run, with the quarantine table.
    let q = &body["quarantine"];
    assert_eq!(q["runs"][0]["run_id"], "q1");
    assert_eq!(q["models"][0]["unique_id"], "model.shop.orders");
    assert_eq!(q["models"][0]["relation"], "main.orders_quarantine");
    assert_eq!(
        q["models"][0]["counts"],
        json!([{"status": "success", "count": 2}])
    );

    // Source freshness: the policy, and the last check's result where there is one.
    let sources = body["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1, "users turns freshness off: {sources:?}");
    assert_eq!(sources[0]["name"], "app.events");
    assert_eq!(sources[0]["loaded_at_field"], "at");
    assert_eq!(
        sources[0]["policy"]["warn_after"],
        json!({"count": 12, "period": "hour"})
    );
    assert_eq!(sources[0]["result"]["status"], "warn");
    assert_eq!(body["freshness_checked_at"], "2026-01-05T09:00:00+00:00");
    assert_eq!(body["project_error"], Value::Null);
}

#[tokio::test]
async fn the_list_filters_by_model_and_status_and_names_a_bad_parameter() {
    let shop = shop().await;
    let p = &shop.project;
    let (_, failing) = get_json(&shop.state, "/api/quality?status=fail").await;
    let mut failing = ids(&failing);
    failing.sort();
    let mut expected = vec![
        id(p, "unique_orders_id"),
        id(p, "assert_small"),
        "test.shop.unique_orders_id".to_string(),
    ];
    expected.sort();
    assert_eq!(failing, expected);

    let (_, never) = get_json(&shop.state, "/api/quality?status=none").await;
    assert_eq!(ids(&never), [id(p, "accepted_values_orders_status__a__b")]);

    for model in ["orders", "model.shop.orders"] {
        let (_, body) = get_json(&shop.state, &format!("/api/quality?model={model}")).await;
        assert_eq!(ids(&body).len(), 4, "{model}: {body}");
        assert!(
            body["tests"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["model_name"] == "orders")
        );
    }
    let (_, one_run) = get_json(&shop.state, "/api/quality?runs=1").await;
    assert_eq!(one_run["runs"].as_array().unwrap().len(), 1);
    assert_eq!(
        test_row(&one_run, &id(p, "unique_orders_id"))["results"],
        json!([{"status": "fail", "count": 3}])
    );

    for (query, field) in [
        ("status=broken", "status"),
        ("runs=0", "runs"),
        ("runs=1000", "runs"),
        ("colour=red", "colour"),
    ] {
        let (status, body) = get_json(&shop.state, &format!("/api/quality?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
}

#[tokio::test]
async fn a_test_shows_its_stored_failing_rows_history_and_compiled_sql() {
    let shop = shop().await;
    let small = id(&shop.project, "assert_small");
    let (status, body) = get_json(&shop.state, &format!("/api/quality/tests/{small}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["test"]["name"], "assert_small");
    assert_eq!(body["path"], "tests/assert_small.sql");
    assert_eq!(body["error_if"], "!= 0");
    let audit = body["audit_relation"].as_str().unwrap().to_string();
    assert!(audit.ends_with(".assert_small"), "{audit}");
    assert_eq!(
        body["compiled_sql"],
        "select id from main.orders where id < 0\n"
    );
    let history: Vec<(&str, &str, i64)> = body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["run_id"].as_str().unwrap(),
                h["status"].as_str().unwrap(),
                h["failures"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(history, [("q2", "fail", 2), ("q1", "pass", 0)]);
    // The rows are the table's, read through the engine, project text as it is.
    let rows = &body["failing_rows"];
    assert_eq!(rows["source"], "stored");
    assert_eq!(rows["relation"], audit);
    assert_eq!(rows["columns"], json!(["id", "label"]));
    let mut got = rows["rows"].as_array().unwrap().clone();
    got.sort_by_key(|r| r[0].as_str().unwrap().to_string());
    assert_eq!(got, [json!(["7", MARKUP]), json!(["8", null])]);
    assert_eq!(rows["truncated"], false);
}

#[tokio::test]
async fn a_test_without_stored_failures_shows_the_recorded_sample_or_says_why_not() {
    let shop = shop().await;
    let p = &shop.project;
    let (_, body) = get_json(
        &shop.state,
        &format!("/api/quality/tests/{}", id(p, "unique_orders_id")),
    )
    .await;
    assert_eq!(body["audit_relation"], Value::Null);
    let rows = &body["failing_rows"];
    assert_eq!(rows["source"], "sample");
    assert_eq!(rows["run_id"], "q2");
    assert!(rows["text"].as_str().unwrap().ends_with(MARKUP), "{rows}");
    assert_eq!(body["arguments"], json!({}));

    let (_, passing) = get_json(
        &shop.state,
        &format!("/api/quality/tests/{}", id(p, "not_null_orders_id")),
    )
    .await;
    assert_eq!(passing["failing_rows"]["source"], "none");
    assert!(
        passing["failing_rows"]["reason"]
            .as_str()
            .unwrap()
            .contains("no run recorded failing rows")
    );

    // A test the project no longer has still shows its history; what is not a test is 404.
    let (status, gone) =
        get_json(&shop.state, "/api/quality/tests/test.shop.accepted_values").await;
    assert_eq!(status, StatusCode::OK, "{gone}");
    assert_eq!(gone["test"]["in_project"], false);
    assert_eq!(gone["history"][0]["run_id"], "r-err");
    for missing in ["test.shop.nope", "model.shop.orders", "seed.shop.raw"] {
        let (status, body) = get_json(&shop.state, &format!("/api/quality/tests/{missing}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}: {body}");
    }
}

#[tokio::test]
async fn the_pages_are_served_and_escape_the_test_id() {
    let shop = shop().await;
    let page = send(&shop.state, get("/quality")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(page).await;
    assert!(html.contains("/assets/quality.js"), "{html}");
    assert!(html.contains("<a href=\"/quality\">Quality</a>"));

    let small = id(&shop.project, "assert_small");
    let page = send(&shop.state, get(&format!("/quality/tests/{small}"))).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(page).await;
    assert!(
        html.contains(&format!("data-test-id=\"{small}\"")),
        "{html}"
    );
    assert!(html.contains("/assets/quality_test.js"));

    // An id with markup is text in the page (as the store keeps any id the runner gave it).
    let odd = "test.shop.<script>x</script>";
    shop.fixture
        .store
        .record_node(
            "q2",
            &node(odd, "fail", "2026-01-05T08:00:01.500Z", 0.1, None),
        )
        .await
        .unwrap();
    let page = send(
        &shop.state,
        get("/quality/tests/test.shop.%3Cscript%3Ex%3C%2Fscript%3E"),
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(page).await;
    assert!(!html.contains("<script>x"), "{html}");
    assert!(
        html.contains("test.shop.&lt;script&gt;x&lt;/script&gt;"),
        "{html}"
    );

    for missing in [
        "/quality/tests/test.shop.nope",
        "/quality/tests/model.shop.orders",
    ] {
        let page = send(&shop.state, get(missing)).await;
        assert_eq!(page.status(), StatusCode::NOT_FOUND, "{missing}");
    }
    for asset in ["quality.js", "quality_test.js"] {
        let response = send(&shop.state, get(&format!("/assets/{asset}"))).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(content_type(&response), "text/javascript; charset=utf-8");
    }
}

#[tokio::test]
async fn without_a_project_or_a_lake_the_store_still_answers() {
    let fixture = Fixture::new().await;
    let state = fixture.open();
    let (status, body) = get_json(&state, "/api/quality").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["project_error"]
            .as_str()
            .unwrap()
            .contains("no project")
    );
    assert_eq!(
        test_row(&body, "test.shop.unique_orders_id")["latest_status"],
        "fail"
    );
    assert_eq!(body["sources"], json!([]));
    let (status, body) = get_json(&state, "/api/quality/tests/test.shop.unique_orders_id").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["failing_rows"]["source"], "none");
}
