//! `lakeforge deps`: installing a project's dbt packages as dbt-core 1.10 does. The project's
//! declaration (`packages.yml` or `dependencies.yml`, read by `lakeforge-project`) is resolved
//! to exact versions — hub packages through the dbt hub's JSON API ([`hub`]), git packages with
//! the `git` command ([`git`]), archives unpacked without trusting them ([`archive`]) — together
//! with the packages each of those declares ([`resolve`]); the result is installed into
//! `packages-install-path` ([`install`]) and recorded in `package-lock.yml`. A lock resolved
//! from the current declaration is installed as it pins, with no version chosen again, until
//! `--upgrade`.
//!
//! ```text
//!  packages.yml ──► resolve (hub index, git clone, tarball) ──► stage in dbt_packages/.lakeforge-deps-*
//!  package-lock.yml ─┘ (when its sha1_hash matches)                │ all fetched?
//!                                                                  ▼
//!                                          rename into dbt_packages/<name>, write package-lock.yml
//! ```

mod archive;
pub mod error;
mod fetch;
mod git;
pub mod hub;
mod install;
mod pinned;
mod resolve;
mod sources;

use std::path::{Path, PathBuf};

use lakeforge_project::ProjectError;
use lakeforge_project::packages::{self, LockFile, declaration_hash, write_lock};
use lakeforge_project::settings::DbtProjectFile;

pub use archive::ArchiveError;
pub use error::{DepsError, Result};
pub use hub::{DBT_VERSION, DEFAULT_HUB_URL};

use pinned::{Pinned, PinnedSource};
use sources::Sources;

/// What `lakeforge deps` was asked to do.
#[derive(Debug, Clone)]
pub struct DepsOptions {
    pub project_dir: PathBuf,
    /// The hub's base URL ([`DEFAULT_HUB_URL`] unless a mirror is named).
    pub hub_url: String,
    /// Resolve again even when package-lock.yml matches the declaration.
    pub upgrade: bool,
    /// Resolve and write package-lock.yml, installing nothing.
    pub lock_only: bool,
    /// Skip hub versions whose `require_dbt_version` excludes [`DBT_VERSION`].
    pub version_check: bool,
}

/// Why packages are resolved, or that the lock is installed as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// package-lock.yml matches the declaration: its pins are installed.
    FromLock,
    NoLock,
    /// The declaration changed since package-lock.yml was written.
    DeclarationChanged,
    Upgrade,
}

/// What happens, as it happens, for the caller to show.
#[derive(Debug, Clone)]
pub enum Event {
    /// The project declares no packages (in `file`).
    NoPackages {
        file: PathBuf,
    },
    /// How this run proceeds; `file` is where the `declared` packages are declared.
    Plan {
        plan: Plan,
        declared: usize,
        file: PathBuf,
    },
    /// One package is being fetched and installed.
    Installing {
        name: String,
        version: String,
        from: String,
    },
    /// Something the user should fix but that does not stop the install.
    Warning(String),
    /// A newer version of a hub package exists than the one installed.
    UpdateAvailable {
        package: String,
        installed: String,
        latest: String,
    },
    LockWritten {
        path: PathBuf,
    },
    /// `--lock` with a lock that already matches: nothing to write.
    LockUpToDate {
        path: PathBuf,
    },
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct DepsSummary {
    /// Each package installed (none with `--lock`): name and version label.
    pub installed: Vec<(String, String)>,
    pub install_path: PathBuf,
    pub lock_written: Option<PathBuf>,
    /// Hub packages with a newer version than the one installed.
    pub updates: Vec<String>,
}

/// Resolve and install the packages of the project in `options.project_dir`.
pub async fn run(options: &DepsOptions, on_event: &mut dyn FnMut(Event)) -> Result<DepsSummary> {
    let root = options
        .project_dir
        .canonicalize()
        .map_err(|e| DepsError::io("open the project folder", &options.project_dir, e))?;
    if !root.join("dbt_project.yml").is_file() {
        return Err(ProjectError::NotAProject { dir: root }.into());
    }
    let project = packages::project_file(&root)?;
    let declared = packages::declared(&root)?;
    let install_path = root.join(&project.packages_install_path);
    if declared.specs.is_empty() {
        // As dbt, which empties the install folder when nothing is declared.
        if !options.lock_only && install_path.is_dir() {
            let work = tempfile::Builder::new()
                .prefix(".lakeforge-deps-")
                .tempdir_in(&install_path)
                .map_err(|e| DepsError::io("create a work folder in", &install_path, e))?;
            install::put_in_place(&install_path, work.path(), Vec::new())?;
        }
        on_event(Event::NoPackages {
            file: declared.file.clone(),
        });
        return Ok(DepsSummary {
            install_path,
            ..Default::default()
        });
    }
    let hash = declaration_hash(&declared.specs);
    let lock = LockFile::read(&root)?;
    let plan = match &lock {
        None => Plan::NoLock,
        Some(_) if options.upgrade => Plan::Upgrade,
        Some(l) if l.sha1_hash.as_deref() == Some(hash.as_str()) => Plan::FromLock,
        Some(_) => Plan::DeclarationChanged,
    };
    if options.lock_only && plan == Plan::FromLock {
        on_event(Event::LockUpToDate {
            path: root.join(packages::LOCK_FILE),
        });
        return Ok(DepsSummary {
            install_path,
            ..Default::default()
        });
    }
    on_event(Event::Plan {
        plan,
        declared: declared.specs.len(),
        file: declared.file.clone(),
    });

    let client = fetch::client().map_err(|source| DepsError::HttpClient { source })?;
    let hub = hub::Hub::new(&options.hub_url, client)?;
    // The work area lies inside the install folder, so a finished package is renamed into
    // place; `--lock` installs nothing and leaves the project as it is.
    let created_install_path = !options.lock_only && !install_path.exists();
    let work = if options.lock_only {
        tempfile::Builder::new().prefix("lakeforge-deps-").tempdir()
    } else {
        std::fs::create_dir_all(&install_path).and_then(|()| {
            tempfile::Builder::new()
                .prefix(".lakeforge-deps-")
                .tempdir_in(&install_path)
        })
    }
    .map_err(|e| DepsError::io("create a work folder in", &install_path, e))?;
    let mut src = Sources::new(
        root.clone(),
        hub,
        work.path().to_path_buf(),
        options.version_check,
    );

    let outcome = install(
        &mut src,
        options,
        &project,
        &declared,
        lock.as_ref(),
        plan,
        &hash,
        &install_path,
        on_event,
    )
    .await;
    drop(src);
    drop(work);
    if outcome.is_err() && created_install_path {
        // Only a folder this run created, and only if nothing else is in it.
        let _ = std::fs::remove_dir(&install_path);
    }
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn install(
    src: &mut Sources,
    options: &DepsOptions,
    project: &DbtProjectFile,
    declared: &packages::DeclaredPackages,
    lock: Option<&LockFile>,
    plan: Plan,
    hash: &str,
    install_path: &Path,
    on_event: &mut dyn FnMut(Event),
) -> Result<DepsSummary> {
    let pins = match (plan, lock) {
        (Plan::FromLock, Some(lock)) => resolve::from_lock(src, lock).await?,
        _ => resolve::resolve(src, declared).await?,
    };
    if let Some(p) = pins.iter().find(|p| p.name == project.name) {
        return Err(DepsError::NamedLikeRoot {
            name: p.name.clone(),
            what: p.origin(),
        });
    }
    for p in &pins {
        if let Some(w) = unpinned_warning(p) {
            on_event(Event::Warning(w));
        }
    }
    let mut summary = DepsSummary {
        install_path: install_path.to_path_buf(),
        ..Default::default()
    };
    let locked: Vec<_> = pins.iter().map(Pinned::locked).collect();
    if options.lock_only {
        let path = write_lock(&src.root, &locked, hash)?;
        on_event(Event::LockWritten { path: path.clone() });
        summary.lock_written = Some(path);
        return Ok(summary);
    }

    let mut staged = Vec::new();
    for p in &pins {
        on_event(Event::Installing {
            name: p.name.clone(),
            version: p.version_label(),
            from: p.origin(),
        });
        staged.push((p.name.clone(), install::stage(src, p).await?));
    }
    install::put_in_place(install_path, &src.work, staged)?;
    for p in &pins {
        summary.installed.push((p.name.clone(), p.version_label()));
        if let PinnedSource::Hub {
            package,
            version,
            latest: Some(latest),
            ..
        } = &p.source
        {
            let newer = match (
                packages::Version::parse(latest),
                packages::Version::parse(version),
            ) {
                (Ok(l), Ok(v)) => l > v,
                _ => false,
            };
            if newer {
                on_event(Event::UpdateAvailable {
                    package: package.clone(),
                    installed: version.clone(),
                    latest: latest.clone(),
                });
                summary.updates.push(package.clone());
            }
        }
    }
    if plan != Plan::FromLock {
        let path = write_lock(&src.root, &locked, hash)?;
        on_event(Event::LockWritten { path: path.clone() });
        summary.lock_written = Some(path);
    }
    Ok(summary)
}

/// dbt warns when a git package follows a moving branch rather than a tag or commit.
fn unpinned_warning(p: &Pinned) -> Option<String> {
    let PinnedSource::Git {
        git,
        requested,
        warn_unpinned: true,
        ..
    } = &p.source
    else {
        return None;
    };
    let what = match requested.as_deref() {
        None | Some("HEAD") => "its default branch".to_string(),
        Some(r @ ("main" | "master")) => format!("branch `{r}`"),
        Some(_) => return None,
    };
    Some(format!(
        "git package {git} is not pinned: it follows {what}, so each `lakeforge deps --upgrade` may install other code\nhint: set `revision:` to a tag or commit SHA, or `warn-unpinned: false` to silence this"
    ))
}
