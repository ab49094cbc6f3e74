//! The models the server answers with: a snapshot of the registry (every model, its versions
//! and aliases) refreshed in the background, and the model files loaded from the lake.
//!
//! A promotion is picked up without a restart and without failing a request: a refresh loads
//! the newly aliased version's file *before* it swaps the snapshot, and a request holds an
//! `Arc` of the version it resolved, so a swap in the middle of a request changes nothing for
//! it.
//!
//! Loaded versions are bounded: those an alias points at are kept (the registry bounds them),
//! others (asked for by number) up to [`ServeLimits::loaded_versions`](crate::ServeLimits),
//! the least recently used dropped first. Dropping one only costs reading its file again.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use lakeforge_meta::{DEFAULT_ALIAS, MetaError, MetaStore, ModelVersion};
use lakeforge_ml::{MlError, Model};
use parking_lot::{Mutex, RwLock};

use crate::error::{ApiError, ApiResult};

/// Why the registry could not be read, or a version not loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Registry(#[from] MetaError),
    #[error("loading {name} version {version} from {location}: {source}")]
    Read {
        name: String,
        version: i64,
        location: String,
        #[source]
        source: std::io::Error,
    },
    #[error("loading {name} version {version}: {source}")]
    Decode {
        name: String,
        version: i64,
        #[source]
        source: MlError,
    },
    /// The blocking task that decodes the file panicked or was cancelled.
    #[error("{0}")]
    Task(#[source] tokio::task::JoinError),
}

/// One version, loaded and ready to predict.
pub struct LoadedVersion {
    pub record: ModelVersion,
    pub model: Model,
    /// Input columns with the Arrow type they had in the training table.
    pub features: Vec<(String, String)>,
}

/// The registry as last read.
#[derive(Default)]
pub struct Snapshot {
    /// Model name → its versions, oldest first (aliases as they were when read).
    pub versions: HashMap<String, Vec<ModelVersion>>,
}

/// Reads a file of the lake (its path relative to the lake's root) into memory.
pub type ReadFile = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<u8>>> + Send>> + Send + Sync,
>;

/// Where the model files are: the lake's folder on disk, or a reader (a lake in object
/// storage, which this crate does not reach itself).
#[derive(Clone)]
pub enum ModelFiles {
    Folder(PathBuf),
    Reader { location: String, read: ReadFile },
}

impl From<PathBuf> for ModelFiles {
    fn from(root: PathBuf) -> Self {
        ModelFiles::Folder(root)
    }
}

impl ModelFiles {
    fn location(&self, path: &str) -> String {
        match self {
            ModelFiles::Folder(root) => root.join(path).display().to_string(),
            ModelFiles::Reader { location, .. } => format!("{location}/{path}"),
        }
    }

    async fn read(&self, path: &str) -> std::io::Result<Vec<u8>> {
        match self {
            ModelFiles::Folder(root) => tokio::fs::read(root.join(path)).await,
            ModelFiles::Reader { read, .. } => read(path.to_string()).await,
        }
    }
}

type Key = (String, i64);

/// The loaded versions, with when each was last used.
struct Loaded {
    versions: HashMap<Key, (Arc<LoadedVersion>, u64)>,
    /// Versions an alias points at: never dropped.
    pinned: HashSet<Key>,
    clock: u64,
    /// Unpinned versions kept.
    limit: usize,
}

impl Loaded {
    fn get(&mut self, key: &Key) -> Option<Arc<LoadedVersion>> {
        self.clock += 1;
        let clock = self.clock;
        self.versions.get_mut(key).map(|(v, used)| {
            *used = clock;
            v.clone()
        })
    }

    fn insert(&mut self, key: Key, version: Arc<LoadedVersion>) {
        self.clock += 1;
        self.versions.insert(key, (version, self.clock));
        self.evict();
    }

    fn evict(&mut self) {
        loop {
            let unpinned = self
                .versions
                .iter()
                .filter(|(k, _)| !self.pinned.contains(*k));
            if unpinned.clone().count() <= self.limit {
                return;
            }
            let Some(oldest) = unpinned
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                return;
            };
            self.versions.remove(&oldest);
        }
    }
}

pub struct Models {
    store: MetaStore,
    files: ModelFiles,
    snapshot: RwLock<Arc<Snapshot>>,
    loaded: Mutex<Loaded>,
    /// One refresh at a time: a slow background refresh that read the registry before an
    /// alias moved must not swap in its older snapshot after the refresh that followed the
    /// move (`PUT .../aliases/...` refreshes at once).
    refreshing: tokio::sync::Mutex<()>,
}

impl Models {
    /// `loaded_versions`: versions kept loaded besides the aliased ones.
    pub fn new(store: MetaStore, files: impl Into<ModelFiles>, loaded_versions: usize) -> Self {
        Models {
            store,
            files: files.into(),
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            loaded: Mutex::new(Loaded {
                versions: HashMap::new(),
                pinned: HashSet::new(),
                clock: 0,
                limit: loaded_versions,
            }),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn store(&self) -> &MetaStore {
        &self.store
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().clone()
    }

    /// Read the registry again; load every version an alias points at, then swap.
    pub async fn refresh(&self) -> Result<(), LoadError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let mut next = Snapshot::default();
        for m in self.store.model_summaries().await? {
            let versions = self.store.model_versions(&m.name).await?;
            next.versions.insert(m.name.clone(), versions);
        }
        let aliased: Vec<&ModelVersion> = next
            .versions
            .values()
            .flatten()
            .filter(|v| !v.aliases.is_empty())
            .collect();
        let pinned: HashSet<Key> = aliased
            .iter()
            .map(|v| (v.name.clone(), v.version))
            .collect();
        // Until the swap, the versions the current snapshot aliases are still served too.
        self.loaded.lock().pinned.extend(pinned.iter().cloned());
        for v in aliased {
            self.load(v).await?;
        }
        *self.snapshot.write() = Arc::new(next);
        let mut loaded = self.loaded.lock();
        loaded.pinned = pinned;
        loaded.evict();
        Ok(())
    }

    /// How many versions are loaded (for `/metrics` and tests).
    pub fn loaded_count(&self) -> usize {
        self.loaded.lock().versions.len()
    }

    /// The loaded version `v` (reading its file the first time).
    pub async fn load(&self, v: &ModelVersion) -> Result<Arc<LoadedVersion>, LoadError> {
        let key = (v.name.clone(), v.version);
        if let Some(l) = self.loaded.lock().get(&key) {
            return Ok(l);
        }
        let location = self.files.location(&v.trained.artifact_path);
        let bytes = self
            .files
            .read(&v.trained.artifact_path)
            .await
            .map_err(|source| LoadError::Read {
                name: v.name.clone(),
                version: v.version,
                location: location.clone(),
                source,
            })?;
        let record = v.clone();
        let loaded = tokio::task::spawn_blocking(move || -> Result<LoadedVersion, MlError> {
            let model = Model::from_file_bytes(&bytes, &location)?;
            let schema: Vec<serde_json::Value> =
                serde_json::from_str(&record.trained.feature_schema_json).unwrap_or_default();
            let mut features: Vec<(String, String)> = schema
                .iter()
                .map(|f| {
                    (
                        f["name"].as_str().unwrap_or_default().to_string(),
                        f["type"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            // The model's own order is the order predict_row takes values in.
            let inputs = model.pipeline.input_columns();
            features = inputs
                .iter()
                .map(|c| {
                    let t = features
                        .iter()
                        .find(|(n, _)| n == c)
                        .map(|(_, t)| t.clone())
                        .unwrap_or_default();
                    (c.clone(), t)
                })
                .collect();
            Ok(LoadedVersion {
                record,
                model,
                features,
            })
        })
        .await
        .map_err(LoadError::Task)?
        .map_err(|source| LoadError::Decode {
            name: v.name.clone(),
            version: v.version,
            source,
        })?;
        let loaded = Arc::new(loaded);
        self.loaded.lock().insert(key, loaded.clone());
        Ok(loaded)
    }

    /// The version of `name` a request asks for: a version number, an alias, or (neither
    /// given) the default alias, `production`.
    pub async fn resolve(
        &self,
        name: &str,
        version: Option<i64>,
        alias: Option<&str>,
    ) -> ApiResult<Arc<LoadedVersion>> {
        let snapshot = self.snapshot();
        let versions = snapshot
            .versions
            .get(name)
            .ok_or_else(|| ApiError::NotFound {
                what: format!("model `{name}`"),
            })?;
        let record = match (version, alias) {
            (Some(n), _) => {
                versions
                    .iter()
                    .find(|v| v.version == n)
                    .ok_or_else(|| ApiError::NotFound {
                        what: format!("version {n} of model `{name}`"),
                    })?
            }
            (None, a) => {
                let a = a.unwrap_or(DEFAULT_ALIAS);
                versions
                    .iter()
                    .find(|v| v.aliases.iter().any(|x| x == a))
                    .ok_or_else(|| ApiError::NotFound {
                        what: format!("alias `{a}` of model `{name}`"),
                    })?
            }
        };
        self.load(record)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))
    }
}
