//! Config resolution: dbt's `models:`/`seeds:` hierarchy in dbt_project.yml, `config:` in
//! properties YAML and `config()` in SQL are layers of key/value pairs; later layers override
//! earlier ones, except `tags`, which accumulate as in dbt.

use std::collections::BTreeMap;

use crate::error::{ProjectError, Result};
use crate::node::{IncrementalStrategy, Materialization, NodeConfig, OnSchemaChange, Severity};

pub type ConfigLayer = BTreeMap<String, serde_json::Value>;

/// Config keys whose values are mappings, so a mapping under one of these names in the
/// hierarchy is a config rather than a folder.
const MAPPING_CONFIGS: &[&str] = &[
    "column_types",
    "meta",
    "docs",
    "persist_docs",
    "contract",
    "quarantine",
    "export",
    "grants",
];

/// Collect the configs that apply to a node whose fully qualified name is `fqn`
/// (project name, folders..., node name) from a `models:` or `seeds:` tree.
pub fn hierarchy_layer(tree: &serde_yaml::Value, fqn: &[String]) -> ConfigLayer {
    let mut layer = ConfigLayer::new();
    let mut current = tree;
    // Level 0 is the tree's root (configs for every node), then one level per fqn segment.
    for segment in std::iter::once(None).chain(fqn.iter().map(Some)) {
        if let Some(segment) = segment {
            match current.get(segment.as_str()) {
                Some(next) if next.is_mapping() => current = next,
                _ => break,
            }
        }
        let Some(map) = current.as_mapping() else {
            break;
        };
        for (k, v) in map {
            let Some(key) = k.as_str() else { continue };
            let (is_config, key) = match key.strip_prefix('+') {
                Some(stripped) => (true, stripped),
                None => (!v.is_mapping() || MAPPING_CONFIGS.contains(&key), key),
            };
            if is_config {
                merge_key(&mut layer, key, yaml_to_json(v));
            }
        }
    }
    layer
}

/// Merge `other` into `base` with dbt's rules.
pub fn merge(base: &mut ConfigLayer, other: &ConfigLayer) {
    for (k, v) in other {
        merge_key(base, k, v.clone());
    }
}

fn merge_key(base: &mut ConfigLayer, key: &str, value: serde_json::Value) {
    let key = normalize_key(key);
    if key == "tags" {
        let mut tags: Vec<serde_json::Value> = match base.remove("tags") {
            Some(serde_json::Value::Array(a)) => a,
            Some(v) => vec![v],
            None => vec![],
        };
        match value {
            serde_json::Value::Array(a) => tags.extend(a),
            v => tags.push(v),
        }
        let mut seen = std::collections::BTreeSet::new();
        tags.retain(|t| seen.insert(t.to_string()));
        base.insert(key, serde_json::Value::Array(tags));
    } else if key == "pre_hook" || key == "post_hook" {
        // Hooks accumulate as in dbt: the project's, then the properties file's, then the
        // model's own config() run in that order.
        let mut hooks = match base.remove(&key) {
            Some(serde_json::Value::Array(a)) => a,
            Some(serde_json::Value::Null) | None => vec![],
            Some(v) => vec![v],
        };
        match value {
            serde_json::Value::Array(a) => hooks.extend(a),
            serde_json::Value::Null => {}
            v => hooks.push(v),
        }
        base.insert(key, serde_json::Value::Array(hooks));
    } else {
        base.insert(key, value);
    }
}

fn normalize_key(key: &str) -> String {
    // dbt accepts both pre-hook and pre_hook spellings.
    key.replace('-', "_")
}

pub fn yaml_to_json(v: &serde_yaml::Value) -> serde_json::Value {
    match v {
        serde_yaml::Value::Null => serde_json::Value::Null,
        serde_yaml::Value::Bool(b) => serde_json::Value::Bool(*b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                serde_json::Value::from(i)
            } else if let Some(u) = n.as_u64() {
                serde_json::Value::from(u)
            } else {
                serde_json::Value::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_yaml::Value::String(s) => serde_json::Value::String(s.clone()),
        serde_yaml::Value::Sequence(s) => s.iter().map(yaml_to_json).collect(),
        serde_yaml::Value::Mapping(m) => m
            .iter()
            .map(|(k, v)| {
                let key = match k {
                    serde_yaml::Value::String(s) => s.clone(),
                    other => serde_yaml::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                (key, yaml_to_json(v))
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
        serde_yaml::Value::Tagged(t) => yaml_to_json(&t.value),
    }
}

fn as_string_list(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::Array(a) => a.iter().map(json_to_plain_string).collect(),
        serde_json::Value::Null => vec![],
        other => vec![json_to_plain_string(other)],
    }
}

pub(crate) fn json_to_plain_string(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn as_bool(v: &serde_json::Value) -> Option<bool> {
    match v {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" => Some(true),
            "false" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Seconds from `30`, `1.5`, `"90s"`, `"10m"` or `"2h"`; zero or negative is not a duration.
fn parse_duration(v: &serde_json::Value) -> Option<f64> {
    let secs = match v {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => {
            let s = s.trim();
            let (num, unit) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
                Some((i, _)) => (&s[..i], s[i..].trim()),
                None => (s, "s"),
            };
            let scale = match unit {
                "s" | "sec" | "secs" | "seconds" => 1.0,
                "m" | "min" | "minutes" => 60.0,
                "h" | "hours" => 3600.0,
                _ => return None,
            };
            num.trim().parse::<f64>().ok()? * scale
        }
        _ => return None,
    };
    (secs.is_finite() && secs > 0.0).then_some(secs)
}

/// Turn merged layers into a typed config, reporting bad values against `origin` (a file path).
pub fn build_config(
    raw: ConfigLayer,
    default_materialization: Materialization,
    origin: &str,
) -> Result<NodeConfig> {
    let err = |message: String| ProjectError::Config {
        path: origin.into(),
        message,
    };
    let str_of = |key: &str| {
        raw.get(key)
            .filter(|v| !v.is_null())
            .map(json_to_plain_string)
    };

    let materialized = match str_of("materialized") {
        Some(m) => Materialization::parse(&m).ok_or_else(|| {
            err(format!(
                "unknown materialization `{m}`\nhint: use one of table, view, incremental, ephemeral"
            ))
        })?,
        None => default_materialization,
    };
    let enabled = match raw.get("enabled") {
        Some(v) => {
            as_bool(v).ok_or_else(|| err(format!("`enabled` must be true or false, not {v}")))?
        }
        None => true,
    };
    let incremental_strategy = match str_of("incremental_strategy").as_deref() {
        None => None,
        Some("append") => Some(IncrementalStrategy::Append),
        Some("merge") | Some("delete+insert") => Some(IncrementalStrategy::Merge),
        Some(other) => {
            return Err(err(format!(
                "unknown incremental_strategy `{other}`\nhint: use append or merge"
            )));
        }
    };
    let on_schema_change = match str_of("on_schema_change").as_deref() {
        None | Some("ignore") => OnSchemaChange::Ignore,
        Some("fail") => OnSchemaChange::Fail,
        Some("append_new_columns") => OnSchemaChange::AppendNewColumns,
        Some("sync_all_columns") => OnSchemaChange::SyncAllColumns,
        Some(other) => {
            return Err(err(format!(
                "unknown on_schema_change `{other}`\nhint: use ignore, fail, append_new_columns or sync_all_columns"
            )));
        }
    };
    let severity = match str_of("severity")
        .map(|s| s.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("error") => Severity::Error,
        Some("warn") => Severity::Warn,
        Some(other) => {
            return Err(err(format!(
                "unknown severity `{other}`\nhint: use warn or error"
            )));
        }
    };
    let column_types = match raw.get("column_types") {
        Some(serde_json::Value::Object(m)) => m
            .iter()
            .map(|(k, v)| (k.clone(), json_to_plain_string(v)))
            .collect(),
        Some(serde_json::Value::Null) | None => BTreeMap::new(),
        Some(other) => {
            return Err(err(format!(
                "`column_types` must be a mapping, not {other}"
            )));
        }
    };
    let mut test = crate::node::TestConfig::default();
    for (key, slot) in [
        ("warn_if", &mut test.warn_if),
        ("error_if", &mut test.error_if),
    ] {
        if let Some(v) = str_of(key) {
            *slot = crate::node::Condition::parse(&v).ok_or_else(|| {
                err(format!(
                    "`{key}: {v}` is not a condition\nhint: write e.g. \">10\", \"!=0\" or \">=5\""
                ))
            })?;
        }
    }
    if let Some(v) = raw.get("limit").filter(|v| !v.is_null()) {
        test.limit = Some(
            v.as_u64()
                .ok_or_else(|| err(format!("`limit` must be a whole number, not {v}")))?,
        );
    }
    if let Some(v) = str_of("fail_calc") {
        test.fail_calc = v;
    }
    test.store_failures = raw.get("store_failures").and_then(as_bool).unwrap_or(false);
    let retries = match raw.get("retries").filter(|v| !v.is_null()) {
        None => 0,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .filter(|n| *n <= 100)
            .ok_or_else(|| {
                err(format!(
                    "`retries` must be a whole number from 0 to 100, not {v}"
                ))
            })? as u32,
    };
    let duration = |key: &str| -> Result<Option<f64>> {
        match raw.get(key).filter(|v| !v.is_null()) {
            None => Ok(None),
            Some(v) => parse_duration(v).map(Some).ok_or_else(|| {
                err(format!(
                    "`{key}: {v}` is not a duration\nhint: write seconds (30, 1.5) or a number with s, m or h (\"90s\", \"10m\")"
                ))
            }),
        }
    };
    let retry_delay = duration("retry_delay")?.unwrap_or(1.0);
    let timeout = duration("timeout")?;
    Ok(NodeConfig {
        retries,
        retry_delay,
        timeout,
        test,
        enabled,
        materialized,
        schema: str_of("schema"),
        alias: str_of("alias"),
        tags: raw.get("tags").map(as_string_list).unwrap_or_default(),
        unique_key: raw
            .get("unique_key")
            .map(as_string_list)
            .unwrap_or_default(),
        incremental_strategy,
        on_schema_change,
        full_refresh: raw.get("full_refresh").and_then(as_bool),
        column_types,
        delimiter: str_of("delimiter"),
        severity,
        where_clause: str_of("where"),
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> serde_yaml::Value {
        serde_yaml::from_str(s).unwrap()
    }

    #[test]
    fn hooks_accumulate_across_layers() {
        let tree = yaml("{+post-hook: 'select 1', p: {staging: {+post_hook: ['select 2']}}}");
        let mut layer = hierarchy_layer(&tree, &["p".into(), "staging".into()]);
        let mut own = ConfigLayer::new();
        own.insert("post-hook".into(), serde_json::json!("select 3"));
        merge(&mut layer, &own);
        assert_eq!(
            layer["post_hook"],
            serde_json::json!(["select 1", "select 2", "select 3"])
        );
    }

    #[test]
    fn retries_and_durations() {
        let layer = |s: &str| -> ConfigLayer {
            match yaml_to_json(&yaml(s)) {
                serde_json::Value::Object(o) => o.into_iter().collect(),
                _ => unreachable!(),
            }
        };
        let c = build_config(
            layer("{retries: 2, retry_delay: 500ms, timeout: 10m}"),
            Materialization::Table,
            "x.yml",
        );
        assert!(
            c.unwrap_err()
                .to_string()
                .contains("`retry_delay: \"500ms\"` is not a duration")
        );
        let c = build_config(
            layer("{retries: 2, retry_delay: 0.5, timeout: 10m}"),
            Materialization::Table,
            "x.yml",
        )
        .unwrap();
        assert_eq!((c.retries, c.retry_delay, c.timeout), (2, 0.5, Some(600.0)));
        let c = build_config(layer("{}"), Materialization::Table, "x.yml").unwrap();
        assert_eq!((c.retries, c.retry_delay, c.timeout), (0, 1.0, None));
        let e = build_config(layer("{retries: -1}"), Materialization::Table, "x.yml");
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("`retries` must be a whole number")
        );
    }

    #[test]
    fn hierarchy_applies_deeper_levels_last_and_accumulates_tags() {
        let tree = yaml(
            "shop:\n  +materialized: view\n  +tags: [a]\n  marts:\n    +materialized: table\n    +tags: b\n    orders:\n      +alias: fct_orders\n",
        );
        let fqn: Vec<String> = ["shop", "marts", "orders"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let layer = hierarchy_layer(&tree, &fqn);
        assert_eq!(layer["materialized"], "table");
        assert_eq!(layer["alias"], "fct_orders");
        assert_eq!(layer["tags"], serde_json::json!(["a", "b"]));
        let staging: Vec<String> = ["shop", "staging", "stg"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(hierarchy_layer(&tree, &staging)["materialized"], "view");
    }

    #[test]
    fn plus_less_keys_are_configs_unless_they_are_folders() {
        let tree = yaml(
            "shop:\n  materialized: table\n  column_types: {id: bigint}\n  staging:\n    enabled: false\n",
        );
        let fqn: Vec<String> = ["shop", "staging", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let layer = hierarchy_layer(&tree, &fqn);
        assert_eq!(layer["materialized"], "table");
        assert_eq!(layer["enabled"], false);
        assert!(layer["column_types"].is_object());
    }

    #[test]
    fn bad_materialization_names_the_file() {
        let mut raw = ConfigLayer::new();
        raw.insert("materialized".into(), "tabel".into());
        let e = build_config(raw, Materialization::View, "models/x.sql").unwrap_err();
        assert!(e.to_string().contains("models/x.sql"), "{e}");
        assert!(e.to_string().contains("tabel"), "{e}");
    }
}
