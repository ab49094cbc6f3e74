//! The macros a load gives the Jinja runtime: each scope's macro-paths and its
//! `<test-path>/generic/` folders (dbt reads generic tests from both), the root project first,
//! with the root dbt_project.yml's `dispatch:`.

use std::path::Path;

use crate::error::Result;
use crate::jinja::{DispatchConfig, Jinja, JinjaGlobals, MacroPackage};
use crate::settings::Target;

use super::files::read_files;
use super::scope::Scope;

/// The `<test-path>/generic` folders of a scope: generic tests may live there, and its SQL files
/// there are not singular tests.
pub(super) fn generic_dirs(scope: &Scope) -> Vec<String> {
    scope
        .file
        .test_paths
        .iter()
        .map(|t| format!("{}/generic", t.trim_end_matches('/')))
        .collect()
}

/// The macro files of every scope, the root project first.
pub(super) fn macro_packages(root: &Path, scopes: &[Scope]) -> Result<Vec<MacroPackage>> {
    let mut out = Vec::with_capacity(scopes.len());
    for scope in scopes {
        let mut files = read_files(root, &scope.file.macro_paths, &["sql"])?;
        files.extend(read_files(root, &generic_dirs(scope), &["sql"])?);
        out.push(MacroPackage {
            name: scope.name.clone(),
            files,
        });
    }
    Ok(out)
}

/// The Jinja environment of the load: every scope's macros in a namespace of its own, and the
/// root project's `dispatch:`.
pub(super) fn build_jinja(root: &Path, scopes: &[Scope], target: &Target) -> Result<Jinja> {
    let globals = JinjaGlobals {
        vars: scopes[0].vars.clone(),
        target_name: target.name.clone(),
        target_schema: target.schema.clone(),
        threads: target.threads.unwrap_or(1),
        project_name: scopes[0].name.clone(),
        dispatch: scopes[0]
            .file
            .dispatch
            .iter()
            .map(|d| DispatchConfig {
                macro_namespace: d.macro_namespace.clone(),
                search_order: d.search_order.clone(),
            })
            .collect(),
    };
    Jinja::new(&globals, &macro_packages(root, scopes)?)
}
