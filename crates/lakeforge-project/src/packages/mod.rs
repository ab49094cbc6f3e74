//! dbt packages, as the project sees them: what a project declares (`packages.yml` or
//! `dependencies.yml`), what `package-lock.yml` pins, and which packages are installed under
//! `packages-install-path` (default `dbt_packages/`), one folder per package named after its
//! dbt_project.yml `name:`. Loading a project asks [`installed`]; `lakeforge deps`
//! (the `lakeforge-deps` crate) resolves, downloads and installs, and writes the lock through
//! [`lock`]. Nothing here touches the network.

pub mod hash;
pub mod lock;
pub mod spec;
pub mod version;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub use hash::declaration_hash;
pub use lock::{LOCK_FILE, LockFile, LockedPackage, LockedSource, lock_yaml, write_lock};
pub use spec::{
    DEPENDENCIES_FILE, DeclaredPackages, PACKAGES_FILE, PackageSource, PackageSpec, declared,
    parse_entry,
};
pub use version::{Version, VersionError, VersionRange};

use crate::error::{ProjectError, Result};
use crate::settings::DbtProjectFile;

/// A package installed for the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledPackage {
    /// The `name:` of its dbt_project.yml (also its folder's name).
    pub name: String,
    /// Its folder (for a `local:` package, the link to it).
    pub path: PathBuf,
}

/// The packages installed for the project at `root`: every folder of its
/// packages-install-path holding a dbt_project.yml, sorted by name. An error when a package
/// the project declares is not installed, naming each one, with the hint to run
/// `lakeforge deps`.
///
/// Which packages must be there comes from package-lock.yml when it was resolved from the
/// current declaration (it names every package, those pulled in by others too); otherwise
/// from the declaration itself: a `local:` package by the name in its own dbt_project.yml,
/// the others by count, as dbt checks them.
pub fn installed(root: &Path, project: &DbtProjectFile) -> Result<Vec<InstalledPackage>> {
    let install_path = root.join(&project.packages_install_path);
    let found = scan(&install_path)?;
    let declared = declared(root)?;
    if declared.specs.is_empty() {
        return Ok(found);
    }
    let names: BTreeSet<&str> = found.iter().map(|p| p.name.as_str()).collect();
    let mut missing = Vec::new();
    match LockFile::read(root)? {
        Some(lock) if lock.matches(&declared.specs) => {
            for spec in &lock.packages {
                match &spec.name {
                    Some(name) if !names.contains(name.as_str()) => {
                        missing.push(format!("{name} ({})", spec.describe()))
                    }
                    Some(_) => {}
                    // A lock written before dbt 1.10 has no names: the declaration decides.
                    None => return check_declared(root, &declared, found, &install_path, false),
                }
            }
        }
        lock => {
            let stale_lock = lock.is_some();
            return check_declared(root, &declared, found, &install_path, stale_lock);
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(not_installed(&declared, &install_path, missing, false))
    }
}

/// Without a current lock: `local:` packages by name, the others by count.
fn check_declared(
    root: &Path,
    declared: &DeclaredPackages,
    found: Vec<InstalledPackage>,
    install_path: &Path,
    stale_lock: bool,
) -> Result<Vec<InstalledPackage>> {
    let mut unmatched: BTreeSet<&str> = found.iter().map(|p| p.name.as_str()).collect();
    let mut missing = Vec::new();
    let mut others = Vec::new();
    for spec in &declared.specs {
        match &spec.source {
            PackageSource::Local { local } => match project_name(&root.join(local)) {
                Some(name) if unmatched.remove(name.as_str()) => {}
                Some(name) => missing.push(format!("{name} ({})", spec.describe())),
                None => missing.push(spec.describe()),
            },
            _ => others.push(spec),
        }
    }
    if others.len() > unmatched.len() {
        // Name the ones whose likely folder is absent; a hub package's folder is usually
        // the part after the slash, a git repository's its last path segment.
        for spec in &others {
            let guess = match &spec.source {
                PackageSource::Hub { package, .. } => {
                    package.rsplit('/').next().map(str::to_string)
                }
                PackageSource::Git {
                    git, subdirectory, ..
                } => subdirectory
                    .as_deref()
                    .unwrap_or(git)
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .map(|s| s.trim_end_matches(".git").replace('-', "_")),
                _ => spec.name.clone(),
            };
            if !guess.is_some_and(|g| unmatched.contains(g.as_str())) {
                missing.push(spec.describe());
            }
        }
        if missing.is_empty() {
            missing.extend(others.iter().map(|s| s.describe()));
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(not_installed(declared, install_path, missing, stale_lock))
    }
}

fn not_installed(
    declared: &DeclaredPackages,
    install_path: &Path,
    missing: Vec<String>,
    stale_lock: bool,
) -> ProjectError {
    ProjectError::PackagesNotInstalled {
        file: declared.file.clone(),
        install_path: install_path.to_path_buf(),
        missing,
        stale_lock,
    }
}

/// The packages in an install folder: each folder (or link to one) holding a
/// dbt_project.yml. Hidden entries are skipped: `lakeforge deps` stages downloads there.
fn scan(install_path: &Path) -> Result<Vec<InstalledPackage>> {
    let entries = match std::fs::read_dir(install_path) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ProjectError::io(install_path, e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| ProjectError::io(install_path, e))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') || !path.is_dir() {
            continue;
        }
        if let Some(name) = project_name(&path) {
            found.push(InstalledPackage { name, path });
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// The dbt_project.yml of the project at `root`.
pub fn project_file(root: &Path) -> Result<DbtProjectFile> {
    crate::settings::read_yaml(&root.join("dbt_project.yml"))
}

/// The `name:` of the dbt_project.yml in `dir`, if it has a readable one.
pub fn project_name(dir: &Path) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named {
        name: String,
    }
    let text = std::fs::read_to_string(dir.join("dbt_project.yml")).ok()?;
    serde_yaml::from_str::<Named>(&text).ok().map(|n| n.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(dir: &Path, name: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(
            dir.join("dbt_project.yml"),
            format!("name: {name}\nversion: '1.0'\n"),
        )
        .unwrap();
    }

    fn root_file(root: &Path) -> DbtProjectFile {
        project(root, "root");
        serde_yaml::from_str("name: root\n").unwrap()
    }

    #[test]
    fn lists_installed_packages_and_names_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("proj");
        let file = root_file(&root);
        assert!(installed(&root, &file).unwrap().is_empty());

        project(&dir.path().join("shared"), "shared_pkg");
        std::fs::write(
            root.join("packages.yml"),
            "packages:\n  - local: ../shared\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n",
        )
        .unwrap();
        let err = installed(&root, &file).unwrap_err().to_string();
        assert!(
            err.contains("shared_pkg (local ../shared)")
                && err.contains("hub package dbt-labs/dbt_utils"),
            "{err}"
        );
        assert!(err.contains("hint: run `lakeforge deps`"), "{err}");

        project(&root.join("dbt_packages/dbt_utils"), "dbt_utils");
        project(&root.join("dbt_packages/shared_pkg"), "shared_pkg");
        std::fs::create_dir_all(root.join("dbt_packages/.lakeforge-deps-x/junk")).unwrap();
        let found = installed(&root, &file).unwrap();
        assert_eq!(
            found.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["dbt_utils", "shared_pkg"]
        );
        assert_eq!(found[0].path, root.join("dbt_packages/dbt_utils"));
    }

    #[test]
    fn a_current_lock_names_every_package_to_expect() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let file = root_file(root);
        std::fs::write(
            root.join("packages.yml"),
            "packages:\n  - package: org/top\n    version: 1.0.0\n",
        )
        .unwrap();
        let specs = declared(root).unwrap().specs;
        let hub = |name: &str| LockedPackage {
            name: name.into(),
            source: LockedSource::Hub {
                package: format!("org/{name}"),
                version: "1.0.0".into(),
            },
        };
        write_lock(
            root,
            &[hub("top"), hub("pulled_in")],
            &declaration_hash(&specs),
        )
        .unwrap();
        project(&root.join("dbt_packages/top"), "top");
        let err = installed(root, &file).unwrap_err().to_string();
        assert!(
            err.contains("pulled_in (hub package org/pulled_in)"),
            "{err}"
        );
        assert!(!err.contains("top ("), "{err}");
        project(&root.join("dbt_packages/pulled_in"), "pulled_in");
        assert_eq!(installed(root, &file).unwrap().len(), 2);
    }

    #[test]
    fn honours_packages_install_path() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        project(root, "root");
        let file: DbtProjectFile =
            serde_yaml::from_str("name: root\npackages-install-path: vendor/pkgs\n").unwrap();
        std::fs::write(
            root.join("packages.yml"),
            "packages:\n  - git: https://example.com/org/my-pkg.git\n",
        )
        .unwrap();
        let err = installed(root, &file).unwrap_err().to_string();
        assert!(err.contains("vendor/pkgs"), "{err}");
        project(&root.join("vendor/pkgs/my_pkg"), "my_pkg");
        assert_eq!(installed(root, &file).unwrap()[0].name, "my_pkg");
    }
}
