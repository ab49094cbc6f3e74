//! The latest snapshot of each table this process loaded or committed, so that a table read
//! again is not replayed from its Delta log each time: a model's parents are read by each of
//! their children, right after the run committed them, and a rebuilt table is loaded before
//! it is replaced. Replaying logs was the largest part of running 1,000 small table models.
//!
//! A snapshot is used only while it is still the table's latest version: the commit file it
//! was read at is the one on disk now (same size and modification time, and entity tag in
//! object storage) and no next commit exists. Anything else (another process committed,
//! the table was dropped and created again) reads the log afresh.

use std::collections::HashMap;

use deltalake::DeltaTable;
use lakeforge_project::Relation;
use parking_lot::Mutex;

use super::files::{CommitStamp, Files};

/// More tables than a process touches in a large run; past it the cache starts over, so a
/// long-lived process (a server, a scheduler) does not hold every table it ever read.
const MAX_TABLES: usize = 4096;

#[derive(Debug, Default)]
pub(super) struct Snapshots {
    latest: Mutex<HashMap<(String, String), (DeltaTable, CommitStamp)>>,
}

impl Snapshots {
    /// The remembered snapshot of `relation`, if it is still the table's latest.
    pub(super) async fn latest(&self, files: &Files, relation: &Relation) -> Option<DeltaTable> {
        let key = (relation.schema.clone(), relation.identifier.clone());
        let (table, stamp) = self.latest.lock().get(&key).cloned()?;
        let version = table.version()?;
        // Both at once: in object storage each is a request.
        let (stamp_now, next) = futures::join!(
            files.commit_stamp(&relation.schema, &relation.identifier, version),
            files.commit_stamp(&relation.schema, &relation.identifier, version + 1),
        );
        if matches!((stamp_now, next), (Ok(Some(now)), Ok(None)) if now == stamp) {
            return Some(table);
        }
        self.latest.lock().remove(&key);
        None
    }

    /// Remember `table` (loaded or just committed) as the latest snapshot of `relation`.
    pub(super) async fn remember(&self, files: &Files, relation: &Relation, table: &DeltaTable) {
        let Some(version) = table.version() else {
            return;
        };
        let Ok(Some(stamp)) = files
            .commit_stamp(&relation.schema, &relation.identifier, version)
            .await
        else {
            return;
        };
        let mut latest = self.latest.lock();
        if latest.len() >= MAX_TABLES {
            latest.clear();
        }
        latest.insert(
            (relation.schema.clone(), relation.identifier.clone()),
            (table.clone(), stamp),
        );
    }

    /// Forget `relation` (its table was removed).
    pub(super) fn forget(&self, relation: &Relation) {
        self.latest
            .lock()
            .remove(&(relation.schema.clone(), relation.identifier.clone()));
    }
}
