//! The lake: a folder per schema, a Delta table per relation (`<lake>/<schema>/<table>` with
//! its `_delta_log`), and views as `<schema>/<name>.view.sql` files, since Delta has no views
//! of its own. Files of the registry (model artifacts) live under `_models/`.
//!
//! The lake is a local folder (the default, `./lake`) or a prefix in object storage
//! (`lake: s3://bucket/path` or an Azure URL). Delta commits in object storage rely on the
//! store's conditional put (S3's `If-None-Match`, Azure's native one), so two writers never
//! both win a version. Object stores cannot answer "is there a table here?" cheaply, so a
//! remote lake lists itself once when opened and keeps that index up to date with its own
//! writes; a name missing from the index is looked up in the store before a query says it
//! does not exist, so tables written by another process are found too.

use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use deltalake::logstore::{LogStoreFactory, ObjectStoreRef, StorageConfig, default_logstore};
use deltalake::{DeltaResult, DeltaTable, DeltaTableBuilder, DeltaTableError};
use futures::{StreamExt, TryStreamExt};
use lakeforge_project::Relation;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt};
use url::Url;

use crate::error::{EngineError, Result};

/// What is stored under a relation's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredKind {
    Table,
    View,
}

#[derive(Debug, Clone)]
pub struct Lake {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The root as a URL with a trailing slash (`file:///...` for a local lake).
    url: Url,
    where_: Where,
}

#[derive(Debug)]
enum Where {
    Local(PathBuf),
    Remote(Remote),
}

#[derive(Debug)]
struct Remote {
    /// The store of the lake's bucket or container ("/" is its root).
    store: Arc<dyn ObjectStore>,
    /// The lake's folder within the store.
    prefix: ObjPath,
    index: RwLock<BTreeMap<(String, String), StoredKind>>,
}

const VIEW_SUFFIX: &str = ".view.sql";

impl Lake {
    /// Open (and create if needed) a lake rooted at a local folder.
    pub fn open(root: impl AsRef<Path>) -> Result<Lake> {
        let root = root.as_ref();
        let text = root.to_string_lossy();
        if text.contains("://") && !text.starts_with("file://") {
            return Err(EngineError::Internal(format!(
                "{text} is a URL: open it with Lake::open_remote"
            )));
        }
        let root = match text.strip_prefix("file://") {
            Some(p) => PathBuf::from(p),
            None => root.to_path_buf(),
        };
        std::fs::create_dir_all(&root).map_err(|e| EngineError::Lake {
            path: root.clone(),
            source: e,
        })?;
        let root = root.canonicalize().map_err(|e| EngineError::Lake {
            path: root.clone(),
            source: e,
        })?;
        let url = Url::from_directory_path(&root).map_err(|_| {
            EngineError::Internal(format!("not an absolute path: {}", root.display()))
        })?;
        Ok(Lake {
            inner: Arc::new(Inner {
                url,
                where_: Where::Local(root),
            }),
        })
    }

    /// Open a lake at `location` in object storage, reached through `store` (the store of its
    /// bucket or container). Lists the lake once, to know its tables and views.
    pub async fn open_remote(location: &str, store: Arc<dyn ObjectStore>) -> Result<Lake> {
        register_log_stores();
        let mut url = Url::parse(location).map_err(|e| EngineError::LakeStore {
            location: location.to_string(),
            message: format!("not a URL: {e}"),
        })?;
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        let prefix = ObjPath::from(url.path().trim_matches('/'));
        let remote = Remote {
            store,
            prefix,
            index: RwLock::new(BTreeMap::new()),
        };
        let lake = Lake {
            inner: Arc::new(Inner {
                url,
                where_: Where::Remote(remote),
            }),
        };
        let index = lake.list_remote().await?;
        if let Where::Remote(r) = &lake.inner.where_ {
            *r.index.write() = index;
        }
        Ok(lake)
    }

    /// The lake of a project's target: its folder, or its object-storage URL reached through
    /// `lake_connection` (or the environment's `AWS_*` / `AZURE_*` settings).
    pub async fn open_target(target: &lakeforge_project::Target) -> Result<Lake> {
        if lakeforge_project::storage::StorageKind::of_url(&target.lake).is_none() {
            return Lake::open(&target.lake);
        }
        let fail = |message: String| EngineError::LakeStore {
            location: target.lake.clone(),
            message,
        };
        let connection = match &target.lake_connection {
            Some(c) => Some(crate::storage::connection(&target.storage, c).map_err(fail)?),
            None => None,
        };
        let store = crate::storage::build(&target.lake, connection).map_err(fail)?;
        Lake::open_remote(&target.lake, store).await
    }

    /// The root as users write it: a folder, or the object-storage URL.
    pub fn location(&self) -> String {
        match &self.inner.where_ {
            Where::Local(p) => p.display().to_string(),
            Where::Remote(_) => self.inner.url.as_str().trim_end_matches('/').to_string(),
        }
    }

    /// The root folder of a lake on local disk (None in object storage).
    pub fn local_root(&self) -> Option<&Path> {
        match &self.inner.where_ {
            Where::Local(p) => Some(p),
            Where::Remote(_) => None,
        }
    }

    pub fn is_remote(&self) -> bool {
        matches!(self.inner.where_, Where::Remote(_))
    }

    pub fn table_url(&self, relation: &Relation) -> Result<Url> {
        self.inner
            .url
            .join(&format!(
                "{}/{}/",
                encode(&relation.schema),
                encode(&relation.identifier)
            ))
            .map_err(|e| EngineError::Internal(format!("table URL of {relation}: {e}")))
    }

    /// A Delta table handle for `relation`, not loaded.
    fn builder(&self, relation: &Relation) -> DeltaResult<DeltaTableBuilder> {
        let url = self
            .table_url(relation)
            .map_err(|e| DeltaTableError::Generic(e.to_string()))?;
        let builder = DeltaTableBuilder::from_url(url.clone())?;
        Ok(match &self.inner.where_ {
            Where::Local(_) => builder,
            Where::Remote(r) => builder.with_storage_backend(r.store.clone(), url),
        })
    }

    /// The Delta table of `relation` at `version` (None: the latest).
    pub async fn open_table(
        &self,
        relation: &Relation,
        version: Option<i64>,
    ) -> DeltaResult<DeltaTable> {
        let mut builder = self.builder(relation)?;
        if let Some(v) = version {
            builder = builder.with_version(v as _);
        }
        builder.load().await
    }

    /// The Delta table of `relation` for a write: loaded when it exists, empty otherwise (the
    /// write then creates it).
    pub async fn table_for_write(&self, relation: &Relation) -> Result<DeltaTable> {
        if let Where::Local(_) = &self.inner.where_ {
            let dir = self.table_dir_local(relation);
            std::fs::create_dir_all(&dir).map_err(|e| EngineError::Lake {
                path: dir.clone(),
                source: e,
            })?;
        }
        let mut table = self
            .builder(relation)
            .and_then(|b| b.build())
            .map_err(|e| EngineError::delta(relation, e))?;
        match table.load().await {
            Ok(()) | Err(DeltaTableError::NotATable(_)) => Ok(table),
            Err(e) => Err(EngineError::delta(
                relation,
                crate::storage::redact(&e.to_string()),
            )),
        }
    }

    /// Record that a write committed `relation` as a table. A view of the same name still
    /// wins until it is removed, as on disk.
    pub fn note_table(&self, relation: &Relation) {
        if let Where::Remote(r) = &self.inner.where_ {
            r.index
                .write()
                .entry((relation.schema.clone(), relation.identifier.clone()))
                .or_insert(StoredKind::Table);
        }
    }

    fn note(&self, relation: &Relation, kind: Option<StoredKind>) {
        if let Where::Remote(r) = &self.inner.where_ {
            let key = (relation.schema.clone(), relation.identifier.clone());
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

    fn table_dir_local(&self, relation: &Relation) -> PathBuf {
        match &self.inner.where_ {
            Where::Local(root) => root.join(&relation.schema).join(&relation.identifier),
            Where::Remote(_) => PathBuf::new(),
        }
    }

    fn view_file_local(&self, relation: &Relation) -> PathBuf {
        match &self.inner.where_ {
            Where::Local(root) => root
                .join(&relation.schema)
                .join(format!("{}{VIEW_SUFFIX}", relation.identifier)),
            Where::Remote(_) => PathBuf::new(),
        }
    }

    fn object(&self, remote: &Remote, parts: &[&str]) -> ObjPath {
        let mut p = remote.prefix.clone();
        for part in parts {
            p = p.join(*part);
        }
        p
    }

    /// What exists under `relation`, if anything. A view file wins over a table folder because a
    /// switch from table to view writes the view before it removes the table. In object
    /// storage this answers from the lake's index (see [`Lake::stored_now`]).
    pub fn stored(&self, relation: &Relation) -> Option<StoredKind> {
        match &self.inner.where_ {
            Where::Local(_) => {
                if self.view_file_local(relation).is_file() {
                    Some(StoredKind::View)
                } else if self.table_dir_local(relation).join("_delta_log").is_dir() {
                    Some(StoredKind::Table)
                } else {
                    None
                }
            }
            Where::Remote(r) => r
                .index
                .read()
                .get(&(relation.schema.clone(), relation.identifier.clone()))
                .copied(),
        }
    }

    /// Like [`Lake::stored`], but a name the index of a remote lake does not know is looked up
    /// in the store (another process may have written it).
    pub async fn stored_now(&self, relation: &Relation) -> Result<Option<StoredKind>> {
        let Where::Remote(r) = &self.inner.where_ else {
            return Ok(self.stored(relation));
        };
        if let Some(kind) = self.stored(relation) {
            return Ok(Some(kind));
        }
        let view = self.object(
            r,
            &[
                &relation.schema,
                &format!("{}{VIEW_SUFFIX}", relation.identifier),
            ],
        );
        let kind = match r.store.head(&view).await {
            Ok(_) => Some(StoredKind::View),
            Err(object_store::Error::NotFound { .. }) => {
                let log = self.object(r, &[&relation.schema, &relation.identifier, "_delta_log"]);
                let listed = r
                    .store
                    .list_with_delimiter(Some(&log))
                    .await
                    .map_err(|e| self.store_error(e))?;
                (!listed.objects.is_empty()).then_some(StoredKind::Table)
            }
            Err(e) => return Err(self.store_error(e)),
        };
        self.note(relation, kind);
        Ok(kind)
    }

    pub fn schema_names(&self) -> Vec<String> {
        match &self.inner.where_ {
            Where::Local(root) => list(root, |p| {
                p.is_dir()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('_'))
            }),
            Where::Remote(r) => {
                let mut names: Vec<String> =
                    r.index.read().keys().map(|(s, _)| s.clone()).collect();
                names.dedup();
                names
            }
        }
    }

    pub fn table_names(&self, schema: &str) -> Vec<String> {
        let mut names = match &self.inner.where_ {
            Where::Local(root) => {
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
            Where::Remote(r) => r
                .index
                .read()
                .keys()
                .filter(|(s, _)| s == schema)
                .map(|(_, n)| n.clone())
                .collect(),
        };
        names.sort();
        names.dedup();
        names
    }

    /// The SQL of a stored view.
    pub async fn read_view(&self, relation: &Relation) -> Result<String> {
        match &self.inner.where_ {
            Where::Local(_) => {
                let path = self.view_file_local(relation);
                std::fs::read_to_string(&path).map_err(|e| EngineError::Lake { path, source: e })
            }
            Where::Remote(r) => {
                let path = self.object(
                    r,
                    &[
                        &relation.schema,
                        &format!("{}{VIEW_SUFFIX}", relation.identifier),
                    ],
                );
                let bytes = r
                    .store
                    .get(&path)
                    .await
                    .map_err(|e| self.store_error(e))?
                    .bytes()
                    .await
                    .map_err(|e| self.store_error(e))?;
                String::from_utf8(bytes.to_vec()).map_err(|e| EngineError::LakeStore {
                    location: format!("{}{path}", self.bucket()),
                    message: e.to_string(),
                })
            }
        }
    }

    /// Write a view definition atomically (temp file + rename; one PUT in object storage).
    pub async fn write_view(&self, relation: &Relation, sql: &str) -> Result<()> {
        let name = format!("{}{VIEW_SUFFIX}", relation.identifier);
        match &self.inner.where_ {
            Where::Local(root) => {
                let dir = root.join(&relation.schema);
                write_atomic(&dir, &name, sql.as_bytes())
            }
            Where::Remote(r) => {
                let path = self.object(r, &[&relation.schema, &name]);
                r.store
                    .put(&path, sql.to_string().into())
                    .await
                    .map_err(|e| self.store_error(e))?;
                self.note(relation, Some(StoredKind::View));
                Ok(())
            }
        }
    }

    pub async fn remove_view(&self, relation: &Relation) -> Result<()> {
        match &self.inner.where_ {
            Where::Local(_) => {
                let path = self.view_file_local(relation);
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(EngineError::Lake { path, source: e })
                    }
                    _ => Ok(()),
                }
            }
            Where::Remote(r) => {
                if self.stored(relation) != Some(StoredKind::View) {
                    return Ok(());
                }
                let path = self.object(
                    r,
                    &[
                        &relation.schema,
                        &format!("{}{VIEW_SUFFIX}", relation.identifier),
                    ],
                );
                match r.store.delete(&path).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(self.store_error(e)),
                }
                // A switch from view to table commits the table before the view goes.
                let log = self.object(r, &[&relation.schema, &relation.identifier, "_delta_log"]);
                let table = r
                    .store
                    .list_with_delimiter(Some(&log))
                    .await
                    .map(|l| !l.objects.is_empty())
                    .unwrap_or(false);
                self.note(relation, table.then_some(StoredKind::Table));
                Ok(())
            }
        }
    }

    /// Remove a table folder (when a model becomes a view). Its history goes with it, as a
    /// `DROP TABLE` would in a warehouse.
    pub async fn remove_table(&self, relation: &Relation) -> Result<()> {
        match &self.inner.where_ {
            Where::Local(_) => {
                let dir = self.table_dir_local(relation);
                match std::fs::remove_dir_all(&dir) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(EngineError::Lake {
                        path: dir,
                        source: e,
                    }),
                    _ => Ok(()),
                }
            }
            Where::Remote(r) => {
                let dir = self.object(r, &[&relation.schema, &relation.identifier]);
                let paths = r.store.list(Some(&dir)).map_ok(|m| m.location).boxed();
                r.store
                    .delete_stream(paths)
                    .try_collect::<Vec<_>>()
                    .await
                    .map_err(|e| self.store_error(e))?;
                if self.stored(relation) == Some(StoredKind::Table) {
                    self.note(relation, None);
                }
                Ok(())
            }
        }
    }

    /// Write a file of the lake (e.g. `_models/<name>/<hash>/model.lfm`), atomically.
    pub async fn put_file(&self, path: &str, bytes: Vec<u8>) -> Result<()> {
        match &self.inner.where_ {
            Where::Local(root) => {
                let full = root.join(path);
                let dir = full.parent().unwrap_or(root);
                let name = full
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                write_atomic(dir, &name, &bytes)
            }
            Where::Remote(r) => {
                let full = self.object(r, &path.split('/').collect::<Vec<_>>());
                r.store
                    .put(&full, bytes.into())
                    .await
                    .map_err(|e| self.store_error(e))?;
                Ok(())
            }
        }
    }

    /// Read a file of the lake; None when it does not exist.
    pub async fn get_file(&self, path: &str) -> Result<Option<Vec<u8>>> {
        match &self.inner.where_ {
            Where::Local(root) => {
                let full = root.join(path);
                match std::fs::read(&full) {
                    Ok(b) => Ok(Some(b)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(EngineError::Lake {
                        path: full,
                        source: e,
                    }),
                }
            }
            Where::Remote(r) => {
                let full = self.object(r, &path.split('/').collect::<Vec<_>>());
                match r.store.get(&full).await {
                    Ok(got) => Ok(Some(
                        got.bytes().await.map_err(|e| self.store_error(e))?.to_vec(),
                    )),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(self.store_error(e)),
                }
            }
        }
    }

    /// Where a file of the lake is, for messages.
    pub fn file_location(&self, path: &str) -> String {
        format!("{}/{path}", self.location())
    }

    fn bucket(&self) -> String {
        format!(
            "{}://{}/",
            self.inner.url.scheme(),
            self.inner.url.host_str().unwrap_or_default()
        )
    }

    fn store_error(&self, e: object_store::Error) -> EngineError {
        EngineError::LakeStore {
            location: self.location(),
            message: crate::storage::redact(&e.to_string()),
        }
    }

    /// Every table and view of a remote lake: schemas are the folders under the root (but
    /// `_`-prefixed ones, the lake's own), tables the folders of a schema that hold a
    /// `_delta_log`, views the `.view.sql` objects.
    async fn list_remote(&self) -> Result<BTreeMap<(String, String), StoredKind>> {
        let Where::Remote(r) = &self.inner.where_ else {
            return Ok(BTreeMap::new());
        };
        let top = r
            .store
            .list_with_delimiter(Some(&r.prefix))
            .await
            .map_err(|e| self.store_error(e))?;
        let mut index = BTreeMap::new();
        let mut candidates = Vec::new();
        for schema in top.common_prefixes {
            let Some(schema_name) = schema.filename().map(str::to_string) else {
                continue;
            };
            if schema_name.starts_with('_') || schema_name.starts_with('.') {
                continue;
            }
            let listed = r
                .store
                .list_with_delimiter(Some(&schema))
                .await
                .map_err(|e| self.store_error(e))?;
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
                let store = r.store.clone();
                async move {
                    let l = store.list_with_delimiter(Some(&log)).await;
                    l.map(|l| (!l.objects.is_empty()).then_some((schema, name)))
                }
            })
            .buffer_unordered(16)
            .try_collect()
            .await
            .map_err(|e| self.store_error(e))?;
        for (schema, name) in tables.into_iter().flatten() {
            index.entry((schema, name)).or_insert(StoredKind::Table);
        }
        Ok(index)
    }
}

/// Object-storage URLs are plain text here, but a relation name may hold characters a URL
/// path escapes.
fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
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

/// delta-rs knows how to commit to local folders out of the box; object stores come with its
/// cloud features, which would bring a second S3 client. The default log store commits with a
/// conditional put, which S3 (`If-None-Match`) and Azure both honour, so it serves here.
#[derive(Debug, Default)]
struct ConditionalPutLogStores;

impl LogStoreFactory for ConditionalPutLogStores {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn deltalake::logstore::LogStore>> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

fn register_log_stores() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let registry = deltalake::logstore::logstore_factories();
        for scheme in ["s3", "s3a", "az", "azure", "abfs", "abfss", "adl"] {
            // Cannot fail: `scheme` comes from our fixed list of object-store schemes.
            let url = Url::parse(&format!("{scheme}://")).expect("a scheme is a URL");
            if !registry.contains_key(&url) {
                registry.insert(url, Arc::new(ConditionalPutLogStores));
            }
        }
    });
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
