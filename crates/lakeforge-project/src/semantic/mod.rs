//! The semantic layer of a dbt 1.10 project, read while the project loads (after the models,
//! before the graph is built): semantic models over models, the metrics defined on their
//! measures, saved queries of those metrics, and time-spine models. Lakeforge does not query
//! metrics; it checks the definitions as dbt's parse does (a metric naming a missing measure is
//! an error naming the file and the metric), writes them to manifest.json under dbt's keys
//! (`semantic_models`, `metrics`, `saved_queries`) for the tools that read them, and makes each
//! saved query a node that `build` passes through as a no-op after the models it reads, as dbt
//! does. MetricFlow's templates (`{{ Dimension('order__status') }}`) are kept as written.

mod check;
mod manifest;
pub mod props;

use std::collections::{BTreeMap, HashMap};

pub use props::SemanticProps;

use crate::error::Result;
use crate::node::Node;
use crate::properties::ResourceProps;

/// Everything of the semantic layer, by unique id.
#[derive(Debug, Clone, Default)]
pub struct SemanticLayer {
    pub semantic_models: BTreeMap<String, SemanticModel>,
    pub metrics: BTreeMap<String, Metric>,
    pub saved_queries: BTreeMap<String, SavedQuery>,
    /// `time_spine:` of models, by the model's unique id.
    pub time_spines: BTreeMap<String, TimeSpine>,
}

/// Where a definition was written, and its dbt identity.
#[derive(Debug, Clone)]
pub struct Origin {
    pub unique_id: String,
    pub name: String,
    /// The properties file, relative to the project folder.
    pub path: String,
    pub fqn: Vec<String>,
    /// `config:` as written, `enabled` resolved.
    pub config: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct SemanticModel {
    pub origin: Origin,
    pub props: props::SemanticModelProps,
    /// The model, seed or snapshot it describes.
    pub model_id: String,
}

#[derive(Debug, Clone)]
pub struct Metric {
    pub origin: Origin,
    pub props: props::MetricProps,
    /// Semantic models of its measures, and metrics it is computed from (dbt's depends_on).
    pub depends_on: Vec<String>,
    /// The measures it aggregates, directly or through the metrics it uses.
    pub input_measures: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SavedQuery {
    pub origin: Origin,
    pub props: props::SavedQueryProps,
    /// The metrics it queries.
    pub depends_on: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct TimeSpine {
    pub model_id: String,
    pub props: props::TimeSpineProps,
    /// `granularity:` of the model's columns that have one.
    pub granularities: BTreeMap<String, String>,
}

/// What the semantic layer is checked against.
pub(crate) struct Scope<'a> {
    pub project: &'a str,
    pub model_paths: &'a [String],
    /// Model, seed and snapshot names → unique ids (for `ref()` of semantic models).
    pub by_name: &'a HashMap<String, String>,
}

/// Read and check the semantic layer of `files` (properties files with their paths) and the
/// `time_spine:` of `models`; each saved query becomes a node in `nodes`, depending on the
/// models its metrics read.
pub(crate) fn load<'a>(
    scope: &Scope<'_>,
    files: &[(String, SemanticProps)],
    models: impl IntoIterator<Item = (&'a str, &'a ResourceProps)>,
    nodes: &mut BTreeMap<String, Node>,
) -> Result<SemanticLayer> {
    let layer = check::build(scope, files, models, nodes)?;
    for node in check::saved_query_nodes(&layer, nodes)? {
        nodes.insert(node.unique_id.clone(), node);
    }
    Ok(layer)
}

pub use manifest::{metrics_json, saved_queries_json, semantic_models_json, time_spine_json};

#[cfg(test)]
mod tests;
