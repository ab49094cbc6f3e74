//! Unpacking a package's `.tar.gz` without trusting it. Every entry must land inside the
//! destination folder: absolute paths and `..` are refused, hard links too, and a symbolic
//! link only when it points down into the package (its target may climb no higher than its
//! own folder and never climbs after descending), created after every file so no file is
//! ever written through a link. Unpacked sizes are capped, so a tiny archive cannot fill the
//! disk. The caller unpacks into a fresh temporary folder, so a bad archive leaves nothing
//! behind.

use std::io::BufReader;
use std::path::{Component, Path, PathBuf};

/// More than any dbt package needs (dbt_utils unpacks to under 2 MB).
const MAX_UNPACKED_BYTES: u64 = 1 << 30;

/// Why an archive cannot be installed. `DepsError::Archive` names the package and URL; paths
/// here are the entry's path inside the archive (or the folder being created).
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a URL ({0})")]
    NotAUrl(#[source] url::ParseError),

    #[error("cannot open it: {0}")]
    Open(#[source] std::io::Error),

    #[error("it is not a readable .tar.gz ({0})")]
    NotTarGz(#[source] std::io::Error),

    #[error("cannot create {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot create the folder of {}: {source}", path.display())]
    CreateParent {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot create link {}: {source}", path.display())]
    CreateLink {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("entry `{}` points outside the package folder", .0.display())]
    EntryEscapes(PathBuf),

    #[error("it unpacks to more than {} MB", MAX_UNPACKED_BYTES >> 20)]
    TooLarge,

    #[error("link `{}` has no target", .0.display())]
    LinkWithoutTarget(PathBuf),

    #[error("link `{}` points outside the package folder (to `{}`)", path.display(), target.display())]
    LinkEscapes { path: PathBuf, target: PathBuf },

    #[error("entry `{}` is a hard link, which packages do not need", .0.display())]
    HardLink(PathBuf),

    #[error("entry `{}` is neither a file, a folder nor a link", .0.display())]
    UnknownKind(PathBuf),

    #[error("link `{}` lies inside another link", .0.display())]
    LinkInLink(PathBuf),

    #[error("link `{}` would replace a file of the archive", .0.display())]
    LinkReplacesFile(PathBuf),

    #[error("it holds neither dbt_project.yml nor a single folder")]
    NoPackageFolder,
}

/// Unpack the gzip-compressed tar file `archive` into the folder `dest` (created if needed).
pub(crate) fn unpack(archive: &Path, dest: &Path) -> Result<(), ArchiveError> {
    let file = std::fs::File::open(archive).map_err(ArchiveError::Open)?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file)));
    let create_dir = |path: &Path| {
        std::fs::create_dir_all(path).map_err(|source| ArchiveError::CreateDir {
            path: path.to_path_buf(),
            source,
        })
    };
    create_dir(dest)?;
    let not_tgz = ArchiveError::NotTarGz;
    let mut links: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut total: u64 = 0;
    for entry in tar.entries().map_err(not_tgz)? {
        let mut entry = entry.map_err(not_tgz)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            // Metadata about the archive (GitHub records the commit here), not a file.
            continue;
        }
        let raw = entry.path().map_err(not_tgz)?.into_owned();
        let Some(rel) = inner_path(&raw) else {
            return Err(ArchiveError::EntryEscapes(raw));
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = dest.join(&rel);
        if kind.is_dir() {
            std::fs::create_dir_all(&target).map_err(|source| ArchiveError::CreateDir {
                path: rel.clone(),
                source,
            })?;
        } else if kind.is_file() || kind.is_contiguous() {
            total = total.saturating_add(entry.size());
            if total > MAX_UNPACKED_BYTES {
                return Err(ArchiveError::TooLarge);
            }
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|source| ArchiveError::CreateParent {
                    path: rel.clone(),
                    source,
                })?;
            }
            entry
                .unpack(&target)
                .map_err(|source| ArchiveError::Write { path: rel, source })?;
        } else if kind.is_symlink() {
            let link = entry
                .link_name()
                .map_err(not_tgz)?
                .ok_or_else(|| ArchiveError::LinkWithoutTarget(rel.clone()))?
                .into_owned();
            if !link_stays_inside(&rel, &link) {
                return Err(ArchiveError::LinkEscapes {
                    path: rel,
                    target: link,
                });
            }
            links.push((rel, link));
        } else if kind.is_hard_link() {
            return Err(ArchiveError::HardLink(rel));
        } else {
            return Err(ArchiveError::UnknownKind(rel));
        }
    }
    for (rel, link) in links {
        let target = dest.join(&rel);
        // The link's folders must be real folders: a link inside a linked folder would land
        // wherever that link points.
        let mut cur = dest.to_path_buf();
        for c in rel.parent().into_iter().flat_map(Path::components) {
            cur.push(c);
            match std::fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(ArchiveError::LinkInLink(rel.clone()));
                }
                Ok(_) => {}
                Err(_) => create_dir(&cur)?,
            }
        }
        if std::fs::symlink_metadata(&target).is_ok() {
            return Err(ArchiveError::LinkReplacesFile(rel));
        }
        make_symlink(&link, &target)
            .map_err(|source| ArchiveError::CreateLink { path: rel, source })?;
    }
    Ok(())
}

#[cfg(unix)]
fn make_symlink(link: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(link, at)
}

#[cfg(not(unix))]
fn make_symlink(_link: &Path, _at: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "symbolic links are not supported here",
    ))
}

/// `path` made relative to the archive root, or None when it is absolute or climbs out.
fn inner_path(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// A link at `rel` pointing to `target` stays inside the archive root: a relative target
/// whose leading `..` climb no higher than the root, followed only by names.
fn link_stays_inside(rel: &Path, target: &Path) -> bool {
    let depth = rel.components().count().saturating_sub(1);
    let mut ups = 0;
    let mut descended = false;
    for c in target.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if !descended => ups += 1,
            Component::Normal(_) => descended = true,
            _ => return false,
        }
    }
    ups <= depth
}

/// The package folder in an unpacked archive: the folder itself when it holds
/// dbt_project.yml, or its single top folder (how GitHub and the hub pack a package).
pub(crate) fn package_root(dest: &Path) -> Option<PathBuf> {
    if dest.join("dbt_project.yml").is_file() {
        return Some(dest.to_path_buf());
    }
    let mut entries = std::fs::read_dir(dest).ok()?.filter_map(|e| e.ok());
    let only = entries.next()?;
    if entries.next().is_some() || !only.file_type().ok()?.is_dir() {
        return None;
    }
    Some(only.path())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar.gz of `entries` written entry by entry with raw headers, so that the malicious
    /// ones (which well-behaved builders refuse to write) can be made too.
    fn archive(dir: &Path, entries: &[(&str, tar::EntryType, &str)]) -> PathBuf {
        let path = dir.join("a.tar.gz");
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        let mut b = tar::Builder::new(gz);
        for (name, kind, body) in entries {
            let mut h = tar::Header::new_gnu();
            let raw = &mut h.as_old_mut().name;
            raw[..name.len()].copy_from_slice(name.as_bytes());
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            if kind.is_symlink() || kind.is_hard_link() {
                h.as_old_mut().linkname[..body.len()].copy_from_slice(body.as_bytes());
                h.set_size(0);
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            } else {
                h.set_size(body.len() as u64);
                h.set_cksum();
                b.append(&h, body.as_bytes()).unwrap();
            }
        }
        b.into_inner().unwrap().finish().unwrap();
        path
    }

    use tar::EntryType as T;

    #[test]
    fn unpacks_a_package_and_finds_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        let a = archive(
            dir.path(),
            &[
                ("pkg-1.0.0/", T::Directory, ""),
                ("pkg-1.0.0/dbt_project.yml", T::Regular, "name: pkg\n"),
                (
                    "pkg-1.0.0/macros/m.sql",
                    T::Regular,
                    "{% macro m() %}1{% endmacro %}",
                ),
                ("pkg-1.0.0/docs/link.sql", T::Symlink, "../macros/m.sql"),
            ],
        );
        let out = dir.path().join("out");
        unpack(&a, &out).unwrap();
        let root = package_root(&out).unwrap();
        assert_eq!(root, out.join("pkg-1.0.0"));
        assert_eq!(
            std::fs::read_to_string(root.join("docs/link.sql")).unwrap(),
            "{% macro m() %}1{% endmacro %}"
        );
    }

    #[test]
    fn refuses_entries_that_escape() {
        type Entries<'a> = &'a [(&'a str, T, &'a str)];
        let cases: &[(Entries, &str)] = &[
            (&[("../evil.sql", T::Regular, "x")], "points outside"),
            (&[("/tmp/evil.sql", T::Regular, "x")], "points outside"),
            (
                &[("pkg/a/../../../evil", T::Regular, "x")],
                "points outside",
            ),
            (&[("pkg/l", T::Symlink, "/etc/passwd")], "points outside"),
            (&[("pkg/l", T::Symlink, "../../x")], "points outside"),
            (&[("pkg/l", T::Symlink, "a/../../../x")], "points outside"),
            (&[("pkg/h", T::Link, "/etc/passwd")], "hard link"),
            (
                &[("pkg/d", T::Symlink, "."), ("pkg/d/x", T::Symlink, "../..")],
                "inside another link",
            ),
            (&[("pkg/fifo", T::Fifo, "")], "neither a file"),
        ];
        for (entries, expected) in cases {
            let dir = tempfile::tempdir().unwrap();
            let a = archive(dir.path(), entries);
            let out = dir.path().join("sub/out");
            let err = unpack(&a, &out).unwrap_err().to_string();
            assert!(err.contains(expected), "{entries:?}: {err}");
            assert!(!dir.path().join("evil.sql").exists());
            assert!(!dir.path().join("sub/evil.sql").exists());
        }
    }

    #[test]
    fn refuses_what_is_not_a_tar_gz() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.tar.gz");
        std::fs::write(&a, "<html>not found</html>").unwrap();
        let err = unpack(&a, &dir.path().join("out")).unwrap_err().to_string();
        assert!(err.contains("not a readable .tar.gz"), "{err}");
    }

    #[test]
    fn a_folder_without_one_top_folder_is_no_package() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::create_dir_all(dir.path().join("b")).unwrap();
        assert_eq!(package_root(dir.path()), None);
    }
}
