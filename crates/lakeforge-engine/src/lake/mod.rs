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
//! does not exist, so tables written by another process are found too. That difference lives
//! in `files.rs`; every operation here is written once for both.

pub mod browse;
pub mod catalog;
pub(crate) mod conflict;
mod files;
mod snapshots;
pub mod storage;

use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use deltalake::logstore::{LogStoreFactory, ObjectStoreRef, StorageConfig, default_logstore};
use deltalake::{DeltaResult, DeltaTable, DeltaTableBuilder, DeltaTableError};
use lakeforge_project::Relation;
use object_store::ObjectStore;
use object_store::path::Path as ObjPath;
use url::Url;

use crate::error::{Cause, EngineError, Result};
use files::{Files, Read, Remote, VIEW_SUFFIX};

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
    files: Files,
    snapshots: snapshots::Snapshots,
}

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
                files: Files::Local(root),
                snapshots: Default::default(),
            }),
        })
    }

    /// Open a lake at `location` in object storage, reached through `store` (the store of its
    /// bucket or container). Lists the lake once, to know its tables and views.
    pub async fn open_remote(location: &str, store: Arc<dyn ObjectStore>) -> Result<Lake> {
        register_log_stores();
        let mut url = Url::parse(location).map_err(|e| EngineError::LakeStore {
            location: location.to_string(),
            cause: Cause::Message(format!("not a URL: {e}")),
        })?;
        if !url.path().ends_with('/') {
            url.set_path(&format!("{}/", url.path()));
        }
        let remote = Remote {
            store,
            prefix: ObjPath::from(url.path().trim_matches('/')),
            location: url.as_str().trim_end_matches('/').to_string(),
            bucket: format!("{}://{}/", url.scheme(), url.host_str().unwrap_or_default()),
            index: RwLock::new(BTreeMap::new()),
        };
        let index = remote.list().await?;
        *remote.index.write() = index;
        Ok(Lake {
            inner: Arc::new(Inner {
                url,
                files: Files::Remote(remote),
                snapshots: Default::default(),
            }),
        })
    }

    /// The lake of a project's target: its folder, or its object-storage URL reached through
    /// `lake_connection` (or the environment's `AWS_*` / `AZURE_*` settings).
    pub async fn open_target(target: &lakeforge_project::Target) -> Result<Lake> {
        if lakeforge_project::storage::StorageKind::of_url(&target.lake).is_none() {
            return Lake::open(&target.lake);
        }
        let fail = |e: storage::StorageError| EngineError::LakeStore {
            location: target.lake.clone(),
            cause: Cause::Storage(Box::new(e)),
        };
        let connection = match &target.lake_connection {
            Some(c) => Some(storage::connection(&target.storage, c).map_err(fail)?),
            None => None,
        };
        let store = storage::build(&target.lake, connection).map_err(fail)?;
        Lake::open_remote(&target.lake, store).await
    }

    /// The root as users write it: a folder, or the object-storage URL.
    pub fn location(&self) -> String {
        match &self.inner.files {
            Files::Local(p) => p.display().to_string(),
            Files::Remote(r) => r.location.clone(),
        }
    }

    /// The root folder of a lake on local disk (None in object storage).
    pub fn local_root(&self) -> Option<&Path> {
        match &self.inner.files {
            Files::Local(p) => Some(p),
            Files::Remote(_) => None,
        }
    }

    pub fn is_remote(&self) -> bool {
        self.local_root().is_none()
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
        Ok(match &self.inner.files {
            Files::Local(_) => builder,
            Files::Remote(r) => builder.with_storage_backend(r.store.clone(), url),
        })
    }

    /// The Delta table of `relation` at `version` (None: the latest).
    pub async fn open_table(
        &self,
        relation: &Relation,
        version: Option<i64>,
    ) -> DeltaResult<DeltaTable> {
        let snapshots = &self.inner.snapshots;
        if version.is_none()
            && let Some(table) = snapshots.latest(&self.inner.files, relation).await
        {
            return Ok(table);
        }
        let mut builder = self.builder(relation)?;
        if let Some(v) = version {
            builder = builder.with_version(v as _);
        }
        let table = builder.load().await?;
        if version.is_none() {
            snapshots
                .remember(&self.inner.files, relation, &table)
                .await;
        }
        Ok(table)
    }

    /// The Delta table of `relation` for a write: loaded when it exists, empty otherwise (the
    /// write then creates it).
    pub async fn table_for_write(&self, relation: &Relation) -> Result<DeltaTable> {
        self.inner
            .files
            .create_folder(&[&relation.schema, &relation.identifier])?;
        let snapshots = &self.inner.snapshots;
        if let Some(table) = snapshots.latest(&self.inner.files, relation).await {
            return Ok(table);
        }
        let mut table = self
            .builder(relation)
            .and_then(|b| b.build())
            .map_err(|e| EngineError::delta(relation, e))?;
        match table.load().await {
            Ok(()) => {
                snapshots
                    .remember(&self.inner.files, relation, &table)
                    .await;
                Ok(table)
            }
            Err(DeltaTableError::NotATable(_)) => Ok(table),
            Err(e) => Err(EngineError::delta(relation, e)),
        }
    }

    /// Record `table`, just committed by this process, as the latest version of `relation`,
    /// so the next read of it (a child model's) need not read its log.
    pub(crate) async fn committed(&self, relation: &Relation, table: &DeltaTable) {
        self.inner
            .snapshots
            .remember(&self.inner.files, relation, table)
            .await;
    }

    /// Record that a write committed `relation` as a table. A view of the same name still
    /// wins until it is removed, as on disk.
    pub fn note_table(&self, relation: &Relation) {
        self.inner.files.note_table(key(relation));
    }

    fn note(&self, relation: &Relation, kind: Option<StoredKind>) {
        self.inner.files.note(key(relation), kind);
    }

    /// What exists under `relation`, if anything. A view file wins over a table folder because a
    /// switch from table to view writes the view before it removes the table. In object
    /// storage this answers from the lake's index (see [`Lake::stored_now`]).
    pub fn stored(&self, relation: &Relation) -> Option<StoredKind> {
        self.inner
            .files
            .stored(&relation.schema, &relation.identifier)
    }

    /// Like [`Lake::stored`], but a name the index of a remote lake does not know is looked up
    /// in the store (another process may have written it).
    pub async fn stored_now(&self, relation: &Relation) -> Result<Option<StoredKind>> {
        // A local lake's answer already comes from its folders.
        if let Some(kind) = self.stored(relation) {
            return Ok(Some(kind));
        }
        if !self.is_remote() {
            return Ok(None);
        }
        let files = &self.inner.files;
        let kind = if files.exists(&view_file(relation)).await? {
            Some(StoredKind::View)
        } else if files
            .has_log(&relation.schema, &relation.identifier)
            .await?
        {
            Some(StoredKind::Table)
        } else {
            None
        };
        self.note(relation, kind);
        Ok(kind)
    }

    pub fn schema_names(&self) -> Vec<String> {
        self.inner.files.schema_names()
    }

    pub fn table_names(&self, schema: &str) -> Vec<String> {
        let mut names = self.inner.files.table_names(schema);
        names.sort();
        names.dedup();
        names
    }

    /// The SQL of a stored view.
    pub async fn read_view(&self, relation: &Relation) -> Result<String> {
        let parts = view_file(relation);
        match self.inner.files.read(&parts).await? {
            Read::Found(bytes) => {
                String::from_utf8(bytes).map_err(|e| self.inner.files.not_text(&parts, e))
            }
            Read::Missing(e) => Err(e),
        }
    }

    /// Write a view definition atomically (temp file + rename; one PUT in object storage).
    pub async fn write_view(&self, relation: &Relation, sql: &str) -> Result<()> {
        self.inner
            .files
            .write(&view_file(relation), sql.as_bytes().to_vec())
            .await?;
        self.note(relation, Some(StoredKind::View));
        Ok(())
    }

    pub async fn remove_view(&self, relation: &Relation) -> Result<()> {
        if self.stored(relation) != Some(StoredKind::View) {
            return Ok(());
        }
        self.inner.files.delete(&view_file(relation)).await?;
        // A switch from view to table commits the table before the view goes.
        let table = self
            .inner
            .files
            .has_log(&relation.schema, &relation.identifier)
            .await
            .unwrap_or(false);
        self.note(relation, table.then_some(StoredKind::Table));
        Ok(())
    }

    /// Remove a table folder (when a model becomes a view). Its history goes with it, as a
    /// `DROP TABLE` would in a warehouse.
    pub async fn remove_table(&self, relation: &Relation) -> Result<()> {
        self.inner
            .files
            .delete_folder(&[&relation.schema, &relation.identifier])
            .await?;
        self.inner.snapshots.forget(relation);
        if self.stored(relation) == Some(StoredKind::Table) {
            self.note(relation, None);
        }
        Ok(())
    }

    /// Write a file of the lake (e.g. `_models/<name>/<hash>/model.lfm`), atomically.
    pub async fn put_file(&self, path: &str, bytes: Vec<u8>) -> Result<()> {
        let parts: Vec<&str> = path.split('/').collect();
        self.inner.files.write(&parts, bytes).await
    }

    /// Read a file of the lake; None when it does not exist.
    pub async fn get_file(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let parts: Vec<&str> = path.split('/').collect();
        Ok(match self.inner.files.read(&parts).await? {
            Read::Found(bytes) => Some(bytes),
            Read::Missing(_) => None,
        })
    }

    /// Where a file of the lake is, for messages.
    pub fn file_location(&self, path: &str) -> String {
        format!("{}/{path}", self.location())
    }
}

fn key(relation: &Relation) -> (String, String) {
    (relation.schema.clone(), relation.identifier.clone())
}

/// The parts of a view's file under the root: `<schema>/<name>.view.sql`.
fn view_file(relation: &Relation) -> [String; 2] {
    [
        relation.schema.clone(),
        format!("{}{VIEW_SUFFIX}", relation.identifier),
    ]
}

/// Object-storage URLs are plain text here, but a relation name may hold characters a URL
/// path escapes.
fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
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
            // Each `scheme://` of this fixed list parses; `let ... else` only keeps it panic-free.
            let Ok(url) = Url::parse(&format!("{scheme}://")) else {
                continue;
            };
            if !registry.contains_key(&url) {
                registry.insert(url, Arc::new(ConditionalPutLogStores));
            }
        }
    });
}
