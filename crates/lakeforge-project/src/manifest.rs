//! `target/manifest.json`: the project's graph in a shape close to dbt's, so tools that read
//! dbt manifests (docs sites, lineage viewers, CI scripts) can read ours.

use serde_json::{Map, Value, json};

use crate::load::Project;

/// A node's config as the manifest shows it (and as `state:modified` compares it).
pub(crate) fn config_json(n: &crate::node::Node) -> Value {
    Value::Object(
        n.config
            .raw
            .clone()
            .into_iter()
            .chain([
                (
                    "materialized".to_string(),
                    json!(n.config.materialized.as_str()),
                ),
                ("tags".to_string(), json!(n.config.tags)),
            ])
            .collect::<Map<_, _>>(),
    )
}

/// Build the manifest. `compiled` maps unique ids to compiled SQL where a node was compiled.
pub fn manifest_json(
    project: &Project,
    compiled: &std::collections::HashMap<String, String>,
) -> Value {
    let mut nodes = Map::new();
    let mut unit_tests = Map::new();
    for n in project.nodes.values() {
        let scope = project.scope_of(n);
        let mut v = json!({
            "unique_id": n.unique_id,
            "name": n.name,
            "resource_type": n.resource_type.as_str(),
            "package_name": scope.name,
            "path": n.path,
            "original_file_path": scope.own_path(&n.path),
            "fqn": n.fqn,
            "schema": n.relation.schema,
            "alias": n.relation.identifier,
            "relation_name": n.relation.to_string(),
            "description": n.description,
            "columns": n.columns.iter().map(|c| (c.name.clone(), json!({"name": c.name, "description": c.description, "data_type": c.data_type}))).collect::<Map<_, _>>(),
            "config": config_json(n),
            "tags": n.config.tags,
            "raw_code": n.raw_code,
            "depends_on": {"nodes": n.depends_on},
            "checksum": {"name": "sha256", "checksum": n.checksum},
        });
        if let Some(sql) = compiled.get(&n.unique_id) {
            v["compiled_code"] = json!(sql);
            v["compiled"] = json!(true);
        }
        if let Some(t) = &n.test {
            v["test_metadata"] = serde_json::to_value(t).unwrap_or(Value::Null);
        }
        if let Some(spine) = crate::semantic::time_spine_json(&project.semantic, &n.unique_id) {
            v["time_spine"] = spine;
            for c in &n.columns {
                let granularity = project
                    .semantic
                    .time_spines
                    .get(&n.unique_id)
                    .and_then(|s| s.granularities.get(&c.name));
                v["columns"][&c.name]["granularity"] = json!(granularity);
            }
        }
        // Saved queries are listed under `saved_queries`, from the semantic layer.
        if n.resource_type == crate::node::ResourceType::SavedQuery {
            continue;
        }
        // dbt keeps unit tests beside the nodes, under a key of their own.
        if n.resource_type == crate::node::ResourceType::UnitTest {
            unit_tests.insert(n.unique_id.clone(), v);
        } else {
            nodes.insert(n.unique_id.clone(), v);
        }
    }
    let sources: Map<String, Value> = project
        .sources
        .values()
        .map(|s| {
            (
                s.unique_id.clone(),
                json!({
                    "unique_id": s.unique_id,
                    "name": s.name,
                    "source_name": s.source_name,
                    "resource_type": "source",
                    "schema": s.relation.schema,
                    "identifier": s.relation.identifier,
                    "relation_name": s.relation.to_string(),
                    "description": s.description,
                    "loaded_at_field": s.loaded_at_field,
                    "original_file_path": s.path,
                }),
            )
        })
        .collect();
    json!({
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
            "generator": "lakeforge",
            "generator_version": env!("CARGO_PKG_VERSION"),
            "project_name": project.name,
            "adapter_type": "lakeforge",
        },
        "nodes": nodes,
        "sources": sources,
        "unit_tests": unit_tests,
        "semantic_models": crate::semantic::semantic_models_json(&project.semantic, &project.name, &project.nodes),
        "metrics": crate::semantic::metrics_json(&project.semantic, &project.name),
        "saved_queries": crate::semantic::saved_queries_json(&project.semantic, &project.name),
        "macros": {},
        "parent_map": project.graph.parents,
        "child_map": project.graph.children,
    })
}
