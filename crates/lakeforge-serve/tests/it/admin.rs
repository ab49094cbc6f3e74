//! The admin routes: moving and removing aliases through the API, as `lakeforge models
//! promote` does, guarded by the `admin` scope; the next prediction uses the new version.

use axum::http::StatusCode;
use lakeforge_meta::ModelStatus;
use lakeforge_serve::ServeOptions;

use crate::{Fixture, call, new_version};

const ROWS: &str = r#"{"rows": [{"x": 4.2, "plan": "premium"}]}"#;

/// A version of `m` whose quality gate failed (reusing version 1's file).
async fn register_rejected(f: &Fixture) -> i64 {
    let mut new = new_version("m", "_models/m/20/model.lfm".into(), ModelStatus::Rejected);
    new.trained.gate_message = Some("auc 0.52 < 0.7".into());
    new.trained.metrics = vec![("auc".into(), 0.52)];
    new.trained.artifact_sha256 = format!("{:064}", 20);
    f.store.register_model_version(&new).await.unwrap()
}

#[tokio::test]
async fn moves_and_removes_aliases_and_the_next_prediction_follows() {
    let f = Fixture::new().await;
    let state = f.state(ServeOptions::default()).await;
    // Registered after the server read the registry: the store, not the snapshot, decides.
    let v2 = f.register("m", 60, None).await;
    let body = format!(r#"{{"version": {v2}}}"#);
    let (status, json, text) = call(
        &state,
        "PUT",
        "/v1/models/m/aliases/production",
        Some(&body),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(json["version"], v2);
    assert_eq!(json["previous"], 1);
    let (_, predicted, _) = call(&state, "POST", "/v1/models/m/predict", Some(ROWS), None).await;
    assert_eq!(predicted["version"], v2, "no refresh interval waited for");

    let (status, json, _) = call(
        &state,
        "PUT",
        "/v1/models/m/aliases/staging",
        Some(r#"{"version": 1, "force": false}"#),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(json["previous"].is_null());
    let history = f.store.alias_history("m").await.unwrap();
    let last = history.last().unwrap();
    assert_eq!(
        (last.alias.as_str(), last.version, last.set_by.as_str()),
        ("staging", Some(1), "api")
    );

    let (status, json, text) =
        call(&state, "DELETE", "/v1/models/m/aliases/staging", None, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(json["previous"], 1);
    let (status, _, _) = call(
        &state,
        "POST",
        "/v1/models/m/predict?alias=staging",
        Some(ROWS),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nothing to remove: 404, and no history row written.
    let before = f.store.alias_history("m").await.unwrap().len();
    let (status, json, _) =
        call(&state, "DELETE", "/v1/models/m/aliases/staging", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json["error"]["code"], "not_found");
    assert_eq!(f.store.alias_history("m").await.unwrap().len(), before);
}

#[tokio::test]
async fn a_predict_token_cannot_move_aliases() {
    let f = Fixture::new().await;
    let state = f
        .state(ServeOptions {
            require_tokens: true,
            ..Default::default()
        })
        .await;
    let (_, predict) = f
        .store
        .create_token("app", &["predict".into()])
        .await
        .unwrap();
    let (_, admin) = f
        .store
        .create_token("ops", &["admin".into()])
        .await
        .unwrap();
    let uri = "/v1/models/m/aliases/production";
    let body = Some(r#"{"version": 1}"#);
    let (status, json, _) = call(&state, "PUT", uri, body, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json["error"]["code"], "unauthorized");
    for (method, body) in [("PUT", body), ("DELETE", None)] {
        let (status, json, text) = call(&state, method, uri, body, Some(&predict)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method}: {text}");
        assert!(
            json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`admin` scope"),
            "{text}"
        );
    }
    let (status, _, text) = call(&state, "PUT", uri, body, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // An admin token predicts too.
    let (status, _, _) = call(
        &state,
        "POST",
        "/v1/models/m/predict",
        Some(ROWS),
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_models_versions_bad_bodies_and_the_gate() {
    let f = Fixture::new().await;
    let state = f.state(ServeOptions::default()).await;
    let rejected = register_rejected(&f).await;
    let put = |uri: &'static str, body: String| {
        let state = state.clone();
        async move { call(&state, "PUT", uri, Some(&body), None).await }
    };
    let (status, json, _) = put(
        "/v1/models/nope/aliases/production",
        r#"{"version": 1}"#.into(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`nope`")
    );
    let (status, json, _) = put(
        "/v1/models/m/aliases/production",
        r#"{"version": 9}"#.into(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("version 9")
    );
    let (status, _, _) = call(
        &state,
        "DELETE",
        "/v1/models/nope/aliases/production",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    for (body, field) in [
        ("{}", Some("version")),
        (r#"{"version": 0}"#, Some("version")),
        (r#"{"version": "2"}"#, Some("version")),
        (r#"{"version": 1, "force": "yes"}"#, Some("force")),
        (r#"{"version": 1, "forse": true}"#, Some("forse")),
        ("[1]", None),
        ("not json", None),
    ] {
        let (status, json, text) = put("/v1/models/m/aliases/production", body.into()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {text}");
        if let Some(field) = field {
            assert_eq!(json["error"]["field"], field, "{body}: {text}");
        }
    }
    let (status, json, _) = put("/v1/models/m/aliases/a%20b", r#"{"version": 1}"#.into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["error"]["field"], "alias");
    // A number is refused as an alias name: `m@3` reads as version 3.
    let (status, json, text) = put("/v1/models/m/aliases/3", r#"{"version": 1}"#.into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert_eq!(json["error"]["field"], "alias");
    assert!(
        text.contains("alias `3` is not a valid alias name") && text.contains("version 3"),
        "{text}"
    );
    assert!(f.store.resolve_alias("m", "3").await.unwrap().is_none());

    // The gate: refused without force (the alias stays), accepted with it.
    let body = format!(r#"{{"version": {rejected}}}"#);
    let (status, json, text) = put("/v1/models/m/aliases/production", body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    assert_eq!(json["error"]["code"], "conflict");
    assert!(
        text.contains("auc 0.52 < 0.7") && text.contains("force"),
        "{text}"
    );
    assert_eq!(
        f.store.resolve_alias("m", "production").await.unwrap(),
        Some(1)
    );
    let body = format!(r#"{{"version": {rejected}, "force": true}}"#);
    let (status, json, text) = put("/v1/models/m/aliases/production", body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(json["version"], rejected);
}
