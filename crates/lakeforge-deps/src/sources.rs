//! Pinning one package: choosing its hub version (the highest in the intersection of every
//! range asked for it, among the versions that work with this dbt version), cloning its git
//! repository at the revision asked, finding its local folder or unpacking its archive; and
//! reading what it depends on in turn. Clones and downloads land in the run's work area and
//! are made once per run.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use lakeforge_project::packages::{PackageSpec, VersionRange, declared, project_name};
use url::Url;

use crate::archive;
use crate::error::{DepsError, Result, VersionNotFound};
use crate::fetch::{self, FetchError};
use crate::git;
use crate::hub::Hub;
use crate::pinned::{Pinned, PinnedSource};

/// What is asked of one package, merged over every declaration of it.
#[derive(Debug)]
pub(crate) enum Wanted {
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
    pub(crate) fn kind(&self) -> &'static str {
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
        let archive_error = |reason| DepsError::Archive {
            what: what.to_string(),
            url: url.to_string(),
            reason,
        };
        archive::unpack(&file, &dest).map_err(archive_error)?;
        let _ = std::fs::remove_file(&file);
        let root = archive::package_root(&dest)
            .ok_or_else(|| archive_error(archive::ArchiveError::NoPackageFolder))?;
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
    pub(crate) async fn pin(&mut self, wanted: &Wanted) -> Result<Pinned> {
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
                            reason: archive::ArchiveError::NotAUrl(e),
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
    pub(crate) async fn dependencies(&mut self, pinned: &Pinned) -> Result<Vec<PackageSpec>> {
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
