//! Errors of the web UI's API, each a JSON response whose status says whose fault it is: 4xx
//! for the client's mistakes (a bad filter names its query parameter), 5xx only for the
//! server's own, whose details go to the log rather than to the client.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lakeforge_engine::EngineError;
use lakeforge_meta::{MetaError, TokenRejection};
use lakeforge_report::stored::StoredReportError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// A query parameter (or form field) the client got wrong.
    #[error("{message}")]
    BadRequest { field: String, message: String },
    #[error("{what} not found")]
    NotFound { what: String },
    /// A chart that cannot be drawn, for a reason the message gives (no evaluation file, no
    /// data for that figure, no lake given to the UI).
    #[error("{0}")]
    NoChart(String),
    #[error(
        "missing or unknown API token; send `Authorization: Bearer <token>` or log in at /login (`lakeforge tokens create NAME` makes one)"
    )]
    Unauthorized,
    #[error("too many failed authentications from this address; retry after {retry_after_secs} s")]
    TooManyFailures { retry_after_secs: u64 },
    /// A request the UI refuses whoever sends it: a cross-site form post, or a host name
    /// that is not loopback while the UI is open without tokens.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A write whose `X-CSRF-Token` header is missing or not this session's.
    #[error(
        "this change needs the `X-CSRF-Token` header the UI's pages send; reload the page and try again (scripts get the token from GET /api/session)"
    )]
    Csrf,
    /// A token that may read but not do this: the scope it lacks.
    #[error(
        "this change needs a token with the `{scope}` scope, and yours has not got it; log in with one (`lakeforge tokens create NAME --scope {scope}`)"
    )]
    ScopeRequired { scope: &'static str },
    /// The registry's rules refuse the change as asked (a gate-rejected version without
    /// force): the message says why, naming the gate's metric.
    #[error("{0}")]
    Conflict(String),
    /// A node that does not compile now (its compiled file being absent); the message is the
    /// project's error as users read it.
    #[error("{0}")]
    Compile(String),
    /// A write whose body is not what the route takes (415 when it is not JSON at all).
    #[error("{message}")]
    UnsupportedBody { message: String },
    /// The project's graph is unavailable: it did not load (its error said) or none was given.
    #[error("{0}")]
    NoProject(String),
    /// No query session over the lake was given to the UI (the lake did not open).
    #[error("{0}")]
    NoLake(String),
    /// Column lineage could not be traced: the engine's error, shown as the CLI shows it
    /// (a node or column the project lacks, a table not built yet, SQL that does not plan).
    #[error(transparent)]
    Lineage(lakeforge_engine::EngineError),
    /// The store could not be read; the cause is logged, not shown.
    #[error("the metadata store could not be read")]
    Store(#[source] MetaError),
    /// Checking a token needed the store, which could not be asked.
    #[error("the metadata store could not be asked about the token")]
    TokenStore(#[source] MetaError),
    /// A file of the lake could not be read; the cause is logged, not shown.
    #[error("a file of the lake could not be read")]
    Lake {
        location: String,
        #[source]
        source: std::io::Error,
    },
    /// A stored evaluation is not what Lakeforge writes; the cause is logged, not shown.
    #[error("the stored evaluation could not be read")]
    Evaluation(#[source] StoredReportError),
    /// A table of the lake could not be read; the cause is logged, not shown.
    #[error("a table of the lake could not be read")]
    Engine(#[source] lakeforge_engine::EngineError),
}

pub type UiResult<T> = Result<T, UiError>;

impl UiError {
    pub fn bad(field: impl Into<String>, message: impl Into<String>) -> UiError {
        UiError::BadRequest {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            UiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            UiError::NotFound { .. } | UiError::NoChart(_) => StatusCode::NOT_FOUND,
            UiError::Unauthorized => StatusCode::UNAUTHORIZED,
            UiError::TooManyFailures { .. } => StatusCode::TOO_MANY_REQUESTS,
            UiError::Forbidden(_) | UiError::Csrf | UiError::ScopeRequired { .. } => {
                StatusCode::FORBIDDEN
            }
            UiError::Conflict(_) => StatusCode::CONFLICT,
            UiError::Compile(_) => StatusCode::UNPROCESSABLE_ENTITY,
            UiError::UnsupportedBody { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            UiError::Store(_)
            | UiError::Lake { .. }
            | UiError::Evaluation(_)
            | UiError::Engine(_) => StatusCode::INTERNAL_SERVER_ERROR,
            UiError::TokenStore(_) | UiError::NoProject(_) | UiError::NoLake(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            UiError::Lineage(e) => match e {
                EngineError::NoSuchTable { .. } | EngineError::NotATable { .. } => {
                    StatusCode::NOT_FOUND
                }
                EngineError::NoSuchColumn { .. } => StatusCode::BAD_REQUEST,
                EngineError::NotBuilt { .. } => StatusCode::CONFLICT,
                // The project's own SQL or Jinja did not compile or plan.
                EngineError::Project(_) | EngineError::Sql { .. } => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    /// A short machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            UiError::BadRequest { .. } => "bad_request",
            UiError::NotFound { .. } | UiError::NoChart(_) => "not_found",
            UiError::Unauthorized => "unauthorized",
            UiError::TooManyFailures { .. } => "too_many_requests",
            UiError::Forbidden(_) => "forbidden",
            UiError::Csrf => "csrf_token",
            UiError::ScopeRequired { .. } => "scope_required",
            UiError::Conflict(_) => "conflict",
            UiError::Compile(_) => "compile_error",
            UiError::UnsupportedBody { .. } => "unsupported_media_type",
            UiError::Store(_)
            | UiError::Lake { .. }
            | UiError::Evaluation(_)
            | UiError::Engine(_) => "internal",
            UiError::TokenStore(_) => "unavailable",
            UiError::NoProject(_) => "no_project",
            UiError::NoLake(_) => "no_lake",
            UiError::Lineage(_) => match self.status() {
                StatusCode::NOT_FOUND => "not_found",
                StatusCode::BAD_REQUEST => "bad_request",
                StatusCode::CONFLICT => "not_built",
                StatusCode::UNPROCESSABLE_ENTITY => "project_sql",
                _ => "internal",
            },
        }
    }
}

impl From<MetaError> for UiError {
    fn from(e: MetaError) -> Self {
        UiError::Store(e)
    }
}

impl From<TokenRejection> for UiError {
    fn from(e: TokenRejection) -> Self {
        match e {
            TokenRejection::Unknown => UiError::Unauthorized,
            TokenRejection::TooManyFailures { retry_after_secs } => {
                UiError::TooManyFailures { retry_after_secs }
            }
            TokenRejection::Store(e) => UiError::TokenStore(e),
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match &self {
            UiError::Store(e) | UiError::TokenStore(e) => tracing::error!(error = %e, "{}", self),
            UiError::Lake { location, source } => {
                tracing::error!(error = %source, location = %location, "{}", self)
            }
            UiError::Evaluation(e) => tracing::error!(error = %e, "{}", self),
            UiError::Lineage(e) if self.status().is_server_error() => {
                tracing::error!(error = %lakeforge_project::error_text(e), "column lineage failed")
            }
            UiError::Engine(e) => {
                tracing::error!(error = %lakeforge_project::error_text(e), "{}", self)
            }
            _ => {}
        }
        let message = match &self {
            // Its causes (DataFusion's words, already free of credentials) say what to fix.
            UiError::Lineage(e) if !self.status().is_server_error() => {
                lakeforge_project::error_text(e)
            }
            UiError::Lineage(_) => "column lineage could not be traced".to_string(),
            _ => self.to_string(),
        };
        let mut body = json!({"error": {"code": self.code(), "message": message}});
        match &self {
            UiError::BadRequest { field, .. } => body["error"]["field"] = json!(field),
            UiError::ScopeRequired { scope } => body["error"]["scope"] = json!(scope),
            UiError::Lineage(EngineError::NoSuchColumn { .. }) => {
                body["error"]["field"] = json!("column")
            }
            _ => {}
        }
        let mut response = (self.status(), Json(body)).into_response();
        match self {
            UiError::Unauthorized => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            UiError::TooManyFailures { retry_after_secs } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry_after_secs.into());
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_request_names_its_field_and_internal_errors_hide_their_cause() {
        let bad = UiError::bad("status", "`x` is not a run status").into_response();
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let store = UiError::Store(MetaError::InvalidStatus {
            status: "secret detail".into(),
        });
        assert_eq!(store.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!store.to_string().contains("secret detail"));
    }
}
