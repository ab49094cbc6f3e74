//! The UI's writes: moving and removing a model's aliases from the Models page. Open on
//! loopback, this machine may (recorded as `ui (loopback)`); with tokens, only a token with
//! the admin scope (recorded as `ui (token NAME)`), a read token getting a 403 naming the
//! scope. Every write needs the session's CSRF token and is refused cross-site; the registry's
//! rules are the CLI's (a gate-rejected version is a 409 naming its metric, unless forced).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use lakeforge_meta::{ModelStatus, NewModelVersion, TrainingRecord};
use lakeforge_ui::{UiOptions, UiState};
use serde_json::{Value, json};

use crate::{Fixture, send, text};

const HOST: &str = "127.0.0.1:8765";

/// How a request authenticates: nothing (open UI), a bearer token, or the login cookie.
#[derive(Clone, Copy)]
enum Auth<'a> {
    None,
    Bearer(&'a str),
    Cookie(&'a str),
}

fn request(method: &str, uri: &str, auth: Auth) -> axum::http::request::Builder {
    let r = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, HOST);
    match auth {
        Auth::None => r,
        Auth::Bearer(t) => r.header(header::AUTHORIZATION, format!("Bearer {t}")),
        Auth::Cookie(t) => r.header(header::COOKIE, format!("lakeforge_ui_token={t}")),
    }
}

async fn answer(state: &Arc<UiState>, r: Request<Body>) -> (StatusCode, Value) {
    let response = send(state, r).await;
    let status = response.status();
    let body = text(response).await;
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|_| json!({ "raw": body })),
    )
}

/// `GET /api/session` as `auth`.
async fn session(state: &Arc<UiState>, auth: Auth<'_>) -> Value {
    let (status, body) = answer(
        state,
        request("GET", "/api/session", auth)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// `PUT` a promotion with `csrf` (if any) as `auth`.
async fn promote(
    state: &Arc<UiState>,
    auth: Auth<'_>,
    csrf: Option<&str>,
    uri: &str,
    body: Value,
) -> (StatusCode, Value) {
    let mut r = request("PUT", uri, auth).header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = csrf {
        r = r.header("x-csrf-token", token);
    }
    answer(state, r.body(Body::from(body.to_string())).unwrap()).await
}

fn csrf(session: &Value) -> String {
    session["csrf_token"].as_str().unwrap().to_string()
}

async fn last_change(f: &Fixture) -> lakeforge_meta::AliasChange {
    f.store.alias_history("churn").await.unwrap().pop().unwrap()
}

fn with_tokens(f: &Fixture) -> Arc<UiState> {
    f.state(UiOptions {
        require_tokens: true,
        title: "shop".into(),
        ..UiOptions::default()
    })
}

#[tokio::test]
async fn open_on_loopback_this_machine_may_write_with_the_csrf_token() {
    let f = Fixture::new().await;
    let state = f.open();
    let s = session(&state, Auth::None).await;
    assert_eq!(s["mode"], "loopback");
    assert_eq!(s["can_administer"], true);
    let token = csrf(&s);
    assert_eq!(token.len(), 64);

    // Without the token: refused, and nothing changes.
    let uri = "/api/models/churn/aliases/production";
    let (status, body) = promote(&state, Auth::None, None, uri, json!({"version": 2})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "csrf_token");
    let (status, _) = promote(
        &state,
        Auth::None,
        Some("0".repeat(64).as_str()),
        uri,
        json!({"version": 2}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        f.store.model_aliases("churn").await.unwrap()[0],
        ("production".to_string(), 1)
    );

    let (status, body) =
        promote(&state, Auth::None, Some(&token), uri, json!({"version": 2})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"model": "churn", "alias": "production", "version": 2, "previous": 1, "set_by": "ui (loopback)"})
    );
    let change = last_change(&f).await;
    assert_eq!(
        (
            change.alias.as_str(),
            change.version,
            change.previous,
            change.set_by.as_str()
        ),
        ("production", Some(2), Some(1), "ui (loopback)")
    );
    // The page reads the change back through the API.
    let (_, detail) = answer(
        &state,
        request("GET", "/api/models/churn", Auth::None)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        detail["alias_history"].as_array().unwrap().last().unwrap()["set_by"],
        "ui (loopback)"
    );

    // Removing: the CSRF token again; an alias that does not exist is a 404 that writes nothing.
    let remove = |alias: &str, csrf: Option<&str>| {
        let mut r = request(
            "DELETE",
            &format!("/api/models/churn/aliases/{alias}"),
            Auth::None,
        );
        if let Some(c) = csrf {
            r = r.header("x-csrf-token", c);
        }
        r.body(Body::empty()).unwrap()
    };
    let (status, _) = answer(&state, remove("staging", None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = answer(&state, remove("staging", Some(&token))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], Value::Null);
    assert_eq!(body["previous"], 2);
    let (status, body) = answer(&state, remove("staging", Some(&token))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let history = f.store.alias_history("churn").await.unwrap();
    assert_eq!(history.iter().filter(|c| c.version.is_none()).count(), 1);
}

#[tokio::test]
async fn writes_from_other_sites_are_refused_even_with_the_token() {
    let f = Fixture::new().await;
    let state = f.open();
    let token = csrf(&session(&state, Auth::None).await);
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let r = request("PUT", "/api/models/churn/aliases/production", Auth::None)
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-csrf-token", &token)
            .header(name, value)
            .body(Body::from(r#"{"version": 2}"#))
            .unwrap();
        let (status, body) = answer(&state, r).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {body}");
        assert_eq!(body["error"]["code"], "forbidden");
    }
    // A form post (no JSON) with the token is still not a promotion.
    let r = request("PUT", "/api/models/churn/aliases/production", Auth::None)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-csrf-token", &token)
        .body(Body::from("version=2"))
        .unwrap();
    let (status, body) = answer(&state, r).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(
        f.store.model_aliases("churn").await.unwrap()[0],
        ("production".to_string(), 1)
    );
}

#[tokio::test]
async fn with_tokens_only_the_admin_scope_may_write_and_is_named_in_the_history() {
    let f = Fixture::new().await;
    let state = with_tokens(&f);
    let reader = f.token("predict").await;
    let admin = f.token("admin").await;
    let uri = "/api/models/churn/aliases/production";

    // A read token: its session says it may not, and the write is a 403 naming the scope.
    let s = session(&state, Auth::Cookie(&reader)).await;
    assert_eq!(
        (s["mode"].as_str(), s["can_administer"].as_bool()),
        (Some("token"), Some(false))
    );
    let reader_csrf = csrf(&s);
    let (status, body) = promote(
        &state,
        Auth::Cookie(&reader),
        Some(&reader_csrf),
        uri,
        json!({"version": 2}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "scope_required");
    assert_eq!(body["error"]["scope"], "admin");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`admin` scope"),
        "{body}"
    );

    // No token at all: 401, as every route.
    let (status, _) = promote(
        &state,
        Auth::None,
        Some(&reader_csrf),
        uri,
        json!({"version": 2}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The admin token: the reader's CSRF token is not its own.
    let (status, body) = promote(
        &state,
        Auth::Cookie(&admin),
        Some(&reader_csrf),
        uri,
        json!({"version": 2}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "csrf_token");
    let (status, _) = promote(
        &state,
        Auth::Cookie(&admin),
        None,
        uri,
        json!({"version": 2}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        f.store.model_aliases("churn").await.unwrap()[0],
        ("production".to_string(), 1)
    );

    let s = session(&state, Auth::Cookie(&admin)).await;
    assert_eq!(s["can_administer"], true);
    let (status, body) = promote(
        &state,
        Auth::Cookie(&admin),
        Some(&csrf(&s)),
        uri,
        json!({"version": 2}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Fixture::token names tokens t0, t1...: the admin token is the second.
    assert_eq!(body["set_by"], "ui (token t1)");
    assert_eq!(last_change(&f).await.set_by, "ui (token t1)");

    // A bearer header is a session too, with a CSRF token of its own.
    let s = session(&state, Auth::Bearer(&admin)).await;
    let (status, body) = promote(
        &state,
        Auth::Bearer(&admin),
        Some(&csrf(&s)),
        uri,
        json!({"version": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["previous"], 2);
}

#[tokio::test]
async fn the_registry_rules_apply_and_a_gate_refusal_names_its_metric() {
    let f = Fixture::new().await;
    f.store
        .register_model_version(&NewModelVersion {
            name: "churn".into(),
            trained: TrainingRecord {
                status: ModelStatus::Rejected,
                gate_message: Some("auc 0.61 fails >= 0.7".into()),
                task: "binary".into(),
                algorithm: "gbdt".into(),
                training_relation: "main.features".into(),
                ..TrainingRecord::default()
            },
            trials: Vec::new(),
        })
        .await
        .unwrap();
    let state = f.open();
    let token = csrf(&session(&state, Auth::None).await);
    let put = |uri: &'static str, body: Value| {
        let state = state.clone();
        let token = token.clone();
        async move { promote(&state, Auth::None, Some(&token), uri, body).await }
    };

    let (status, body) = put(
        "/api/models/churn/aliases/production",
        json!({"version": 3}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("churn version 3 failed its quality gate (auc 0.61 fails >= 0.7)"),
        "{message}"
    );
    assert_eq!(
        f.store.model_aliases("churn").await.unwrap()[0],
        ("production".to_string(), 1)
    );
    let (status, body) = put(
        "/api/models/churn/aliases/production",
        json!({"version": 3, "force": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["version"], 3);

    for (uri, body, expected, field) in [
        (
            "/api/models/churn/aliases/3",
            json!({"version": 1}),
            StatusCode::BAD_REQUEST,
            Some("alias"),
        ),
        (
            "/api/models/churn/aliases/production",
            json!({"version": 9}),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            "/api/models/nope/aliases/production",
            json!({"version": 1}),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            "/api/models/churn/aliases/production",
            json!({"version": 1, "extra": 1}),
            StatusCode::BAD_REQUEST,
            Some("body"),
        ),
        (
            "/api/models/churn/aliases/production",
            json!({"force": true}),
            StatusCode::BAD_REQUEST,
            Some("body"),
        ),
    ] {
        let (status, answer) = put(uri, body.clone()).await;
        assert_eq!(status, expected, "{uri} {body}: {answer}");
        if let Some(field) = field {
            assert_eq!(answer["error"]["field"], field, "{answer}");
        }
    }
    assert_eq!(
        f.store.model_aliases("churn").await.unwrap()[0],
        ("production".to_string(), 3)
    );
}
