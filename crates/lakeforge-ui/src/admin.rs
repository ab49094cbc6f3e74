//! The UI's writes: the Models page moves and removes a model's aliases, as `lakeforge models
//! promote [--remove]` and the prediction server's admin routes do.
//!
//! - `PUT /api/models/{name}/aliases/{alias}` with the JSON body `{"version": 3, "force":
//!   false}`: point the alias at the version;
//! - `DELETE /api/models/{name}/aliases/{alias}`: remove it.
//!
//! Who may: on an open UI (loopback, no tokens) this machine, as the CLI may; with tokens, a
//! token with the `admin` scope only (403 naming the scope otherwise). Every write has passed
//! `auth`'s guard first: not cross-site, and carrying the session's CSRF token (`session`).
//! The registry's rules (alias names, a gate-rejected version only with force) are
//! lakeforge-meta's `promotion`, the CLI's and the server's; a gate refusal is 409 with the
//! gate's verdict, which names its metric. Each change is appended to the alias history with
//! who made it: `ui (loopback)` or `ui (token NAME)`.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Extension, Path, State};
use lakeforge_meta::MetaError;
use serde::{Deserialize, Serialize};

use crate::UiState;
use crate::error::{UiError, UiResult};
use crate::session::{ADMIN_SCOPE, Session};

/// The body of a promotion.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteBody {
    pub version: i64,
    /// Promote a version its quality gate rejected.
    #[serde(default)]
    pub force: bool,
}

/// What a change did.
#[derive(Debug, Serialize)]
pub struct AliasChanged {
    pub model: String,
    pub alias: String,
    /// The version it points at now; `null` once removed.
    pub version: Option<i64>,
    /// The version it pointed at before.
    pub previous: Option<i64>,
    /// As recorded in the alias history.
    pub set_by: String,
}

/// Who the alias history names for this session, once it may administer; 403 naming the
/// scope otherwise.
async fn author(state: &UiState, session: &Session) -> UiResult<String> {
    if !session.may_administer() {
        return Err(UiError::ScopeRequired { scope: ADMIN_SCOPE });
    }
    match session {
        Session::Loopback => Ok("ui (loopback)".into()),
        Session::Token { digest, .. } => match state.store.token_name_by_digest(digest).await? {
            Some(name) => Ok(format!("ui (token {name})")),
            // Revoked since the checker's cache last asked the store.
            None => Err(UiError::Unauthorized),
        },
    }
}

/// A refusal by the registry's rules is the client's to fix; anything else is the store's.
fn registry_error(e: MetaError) -> UiError {
    match e {
        MetaError::InvalidAlias { .. } => UiError::bad("alias", e.to_string()),
        MetaError::NoSuchVersion { name, version } => UiError::NotFound {
            what: format!("version {version} of model `{name}`"),
        },
        MetaError::GateRejected { .. } => UiError::Conflict(format!(
            "{e}; choose \"promote anyway\" to promote it regardless"
        )),
        e => UiError::Store(e),
    }
}

fn model_and_alias(
    path: Result<Path<(String, String)>, PathRejection>,
) -> UiResult<(String, String)> {
    let Path((name, alias)) = path.map_err(|_| UiError::NotFound {
        what: "model alias".into(),
    })?;
    Ok((name, alias))
}

async fn require_model(state: &UiState, name: &str) -> UiResult<Vec<lakeforge_meta::ModelVersion>> {
    let versions = state.store.model_versions(name).await?;
    if versions.is_empty() {
        return Err(UiError::NotFound {
            what: format!("model `{name}`"),
        });
    }
    Ok(versions)
}

/// `PUT /api/models/{name}/aliases/{alias}`.
pub async fn promote(
    State(state): State<Arc<UiState>>,
    Extension(session): Extension<Session>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Json<PromoteBody>, JsonRejection>,
) -> UiResult<Json<AliasChanged>> {
    let by = author(&state, &session).await?;
    let (name, alias) = model_and_alias(path)?;
    let Json(body) = body.map_err(|e| match e {
        JsonRejection::MissingJsonContentType(_) => UiError::UnsupportedBody {
            message: "send the promotion as JSON (`Content-Type: application/json`), like {\"version\": 3}".into(),
        },
        e => UiError::bad("body", format!("{}; send {{\"version\": 3, \"force\": false}}", e.body_text())),
    })?;
    require_model(&state, &name).await?;
    let previous = state
        .store
        .promote(&name, body.version, &alias, body.force, &by)
        .await
        .map_err(registry_error)?;
    Ok(Json(AliasChanged {
        model: name,
        alias,
        version: Some(body.version),
        previous,
        set_by: by,
    }))
}

/// `DELETE /api/models/{name}/aliases/{alias}`.
pub async fn remove(
    State(state): State<Arc<UiState>>,
    Extension(session): Extension<Session>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> UiResult<Json<AliasChanged>> {
    let by = author(&state, &session).await?;
    let (name, alias) = model_and_alias(path)?;
    let versions = require_model(&state, &name).await?;
    // Only an alias that exists is removed, so a mistyped name writes no history.
    if !versions.iter().any(|v| v.aliases.contains(&alias)) {
        return Err(UiError::NotFound {
            what: format!("alias `{alias}` of model `{name}`"),
        });
    }
    let previous = state
        .store
        .set_alias(&name, &alias, None, &by)
        .await
        .map_err(registry_error)?;
    Ok(Json(AliasChanged {
        model: name,
        alias,
        version: None,
        previous,
        set_by: by,
    }))
}
