//! What the run page and the overview read from the project besides the store: a node's
//! compiled SQL (the runner's file under target/compiled/, said to be what ran only while it
//! hashes as the execution recorded; compiled anew when the file is gone) and the schedules of
//! lakeforge.yml with their next tick and the last one recorded.

use std::path::Path;
use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{TimeZone, Utc};
use lakeforge_meta::RunStatus;
use lakeforge_project::{LoadOptions, Project};
use lakeforge_ui::{ProjectGraph, UiOptions, UiState};

use crate::{Fixture, get_json, node};

const SQL: &str = "select 1 as id";

struct Shop {
    dir: tempfile::TempDir,
    fixture: Fixture,
    project: Arc<Project>,
    state: Arc<UiState>,
}

fn write(dir: &Path, path: &str, content: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A project with one model, one seed and a schedule; a run `r-sql` that executed the
/// model's SQL (its hash recorded as the runner records it) and its compiled file.
async fn shop() -> Shop {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "dbt_project.yml", "name: shop\n");
    write(dir.path(), "models/orders.sql", &format!("{SQL}\n"));
    write(dir.path(), "seeds/raw.csv", "id\n1\n");
    write(
        dir.path(),
        "lakeforge.yml",
        "schedules:\n  - name: nightly\n    cron: \"0 2 * * *\"\n    timezone: Europe/Paris\n  - name: hourly\n    cron: \"0 * * * *\"\n    command: run\n",
    );
    let project = Arc::new(Project::load(dir.path(), &LoadOptions::default()).unwrap());
    write(
        dir.path(),
        "target/compiled/shop/models/orders.sql",
        &format!("{SQL}\n"),
    );
    let fixture = Fixture::new().await;
    let s = &fixture.store;
    s.start_run("r-sql", "build", "{}", "2026-01-04T08:00:00.000Z")
        .await
        .unwrap();
    let mut model = node(
        "model.shop.orders",
        "success",
        "2026-01-04T08:00:00.100Z",
        0.2,
        None,
    );
    model.sql_hash = Some(project.nodes["model.shop.orders"].state_hash(SQL));
    s.record_node("r-sql", &model).await.unwrap();
    let seed = node(
        "seed.shop.raw",
        "success",
        "2026-01-04T08:00:00.050Z",
        0.1,
        None,
    );
    s.record_node("r-sql", &seed).await.unwrap();
    s.finish_run("r-sql", "success", "2026-01-04T08:00:01.000Z", 1.0)
        .await
        .unwrap();
    let state = UiState::with_project(
        fixture.store.clone(),
        UiOptions::default(),
        None,
        ProjectGraph::Loaded(project.clone()),
        None,
    );
    Shop {
        dir,
        fixture,
        project,
        state,
    }
}

const URI: &str = "/api/runs/r-sql/nodes/model.shop.orders/sql";

#[tokio::test]
async fn the_compiled_file_is_shown_and_said_to_be_what_ran_while_its_hash_matches() {
    let shop = shop().await;
    let (status, body) = get_json(&shop.state, URI).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sql"], SQL);
    assert_eq!(body["source"], "compiled_file");
    assert_eq!(body["path"], "target/compiled/shop/models/orders.sql");
    assert_eq!(body["matches_run"], true);
    assert!(
        body["note"]
            .as_str()
            .unwrap()
            .contains("it is the SQL run r-sql executed"),
        "{body}"
    );

    // Compiled again since (another run, `lakeforge compile`): shown, but said to differ.
    write(
        shop.dir.path(),
        "target/compiled/shop/models/orders.sql",
        "select 2 as id\n",
    );
    let (_, body) = get_json(&shop.state, URI).await;
    assert_eq!(body["sql"], "select 2 as id");
    assert_eq!(body["matches_run"], false);
    assert!(body["note"].as_str().unwrap().contains("differs"), "{body}");

    // No file: compiled now, without running anything; the same SQL, so it matches.
    std::fs::remove_file(
        shop.dir
            .path()
            .join("target/compiled/shop/models/orders.sql"),
    )
    .unwrap();
    let (status, body) = get_json(&shop.state, URI).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["source"], "compiled_now");
    assert_eq!(body["sql"], SQL);
    assert_eq!(body["matches_run"], true);
    assert!(
        !shop
            .dir
            .path()
            .join("target/compiled/shop/models/orders.sql")
            .exists()
    );
}

#[tokio::test]
async fn nodes_without_sql_or_outside_the_run_or_project_are_404() {
    let shop = shop().await;
    for uri in [
        "/api/runs/r-sql/nodes/seed.shop.raw/sql",
        "/api/runs/r-sql/nodes/model.shop.nope/sql",
        "/api/runs/r-nope/nodes/model.shop.orders/sql",
        // In the project, but not in that run.
        "/api/runs/r-ok/nodes/model.shop.orders2/sql",
    ] {
        let (status, body) = get_json(&shop.state, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
    }
    let (_, seed) = get_json(&shop.state, "/api/runs/r-sql/nodes/seed.shop.raw/sql").await;
    assert!(
        seed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a seed"),
        "{seed}"
    );
    // A node of the run the project no longer has.
    let (status, body) =
        get_json(&shop.state, "/api/runs/r-err/nodes/model.shop.revenue/sql").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("removed or renamed"),
        "{body}"
    );

    // Without the project there is nothing to read the files by.
    let failed = UiState::with_project(
        shop.fixture.store.clone(),
        UiOptions::default(),
        None,
        ProjectGraph::Failed("models/x.sql: broken".into()),
        None,
    );
    let (status, body) = get_json(&failed, URI).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("models/x.sql: broken")
    );
}

#[tokio::test]
async fn the_overview_lists_each_schedule_with_its_next_and_last_tick() {
    let shop = shop().await;
    let tick = Utc.with_ymd_and_hms(2026, 1, 4, 1, 0, 0).unwrap();
    let store = &shop.fixture.store;
    assert!(store.claim_tick("nightly", tick, "host-1").await.unwrap());
    store
        .finish_tick("nightly", tick, Some("r-sql"), RunStatus::Success, None)
        .await
        .unwrap();
    let before = Utc::now();
    let (status, body) = get_json(&shop.state, "/api/overview").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let schedules = body["schedules"]["schedules"].as_array().unwrap();
    assert_eq!(schedules.len(), 2, "{body}");
    let nightly = &schedules[0];
    assert_eq!(nightly["name"], "nightly");
    assert_eq!(nightly["timezone"], "Europe/Paris");
    assert_eq!(nightly["command"], "build");
    assert_eq!(nightly["last_tick"]["run_id"], "r-sql");
    assert_eq!(nightly["last_tick"]["status"], "success");
    // The next tick is the schedule's own arithmetic, after now.
    let expected = shop.project.target.schedules[0]
        .next_after(before)
        .map(lakeforge_meta::tick_text)
        .unwrap();
    assert_eq!(nightly["next_tick"], expected.as_str());
    assert_eq!(schedules[1]["command"], "run");
    assert_eq!(schedules[1]["last_tick"], serde_json::Value::Null);
    assert_eq!(body["schedules"]["unavailable"], serde_json::Value::Null);

    // Without the project the overview still answers, and says why there are none.
    let (_, body) = get_json(&shop.fixture.open(), "/api/overview").await;
    assert_eq!(body["schedules"]["schedules"].as_array().unwrap().len(), 0);
    assert!(
        body["schedules"]["unavailable"]
            .as_str()
            .unwrap()
            .contains("no project")
    );
}
