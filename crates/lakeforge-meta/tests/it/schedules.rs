//! Schedule ticks: among concurrent claimers (each with a store of its own, as separate
//! scheduler processes would have) exactly one claims each tick; a claimed or skipped tick is
//! never claimed again; the last tick and the tick list read back what was recorded.

use chrono::{DateTime, Duration, TimeZone, Utc};
use lakeforge_meta::RunStatus;

use crate::common::Db;

on_both!(
    exactly_one_concurrent_claimer_wins_each_tick,
    ticks_record_their_run_and_read_back,
);

fn at(hour: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, hour, 0, second).unwrap()
}

async fn exactly_one_concurrent_claimer_wins_each_tick(db: Db) {
    let (a, b) = (db.open().await, db.open().await);
    let mut wins = (0, 0);
    for round in 0..40u32 {
        let tick = at(0, 0) + Duration::seconds(round.into());
        let (ta, tb) = (a.clone(), b.clone());
        let ha = tokio::spawn(async move { ta.claim_tick("every_second", tick, "a").await });
        let hb = tokio::spawn(async move { tb.claim_tick("every_second", tick, "b").await });
        let (won_a, won_b) = (ha.await.unwrap().unwrap(), hb.await.unwrap().unwrap());
        assert!(won_a ^ won_b, "tick {round}: a won {won_a}, b won {won_b}");
        if won_a {
            wins.0 += 1;
        } else {
            wins.1 += 1;
        }
        // Whoever asks again later (a restarted scheduler) does not get it.
        assert!(!a.claim_tick("every_second", tick, "a").await.unwrap());
        assert!(!b.claim_tick("every_second", tick, "c").await.unwrap());
    }
    assert_eq!(wins.0 + wins.1, 40);
    let ticks = a.ticks(Some("every_second"), 100).await.unwrap();
    assert_eq!(ticks.len(), 40);
    assert!(ticks.iter().all(|t| t.status == "running"));
    // Another schedule's tick at the same time is a different tick.
    assert!(a.claim_tick("other", at(0, 0), "a").await.unwrap());
}

async fn ticks_record_their_run_and_read_back(db: Db) {
    let store = db.open().await;
    assert_eq!(store.last_tick("nightly").await.unwrap(), None);
    // A first sighting passes over the latest tick on purpose; it is never claimed after.
    assert!(
        store
            .skip_tick(
                "nightly",
                at(1, 0),
                "s1",
                "the schedule was first seen after it"
            )
            .await
            .unwrap()
    );
    assert!(!store.claim_tick("nightly", at(1, 0), "s2").await.unwrap());
    let first = store.last_tick("nightly").await.unwrap().unwrap();
    assert_eq!(
        (first.tick_at, first.status.as_str(), first.owner.as_str()),
        (at(1, 0), "skipped", "s1")
    );

    assert!(store.claim_tick("nightly", at(2, 0), "s1").await.unwrap());
    assert_eq!(
        store.last_tick("nightly").await.unwrap().unwrap().status,
        "running"
    );
    store
        .finish_tick("nightly", at(2, 0), Some("run-2"), RunStatus::Success, None)
        .await
        .unwrap();
    assert!(store.claim_tick("nightly", at(3, 0), "s1").await.unwrap());
    store
        .finish_tick(
            "nightly",
            at(3, 0),
            None,
            RunStatus::Error,
            Some("model broken"),
        )
        .await
        .unwrap();
    assert!(store.claim_tick("hourly", at(4, 0), "s1").await.unwrap());

    let last = store.last_tick("nightly").await.unwrap().unwrap();
    assert_eq!(last.tick_at, at(3, 0));
    assert_eq!(
        (last.status.as_str(), last.run_id, last.message.as_deref()),
        ("error", None, Some("model broken"))
    );
    assert!(last.finished_at.is_some());
    let nightly = store.ticks(Some("nightly"), 10).await.unwrap();
    let shown: Vec<(DateTime<Utc>, &str, Option<&str>)> = nightly
        .iter()
        .map(|t| (t.tick_at, t.status.as_str(), t.run_id.as_deref()))
        .collect();
    assert_eq!(
        shown,
        vec![
            (at(3, 0), "error", None),
            (at(2, 0), "success", Some("run-2")),
            (at(1, 0), "skipped", None),
        ]
    );
    let all = store.ticks(None, 2).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].schedule, "hourly");
    store.close().await;
}
