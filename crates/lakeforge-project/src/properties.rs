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
    #[serde(default)]
    pub semantic_models: Vec<crate::semantic::props::SemanticModelProps>,
    #[serde(default)]
    pub metrics: Vec<crate::semantic::props::MetricProps>,
    #[serde(default)]
    pub saved_queries: Vec<crate::semantic::props::SavedQueryProps>,
}

impl PropertiesFile {
    /// The semantic-layer definitions of the file, taken out of it.
    pub fn take_semantic(&mut self) -> crate::semantic::SemanticProps {
        crate::semantic::SemanticProps {
            semantic_models: std::mem::take(&mut self.semantic_models),
            metrics: std::mem::take(&mut self.metrics),
            saved_queries: std::mem::take(&mut self.saved_queries),
        }
    }
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
    /// A model that is the semantic layer's time spine (dbt 1.9+).
    #[serde(default)]
    pub time_spine: Option<crate::semantic::props::TimeSpineProps>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ColumnProps {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub data_type: Option<String>,
    /// The time grain of a time spine's column (`day`, `hour`...).
    #[serde(default)]
    pub granularity: Option<String>,
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
        let (k, v) = value
            .as_mapping()
            .filter(|m| m.len() == 1)
            .and_then(|m| m.iter().next())
            .ok_or_else(|| {
                bad(format!(
                    "a test must be a name or a one-key mapping, not {}",
                    short_yaml(value)
                ))
            })?;
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
                    // dbt 1.10 puts test arguments under `arguments:` (beside `config:`);
                    // arguments written at the top level are still accepted, as dbt does.
                    "arguments" => match yaml_to_json(av) {
                        serde_json::Value::Object(o) => args.extend(o),
                        serde_json::Value::Null => {}
                        _ => {
                            return Err(bad(format!(
                                "`arguments:` of test `{test_name}` must be a mapping, not {}\nhint: e.g. `arguments: {{values: [a, b]}}`",
                                short_yaml(av)
                            )));
                        }
                    },
                    "name" => custom_name = av.as_str().map(str::to_string),
                    // A property of the test, not an argument of its macro.
                    "description" => {}
                    // Configs written beside the arguments, as dbt still accepts them.
                    "severity" | "where" | "warn_if" | "error_if" | "limit" | "store_failures"
                    | "store_failures_as" | "fail_calc" | "enabled" | "tags" | "meta"
                    | "database" | "schema" | "alias" => {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(yaml: &str) -> Result<TestDecl> {
        TestDecl::parse(
            &serde_yaml::from_str(yaml).unwrap(),
            Path::new("models/x.yml"),
        )
    }

    #[test]
    fn arguments_at_the_top_level_or_under_arguments_are_the_same() {
        let top =
            decl("accepted_values: {values: [a, b], severity: warn, config: {where: 'x > 1'}}")
                .unwrap();
        let nested = decl(
            "accepted_values: {arguments: {values: [a, b]}, config: {severity: warn, where: 'x > 1'}, description: the statuses}",
        )
        .unwrap();
        for d in [&top, &nested] {
            assert_eq!(d.test_name, "accepted_values");
            assert_eq!(d.args.len(), 1, "{:?}", d.args);
            assert_eq!(d.args["values"], serde_json::json!(["a", "b"]));
            assert_eq!(d.config["severity"], "warn");
            assert_eq!(d.config["where"], "x > 1");
        }
        let bad = decl("unique: {arguments: [a]}").unwrap_err().to_string();
        assert!(
            bad.contains("models/x.yml: `arguments:` of test `unique` must be a mapping"),
            "{bad}"
        );
    }

    #[test]
    fn data_tests_and_tests_are_both_read() {
        for key in ["tests", "data_tests"] {
            let r: ResourceProps = serde_yaml::from_str(&format!(
                "name: m\n{key}: [{{dbt_utils.expression_is_true: {{arguments: {{expression: 'a > 0'}}}}}}]\ncolumns: [{{name: id, {key}: [unique]}}]\n"
            ))
            .unwrap();
            assert_eq!(r.tests.len(), 1);
            assert_eq!(r.columns[0].tests.len(), 1);
            let d = TestDecl::parse(&r.tests[0], Path::new("m.yml")).unwrap();
            assert_eq!(d.test_name, "dbt_utils.expression_is_true");
            assert_eq!(d.args["expression"], "a > 0");
        }
    }
}
