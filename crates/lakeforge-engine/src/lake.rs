//! The lake on disk: a folder per schema, a Delta table per relation (`<lake>/<schema>/<table>`
//! with its `_delta_log`), and views as `<schema>/<name>.view.sql` files, since Delta has no
//! views of its own.

use std::path::{Path, PathBuf};

use lakeforge_project::Relation;
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
    root: PathBuf,
}

impl Lake {
    /// Open (and create if needed) a lake rooted at a local folder.
    pub fn open(root: impl AsRef<Path>) -> Result<Lake> {
        let root = root.as_ref();
        if root.to_string_lossy().contains("://") && !root.to_string_lossy().starts_with("file://")
        {
            return Err(EngineError::Lake {
                path: root.into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    "only lakes on local disk are supported so far; object-storage lakes are planned",
                ),
            });
        }
        std::fs::create_dir_all(root).map_err(|e| EngineError::Lake {
            path: root.into(),
            source: e,
        })?;
        let root = root.canonicalize().map_err(|e| EngineError::Lake {
            path: root.into(),
            source: e,
        })?;
        Ok(Lake { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn schema_dir(&self, schema: &str) -> PathBuf {
        self.root.join(schema)
    }

    pub fn table_dir(&self, relation: &Relation) -> PathBuf {
        self.schema_dir(&relation.schema).join(&relation.identifier)
    }

    pub fn table_url(&self, relation: &Relation) -> Result<Url> {
        let dir = self.table_dir(relation);
        Url::from_directory_path(&dir)
            .map_err(|_| EngineError::Internal(format!("not an absolute path: {}", dir.display())))
    }

    pub fn view_file(&self, relation: &Relation) -> PathBuf {
        self.schema_dir(&relation.schema)
            .join(format!("{}.view.sql", relation.identifier))
    }

    /// What exists under `relation`, if anything. A view file wins over a table folder because a
    /// switch from table to view writes the view before it removes the table.
    pub fn stored(&self, relation: &Relation) -> Option<StoredKind> {
        if self.view_file(relation).is_file() {
            Some(StoredKind::View)
        } else if self.table_dir(relation).join("_delta_log").is_dir() {
            Some(StoredKind::Table)
        } else {
            None
        }
    }

    pub fn schema_names(&self) -> Vec<String> {
        list(&self.root, |p| {
            p.is_dir()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('_'))
        })
    }

    pub fn table_names(&self, schema: &str) -> Vec<String> {
        let dir = self.schema_dir(schema);
        let mut names = list(&dir, |p| p.join("_delta_log").is_dir());
        names.extend(
            list(&dir, |p| {
                p.is_file() && p.to_string_lossy().ends_with(".view.sql")
            })
            .into_iter()
            .map(|n| n.trim_end_matches(".view.sql").to_string()),
        );
        names.sort();
        names.dedup();
        names
    }

    /// Write a view definition atomically (temp file + rename).
    pub fn write_view(&self, relation: &Relation, sql: &str) -> Result<()> {
        let dir = self.schema_dir(&relation.schema);
        std::fs::create_dir_all(&dir).map_err(|e| EngineError::Lake {
            path: dir.clone(),
            source: e,
        })?;
        let path = self.view_file(relation);
        let tmp = dir.join(format!(".{}.view.sql.tmp", relation.identifier));
        std::fs::write(&tmp, sql).map_err(|e| EngineError::Lake {
            path: tmp.clone(),
            source: e,
        })?;
        std::fs::rename(&tmp, &path).map_err(|e| EngineError::Lake { path, source: e })
    }

    pub fn remove_view(&self, relation: &Relation) -> Result<()> {
        let path = self.view_file(relation);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(EngineError::Lake { path, source: e })
            }
            _ => Ok(()),
        }
    }

    /// Remove a table folder (when a model becomes a view). Its history goes with it, as a
    /// `DROP TABLE` would in a warehouse.
    pub fn remove_table(&self, relation: &Relation) -> Result<()> {
        let dir = self.table_dir(relation);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(EngineError::Lake {
                path: dir,
                source: e,
            }),
            _ => Ok(()),
        }
    }
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
