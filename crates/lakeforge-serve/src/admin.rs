//! Routes that change the registry, for tokens with the `admin` scope: move an alias
//! (`PUT /v1/models/{name}/aliases/{alias}`) or remove one (`DELETE`), as
//! `lakeforge models promote [--remove]` does, each change appended to the alias history.
//!
//! The registry in the store is the truth, not the server's snapshot: a version registered
//! since the last refresh can be promoted. Its rules (valid alias names, no gate-rejected
//! version without force) are lakeforge-meta's, the same as the CLI's. The version's model
//! file is loaded before the alias moves (a file that cannot be loaded leaves the alias where
//! it was), and the server reads the registry again before answering, so the next prediction
//! already uses the new version.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use lakeforge_meta::{MetaError, check_alias_name};
use serde_json::{Value, json};

use crate::ServeState;
use crate::error::{ApiError, ApiResult};

/// Who set an alias, in `ml_alias_history.set_by` (the CLI writes `cli`, runs their id).
const SET_BY: &str = "api";

/// A refusal by the registry's rules is the client's mistake (4xx, in the words the CLI
/// uses, with the API's way to force); anything else the store's trouble (503).
fn store_error(e: MetaError) -> ApiError {
    match e {
        MetaError::InvalidAlias { .. } => ApiError::bad(e.to_string(), "alias"),
        MetaError::NoSuchVersion { name, version } => ApiError::NotFound {
            what: format!("version {version} of model `{name}`"),
        },
        MetaError::GateRejected { .. } => ApiError::Conflict {
            message: format!("{e}; send \"force\": true to promote it anyway"),
        },
        e => ApiError::Unavailable(format!("the metadata store: {e}")),
    }
}

async fn versions_of(
    state: &ServeState,
    name: &str,
) -> ApiResult<Vec<lakeforge_meta::ModelVersion>> {
    let versions = state
        .models
        .store()
        .model_versions(name)
        .await
        .map_err(store_error)?;
    if versions.is_empty() {
        return Err(ApiError::NotFound {
            what: format!("model `{name}`"),
        });
    }
    Ok(versions)
}

/// After a change: read the registry again so the next request sees it.
async fn refresh_after(state: &ServeState, what: &str) -> ApiResult<()> {
    state.refresh().await.map_err(|e| {
        ApiError::Unavailable(format!(
            "{what}, but reading the registry again failed ({e}); predictions follow within the refresh interval"
        ))
    })
}

/// The JSON body of `PUT .../aliases/{alias}`: `{"version": 3, "force": false}`.
fn parse_body(body: Result<Bytes, BytesRejection>, limit: usize) -> ApiResult<(i64, bool)> {
    let body = body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge { limit }
        } else {
            ApiError::BadRequest {
                message: format!("reading the body: {}", e.body_text()),
                field: None,
            }
        }
    })?;
    let parsed: Value = serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest {
        message: format!("the body is not valid JSON: {e}"),
        field: None,
    })?;
    let Some(object) = parsed.as_object() else {
        return Err(ApiError::BadRequest {
            message: r#"the body must be a JSON object like {"version": 3}"#.into(),
            field: None,
        });
    };
    if let Some(unknown) = object.keys().find(|k| *k != "version" && *k != "force") {
        return Err(ApiError::bad(
            format!("unknown field `{unknown}` (expected `version` and `force`)"),
            unknown.clone(),
        ));
    }
    let version = match object.get("version") {
        None => return Err(ApiError::bad("`version` is missing", "version")),
        Some(v) => v.as_i64().filter(|v| *v >= 1).ok_or_else(|| {
            ApiError::bad(
                format!("`version` must be a version number, not {v}"),
                "version",
            )
        })?,
    };
    let force = match object.get("force") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => {
            return Err(ApiError::bad(
                format!("`force` must be true or false, not {v}"),
                "force",
            ));
        }
    };
    Ok((version, force))
}

/// `PUT /v1/models/{name}/aliases/{alias}`: point the alias at a version.
pub async fn set_alias(
    State(state): State<Arc<ServeState>>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<Value>> {
    let Path((name, alias)) = path?;
    check_alias_name(&alias).map_err(store_error)?;
    let (version, force) = parse_body(body, state.options.max_body_bytes)?;
    // Said apart from a missing version, as before the rules moved into the store.
    versions_of(&state, &name).await?;
    let store = state.models.store();
    let promotion = store
        .promotion(&name, version, &alias, force)
        .await
        .map_err(store_error)?;
    // Load first: an alias must never point at a version this server cannot answer with.
    state
        .models
        .load(promotion.version())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let previous = promotion.apply(SET_BY).await.map_err(store_error)?;
    refresh_after(&state, &format!("{alias} now points at version {version}")).await?;
    Ok(Json(
        json!({"model": name, "alias": alias, "version": version, "previous": previous}),
    ))
}

/// `DELETE /v1/models/{name}/aliases/{alias}`: remove the alias.
pub async fn remove_alias(
    State(state): State<Arc<ServeState>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let Path((name, alias)) = path?;
    check_alias_name(&alias).map_err(store_error)?;
    let versions = versions_of(&state, &name).await?;
    // Only an alias that exists is removed, so a mistyped name writes no history.
    if !versions.iter().any(|v| v.aliases.contains(&alias)) {
        return Err(ApiError::NotFound {
            what: format!("alias `{alias}` of model `{name}`"),
        });
    }
    let previous = state
        .models
        .store()
        .set_alias(&name, &alias, None, SET_BY)
        .await
        .map_err(store_error)?;
    refresh_after(&state, &format!("{alias} was removed")).await?;
    Ok(Json(
        json!({"model": name, "alias": alias, "previous": previous}),
    ))
}
