//! Resolving names while a project loads and compiles: ref() targets to unique ids across the
//! root project and its packages, source() to declared source tables, and `--vars`.
//!
//! dbt searches a ref() without a package in the root project first, then in the package of
//! the node that calls it, then in every other package (`_packages_to_search` in dbt-core);
//! `ref('pkg', 'model')` looks in `pkg` only. source() follows the same order.

use std::collections::{BTreeMap, HashMap};

use crate::config::yaml_to_json;
use crate::error::{ProjectError, Result, suggest};
use crate::node::SourceTable;

pub(super) fn push_unique(v: &mut Vec<String>, id: String) {
    if !v.contains(&id) {
        v.push(id);
    }
}

/// Refable nodes (models, seeds, snapshots, ML models) by package and name.
#[derive(Debug, Default, Clone)]
pub(crate) struct RefIndex {
    /// The root project, then the packages in load order.
    packages: Vec<String>,
    enabled: HashMap<String, HashMap<String, String>>,
    /// Disabled nodes' paths, so a ref to one says so instead of "unknown".
    disabled: HashMap<String, HashMap<String, String>>,
}

impl RefIndex {
    pub fn new(packages: Vec<String>) -> Self {
        RefIndex {
            packages,
            ..Default::default()
        }
    }

    /// Record an enabled node; the unique id of an earlier one of that name in that package,
    /// if any.
    pub fn insert(&mut self, package: &str, name: &str, unique_id: &str) -> Option<String> {
        self.enabled
            .entry(package.to_string())
            .or_default()
            .insert(name.to_string(), unique_id.to_string())
    }

    pub fn insert_disabled(&mut self, package: &str, name: &str, path: &str) {
        self.disabled
            .entry(package.to_string())
            .or_default()
            .insert(name.to_string(), path.to_string());
    }

    /// The packages a ref() from a node of `from` searches, in order.
    pub fn search_order<'a>(&'a self, from: &'a str, target: Option<&'a str>) -> Vec<&'a str> {
        if let Some(t) = target {
            return vec![t];
        }
        let root = self.packages.first().map(String::as_str).unwrap_or(from);
        let mut order = vec![root];
        if from != root {
            order.push(from);
        }
        order.extend(
            self.packages
                .iter()
                .map(String::as_str)
                .filter(|p| *p != root && *p != from),
        );
        order
    }

    /// The unique id `ref(target, name)` reaches from a node of package `from`.
    pub fn find(&self, from: &str, target: Option<&str>, name: &str) -> Option<&String> {
        self.search_order(from, target)
            .into_iter()
            .find_map(|p| self.enabled.get(p)?.get(name))
    }

    /// Whether `ref(target, name)` from a node of `from` finds only a disabled node.
    pub fn is_disabled(&self, from: &str, target: Option<&str>, name: &str) -> bool {
        self.find(from, target, name).is_none()
            && self
                .search_order(from, target)
                .into_iter()
                .any(|p| self.disabled.get(p).is_some_and(|m| m.contains_key(name)))
    }

    /// The names a ref() from the root project reaches, each to the node it resolves to.
    pub fn root_view(&self) -> HashMap<String, String> {
        let mut out = HashMap::new();
        for p in self.packages.iter().rev() {
            if let Some(names) = self.enabled.get(p) {
                out.extend(names.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        // The root project's names win over every package's.
        if let Some(names) = self.packages.first().and_then(|r| self.enabled.get(r)) {
            out.extend(names.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        out
    }

    /// The node's names in one package (for its properties YAML).
    pub fn in_package(&self, package: &str) -> HashMap<String, String> {
        self.enabled.get(package).cloned().unwrap_or_default()
    }

    /// Resolve a ref() of the node at `path` (of package `from`), or say what is wrong.
    pub fn resolve(
        &self,
        from: &str,
        path: &str,
        target: Option<&str>,
        name: &str,
    ) -> Result<String> {
        if let Some(t) = target
            && !self.packages.iter().any(|p| p == t)
        {
            return Err(ProjectError::Config {
                path: path.into(),
                message: format!(
                    "ref('{t}', '{name}') names package `{t}`, which is neither this project nor an installed package (known: {})\nhint: check the spelling, or declare the package in packages.yml and run `lakeforge deps`",
                    self.packages.join(", ")
                ),
            });
        }
        if let Some(id) = self.find(from, target, name) {
            return Ok(id.clone());
        }
        let order = self.search_order(from, target);
        if let Some(disabled) = order.iter().find_map(|p| self.disabled.get(*p)?.get(name)) {
            return Err(ProjectError::Config {
                path: path.into(),
                message: format!(
                    "ref('{name}') points to a disabled node ({disabled})\nhint: enable it, or disable this node too"
                ),
            });
        }
        let candidates: Vec<&str> = order
            .iter()
            .filter_map(|p| self.enabled.get(*p))
            .flat_map(|m| m.keys().map(String::as_str))
            .collect();
        Err(ProjectError::UnknownRef {
            node: path.to_string(),
            target: match target {
                Some(t) => format!("{t}.{name}"),
                None => name.to_string(),
            },
            suggestion: suggest(name, candidates),
        })
    }
}

/// The unique id of `source(source, table)` from a node of package `from`: the root project's
/// declaration first, then the package's own, then any other package's.
pub(crate) fn find_source<'a>(
    sources: &'a BTreeMap<String, SourceTable>,
    refs: &RefIndex,
    from: &str,
    source: &str,
    table: &str,
) -> Option<&'a SourceTable> {
    refs.search_order(from, None)
        .into_iter()
        .find_map(|p| sources.get(&format!("source.{p}.{source}.{table}")))
}

pub(super) fn resolve_source_id(
    sources: &BTreeMap<String, SourceTable>,
    refs: &RefIndex,
    from_package: &str,
    from: &str,
    source: &str,
    table: &str,
) -> Result<String> {
    if let Some(s) = find_source(sources, refs, from_package, source, table) {
        return Ok(s.unique_id.clone());
    }
    let names: Vec<String> = sources
        .values()
        .map(|s| format!("{}.{}", s.source_name, s.name))
        .collect();
    Err(ProjectError::UnknownSource {
        node: from.to_string(),
        source_name: source.to_string(),
        table: table.to_string(),
        suggestion: suggest(
            &format!("{source}.{table}"),
            names.iter().map(String::as_str),
        ),
    })
}

/// `--vars` as a mapping.
pub(super) fn cli_vars(cli: Option<&str>) -> Result<BTreeMap<String, serde_json::Value>> {
    let Some(text) = cli.filter(|t| !t.trim().is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let parsed: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| ProjectError::Vars {
        message: e.to_string(),
    })?;
    let serde_json::Value::Object(m) = yaml_to_json(&parsed) else {
        return Err(ProjectError::Vars {
            message: format!("expected a mapping, got `{text}`"),
        });
    };
    Ok(m.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_search_the_root_then_the_callers_package_then_the_others() {
        let mut idx = RefIndex::new(vec!["root".into(), "a".into(), "b".into()]);
        idx.insert("a", "m", "model.a.m");
        idx.insert("b", "m", "model.b.m");
        idx.insert("b", "only_b", "model.b.only_b");
        assert_eq!(idx.find("b", None, "m").unwrap(), "model.b.m");
        assert_eq!(idx.find("root", None, "m").unwrap(), "model.a.m");
        assert_eq!(idx.find("a", None, "only_b").unwrap(), "model.b.only_b");
        assert_eq!(idx.find("root", Some("b"), "m").unwrap(), "model.b.m");
        assert!(idx.find("root", Some("a"), "only_b").is_none());
        idx.insert("root", "m", "model.root.m");
        assert_eq!(idx.find("b", None, "m").unwrap(), "model.root.m");
        assert_eq!(idx.root_view()["m"], "model.root.m");

        let err = idx.resolve("root", "models/x.sql", Some("nope"), "m");
        let msg = err.unwrap_err().to_string();
        assert!(
            msg.contains("package `nope`") && msg.contains("lakeforge deps"),
            "{msg}"
        );
        let msg = idx
            .resolve("root", "models/x.sql", Some("a"), "only_b")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("`a.only_b`"), "{msg}");
    }
}
