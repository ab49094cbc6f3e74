//! Properties YAML (`models:`, `seeds:`, `sources:`, `unit_tests:`, `ml_models:`, `snapshots:`
//! entries) indexed by resource, and the source tables it declares.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::config::yaml_to_json;
use crate::error::{ProjectError, Result};
use crate::node::{Relation, SourceTable};
use crate::properties::{PropertiesFile, ResourceProps};
use crate::settings::{DbtProjectFile, Target};

use super::files::read_files;
use super::nodes::column_info;

/// The properties YAML of one scope: every `.yml`/`.yaml` file under its model, seed and
/// snapshot paths.
pub(super) fn read_props(root: &Path, file: &DbtProjectFile) -> Result<PropsIndex> {
    let mut props = PropsIndex::default();
    for dirs in [&file.model_paths, &file.seed_paths, &file.snapshot_paths] {
        for (path, text) in read_files(root, dirs, &["yml", "yaml"])? {
            let parsed: PropertiesFile =
                serde_yaml::from_str(&text).map_err(|e| ProjectError::yaml(root.join(&path), e))?;
            props.add(&path, parsed)?;
        }
    }
    Ok(props)
}

pub(super) fn build_sources(
    project: &str,
    root: &Path,
    target: &Target,
    props: &PropsIndex,
) -> Result<BTreeMap<String, SourceTable>> {
    let mut out = BTreeMap::new();
    for (path, source) in &props.sources {
        for table in &source.tables {
            let unique_id = format!("source.{project}.{}.{}", source.name, table.name);
            let mut raw = serde_json::Map::new();
            for (k, v) in source.rest.iter().chain(table.rest.iter()) {
                raw.insert(k.clone(), yaml_to_json(v));
            }
            let database = crate::database::parse(source, table, &target.connections, path)?;
            // A database table is queried in the lake's catalog under the source's own name
            // (`shop_db.orders`): its `schema:` and `identifier:` name it in the database.
            let relation = match &database {
                Some(_) => Relation::new(source.name.clone(), table.name.clone()),
                None => Relation::new(
                    source.schema.clone().unwrap_or_else(|| source.name.clone()),
                    table
                        .identifier
                        .clone()
                        .unwrap_or_else(|| table.name.clone()),
                ),
            };
            let st = SourceTable {
                unique_id: unique_id.clone(),
                source_name: source.name.clone(),
                name: table.name.clone(),
                relation,
                description: table
                    .description
                    .clone()
                    .or_else(|| source.description.clone())
                    .unwrap_or_default(),
                columns: table.columns.iter().map(column_info).collect(),
                path: path.clone(),
                loaded_at_field: table
                    .loaded_at_field
                    .clone()
                    .or_else(|| source.loaded_at_field.clone()),
                external: match raw.get("external") {
                    Some(v) => Some(crate::external::parse(
                        v,
                        root,
                        path,
                        &format!("source `{}.{}`", source.name, table.name),
                    )?),
                    None => None,
                },
                database,
                raw: serde_json::Value::Object(raw),
            };
            if out.insert(unique_id.clone(), st).is_some() {
                return Err(ProjectError::Config {
                    path: path.into(),
                    message: format!(
                        "source table `{}.{}` is declared twice",
                        source.name, table.name
                    ),
                });
            }
        }
    }
    Ok(out)
}

/// Properties from every YAML file, by resource name, with the file each came from.
#[derive(Default)]
pub(super) struct PropsIndex {
    pub(super) models: HashMap<String, (String, ResourceProps)>,
    pub(super) seeds: HashMap<String, (String, ResourceProps)>,
    pub(super) sources: Vec<(String, crate::properties::SourceProps)>,
    pub(super) unit_tests: Vec<(String, crate::unit_test::UnitTestProps)>,
    pub(super) ml_models: Vec<(String, crate::ml_model::MlModelProps)>,
    /// `snapshots:` entries: with `relation:` a snapshot of their own, else properties of the
    /// SQL snapshot of that name.
    pub(super) snapshots: Vec<(String, ResourceProps)>,
    pub(super) semantic: Vec<(String, crate::semantic::SemanticProps)>,
}

impl PropsIndex {
    pub(super) fn add(&mut self, path: &str, mut file: PropertiesFile) -> Result<()> {
        let semantic = file.take_semantic();
        if !semantic.is_empty() {
            self.semantic.push((path.to_string(), semantic));
        }
        // One entry per resource, as dbt requires: a second would silently lose the first's
        // tests and descriptions.
        for (kind, entries, index) in [
            ("model", file.models, &mut self.models),
            ("seed", file.seeds, &mut self.seeds),
        ] {
            for r in entries {
                if let Some((first, _)) = index.get(&r.name) {
                    return Err(ProjectError::Config {
                        path: path.into(),
                        message: format!(
                            "{kind} `{}` is described twice: here and in {first}\nhint: keep one entry per {kind} in properties YAML (merge their columns and tests)",
                            r.name
                        ),
                    });
                }
                index.insert(r.name.clone(), (path.to_string(), r));
            }
        }
        for s in file.sources {
            self.sources.push((path.to_string(), s));
        }
        for u in file.unit_tests {
            self.unit_tests.push((path.to_string(), u));
        }
        for m in file.ml_models {
            self.ml_models.push((path.to_string(), m));
        }
        for s in file.snapshots {
            self.snapshots.push((path.to_string(), s));
        }
        Ok(())
    }

    /// Every generic test declared in one package's YAML: (yaml path, owner unique id, column,
    /// declaration). `by_name` maps the package's model and seed names to their unique ids.
    pub(super) fn test_decls(
        &self,
        by_name: &HashMap<String, String>,
        package: &str,
    ) -> Vec<(String, String, Option<String>, serde_yaml::Value)> {
        let mut out = Vec::new();
        let mut push_resource = |path: &str, owner: &str, r: &ResourceProps| {
            for t in &r.tests {
                out.push((path.to_string(), owner.to_string(), None, t.clone()));
            }
            for c in &r.columns {
                for t in &c.tests {
                    out.push((
                        path.to_string(),
                        owner.to_string(),
                        Some(c.name.clone()),
                        t.clone(),
                    ));
                }
            }
        };
        // A model's properties win over a seed's of the same name, as everywhere else.
        let mut entries: Vec<(&String, &(String, ResourceProps))> = self
            .models
            .iter()
            .chain(
                self.seeds
                    .iter()
                    .map(|(name, seed)| (name, self.models.get(name).unwrap_or(seed))),
            )
            .collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        for (name, (path, r)) in entries {
            let Some(owner) = by_name.get(name) else {
                continue;
            };
            push_resource(path, owner, r);
        }
        for (path, s) in &self.sources {
            for t in &s.tables {
                let owner = format!("source.{package}.{}.{}", s.name, t.name);
                let as_resource = ResourceProps {
                    name: t.name.clone(),
                    description: None,
                    config: None,
                    columns: t.columns.clone(),
                    tests: t.tests.clone(),
                    ..ResourceProps::default()
                };
                push_resource(path, &owner, &as_resource);
            }
        }
        out
    }
}
