//! The server's routes through `Router::oneshot` (every route and error case) and one run over
//! a real socket (and one over TLS, `tls.rs`), against a SQLite registry holding models trained
//! here.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use lakeforge_meta::{MetaStore, ModelStatus, NewModelVersion, TrainingRecord};
use lakeforge_ml::{FeatureValue, FitSpec, Model, Task};
use lakeforge_serve::{ServeOptions, ServeState, router};
use serde_json::{Value, json};
use tower::ServiceExt;

mod admin;
mod auth;
mod tls;

struct Fixture {
    _dir: tempfile::TempDir,
    store: MetaStore,
    lake: std::path::PathBuf,
}

fn training_batch(n: usize) -> RecordBatch {
    let x: Vec<f64> = (0..n).map(|i| (i % 97) as f64 / 10.0).collect();
    let plan: Vec<&str> = (0..n).map(|i| ["basic", "pro", "premium"][i % 3]).collect();
    let y: Vec<i64> = (0..n)
        .map(|i| i64::from((i % 97) as f64 / 10.0 + if i % 3 == 0 { 2.0 } else { 0.0 } > 5.5))
        .collect();
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("x", DataType::Float64, false),
            Field::new("plan", DataType::Utf8, false),
            Field::new("label", DataType::Int64, false),
        ])),
        vec![
            Arc::new(Float64Array::from(x)) as ArrayRef,
            Arc::new(StringArray::from(plan)),
            Arc::new(Int64Array::from(y)),
        ],
    )
    .unwrap()
}

impl Fixture {
    async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let lake = dir.path().join("lake");
        let store = MetaStore::open_sqlite(&lake.join("_lakeforge.db"))
            .await
            .unwrap();
        let f = Fixture {
            _dir: dir,
            store,
            lake,
        };
        f.register("m", 20, Some("production")).await;
        f
    }

    /// Train a model of `trees` trees, register it as the next version of `name`.
    async fn register(&self, name: &str, trees: usize, alias: Option<&str>) -> i64 {
        let spec = FitSpec::new(Task::Binary, Some("label"))
            .with_param("num_iterations", &trees.to_string())
            .with_param("min_data_in_leaf", "5");
        let model = lakeforge_ml::fit(&[training_batch(600)], None, &spec).unwrap();
        let bytes = model.to_bytes().unwrap();
        let rel = format!("_models/{name}/{trees}/model.lfm");
        let path = self.lake.join(&rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        let mut new = new_version(name, rel, ModelStatus::Passed);
        new.trained.metrics = vec![("auc".into(), 0.9)];
        new.trained.artifact_sha256 = format!("{trees:064}");
        let version = self.store.register_model_version(&new).await.unwrap();
        if let Some(a) = alias {
            self.store
                .set_alias(name, a, Some(version), "test")
                .await
                .unwrap();
        }
        version
    }

    async fn state(&self, options: ServeOptions) -> Arc<ServeState> {
        let state = ServeState::new(self.store.clone(), self.lake.clone(), options);
        state.refresh().await.unwrap();
        state
    }
}

/// A passed version of `name` whose file is `artifact_path`, taking the fixture's inputs
/// (`x`, `plan`); each test sets what it is about.
fn new_version(name: &str, artifact_path: String, status: ModelStatus) -> NewModelVersion {
    NewModelVersion {
        name: name.into(),
        trained: TrainingRecord {
            status,
            task: "binary".into(),
            algorithm: "gbdt".into(),
            spec_json: "{}".into(),
            params_json: "{}".into(),
            feature_schema_json: r#"[{"name":"x","type":"Float64"},{"name":"plan","type":"Utf8"}]"#
                .into(),
            artifact_path,
            training_relation: "main.t".into(),
            training_version: Some(1),
            train_rows: 600,
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn call(
    state: &Arc<ServeState>,
    method: &str,
    uri: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> (StatusCode, Value, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(Body::from(body.unwrap_or("").to_string()))
        .unwrap();
    let resp = router(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

fn expected(f: &Fixture, version_dir: usize, x: f64, plan: &str) -> f64 {
    let model = Model::load(f.lake.join(format!("_models/m/{version_dir}/model.lfm"))).unwrap();
    model
        .predict_row(&[FeatureValue::Float(x), FeatureValue::Str(plan)])
        .unwrap()[0]
}

#[tokio::test]
async fn health_and_readiness() {
    let f = Fixture::new().await;
    let state = ServeState::new(f.store.clone(), f.lake.clone(), ServeOptions::default());
    assert_eq!(
        call(&state, "GET", "/healthz", None, None).await.0,
        StatusCode::OK
    );
    let (status, body, _) = call(&state, "GET", "/readyz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "unavailable");
    state.refresh().await.unwrap();
    assert_eq!(
        call(&state, "GET", "/readyz", None, None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn lists_and_describes_models() {
    let f = Fixture::new().await;
    let state = f.state(ServeOptions::default()).await;
    let (status, body, _) = call(&state, "GET", "/v1/models", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"models": [{"name": "m", "versions": [1], "aliases": {"production": 1}}]})
    );
    let (status, body, _) = call(&state, "GET", "/v1/models/m", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["versions"][0]["inputs"][1],
        json!({"name": "plan", "type": "Utf8"})
    );
    assert_eq!(body["versions"][0]["metrics"]["auc"], 0.9);
    let (status, body, _) = call(&state, "GET", "/v1/models/nope", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], "model `nope` not found");
    let (status, body, _) = call(&state, "GET", "/v2/whatever", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn predicts_rows_and_columns_like_the_model_file() {
    let f = Fixture::new().await;
    let state = f.state(ServeOptions::default()).await;
    let rows = r#"{"rows": [{"x": 1.5, "plan": "pro"}, {"x": 7, "plan": "basic", "id": 9}]}"#;
    let (status, body, text) = call(&state, "POST", "/v1/models/m/predict", Some(rows), None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(body["model"], "m");
    assert_eq!(body["version"], 1);
    let p = body["predictions"].as_array().unwrap();
    assert_eq!(p[0].as_f64().unwrap(), expected(&f, 20, 1.5, "pro"));
    assert_eq!(p[1].as_f64().unwrap(), expected(&f, 20, 7.0, "basic"));
    let cols = r#"{"columns": {"x": [1.5, 7], "plan": ["pro", "basic"]}}"#;
    let (_, by_columns, _) = call(&state, "POST", "/v1/models/m/predict", Some(cols), None).await;
    assert_eq!(by_columns["predictions"], body["predictions"]);
    for uri in [
        "/v1/models/m/predict?version=1",
        "/v1/models/m/versions/1/predict",
        "/v1/models/m/predict?alias=production",
    ] {
        let (status, b, text) = call(&state, "POST", uri, Some(rows), None).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {text}");
        assert_eq!(b["predictions"], body["predictions"]);
    }
}

#[tokio::test]
async fn client_mistakes_are_4xx_naming_the_field() {
    let f = Fixture::new().await;
    let state = f
        .state(ServeOptions {
            max_rows: 3,
            max_body_bytes: 2_000,
            ..Default::default()
        })
        .await;
    let cases: Vec<(&str, String, StatusCode, Option<&str>)> = vec![
        (
            "/v1/models/m/predict",
            "{not json".into(),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "/v1/models/m/predict",
            "[1, 2]".into(),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "/v1/models/m/predict",
            r#"{"rows": [{"x": 1}]}"#.into(),
            StatusCode::BAD_REQUEST,
            Some("rows[0].plan"),
        ),
        (
            "/v1/models/m/predict",
            r#"{"rows": [{"x": "high", "plan": "pro"}]}"#.into(),
            StatusCode::BAD_REQUEST,
            Some("rows[0].x"),
        ),
        (
            "/v1/models/m/predict",
            r#"{"rows": [{"x": 1, "plan": "a"}], "model": "m"}"#.into(),
            StatusCode::BAD_REQUEST,
            Some("model"),
        ),
        (
            "/v1/models/m/predict",
            r#"{"rows": [{"x": [1], "plan": "a"}]}"#.into(),
            StatusCode::BAD_REQUEST,
            Some("rows[0].x"),
        ),
        (
            "/v1/models/m/predict",
            r#"{"rows": [1]}"#.into(),
            StatusCode::BAD_REQUEST,
            Some("rows[0]"),
        ),
        (
            "/v1/models/m/predict",
            r#"{"columns": {"x": [1, 2], "plan": ["a"]}}"#.into(),
            StatusCode::BAD_REQUEST,
            Some("columns.plan"),
        ),
        (
            "/v1/models/m/predict",
            r#"{"rows": [{}, {}, {}, {}]}"#.into(),
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
        ),
        (
            "/v1/models/m/predict",
            format!(
                r#"{{"rows": [{}]}}"#,
                "{\"x\": 1, \"plan\": \"a\"},".repeat(200)
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
        ),
        (
            "/v1/models/m/predict?version=abc",
            r#"{"rows": []}"#.into(),
            StatusCode::BAD_REQUEST,
            Some("version"),
        ),
        (
            "/v1/models/m/predict?version=7",
            r#"{"rows": []}"#.into(),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            "/v1/models/m/predict?alias=staging",
            r#"{"rows": []}"#.into(),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            "/v1/models/m/versions/0/predict",
            r#"{"rows": []}"#.into(),
            StatusCode::BAD_REQUEST,
            Some("version"),
        ),
        (
            "/v1/models/nope/predict",
            r#"{"rows": []}"#.into(),
            StatusCode::NOT_FOUND,
            None,
        ),
    ];
    for (uri, body, want, field) in cases {
        let (status, json, text) = call(&state, "POST", uri, Some(&body), None).await;
        assert_eq!(status, want, "{uri} {body}: {text}");
        assert!(json["error"]["message"].is_string(), "{uri}: {text}");
        if let Some(field) = field {
            assert_eq!(json["error"]["field"], field, "{uri} {body}: {text}");
        }
    }
    let (status, _, _) = call(&state, "GET", "/v1/models/m/predict", None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn tokens_guard_every_route_but_health() {
    let f = Fixture::new().await;
    let state = f
        .state(ServeOptions {
            require_tokens: true,
            ..Default::default()
        })
        .await;
    let rows = r#"{"rows": [{"x": 1.5, "plan": "pro"}]}"#;
    for (method, uri) in [
        ("GET", "/v1/models"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("POST", "/v1/models/m/predict"),
    ] {
        let (status, body, _) = call(&state, method, uri, Some(rows), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    assert_eq!(
        call(&state, "GET", "/healthz", None, None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        call(&state, "GET", "/readyz", None, None).await.0,
        StatusCode::OK
    );

    let (_, token) = f
        .store
        .create_token("ci", &["predict".into()])
        .await
        .unwrap();
    let (status, _, text) = call(
        &state,
        "POST",
        "/v1/models/m/predict",
        Some(rows),
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        call(
            &state,
            "POST",
            "/v1/models/m/predict",
            Some(rows),
            Some("lf_wrong")
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    let (_, revoked) = f
        .store
        .create_token("old", &["predict".into()])
        .await
        .unwrap();
    assert_eq!(f.store.revoke_token("old").await.unwrap(), 1);
    assert_eq!(
        call(&state, "GET", "/v1/models", None, Some(&revoked))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // Only hashes are stored.
    let listed = serde_json::to_string(&f.store.tokens().await.unwrap()).unwrap();
    assert!(!listed.contains(&token));
}

#[tokio::test]
async fn a_promotion_is_picked_up_without_a_restart() {
    let f = Fixture::new().await;
    let state = f.state(ServeOptions::default()).await;
    let rows = r#"{"rows": [{"x": 4.2, "plan": "premium"}]}"#;
    let (_, before, _) = call(&state, "POST", "/v1/models/m/predict", Some(rows), None).await;
    assert_eq!(before["version"], 1);
    let v2 = f.register("m", 60, Some("production")).await;
    // A request that resolved version 1 keeps it while the snapshot is swapped.
    let held = state.models.resolve("m", None, None).await.unwrap();
    state.refresh().await.unwrap();
    assert_eq!(held.record.version, 1);
    let (_, after, _) = call(&state, "POST", "/v1/models/m/predict", Some(rows), None).await;
    assert_eq!(after["version"], v2);
    assert_eq!(
        after["predictions"][0].as_f64().unwrap(),
        expected(&f, 60, 4.2, "premium")
    );
    let (_, pinned, _) = call(
        &state,
        "POST",
        "/v1/models/m/versions/1/predict",
        Some(rows),
        None,
    )
    .await;
    assert_eq!(pinned["predictions"], before["predictions"]);
}

#[tokio::test]
async fn metrics_and_openapi_describe_the_server() {
    let f = Fixture::new().await;
    let state = f.state(ServeOptions::default()).await;
    call(
        &state,
        "POST",
        "/v1/models/m/predict",
        Some(r#"{"rows": [{"x": 1, "plan": "pro"}, {"x": 2, "plan": "pro"}]}"#),
        None,
    )
    .await;
    call(&state, "POST", "/v1/models/m/predict", Some("{"), None).await;
    let (status, _, text) = call(&state, "GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains(
            "lakeforge_http_requests_total{route=\"/v1/models/{name}/predict\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "lakeforge_http_requests_total{route=\"/v1/models/{name}/predict\",status=\"400\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("lakeforge_predictions_total{model=\"m\",version=\"1\"} 2"),
        "{text}"
    );
    assert!(
        text.contains(
            "lakeforge_http_request_duration_seconds_count{route=\"/v1/models/{name}/predict\"} 2"
        ),
        "{text}"
    );
    let (status, spec, _) = call(&state, "GET", "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spec["openapi"], "3.0.3");
    let paths: Vec<&String> = spec["paths"].as_object().unwrap().keys().collect();
    for p in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/v1/models",
        "/v1/models/{name}",
        "/v1/models/{name}/predict",
        "/v1/models/{name}/versions/{version}/predict",
        "/v1/models/{name}/aliases/{alias}",
    ] {
        assert!(
            paths.iter().any(|x| x.as_str() == p),
            "{p} missing from {paths:?}"
        );
    }
}

#[tokio::test]
async fn serves_over_a_real_socket_and_shuts_down_gracefully() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = Fixture::new().await;
    let state = f.state(ServeOptions::default()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(lakeforge_serve::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let body = r#"{"rows": [{"x": 1.5, "plan": "pro"}]}"#;
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /v1/models/m/predict HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let json: Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(
        json["predictions"][0].as_f64().unwrap(),
        expected(&f, 20, 1.5, "pro")
    );
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
}
