//! Bearer tokens for the prediction server: lakeforge-meta's [`TokenChecker`] (bounded caches
//! of digests, per-client failure budgets; see its module) in front of every protected route,
//! its refusals answered as this server's [`ApiError`]s (401, 429 with `Retry-After`, 503).

use std::net::SocketAddr;

use axum::http::HeaderValue;
use lakeforge_meta::{MetaStore, TokenChecker, TokenRejection, bearer_token, scope_grants};

pub use lakeforge_meta::{AuthLimits, AuthStats};

use crate::error::{ApiError, ApiResult};

pub struct Auth(TokenChecker);

impl From<TokenRejection> for ApiError {
    fn from(e: TokenRejection) -> Self {
        match e {
            TokenRejection::Unknown => ApiError::Unauthorized,
            TokenRejection::TooManyFailures { retry_after_secs } => {
                ApiError::TooManyFailures { retry_after_secs }
            }
            TokenRejection::Store(e) => ApiError::Unavailable(format!("the metadata store: {e}")),
        }
    }
}

impl Auth {
    pub fn new(limits: AuthLimits) -> Auth {
        Auth(TokenChecker::new(limits))
    }

    pub fn stats(&self) -> AuthStats {
        self.0.stats()
    }

    /// Whether the bearer token of a request's `Authorization` header grants `scope`
    /// (`admin` grants every scope).
    pub async fn check(
        &self,
        store: &MetaStore,
        authorization: Option<&HeaderValue>,
        client: Option<SocketAddr>,
        scope: &'static str,
    ) -> ApiResult<()> {
        let token = bearer_token(authorization.and_then(|v| v.to_str().ok()));
        let scopes = self.0.check(store, token, client.map(|c| c.ip())).await?;
        if scope_grants(&scopes, scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden { scope })
        }
    }
}
