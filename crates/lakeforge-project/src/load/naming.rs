//! dbt's naming overrides: a project's or package's `generate_schema_name` and
//! `generate_alias_name` macros name the relations of models, seeds and snapshots. A package's
//! nodes use the package's own override when it defines one, else the root project's (dbt's
//! `find_generate_macro_by_name`); with none, the relation keeps dbt's default naming, done in
//! Rust (`schema_for`: `<target schema>_<custom schema>`; the alias, else the node's name).

use std::collections::BTreeMap;

use minijinja::Value;

use crate::error::{ProjectError, Result};
use crate::jinja::{Jinja, MacroCall};
use crate::node::{Node, ResourceType};

use super::scope::Scope;

/// Rename the relations of `nodes` where an override applies.
pub(super) fn apply(
    jinja: &Jinja,
    scopes: &[Scope],
    nodes: &mut BTreeMap<String, Node>,
) -> Result<()> {
    let root = scopes[0].name.as_str();
    for component in ["schema", "alias"] {
        let macro_name = format!("generate_{component}_name");
        let owner_of = |package: &str| -> Option<String> {
            if package != root && jinja.has_macro(Some(package), &macro_name) {
                return Some(package.to_string());
            }
            jinja
                .has_macro(Some(root), &macro_name)
                .then(|| root.to_string())
        };
        for node in nodes.values_mut() {
            if !matches!(
                node.resource_type,
                ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
            ) {
                continue;
            }
            // A snapshot's legacy `target_schema` is its schema exactly, as in dbt.
            if component == "schema"
                && node
                    .config
                    .raw
                    .get("target_schema")
                    .is_some_and(|v| !v.is_null())
            {
                continue;
            }
            let Some(owner) = owner_of(node.package()) else {
                continue;
            };
            let custom = match component {
                "schema" => node.config.schema.clone(),
                _ => node.config.alias.clone(),
            };
            let extra = scopes
                .iter()
                .find(|s| s.name == node.package())
                .map(Scope::render_extra)
                .unwrap_or_default();
            let value = jinja.call_macro(
                Some(&owner),
                &macro_name,
                &[
                    custom.map(Value::from).unwrap_or(Value::from(())),
                    crate::compile::model_value(node),
                ],
                Vec::new(),
                MacroCall {
                    file: &node.path,
                    extra,
                    ..Default::default()
                },
            )?;
            let name = if value.is_none() || value.is_undefined() {
                String::new()
            } else {
                value.to_string().trim().to_string()
            };
            if name.is_empty() {
                return Err(ProjectError::Config {
                    path: node.path.clone().into(),
                    message: format!(
                        "{owner}.{macro_name} returned nothing for `{}`\nhint: the macro must render (or return()) the {component} name",
                        node.name
                    ),
                });
            }
            match component {
                "schema" => node.relation.schema = name,
                _ => node.relation.identifier = name,
            }
        }
    }
    Ok(())
}
