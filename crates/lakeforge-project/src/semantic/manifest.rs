//! The semantic layer in manifest.json, in dbt's shapes (manifest v12): `semantic_models`,
//! `metrics` and `saved_queries` keyed by unique id, and `time_spine` on a model's node. Filters
//! appear as dbt writes them, `{"where_filters": [{"where_sql_template": "..."}]}`, the
//! template exactly as written.

use serde_json::{Map, Value, json};

use super::props::{Filters, Input};
use super::{Origin, SemanticLayer};
use crate::config::yaml_to_json;
use crate::node::Node;

fn opt_yaml(v: &Option<serde_yaml::Value>) -> Value {
    v.as_ref().map(yaml_to_json).unwrap_or(Value::Null)
}

/// An `expr:` as dbt stores it: text (a number written bare becomes its text).
fn expr(v: &Option<serde_yaml::Value>) -> Value {
    match v.as_ref().map(yaml_to_json) {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(s)) => Value::String(s),
        Some(other) => Value::String(other.to_string()),
    }
}

fn filters(f: &Option<Filters>) -> Value {
    match f {
        None => Value::Null,
        Some(f) => json!({
            "where_filters": f.templates().iter().map(|t| json!({"where_sql_template": t})).collect::<Vec<_>>()
        }),
    }
}

fn common(o: &Origin, resource_type: &str, project: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(o.name));
    m.insert("resource_type".into(), json!(resource_type));
    m.insert("package_name".into(), json!(project));
    m.insert("path".into(), json!(o.path));
    m.insert("original_file_path".into(), json!(o.path));
    m.insert("unique_id".into(), json!(o.unique_id));
    m.insert("fqn".into(), json!(o.fqn));
    m.insert("config".into(), Value::Object(o.config.clone()));
    m.insert(
        "meta".into(),
        o.config.get("meta").cloned().unwrap_or_else(|| json!({})),
    );
    m.insert(
        "group".into(),
        o.config.get("group").cloned().unwrap_or(Value::Null),
    );
    m
}

fn measure_input(i: &Input) -> Value {
    match i {
        Input::Name(n) => {
            json!({"name": n, "filter": null, "alias": null, "join_to_timespine": false, "fill_nulls_with": null})
        }
        Input::Full {
            name,
            filter,
            alias,
            join_to_timespine,
            fill_nulls_with,
            ..
        } => json!({
            "name": name,
            "filter": filters(filter),
            "alias": alias,
            "join_to_timespine": join_to_timespine.unwrap_or(false),
            "fill_nulls_with": opt_yaml(fill_nulls_with),
        }),
    }
}

fn metric_input(i: &Input) -> Value {
    match i {
        Input::Name(n) => {
            json!({"name": n, "filter": null, "alias": null, "offset_window": null, "offset_to_grain": null})
        }
        Input::Full {
            name,
            filter,
            alias,
            offset_window,
            offset_to_grain,
            ..
        } => json!({
            "name": name,
            "filter": filters(filter),
            "alias": alias,
            "offset_window": offset_window,
            "offset_to_grain": offset_to_grain,
        }),
    }
}

/// `semantic_models` of the manifest; `nodes` give each one's relation.
pub fn semantic_models_json(
    layer: &SemanticLayer,
    project: &str,
    nodes: &std::collections::BTreeMap<String, Node>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for sm in layer.semantic_models.values() {
        let p = &sm.props;
        let mut m = common(&sm.origin, "semantic_model", project);
        let relation = nodes.get(&sm.model_id).map(|n| &n.relation);
        m.insert("model".into(), json!(p.model));
        m.insert(
            "node_relation".into(),
            match relation {
                Some(r) => json!({
                    "alias": r.identifier,
                    "schema_name": r.schema,
                    "database": null,
                    "relation_name": r.to_string(),
                }),
                None => Value::Null,
            },
        );
        m.insert("description".into(), json!(p.description));
        m.insert("label".into(), json!(p.label));
        m.insert(
            "defaults".into(),
            match &p.defaults {
                Some(d) => json!({"agg_time_dimension": d.agg_time_dimension}),
                None => Value::Null,
            },
        );
        m.insert("primary_entity".into(), json!(p.primary_entity));
        m.insert(
            "entities".into(),
            p.entities
                .iter()
                .map(|e| {
                    json!({
                        "name": e.name, "type": e.kind, "description": e.description,
                        "label": e.label, "role": e.role, "expr": expr(&e.expr),
                        "config": opt_yaml(&e.config),
                    })
                })
                .collect(),
        );
        m.insert(
            "dimensions".into(),
            p.dimensions
                .iter()
                .map(|d| {
                    json!({
                        "name": d.name, "type": d.kind, "description": d.description,
                        "label": d.label, "is_partition": d.is_partition,
                        "type_params": opt_yaml(&d.type_params), "expr": expr(&d.expr),
                        "metadata": null, "config": opt_yaml(&d.config),
                    })
                })
                .collect(),
        );
        m.insert(
            "measures".into(),
            p.measures
                .iter()
                .map(|x| {
                    json!({
                        "name": x.name, "agg": x.agg, "description": x.description,
                        "label": x.label, "create_metric": x.create_metric, "expr": expr(&x.expr),
                        "agg_params": opt_yaml(&x.agg_params),
                        "non_additive_dimension": opt_yaml(&x.non_additive_dimension),
                        "agg_time_dimension": x.agg_time_dimension,
                        "config": opt_yaml(&x.config),
                    })
                })
                .collect(),
        );
        m.insert("metadata".into(), Value::Null);
        m.insert(
            "depends_on".into(),
            json!({"macros": [], "nodes": [sm.model_id]}),
        );
        let model_name = sm.model_id.rsplit('.').next().unwrap_or(&sm.model_id);
        m.insert(
            "refs".into(),
            json!([{"name": model_name, "package": null, "version": null}]),
        );
        out.insert(sm.origin.unique_id.clone(), Value::Object(m));
    }
    out
}

/// `metrics` of the manifest.
pub fn metrics_json(layer: &SemanticLayer, project: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for metric in layer.metrics.values() {
        let p = &metric.props;
        let tp = &p.type_params;
        let mut m = common(&metric.origin, "metric", project);
        m.insert(
            "description".into(),
            json!(p.description.clone().unwrap_or_default()),
        );
        m.insert("label".into(), json!(p.label));
        m.insert("type".into(), json!(p.kind));
        m.insert(
            "type_params".into(),
            json!({
                "measure": tp.measure.as_ref().map(measure_input),
                "input_measures": metric.input_measures.iter().map(|n| measure_input(&Input::Name(n.clone()))).collect::<Vec<_>>(),
                "numerator": tp.numerator.as_ref().map(metric_input),
                "denominator": tp.denominator.as_ref().map(metric_input),
                "expr": expr(&tp.expr),
                "window": tp.window,
                "grain_to_date": tp.grain_to_date,
                "metrics": tp.metrics.iter().map(metric_input).collect::<Vec<_>>(),
                "conversion_type_params": tp.conversion_type_params.as_ref().map(|c| json!({
                    "base_measure": measure_input(&c.base_measure),
                    "conversion_measure": measure_input(&c.conversion_measure),
                    "entity": c.entity,
                    "calculation": c.calculation.clone().unwrap_or_else(|| "conversion_rate".into()),
                    "window": c.window,
                    "constant_properties": opt_yaml(&c.constant_properties),
                })),
                "cumulative_type_params": opt_yaml(&tp.cumulative_type_params),
            }),
        );
        m.insert("filter".into(), filters(&p.filter));
        m.insert("time_granularity".into(), json!(p.time_granularity));
        m.insert("metadata".into(), Value::Null);
        if let Some(meta) = &p.meta {
            m.insert("meta".into(), yaml_to_json(meta));
        }
        m.insert(
            "depends_on".into(),
            json!({"macros": [], "nodes": metric.depends_on}),
        );
        m.insert(
            "metrics".into(),
            json!(
                metric
                    .depends_on
                    .iter()
                    .filter(|d| d.starts_with("metric."))
                    .map(|d| vec![d.rsplit('.').next().unwrap_or(d)])
                    .collect::<Vec<_>>()
            ),
        );
        out.insert(metric.origin.unique_id.clone(), Value::Object(m));
    }
    out
}

/// `saved_queries` of the manifest.
pub fn saved_queries_json(layer: &SemanticLayer, project: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for q in layer.saved_queries.values() {
        let p = &q.props;
        let mut m = common(&q.origin, "saved_query", project);
        m.insert("description".into(), json!(p.description));
        m.insert("label".into(), json!(p.label));
        m.insert(
            "query_params".into(),
            json!({
                "metrics": p.query_params.metrics,
                "group_by": p.query_params.group_by,
                "where": filters(&p.query_params.filter),
                "order_by": p.query_params.order_by,
                "limit": p.query_params.limit,
            }),
        );
        m.insert(
            "exports".into(),
            p.exports
                .iter()
                .map(|e| {
                    let c = opt_yaml(&e.config);
                    let get = |k: &str| c.get(k).cloned().unwrap_or(Value::Null);
                    json!({
                        "name": e.name,
                        "config": {
                            "export_as": c.get("export_as").cloned().unwrap_or(json!("table")),
                            "schema_name": get("schema"),
                            "alias": c.get("alias").cloned().unwrap_or(json!(e.name)),
                            "database": get("database"),
                        },
                        "unrendered_config": if c.is_null() { json!({}) } else { c.clone() },
                    })
                })
                .collect(),
        );
        m.insert("metadata".into(), Value::Null);
        m.insert(
            "depends_on".into(),
            json!({"macros": [], "nodes": q.depends_on}),
        );
        m.insert("refs".into(), json!([]));
        out.insert(q.origin.unique_id.clone(), Value::Object(m));
    }
    out
}

/// `time_spine` of a model's node, when the model is one.
pub fn time_spine_json(layer: &SemanticLayer, model_id: &str) -> Option<Value> {
    let spine = layer.time_spines.get(model_id)?;
    Some(json!({
        "standard_granularity_column": spine.props.standard_granularity_column,
        "custom_granularities": spine.props.custom_granularities.iter().map(|c| json!({
            "name": c.name,
            "column_name": c.column_name,
        })).collect::<Vec<_>>(),
    }))
}
