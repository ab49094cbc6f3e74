//! A package resolved to one exact source (a hub version, a git commit, a local folder, a
//! downloaded archive): what it is called once installed, how progress lines and errors name
//! it, and the entry package-lock.yml records for it.

use std::path::PathBuf;

use lakeforge_project::packages::{LockedPackage, LockedSource};
use url::Url;

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
    pub(crate) fn requirer(&self) -> String {
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
    pub(crate) fn identity(&self) -> String {
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
