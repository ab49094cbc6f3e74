//! Leases for exclusive work: one winner among concurrent contenders (each with a store of its
//! own, as separate processes would have), refresh, release, and takeover after expiry.

use std::time::Duration;

use crate::common::Db;

on_both!(
    exactly_one_concurrent_acquirer_wins,
    an_expired_lease_can_be_taken_over,
);

const LONG: Duration = Duration::from_secs(60);

async fn exactly_one_concurrent_acquirer_wins(db: Db) {
    let (a, b) = (db.open().await, db.open().await);
    // Many rounds, each on a lock nobody holds yet, so the two inserts really race.
    for round in 0..25 {
        let name = format!("scheduler-{round}");
        let (ta, tb) = (a.clone(), b.clone());
        let (na, nb) = (name.clone(), name.clone());
        let ha = tokio::spawn(async move { ta.try_lock(&na, "a", LONG).await.unwrap() });
        let hb = tokio::spawn(async move { tb.try_lock(&nb, "b", LONG).await.unwrap() });
        let (won_a, won_b) = (ha.await.unwrap(), hb.await.unwrap());
        assert!(won_a ^ won_b, "round {round}: a won {won_a}, b won {won_b}");
        let winner = if won_a { "a" } else { "b" };
        let holder = a.lock_holder(&name).await.unwrap().unwrap();
        assert_eq!(holder.owner, winner);
        assert!(!holder.expired);
    }

    // The holder may take it again (extending it); the other still may not.
    assert!(a.try_lock("solo", "a", LONG).await.unwrap());
    let first = a.lock_holder("solo").await.unwrap().unwrap();
    assert!(a.try_lock("solo", "a", LONG).await.unwrap());
    assert_eq!(
        a.lock_holder("solo").await.unwrap().unwrap().acquired_at_ms,
        first.acquired_at_ms
    );
    assert!(!b.try_lock("solo", "b", LONG).await.unwrap());
    assert!(!b.refresh_lock("solo", "b", LONG).await.unwrap());
    assert!(!b.unlock("solo", "b").await.unwrap());
    assert!(a.refresh_lock("solo", "a", LONG).await.unwrap());
    // Released, it is free for the next.
    assert!(a.unlock("solo", "a").await.unwrap());
    assert_eq!(a.lock_holder("solo").await.unwrap(), None);
    assert!(b.try_lock("solo", "b", LONG).await.unwrap());
}

async fn an_expired_lease_can_be_taken_over(db: Db) {
    let (a, b) = (db.open().await, db.open().await);
    assert!(
        a.try_lock("compact", "a", Duration::from_millis(300))
            .await
            .unwrap()
    );
    assert!(!b.try_lock("compact", "b", LONG).await.unwrap());
    tokio::time::sleep(Duration::from_millis(600)).await;
    let lapsed = b.lock_holder("compact").await.unwrap().unwrap();
    assert_eq!(lapsed.owner, "a");
    assert!(lapsed.expired);
    assert!(b.try_lock("compact", "b", LONG).await.unwrap());
    let taken = b.lock_holder("compact").await.unwrap().unwrap();
    assert_eq!(taken.owner, "b");
    assert!(taken.acquired_at_ms >= lapsed.expires_at_ms);
    // The old owner learns it lost the lease, and cannot release the new owner's.
    assert!(!a.refresh_lock("compact", "a", LONG).await.unwrap());
    assert!(!a.unlock("compact", "a").await.unwrap());
    assert!(!a.try_lock("compact", "a", LONG).await.unwrap());
    assert!(b.unlock("compact", "b").await.unwrap());
}
