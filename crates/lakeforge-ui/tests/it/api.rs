//! The JSON API: the overview, the runs list with its filters and pages, one run, and the
//! errors for bad input (400 naming the parameter, 404 for unknown runs and routes).

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::{Fixture, get_json};

fn ids(runs: &Value) -> Vec<&str> {
    runs.as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_overview_has_runs_failing_tests_and_production_versions() {
    let f = Fixture::new().await;
    let (status, body) = get_json(&f.open(), "/api/overview").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&body["runs"]), ["r-err", "r-live", "r-ok"]);
    assert_eq!(body["runs"][0]["status"], "error");
    assert_eq!(body["runs"][0]["nodes_failed"], 2);
    assert_eq!(body["runs"][1]["status"], "running");
    assert_eq!(body["latest_run"]["run_id"], "r-err");
    // Only tests, only their failures: not the failed model, not the warning.
    let failing = body["failing_tests"].as_array().unwrap();
    assert_eq!(failing.len(), 1, "{failing:?}");
    assert_eq!(failing[0]["unique_id"], "test.shop.unique_orders_id");
    assert_eq!(failing[0]["resource_type"], "test");
    assert_eq!(failing[0]["status"], "fail");
    assert_eq!(
        failing[0]["error"],
        "Got 2 results, configured to fail if != 0"
    );
    assert_eq!(body["production_alias"], "production");
    assert_eq!(
        body["models"],
        json!([{"name": "churn", "versions": 2, "latest": 2,
                "latest_created_at": body["models"][0]["latest_created_at"],
                "production": 1, "aliases": [["production", 1], ["staging", 2]]}])
    );
}

#[tokio::test]
async fn an_empty_store_has_an_empty_overview() {
    let dir = tempfile::tempdir().unwrap();
    let store = lakeforge_meta::MetaStore::open_sqlite(&dir.path().join("m.db"))
        .await
        .unwrap();
    let state = lakeforge_ui::UiState::new(store, lakeforge_ui::UiOptions::default());
    let (status, body) = get_json(&state, "/api/overview").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"runs": [], "latest_run": null, "failing_tests": [], "models": [],
               "production_alias": "production",
               "schedules": {"schedules": [], "unavailable": "no project was given to the UI"}})
    );
}

#[tokio::test]
async fn runs_are_filtered_and_paged() {
    let f = Fixture::new().await;
    let state = f.open();
    let (status, all) = get_json(&state, "/api/runs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&all["runs"]), ["r-err", "r-live", "r-ok"]);
    assert_eq!(
        (
            all["total"].clone(),
            all["page"].clone(),
            all["per_page"].clone()
        ),
        (json!(3), json!(1), json!(50))
    );

    for (query, expected, total) in [
        ("status=error", vec!["r-err"], 1),
        ("status=running", vec!["r-live"], 1),
        ("command=build", vec!["r-err", "r-ok"], 2),
        ("command=build&status=success", vec!["r-ok"], 1),
        ("from=2026-01-02", vec!["r-err", "r-live"], 2),
        ("to=2026-01-02", vec!["r-live", "r-ok"], 2),
        ("from=2026-01-02&to=2026-01-02", vec!["r-live"], 1),
        ("from=2027-01-01", vec![], 0),
        // Empty fields (as a form sends them) are no filter.
        (
            "status=&command=&from=&to=",
            vec!["r-err", "r-live", "r-ok"],
            3,
        ),
        ("per_page=2", vec!["r-err", "r-live"], 3),
        ("per_page=2&page=2", vec!["r-ok"], 3),
        ("per_page=2&page=3", vec![], 3),
    ] {
        let (status, body) = get_json(&state, &format!("/api/runs?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        assert_eq!(ids(&body["runs"]), expected, "{query}");
        assert_eq!(body["total"], total, "{query}");
    }
}

#[tokio::test]
async fn a_bad_filter_is_a_400_naming_the_parameter() {
    let f = Fixture::new().await;
    let state = f.open();
    for (query, field) in [
        ("status=finished", "status"),
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
        ("from=2026-02-01&to=2026-01-01", "to"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("per_page=1000", "per_page"),
        ("sort=asc", "sort"),
        ("status=error&status=success", "status"),
    ] {
        let (status, body) = get_json(&state, &format!("/api/runs?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body["error"]["code"], "bad_request", "{query}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{query}: {message}");
    }
}

#[tokio::test]
async fn one_run_has_every_attempt_of_its_nodes() {
    let f = Fixture::new().await;
    let (status, body) = get_json(&f.open(), "/api/runs/r-err").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["run"]["run_id"], "r-err");
    assert_eq!(body["run"]["command"], "build");
    assert_eq!(body["run"]["finished_at"], "2026-01-03T08:00:02.000Z");
    let nodes = body["nodes"].as_array().unwrap();
    let summary: Vec<(&str, &str, i64)> = nodes
        .iter()
        .map(|n| {
            (
                n["unique_id"].as_str().unwrap(),
                n["status"].as_str().unwrap(),
                n["attempt"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("model.shop.revenue", "error", 1),
            ("model.shop.revenue", "error", 2),
            ("model.shop.report", "skipped", 1),
            ("test.shop.unique_orders_id", "fail", 1),
            ("test.shop.accepted_values", "warn", 1),
        ]
    );
    let retry = &nodes[1];
    assert_eq!(retry["resource_type"], "model");
    assert_eq!(retry["name"], "revenue");
    assert_eq!(retry["started_at"], "2026-01-03T08:00:01.000Z");
    assert_eq!(retry["finished_at"], "2026-01-03T08:00:01.300Z");
    assert_eq!(retry["error"], "Division by zero, again");
    // A skip is not an error; its message stays.
    assert_eq!(nodes[2]["error"], Value::Null);
    assert_eq!(nodes[2]["message"], "skipped: upstream revenue");

    let (_, ok) = get_json(&f.open(), "/api/runs/r-ok").await;
    let model = &ok["nodes"][1];
    assert_eq!(model["unique_id"], "model.shop.orders");
    assert_eq!(model["rows_affected"], 42);
    assert_eq!(model["delta_version"], 3);
    assert_eq!(model["elapsed_s"], 1.0);
    // A generic test is named without the hash of its id.
    assert_eq!(ok["nodes"][2]["name"], "not_null_orders_id");
    assert_eq!(ok["nodes"][2]["resource_type"], "test");
}

#[tokio::test]
async fn unknown_runs_and_routes_are_404() {
    let f = Fixture::new().await;
    let state = f.open();
    for uri in [
        "/api/runs/nope",
        "/api/runs/r-er",
        "/api/runs/%FF",
        "/api/nothing",
    ] {
        let (status, body) = get_json(&state, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(body["error"]["code"], "not_found", "{uri}");
    }
}
