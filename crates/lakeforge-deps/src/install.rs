//! Putting resolved packages in place. Everything is fetched first into a temporary folder
//! inside packages-install-path (the same file system, so a rename moves it); only when every
//! package is ready are they renamed in, each over its previous folder, and the folders of
//! packages no longer wanted removed (dbt empties the folder before installing; this ends the
//! same way without a moment where a failed download has already removed the old copy).
//! A `local:` package becomes a symbolic link to its folder, as in dbt.

use std::path::{Path, PathBuf};

use crate::error::{DepsError, Result};
use crate::pinned::{Pinned, PinnedSource};
use crate::sources::Sources;

/// A package ready to be moved into place.
pub(crate) enum Staged {
    /// A folder in the work area.
    Dir(PathBuf),
    /// A folder elsewhere that the install links to.
    Link(PathBuf),
}

/// Fetch what `pinned` still needs (a hub package's archive) and return what to put in place.
pub(crate) async fn stage(src: &mut Sources, pinned: &Pinned) -> Result<Staged> {
    match &pinned.source {
        PinnedSource::Hub {
            package,
            version,
            tarball,
            ..
        } => {
            let dir = src
                .fetch_archive(&format!("hub package {package} {version}"), tarball)
                .await?;
            Ok(Staged::Dir(dir))
        }
        PinnedSource::Git { dir, repo, .. } => {
            // The package is a snapshot; its history stays behind in the work area.
            if dir == repo {
                let git_dir = repo.join(".git");
                std::fs::remove_dir_all(&git_dir)
                    .map_err(|e| DepsError::io("remove", &git_dir, e))?;
            }
            Ok(Staged::Dir(dir.clone()))
        }
        PinnedSource::Tarball { dir, .. } => Ok(Staged::Dir(dir.clone())),
        PinnedSource::Local { path, .. } => Ok(Staged::Link(path.clone())),
    }
}

/// Move every staged package into `install_path` under its name, then remove what else is
/// there (but hidden entries, such as the work area itself). Previous copies are moved into
/// `work`, which the caller deletes.
pub(crate) fn put_in_place(
    install_path: &Path,
    work: &Path,
    staged: Vec<(String, Staged)>,
) -> Result<()> {
    let mut keep = std::collections::BTreeSet::new();
    for (i, (name, item)) in staged.into_iter().enumerate() {
        let target = install_path.join(&name);
        // A link is made in the work area first, so that it too arrives by one rename.
        let ready = match item {
            Staged::Dir(dir) => dir,
            Staged::Link(source) => {
                let link = work.join(format!("link-{i}"));
                make_link(&source, &link).map_err(|e| DepsError::io("link", &link, e))?;
                link
            }
        };
        let previous = set_aside(&target, work, i)?;
        if let Err(e) = std::fs::rename(&ready, &target) {
            // Put the previous copy back rather than leave no package at all.
            if let Some(previous) = previous {
                let _ = std::fs::rename(previous, &target);
            }
            return Err(DepsError::io("move a package to", &target, e));
        }
        keep.insert(name);
    }
    let entries =
        std::fs::read_dir(install_path).map_err(|e| DepsError::io("read", install_path, e))?;
    for (i, entry) in entries.enumerate() {
        let entry = entry.map_err(|e| DepsError::io("read", install_path, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || keep.contains(&name) {
            continue;
        }
        set_aside(&entry.path(), work, 1_000_000 + i)?;
    }
    Ok(())
}

/// Move `path` (if anything is there, link or folder) into the work area; returns where.
fn set_aside(path: &Path, work: &Path, n: usize) -> Result<Option<PathBuf>> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(None);
    }
    let old = work.join(format!("previous-{n}"));
    std::fs::rename(path, &old).map_err(|e| DepsError::io("move aside", path, e))?;
    Ok(Some(old))
}

#[cfg(unix)]
fn make_link(source: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(source, link)
}

#[cfg(not(unix))]
fn make_link(source: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_dir(source, link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_old_copies_and_removes_unwanted_ones() {
        let dir = tempfile::tempdir().unwrap();
        let install = dir.path().join("dbt_packages");
        let work = install.join(".work");
        std::fs::create_dir_all(install.join("kept/old")).unwrap();
        std::fs::create_dir_all(install.join("gone")).unwrap();
        std::fs::create_dir_all(work.join("new-kept/new")).unwrap();
        let source = dir.path().join("shared");
        std::fs::create_dir_all(&source).unwrap();
        std::fs::write(source.join("f"), "x").unwrap();
        put_in_place(
            &install,
            &work,
            vec![
                ("kept".into(), Staged::Dir(work.join("new-kept"))),
                ("linked".into(), Staged::Link(source.clone())),
            ],
        )
        .unwrap();
        assert!(install.join("kept/new").is_dir() && !install.join("kept/old").exists());
        assert!(!install.join("gone").exists());
        assert_eq!(
            std::fs::read_to_string(install.join("linked/f")).unwrap(),
            "x"
        );
        assert!(
            std::fs::symlink_metadata(install.join("linked"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // The previous copies wait in the work area, which the caller deletes.
        std::fs::remove_dir_all(&work).unwrap();
        assert_eq!(std::fs::read_to_string(source.join("f")).unwrap(), "x");
    }
}
