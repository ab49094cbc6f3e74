//! The UI's routes through `Router::oneshot` against a real SQLite store filled through
//! `MetaStore`'s own API (runs with node executions of several statuses and attempts, a
//! registered model): the JSON API and its errors, pages and assets with their content
//! types, escaping of project text in server-rendered HTML (`escaping.rs`), the token mode
//! (`auth.rs`), the model registry's pages, API and charts (`models.rs`), the lineage API and
//! page over a project in a temporary folder (`lineage.rs`), a node's column lineage through a
//! real query session (`column_lineage.rs`), data quality (`quality.rs`), alias changes with
//! their CSRF token and admin scope (`admin.rs`), a node's compiled SQL and the schedules
//! (`run_details.rs`), the tables pages and API over a real lake built through
//! lakeforge-engine (`tables.rs`), and one run over a real socket.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

mod admin;
mod api;
mod auth;
mod column_lineage;
mod escaping;
mod lineage;
mod models;
mod pages;
mod quality;
mod run_details;
mod tables;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use lakeforge_meta::{MetaStore, ModelStatus, NewModelVersion, NodeRecord, TrainingRecord};
use lakeforge_ui::{UiOptions, UiState, router};
use serde_json::Value;
use tower::ServiceExt;

pub struct Fixture {
    _dir: tempfile::TempDir,
    pub store: MetaStore,
}

pub fn node(
    id: &str,
    status: &str,
    started_at: &str,
    elapsed_s: f64,
    message: Option<&str>,
) -> NodeRecord {
    let wrote = matches!(status, "success");
    NodeRecord {
        unique_id: id.into(),
        status: status.into(),
        started_at: started_at.into(),
        elapsed_s,
        rows_affected: wrote.then_some(42),
        delta_version: wrote.then_some(3),
        sql_hash: None,
        message: message.map(str::to_string),
        ..NodeRecord::default()
    }
}

impl Fixture {
    /// Three runs: `r-ok` (a build that succeeded), `r-live` (a run still running) and the
    /// latest, `r-err` (a build whose model failed twice and whose test failed); and the
    /// model `churn`, two versions, `production` on the first.
    pub async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = MetaStore::open_sqlite(&dir.path().join("lake/_lakeforge.db"))
            .await
            .unwrap();
        let f = Fixture { _dir: dir, store };
        let s = &f.store;

        s.start_run(
            "r-ok",
            "build",
            r#"{"select":[]}"#,
            "2026-01-01T10:00:00.000Z",
        )
        .await
        .unwrap();
        for n in [
            node(
                "seed.shop.raw",
                "success",
                "2026-01-01T10:00:00.100Z",
                0.5,
                Some("INSERT 42"),
            ),
            node(
                "model.shop.orders",
                "success",
                "2026-01-01T10:00:00.700Z",
                1.0,
                None,
            ),
            node(
                "test.shop.not_null_orders_id.61055f5794",
                "pass",
                "2026-01-01T10:00:01.800Z",
                0.1,
                None,
            ),
        ] {
            s.record_node("r-ok", &n).await.unwrap();
        }
        s.finish_run("r-ok", "success", "2026-01-01T10:00:02.000Z", 2.0)
            .await
            .unwrap();

        s.start_run("r-live", "run", "{}", "2026-01-02T09:00:00.000Z")
            .await
            .unwrap();
        s.record_node(
            "r-live",
            &node(
                "model.shop.orders",
                "success",
                "2026-01-02T09:00:00.100Z",
                0.4,
                None,
            ),
        )
        .await
        .unwrap();

        s.start_run("r-err", "build", "{}", "2026-01-03T08:00:00.000Z")
            .await
            .unwrap();
        let a1 = node(
            "model.shop.revenue",
            "error",
            "2026-01-03T08:00:00.100Z",
            0.2,
            Some("Division by zero"),
        );
        let a2 = node(
            "model.shop.revenue",
            "error",
            "2026-01-03T08:00:01.000Z",
            0.3,
            Some("Division by zero, again"),
        );
        s.record_node_attempt("r-err", 1, &a1).await.unwrap();
        s.record_node_attempt("r-err", 2, &a2).await.unwrap();
        for n in [
            node(
                "model.shop.report",
                "skipped",
                "2026-01-03T08:00:01.400Z",
                0.0,
                Some("skipped: upstream revenue"),
            ),
            node(
                "test.shop.unique_orders_id",
                "fail",
                "2026-01-03T08:00:01.500Z",
                0.1,
                Some("Got 2 results, configured to fail if != 0"),
            ),
            node(
                "test.shop.accepted_values",
                "warn",
                "2026-01-03T08:00:01.600Z",
                0.1,
                Some("Got 1 result"),
            ),
        ] {
            s.record_node("r-err", &n).await.unwrap();
        }
        s.finish_run("r-err", "error", "2026-01-03T08:00:02.000Z", 2.0)
            .await
            .unwrap();

        for _ in 0..2 {
            s.register_model_version(&NewModelVersion {
                name: "churn".into(),
                trained: TrainingRecord {
                    status: ModelStatus::Passed,
                    task: "binary".into(),
                    algorithm: "gbdt".into(),
                    training_relation: "main.features".into(),
                    ..TrainingRecord::default()
                },
                trials: Vec::new(),
            })
            .await
            .unwrap();
        }
        s.set_alias("churn", "production", Some(1), "test")
            .await
            .unwrap();
        s.set_alias("churn", "staging", Some(2), "test")
            .await
            .unwrap();
        f
    }

    /// A new API token of the store with `scope`.
    pub async fn token(&self, scope: &str) -> String {
        let name = format!("t{}", self.store.tokens().await.unwrap().len());
        self.store
            .create_token(&name, &[scope.to_string()])
            .await
            .unwrap()
            .1
    }

    pub fn state(&self, options: UiOptions) -> Arc<UiState> {
        UiState::new(self.store.clone(), options)
    }

    pub fn open(&self) -> Arc<UiState> {
        self.state(UiOptions {
            title: "shop".into(),
            ..UiOptions::default()
        })
    }
}

/// A GET of `uri` on loopback.
pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::HOST, "127.0.0.1:8765")
        .body(Body::empty())
        .unwrap()
}

pub async fn send(state: &Arc<UiState>, request: Request<Body>) -> Response<Body> {
    router(state.clone()).oneshot(request).await.unwrap()
}

pub async fn text(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The status and JSON body of GET `uri`.
pub async fn get_json(state: &Arc<UiState>, uri: &str) -> (StatusCode, Value) {
    let response = send(state, get(uri)).await;
    let status = response.status();
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json",
        "{uri}"
    );
    (status, serde_json::from_str(&text(response).await).unwrap())
}

pub fn content_type(response: &Response<Body>) -> &str {
    response.headers()[header::CONTENT_TYPE].to_str().unwrap()
}

/// `serve` over a real socket answers, and stops when told.
#[tokio::test]
async fn serves_over_a_socket_and_stops_gracefully() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = Fixture::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(lakeforge_ui::serve(listener, f.open(), async move {
        let _ = stopped.await;
    }));
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(
            format!(
                "GET /api/runs?status=running HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"run_id\":\"r-live\""), "{answer}");
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
