//! `lakeforge-ui`: the web UI, `lakeforge ui`. An axum [`Router`] over [`UiState`] (the
//! metadata store the CLI opened, and how the UI is guarded) serving two things from the
//! binary itself:
//!
//! - a JSON API under `/api/` (`api`; the runs list's filters in `filters`), read from the
//!   store on every request;
//! - pages that are clients of that API (`pages`): hand-written HTML, CSS and JavaScript
//!   compiled in from `assets/`, no build step and nothing fetched from elsewhere.
//!
//! Routes: `GET /` (overview), `GET /runs`, `GET /runs/{run_id}` (a run's timeline, refreshed
//! while it runs), `GET /models`, `GET /models/{name}` (the registry; an alias moved there),
//! `GET /lineage` (the project's graph), `GET /login`, `POST /login`, `POST /logout`,
//! `GET /assets/{file}`, `GET /api/overview`, `GET /api/runs`, `GET /api/runs/{run_id}`,
//! `GET /api/runs/{run_id}/nodes/{unique_id}/sql` (`compiled`: a node's compiled SQL and
//! whether it is what ran), `GET /api/lineage` (`lineage`: the project the CLI loaded,
//! [`ProjectGraph`]), `GET /api/lineage/{unique_id}/columns` (a node's column lineage, through
//! the engine), the registry's (`models`): `GET /api/models`, `GET /api/models/{name}`,
//! `GET /api/models/{name}/versions/{version}/charts/{kind}.svg`; data quality's (`quality`):
//! `GET /quality`, `GET /quality/tests/{unique_id}`, `GET /api/quality`,
//! `GET /api/quality/tests/{unique_id}`; the one write (`admin`):
//! `PUT`/`DELETE /api/models/{name}/aliases/{alias}`, with `GET /api/session` giving pages the
//! CSRF token writes carry (`session`); the lake's tables (`tables`, through the engine):
//! `GET /tables`, `GET /tables/{relation}`, `GET /api/tables`, `GET /api/tables/{relation}`
//! and its `/rows` and `/profile`.
//!
//! Who may call them is `auth`'s: open on loopback (to loopback host names only), or an API
//! token of the store on every route, checked as the prediction server checks them. Errors
//! are `error`'s [`UiError`], JSON responses that name the parameter at fault.
//!
//! It reads the store, the loaded project and, through the engine the CLI opened, the lake; it
//! never runs anything (no runner). It sits beside the prediction server (lakeforge-serve),
//! which it does not depend on and which stays free of the engine; the CLI serves either, or
//! both on one listener (`lakeforge serve --ui`).

pub mod admin;
pub mod api;
pub mod auth;
pub mod compiled;
pub mod error;
pub mod filters;
pub mod lineage;
pub mod models;
pub mod pages;
pub mod quality;
pub mod schedules;
pub mod session;
pub mod tables;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post, put};
use lakeforge_engine::Engine;
use lakeforge_meta::{AuthLimits, MetaStore, TokenChecker};

pub use error::{UiError, UiResult};
pub use lineage::ProjectGraph;
pub use models::{LakeFiles, ReadFile};

/// How one UI is served.
#[derive(Debug, Clone, Default)]
pub struct UiOptions {
    /// Require an API token on every route but the login form and logging out (always, beyond
    /// loopback).
    pub require_tokens: bool,
    /// Shown in every page's header: the project's name or folder.
    pub title: String,
    /// Bounds of the token checker's caches and failure budgets.
    pub auth: AuthLimits,
}

/// What every request reads.
pub struct UiState {
    pub store: MetaStore,
    pub options: UiOptions,
    /// The lake's files, where model charts are drawn from; without them a chart is a 404
    /// saying so.
    pub files: Option<LakeFiles>,
    /// The project as the CLI loaded it, for the lineage page.
    pub project: ProjectGraph,
    /// A query session over the project's lake (tables, their history and rows, column-level
    /// lineage); without one those pages say the lake is unavailable.
    pub engine: Option<Arc<Engine>>,
    tokens: TokenChecker,
    /// The secret this UI's CSRF tokens are derived with, drawn at start.
    csrf: session::CsrfKey,
}

impl UiState {
    pub fn new(store: MetaStore, options: UiOptions) -> Arc<UiState> {
        UiState::with_files(store, options, None)
    }

    /// A UI that also reads the lake's files (the models' evaluations, for their charts).
    pub fn with_files(
        store: MetaStore,
        options: UiOptions,
        files: Option<LakeFiles>,
    ) -> Arc<UiState> {
        UiState::with_project(store, options, files, ProjectGraph::Absent, None)
    }

    /// A UI that also draws the project's graph (the lineage page) and, given an engine over
    /// the project's lake, reads its tables.
    pub fn with_project(
        store: MetaStore,
        options: UiOptions,
        files: Option<LakeFiles>,
        project: ProjectGraph,
        engine: Option<Arc<Engine>>,
    ) -> Arc<UiState> {
        Arc::new(UiState {
            store,
            tokens: TokenChecker::new(options.auth.clone()),
            csrf: session::CsrfKey::generate(),
            options,
            files,
            project,
            engine,
        })
    }
}

pub fn router(state: Arc<UiState>) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/runs", get(pages::runs))
        .route("/runs/{run_id}", get(pages::run))
        .route("/models", get(pages::models))
        .route("/models/{name}", get(pages::model))
        .route("/lineage", get(pages::lineage))
        .route("/quality", get(pages::quality))
        .route("/quality/tests/{unique_id}", get(pages::quality_test))
        .route("/api/quality", get(quality::overview))
        .route("/api/quality/tests/{unique_id}", get(quality::test))
        .route("/tables", get(pages::tables))
        .route("/tables/{relation}", get(pages::table))
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/assets/{file}", get(pages::asset))
        .route("/api/overview", get(api::overview))
        .route("/api/runs", get(api::runs))
        .route("/api/runs/{run_id}", get(api::run))
        .route(
            "/api/runs/{run_id}/nodes/{unique_id}/sql",
            get(compiled::node_sql),
        )
        .route("/api/lineage", get(lineage::lineage))
        .route("/api/lineage/{unique_id}/columns", get(lineage::columns))
        .route("/api/tables", get(tables::list))
        .route("/api/tables/{relation}", get(tables::detail))
        .route("/api/tables/{relation}/rows", get(tables::rows))
        .route("/api/tables/{relation}/profile", get(tables::profile))
        .route("/api/models", get(models::list))
        .route("/api/models/{name}", get(models::detail))
        .route("/api/session", get(session::info))
        .route(
            "/api/models/{name}/aliases/{alias}",
            put(admin::promote).delete(admin::remove),
        )
        .route(
            "/api/models/{name}/versions/{version}/charts/{file}",
            get(models::chart),
        )
        .fallback(pages::fallback)
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(middleware::from_fn(pages::security_headers))
        .with_state(state)
}

/// Serve the UI on `listener` until `shutdown` resolves; requests in flight then finish
/// before this returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<UiState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
