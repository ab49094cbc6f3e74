//! Unit tests of the semantic layer: the parse checks and the manifest.json it writes.

use std::collections::{BTreeMap, HashMap};

use super::*;

const LAYER: &str = r#"
semantic_models:
  - name: orders
    model: ref('orders')
    defaults: {agg_time_dimension: ordered_at}
    entities:
      - {name: order, type: primary, expr: order_id}
      - {name: customer, type: foreign, expr: customer_id}
    dimensions:
      - {name: ordered_at, type: time, type_params: {time_granularity: day}}
      - {name: status, type: categorical}
    measures:
      - {name: order_total, agg: sum, expr: amount}
      - {name: order_count, agg: sum, expr: 1, create_metric: true}
metrics:
  - name: revenue
    label: Revenue
    type: simple
    type_params: {measure: order_total}
    filter: "{{ Dimension('order__status') }} = 'paid'"
  - name: revenue_per_order
    label: Revenue per order
    type: ratio
    type_params: {numerator: revenue, denominator: order_count}
saved_queries:
  - name: daily_revenue
    query_params:
      metrics: [revenue, revenue_per_order]
      group_by: ["TimeDimension('metric_time', 'day')"]
      where: ["{{ Dimension('customer__region') }} = 'EU'"]
    exports:
      - {name: daily_revenue, config: {export_as: table}}
"#;

fn by_name() -> HashMap<String, String> {
    [
        ("orders", "model.shop.orders"),
        ("customers", "model.shop.customers"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

fn nodes() -> BTreeMap<String, Node> {
    BTreeMap::new()
}

fn build(yaml: &str) -> Result<SemanticLayer> {
    let props: SemanticProps = serde_yaml::from_str(yaml).unwrap();
    let by_name = by_name();
    let scope = Scope {
        project: "shop",
        model_paths: &["models".to_string()],
        by_name: &by_name,
    };
    check::build(
        &scope,
        &[("models/marts/semantic.yml".to_string(), props)],
        std::iter::empty(),
        &nodes(),
    )
}

#[test]
fn a_modern_layer_resolves_its_dependencies() {
    let layer = build(LAYER).unwrap();
    let sm = &layer.semantic_models["semantic_model.shop.orders"];
    assert_eq!(sm.model_id, "model.shop.orders");
    assert_eq!(sm.origin.fqn, ["shop", "marts", "orders"]);
    // `create_metric: true` declares a simple metric named after the measure.
    assert!(layer.metrics.contains_key("metric.shop.order_count"));
    let ratio = &layer.metrics["metric.shop.revenue_per_order"];
    assert_eq!(
        ratio.depends_on,
        ["metric.shop.revenue", "metric.shop.order_count"]
    );
    assert_eq!(ratio.input_measures, ["order_count", "order_total"]);
    let q = &layer.saved_queries["saved_query.shop.daily_revenue"];
    assert_eq!(
        q.depends_on,
        ["metric.shop.revenue", "metric.shop.revenue_per_order"]
    );
    // Templates stay as written.
    let json = metrics_json(&layer, "shop");
    assert_eq!(
        json["metric.shop.revenue"]["filter"]["where_filters"][0]["where_sql_template"],
        "{{ Dimension('order__status') }} = 'paid'"
    );
    let sq = saved_queries_json(&layer, "shop");
    assert_eq!(
        sq["saved_query.shop.daily_revenue"]["query_params"]["where"]["where_filters"][0]["where_sql_template"],
        "{{ Dimension('customer__region') }} = 'EU'"
    );
}

#[test]
fn a_metric_naming_a_missing_measure_names_the_file_and_metric() {
    let yaml = LAYER.replace("measure: order_total}", "measure: order_totl}");
    let err = build(&yaml).unwrap_err().to_string();
    assert!(
        err.starts_with("models/marts/semantic.yml: metric `revenue` names measure `order_totl` (measure), which no semantic model defines\nhint: did you mean `order_total`?"),
        "{err}"
    );
}

#[test]
fn mistakes_in_the_layer_are_named() {
    let cases = [
        (
            LAYER.replace("ref('orders')", "ref('ordrs')"),
            "semantic model `orders`: `model: ref('ordrs')` names no model of this project\nhint: did you mean `orders`?",
        ),
        (
            LAYER.replace("numerator: revenue,", "numerator: revenu,"),
            "metric `revenue_per_order` uses metric `revenu` (numerator), which is not defined\nhint: did you mean `revenue`?",
        ),
        (
            LAYER.replace(
                "metrics: [revenue, revenue_per_order]",
                "metrics: [revenue, margin]",
            ),
            "saved query `daily_revenue` queries metric `margin`, which is not defined",
        ),
        (
            LAYER.replace("defaults: {agg_time_dimension: ordered_at}", ""),
            "measure `order_total` of semantic model `orders` has no aggregation time dimension",
        ),
        (
            LAYER.replace("agg: sum, expr: amount", "agg: total, expr: amount"),
            "measure `order_total` of semantic model `orders` has agg `total`",
        ),
        (
            LAYER.replace("    label: Revenue\n", ""),
            "metric `revenue` has no `label:`",
        ),
        (
            LAYER.replace(
                "type_params: {numerator: revenue, denominator: order_count}",
                "type_params: {numerator: revenue_per_order, denominator: order_count}",
            ),
            "metrics use each other in a cycle: revenue_per_order -> revenue_per_order",
        ),
    ];
    for (yaml, expected) in cases {
        let err = build(&yaml).unwrap_err().to_string();
        assert!(err.contains(expected), "expected {expected:?} in:\n{err}");
        assert!(err.starts_with("models/marts/semantic.yml: "), "{err}");
    }
}

#[test]
fn disabled_definitions_are_left_out() {
    let yaml = LAYER.replace(
        "  - name: daily_revenue\n",
        "  - name: daily_revenue\n    config: {enabled: false}\n",
    );
    let layer = build(&yaml).unwrap();
    assert!(layer.saved_queries.is_empty());
}

#[test]
fn a_time_spine_needs_its_standard_column_with_a_granularity() {
    let by_name = by_name();
    let scope = Scope {
        project: "shop",
        model_paths: &["models".to_string()],
        by_name: &by_name,
    };
    let mut nodes = BTreeMap::new();
    // Only models that are nodes (enabled) carry a time spine.
    nodes.insert(
        "model.shop.customers".to_string(),
        test_node("model.shop.customers"),
    );
    let spine = |cols: &str| -> Result<SemanticLayer> {
        let model: crate::properties::ResourceProps = serde_yaml::from_str(&format!(
            "name: customers\ntime_spine: {{standard_granularity_column: date_day}}\ncolumns: {cols}\n"
        ))
        .unwrap();
        check::build(&scope, &[], [("models/spine.yml", &model)], &nodes)
    };
    let ok = spine("[{name: date_day, granularity: day}]").unwrap();
    assert_eq!(
        ok.time_spines["model.shop.customers"].granularities["date_day"],
        "day"
    );
    let err = spine("[{name: date_day}]").unwrap_err().to_string();
    assert!(
        err.contains(
            "models/spine.yml: time spine `customers`: column `date_day` has no `granularity:`"
        ),
        "{err}"
    );
    let err = spine("[{name: day}]").unwrap_err().to_string();
    assert!(
        err.contains(
            "`standard_granularity_column: date_day` is not among the model's `columns:` (day)"
        ),
        "{err}"
    );
}

fn test_node(id: &str) -> Node {
    let name = id.rsplit('.').next().unwrap().to_string();
    Node {
        unique_id: id.to_string(),
        name: name.clone(),
        resource_type: crate::node::ResourceType::Model,
        path: format!("models/{name}.sql"),
        fqn: vec!["shop".into(), name.clone()],
        description: String::new(),
        columns: Vec::new(),
        checksum: String::new(),
        config: crate::config::build_config(
            Default::default(),
            crate::node::Materialization::Table,
            "x",
        )
        .unwrap(),
        relation: crate::node::Relation::new("main", name),
        raw_code: String::new(),
        depends_on: Vec::new(),
        test: None,
        ml_model: None,
        snapshot: None,
    }
}
