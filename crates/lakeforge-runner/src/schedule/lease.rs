//! The active scheduler's hold on the store lease: taken by `try_lock` (one conditional upsert,
//! judged by the database's clock), refreshed in the background every third of its TTL, and
//! released when the scheduler stops. A refresh that finds the lease taken by another
//! scheduler marks it lost; the loop then stops firing ticks and stands by.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lakeforge_meta::MetaStore;

use super::{LEASE, SchedulerEvent, SchedulerEvents};

pub(super) struct Lease {
    lost: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Lease {
    pub(super) fn start(
        store: MetaStore,
        owner: String,
        ttl: Duration,
        events: Arc<dyn SchedulerEvents>,
    ) -> Lease {
        let lost = Arc::new(AtomicBool::new(false));
        let flag = lost.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(ttl / 3).await;
                match store.refresh_lock(LEASE, &owner, ttl).await {
                    Ok(true) => {}
                    Ok(false) => {
                        flag.store(true, Ordering::SeqCst);
                        return;
                    }
                    // The next refresh may still succeed before the TTL runs out.
                    Err(e) => events.event(SchedulerEvent::LeaseRefreshFailed {
                        error: lakeforge_project::error_text(&e),
                    }),
                }
            }
        });
        Lease { lost, task }
    }

    pub(super) fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Stop refreshing and release the lease if this scheduler still holds it. Returns
    /// whether it had been lost.
    pub(super) async fn stop(self, store: &MetaStore, owner: &str) -> bool {
        self.task.abort();
        let _ = self.task.await;
        let held = store.unlock(LEASE, owner).await.unwrap_or(false);
        self.lost.load(Ordering::SeqCst) || !held
    }
}
