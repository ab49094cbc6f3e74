//! Errors of the prediction server, each a JSON response whose status says whose fault it is:
//! 4xx for the client's mistakes (naming the field at fault), 5xx only for the server's own.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest {
        message: String,
        /// The JSON path of the field at fault (`rows[3].tenure`), when there is one.
        field: Option<String>,
    },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error(
        "missing or unknown API token; send `Authorization: Bearer <token>` (`lakeforge tokens create`)"
    )]
    Unauthorized,
    #[error("this token lacks the `{scope}` scope")]
    Forbidden { scope: &'static str },
    /// This client failed authentication too often; answered before any lookup.
    #[error(
        "too many failed authentications from this address; retry after {retry_after_secs} s\nhint: check the token (`lakeforge tokens list`); tokens that worked recently are not limited"
    )]
    TooManyFailures { retry_after_secs: u64 },
    /// The request is valid but the registry's state refuses it (a gate-rejected version).
    #[error("{message}")]
    Conflict { message: String },
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{rows} rows in one request; the limit is {limit} (--max-rows)")]
    TooManyRows { rows: usize, limit: usize },
    #[error("the request took longer than {secs}s")]
    Timeout { secs: f64 },
    #[error("the server is not ready: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad(message: impl Into<String>, field: impl Into<String>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::TooManyFailures { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRows { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Timeout { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad_request",
            ApiError::NotFound { .. } => "not_found",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::TooManyFailures { .. } => "too_many_requests",
            ApiError::Conflict { .. } => "conflict",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::TooManyRows { .. } => "too_many_rows",
            ApiError::Timeout { .. } => "timeout",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let field = match &self {
            ApiError::BadRequest { field, .. } => field.clone(),
            _ => None,
        };
        let mut body = json!({"error": {"code": self.code(), "message": self.to_string()}});
        if let Some(f) = field {
            body["error"]["field"] = json!(f);
        }
        let mut response = (self.status(), Json(body)).into_response();
        match self {
            ApiError::Unauthorized => {
                response.headers_mut().insert(
                    axum::http::header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static("Bearer"),
                );
            }
            ApiError::TooManyFailures { retry_after_secs } => {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
            }
            _ => {}
        }
        response
    }
}

/// A path segment axum cannot decode (`%FF` is not UTF-8): the client's mistake, answered in
/// JSON like every other error rather than with axum's plain-text rejection.
impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(e: axum::extract::rejection::PathRejection) -> Self {
        ApiError::BadRequest {
            message: format!("the URL path: {}", e.body_text()),
            field: None,
        }
    }
}

pub type ApiResult<T> = std::result::Result<T, ApiError>;
