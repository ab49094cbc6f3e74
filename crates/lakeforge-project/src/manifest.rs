//! `target/manifest.json`: the project's graph in a shape close to dbt's, so tools that read
//! dbt manifests (docs sites, lineage viewers, CI scripts) can read ours.
//!
//! The manifest is a view that borrows the project and serializes straight to bytes: building
//! it as a `serde_json::Value` tree first copied every node's SQL and config and was a fifth
//! of compiling a 2,000-model project. Keys come out sorted, as the `Value` tree printed them.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use crate::load::Project;
use crate::node::{ColumnInfo, Node, ResourceType, TestKind};

/// A node's config as the manifest shows it (and as `state:modified` compares it).
pub(crate) fn config_json(n: &Node) -> Value {
    serde_json::to_value(ConfigView(n)).unwrap_or(Value::Null)
}

/// The manifest of `project`; `compiled` maps unique ids to the SQL a node compiled to, for
/// the nodes that were compiled. Serialize it (`serde_json::to_writer`) to write the file.
pub struct Manifest<'a> {
    project: &'a Project,
    compiled: &'a HashMap<&'a str, &'a str>,
}

impl<'a> Manifest<'a> {
    pub fn new(project: &'a Project, compiled: &'a HashMap<&'a str, &'a str>) -> Self {
        Manifest { project, compiled }
    }
}

/// The manifest as a JSON tree (dbt's `graph` variable in templates reads it this way).
pub fn manifest_json(project: &Project, compiled: &HashMap<&str, &str>) -> Value {
    serde_json::to_value(Manifest::new(project, compiled)).unwrap_or(Value::Null)
}

impl Serialize for Manifest<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.project;
        let mut m = s.serialize_map(Some(11))?;
        m.serialize_entry("child_map", &p.graph.children)?;
        m.serialize_entry("docs", &*p.docs)?;
        m.serialize_entry("macros", &Map::new())?;
        m.serialize_entry(
            "metadata",
            &json!({
                "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
                "generator": "lakeforge",
                "generator_version": env!("CARGO_PKG_VERSION"),
                "project_name": p.name,
                "adapter_type": "lakeforge",
            }),
        )?;
        m.serialize_entry(
            "metrics",
            &crate::semantic::metrics_json(&p.semantic, &p.name),
        )?;
        m.serialize_entry(
            "nodes",
            &NodesView {
                of: self,
                unit_tests: false,
            },
        )?;
        m.serialize_entry("parent_map", &p.graph.parents)?;
        m.serialize_entry(
            "saved_queries",
            &crate::semantic::saved_queries_json(&p.semantic, &p.name),
        )?;
        m.serialize_entry(
            "semantic_models",
            &crate::semantic::semantic_models_json(&p.semantic, &p.name, &p.nodes),
        )?;
        m.serialize_entry("sources", &SourcesView(p))?;
        m.serialize_entry(
            "unit_tests",
            &NodesView {
                of: self,
                unit_tests: true,
            },
        )?;
        m.end()
    }
}

/// `nodes` (or, with `unit_tests`, `unit_tests`: dbt keeps them beside the nodes under a key
/// of their own). Saved queries are listed under `saved_queries`, from the semantic layer.
struct NodesView<'a> {
    of: &'a Manifest<'a>,
    unit_tests: bool,
}

impl Serialize for NodesView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.of.project;
        let mut m = s.serialize_map(None)?;
        for n in p.nodes.values() {
            let listed = match n.resource_type {
                ResourceType::SavedQuery => false,
                ResourceType::UnitTest => self.unit_tests,
                _ => !self.unit_tests,
            };
            if listed {
                m.serialize_entry(&n.unique_id, &node_view(p, n, self.of.compiled))?;
            }
        }
        m.end()
    }
}

/// One node's entry; fields in key order.
#[derive(Serialize)]
struct NodeView<'a> {
    alias: &'a str,
    checksum: Checksum<'a>,
    columns: BTreeMap<&'a str, ColumnView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compiled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compiled_code: Option<&'a str>,
    config: ConfigView<'a>,
    depends_on: DependsOn<'a>,
    description: &'a str,
    fqn: &'a [String],
    name: &'a str,
    original_file_path: &'a str,
    package_name: &'a str,
    path: &'a str,
    raw_code: &'a str,
    relation_name: String,
    resource_type: &'static str,
    schema: &'a str,
    tags: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    test_metadata: Option<&'a TestKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_spine: Option<Value>,
    unique_id: &'a str,
}

#[derive(Serialize)]
struct Checksum<'a> {
    checksum: &'a str,
    name: &'static str,
}

#[derive(Serialize)]
struct DependsOn<'a> {
    nodes: &'a [String],
}

#[derive(Serialize)]
struct ColumnView<'a> {
    data_type: &'a Option<String>,
    description: &'a str,
    /// Only on a time spine's columns, where dbt shows it (null when the column has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    granularity: Option<Option<&'a String>>,
    name: &'a str,
}

fn node_view<'a>(p: &'a Project, n: &'a Node, compiled: &HashMap<&str, &'a str>) -> NodeView<'a> {
    let scope = p.scope_of(n);
    let compiled_code = compiled.get(n.unique_id.as_str()).copied();
    let spine = p.semantic.time_spines.get(&n.unique_id);
    let column = |c: &'a ColumnInfo| {
        let granularity = spine.map(|s| s.granularities.get(&c.name));
        let view = ColumnView {
            data_type: &c.data_type,
            description: &c.description,
            granularity,
            name: &c.name,
        };
        (c.name.as_str(), view)
    };
    NodeView {
        alias: &n.relation.identifier,
        checksum: Checksum {
            checksum: &n.checksum,
            name: "sha256",
        },
        // A name given twice keeps its last entry, as a JSON object would.
        columns: n.columns.iter().map(column).collect(),
        compiled: compiled_code.map(|_| true),
        compiled_code,
        config: ConfigView(n),
        depends_on: DependsOn {
            nodes: &n.depends_on,
        },
        description: &n.description,
        fqn: &n.fqn,
        name: &n.name,
        original_file_path: scope.own_path(&n.path),
        package_name: &scope.name,
        path: &n.path,
        raw_code: &n.raw_code,
        relation_name: n.relation.to_string(),
        resource_type: n.resource_type.as_str(),
        schema: &n.relation.schema,
        tags: &n.config.tags,
        test_metadata: n.test.as_ref(),
        time_spine: crate::semantic::time_spine_json(&p.semantic, &n.unique_id),
        unique_id: &n.unique_id,
    }
}

/// Every config key as given, with `materialized` and `tags` as resolved (not as written).
struct ConfigView<'a>(&'a Node);

impl Serialize for ConfigView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(untagged)]
        enum Entry<'a> {
            Given(&'a Value),
            Text(&'a str),
            List(&'a [String]),
        }
        let config = &self.0.config;
        let mut entries: BTreeMap<&str, Entry> = config
            .raw
            .iter()
            .map(|(k, v)| (k.as_str(), Entry::Given(v)))
            .collect();
        entries.insert("materialized", Entry::Text(config.materialized.as_str()));
        entries.insert("tags", Entry::List(&config.tags));
        s.collect_map(entries)
    }
}

struct SourcesView<'a>(&'a Project);

#[derive(Serialize)]
struct SourceView<'a> {
    description: &'a str,
    identifier: &'a str,
    loaded_at_field: &'a Option<String>,
    name: &'a str,
    original_file_path: &'a str,
    relation_name: String,
    resource_type: &'static str,
    schema: &'a str,
    source_name: &'a str,
    unique_id: &'a str,
}

impl Serialize for SourcesView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.sources.values().map(|t| {
            let view = SourceView {
                description: &t.description,
                identifier: &t.relation.identifier,
                loaded_at_field: &t.loaded_at_field,
                name: &t.name,
                original_file_path: &t.path,
                relation_name: t.relation.to_string(),
                resource_type: "source",
                schema: &t.relation.schema,
                source_name: &t.source_name,
                unique_id: &t.unique_id,
            };
            (&t.unique_id, view)
        }))
    }
}
