//! The tables pages and their API over a real lake: a small project written to a temporary
//! folder and loaded as the CLI loads it, its seed loaded twice (other rows the second time)
//! and its models built through lakeforge-engine, so the seed's Delta table has two versions;
//! the list (a table built after the UI started included), a table's columns with their YAML
//! descriptions and tests, its history, rows at either version, profiles, a view, the errors
//! (each 400 naming its parameter) and the pages without an engine.

use std::sync::Arc;

use axum::http::StatusCode;
use lakeforge_engine::{Engine, Lake};
use lakeforge_project::{LoadOptions, Project};
use lakeforge_ui::{ProjectGraph, UiOptions, UiState};
use serde_json::{Value, json};

use super::{Fixture, content_type, get, get_json, send, text};

const SCRIPT: &str = "<script>alert(1)</script>";

fn write(dir: &std::path::Path, path: &str, content: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn write_project(dir: &std::path::Path) {
    let files = [
        (
            "dbt_project.yml",
            "name: shop\nmodels:\n  shop:\n    +materialized: table\n    staging:\n      +materialized: view\n",
        ),
        (
            "seeds/raw_customers.csv",
            "id,name\n1,Ada\n2,Linus\n3,Grace\n",
        ),
        (
            "models/staging/stg_customers.sql",
            "select id, name from {{ ref('raw_customers') }}\n",
        ),
        (
            "models/customers.sql",
            "select id, name from {{ ref('stg_customers') }}\n",
        ),
        (
            "models/orders.sql",
            "select id as order_id from {{ ref('customers') }}\n",
        ),
        (
            "tests/assert_customers.sql",
            "select * from {{ ref('customers') }} where id < 0\n",
        ),
        (
            "models/schema.yml",
            "version: 2\n\
             sources:\n  - name: app\n    tables:\n      - name: events\n\
             models:\n  - name: customers\n    description: The customers.\n    columns:\n      \
             - name: id\n        description: The key.\n        data_tests: [unique, not_null]\n      \
             - name: name\n        description: \"<script>alert(1)</script>\"\n      \
             - name: ghost\n        description: Documented, never built.\n",
        ),
    ];
    for (path, content) in files {
        write(dir, path, content);
    }
}

struct Shop {
    dir: tempfile::TempDir,
    _fixture: Fixture,
    project: Arc<Project>,
    engine: Arc<Engine>,
    state: Arc<UiState>,
}

impl Shop {
    async fn build(&self, name: &str, sql: &str) {
        let node = self
            .project
            .nodes
            .values()
            .find(|n| n.name == name)
            .unwrap();
        lakeforge_engine::materialize(&self.engine, node, sql, false)
            .await
            .unwrap();
    }

    async fn seed(&self, csv: &str) {
        write(self.dir.path(), "seeds/raw_customers.csv", csv);
        let node = &self.project.nodes["seed.shop.raw_customers"];
        lakeforge_engine::load_seed(&self.engine, node, &self.dir.path().join(&node.path))
            .await
            .unwrap();
    }
}

/// The shop with `raw_customers` at versions 0 (Ada, Linus, Grace) and 1 (Alan, Barbara),
/// the view `stg_customers` and the table `customers`; `orders` is not built.
async fn shop() -> Shop {
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path());
    let project = Arc::new(Project::load(dir.path(), &LoadOptions::default()).unwrap());
    let lake = Lake::open_target(&project.target).await.unwrap();
    let engine = Arc::new(Engine::new(lake, &project.target.schema, 2).unwrap());
    let fixture = Fixture::new().await;
    let state = UiState::with_project(
        fixture.store.clone(),
        UiOptions {
            title: "shop".into(),
            ..UiOptions::default()
        },
        None,
        ProjectGraph::Loaded(project.clone()),
        Some(engine.clone()),
    );
    let shop = Shop {
        dir,
        _fixture: fixture,
        project,
        engine,
        state,
    };
    shop.seed("id,name\n1,Ada\n2,Linus\n3,Grace\n").await;
    shop.seed("id,name\n10,Alan\n20,Barbara\n").await;
    shop.build("stg_customers", "select id, name from main.raw_customers")
        .await;
    shop.build("customers", "select id, name from main.stg_customers")
        .await;
    shop
}

fn listed<'a>(body: &'a Value, relation: &str) -> Option<&'a Value> {
    body["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["relation"] == relation)
}

fn column(body: &Value, i: usize) -> Vec<&Value> {
    body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r[i])
        .collect()
}

#[tokio::test]
async fn the_list_has_what_the_lake_stores_and_finds_tables_built_later() {
    let shop = shop().await;
    let (status, body) = get_json(&shop.state, "/api/tables").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let seed = listed(&body, "main.raw_customers").unwrap();
    assert_eq!(seed["unique_id"], "seed.shop.raw_customers");
    assert_eq!(seed["resource_type"], "seed");
    assert_eq!(seed["kind"], "table");
    assert_eq!(seed["version"], 1);
    assert_eq!(seed["rows"], 2);
    let customers = listed(&body, "main.customers").unwrap();
    assert_eq!(customers["materialized"], "table");
    assert_eq!(
        (&customers["version"], &customers["rows"]),
        (&json!(0), &json!(2))
    );
    let view = listed(&body, "main.stg_customers").unwrap();
    assert_eq!(
        (&view["kind"], &view["version"]),
        (&json!("view"), &Value::Null)
    );
    // Not built: orders and the source app.events.
    assert!(listed(&body, "main.orders").is_none(), "{body}");
    assert_eq!(body["not_built"], 2);

    // A run after the UI started builds orders: the next request finds it.
    shop.build("orders", "select id as order_id from main.customers")
        .await;
    let (_, body) = get_json(&shop.state, "/api/tables").await;
    assert_eq!(listed(&body, "main.orders").unwrap()["version"], 0);
    assert_eq!(body["not_built"], 1);

    let (status, body) = get_json(&shop.state, "/api/tables?sort=name").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "sort");
}

#[tokio::test]
async fn a_table_has_its_yaml_columns_tests_and_history() {
    let shop = shop().await;
    let (status, body) = get_json(&shop.state, "/api/tables/main.customers").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["unique_id"], "model.shop.customers");
    assert_eq!(body["kind"], "table");
    assert_eq!((&body["version"], &body["latest"]), (&json!(0), &json!(0)));
    assert_eq!(body["rows"], json!({"rows": 2, "from_stats": true}));
    assert_eq!(body["description"], "The customers.");
    let columns = body["columns"].as_array().unwrap();
    let names: Vec<&str> = columns
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["id", "name", "ghost"]);
    assert_eq!(columns[0]["data_type"], "bigint");
    assert_eq!(columns[0]["description"], "The key.");
    let tests: Vec<&str> = columns[0]["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["test"].as_str().unwrap())
        .collect();
    assert!(
        tests.contains(&"unique") && tests.contains(&"not_null"),
        "{tests:?}"
    );
    // Project text stays a JSON string; the page's script shows it as text.
    assert_eq!(columns[1]["description"], SCRIPT);
    assert_eq!(columns[2]["in_table"], false);
    let whole = body["tests"].as_array().unwrap();
    assert_eq!(whole.len(), 1, "{body}");
    assert_eq!(whole[0]["kind"], "singular");
    assert_eq!(whole[0]["name"], "assert_customers");
    let history = body["history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["version"], 0);
    assert_eq!(history[0]["rows_written"], 2);

    // The unique id names the same table.
    let (status, by_id) = get_json(&shop.state, "/api/tables/model.shop.customers").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_id["relation"], "main.customers");

    let (status, seed) = get_json(&shop.state, "/api/tables/main.raw_customers").await;
    assert_eq!(status, StatusCode::OK, "{seed}");
    let versions: Vec<&Value> = seed["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["version"])
        .collect();
    assert_eq!(versions, [&json!(1), &json!(0)]);
    let (_, old) = get_json(&shop.state, "/api/tables/main.raw_customers?version=0").await;
    assert_eq!((&old["version"], &old["latest"]), (&json!(0), &json!(1)));
    assert_eq!(old["rows"]["rows"], 3);
}

#[tokio::test]
async fn rows_travel_in_time_and_page() {
    let shop = shop().await;
    let (status, latest) = get_json(&shop.state, "/api/tables/main.raw_customers/rows").await;
    assert_eq!(status, StatusCode::OK, "{latest}");
    assert_eq!(latest["version"], 1);
    assert_eq!(column(&latest, 1), [&json!("Alan"), &json!("Barbara")]);
    assert_eq!(latest["columns"][0]["name"], "id");
    assert_eq!(latest["more"], false);

    let (_, old) = get_json(&shop.state, "/api/tables/main.raw_customers/rows?version=0").await;
    assert_eq!(old["version"], 0);
    assert_eq!(
        column(&old, 1),
        [&json!("Ada"), &json!("Linus"), &json!("Grace")]
    );

    let (_, page) = get_json(
        &shop.state,
        "/api/tables/main.raw_customers/rows?version=0&offset=1&limit=1",
    )
    .await;
    assert_eq!(column(&page, 1), [&json!("Linus")]);
    assert_eq!((&page["offset"], &page["more"]), (&json!(1), &json!(true)));

    let (_, profile) = get_json(
        &shop.state,
        "/api/tables/main.raw_customers/profile?version=0",
    )
    .await;
    assert_eq!(profile["version"], 0);
    assert_eq!(profile["rows"], 3);
    assert_eq!(profile["distinct_is_approximate"], true);
    let id = &profile["columns"][0];
    assert_eq!(
        (&id["min"], &id["max"], &id["mean"]),
        (&json!("1"), &json!("3"), &json!(2.0))
    );
    assert_eq!(profile["columns"][1]["nulls"], 0);
}

#[tokio::test]
async fn bad_parameters_are_400s_naming_them() {
    let shop = shop().await;
    let (status, body) =
        get_json(&shop.state, "/api/tables/main.raw_customers/rows?version=7").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "version");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("main.raw_customers has no version 7; its versions are 0 to 1"),
        "{message}"
    );
    assert!(message.contains("hint: "), "{message}");
    for (uri, field) in [
        ("/api/tables/main.raw_customers/rows?limit=501", "limit"),
        ("/api/tables/main.raw_customers/rows?limit=0", "limit"),
        ("/api/tables/main.raw_customers/rows?offset=-1", "offset"),
        (
            "/api/tables/main.raw_customers/rows?version=latest",
            "version",
        ),
        ("/api/tables/main.raw_customers/rows?sort=id", "sort"),
        ("/api/tables/main.raw_customers/profile?offset=3", "offset"),
        (
            "/api/tables/main.raw_customers?version=1&version=0",
            "version",
        ),
        ("/api/tables/main.stg_customers/rows?version=0", "version"),
    ] {
        let (status, body) = get_json(&shop.state, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["error"]["field"], field, "{uri}: {body}");
    }
    for uri in [
        "/api/tables/main.nothing",
        "/api/tables/main.nothing/rows",
        "/api/tables/main.orders",
    ] {
        let (status, body) = get_json(&shop.state, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
    }
}

#[tokio::test]
async fn a_view_shows_its_sql_and_rows_without_history() {
    let shop = shop().await;
    let (status, body) = get_json(&shop.state, "/api/tables/main.stg_customers").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["kind"], "view");
    assert_eq!(body["materialized"], "view");
    assert_eq!(body["sql"], "select id, name from main.raw_customers");
    assert_eq!(body["history"], Value::Null);
    assert_eq!(body["columns"].as_array().unwrap().len(), 2);
    let (_, rows) = get_json(&shop.state, "/api/tables/main.stg_customers/rows").await;
    assert_eq!(rows["version"], Value::Null);
    assert_eq!(column(&rows, 1), [&json!("Alan"), &json!("Barbara")]);
}

#[tokio::test]
async fn the_pages_are_served_and_without_a_lake_say_why() {
    let shop = shop().await;
    let page = send(&shop.state, get("/tables")).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(content_type(&page), "text/html; charset=utf-8");
    let html = text(page).await;
    assert!(html.contains("<script src=\"/assets/tables.js\" defer></script>"));
    assert!(html.contains("<a href=\"/tables\">Tables</a>"));

    let page = send(&shop.state, get("/tables/main.customers")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(page).await;
    assert!(html.contains("data-relation=\"main.customers\""), "{html}");
    assert!(html.contains("/assets/table.js"));
    assert!(!html.contains("alert(1)"));

    // A name the project does not have: a 404 page, the name escaped.
    let page = send(
        &shop.state,
        get("/tables/%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
    )
    .await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    let html = text(page).await;
    assert!(!html.contains(SCRIPT), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");

    for asset in ["/assets/tables.js", "/assets/table.js"] {
        let script = send(&shop.state, get(asset)).await;
        assert_eq!(script.status(), StatusCode::OK, "{asset}");
        assert_eq!(content_type(&script), "text/javascript; charset=utf-8");
    }

    // Without an engine the pages load and the API says why, with a hint.
    let fixture = Fixture::new().await;
    let no_lake = UiState::with_project(
        fixture.store.clone(),
        UiOptions::default(),
        None,
        ProjectGraph::Loaded(shop.project.clone()),
        None,
    );
    assert_eq!(
        send(&no_lake, get("/tables")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&no_lake, get("/tables/main.customers")).await.status(),
        StatusCode::OK
    );
    for uri in ["/api/tables", "/api/tables/main.customers/rows"] {
        let (status, body) = get_json(&no_lake, uri).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {body}");
        assert_eq!(body["error"]["code"], "no_lake");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("hint: "), "{message}");
    }
}
