//! `lakeforge-serve`: the last stage of the flow, predictions over HTTP from the models the
//! training nodes registered. An axum router over [`ServeState`]: the registry snapshot and
//! loaded model files (`models`), request parsing (`input`), errors as JSON responses
//! (`error`), Prometheus metrics (`metrics`) and the OpenAPI document (`openapi`).
//!
//! HTTPS with a PEM certificate and key (`tls`, rustls) when given one. Bearer tokens are
//! checked by `auth`, whose caches (like the loaded model versions of `models`) are bounded:
//! [`ServeLimits`].
//!
//! Routes: `GET /healthz`, `GET /readyz`, `GET /metrics`, `GET /openapi.json`, `GET /v1/models`,
//! `GET /v1/models/{name}`, `POST /v1/models/{name}/predict` (production alias; `?version=` or
//! `?alias=` for others) and `POST /v1/models/{name}/versions/{version}/predict`. With tokens
//! required (the server listens beyond loopback, or `require_tokens`), every route but the two
//! health checks needs `Authorization: Bearer <token>` of a token with the `predict` (or
//! `admin`) scope. `PUT` and `DELETE /v1/models/{name}/aliases/{alias}` (`admin`) move and
//! remove aliases.

pub mod admin;
pub mod auth;
pub mod error;
pub mod input;
pub mod metrics;
pub mod models;
pub mod openapi;
pub mod tls;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use lakeforge_ml::Task;
use serde::Deserialize;
use serde_json::{Value, json};

pub use auth::{AuthLimits, AuthStats};
pub use error::{ApiError, ApiResult};
pub use models::LoadError;
use models::{LoadedVersion, Models};

/// Limits and switches of one server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Require a bearer token on every route but the health checks.
    pub require_tokens: bool,
    pub max_body_bytes: usize,
    pub max_rows: usize,
    pub request_timeout: Duration,
    /// How often the registry is read again (promotions are picked up then).
    pub refresh_interval: Duration,
    /// Print one JSON line per request to stdout.
    pub access_log: bool,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            require_tokens: false,
            max_body_bytes: 16 << 20,
            max_rows: 100_000,
            request_timeout: Duration::from_secs(30),
            refresh_interval: Duration::from_secs(2),
            access_log: false,
        }
    }
}

/// Bounds of what the server keeps in memory besides the registry snapshot.
#[derive(Debug, Clone)]
pub struct ServeLimits {
    pub auth: AuthLimits,
    /// Loaded versions kept besides those an alias points at (those are always kept): a
    /// version asked for by number is loaded, used, and dropped again least recently used
    /// first.
    pub loaded_versions: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            auth: AuthLimits::default(),
            loaded_versions: 16,
        }
    }
}

pub struct ServeState {
    pub models: Models,
    pub metrics: metrics::Metrics,
    pub options: ServeOptions,
    ready: AtomicBool,
    auth: auth::Auth,
}

impl ServeState {
    pub fn new(
        store: lakeforge_meta::MetaStore,
        files: impl Into<models::ModelFiles>,
        options: ServeOptions,
    ) -> Arc<ServeState> {
        Self::with_limits(store, files, options, ServeLimits::default())
    }

    pub fn with_limits(
        store: lakeforge_meta::MetaStore,
        files: impl Into<models::ModelFiles>,
        options: ServeOptions,
        limits: ServeLimits,
    ) -> Arc<ServeState> {
        Arc::new(ServeState {
            models: Models::new(store, files, limits.loaded_versions),
            metrics: metrics::Metrics::default(),
            options,
            ready: AtomicBool::new(false),
            auth: auth::Auth::new(limits.auth),
        })
    }

    /// Read the registry (and load aliased versions); the server is ready after the first
    /// success.
    pub async fn refresh(&self) -> Result<(), models::LoadError> {
        self.models.refresh().await?;
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    /// How full the authentication caches are (also in `/metrics`).
    pub fn auth_stats(&self) -> AuthStats {
        self.auth.stats()
    }
}

/// Keep reading the registry every `refresh_interval`, for as long as the state lives.
pub fn spawn_refresh(state: Arc<ServeState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(state.options.refresh_interval).await;
            if let Err(e) = state.refresh().await {
                tracing::warn!("refreshing the model registry failed: {e}");
            }
        }
    })
}

pub fn router(state: Arc<ServeState>) -> Router {
    let limit = state.options.max_body_bytes;
    let protected = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi_json))
        .route("/v1/models", get(list_models))
        .route("/v1/models/{name}", get(get_model))
        .route("/v1/models/{name}/predict", post(predict))
        .route(
            "/v1/models/{name}/versions/{version}/predict",
            post(predict_version),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    let admin = Router::new()
        .route(
            "/v1/models/{name}/aliases/{alias}",
            put(admin::set_alias).delete(admin::remove_alias),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            authorize_admin,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .merge(protected)
        .merge(admin)
        .fallback(|| async {
            ApiError::NotFound {
                what: "route".into(),
            }
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(catch_panic))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Metrics and the access log for every request.
async fn observe(State(state): State<Arc<ServeState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // The matched route is shared (an `Arc<str>` inside); the method and path are copied only
    // for the access log, so a request without one allocates nothing here.
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let logged = state
        .options
        .access_log
        .then(|| (request.method().clone(), request.uri().path().to_string()));
    let response = next.run(request).await;
    let secs = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    state.metrics.request(route, status, secs);
    if let Some((method, path)) = logged {
        println!(
            "{}",
            json!({"ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                   "method": method.as_str(), "path": path, "route": route, "status": status,
                   "ms": (secs * 1e6).round() / 1e3})
        );
    }
    response
}

/// Routes that read (predictions included): the `predict` or the `admin` scope.
async fn authorize(State(state): State<Arc<ServeState>>, request: Request, next: Next) -> Response {
    match check_token(&state, &request, "predict").await {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// Routes that change the registry: the `admin` scope only.
async fn authorize_admin(
    State(state): State<Arc<ServeState>>,
    request: Request,
    next: Next,
) -> Response {
    match check_token(&state, &request, "admin").await {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// Whether the request's bearer token grants `scope`; always when tokens are not required.
/// Only the `Authorization` header is held across the lookup (a request's body is not `Sync`).
fn check_token<'a>(
    state: &'a ServeState,
    request: &Request,
    scope: &'static str,
) -> impl Future<Output = ApiResult<()>> + Send + 'a {
    let required = state.options.require_tokens;
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let authorization = request.headers().get(header::AUTHORIZATION).cloned();
    async move {
        if !required {
            return Ok(());
        }
        state
            .auth
            .check(state.models.store(), authorization.as_ref(), client, scope)
            .await
    }
}

/// The last line of defence: a handler that panics (a bug, never an input we meant to
/// accept) answers 500 in JSON and leaves the connection and the server's state usable
/// (parking_lot locks are not poisoned by a panic).
async fn catch_panic(request: Request, next: Next) -> Response {
    match CatchUnwind(Box::pin(next.run(request))).await {
        Ok(response) => response,
        Err(()) => ApiError::Internal(
            "the request failed unexpectedly (see the server log); please report it".into(),
        )
        .into_response(),
    }
}

/// A future whose panic while polled becomes `Err(())`.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, ()>;

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = self.get_mut().0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(_) => {
                tracing::error!("a request handler panicked");
                std::task::Poll::Ready(Err(()))
            }
        }
    }
}

async fn readyz(State(state): State<Arc<ServeState>>) -> Response {
    if !state.ready.load(Ordering::Acquire) {
        return ApiError::Unavailable("the model registry has not been read yet".into())
            .into_response();
    }
    (StatusCode::OK, "ready").into_response()
}

async fn metrics_text(State(state): State<Arc<ServeState>>) -> Response {
    let mut text = state.metrics.render();
    metrics::render_caches(&mut text, &state.auth_stats(), state.models.loaded_count());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn openapi_json() -> Json<Value> {
    Json(openapi::spec())
}

async fn list_models(State(state): State<Arc<ServeState>>) -> Json<Value> {
    let snapshot = state.models.snapshot();
    let mut by_name: Vec<_> = snapshot.versions.iter().collect();
    by_name.sort_by_key(|(name, _)| *name);
    let models: Vec<Value> = by_name
        .into_iter()
        .map(|(name, versions)| {
            let aliases: BTreeMap<&str, i64> = versions
                .iter()
                .flat_map(|v| v.aliases.iter().map(move |a| (a.as_str(), v.version)))
                .collect();
            json!({"name": name, "versions": versions.iter().map(|v| v.version).collect::<Vec<_>>(),
                   "aliases": aliases})
        })
        .collect();
    Json(json!({ "models": models }))
}

async fn get_model(
    State(state): State<Arc<ServeState>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let Path(name) = path?;
    let snapshot = state.models.snapshot();
    let versions = snapshot
        .versions
        .get(&name)
        .ok_or_else(|| ApiError::NotFound {
            what: format!("model `{name}`"),
        })?;
    let aliases: BTreeMap<&str, i64> = versions
        .iter()
        .flat_map(|v| v.aliases.iter().map(move |a| (a.as_str(), v.version)))
        .collect();
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| {
            let t = &v.trained;
            let metrics: BTreeMap<&str, f64> =
                t.metrics.iter().map(|(k, x)| (k.as_str(), *x)).collect();
            let inputs: Value =
                serde_json::from_str(&t.feature_schema_json).unwrap_or_else(|_| json!([]));
            json!({"version": v.version, "status": t.status, "task": t.task, "aliases": v.aliases,
                   "metrics": metrics, "inputs": inputs, "created_at": v.created_at,
                   "trained_on": t.trained_on()})
        })
        .collect();
    Ok(Json(
        json!({"name": name, "aliases": aliases, "versions": versions}),
    ))
}

#[derive(Debug, Deserialize)]
struct PredictQuery {
    version: Option<String>,
    alias: Option<String>,
}

async fn predict(
    State(state): State<Arc<ServeState>>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<PredictQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Predictions>> {
    let Path(name) = path?;
    let Query(q) = query.map_err(|e| ApiError::BadRequest {
        message: format!("query string: {}", e.body_text()),
        field: None,
    })?;
    let version = match q.version.as_deref() {
        None => None,
        Some(v) => Some(v.parse::<i64>().ok().filter(|v| *v >= 1).ok_or_else(|| {
            ApiError::bad(format!("version `{v}` is not a version number"), "version")
        })?),
    };
    run_prediction(&state, &name, version, q.alias.as_deref(), body).await
}

async fn predict_version(
    State(state): State<Arc<ServeState>>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Predictions>> {
    let Path((name, version)) = path?;
    let version = version
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| {
            ApiError::bad(
                format!("version `{version}` is not a version number"),
                "version",
            )
        })?;
    run_prediction(&state, &name, Some(version), None, body).await
}

async fn run_prediction(
    state: &Arc<ServeState>,
    name: &str,
    version: Option<i64>,
    alias: Option<&str>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Predictions>> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge {
                limit: state.options.max_body_bytes,
            }
        } else {
            ApiError::BadRequest {
                message: format!("reading the body: {}", e.body_text()),
                field: None,
            }
        }
    })?;
    let loaded = state.models.resolve(name, version, alias).await?;
    let rows = input::parse_body(&body, &loaded.features, state.options.max_rows)?;
    let n = rows.len();
    let timeout = state.options.request_timeout;
    // Small requests predict inline (microseconds); large ones on the blocking pool, so a
    // big batch does not hold up the runtime's workers.
    let work = {
        let loaded = loaded.clone();
        move || predict_rows(&loaded, &rows)
    };
    let outcome = if n <= 64 {
        work()
    } else {
        match tokio::time::timeout(timeout, tokio::task::spawn_blocking(work)).await {
            Ok(joined) => joined.map_err(|e| ApiError::Internal(e.to_string()))?,
            Err(_) => {
                return Err(ApiError::Timeout {
                    secs: timeout.as_secs_f64(),
                });
            }
        }
    };
    let predictions = outcome.inspect_err(|_| state.metrics.prediction_error(name))?;
    state
        .metrics
        .predicted(name, loaded.record.version, predictions.len());
    Ok(Json(Predictions {
        model: name.to_string(),
        predictions,
        version: loaded.record.version,
    }))
}

/// A prediction response: `{"model": ..., "predictions": [...], "version": ...}` (the keys in
/// this order), serialized straight from the struct rather than through a JSON map.
#[derive(serde::Serialize)]
struct Predictions {
    model: String,
    predictions: Vec<Value>,
    version: i64,
}

fn predict_rows(loaded: &LoadedVersion, rows: &[Vec<input::Cell>]) -> ApiResult<Vec<Value>> {
    let model = &loaded.model;
    let mut values = Vec::with_capacity(loaded.features.len());
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            values.clear();
            values.extend(row.iter().map(input::Cell::as_feature));
            let out = model
                .predict_row(&values)
                .map_err(|e| ApiError::BadRequest {
                    message: format!("row {i}: {e}"),
                    field: Some(format!("rows[{i}]")),
                })?;
            Ok(match model.meta.task {
                Task::Multiclass => {
                    let best = out
                        .iter()
                        .enumerate()
                        .fold(
                            (0, f64::NEG_INFINITY),
                            |a, (j, &p)| if p > a.1 { (j, p) } else { a },
                        )
                        .0;
                    let probabilities: BTreeMap<&str, f64> = model
                        .meta
                        .classes
                        .iter()
                        .map(String::as_str)
                        .zip(out.iter().copied())
                        .collect();
                    json!({"label": model.meta.classes.get(best), "probabilities": probabilities})
                }
                Task::Clustering => json!(out.first().map(|v| *v as i64)),
                _ => json!(out.first().copied().unwrap_or(f64::NAN)),
            })
        })
        .collect()
}

/// Whether `path` is this server's: its fixed routes and everything under `/v1/`, its API
/// (an unknown `/v1/...` path is still this server's JSON 404). How [`router_beside`] shares
/// one listener with another router.
pub fn owns_path(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/readyz" | "/metrics" | "/openapi.json" | "/v1"
    ) || path.starts_with("/v1/")
}

/// This server's router with `other` answering every path that is not the server's
/// ([`owns_path`]): `lakeforge serve --ui` puts the web UI there. Each keeps its own
/// authentication, limits and layers; no route of the server changes.
pub fn router_beside(state: Arc<ServeState>, other: Router) -> Router {
    let server = router(state);
    Router::new().fallback_service(tower::service_fn(move |request: Request| {
        use tower::ServiceExt;
        let target = if owns_path(request.uri().path()) {
            server.clone()
        } else {
            other.clone()
        };
        target.oneshot(request)
    }))
}

/// Serve the server's routes on `listener` until `shutdown` resolves; requests in flight
/// then finish before this returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<ServeState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_app(listener, router(state), shutdown).await
}

/// [`serve`] with any router (this server's, or [`router_beside`]'s).
pub async fn serve_app(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Latency over throughput: a small response goes out at once, not after the client's
    // delayed ACK of the previous one.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// [`serve`] over HTTPS: connections on `listener` are TLS with `tls`'s certificate; the
/// same graceful shutdown.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    state: Arc<ServeState>,
    tls: &tls::TlsConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_app_tls(listener, router(state), tls, shutdown).await
}

/// [`serve_tls`] with any router.
pub async fn serve_app_tls(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: &tls::TlsConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // A tap that does nothing: through it axum gives handlers the client's address.
    let listener = tls::TlsListener::new(listener, tls)?.tap_io(|_| {});
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route the OpenAPI document lists is the server's, so `serve --ui` never hands
    /// one to the UI; the UI's paths are not.
    #[test]
    fn the_server_owns_its_documented_routes_and_nothing_else() {
        let spec = openapi::spec();
        let paths = spec["paths"].as_object().unwrap();
        assert!(paths.len() >= 8);
        for path in paths.keys() {
            assert!(owns_path(path), "{path}");
        }
        for path in [
            "/",
            "/runs",
            "/models/churn",
            "/api/models",
            "/assets/style.css",
            "/login",
            "/v1x",
        ] {
            assert!(!owns_path(path), "{path}");
        }
        assert!(owns_path("/v1/no/such/route"));
    }

    #[tokio::test]
    async fn a_panic_while_polled_becomes_an_error() {
        let fine = CatchUnwind(Box::pin(async { 7 })).await;
        assert_eq!(fine, Ok(7));
        let panicked = CatchUnwind(Box::pin(async {
            tokio::task::yield_now().await;
            if fine.is_ok() {
                panic!("a bug in a handler");
            }
            7
        }))
        .await;
        assert_eq!(panicked, Err(()));
    }
}
