//! The lineage API and page over a small project written to a temporary folder and loaded as
//! the CLI loads it: two seeds, staging models, a mart reading a source, a data test; the
//! graph's nodes and edges, dbt selectors through the project's own selection (and a bad
//! one's 400), a project that did not load, the page and its script, and project text that
//! stays data.

use std::sync::Arc;

use axum::http::{StatusCode, header};
use lakeforge_project::{LoadOptions, Project};
use lakeforge_ui::{ProjectGraph, UiOptions, UiState};
use serde_json::Value;

use super::{Fixture, content_type, get, get_json, send, text};

const SCRIPT: &str = "<script>alert(1)</script>";

fn write_project(dir: &std::path::Path) {
    let files = [
        (
            "dbt_project.yml",
            "name: shop\nmodels:\n  shop:\n    +materialized: table\n    staging:\n      +materialized: view\n",
        ),
        ("seeds/raw_customers.csv", "id,name\n1,Ada\n2,Linus\n"),
        (
            "seeds/raw_orders.csv",
            "id,customer_id,amount\n1,1,10\n2,2,20\n",
        ),
        (
            "models/staging/stg_customers.sql",
            "select id, name from {{ ref('raw_customers') }}\n",
        ),
        (
            "models/staging/stg_orders.sql",
            "select id, customer_id, amount from {{ ref('raw_orders') }}\n",
        ),
        (
            "models/customers.sql",
            "select c.id, count(o.id) as orders, max(e.at) as last_event\n\
             from {{ ref('stg_customers') }} c\n\
             left join {{ ref('stg_orders') }} o on o.customer_id = c.id\n\
             left join {{ source('app', 'events') }} e on e.customer_id = c.id\n\
             group by c.id\n",
        ),
        (
            "models/schema.yml",
            "version: 2\n\
             sources:\n  - name: app\n    tables:\n      - name: events\n\
             models:\n  - name: customers\n    description: \"<script>alert(1)</script>\"\n    config:\n      tags: [nightly]\n    columns:\n      - name: id\n        data_tests: [unique]\n",
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
    _fixture: Fixture,
    state: Arc<UiState>,
}

async fn shop() -> Shop {
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path());
    let project = Project::load(dir.path(), &LoadOptions::default()).unwrap();
    let fixture = Fixture::new().await;
    let state = with(&fixture, ProjectGraph::Loaded(Arc::new(project)));
    Shop {
        _dir: dir,
        _fixture: fixture,
        state,
    }
}

fn with(fixture: &Fixture, project: ProjectGraph) -> Arc<UiState> {
    UiState::with_project(
        fixture.store.clone(),
        UiOptions {
            title: "shop".into(),
            ..UiOptions::default()
        },
        None,
        project,
        None,
    )
}

fn node<'a>(graph: &'a Value, id: &str) -> &'a Value {
    graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["unique_id"] == id)
        .unwrap_or_else(|| panic!("no node {id} in {graph}"))
}

fn selected(body: &Value) -> Vec<String> {
    body["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_graph_has_every_node_and_source_with_their_edges() {
    let shop = shop().await;
    let (status, graph) = get_json(&shop.state, "/api/lineage").await;
    assert_eq!(status, StatusCode::OK, "{graph}");
    assert_eq!(graph["project"], "shop");

    let customers = node(&graph, "model.shop.customers");
    assert_eq!(customers["name"], "customers");
    assert_eq!(customers["resource_type"], "model");
    assert_eq!(customers["package"], "shop");
    assert_eq!(customers["materialized"], "table");
    assert_eq!(customers["path"], "models/customers.sql");
    assert_eq!(customers["tags"], serde_json::json!(["nightly"]));
    assert_eq!(
        node(&graph, "model.shop.stg_orders")["materialized"],
        "view"
    );
    let seed = node(&graph, "seed.shop.raw_orders");
    assert_eq!(seed["resource_type"], "seed");
    assert!(seed.get("materialized").is_none(), "{seed}");
    let source = node(&graph, "source.shop.app.events");
    assert_eq!(source["resource_type"], "source");
    assert_eq!(source["name"], "app.events");
    assert_eq!(source["package"], "shop");

    let tests: Vec<&Value> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["resource_type"] == "test")
        .collect();
    assert_eq!(tests.len(), 1, "{graph}");
    let test_id = tests[0]["unique_id"].as_str().unwrap();
    assert!(
        test_id.starts_with("test.shop.unique_customers_id"),
        "{test_id}"
    );
    assert_eq!(graph["nodes"].as_array().unwrap().len(), 7, "{graph}");

    let edges: Vec<(String, String)> = graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e[0].as_str().unwrap().to_string(),
                e[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (parent, child) in [
        ("seed.shop.raw_customers", "model.shop.stg_customers"),
        ("seed.shop.raw_orders", "model.shop.stg_orders"),
        ("model.shop.stg_customers", "model.shop.customers"),
        ("model.shop.stg_orders", "model.shop.customers"),
        ("source.shop.app.events", "model.shop.customers"),
        ("model.shop.customers", test_id),
    ] {
        assert!(
            edges.contains(&(parent.to_string(), child.to_string())),
            "{parent} → {child} missing from {edges:?}"
        );
    }
    assert_eq!(edges.len(), 6, "{edges:?}");
}

#[tokio::test]
async fn selectors_use_the_projects_selection() {
    let shop = shop().await;
    let (status, body) = get_json(&shop.state, "/api/lineage?select=%2Bcustomers").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["select"], "+customers");
    let ids = selected(&body);
    for id in [
        "seed.shop.raw_customers",
        "seed.shop.raw_orders",
        "model.shop.stg_customers",
        "model.shop.stg_orders",
        "model.shop.customers",
    ] {
        assert!(ids.contains(&id.to_string()), "{id} not in {ids:?}");
    }
    // Sources are never selected, as in `lakeforge ls`; the mart's test comes with it.
    assert!(!ids.iter().any(|id| id.starts_with("source.")), "{ids:?}");
    assert!(ids.iter().any(|id| id.starts_with("test.")), "{ids:?}");

    let (_, body) = get_json(&shop.state, "/api/lineage?select=tag:nightly").await;
    let ids = selected(&body);
    assert!(ids.contains(&"model.shop.customers".to_string()), "{ids:?}");
    assert!(!ids.iter().any(|id| id.contains("stg_")), "{ids:?}");

    let (_, body) = get_json(&shop.state, "/api/lineage?select=stg_orders%2B").await;
    let ids = selected(&body);
    assert!(ids.contains(&"model.shop.customers".to_string()), "{ids:?}");
    assert!(
        !ids.contains(&"model.shop.stg_customers".to_string()),
        "{ids:?}"
    );

    let (_, body) = get_json(&shop.state, "/api/lineage?select=nothing_named_so").await;
    assert_eq!(body["selected"], serde_json::json!([]));
}

#[tokio::test]
async fn a_bad_selector_or_parameter_is_a_400_saying_why() {
    let shop = shop().await;
    let (status, body) = get_json(&shop.state, "/api/lineage?select=%40%2Bcustomers").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "select");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Invalid selector `@+customers`"),
        "{message}"
    );
    assert!(message.contains("cannot be combined"), "{message}");

    let (status, body) = get_json(&shop.state, "/api/lineage?depth=2").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "depth");
}

#[tokio::test]
async fn without_a_loaded_project_the_lineage_says_why_and_other_pages_work() {
    let fixture = Fixture::new().await;
    let failed = with(
        &fixture,
        ProjectGraph::Failed("models/broken.sql: unexpected end of template".into()),
    );
    let (status, body) = get_json(&failed, "/api/lineage").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "no_project");
    assert_eq!(
        body["error"]["message"],
        "the project did not load: models/broken.sql: unexpected end of template"
    );
    assert_eq!(send(&failed, get("/")).await.status(), StatusCode::OK);
    assert_eq!(
        send(&failed, get("/lineage")).await.status(),
        StatusCode::OK
    );
    let (status, _) = get_json(&failed, "/api/runs").await;
    assert_eq!(status, StatusCode::OK);

    let absent = with(&fixture, ProjectGraph::Absent);
    let (status, body) = get_json(&absent, "/api/lineage?select=x").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["message"], "no project was given to the UI");
}

#[tokio::test]
async fn the_page_and_its_script_are_served_and_project_text_stays_data() {
    let shop = shop().await;
    let page = send(&shop.state, get("/lineage")).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(content_type(&page), "text/html; charset=utf-8");
    assert!(
        page.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    let html = text(page).await;
    assert!(html.contains("<script src=\"/assets/lineage.js\" defer></script>"));
    assert!(
        html.contains("<a href=\"/lineage\">Lineage</a>"),
        "not in the header"
    );
    // The server writes no project text into the page: the script reads it as data.
    assert!(!html.contains(SCRIPT));
    assert!(!html.contains("alert(1)"));

    let script = send(&shop.state, get("/assets/lineage.js")).await;
    assert_eq!(script.status(), StatusCode::OK);
    assert_eq!(content_type(&script), "text/javascript; charset=utf-8");
    let source = text(script).await;
    assert!(source.contains("/api/lineage"));
    assert!(source.contains("textContent"));

    // The description reaches the client as a JSON string, never as markup of the server's.
    let response = send(&shop.state, get("/api/lineage")).await;
    assert_eq!(content_type(&response), "application/json");
    let body: Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(node(&body, "model.shop.customers")["description"], SCRIPT);
}
