//! The semantic layer as written in properties YAML (dbt 1.10's shapes): `semantic_models:`,
//! `metrics:` and `saved_queries:`. Filters and group-bys (`{{ Dimension('customer__region') }}`)
//! are MetricFlow templates, not dbt Jinja: they are kept as text, never rendered.
//!
//! An `Option` field left out of the YAML is `None` by serde's own rule, so only lists, flags
//! and nested blocks say `#[serde(default)]`.

use serde::Deserialize;

/// The semantic-layer keys of one properties file (flattened into [`crate::properties::PropertiesFile`]).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct SemanticProps {
    #[serde(default)]
    pub semantic_models: Vec<SemanticModelProps>,
    #[serde(default)]
    pub metrics: Vec<MetricProps>,
    #[serde(default)]
    pub saved_queries: Vec<SavedQueryProps>,
}

impl SemanticProps {
    pub fn is_empty(&self) -> bool {
        self.semantic_models.is_empty() && self.metrics.is_empty() && self.saved_queries.is_empty()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SemanticModelProps {
    pub name: String,
    /// `ref('orders')`: the model (or seed, snapshot) the semantic model describes.
    pub model: Option<String>,
    pub description: Option<String>,
    pub label: Option<String>,
    pub defaults: Option<Defaults>,
    pub primary_entity: Option<String>,
    #[serde(default)]
    pub entities: Vec<Entity>,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    #[serde(default)]
    pub measures: Vec<Measure>,
    pub config: Option<serde_yaml::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Defaults {
    pub agg_time_dimension: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Entity {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub expr: Option<serde_yaml::Value>,
    pub description: Option<String>,
    pub label: Option<String>,
    pub role: Option<String>,
    pub config: Option<serde_yaml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Dimension {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub expr: Option<serde_yaml::Value>,
    pub description: Option<String>,
    pub label: Option<String>,
    #[serde(default)]
    pub is_partition: bool,
    pub type_params: Option<serde_yaml::Value>,
    pub config: Option<serde_yaml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Measure {
    pub name: String,
    pub agg: String,
    pub expr: Option<serde_yaml::Value>,
    pub description: Option<String>,
    pub label: Option<String>,
    #[serde(default)]
    pub create_metric: bool,
    pub agg_time_dimension: Option<String>,
    pub agg_params: Option<serde_yaml::Value>,
    pub non_additive_dimension: Option<serde_yaml::Value>,
    pub config: Option<serde_yaml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MetricProps {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub label: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub type_params: TypeParams,
    pub filter: Option<Filters>,
    pub time_granularity: Option<String>,
    pub config: Option<serde_yaml::Value>,
    pub meta: Option<serde_yaml::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TypeParams {
    pub measure: Option<Input>,
    pub numerator: Option<Input>,
    pub denominator: Option<Input>,
    pub expr: Option<serde_yaml::Value>,
    #[serde(default)]
    pub metrics: Vec<Input>,
    pub window: Option<String>,
    pub grain_to_date: Option<String>,
    pub cumulative_type_params: Option<serde_yaml::Value>,
    pub conversion_type_params: Option<ConversionParams>,
    pub join_to_timespine: Option<bool>,
    pub fill_nulls_with: Option<serde_yaml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConversionParams {
    pub base_measure: Input,
    pub conversion_measure: Input,
    pub entity: String,
    pub calculation: Option<String>,
    pub window: Option<String>,
    pub constant_properties: Option<serde_yaml::Value>,
}

/// A measure or metric input: its name, or `{name:, filter:, alias:, ...}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Input {
    Name(String),
    Full {
        name: String,
        filter: Option<Filters>,
        alias: Option<String>,
        join_to_timespine: Option<bool>,
        fill_nulls_with: Option<serde_yaml::Value>,
        offset_window: Option<String>,
        offset_to_grain: Option<String>,
    },
}

impl Input {
    pub fn name(&self) -> &str {
        match self {
            Input::Name(n) | Input::Full { name: n, .. } => n,
        }
    }
}

/// A `filter:` or `where:`: one template or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Filters {
    One(String),
    Many(Vec<String>),
}

impl Filters {
    pub fn templates(&self) -> Vec<&str> {
        match self {
            Filters::One(s) => vec![s.as_str()],
            Filters::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SavedQueryProps {
    pub name: String,
    pub description: Option<String>,
    pub label: Option<String>,
    #[serde(default)]
    pub query_params: QueryParams,
    #[serde(default)]
    pub exports: Vec<ExportProps>,
    pub config: Option<serde_yaml::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct QueryParams {
    #[serde(default)]
    pub metrics: Vec<String>,
    #[serde(default)]
    pub group_by: Vec<String>,
    #[serde(default, rename = "where")]
    pub filter: Option<Filters>,
    #[serde(default)]
    pub order_by: Vec<String>,
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ExportProps {
    pub name: String,
    pub config: Option<serde_yaml::Value>,
}

/// `time_spine:` of a model (dbt 1.9+): the column at the standard granularity, and custom
/// granularities (fiscal calendars) read from other columns.
#[derive(Debug, Clone, Deserialize)]
pub struct TimeSpineProps {
    pub standard_granularity_column: String,
    #[serde(default)]
    pub custom_granularities: Vec<CustomGranularity>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CustomGranularity {
    pub name: String,
    pub column_name: Option<String>,
}
