//! Where the lake's files are: a folder on local disk or a prefix in an object store. This is
//! the one place that tells the two apart; [`Lake`](super::Lake) writes each operation once
//! over the primitives here (read, atomic write, delete, "does this table have a log?").
//!
//! The real difference is knowing what exists: a folder answers by looking, while an object
//! store cannot say "is there a table here?" cheaply, so a remote lake keeps an index of its
//! tables and views, listed once when opened and kept current with its own writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt};
use parking_lot::RwLock;

use super::StoredKind;
use crate::error::{Cause, EngineError, Result};

pub(super) const VIEW_SUFFIX: &str = ".view.sql";

/// Tables and views by (schema, name).
pub(super) type Index = BTreeMap<(String, String), StoredKind>;

#[derive(Debug)]
pub(super) enum Files {
    Local(PathBuf),
    Remote(Remote),
}

#[derive(Debug)]
pub(super) struct Remote {
    /// The store of the lake's bucket or container ("/" is its root).
    pub(super) store: Arc<dyn ObjectStore>,
    /// The lake's folder within the store.
    pub(super) prefix: ObjPath,
    /// The lake's URL without its trailing slash, for messages.
    pub(super) location: String,
    /// `scheme://bucket/`, for messages naming one object.
    pub(super) bucket: String,
    pub(super) index: RwLock<Index>,
}

/// See [`Files::commit_stamp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CommitStamp {
    size: u64,
    modified: Option<std::time::SystemTime>,
    tag: Option<String>,
}

/// A read that finds nothing is an error for some callers and an answer for others.
pub(super) enum Read {
    Found(Vec<u8>),
    Missing(EngineError),
}

impl Files {
    /// The file at `parts` (names under the lake's root).
    pub(super) async fn read(&self, parts: &[impl AsRef<str>]) -> Result<Read> {
        match self {
            Files::Local(root) => {
                let path = local_path(root, parts);
                match std::fs::read(&path) {
                    Ok(b) => Ok(Read::Found(b)),
                    Err(e) => {
                        let missing = e.kind() == std::io::ErrorKind::NotFound;
                        let err = EngineError::Lake { path, source: e };
                        if missing {
                            Ok(Read::Missing(err))
                        } else {
                            Err(err)
                        }
                    }
                }
            }
            Files::Remote(r) => match r.store.get(&r.object(parts)).await {
                Ok(got) => Ok(Read::Found(
                    got.bytes().await.map_err(|e| r.error(e))?.to_vec(),
                )),
                Err(e @ object_store::Error::NotFound { .. }) => Ok(Read::Missing(r.error(e))),
                Err(e) => Err(r.error(e)),
            },
        }
    }

    /// The error for a file at `parts` that is not UTF-8 text.
    pub(super) fn not_text(
        &self,
        parts: &[impl AsRef<str>],
        e: std::string::FromUtf8Error,
    ) -> EngineError {
        match self {
            Files::Local(root) => EngineError::Lake {
                path: local_path(root, parts),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            },
            Files::Remote(r) => EngineError::LakeStore {
                location: format!("{}{}", r.bucket, r.object(parts)),
                cause: Cause::Message(e.to_string()),
            },
        }
    }

    /// Write the file at `parts` atomically: a temp file renamed over it on disk, one PUT in
    /// object storage.
    pub(super) async fn write(&self, parts: &[impl AsRef<str>], bytes: Vec<u8>) -> Result<()> {
        match self {
            Files::Local(root) => {
                let full = local_path(root, parts);
                let dir = full.parent().unwrap_or(root);
                let name = full
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                write_atomic(dir, &name, &bytes)
            }
            Files::Remote(r) => {
                r.store
                    .put(&r.object(parts), bytes.into())
                    .await
                    .map_err(|e| r.error(e))?;
                Ok(())
            }
        }
    }

    /// Remove the file at `parts`; one that is already gone is fine.
    pub(super) async fn delete(&self, parts: &[impl AsRef<str>]) -> Result<()> {
        match self {
            Files::Local(root) => {
                let path = local_path(root, parts);
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(EngineError::Lake { path, source: e })
                    }
                    _ => Ok(()),
                }
            }
            Files::Remote(r) => match r.store.delete(&r.object(parts)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(r.error(e)),
            },
        }
    }

    /// Remove the folder at `parts` and everything in it; one that is already gone is fine.
    pub(super) async fn delete_folder(&self, parts: &[impl AsRef<str>]) -> Result<()> {
        match self {
            Files::Local(root) => {
                let dir = local_path(root, parts);
                match std::fs::remove_dir_all(&dir) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(EngineError::Lake {
                        path: dir,
                        source: e,
                    }),
                    _ => Ok(()),
                }
            }
            Files::Remote(r) => {
                let dir = r.object(parts);
                let paths = r.store.list(Some(&dir)).map_ok(|m| m.location).boxed();
                r.store
                    .delete_stream(paths)
                    .try_collect::<Vec<_>>()
                    .await
                    .map_err(|e| r.error(e))?;
                Ok(())
            }
        }
    }

    /// Create the folder at `parts` where folders exist (object stores have none).
    pub(super) fn create_folder(&self, parts: &[impl AsRef<str>]) -> Result<()> {
        if let Files::Local(root) = self {
            let dir = local_path(root, parts);
            std::fs::create_dir_all(&dir).map_err(|e| EngineError::Lake {
                path: dir.clone(),
                source: e,
            })?;
        }
        Ok(())
    }

    /// Whether a file exists at `parts`, asking the store (not the index).
    pub(super) async fn exists(&self, parts: &[impl AsRef<str>]) -> Result<bool> {
        match self {
            Files::Local(root) => Ok(local_path(root, parts).is_file()),
            Files::Remote(r) => match r.store.head(&r.object(parts)).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(r.error(e)),
            },
        }
    }

    /// What identifies the commit file of `version` of the table `schema/name` as written
    /// (size, modification time, and in object storage its entity tag); None when there is no
    /// such commit. Two reads with equal stamps read the same commit.
    pub(super) async fn commit_stamp(
        &self,
        schema: &str,
        name: &str,
        version: u64,
    ) -> Result<Option<CommitStamp>> {
        let file = format!("{version:020}.json");
        let parts = [schema, name, "_delta_log", file.as_str()];
        match self {
            Files::Local(root) => match std::fs::metadata(local_path(root, &parts)) {
                Ok(m) => Ok(Some(CommitStamp {
                    size: m.len(),
                    modified: m.modified().ok(),
                    tag: None,
                })),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(EngineError::Lake {
                    path: local_path(root, &parts),
                    source: e,
                }),
            },
            Files::Remote(r) => match r.store.head(&r.object(&parts)).await {
                Ok(meta) => Ok(Some(CommitStamp {
                    size: meta.size,
                    modified: Some(meta.last_modified.into()),
                    tag: meta.e_tag,
                })),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(r.error(e)),
            },
        }
    }

    /// Whether the table folder `schema/name` holds a Delta log, asking the store (not the
    /// index). A folder without one is a write that never committed, not a table.
    pub(super) async fn has_log(&self, schema: &str, name: &str) -> Result<bool> {
        match self {
            Files::Local(root) => Ok(root.join(schema).join(name).join("_delta_log").is_dir()),
            Files::Remote(r) => {
                let log = r.object(&[schema, name, "_delta_log"]);
                let listed = r
                    .store
                    .list_with_delimiter(Some(&log))
                    .await
                    .map_err(|e| r.error(e))?;
                Ok(!listed.objects.is_empty())
            }
        }
    }

    /// What is stored under `schema.name`: on disk by looking (a view file wins over a table
    /// folder, because a switch from table to view writes the view before it removes the
    /// table), in object storage from the index.
    pub(super) fn stored(&self, schema: &str, name: &str) -> Option<StoredKind> {
        match self {
            Files::Local(root) => {
                let dir = root.join(schema);
                if dir.join(format!("{name}{VIEW_SUFFIX}")).is_file() {
                    Some(StoredKind::View)
                } else if dir.join(name).join("_delta_log").is_dir() {
                    Some(StoredKind::Table)
                } else {
                    None
                }
            }
            Files::Remote(r) => r
                .index
                .read()
                .get(&(schema.to_string(), name.to_string()))
                .copied(),
        }
    }

    /// Record what a write left under `key` in the index of a remote lake (a local lake
    /// looks at its folders instead). `kind` None: nothing.
    pub(super) fn note(&self, key: (String, String), kind: Option<StoredKind>) {
        if let Files::Remote(r) = self {
            let mut index = r.index.write();
            match kind {
                Some(k) => {
                    index.insert(key, k);
                }
                None => {
                    index.remove(&key);
                }
            }
        }
    }

    /// Like [`Files::note`] for a committed table: a view of the same name still wins until it
    /// is removed, as on disk.
    pub(super) fn note_table(&self, key: (String, String)) {
        if let Files::Remote(r) = self {
            r.index.write().entry(key).or_insert(StoredKind::Table);
        }
    }

    pub(super) fn schema_names(&self) -> Vec<String> {
        match self {
            Files::Local(root) => list(root, |p| {
                p.is_dir()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('_'))
            }),
            Files::Remote(r) => {
                let mut names: Vec<String> =
                    r.index.read().keys().map(|(s, _)| s.clone()).collect();
                names.dedup();
                names
            }
        }
    }

    /// The tables and views of `schema`, unsorted.
    pub(super) fn table_names(&self, schema: &str) -> Vec<String> {
        match self {
            Files::Local(root) => {
                let dir = root.join(schema);
                let mut names = list(&dir, |p| p.join("_delta_log").is_dir());
                names.extend(
                    list(&dir, |p| {
                        p.is_file() && p.to_string_lossy().ends_with(VIEW_SUFFIX)
                    })
                    .into_iter()
                    .map(|n| n.trim_end_matches(VIEW_SUFFIX).to_string()),
                );
                names
            }
            Files::Remote(r) => r
                .index
                .read()
                .keys()
                .filter(|(s, _)| s == schema)
                .map(|(_, n)| n.clone())
                .collect(),
        }
    }
}

impl Remote {
    fn object(&self, parts: &[impl AsRef<str>]) -> ObjPath {
        let mut p = self.prefix.clone();
        for part in parts {
            p = p.join(part.as_ref());
        }
        p
    }

    fn error(&self, e: object_store::Error) -> EngineError {
        EngineError::LakeStore {
            location: self.location.clone(),
            cause: Cause::Store(Box::new(e)),
        }
    }

    /// Every table and view of the lake: schemas are the folders under the root (but
    /// `_`-prefixed ones, the lake's own), tables the folders of a schema that hold a
    /// `_delta_log`, views the `.view.sql` objects.
    pub(super) async fn list(&self) -> Result<Index> {
        let top = self
            .store
            .list_with_delimiter(Some(&self.prefix))
            .await
            .map_err(|e| self.error(e))?;
        let mut index = BTreeMap::new();
        let mut candidates = Vec::new();
        for schema in top.common_prefixes {
            let Some(schema_name) = schema.filename().map(str::to_string) else {
                continue;
            };
            if schema_name.starts_with('_') || schema_name.starts_with('.') {
                continue;
            }
            let listed = self
                .store
                .list_with_delimiter(Some(&schema))
                .await
                .map_err(|e| self.error(e))?;
            for o in listed.objects {
                if let Some(view) = o
                    .location
                    .filename()
                    .and_then(|n| n.strip_suffix(VIEW_SUFFIX))
                {
                    index.insert((schema_name.clone(), view.to_string()), StoredKind::View);
                }
            }
            for t in listed.common_prefixes {
                if let Some(name) = t.filename() {
                    candidates.push((
                        schema_name.clone(),
                        name.to_string(),
                        t.clone().join("_delta_log"),
                    ));
                }
            }
        }
        // One listing per table folder, a few at a time: a folder without a log is a write
        // that never committed, not a table.
        let tables: Vec<_> = futures::stream::iter(candidates)
            .map(|(schema, name, log)| {
                let store = self.store.clone();
                async move {
                    let l = store.list_with_delimiter(Some(&log)).await;
                    l.map(|l| (!l.objects.is_empty()).then_some((schema, name)))
                }
            })
            .buffer_unordered(16)
            .try_collect()
            .await
            .map_err(|e| self.error(e))?;
        for (schema, name) in tables.into_iter().flatten() {
            index.entry((schema, name)).or_insert(StoredKind::Table);
        }
        Ok(index)
    }
}

fn local_path(root: &Path, parts: &[impl AsRef<str>]) -> PathBuf {
    let mut path = root.to_path_buf();
    for part in parts {
        path.push(part.as_ref());
    }
    path
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| EngineError::Lake {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(|e| EngineError::Lake {
        path: tmp.clone(),
        source: e,
    })?;
    std::fs::rename(&tmp, &path).map_err(|e| EngineError::Lake { path, source: e })
}

fn list(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| keep(p))
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| !n.starts_with('.'))
        .collect();
    out.sort();
    out
}
