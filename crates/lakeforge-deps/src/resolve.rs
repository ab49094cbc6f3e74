//! Resolution: from the packages a project declares to one exact source per package, the
//! packages they declare included, as dbt resolves them. Declarations of the same package
//! (same hub name, same git URL and subdirectory, same local path or tarball URL) merge: hub
//! version ranges intersect and the highest version in the intersection wins; a git package
//! must be asked for at one revision everywhere. Each package is pinned (its hub version
//! chosen, its repository cloned, its archive unpacked) to learn its name and what it depends
//! on; those dependencies join the declaration, and this repeats until nothing new appears.
//! A package-lock.yml that matches the declaration skips all of this: its pins are used as
//! they are ([`from_lock`]).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use lakeforge_project::packages::{DeclaredPackages, LockFile, PackageSource, PackageSpec};

use crate::error::{DepsError, Result};
use crate::pinned::Pinned;
use crate::sources::{Sources, Wanted};

/// The key under which declarations of one package merge, as dbt keys them.
fn key(root: &Path, spec: &PackageSpec) -> String {
    match &spec.source {
        PackageSource::Hub { package, .. } => package.clone(),
        PackageSource::Git {
            git, subdirectory, ..
        } => {
            let base = git.trim_end_matches('/').trim_end_matches(".git");
            match subdirectory {
                Some(s) => format!("{base}/{}", s.trim_matches('/')),
                None => base.to_string(),
            }
        }
        PackageSource::Local { local } => normalize(&root.join(local)).display().to_string(),
        PackageSource::Tarball { tarball } => tarball.clone(),
    }
}

/// `a/b/../c` as `a/c`, without touching the disk.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Add one declaration to what is wanted.
fn incorporate(
    wanted: &mut Vec<(String, Wanted)>,
    root: &Path,
    spec: &PackageSpec,
    by: &str,
    locked: bool,
) -> Result<()> {
    let k = key(root, spec);
    let existing = wanted.iter_mut().find(|(key, _)| *key == k).map(|(_, w)| w);
    match (existing, &spec.source) {
        (
            Some(Wanted::Hub {
                requirements,
                prerelease,
                ..
            }),
            PackageSource::Hub {
                versions,
                install_prerelease,
                ..
            },
        ) => {
            requirements.extend(versions.iter().map(|v| (v.clone(), by.to_string())));
            *prerelease |= install_prerelease;
        }
        (
            Some(Wanted::Git {
                revisions,
                warn_unpinned,
                ..
            }),
            PackageSource::Git {
                revision,
                warn_unpinned: w,
                ..
            },
        ) => {
            revisions.push((revision.clone(), by.to_string()));
            *warn_unpinned &= w.unwrap_or(true);
        }
        (Some(Wanted::Local { .. }), PackageSource::Local { .. })
        | (Some(Wanted::Tarball { .. }), PackageSource::Tarball { .. }) => {}
        (Some(other), _) => {
            return Err(DepsError::KindMismatch {
                key: k,
                first: other.kind().to_string(),
                second: format!("{} ({})", spec.describe(), by),
            });
        }
        (None, source) => {
            let w = match source {
                PackageSource::Hub {
                    package,
                    versions,
                    install_prerelease,
                } => Wanted::Hub {
                    package: package.clone(),
                    requirements: versions
                        .iter()
                        .map(|v| (v.clone(), by.to_string()))
                        .collect(),
                    prerelease: *install_prerelease,
                    locked,
                },
                PackageSource::Git {
                    git,
                    revision,
                    subdirectory,
                    warn_unpinned,
                } => Wanted::Git {
                    git: git.clone(),
                    git_unrendered: spec.unrendered_str("git").unwrap_or(git).to_string(),
                    subdirectory: subdirectory.clone(),
                    revisions: vec![(revision.clone(), by.to_string())],
                    warn_unpinned: warn_unpinned.unwrap_or(true),
                },
                PackageSource::Local { local } => Wanted::Local {
                    local: local.clone(),
                },
                PackageSource::Tarball { tarball } => Wanted::Tarball {
                    tarball: tarball.clone(),
                    tarball_unrendered: spec
                        .unrendered_str("tarball")
                        .unwrap_or(tarball)
                        .to_string(),
                    name: spec.name.clone().unwrap_or_default(),
                },
            };
            wanted.push((k, w));
        }
    }
    Ok(())
}

/// Resolve the declaration, and the declarations of the packages it pulls in, to one pinned
/// source per package (in the order they were first declared).
pub(crate) async fn resolve(src: &mut Sources, declared: &DeclaredPackages) -> Result<Vec<Pinned>> {
    let root_label = declared
        .file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut wanted: Vec<(String, Wanted)> = Vec::new();
    let mut queue: Vec<(PackageSpec, String)> = declared
        .specs
        .iter()
        .map(|s| (s.clone(), root_label.clone()))
        .collect();
    // Per package, the pin whose own dependencies are already in `wanted`.
    let mut expanded: HashMap<String, String> = HashMap::new();
    loop {
        for (spec, by) in queue.drain(..) {
            incorporate(&mut wanted, &src.root, &spec, &by, false)?;
        }
        let mut next = Vec::new();
        let mut pins = Vec::new();
        for (k, w) in &wanted {
            let pinned = src.pin(w).await?;
            if expanded.get(k) != Some(&pinned.identity()) {
                expanded.insert(k.clone(), pinned.identity());
                let by = pinned.requirer();
                for dep in src.dependencies(&pinned).await? {
                    next.push((dep, by.clone()));
                }
            }
            pins.push(pinned);
        }
        if next.is_empty() {
            check_names(&pins)?;
            return Ok(pins);
        }
        queue = next;
    }
}

/// The pins of a package-lock.yml, as they are: no version is chosen and nothing it lists
/// is followed further (it already lists every package).
pub(crate) async fn from_lock(src: &mut Sources, lock: &LockFile) -> Result<Vec<Pinned>> {
    let mut wanted: Vec<(String, Wanted)> = Vec::new();
    for spec in &lock.packages {
        incorporate(&mut wanted, &src.root, spec, "package-lock.yml", true)?;
    }
    let mut pins = Vec::new();
    for (_, w) in &wanted {
        pins.push(src.pin(w).await?);
    }
    check_names(&pins)?;
    Ok(pins)
}

/// Two packages may not install into the same folder.
fn check_names(pins: &[Pinned]) -> Result<()> {
    for (i, p) in pins.iter().enumerate() {
        if let Some(q) = pins[..i].iter().find(|q| q.name == p.name) {
            return Err(DepsError::DuplicateName {
                name: p.name.clone(),
                first: q.origin(),
                second: p.origin(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Hub;
    use crate::pinned::PinnedSource;
    use lakeforge_project::packages::declared;
    use url::Url;

    fn spec(yaml: &str) -> PackageSpec {
        let v: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
        lakeforge_project::packages::parse_entry(
            Path::new("packages.yml"),
            "packages.yml, packages[0]",
            &v,
        )
        .unwrap()
    }

    #[test]
    fn declarations_of_one_package_merge() {
        let root = Path::new("/proj");
        let mut wanted = Vec::new();
        for (yaml, by) in [
            ("{package: a/b, version: '>=1.0.0'}", "packages.yml"),
            ("{package: a/b, version: ['<2.0.0']}", "x/y@1.0.0"),
            ("{git: 'https://h/r.git', revision: v1}", "packages.yml"),
            (
                "{git: 'https://h/r', revision: v1, warn-unpinned: false}",
                "x/y@1.0.0",
            ),
            ("{git: 'https://h/r', subdirectory: inner}", "x/y@1.0.0"),
            ("{local: ../a}", "packages.yml"),
            ("{local: ../b/../a}", "packages.yml"),
        ] {
            incorporate(&mut wanted, root, &spec(yaml), by, false).unwrap();
        }
        let keys: Vec<&str> = wanted.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a/b", "https://h/r", "https://h/r/inner", "/a"]);
        match &wanted[0].1 {
            Wanted::Hub { requirements, .. } => assert_eq!(
                requirements,
                &[
                    (">=1.0.0".to_string(), "packages.yml".to_string()),
                    ("<2.0.0".to_string(), "x/y@1.0.0".to_string())
                ]
            ),
            other => panic!("{other:?}"),
        }
        match &wanted[1].1 {
            Wanted::Git {
                revisions,
                warn_unpinned,
                ..
            } => {
                assert_eq!(revisions.len(), 2);
                assert!(!warn_unpinned);
            }
            other => panic!("{other:?}"),
        }
        let e = incorporate(
            &mut wanted,
            root,
            &spec("{tarball: a/b, name: n}"),
            "p",
            false,
        );
        assert!(e.is_err());
        let mut wanted = Vec::new();
        incorporate(
            &mut wanted,
            root,
            &spec("{tarball: 'https://h/r', name: n}"),
            "p",
            false,
        )
        .unwrap();
        let e = incorporate(&mut wanted, root, &spec("{git: 'https://h/r'}"), "q", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a tarball and git https://h/r (q)"), "{e}");
    }

    /// A hub index JSON: `versions` maps a version to its dependencies (hub entries).
    fn index(name: &str, versions: &[(&str, &str)]) -> String {
        let entries: Vec<String> = versions
            .iter()
            .map(|(v, deps)| {
                format!(
                    r#""{v}": {{"name": "{name}", "packages": {deps}, "downloads": {{"tarball": "/t/{name}-{v}.tgz"}}, "require_dbt_version": [">=1.3.0", "<2.0.0"]}}"#
                )
            })
            .collect();
        format!(
            r#"{{"name": "{name}", "versions": {{{}}}}}"#,
            entries.join(", ")
        )
    }

    async fn resolve_with(hub: Hub, packages_yml: &str) -> Result<Vec<Pinned>> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("packages.yml"), packages_yml).unwrap();
        let declared = declared(dir.path()).unwrap();
        let mut src = Sources::new(dir.path().to_path_buf(), hub, dir.path().join("work"), true);
        resolve(&mut src, &declared).await
    }

    fn versions(pins: &[Pinned]) -> Vec<String> {
        pins.iter()
            .map(|p| format!("{}@{}", p.name, p.version_label()))
            .collect()
    }

    fn hub() -> Hub {
        let a = index(
            "a",
            &[
                (
                    "1.0.0",
                    r#"[{"package": "org/c", "version": [">=0.1.0", "<0.2.0"]}]"#,
                ),
                (
                    "1.2.0",
                    r#"[{"package": "org/c", "version": [">=0.2.0", "<0.3.0"]}]"#,
                ),
                ("2.0.0", "[]"),
            ],
        );
        let b = index(
            "b",
            &[
                ("1.0.0", r#"[{"package": "org/c", "version": ">=0.2.1"}]"#),
                ("1.1.0", r#"[{"package": "org/c", "version": ">=0.3.0"}]"#),
            ],
        );
        let c = index(
            "c",
            &[
                ("0.1.9", "[]"),
                ("0.2.0", "[]"),
                ("0.2.5", "[]"),
                ("0.3.0", "[]"),
                ("0.4.0-rc1", "[]"),
            ],
        );
        Hub::preloaded(&[("org/a", &a), ("org/b", &b), ("org/c", &c)])
    }

    #[tokio::test]
    async fn transitive_ranges_intersect() {
        let pins = resolve_with(
            hub(),
            "packages:\n  - package: org/a\n    version: [\">=1.0.0\", \"<2.0.0\"]\n  - package: org/b\n    version: 1.0.0\n",
        )
        .await
        .unwrap();
        // a wants c in [0.2.0, 0.3.0), b wants >=0.2.1: the highest in both is 0.2.5.
        assert_eq!(versions(&pins), ["a@1.2.0", "b@1.0.0", "c@0.2.5"]);
        match &pins[2].source {
            PinnedSource::Hub {
                tarball, latest, ..
            } => {
                assert_eq!(tarball.as_str(), "http://127.0.0.1:9/t/c-0.2.5.tgz");
                // The prerelease is no update to offer.
                assert_eq!(latest.as_deref(), Some("0.3.0"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_conflict_names_both_requirers_and_their_ranges() {
        let e = resolve_with(
            hub(),
            "packages:\n  - package: org/a\n    version: 1.2.0\n  - package: org/b\n    version: 1.1.0\n",
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("No version of `org/c` satisfies every requirement:"),
            "{e}"
        );
        assert!(e.contains(">=0.2.0  (required by org/a@1.2.0)"), "{e}");
        assert!(e.contains("<0.3.0  (required by org/a@1.2.0)"), "{e}");
        assert!(e.contains(">=0.3.0  (required by org/b@1.1.0)"), "{e}");
    }

    #[tokio::test]
    async fn a_range_the_hub_cannot_meet_lists_what_it_has() {
        let e = resolve_with(
            hub(),
            "packages:\n  - package: org/c\n    version: \">=0.3.1\"\n",
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(
                "No version of `org/c` on the hub matches >=0.3.1 (required by packages.yml)"
            ),
            "{e}"
        );
        assert!(e.contains("has 0.1.9, 0.2.0, 0.2.5, 0.3.0"), "{e}");
        assert!(e.contains("install_prerelease: true"), "{e}");
        // Asking for the prerelease by name allows it, as in dbt.
        let pins = resolve_with(
            hub(),
            "packages:\n  - package: org/c\n    version: 0.4.0-rc1\n",
        )
        .await
        .unwrap();
        assert_eq!(versions(&pins), ["c@0.4.0-rc1"]);
        let pins = resolve_with(
            hub(),
            "packages:\n  - package: org/c\n    version: \">=0.4.0-a\"\n",
        )
        .await
        .unwrap();
        assert_eq!(versions(&pins), ["c@0.4.0-rc1"]);
    }

    #[tokio::test]
    async fn a_package_missing_from_the_hub_names_the_url_tried() {
        let e = resolve_with(
            hub(),
            "packages:\n  - package: org/zz\n    version: 1.0.0\n",
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("`org/zz`") && e.contains("http://127.0.0.1:9/api/v1/org/zz.json"),
            "{e}"
        );
        assert!(e.contains("hint: "), "{e}");
    }

    #[tokio::test]
    async fn one_git_package_at_two_revisions_is_refused_before_cloning() {
        let dir = tempfile::tempdir().unwrap();
        let mut src = Sources::new(
            dir.path().to_path_buf(),
            Hub::preloaded(&[]),
            dir.path().join("work"),
            true,
        );
        let mut wanted = Vec::new();
        let url = "https://git.invalid/org/pkg.git";
        for (yaml, by) in [
            (format!("{{git: '{url}', revision: v1}}"), "packages.yml"),
            (format!("{{git: '{url}', revision: v2}}"), "org/other@1.0.0"),
        ] {
            incorporate(&mut wanted, dir.path(), &spec(&yaml), by, false).unwrap();
        }
        let e = src.pin(&wanted[0].1).await.unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "The git package {url} is required at different revisions"
            )),
            "{e}"
        );
        assert!(
            e.contains("v1  (required by packages.yml)")
                && e.contains("v2  (required by org/other@1.0.0)"),
            "{e}"
        );
    }

    fn pinned(name: &str, package: &str) -> Pinned {
        Pinned {
            name: name.into(),
            source: PinnedSource::Hub {
                package: package.into(),
                version: "1.0.0".into(),
                tarball: Url::parse("http://h/t.tgz").unwrap(),
                latest: None,
            },
        }
    }

    #[test]
    fn two_packages_may_not_share_a_folder() {
        check_names(&[pinned("a", "o/a"), pinned("b", "o/b")]).unwrap();
        let e = check_names(&[pinned("a", "o/a"), pinned("a", "p/a")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Two packages install as `a`: hub o/a") && e.contains("hub p/a"),
            "{e}"
        );
    }
}
