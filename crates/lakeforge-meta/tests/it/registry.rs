//! The model registry and its rules: versions read back with their status, aliases only under
//! valid names (never a number, which `model@3` reads as a version), and a gate-rejected
//! version promoted only with force.

use lakeforge_meta::{
    AliasProblem, MetaError, MetaStore, ModelStatus, NewModelVersion, TrainingRecord, TrialRecord,
};

use crate::common::Db;

on_both!(
    versions_read_back_with_their_status,
    promotion_refuses_a_rejected_version_without_force,
    alias_names_are_checked_wherever_an_alias_is_set,
);

async fn register(store: &MetaStore, status: ModelStatus, gate: &str) -> i64 {
    store
        .register_model_version(&NewModelVersion {
            name: "churn".into(),
            trained: TrainingRecord {
                run_id: Some("r1".into()),
                status,
                gate_message: Some(gate.into()),
                task: "binary".into(),
                algorithm: "gbdt".into(),
                spec_json: "{}".into(),
                params_json: "{}".into(),
                metrics: vec![("auc".into(), 0.8)],
                feature_schema_json: "[]".into(),
                artifact_path: "_models/churn/abc/model.lfm".into(),
                artifact_sha256: "abc".into(),
                training_relation: "main.features".into(),
                training_version: Some(3),
                train_rows: 80,
                test_rows: 20,
            },
            trials: vec![TrialRecord {
                trial: 0,
                params_json: "{}".into(),
                score: 0.8,
                iterations: 0,
            }],
        })
        .await
        .unwrap()
}

async fn versions_read_back_with_their_status(db: Db) {
    let store = db.open().await;
    assert_eq!(
        register(&store, ModelStatus::Passed, "auc 0.8 >= 0.7").await,
        1
    );
    assert_eq!(
        register(&store, ModelStatus::Rejected, "auc 0.6 fails >= 0.7").await,
        2
    );
    let versions = store.model_versions("churn").await.unwrap();
    let statuses: Vec<ModelStatus> = versions.iter().map(|v| v.trained.status).collect();
    assert_eq!(statuses, [ModelStatus::Passed, ModelStatus::Rejected]);
    assert_eq!(versions[0].trained.trained_on(), "main.features @ v3");
    assert_eq!(versions[0].trained.metric("auc"), Some(0.8));
    assert_eq!(store.model_trials("churn", 1).await.unwrap().len(), 1);
    // One flat JSON object, the training record's fields beside the version's own.
    let json = serde_json::to_value(&versions[1]).unwrap();
    assert_eq!(json["version"], 2);
    assert_eq!(json["status"], "rejected");
    assert_eq!(json["artifact_sha256"], "abc");
    assert!(json.get("trained").is_none(), "{json}");
}

async fn promotion_refuses_a_rejected_version_without_force(db: Db) {
    let store = db.open().await;
    register(&store, ModelStatus::Passed, "auc 0.8 >= 0.7").await;
    register(&store, ModelStatus::Rejected, "auc 0.6 fails >= 0.7").await;
    assert_eq!(
        store
            .promote("churn", 1, "production", false, "cli")
            .await
            .unwrap(),
        None
    );
    let refused = store
        .promote("churn", 2, "production", false, "cli")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, MetaError::GateRejected { version: 2, .. }),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        "churn version 2 failed its quality gate (auc 0.6 fails >= 0.7)"
    );
    assert_eq!(
        store.resolve_alias("churn", "production").await.unwrap(),
        Some(1),
        "a refused promotion leaves the alias where it was"
    );
    let missing = store
        .promote("churn", 9, "production", true, "cli")
        .await
        .unwrap_err();
    assert!(
        matches!(missing, MetaError::NoSuchVersion { version: 9, .. }),
        "{missing:?}"
    );
    // Forced: moved, and the history says by whom.
    let promotion = store
        .promotion("churn", 2, "production", true)
        .await
        .unwrap();
    assert_eq!(promotion.version().trained.status, ModelStatus::Rejected);
    assert_eq!(promotion.apply("api").await.unwrap(), Some(1));
    let last = store.alias_history("churn").await.unwrap().pop().unwrap();
    assert_eq!(
        (last.version, last.previous, last.set_by.as_str()),
        (Some(2), Some(1), "api")
    );
}

async fn alias_names_are_checked_wherever_an_alias_is_set(db: Db) {
    let store = db.open().await;
    register(&store, ModelStatus::Passed, "").await;
    let invalid = |e: MetaError| match e {
        MetaError::InvalidAlias { alias, problem } => (alias, problem),
        other => panic!("expected InvalidAlias, got {other:?}"),
    };
    // Training sets aliases through set_alias; a person through promote: both refuse a number.
    let e = store
        .set_alias("churn", "2", Some(1), "r1")
        .await
        .unwrap_err();
    assert_eq!(invalid(e), ("2".to_string(), AliasProblem::Number));
    let e = store
        .promote("churn", 1, "2", false, "cli")
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("`model@2` reads as version 2"),
        "{e}"
    );
    let e = store
        .promote("churn", 1, "a b", false, "cli")
        .await
        .unwrap_err();
    assert_eq!(invalid(e), ("a b".to_string(), AliasProblem::Characters));
    assert!(store.model_aliases("churn").await.unwrap().is_empty());
    assert!(store.alias_history("churn").await.unwrap().is_empty());
    // Removing is not refused: an alias set before the rule can still be cleared.
    assert_eq!(
        store.set_alias("churn", "2", None, "cli").await.unwrap(),
        None
    );
}
