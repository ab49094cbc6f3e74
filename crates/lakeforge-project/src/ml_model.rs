//! ML models declared in properties YAML (`ml_models:`), beside the SQL models they learn from.
//! Each becomes a node of the same graph (`ml_model.<project>.<name>`) that depends on its
//! training relation, so `lakeforge build` trains it after the tables it reads and before the
//! SQL models that score with it: a SQL model that calls `predict('name', ...)` depends on the
//! ML model `name`. This module only reads and checks the declaration; training, the registry
//! and scoring live in `lakeforge-runner`, `lakeforge-meta` and `lakeforge-engine`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigLayer, build_config, yaml_to_json};
use crate::error::{ProjectError, Result, hint_suffix, suggest};
use crate::node::{Materialization, Node, Relation, ResourceType, SourceTable};
use crate::unit_test::{UnitInput, parse_input};

/// One entry of `ml_models:` as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MlModelProps {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub config: Option<serde_yaml::Value>,
    /// `ref('features')` or `source('s', 't')`: the relation the model learns from.
    pub training: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default = "default_task")]
    pub task: String,
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    #[serde(default)]
    pub features: Option<Vec<String>>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub categorical: Vec<String>,
    #[serde(default)]
    pub params: BTreeMap<String, serde_yaml::Value>,
    #[serde(default)]
    pub tuning: Option<TuningProps>,
    #[serde(default)]
    pub split: Option<SplitProps>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub metrics: Vec<String>,
    /// `auc >= 0.8`, or a list of such conditions, all of which must hold.
    #[serde(default)]
    pub gate: Option<serde_yaml::Value>,
    /// The alias a version that passes the gate takes (default `production`).
    #[serde(default)]
    pub promote_to: Option<String>,
}

fn default_task() -> String {
    "binary".into()
}

fn default_algorithm() -> String {
    "gbdt".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TuningProps {
    /// Parameter → range, as `lakeforge ml tune --space` takes them: `int:4:64`,
    /// `float:0.5:1`, `logfloat:0.01:0.3`, `choice:a,b`.
    pub space: BTreeMap<String, String>,
    #[serde(default)]
    pub trials: Option<usize>,
    #[serde(default)]
    pub strategy: Option<String>,
    #[serde(default)]
    pub folds: Option<usize>,
    #[serde(default)]
    pub metric: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SplitProps {
    /// `random` (default), `stratified` (by the target) or `time` (the latest rows by
    /// `column` are held out).
    #[serde(default)]
    pub strategy: Option<String>,
    #[serde(default)]
    pub test_fraction: Option<f64>,
    #[serde(default)]
    pub column: Option<String>,
}

/// How the held-out rows are chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "strategy", rename_all = "snake_case")]
pub enum SplitSpec {
    Random { test_fraction: f64 },
    Stratified { test_fraction: f64 },
    Time { column: String, test_fraction: f64 },
}

impl SplitSpec {
    pub fn test_fraction(&self) -> f64 {
        match self {
            SplitSpec::Random { test_fraction }
            | SplitSpec::Stratified { test_fraction }
            | SplitSpec::Time { test_fraction, .. } => *test_fraction,
        }
    }
}

/// One condition of a quality gate: `auc >= 0.8`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateCondition {
    pub metric: String,
    pub op: String,
    pub value: f64,
}

impl GateCondition {
    pub fn parse(text: &str) -> Option<GateCondition> {
        static CONDITION: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            crate::literal_regex(
                r"^\s*([A-Za-z_][A-Za-z0-9_@]*)\s*(>=|<=|==|!=|>|<|=)\s*(-?[0-9.eE+-]+)\s*$",
            )
        });
        let c = CONDITION.captures(text)?;
        Some(GateCondition {
            metric: c[1].to_string(),
            op: if &c[2] == "==" {
                "=".into()
            } else {
                c[2].to_string()
            },
            value: c[3].parse().ok()?,
        })
    }

    pub fn holds(&self, v: f64) -> bool {
        match self.op.as_str() {
            ">=" => v >= self.value,
            "<=" => v <= self.value,
            ">" => v > self.value,
            "<" => v < self.value,
            "!=" => v != self.value,
            _ => v == self.value,
        }
    }
}

impl std::fmt::Display for GateCondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.metric, self.op, self.value)
    }
}

/// A checked `ml_models:` entry, kept on its node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlModelSpec {
    /// The training relation's unique id (a model, seed or source) and where it lives.
    pub training_id: String,
    pub training: Relation,
    pub target: Option<String>,
    pub task: String,
    pub algorithm: String,
    pub features: Option<Vec<String>>,
    pub exclude: Vec<String>,
    pub categorical: Vec<String>,
    /// LightGBM-style names and values, as text.
    pub params: BTreeMap<String, String>,
    pub tuning: Option<TuningSpec>,
    pub split: SplitSpec,
    pub seed: u64,
    pub metrics: Vec<String>,
    pub gate: Vec<GateCondition>,
    /// The alias a version that passes the gate takes, as declared. The default when none is
    /// declared is the registry's (lakeforge-meta's `DEFAULT_ALIAS`), applied where versions
    /// are promoted, so this crate does not need the store to know it.
    #[serde(default)]
    pub promote_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuningSpec {
    pub space: BTreeMap<String, String>,
    pub trials: usize,
    pub strategy: String,
    pub folds: usize,
    pub metric: Option<String>,
}

/// What reading `ml_models:` needs from the rest of the project.
pub(crate) struct MlModelScope<'a> {
    pub project: &'a str,
    pub schema: &'a str,
    pub nodes: &'a BTreeMap<String, Node>,
    pub by_name: &'a std::collections::HashMap<String, String>,
    pub sources: &'a BTreeMap<String, SourceTable>,
}

impl MlModelScope<'_> {
    /// The node of one declaration, or `None` when it is disabled.
    pub fn node(&self, path: &str, props: &MlModelProps) -> Result<Option<Node>> {
        let at = |message: String| ProjectError::Config {
            path: path.into(),
            message: format!("ml model `{}`: {message}", props.name),
        };
        let raw_config: ConfigLayer = match props.config.as_ref().map(yaml_to_json) {
            Some(serde_json::Value::Object(o)) => o.into_iter().collect(),
            _ => ConfigLayer::new(),
        };
        let config = build_config(raw_config, Materialization::MlModel, path)?;
        if !config.enabled {
            return Ok(None);
        }
        let training = props.training.trim();
        let training = training
            .strip_prefix("{{")
            .and_then(|t| t.strip_suffix("}}"))
            .unwrap_or(training);
        let (training_id, relation) = match parse_input(training) {
            Some(UnitInput::Ref { name }) => {
                let node = self
                    .by_name
                    .get(&name)
                    .and_then(|id| self.nodes.get(id))
                    .ok_or_else(|| {
                        let hint = hint_suffix(&suggest(
                            &name,
                            self.by_name.keys().map(String::as_str),
                        ));
                        at(format!(
                            "`training: ref('{name}')` is not an enabled model or seed of this project{hint}"
                        ))
                    })?;
                if node.config.materialized == Materialization::Ephemeral {
                    return Err(at(format!(
                        "`training: ref('{name}')` is an ephemeral model, which has no table to learn from\nhint: materialize it as a table or view"
                    )));
                }
                (node.unique_id.clone(), node.relation.clone())
            }
            Some(UnitInput::Source { source, table }) => {
                let s = self
                    .sources
                    .values()
                    .find(|s| s.source_name == source && s.name == table)
                    .ok_or_else(|| {
                        at(format!(
                            "`training: source('{source}', '{table}')` is not declared in any properties YAML file"
                        ))
                    })?;
                (s.unique_id.clone(), s.relation.clone())
            }
            _ => {
                return Err(at(format!(
                    "`training: {}` must be ref('model') or source('source', 'table')",
                    props.training
                )));
            }
        };

        const TASKS: &[&str] = &[
            "binary",
            "multiclass",
            "regression",
            "regression_l1",
            "huber",
            "poisson",
            "clustering",
        ];
        if !TASKS.contains(&props.task.as_str()) {
            return Err(at(format!(
                "`task: {}` is not one of {}",
                props.task,
                TASKS.join(", ")
            )));
        }
        if props.task != "clustering" && props.target.is_none() {
            return Err(at(format!(
                "a `{}` model needs `target:`, the column it learns to predict",
                props.task
            )));
        }
        const ALGORITHMS: &[&str] = &["gbdt", "linear", "kmeans"];
        if !ALGORITHMS.contains(&props.algorithm.as_str()) {
            return Err(at(format!(
                "`algorithm: {}` is not one of {}",
                props.algorithm,
                ALGORITHMS.join(", ")
            )));
        }
        if props.features.is_some() && !props.exclude.is_empty() {
            return Err(at(
                "give either `features:` or `exclude:`, not both".to_string()
            ));
        }

        let mut params = BTreeMap::new();
        for (k, v) in &props.params {
            let text = match v {
                serde_yaml::Value::String(s) => s.clone(),
                serde_yaml::Value::Number(n) => n.to_string(),
                serde_yaml::Value::Bool(b) => b.to_string(),
                other => {
                    return Err(at(format!(
                        "`params.{k}` must be a number, string or boolean, not {}",
                        serde_yaml::to_string(other).unwrap_or_default().trim()
                    )));
                }
            };
            params.insert(k.clone(), text);
        }

        let split = {
            let s = props.split.clone().unwrap_or(SplitProps {
                strategy: None,
                test_fraction: None,
                column: None,
            });
            let test_fraction = s.test_fraction.unwrap_or(0.2);
            if !(test_fraction > 0.0 && test_fraction < 1.0) {
                return Err(at(format!(
                    "`split.test_fraction: {test_fraction}` must be between 0 and 1 (exclusive)"
                )));
            }
            match s.strategy.as_deref().unwrap_or("random") {
                "random" => SplitSpec::Random { test_fraction },
                "stratified" => SplitSpec::Stratified { test_fraction },
                "time" => SplitSpec::Time {
                    column: s.column.ok_or_else(|| {
                        at("`split: {strategy: time}` needs `column:`, the time column whose latest rows are held out".into())
                    })?,
                    test_fraction,
                },
                other => {
                    return Err(at(format!(
                        "`split.strategy: {other}` is not one of random, stratified, time"
                    )));
                }
            }
        };

        let tuning = match &props.tuning {
            None => None,
            Some(t) => {
                if t.space.is_empty() {
                    return Err(at("`tuning.space` is empty\nhint: give at least one parameter range, e.g. `num_leaves: int:8:64`".into()));
                }
                let strategy = t.strategy.clone().unwrap_or_else(|| "random".into());
                if !["random", "halving"].contains(&strategy.as_str()) {
                    return Err(at(format!(
                        "`tuning.strategy: {strategy}` is not one of random, halving"
                    )));
                }
                Some(TuningSpec {
                    space: t.space.clone(),
                    trials: t.trials.unwrap_or(10),
                    strategy,
                    folds: t.folds.unwrap_or(0),
                    metric: t.metric.clone(),
                })
            }
        };

        let gate_texts: Vec<String> = match &props.gate {
            None => Vec::new(),
            Some(serde_yaml::Value::String(s)) => vec![s.clone()],
            Some(serde_yaml::Value::Sequence(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_string).ok_or_else(|| {
                        at("every `gate:` entry must be a condition such as `auc >= 0.8`".into())
                    })
                })
                .collect::<Result<_>>()?,
            Some(_) => {
                return Err(at(
                    "`gate:` must be a condition such as `auc >= 0.8`, or a list of them".into(),
                ));
            }
        };
        let gate = gate_texts
            .iter()
            .map(|g| {
                GateCondition::parse(g).ok_or_else(|| {
                    at(format!(
                        "`gate: {g}` is not a condition\nhint: write METRIC OP NUMBER, e.g. `auc >= 0.8` or `rmse < 12.5`"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;

        let spec = MlModelSpec {
            training_id: training_id.clone(),
            training: relation,
            target: props.target.clone(),
            task: props.task.clone(),
            algorithm: props.algorithm.clone(),
            features: props.features.clone(),
            exclude: props.exclude.clone(),
            categorical: props.categorical.clone(),
            params,
            tuning,
            split,
            seed: props.seed.unwrap_or(42),
            metrics: props.metrics.clone(),
            gate,
            promote_to: props.promote_to.clone(),
        };
        let yaml = serde_yaml::to_string(props).unwrap_or_default();
        let mut fqn = vec![self.project.to_string()];
        fqn.extend(
            std::path::Path::new(path)
                .parent()
                .into_iter()
                .flat_map(|p| p.iter().skip(1))
                .map(|c| c.to_string_lossy().into_owned()),
        );
        fqn.push(props.name.clone());
        Ok(Some(Node {
            unique_id: format!("ml_model.{}.{}", self.project, props.name),
            name: props.name.clone(),
            resource_type: ResourceType::MlModel,
            path: path.to_string(),
            fqn,
            description: props.description.clone().unwrap_or_default(),
            columns: Vec::new(),
            config,
            relation: Relation::new(self.schema, &props.name),
            checksum: crate::load::checksum(yaml.as_bytes()),
            raw_code: yaml,
            depends_on: vec![training_id],
            test: None,
            ml_model: Some(Box::new(spec)),
            snapshot: None,
        }))
    }
}

/// `predict('ref'`: the one pattern both the dependency scan and the runner's model loading
/// read, compiled once (it runs on every scoring node's SQL).
static PREDICT_CALL: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| crate::literal_regex(r#"(?i)\bpredict\s*\(\s*'([^']+)'"#));

/// The first arguments of `predict('...')` calls in a SQL text, as written (`churn`,
/// `churn@staging`, `churn@3`), each once.
pub fn predict_references(sql: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in PREDICT_CALL.captures_iter(sql) {
        if !out.iter().any(|r| r == &c[1]) {
            out.push(c[1].to_string());
        }
    }
    out
}

/// The ML models a SQL text scores with: the names of its `predict('name[@...]', ...)`
/// references.
pub fn predicted_models(sql: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in predict_references(sql) {
        let name = parse_model_ref(&r).0.to_string();
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Split `name@alias` / `name@3` into the model name and what it selects (an alias, a
/// version number, or the default alias when absent).
pub fn parse_model_ref(text: &str) -> (&str, Option<&str>) {
    match text.split_once('@') {
        Some((name, sel)) => (name.trim(), Some(sel.trim())),
        None => (text.trim(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_conditions_parse_and_hold() {
        let g = GateCondition::parse("auc >= 0.8").unwrap();
        assert_eq!(g.metric, "auc");
        assert!(g.holds(0.8) && g.holds(0.9) && !g.holds(0.79));
        let g = GateCondition::parse("rmse<12.5").unwrap();
        assert!(g.holds(12.0) && !g.holds(12.5));
        assert!(GateCondition::parse("auc is good").is_none());
        assert!(GateCondition::parse(">= 0.8").is_none());
    }

    #[test]
    fn finds_predicted_models() {
        let sql = "select id, predict('churn', a, b) as p, PREDICT( 'value@staging', c) \
                   from t where predict('churn@3', a) > 0.5";
        assert_eq!(predicted_models(sql), vec!["churn", "value"]);
        assert_eq!(parse_model_ref("churn@staging"), ("churn", Some("staging")));
        assert_eq!(parse_model_ref("churn"), ("churn", None));
        assert!(predicted_models("select my_predict('x')").is_empty());
    }
}
