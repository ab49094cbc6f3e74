//! A node's column lineage, `GET /api/lineage/{id}/columns`, over a real query session:
//! a source read in place from a CSV file, an ephemeral staging model over it and a mart over
//! that, so every model plans without a build. Upstream (direct and indirect), downstream,
//! one column, a node named as the CLI takes it, and the errors: an unknown node or column,
//! a table not built yet (a model reading an unbuilt seed), a UI without a lake.

use std::sync::Arc;

use axum::http::StatusCode;
use lakeforge_engine::{Engine, Lake};
use lakeforge_project::{LoadOptions, Project};
use lakeforge_ui::{ProjectGraph, UiOptions, UiState};
use serde_json::{Value, json};

use super::{Fixture, get_json};

fn write_project(dir: &std::path::Path) {
    let files = [
        (
            "dbt_project.yml",
            "name: shop\nmodels:\n  shop:\n    +materialized: table\n",
        ),
        (
            "data/events.csv",
            "customer_id,amount,kind\n1,10,buy\n2,20,buy\n1,5,refund\n",
        ),
        ("seeds/raw_people.csv", "id,name\n1,Ada\n"),
        (
            "models/stg_events.sql",
            "{{ config(materialized='ephemeral') }}\n\
             select customer_id, amount * 2 as doubled, kind from {{ source('app', 'events') }}\n",
        ),
        (
            "models/totals.sql",
            "select customer_id, sum(doubled) as total\n\
             from {{ ref('stg_events') }}\nwhere kind = 'buy'\ngroup by customer_id\n",
        ),
        (
            "models/people.sql",
            "select id, name from {{ ref('raw_people') }}\n",
        ),
        (
            "models/schema.yml",
            "version: 2\n\
             sources:\n  - name: app\n    tables:\n      - name: events\n        external: {location: data/events.csv}\n",
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

async fn load_shop(with_engine: bool) -> Shop {
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path());
    let project = Project::load(dir.path(), &LoadOptions::default()).unwrap();
    let engine = with_engine.then(|| {
        let engine = Engine::new(
            Lake::open(dir.path().join("lake")).unwrap(),
            &project.target.schema,
            1,
        )
        .unwrap();
        engine.register_sources(&project);
        Arc::new(engine)
    });
    let fixture = Fixture::new().await;
    let state = UiState::with_project(
        fixture.store.clone(),
        UiOptions::default(),
        None,
        ProjectGraph::Loaded(Arc::new(project)),
        engine,
    );
    Shop {
        _dir: dir,
        _fixture: fixture,
        state,
    }
}

/// The entry of `list` for `node.column`.
fn entry<'a>(list: &'a Value, node: &str, column: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["node"] == node && c["column"] == column)
        .unwrap_or_else(|| panic!("{node}.{column} is not in {list:#}"))
}

#[tokio::test]
async fn a_models_columns_are_traced_to_the_source_across_models() {
    let shop = load_shop(true).await;
    let (status, body) = get_json(&shop.state, "/api/lineage/model.shop.totals/columns").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["node"],
        json!({"unique_id": "model.shop.totals", "name": "totals"})
    );
    assert_eq!(body["direction"], "upstream");
    assert_eq!(body["columns"], json!(["customer_id", "total"]));
    let up = &body["upstream_columns"];
    // total <- stg_events.doubled (direct) <- events.amount (direct); the filter and the
    // group key are indirect.
    let total = entry(up, "totals", "total");
    let sources = total["sources"].as_array().unwrap();
    assert!(
        sources.contains(&json!({"node": "stg_events", "relation": "main.stg_events", "column": "doubled", "kind": "direct"})),
        "{total:#}"
    );
    assert!(
        sources
            .iter()
            .any(|s| s["column"] == "kind" && s["kind"] == "indirect"),
        "{total:#}"
    );
    let doubled = entry(up, "stg_events", "doubled");
    assert_eq!(doubled["sources"][0]["node"], "app.events");
    assert_eq!(doubled["sources"][0]["column"], "amount");
    assert_eq!(doubled["sources"][0]["kind"], "direct");
    // Every table the trace names, with its unique id, for the page's links.
    assert_eq!(body["tables"]["stg_events"], "model.shop.stg_events");
    assert_eq!(body["tables"]["app.events"], "source.shop.app.events");

    // One column, named as `lakeforge lineage` takes the node.
    let (status, one) = get_json(&shop.state, "/api/lineage/totals/columns?column=TOTAL").await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["columns"], json!(["total"]));
    assert_eq!(one["node"]["unique_id"], "model.shop.totals");
}

#[tokio::test]
async fn downstream_lists_the_columns_that_use_a_source_column() {
    let shop = load_shop(true).await;
    let (status, body) = get_json(
        &shop.state,
        "/api/lineage/source.shop.app.events/columns?column=amount&downstream=true",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["direction"], "downstream");
    let amount = entry(&body["downstream_columns"], "app.events", "amount");
    assert_eq!(
        amount["used_by"],
        json!([{"node": "stg_events", "relation": "main.stg_events", "column": "doubled", "kind": "direct"}])
    );
    let doubled = entry(&body["downstream_columns"], "stg_events", "doubled");
    assert_eq!(doubled["used_by"][0]["node"], "totals");
}

#[tokio::test]
async fn what_cannot_be_traced_says_why() {
    let shop = load_shop(true).await;
    let (status, body) = get_json(&shop.state, "/api/lineage/totls/columns").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("no model, seed or source named `totls`"),
        "{message}"
    );
    assert!(
        message.contains("hint: did you mean `totals`?"),
        "{message}"
    );

    let (status, body) = get_json(&shop.state, "/api/lineage/totals/columns?column=totl").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "column");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `total`?"),
        "{body}"
    );

    // `people` reads a seed that is not in the lake: the engine's own hint, what to build.
    let (status, body) = get_json(&shop.state, "/api/lineage/model.shop.people/columns").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "not_built");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("lakeforge build -s +people"),
        "{body}"
    );

    let (status, body) =
        get_json(&shop.state, "/api/lineage/totals/columns?downstream=maybe").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "downstream");
    let (status, body) = get_json(&shop.state, "/api/lineage/totals/columns?depth=1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["field"], "depth");

    let without = load_shop(false).await;
    let (status, body) = get_json(&without.state, "/api/lineage/totals/columns").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "no_lake");
}
