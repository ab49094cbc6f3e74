//! Resolution: from the packages a project declares to one exact source per package, the
//! packages they declare included, as dbt resolves them. Declarations of the same package
//! (same hub name, same git URL and subdirectory, same local path or tarball URL) merge: hub
//! version ranges intersect and the highest version in the intersection wins; a git package
//! must be asked for at one revision everywhere. Each package is pinned (its hub version
//! chosen, its repository cloned, its archive unpacked) to learn its name and what it depends
//! on; those dependencies join the declaration, and this repeats until nothing new appears.
//! A package.lock.yml that matches the declaration skips all of this: its pins are used as
//! they are ([`from_lock`]).

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use lakeforge_project::packages::{
    DeclaredPackages, LockFile, LockedPackage, LockedSource, PackageSource, PackageSpec,
    VersionRange, declared, project_name,
};
use url::Url;

use crate::archive;
use crate::error::{DepsError, Result, VersionNotFound};
use crate::fetch::{self, FetchError};
use crate::git;
use crate::hub::Hub;

/// A package resolved to one exact source.
#[derive(Debug, Clone)]
pub struct Pinned {
    /// The `name:` of its dbt_project.yml: its folder under packages-install-path.
    pub name: String,
    pub source: PinnedSource,
}

#[derive(Debug, Clone)]
pub enum PinnedSource {
    Hub {
        package: String,
        version: String,
        tarball: Url,
        /// The newest version this resolution could have chosen without the ranges.
        latest: Option<String>,
    },
    Git {
        /// The URL rendered (what is cloned) and as declared (what the lock records).
        git: String,
        git_unrendered: String,
        /// The commit checked out.
        revision: String,
        /// What was asked for (None: the default branch).
        requested: Option<String>,
        subdirectory: Option<String>,
        warn_unpinned: bool,
        /// The package's folder in the work area.
        dir: PathBuf,
        /// The clone it lies in.
        repo: PathBuf,
    },
    Local {
        local: String,
        path: PathBuf,
    },
    Tarball {
        tarball: String,
        tarball_unrendered: String,
        dir: PathBuf,
    },
}

impl Pinned {
    /// The version in words: `1.3.0`, `3f2a1b0`, `local`, `tarball`.
    pub fn version_label(&self) -> String {
        match &self.source {
            PinnedSource::Hub { version, .. } => version.clone(),
            PinnedSource::Git { revision, .. } => revision.chars().take(7).collect(),
            PinnedSource::Local { .. } => "local".into(),
            PinnedSource::Tarball { .. } => "tarball".into(),
        }
    }

    /// Where it comes from, in words.
    pub fn origin(&self) -> String {
        match &self.source {
            PinnedSource::Hub {
                package, tarball, ..
            } => format!("hub {package} ({tarball})"),
            PinnedSource::Git {
                git,
                requested,
                subdirectory,
                ..
            } => {
                let mut s = format!("git {git}");
                if let Some(sub) = subdirectory {
                    s.push_str(&format!(", subdirectory {sub}"));
                }
                match requested {
                    Some(r) => s.push_str(&format!(", revision {r}")),
                    None => s.push_str(", default branch"),
                }
                s
            }
            PinnedSource::Local { local, .. } => format!("local {local} (linked)"),
            PinnedSource::Tarball { tarball, .. } => format!("tarball {tarball}"),
        }
    }

    /// How it is named when it requires other packages: `dbt-labs/dbt_utils@1.3.0`.
    fn requirer(&self) -> String {
        match &self.source {
            PinnedSource::Hub {
                package, version, ..
            } => format!("{package}@{version}"),
            PinnedSource::Git { git, revision, .. } => {
                format!("{git}@{}", &revision[..7.min(revision.len())])
            }
            PinnedSource::Local { local, .. } => format!("local {local}"),
            PinnedSource::Tarball { tarball, .. } => format!("tarball {tarball}"),
        }
    }

    /// What decides this package's own dependencies: another value means another list.
    fn identity(&self) -> String {
        match &self.source {
            PinnedSource::Hub { version, .. } => version.clone(),
            PinnedSource::Git { revision, .. } => revision.clone(),
            PinnedSource::Local { path, .. } => path.display().to_string(),
            PinnedSource::Tarball { tarball, .. } => tarball.clone(),
        }
    }

    /// The entry package-lock.yml records.
    pub fn locked(&self) -> LockedPackage {
        let source = match &self.source {
            PinnedSource::Hub {
                package, version, ..
            } => LockedSource::Hub {
                package: package.clone(),
                version: version.clone(),
            },
            PinnedSource::Git {
                git_unrendered,
                revision,
                subdirectory,
                ..
            } => LockedSource::Git {
                git: git_unrendered.clone(),
                revision: revision.clone(),
                subdirectory: subdirectory.clone(),
            },
            PinnedSource::Local { local, .. } => LockedSource::Local {
                local: local.clone(),
            },
            PinnedSource::Tarball {
                tarball_unrendered, ..
            } => LockedSource::Tarball {
                tarball: tarball_unrendered.clone(),
            },
        };
        LockedPackage {
            name: self.name.clone(),
            source,
        }
    }
}

/// What is asked of one package, merged over every declaration of it.
#[derive(Debug)]
enum Wanted {
    Hub {
        package: String,
        /// Each requirement as written, and who asked.
        requirements: Vec<(String, String)>,
        prerelease: bool,
        /// From package-lock.yml: exactly this version, whatever dbt version it requires.
        locked: bool,
    },
    Git {
        git: String,
        git_unrendered: String,
        subdirectory: Option<String>,
        revisions: Vec<(Option<String>, String)>,
        warn_unpinned: bool,
    },
    Local {
        local: String,
    },
    Tarball {
        tarball: String,
        tarball_unrendered: String,
        name: String,
    },
}

impl Wanted {
    fn kind(&self) -> &'static str {
        match self {
            Wanted::Hub { .. } => "a hub package",
            Wanted::Git { .. } => "a git package",
            Wanted::Local { .. } => "a local package",
            Wanted::Tarball { .. } => "a tarball",
        }
    }
}

type GitKey = (String, Option<String>, Option<String>);

/// Where packages are fetched to and looked up, for one run.
pub(crate) struct Sources {
    pub root: PathBuf,
    pub hub: Hub,
    /// The temporary work area (beside the install folder when installing).
    pub work: PathBuf,
    pub version_check: bool,
    seq: usize,
    /// (URL, subdirectory, revision asked) → (clone, commit).
    git_cache: HashMap<GitKey, (PathBuf, String)>,
    tarball_cache: HashMap<String, PathBuf>,
}

impl Sources {
    pub fn new(root: PathBuf, hub: Hub, work: PathBuf, version_check: bool) -> Sources {
        Sources {
            root,
            hub,
            work,
            version_check,
            seq: 0,
            git_cache: HashMap::new(),
            tarball_cache: HashMap::new(),
        }
    }

    /// A new path in the work area.
    pub fn scratch(&mut self, prefix: &str) -> PathBuf {
        self.seq += 1;
        self.work.join(format!("{prefix}-{}", self.seq))
    }

    /// Download an archive and unpack it; returns the package folder inside.
    pub async fn fetch_archive(&mut self, what: &str, url: &Url) -> Result<PathBuf> {
        let file = self.scratch("download").with_extension("tar.gz");
        fetch::download(self.hub.client(), url, &file)
            .await
            .map_err(|e| match e {
                FetchError::Unreachable(source) | FetchError::Body(source) => DepsError::Download {
                    what: what.to_string(),
                    url: url.to_string(),
                    source,
                },
                FetchError::Status(status) => DepsError::DownloadStatus {
                    what: what.to_string(),
                    url: url.to_string(),
                    status,
                },
                FetchError::Io(source) => DepsError::io("write", &file, source),
            })?;
        let dest = self.scratch("unpacked");
        let archive_error = |message: String| DepsError::Archive {
            what: what.to_string(),
            url: url.to_string(),
            message,
        };
        archive::unpack(&file, &dest).map_err(archive_error)?;
        let _ = std::fs::remove_file(&file);
        let root = archive::package_root(&dest).ok_or_else(|| {
            archive_error("it holds neither dbt_project.yml nor a single folder".into())
        })?;
        if project_name(&root).is_none() {
            return Err(DepsError::NotAPackage {
                what: what.to_string(),
                path: root,
                hint: "the archive must hold a dbt project (a folder with dbt_project.yml)".into(),
            });
        }
        Ok(root)
    }

    /// Pin one package.
    async fn pin(&mut self, wanted: &Wanted) -> Result<Pinned> {
        match wanted {
            Wanted::Hub {
                package,
                requirements,
                prerelease,
                locked,
            } => {
                self.pin_hub(package, requirements, *prerelease, *locked)
                    .await
            }
            Wanted::Git {
                git,
                git_unrendered,
                subdirectory,
                revisions,
                warn_unpinned,
            } => {
                let asked: BTreeSet<Option<&str>> = revisions
                    .iter()
                    .map(|(r, _)| r.as_deref().filter(|r| *r != "HEAD"))
                    .collect();
                if asked.len() > 1 {
                    return Err(DepsError::GitRevisions {
                        url: git.clone(),
                        revisions: revisions
                            .iter()
                            .map(|(r, by)| {
                                (
                                    r.clone().unwrap_or_else(|| "(default branch)".into()),
                                    by.clone(),
                                )
                            })
                            .collect(),
                    });
                }
                let requested = asked.into_iter().next().flatten().map(str::to_string);
                let key = (git.clone(), subdirectory.clone(), requested.clone());
                let (repo, sha) = match self.git_cache.get(&key) {
                    Some(hit) => hit.clone(),
                    None => {
                        let repo = self.scratch("git");
                        let sha = git::clone_at(git, requested.as_deref(), &repo).await?;
                        self.git_cache.insert(key, (repo.clone(), sha.clone()));
                        (repo, sha)
                    }
                };
                let dir = match subdirectory {
                    Some(s) => repo.join(s),
                    None => repo.clone(),
                };
                let name = project_name(&dir).ok_or_else(|| DepsError::NotAPackage {
                    what: format!("git package {git} at {}", &sha[..7.min(sha.len())]),
                    path: dir.strip_prefix(&repo).unwrap_or(&dir).to_path_buf(),
                    hint: match subdirectory {
                        Some(_) => {
                            "check `subdirectory:`: it names the package's folder in the repository"
                                .into()
                        }
                        None => {
                            "a repository holding its package in a folder needs `subdirectory:`"
                                .into()
                        }
                    },
                })?;
                Ok(Pinned {
                    name,
                    source: PinnedSource::Git {
                        git: git.clone(),
                        git_unrendered: git_unrendered.clone(),
                        revision: sha,
                        requested,
                        subdirectory: subdirectory.clone(),
                        warn_unpinned: *warn_unpinned,
                        dir,
                        repo,
                    },
                })
            }
            Wanted::Local { local } => {
                let path = self.root.join(local);
                let not_a_package = || {
                    DepsError::NotAPackage {
                    what: format!("local package {local}"),
                    path: path.clone(),
                    hint: "`local:` is a folder relative to this project (the one holding packages.yml)".into(),
                }
                };
                let path = path.canonicalize().map_err(|_| not_a_package())?;
                let name = project_name(&path).ok_or_else(not_a_package)?;
                Ok(Pinned {
                    name,
                    source: PinnedSource::Local {
                        local: local.clone(),
                        path,
                    },
                })
            }
            Wanted::Tarball {
                tarball,
                tarball_unrendered,
                name,
            } => {
                let dir = match self.tarball_cache.get(tarball) {
                    Some(d) => d.clone(),
                    None => {
                        let url = Url::parse(tarball).map_err(|e| DepsError::Archive {
                            what: format!("tarball package {name}"),
                            url: tarball.clone(),
                            message: format!("not a URL ({e})"),
                        })?;
                        let dir = self
                            .fetch_archive(&format!("tarball package {name}"), &url)
                            .await?;
                        self.tarball_cache.insert(tarball.clone(), dir.clone());
                        dir
                    }
                };
                Ok(Pinned {
                    // dbt installs a tarball under the name its entry gives.
                    name: name.clone(),
                    source: PinnedSource::Tarball {
                        tarball: tarball.clone(),
                        tarball_unrendered: tarball_unrendered.clone(),
                        dir,
                    },
                })
            }
        }
    }

    async fn pin_hub(
        &mut self,
        package: &str,
        requirements: &[(String, String)],
        prerelease: bool,
        locked: bool,
    ) -> Result<Pinned> {
        let index = self.hub.package(package).await?;
        let ranges = requirements
            .iter()
            .map(|(r, by)| {
                VersionRange::parse(r).map_err(|m| DepsError::HubInvalid {
                    package: package.to_string(),
                    url: index.url.clone(),
                    message: format!("{m} (required by {by})"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let range = ranges
            .iter()
            .try_fold(VersionRange::any(), |acc, r| acc.intersect(r))
            .ok_or_else(|| DepsError::VersionConflict {
                package: package.to_string(),
                requirements: requirements.to_vec(),
            })?;
        let prerelease = prerelease || ranges.iter().any(VersionRange::names_prerelease);
        let installable = index.installable(prerelease, self.version_check);
        let latest = installable.last().map(|v| v.text.clone());
        let candidates = if locked {
            index.versions.iter().collect()
        } else {
            installable.clone()
        };
        let chosen = candidates
            .iter()
            .filter(|v| range.contains(&v.version))
            .max_by(|a, b| a.version.cmp(&b.version));
        let Some(chosen) = chosen else {
            let in_range = |v: &&crate::hub::HubVersion| range.contains(&v.version);
            let hint = if locked {
                "the hub no longer lists the version package-lock.yml pins; run `lakeforge deps --upgrade` to resolve again".to_string()
            } else if index
                .versions
                .iter()
                .any(|v| in_range(&v) && !v.works_with_dbt())
            {
                format!(
                    "versions in that range require another dbt version than {}; pass --no-version-check to install one anyway",
                    crate::hub::DBT_VERSION
                )
            } else if index
                .versions
                .iter()
                .any(|v| in_range(&v) && v.version.is_prerelease())
            {
                "only prereleases match; add `install_prerelease: true` to the entry to allow them"
                    .into()
            } else {
                "widen the version range to one the hub has".into()
            };
            let mut required_by: Vec<String> = Vec::new();
            for (_, by) in requirements {
                if !required_by.contains(by) {
                    required_by.push(by.clone());
                }
            }
            return Err(DepsError::VersionNotFound(Box::new(VersionNotFound {
                package: package.to_string(),
                range: range.to_string(),
                required_by,
                available: installable.iter().map(|v| v.text.clone()).collect(),
                url: index.url.clone(),
                hint,
            })));
        };
        Ok(Pinned {
            name: chosen.name.clone(),
            source: PinnedSource::Hub {
                package: package.to_string(),
                version: chosen.text.clone(),
                tarball: chosen.tarball.clone(),
                latest,
            },
        })
    }

    /// The packages a pinned package declares itself.
    async fn dependencies(&mut self, pinned: &Pinned) -> Result<Vec<PackageSpec>> {
        match &pinned.source {
            PinnedSource::Hub {
                package, version, ..
            } => {
                let index = self.hub.package(package).await?;
                match index.version(version) {
                    Some(v) => v.dependencies(&index),
                    None => Ok(Vec::new()),
                }
            }
            PinnedSource::Git { dir, .. } | PinnedSource::Tarball { dir, .. } => {
                Ok(declared(dir)?.specs)
            }
            PinnedSource::Local { path, .. } => Ok(declared(path)?.specs),
        }
    }
}

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
