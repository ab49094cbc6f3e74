//! A modern dbt 1.10 project (fixture `modern`): semantic models, metrics, saved queries, time
//! spines, and data tests written with `arguments:` and `config:`, all loaded and written to the
//! manifest as dbt does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lakeforge_project::{LoadOptions, Project, ResourceType, TestKind};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modern")
}

/// A copy of the fixture, to change a file of.
fn copy() -> tempfile::TempDir {
    fn walk(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), &to.join(e.file_name()));
            } else {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    walk(&fixture(), dir.path());
    dir
}

fn load(dir: &Path) -> lakeforge_project::Result<Project> {
    // The fixture has no profiles.yml: name an empty folder's so no user file is read.
    let profiles = tempfile::tempdir().unwrap();
    std::fs::write(
        profiles.path().join("profiles.yml"),
        "other: {outputs: {}}\n",
    )
    .unwrap();
    Project::load(
        dir,
        &LoadOptions {
            profiles_dir: Some(profiles.path().to_path_buf()),
            ..LoadOptions::default()
        },
    )
}

#[test]
fn the_semantic_layer_loads_into_the_manifest() {
    let p = load(&fixture()).unwrap();
    let layer = &p.semantic;
    assert_eq!(
        layer.semantic_models.keys().collect::<Vec<_>>(),
        ["semantic_model.modern.orders"]
    );
    let mut metrics: Vec<&str> = layer
        .metrics
        .values()
        .map(|m| m.origin.name.as_str())
        .collect();
    metrics.sort();
    assert_eq!(
        metrics,
        [
            "cumulative_revenue",
            "eu_revenue",
            "orders_placed",
            "revenue",
            "revenue_growth",
            "revenue_per_order"
        ]
    );

    let m = lakeforge_project::manifest::manifest_json(&p, &HashMap::new());
    let sm = &m["semantic_models"]["semantic_model.modern.orders"];
    assert_eq!(sm["depends_on"]["nodes"][0], "model.modern.orders");
    assert_eq!(sm["node_relation"]["relation_name"], "main.orders");
    assert_eq!(sm["measures"][1]["expr"], "1");
    let revenue = &m["metrics"]["metric.modern.revenue"];
    assert_eq!(revenue["type"], "simple");
    assert_eq!(
        revenue["depends_on"]["nodes"][0],
        "semantic_model.modern.orders"
    );
    // MetricFlow's templates are kept as written, never rendered as Jinja.
    assert_eq!(
        revenue["filter"]["where_filters"][0]["where_sql_template"],
        "{{ Dimension('order__status') }} = 'paid'\n"
    );
    assert_eq!(
        m["metrics"]["metric.modern.eu_revenue"]["type_params"]["measure"]["filter"]["where_filters"]
            [0]["where_sql_template"],
        "{{ Dimension('order__region') }} = 'EU'"
    );
    assert_eq!(
        m["metrics"]["metric.modern.revenue_growth"]["depends_on"]["nodes"],
        serde_json::json!(["metric.modern.revenue"])
    );
    let sq = &m["saved_queries"]["saved_query.modern.daily_revenue"];
    assert_eq!(
        sq["depends_on"]["nodes"],
        serde_json::json!(["metric.modern.revenue", "metric.modern.revenue_per_order"])
    );
    assert_eq!(
        sq["query_params"]["where"]["where_filters"][1]["where_sql_template"],
        "{{ Entity('customer') }} is not null"
    );
    assert_eq!(sq["exports"][0]["config"]["schema_name"], "exports");
    // Saved queries are not among the nodes of the manifest, as in dbt.
    assert!(m["nodes"].get("saved_query.modern.daily_revenue").is_none());

    // Both time spines load; the one declared in YAML says so in the manifest.
    let spine = &m["nodes"]["model.modern.time_spine_daily"];
    assert_eq!(
        spine["time_spine"]["standard_granularity_column"],
        "date_day"
    );
    assert_eq!(spine["columns"]["date_day"]["granularity"], "day");
    assert!(m["nodes"]["model.modern.metricflow_time_spine"].is_object());
}

#[test]
fn saved_queries_are_nodes_after_the_models_their_metrics_read() {
    let p = load(&fixture()).unwrap();
    let q = p.node("saved_query.modern.daily_revenue").unwrap();
    assert_eq!(q.resource_type, ResourceType::SavedQuery);
    assert_eq!(q.depends_on, ["model.modern.orders"]);
    assert_eq!(
        p.graph.parents["saved_query.modern.daily_revenue"],
        ["model.modern.orders"]
    );
    let selected =
        lakeforge_project::select(&p, &["resource_type:saved_query".into()], &[]).unwrap();
    assert_eq!(
        selected.into_iter().collect::<Vec<_>>(),
        ["saved_query.modern.daily_revenue"]
    );
}

#[test]
fn data_tests_take_arguments_and_config_in_either_place() {
    let p = load(&fixture()).unwrap();
    let generic = |name: &str, column: Option<&str>| {
        p.nodes
            .values()
            .find(|n| match &n.test {
                Some(TestKind::Generic {
                    name: t, column: c, ..
                }) => t == name && c.as_deref() == column,
                _ => false,
            })
            .unwrap_or_else(|| panic!("no {name} test on {column:?}"))
    };
    let args = |n: &lakeforge_project::Node| match &n.test {
        Some(TestKind::Generic { args, .. }) => args.clone(),
        _ => unreachable!(),
    };
    let status = generic("accepted_values", Some("status"));
    assert_eq!(
        args(status)["values"],
        serde_json::json!(["paid", "refunded"])
    );
    assert_eq!(status.config.where_clause.as_deref(), Some("amount > 0"));
    let region = generic("accepted_values", Some("region"));
    assert_eq!(args(region)["values"], serde_json::json!(["EU", "US"]));
    assert_eq!(region.config.severity, lakeforge_project::Severity::Warn);
    let rel = generic("relationships", Some("customer_id"));
    assert!(!args(rel).contains_key("description"));
    assert!(
        rel.depends_on
            .contains(&"seed.modern.raw_customers".to_string())
    );
    let custom = generic("dbt_utils_free_expression", None);
    assert_eq!(args(custom)["expression"], "amount > 0");
}

#[test]
fn a_metric_naming_a_missing_measure_is_an_error_naming_file_and_metric() {
    let dir = copy();
    let path = dir.path().join("models/semantic/orders.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace(
            "      measure: order_total\n    filter",
            "      measure: order_totals\n    filter",
        ),
    )
    .unwrap();
    let err = load(dir.path()).unwrap_err().to_string();
    assert!(
        err.starts_with("models/semantic/orders.yml: metric `revenue` names measure `order_totals` (measure), which no semantic model defines\nhint: did you mean `order_total`?"),
        "{err}"
    );
}

#[test]
fn a_semantic_model_of_a_missing_model_is_an_error() {
    let dir = copy();
    std::fs::remove_file(dir.path().join("models/marts/orders.sql")).unwrap();
    let schema = dir.path().join("models/marts/schema.yml");
    let text = std::fs::read_to_string(&schema).unwrap();
    // Without the model, its tests go too; keep the time spine.
    let start = text.find("  - name: orders").unwrap();
    let end = text.find("  - name: time_spine_daily").unwrap();
    std::fs::write(&schema, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let err = load(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("models/semantic/orders.yml: semantic model `orders`: `model: ref('orders')` names no model of this project"),
        "{err}"
    );
}
