//! Checking the semantic layer as dbt's parse does, and resolving what each definition depends
//! on: a semantic model's `ref()`, a metric's measures and metrics, a saved query's metrics, a
//! time spine's columns. Every error names the properties file and the definition at fault.

use std::collections::{BTreeMap, BTreeSet};

use super::props::{Input, MetricProps, SemanticProps};
use super::{Metric, Origin, SavedQuery, Scope, SemanticLayer, SemanticModel, TimeSpine};
use crate::config::build_config;
use crate::error::{ProjectError, Result, suggest};
use crate::node::{Materialization, Node, Relation, ResourceType};
use crate::properties::{ResourceProps, config_layer};

const ENTITY_TYPES: &[&str] = &["primary", "unique", "foreign", "natural"];
const DIMENSION_TYPES: &[&str] = &["categorical", "time"];
const AGGREGATIONS: &[&str] = &[
    "sum",
    "max",
    "min",
    "count_distinct",
    "sum_boolean",
    "average",
    "percentile",
    "median",
    "count",
];
const METRIC_TYPES: &[&str] = &["simple", "ratio", "cumulative", "derived", "conversion"];

fn bad(path: &str, message: String) -> ProjectError {
    ProjectError::Config {
        path: path.into(),
        message,
    }
}

fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    match suggest(name, known) {
        Some(s) => format!("did you mean `{s}`?"),
        None => "check the spelling".to_string(),
    }
}

/// A measure, with the semantic model defining it.
struct MeasureAt {
    semantic_model: String,
    path: String,
}

pub(super) fn build<'a>(
    scope: &Scope<'_>,
    files: &[(String, SemanticProps)],
    models: impl IntoIterator<Item = (&'a str, &'a ResourceProps)>,
    nodes: &BTreeMap<String, Node>,
) -> Result<SemanticLayer> {
    let mut layer = SemanticLayer::default();
    let mut measures: BTreeMap<String, MeasureAt> = BTreeMap::new();
    // Metrics written in YAML, and those measures ask for with `create_metric: true`.
    let mut metric_defs: Vec<(String, MetricProps)> = Vec::new();

    for (path, file) in files {
        for sm in &file.semantic_models {
            let what = format!("semantic model `{}`", sm.name);
            let Some(origin) = origin(scope, path, "semantic_model", &sm.name, &sm.config)? else {
                continue;
            };
            if let Some(first) = layer.semantic_models.get(&origin.unique_id) {
                return Err(bad(
                    path,
                    format!(
                        "{what} is declared twice (also in {})\nhint: rename one of them",
                        first.origin.path
                    ),
                ));
            }
            let model_id = semantic_model_ref(scope, path, &what, sm.model.as_deref())?;
            check_members(path, &what, sm)?;
            for m in &sm.measures {
                if let Some(first) = measures.get(&m.name) {
                    return Err(bad(
                        path,
                        format!(
                            "measure `{}` of {what} is also defined by semantic model `{}` ({})\nhint: measure names are unique across semantic models; rename one",
                            m.name, first.semantic_model, first.path
                        ),
                    ));
                }
                measures.insert(
                    m.name.clone(),
                    MeasureAt {
                        semantic_model: origin.unique_id.clone(),
                        path: path.clone(),
                    },
                );
                if m.create_metric {
                    metric_defs.push((
                        path.clone(),
                        MetricProps {
                            name: m.name.clone(),
                            kind: "simple".into(),
                            label: Some(m.label.clone().unwrap_or_else(|| m.name.clone())),
                            description: m.description.clone(),
                            type_params: super::props::TypeParams {
                                measure: Some(Input::Name(m.name.clone())),
                                ..Default::default()
                            },
                            filter: None,
                            time_granularity: None,
                            config: None,
                            meta: None,
                        },
                    ));
                }
            }
            layer.semantic_models.insert(
                origin.unique_id.clone(),
                SemanticModel {
                    origin,
                    props: sm.clone(),
                    model_id,
                },
            );
        }
        for m in &file.metrics {
            metric_defs.push((path.clone(), m.clone()));
        }
    }

    let metric_names: BTreeMap<&str, &str> = metric_defs
        .iter()
        .map(|(p, m)| (m.name.as_str(), p.as_str()))
        .collect();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (path, m) in &metric_defs {
        let Some(origin) = origin(scope, path, "metric", &m.name, &m.config)? else {
            continue;
        };
        if let Some(first) = seen.insert(m.name.clone(), path.clone()) {
            return Err(bad(
                path,
                format!(
                    "metric `{}` is declared twice (also in {first}; a measure with `create_metric: true` declares one too)\nhint: rename one of them",
                    m.name
                ),
            ));
        }
        let depends_on = metric_inputs(scope, path, m, &measures, &metric_names)?;
        layer.metrics.insert(
            origin.unique_id.clone(),
            Metric {
                origin,
                props: m.clone(),
                depends_on,
                input_measures: Vec::new(),
            },
        );
    }
    check_metric_cycles(&layer)?;
    let ids: Vec<String> = layer.metrics.keys().cloned().collect();
    for id in ids {
        let mut found = BTreeSet::new();
        collect_measures(&layer, &id, &mut found, &mut BTreeSet::new());
        if let Some(metric) = layer.metrics.get_mut(&id) {
            metric.input_measures = found.into_iter().collect();
        }
    }

    for (path, file) in files {
        for q in &file.saved_queries {
            let what = format!("saved query `{}`", q.name);
            let Some(origin) = origin(scope, path, "saved_query", &q.name, &q.config)? else {
                continue;
            };
            if layer.saved_queries.contains_key(&origin.unique_id) {
                return Err(bad(
                    path,
                    format!("{what} is declared twice\nhint: rename one of them"),
                ));
            }
            if q.query_params.metrics.is_empty() {
                return Err(bad(
                    path,
                    format!(
                        "{what} queries no metric\nhint: list at least one under `query_params: {{metrics: [...]}}`"
                    ),
                ));
            }
            let mut depends_on = Vec::new();
            for name in &q.query_params.metrics {
                let id = format!("metric.{}.{name}", scope.project);
                if !layer.metrics.contains_key(&id) {
                    return Err(bad(
                        path,
                        format!(
                            "{what} queries metric `{name}`, which is not defined\nhint: {}",
                            did_you_mean(name, metric_names.keys().copied())
                        ),
                    ));
                }
                push_unique(&mut depends_on, id);
            }
            layer.saved_queries.insert(
                origin.unique_id.clone(),
                SavedQuery {
                    origin,
                    props: q.clone(),
                    depends_on,
                },
            );
        }
    }

    for (path, model) in models {
        if let Some(spine) = &model.time_spine {
            let Some(id) = scope.by_name.get(&model.name) else {
                continue;
            };
            if !nodes.contains_key(id) {
                continue;
            }
            check_time_spine(path, model, spine)?;
            layer.time_spines.insert(
                id.clone(),
                TimeSpine {
                    model_id: id.clone(),
                    props: spine.clone(),
                    granularities: model
                        .columns
                        .iter()
                        .filter_map(|c| Some((c.name.clone(), c.granularity.clone()?)))
                        .collect(),
                },
            );
        }
    }
    Ok(layer)
}

/// The identity of a definition, or None when its config disables it.
fn origin(
    scope: &Scope<'_>,
    path: &str,
    kind: &str,
    name: &str,
    config: &Option<serde_yaml::Value>,
) -> Result<Option<Origin>> {
    let config = config_layer(config);
    let enabled = match config.get("enabled") {
        None | Some(serde_json::Value::Null) => true,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(other) => {
            return Err(bad(
                path,
                format!("{kind} `{name}`: `enabled` must be true or false, not {other}"),
            ));
        }
    };
    if !enabled {
        return Ok(None);
    }
    let mut config: serde_json::Map<String, serde_json::Value> = config.into_iter().collect();
    config.insert("enabled".into(), serde_json::Value::Bool(true));
    let fqn = crate::load::fqn_of(scope.project, path, scope.model_paths, name);
    Ok(Some(Origin {
        unique_id: format!("{kind}.{}.{name}", scope.project),
        name: name.to_string(),
        path: path.to_string(),
        fqn,
        config,
    }))
}

/// `model: ref('orders')` (or `ref("orders")`, `ref('package', 'orders')`) to the unique id of
/// the node it names. Parsed, not rendered: the semantic layer is not Jinja.
fn semantic_model_ref(
    scope: &Scope<'_>,
    path: &str,
    what: &str,
    model: Option<&str>,
) -> Result<String> {
    let Some(model) = model.map(str::trim).filter(|m| !m.is_empty()) else {
        return Err(bad(
            path,
            format!(
                "{what} has no `model:`\nhint: name the model it describes, e.g. `model: ref('orders')`"
            ),
        ));
    };
    let re = crate::literal_regex(
        r#"^ref\(\s*(?:['"][^'"]+['"]\s*,\s*)?['"]([^'"]+)['"]\s*(?:,\s*v(?:ersion)?\s*=\s*[^)]*)?\)$"#,
    );
    let Some(name) = re.captures(model).map(|c| c[1].to_string()) else {
        return Err(bad(
            path,
            format!("{what}: `model: {model}` is not a ref()\nhint: write `model: ref('orders')`"),
        ));
    };
    scope.by_name.get(&name).cloned().ok_or_else(|| {
        bad(
            path,
            format!(
                "{what}: `model: {model}` names no model of this project\nhint: {}",
                did_you_mean(&name, scope.by_name.keys().map(String::as_str))
            ),
        )
    })
}

/// Entities, dimensions and measures of one semantic model: known types, unique names, and an
/// aggregation time dimension for each measure that is a time dimension of the model.
fn check_members(path: &str, what: &str, sm: &super::props::SemanticModelProps) -> Result<()> {
    let mut names = BTreeSet::new();
    for e in &sm.entities {
        if !ENTITY_TYPES.contains(&e.kind.as_str()) {
            return Err(bad(
                path,
                format!(
                    "entity `{}` of {what} has type `{}`\nhint: use one of {}",
                    e.name,
                    e.kind,
                    ENTITY_TYPES.join(", ")
                ),
            ));
        }
    }
    for d in &sm.dimensions {
        if !DIMENSION_TYPES.contains(&d.kind.as_str()) {
            return Err(bad(
                path,
                format!(
                    "dimension `{}` of {what} has type `{}`\nhint: use categorical or time",
                    d.name, d.kind
                ),
            ));
        }
        let granularity = d
            .type_params
            .as_ref()
            .and_then(|t| t.get("time_granularity"))
            .is_some();
        if d.kind == "time" && !granularity {
            return Err(bad(
                path,
                format!(
                    "time dimension `{}` of {what} has no granularity\nhint: add `type_params: {{time_granularity: day}}`",
                    d.name
                ),
            ));
        }
    }
    for name in sm
        .dimensions
        .iter()
        .map(|d| &d.name)
        .chain(sm.measures.iter().map(|m| &m.name))
    {
        if !names.insert(name.as_str()) {
            return Err(bad(
                path,
                format!(
                    "{what} defines `{name}` twice (as dimension or measure)\nhint: rename one"
                ),
            ));
        }
    }
    let time_dims: Vec<&str> = sm
        .dimensions
        .iter()
        .filter(|d| d.kind == "time")
        .map(|d| d.name.as_str())
        .collect();
    let default = sm
        .defaults
        .as_ref()
        .and_then(|d| d.agg_time_dimension.as_deref());
    for m in &sm.measures {
        if !AGGREGATIONS.contains(&m.agg.as_str()) {
            return Err(bad(
                path,
                format!(
                    "measure `{}` of {what} has agg `{}`\nhint: use one of {}",
                    m.name,
                    m.agg,
                    AGGREGATIONS.join(", ")
                ),
            ));
        }
        match m.agg_time_dimension.as_deref().or(default) {
            None => {
                return Err(bad(
                    path,
                    format!(
                        "measure `{}` of {what} has no aggregation time dimension\nhint: set `defaults: {{agg_time_dimension: <time dimension>}}` on the semantic model, or `agg_time_dimension:` on the measure",
                        m.name
                    ),
                ));
            }
            Some(t) if !time_dims.contains(&t) => {
                return Err(bad(
                    path,
                    format!(
                        "measure `{}` of {what} aggregates over time dimension `{t}`, which the semantic model does not define (its time dimensions: {})\nhint: {}",
                        m.name,
                        if time_dims.is_empty() {
                            "none".to_string()
                        } else {
                            time_dims.join(", ")
                        },
                        did_you_mean(t, time_dims.iter().copied())
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// What a metric depends on (semantic models of its measures, metrics it uses), each input
/// checked to exist.
fn metric_inputs(
    scope: &Scope<'_>,
    path: &str,
    m: &MetricProps,
    measures: &BTreeMap<String, MeasureAt>,
    metrics: &BTreeMap<&str, &str>,
) -> Result<Vec<String>> {
    let what = format!("metric `{}`", m.name);
    if !METRIC_TYPES.contains(&m.kind.as_str()) {
        return Err(bad(
            path,
            format!(
                "{what} has type `{}`\nhint: use one of {}",
                m.kind,
                METRIC_TYPES.join(", ")
            ),
        ));
    }
    if m.label.as_deref().is_none_or(|l| l.trim().is_empty()) {
        return Err(bad(
            path,
            format!(
                "{what} has no `label:`\nhint: dbt requires one, e.g. `label: {}`",
                m.name
            ),
        ));
    }
    let tp = &m.type_params;
    let mut out = Vec::new();
    let measure = |field: &str, input: Option<&Input>, out: &mut Vec<String>| -> Result<()> {
        let Some(input) = input else {
            return Err(bad(
                path,
                format!(
                    "{what} (type {}) needs `type_params: {{{field}: <measure>}}`\nhint: name a measure of a semantic model",
                    m.kind
                ),
            ));
        };
        let name = input.name();
        match measures.get(name) {
            Some(at) => {
                push_unique(out, at.semantic_model.clone());
                Ok(())
            }
            None => Err(bad(
                path,
                format!(
                    "{what} names measure `{name}` ({field}), which no semantic model defines\nhint: {}",
                    did_you_mean(name, measures.keys().map(String::as_str))
                ),
            )),
        }
    };
    let metric = |field: &str, input: &Input, out: &mut Vec<String>| -> Result<()> {
        let name = input.name();
        if !metrics.contains_key(name) {
            return Err(bad(
                path,
                format!(
                    "{what} uses metric `{name}` ({field}), which is not defined\nhint: {}",
                    did_you_mean(name, metrics.keys().copied())
                ),
            ));
        }
        push_unique(out, format!("metric.{}.{name}", scope.project));
        Ok(())
    };
    match m.kind.as_str() {
        "simple" | "cumulative" => measure("measure", tp.measure.as_ref(), &mut out)?,
        "ratio" => {
            for (field, input) in [
                ("numerator", &tp.numerator),
                ("denominator", &tp.denominator),
            ] {
                let Some(input) = input else {
                    return Err(bad(
                        path,
                        format!("{what} (type ratio) needs `type_params: {{{field}: <metric>}}`"),
                    ));
                };
                metric(field, input, &mut out)?;
            }
        }
        "derived" => {
            if tp.expr.is_none() || tp.metrics.is_empty() {
                return Err(bad(
                    path,
                    format!(
                        "{what} (type derived) needs `type_params: {{expr: ..., metrics: [...]}}`\nhint: e.g. `expr: revenue - cost` with `metrics: [revenue, cost]`"
                    ),
                ));
            }
            for input in &tp.metrics {
                metric("metrics", input, &mut out)?;
            }
        }
        _ => {
            let Some(c) = &tp.conversion_type_params else {
                return Err(bad(
                    path,
                    format!(
                        "{what} (type conversion) needs `type_params: {{conversion_type_params: {{base_measure:, conversion_measure:, entity:}}}}`"
                    ),
                ));
            };
            measure("base_measure", Some(&c.base_measure), &mut out)?;
            measure("conversion_measure", Some(&c.conversion_measure), &mut out)?;
        }
    }
    Ok(out)
}

/// Derived and ratio metrics must not use themselves, directly or through others.
fn check_metric_cycles(layer: &SemanticLayer) -> Result<()> {
    fn visit(
        layer: &SemanticLayer,
        id: &str,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Result<()> {
        if done.contains(id) {
            return Ok(());
        }
        if let Some(at) = stack.iter().position(|s| s == id) {
            let cycle: Vec<&str> = stack[at..]
                .iter()
                .map(String::as_str)
                .chain(std::iter::once(id))
                .map(|s| s.rsplit('.').next().unwrap_or(s))
                .collect();
            let m = &layer.metrics[id];
            return Err(bad(
                &m.origin.path,
                format!(
                    "metrics use each other in a cycle: {}\nhint: a derived or ratio metric cannot be computed from itself",
                    cycle.join(" -> ")
                ),
            ));
        }
        stack.push(id.to_string());
        if let Some(m) = layer.metrics.get(id) {
            for dep in m.depends_on.iter().filter(|d| d.starts_with("metric.")) {
                visit(layer, dep, stack, done)?;
            }
        }
        stack.pop();
        done.insert(id.to_string());
        Ok(())
    }
    let mut done = BTreeSet::new();
    for id in layer.metrics.keys() {
        visit(layer, id, &mut Vec::new(), &mut done)?;
    }
    Ok(())
}

/// The measures a metric aggregates, through the metrics it uses.
fn collect_measures(
    layer: &SemanticLayer,
    id: &str,
    out: &mut BTreeSet<String>,
    seen: &mut BTreeSet<String>,
) {
    if !seen.insert(id.to_string()) {
        return;
    }
    let Some(m) = layer.metrics.get(id) else {
        return;
    };
    let tp = &m.props.type_params;
    for input in [&tp.measure].into_iter().flatten().chain(
        tp.conversion_type_params
            .iter()
            .flat_map(|c| [&c.base_measure, &c.conversion_measure]),
    ) {
        out.insert(input.name().to_string());
    }
    for dep in m.depends_on.iter().filter(|d| d.starts_with("metric.")) {
        collect_measures(layer, dep, out, seen);
    }
}

/// `time_spine:` of a model: its standard granularity column (and those of custom
/// granularities) must be columns of the model, the standard one with a `granularity:`.
fn check_time_spine(
    path: &str,
    model: &ResourceProps,
    spine: &super::props::TimeSpineProps,
) -> Result<()> {
    let what = format!("time spine `{}`", model.name);
    let columns: Vec<&str> = model.columns.iter().map(|c| c.name.as_str()).collect();
    let standard = &spine.standard_granularity_column;
    let Some(column) = model.columns.iter().find(|c| &c.name == standard) else {
        return Err(bad(
            path,
            format!(
                "{what}: `standard_granularity_column: {standard}` is not among the model's `columns:` ({})\nhint: declare the column with its granularity, e.g. `- name: {standard}` and `granularity: day`",
                if columns.is_empty() {
                    "none declared".to_string()
                } else {
                    columns.join(", ")
                }
            ),
        ));
    };
    if column.granularity.is_none() {
        return Err(bad(
            path,
            format!(
                "{what}: column `{standard}` has no `granularity:`\nhint: add `granularity: day` (or the grain of its rows) to the column"
            ),
        ));
    }
    for custom in &spine.custom_granularities {
        let col = custom.column_name.as_deref().unwrap_or(&custom.name);
        if !columns.contains(&col) {
            return Err(bad(
                path,
                format!(
                    "{what}: custom granularity `{}` reads column `{col}`, which is not among the model's `columns:`\nhint: declare the column, or fix `column_name:`",
                    custom.name
                ),
            ));
        }
    }
    Ok(())
}

/// Each saved query as a node of the graph: `build` runs it as a no-op after the models its
/// metrics read (through their semantic models).
pub(super) fn saved_query_nodes(
    layer: &SemanticLayer,
    nodes: &BTreeMap<String, Node>,
) -> Result<Vec<Node>> {
    let mut out = Vec::new();
    for q in layer.saved_queries.values() {
        let mut models = Vec::new();
        let mut seen = BTreeSet::new();
        let mut stack: Vec<String> = q.depends_on.clone();
        while let Some(id) = stack.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            if let Some(m) = layer.metrics.get(&id) {
                stack.extend(m.depends_on.iter().cloned());
            } else if let Some(sm) = layer.semantic_models.get(&id)
                && nodes.contains_key(&sm.model_id)
            {
                push_unique(&mut models, sm.model_id.clone());
            }
        }
        models.sort();
        let layer_config: crate::config::ConfigLayer = q
            .origin
            .config
            .iter()
            .filter(|(k, _)| k.as_str() != "schema" && k.as_str() != "alias")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let config = build_config(layer_config, Materialization::Ephemeral, &q.origin.path)?;
        let checksum = crate::load::checksum(
            format!(
                "{:?}|{:?}",
                q.props.query_params,
                q.props.exports.iter().map(|e| &e.name).collect::<Vec<_>>()
            )
            .as_bytes(),
        );
        out.push(Node {
            unique_id: q.origin.unique_id.clone(),
            name: q.origin.name.clone(),
            resource_type: ResourceType::SavedQuery,
            path: q.origin.path.clone(),
            fqn: q.origin.fqn.clone(),
            description: q.props.description.clone().unwrap_or_default(),
            columns: Vec::new(),
            checksum,
            config: {
                let mut c = config;
                c.materialized = Materialization::Ephemeral;
                c
            },
            // A saved query writes nothing; the relation only names it.
            relation: Relation::new(String::new(), q.origin.name.clone()),
            raw_code: String::new(),
            depends_on: models,
            test: None,
            ml_model: None,
            snapshot: None,
        });
    }
    Ok(out)
}

fn push_unique(v: &mut Vec<String>, id: String) {
    if !v.contains(&id) {
        v.push(id);
    }
}
