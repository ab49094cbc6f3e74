//! The projects one load reads: the root project and each package installed for it (found by
//! `crate::packages::installed`, which refuses a declared package that is missing). Each is a
//! [`Scope`]: its name, its dbt_project.yml with paths made relative to the root project's
//! folder (so node paths open from the root, and errors name the file under
//! `dbt_packages/<pkg>/`), the configs its nodes take, and the vars its nodes see.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::{ConfigLayer, hierarchy_layer, merge, yaml_to_json};
use crate::error::{ProjectError, Result};
use crate::settings::{DbtProjectFile, read_yaml};

/// One project of the load: the root project or an installed package.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// The `name:` of its dbt_project.yml: the first part of its nodes' fqn and unique ids.
    pub name: String,
    /// Its folder relative to the root project's folder: `""` for the root project,
    /// `dbt_packages/<name>` for a package.
    pub prefix: String,
    /// Its dbt_project.yml, every `*-paths` entry prefixed with `prefix`.
    pub file: DbtProjectFile,
    pub is_root: bool,
    /// What var() returns in its nodes (see [`scope_vars`]).
    pub vars: BTreeMap<String, serde_json::Value>,
}

/// Which `dbt_project.yml` tree configures a kind of node.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Tree {
    Models,
    Seeds,
    Snapshots,
    Tests,
}

impl Tree {
    fn of(self, file: &DbtProjectFile) -> &serde_yaml::Value {
        match self {
            Tree::Models => &file.models,
            Tree::Seeds => &file.seeds,
            Tree::Snapshots => &file.snapshots,
            Tree::Tests => &file.data_tests,
        }
    }
}

impl Scope {
    /// The configs of a node of this scope from dbt_project.yml: the package's own tree first,
    /// then the root project's (which configures a package's nodes under
    /// `models: {<package>: ...}`), as dbt layers them.
    pub fn layer(&self, root: &DbtProjectFile, tree: Tree, fqn: &[String]) -> ConfigLayer {
        if self.is_root {
            return hierarchy_layer(tree.of(root), fqn);
        }
        let mut layer = hierarchy_layer(tree.of(&self.file), fqn);
        merge(&mut layer, &hierarchy_layer(tree.of(root), fqn));
        layer
    }

    /// What a render of one of its nodes adds to the context: a package's nodes see the
    /// package's vars instead of the root project's.
    pub fn render_extra(&self) -> BTreeMap<String, minijinja::Value> {
        let mut extra = BTreeMap::new();
        if !self.is_root {
            extra.insert(
                crate::jinja::VAR_OVERRIDES.to_string(),
                minijinja::Value::from_serialize(&self.vars),
            );
        }
        extra
    }

    /// A path of this scope's files relative to the package's own folder (dbt's
    /// `original_file_path`); the root project's paths are unchanged.
    pub fn own_path<'a>(&self, path: &'a str) -> &'a str {
        if self.is_root {
            return path;
        }
        path.strip_prefix(&self.prefix)
            .and_then(|p| p.strip_prefix('/'))
            .unwrap_or(path)
    }
}

/// The root project (first) and every installed package, each with the vars its nodes see.
/// `cli_vars` are `--vars`, which win everywhere.
pub(crate) fn scopes(
    root: &Path,
    file: &DbtProjectFile,
    cli_vars: &BTreeMap<String, serde_json::Value>,
) -> Result<Vec<Scope>> {
    let mut out = vec![Scope {
        name: file.name.clone(),
        prefix: String::new(),
        file: file.clone(),
        is_root: true,
        vars: scope_vars(None, file, &file.name, cli_vars),
    }];
    for pkg in crate::packages::installed(root, file)? {
        let pkg_file: DbtProjectFile = read_yaml(&pkg.path.join("dbt_project.yml"))?;
        if pkg_file.name == file.name {
            return Err(ProjectError::Config {
                path: pkg.path.join("dbt_project.yml"),
                message: format!(
                    "the installed package is named `{}`, as the project itself\nhint: a project cannot install itself; remove it from packages.yml",
                    file.name
                ),
            });
        }
        let folder = pkg
            .path
            .strip_prefix(root)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_else(|_| {
                format!(
                    "{}/{}",
                    file.packages_install_path.trim_end_matches('/'),
                    pkg.name
                )
            });
        let vars = scope_vars(Some(&pkg_file), file, &pkg_file.name, cli_vars);
        let prefixed = |paths: &[String]| -> Vec<String> {
            paths
                .iter()
                .map(|p| format!("{folder}/{}", p.trim_end_matches('/')))
                .collect()
        };
        let mut scoped = pkg_file.clone();
        scoped.model_paths = prefixed(&pkg_file.model_paths);
        scoped.seed_paths = prefixed(&pkg_file.seed_paths);
        scoped.test_paths = prefixed(&pkg_file.test_paths);
        scoped.macro_paths = prefixed(&pkg_file.macro_paths);
        scoped.snapshot_paths = prefixed(&pkg_file.snapshot_paths);
        scoped.analysis_paths = prefixed(&pkg_file.analysis_paths);
        scoped.docs_paths = pkg_file.docs_paths.as_deref().map(prefixed);
        out.push(Scope {
            name: pkg_file.name.clone(),
            prefix: folder,
            file: scoped,
            is_root: false,
            vars,
        });
    }
    Ok(out)
}

/// The vars a node of package `package` sees, lowest precedence first, as dbt merges them: the
/// package's own dbt_project.yml (its global vars, then those under its name), then the root
/// project's (global, then under the package's name), then `--vars`.
pub(crate) fn scope_vars(
    own: Option<&DbtProjectFile>,
    root: &DbtProjectFile,
    package: &str,
    cli: &BTreeMap<String, serde_json::Value>,
) -> BTreeMap<String, serde_json::Value> {
    let mut vars = BTreeMap::new();
    let mut add = |file: &DbtProjectFile| {
        for (k, v) in &file.vars {
            // A mapping under a project's name is scoped to it, not a var of its own.
            if v.is_mapping() && (k == &file.name || k == package) {
                continue;
            }
            vars.insert(k.clone(), yaml_to_json(v));
        }
        if let Some(serde_yaml::Value::Mapping(m)) = file.vars.get(package) {
            for (k, v) in m {
                if let Some(k) = k.as_str() {
                    vars.insert(k.to_string(), yaml_to_json(v));
                }
            }
        }
    };
    if let Some(own) = own {
        add(own);
    }
    add(root);
    vars.extend(cli.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(yaml: &str) -> DbtProjectFile {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn package_vars_are_layered_under_the_root_and_the_command_line() {
        let pkg = file("name: pkg\nvars:\n  a: pkg\n  b: pkg\n  pkg: {c: pkg-scoped}\n");
        let root = file(
            "name: root\nvars:\n  b: root\n  root: {d: root-only}\n  pkg: {a: root-for-pkg}\n",
        );
        let cli = BTreeMap::from([("e".to_string(), serde_json::json!("cli"))]);
        let v = scope_vars(Some(&pkg), &root, "pkg", &cli);
        assert_eq!(v["a"], "root-for-pkg");
        assert_eq!(v["b"], "root");
        assert_eq!(v["c"], "pkg-scoped");
        assert_eq!(v["e"], "cli");
        assert!(!v.contains_key("d"), "{v:?}");
        let r = scope_vars(None, &root, "root", &cli);
        assert_eq!(r["d"], "root-only");
        assert_eq!(r["b"], "root");
        // The root sees another package's scoped mapping as a var of that name, as dbt does.
        assert!(r.contains_key("pkg"));
        assert!(!r.contains_key("a"));
    }

    #[test]
    fn the_root_project_configures_a_package_after_its_own_file() {
        let root =
            file("name: root\nmodels:\n  pkg:\n    +materialized: table\n    +tags: [root]\n");
        let mut pkg = file(
            "name: pkg\nmodels:\n  pkg:\n    +materialized: view\n    +schema: own\n    +tags: [own]\n",
        );
        pkg.model_paths = vec!["dbt_packages/pkg/models".into()];
        let scope = Scope {
            name: "pkg".into(),
            prefix: "dbt_packages/pkg".into(),
            file: pkg,
            is_root: false,
            vars: BTreeMap::new(),
        };
        let fqn = vec!["pkg".to_string(), "m".to_string()];
        let layer = scope.layer(&root, Tree::Models, &fqn);
        assert_eq!(layer["materialized"], "table");
        assert_eq!(layer["schema"], "own");
        assert_eq!(layer["tags"], serde_json::json!(["own", "root"]));
        assert_eq!(
            scope.own_path("dbt_packages/pkg/models/m.sql"),
            "models/m.sql"
        );
    }
}
