//! The macros a load gives the Jinja runtime: each scope's macro-paths and its
//! `<test-path>/generic/` folders (dbt reads generic tests from both), the root project first,
//! with the root dbt_project.yml's `dispatch:`.

use std::path::Path;

use crate::error::Result;
use crate::jinja::{Jinja, JinjaGlobals};
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

/// (package name, macro files) of every scope, the root project first.
pub(super) fn macro_files(
    root: &Path,
    scopes: &[Scope],
) -> Result<Vec<(String, Vec<(String, String)>)>> {
    let mut out = Vec::with_capacity(scopes.len());
    for scope in scopes {
        let mut files = read_files(root, &scope.file.macro_paths, &["sql"])?;
        files.extend(read_files(root, &generic_dirs(scope), &["sql"])?);
        out.push((scope.name.clone(), files));
    }
    Ok(out)
}

/// The Jinja environment of the load.
pub(super) fn build_jinja(root: &Path, scopes: &[Scope], target: &Target) -> Result<Jinja> {
    let globals = JinjaGlobals {
        vars: scopes[0].vars.clone(),
        target_name: target.name.clone(),
        target_schema: target.schema.clone(),
        threads: target.threads.unwrap_or(1),
        project_name: scopes[0].name.clone(),
    };
    // Until the runtime keeps one namespace per package, every macro is visible by name; the
    // root project's come last so that its definitions win.
    let mut flat = Vec::new();
    let packages = macro_files(root, scopes)?;
    for (_, files) in packages.iter().skip(1).chain(packages.first()) {
        flat.extend(files.iter().cloned());
    }
    Jinja::new(&globals, &flat)
}
