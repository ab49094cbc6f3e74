//! Concurrent writers: what happens when another run commits to a table between our read of
//! its log and our commit (two `lakeforge build`s of one project, a scheduler and a manual run).
//!
//! delta-rs already rebases a commit over concurrent ones that do not touch what it read (blind
//! appends). What is left is a real conflict. A write that replaces the whole table from inputs
//! other than the table itself (a seed, a table model, a test's audit table) does not depend on
//! what the other run wrote, so it is tried again from a fresh look at the log: the last writer
//! wins, as it would had the runs been one after the other. Any other write (MERGE, incremental
//! append over a changed schema, a snapshot, which reads its own history) would lose the other
//! run's rows if redone blindly, so it fails with [`EngineError::ConcurrentWrite`], in our words.

use std::future::Future;
use std::time::Duration;

use deltalake::DeltaTableError;
use deltalake::kernel::transaction::TransactionError;
use lakeforge_project::Relation;

use crate::error::{EngineError, Result};

/// How many times an independent write is tried in all before its conflict is reported.
const OVERWRITE_ATTEMPTS: u32 = 5;

/// Whether `e` says another writer committed first (as opposed to a broken table or store).
pub(crate) fn is_conflict(e: &DeltaTableError) -> bool {
    match e {
        DeltaTableError::VersionAlreadyExists(_) => true,
        DeltaTableError::Transaction { source } => matches!(
            source,
            TransactionError::CommitConflict(_)
                | TransactionError::MaxCommitAttempts(_)
                | TransactionError::VersionAlreadyExists(_)
        ),
        _ => false,
    }
}

/// The engine error for a failed Delta write of `relation`: a conflict in our words (delta-rs's
/// text speaks of isolation levels a Lakeforge user cannot set), anything else as it is.
pub(crate) fn write_error(relation: &Relation, e: DeltaTableError) -> EngineError {
    if is_conflict(&e) {
        EngineError::ConcurrentWrite {
            relation: relation.to_string(),
            attempts: 1,
            raw: Box::new(e),
        }
    } else {
        EngineError::delta(relation, e)
    }
}

/// Run `write` (one commit whose data does not depend on the table's contents: a full
/// overwrite, or an append of rows from elsewhere; from a fresh open of the log each time) until
/// it commits, trying again after a short, growing, jittered pause while it loses to a concurrent
/// writer; after [`OVERWRITE_ATTEMPTS`] it reports the conflict with the count.
pub(crate) async fn retry_on_conflict<T, F, Fut>(mut write: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match write().await {
            Err(EngineError::ConcurrentWrite { relation, raw, .. }) => {
                if attempt >= OVERWRITE_ATTEMPTS {
                    return Err(EngineError::ConcurrentWrite {
                        relation,
                        attempts: attempt,
                        raw,
                    });
                }
                tracing::debug!(%relation, attempt, "commit conflict on an independent write; trying again");
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// 40 ms, 80 ms, 160 ms... plus up to as much again at random, so two runs that collided do
/// not collide again in step.
fn backoff(attempt: u32) -> Duration {
    let base = 40u64 << attempt.min(6);
    let jitter = u64::from(uuid::Uuid::new_v4().as_u128() as u16) % base;
    Duration::from_millis(base + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use deltalake::kernel::transaction::CommitConflictError;

    fn relation() -> Relation {
        Relation::new("main", "orders")
    }

    #[test]
    fn conflicts_are_told_apart_from_other_failures() {
        let conflict = DeltaTableError::Transaction {
            source: TransactionError::CommitConflict(CommitConflictError::ConcurrentAppend),
        };
        assert!(is_conflict(&conflict));
        assert!(is_conflict(&DeltaTableError::VersionAlreadyExists(3)));
        assert!(!is_conflict(&DeltaTableError::NotATable("x".into())));

        let text = write_error(&relation(), conflict).to_string();
        assert!(text.contains("main.orders"), "{text}");
        assert!(text.contains("another run"), "{text}");
        assert!(text.contains("hint:"), "{text}");
        assert!(!text.to_lowercase().contains("isolation"), "{text}");
    }

    #[tokio::test]
    async fn a_full_overwrite_is_tried_again_then_reported_with_the_count() {
        let mut calls = 0;
        let ok: Result<u32> = retry_on_conflict(|| {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(write_error(
                        &relation(),
                        DeltaTableError::VersionAlreadyExists(1),
                    ))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(ok.unwrap(), 3);

        let mut calls = 0;
        let err = retry_on_conflict(|| {
            calls += 1;
            async {
                Err::<(), _>(write_error(
                    &relation(),
                    DeltaTableError::VersionAlreadyExists(1),
                ))
            }
        })
        .await
        .unwrap_err();
        assert_eq!(calls, OVERWRITE_ATTEMPTS);
        assert!(err.to_string().contains("tried 5 times"), "{err}");

        // Other failures are not tried again.
        let mut calls = 0;
        let err = retry_on_conflict(|| {
            calls += 1;
            async {
                Err::<(), _>(write_error(
                    &relation(),
                    DeltaTableError::NotATable("x".into()),
                ))
            }
        })
        .await
        .unwrap_err();
        assert_eq!(calls, 1);
        assert!(!err.to_string().contains("another run"), "{err}");
    }
    /// Two sessions on one lake folder, as two `lakeforge` processes would have.
    fn two_engines() -> (tempfile::TempDir, crate::Engine, crate::Engine) {
        let dir = tempfile::tempdir().unwrap();
        let open = || {
            let lake = crate::Lake::open(dir.path()).unwrap();
            crate::Engine::new(lake, "main", 2).unwrap()
        };
        let (a, b) = (open(), open());
        (dir, a, b)
    }

    async fn rows(engine: &crate::Engine, n: i64) -> datafusion::prelude::DataFrame {
        let sql = format!("select value as x from generate_series(1, {n})");
        engine.dataframe("test", &sql).await.unwrap()
    }

    async fn count(engine: &crate::Engine, relation: &Relation) -> i64 {
        let df = engine
            .dataframe("test", &format!("select count(*) as n from {relation}"))
            .await
            .unwrap();
        let batches = df.collect().await.unwrap();

        batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap()
            .value(0)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_based_on_a_version_another_run_moved_past_fails_in_our_words() {
        use crate::write::materialize::{append, overwrite};
        let (_dir, a, b) = two_engines();
        let t = relation();
        overwrite(&a, &t, rows(&a, 3).await, "CREATE TABLE", None)
            .await
            .unwrap();
        // Run A reads the table (an incremental model's watermark) at this version...
        let read = a.table_version(&t).await;
        assert_eq!(read, Some(0));
        // ...run B appends meanwhile (a blind append, which delta-rs alone would let through)...
        append(&b, &t, rows(&b, 2).await, false, None)
            .await
            .unwrap();
        // ...so A's append, computed from what it read, must not land.
        let err = append(&a, &t, rows(&a, 4).await, false, read)
            .await
            .unwrap_err();
        assert!(
            matches!(err, EngineError::ConcurrentWrite { .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with(
                "main.orders: another run wrote this table while this one was writing it"
            ),
            "{text}"
        );
        assert!(!text.to_lowercase().contains("isolation"), "{text}");
        // The lake is as B left it, and readable; a write from the latest version goes through.
        assert_eq!(count(&a, &t).await, 5);
        let latest = a.table_version(&t).await;
        append(&a, &t, rows(&a, 4).await, false, latest)
            .await
            .unwrap();
        assert_eq!(count(&b, &t).await, 9);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_full_overwrites_and_appends_all_land() {
        use crate::write::materialize::{append_df, replace};
        let (_dir, a, b) = two_engines();
        let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
        let seed = Relation::new("main", "seed");
        let log = Relation::new("main", "log");
        const ROUNDS: i64 = 6;
        let writer = |engine: std::sync::Arc<crate::Engine>, size: i64| {
            let (seed, log) = (seed.clone(), log.clone());
            tokio::spawn(async move {
                for _ in 0..ROUNDS {
                    let df = rows(&engine, size).await;
                    replace(&engine, &seed, df, "INSERT").await?;
                    let df = rows(&engine, size).await;
                    append_df(&engine, &log, df).await?;
                }
                Ok::<_, EngineError>(())
            })
        };
        let (ra, rb) = tokio::join!(writer(a.clone(), 3), writer(b.clone(), 5));
        ra.unwrap().unwrap();
        rb.unwrap().unwrap();
        // Every overwrite committed (one version each), the last writer's rows are the table.
        let n = count(&a, &seed).await;
        assert!(n == 3 || n == 5, "{n}");
        assert_eq!(a.table_version(&seed).await, Some(2 * ROUNDS - 1));
        // Every append committed once: nothing lost, nothing twice.
        assert_eq!(count(&b, &log).await, ROUNDS * (3 + 5));
    }
}
