//! Properties YAML files (`version: 2` files under model-paths and seed-paths): descriptions,
//! columns, configs, data tests and source declarations, as dbt defines them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::config::{ConfigLayer, yaml_to_json};
use crate::error::{ProjectError, Result};

#[derive(Debug, Default, Deserialize)]
pub struct PropertiesFile {
    #[serde(default)]
    pub models: Vec<ResourceProps>,
    #[serde(default)]
    pub seeds: Vec<ResourceProps>,
    #[serde(default)]
    pub sources: Vec<SourceProps>,
    #[serde(default)]
    pub snapshots: Vec<ResourceProps>,
    #[serde(default)]
    pub unit_tests: Vec<crate::unit_test::UnitTestProps>,
    #[serde(default)]
    pub ml_models: Vec<crate::ml_model::MlModelProps>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ResourceProps {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub config: Option<serde_yaml::Value>,
    #[serde(default)]
    pub columns: Vec<ColumnProps>,
    #[serde(default, alias = "data_tests")]
    pub tests: Vec<serde_yaml::Value>,
    /// Snapshots declared in YAML (dbt 1.9): `source('s', 't')` or `ref('m')`.
    #[serde(default)]
    pub relation: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ColumnProps {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub data_type: Option<String>,
    #[serde(default, alias = "data_tests")]
    pub tests: Vec<serde_yaml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SourceProps {
    pub name: String,
    #[serde(default)]
    pub schema: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub loaded_at_field: Option<String>,
    #[serde(default)]
    pub tables: Vec<SourceTableProps>,
    #[serde(flatten)]
    pub rest: BTreeMap<String, serde_yaml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SourceTableProps {
    pub name: String,
    #[serde(default)]
    pub identifier: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub loaded_at_field: Option<String>,
    #[serde(default)]
    pub columns: Vec<ColumnProps>,
    #[serde(default, alias = "data_tests")]
    pub tests: Vec<serde_yaml::Value>,
    #[serde(flatten)]
    pub rest: BTreeMap<String, serde_yaml::Value>,
}

/// One data test as declared: `- not_null`, or `- accepted_values: {values: [...], config: {...}}`.
#[derive(Debug, Clone)]
pub struct TestDecl {
    pub test_name: String,
    pub args: BTreeMap<String, serde_json::Value>,
    pub config: ConfigLayer,
    /// `name:` given explicitly in YAML.
    pub custom_name: Option<String>,
}

impl TestDecl {
    pub fn parse(value: &serde_yaml::Value, path: &Path) -> Result<Self> {
        let bad = |message: String| ProjectError::Config {
            path: path.into(),
            message,
        };
        if let Some(name) = value.as_str() {
            return Ok(TestDecl {
                test_name: name.to_string(),
                args: BTreeMap::new(),
                config: ConfigLayer::new(),
                custom_name: None,
            });
        }
        let map = value.as_mapping().filter(|m| m.len() == 1).ok_or_else(|| {
            bad(format!(
                "a test must be a name or a one-key mapping, not {}",
                short_yaml(value)
            ))
        })?;
        let (k, v) = map.iter().next().expect("len checked");
        let test_name = k
            .as_str()
            .ok_or_else(|| bad(format!("test name must be a string, not {}", short_yaml(k))))?
            .to_string();
        let mut args = BTreeMap::new();
        let mut config = ConfigLayer::new();
        let mut custom_name = None;
        if let Some(m) = v.as_mapping() {
            for (ak, av) in m {
                let Some(ak) = ak.as_str() else { continue };
                match ak {
                    "config" => {
                        if let serde_json::Value::Object(o) = yaml_to_json(av) {
                            config.extend(o);
                        }
                    }
                    // dbt 1.8+ puts test arguments under `arguments:`.
                    "arguments" => {
                        if let serde_json::Value::Object(o) = yaml_to_json(av) {
                            args.extend(o);
                        }
                    }
                    "name" => custom_name = av.as_str().map(str::to_string),
                    // Older dbt accepted configs beside the arguments.
                    "severity" | "where" | "warn_if" | "error_if" | "limit" | "store_failures"
                    | "enabled" | "tags" => {
                        config.insert(ak.to_string(), yaml_to_json(av));
                    }
                    _ => {
                        args.insert(ak.to_string(), yaml_to_json(av));
                    }
                }
            }
        } else if !v.is_null() {
            return Err(bad(format!(
                "arguments of test `{test_name}` must be a mapping, not {}",
                short_yaml(v)
            )));
        }
        Ok(TestDecl {
            test_name,
            args,
            config,
            custom_name,
        })
    }
}

fn short_yaml(v: &serde_yaml::Value) -> String {
    let s = serde_yaml::to_string(v).unwrap_or_default();
    let s = s.trim();
    if s.len() > 60 {
        format!("{}...", &s[..60])
    } else {
        s.to_string()
    }
}

pub fn config_layer(v: &Option<serde_yaml::Value>) -> ConfigLayer {
    match v.as_ref().map(yaml_to_json) {
        Some(serde_json::Value::Object(o)) => o.into_iter().collect(),
        _ => ConfigLayer::new(),
    }
}
