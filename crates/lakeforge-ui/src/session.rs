//! Who is asking, once `auth`'s guard let a request in, and the CSRF token its writes must
//! carry. The guard puts a [`Session`] into every request it passes; handlers that change
//! something (`admin`) read it to decide whether the caller may, and record who did.
//!
//! CSRF: a page's script asks `GET /api/session` for its token and sends it back in the
//! `X-CSRF-Token` header of every write; the guard refuses a write without it. The token is
//! an HMAC-SHA256, under a secret drawn when the UI starts, of the session: the presented API
//! token's digest in token mode, or the one loopback session of an open UI. Another site can
//! neither read it (the UI answers no cross-origin reads) nor send a custom header without a
//! preflight the UI never grants, so a forged form or `fetch` cannot write even where the
//! browser sends the login cookie. A restart draws a new secret: open pages fetch the token
//! again.

use std::sync::Arc;

use axum::Json;
use axum::extract::Extension;
use axum::http::HeaderMap;
use lakeforge_meta::scope_grants;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The header writes carry their CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The scope that may change the registry from the UI, as on the prediction server's admin
/// routes.
pub const ADMIN_SCOPE: &str = "admin";

/// The caller of one request, as the guard established it.
#[derive(Debug, Clone)]
pub enum Session {
    /// An open UI (no tokens): only this machine reaches it.
    Loopback,
    /// An API token of the store: its scopes, and its digest (never the token).
    Token {
        scopes: Arc<[String]>,
        digest: [u8; 32],
    },
}

impl Session {
    /// Whether this session may change the registry: always on an open UI (as the CLI may),
    /// else a token granting the admin scope.
    pub fn may_administer(&self) -> bool {
        match self {
            Session::Loopback => true,
            Session::Token { scopes, .. } => scope_grants(scopes, ADMIN_SCOPE),
        }
    }

    /// What the HMAC binds the CSRF token to.
    fn binding(&self) -> Vec<u8> {
        match self {
            Session::Loopback => b"loopback".to_vec(),
            Session::Token { digest, .. } => [&b"token:"[..], &digest[..]].concat(),
        }
    }
}

/// The secret CSRF tokens are derived with, drawn when the UI starts.
pub struct CsrfKey([u8; 32]);

impl CsrfKey {
    /// A new secret: two v4 UUIDs (244 bits from the OS-seeded generator, as API tokens are
    /// made), hashed to the key's size.
    pub fn generate() -> CsrfKey {
        let mut h = Sha256::new();
        h.update(uuid::Uuid::new_v4().as_bytes());
        h.update(uuid::Uuid::new_v4().as_bytes());
        CsrfKey(h.finalize().into())
    }

    /// The CSRF token of `session`, in hex.
    pub fn token(&self, session: &Session) -> String {
        hmac_sha256(&self.0, &session.binding())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `headers` carry `session`'s CSRF token (compared in constant time).
    pub fn verify(&self, session: &Session, headers: &HeaderMap) -> bool {
        let Some(sent) = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let expected = self.token(session);
        sent.len() == expected.len()
            && sent
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey(..)")
    }
}

/// HMAC-SHA256 (RFC 2104, SHA-256's 64-byte block).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|k| k ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// `GET /api/session`: what a page needs before it writes.
#[derive(Debug, Serialize)]
pub struct SessionInfo {
    /// To send back in the `X-CSRF-Token` header of every write.
    pub csrf_token: String,
    /// `loopback` (an open UI) or `token`.
    pub mode: &'static str,
    /// Whether this session may promote and remove aliases.
    pub can_administer: bool,
    /// The scope writes need in token mode.
    pub admin_scope: &'static str,
}

pub async fn info(
    axum::extract::State(state): axum::extract::State<Arc<crate::UiState>>,
    Extension(session): Extension<Session>,
) -> Json<SessionInfo> {
    Json(SessionInfo {
        csrf_token: state.csrf.token(&session),
        mode: match session {
            Session::Loopback => "loopback",
            Session::Token { .. } => "token",
        },
        can_administer: session.may_administer(),
        admin_scope: ADMIN_SCOPE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 4231, test cases 2 (a short key) and 6 (a key longer than the block).
    #[test]
    fn hmac_matches_rfc_4231() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn a_token_is_good_for_its_own_session_and_key_only() {
        let key = CsrfKey::generate();
        let mine = Session::Token {
            scopes: Arc::from(vec!["admin".to_string()]),
            digest: [1; 32],
        };
        let theirs = Session::Token {
            scopes: Arc::from(vec!["admin".to_string()]),
            digest: [2; 32],
        };
        let headers = |token: &str| {
            let mut h = HeaderMap::new();
            h.insert(CSRF_HEADER, HeaderValue::from_str(token).unwrap());
            h
        };
        let token = key.token(&mine);
        assert!(key.verify(&mine, &headers(&token)));
        assert!(!key.verify(&theirs, &headers(&token)));
        assert!(!key.verify(&Session::Loopback, &headers(&token)));
        assert!(!CsrfKey::generate().verify(&mine, &headers(&token)));
        assert!(!key.verify(&mine, &headers(&token[..63])));
        assert!(!key.verify(&mine, &HeaderMap::new()));
    }

    #[test]
    fn only_the_admin_scope_or_loopback_may_administer() {
        let with = |scopes: &[&str]| Session::Token {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            digest: [0; 32],
        };
        assert!(Session::Loopback.may_administer());
        assert!(with(&["admin"]).may_administer());
        assert!(with(&["predict", "admin"]).may_administer());
        assert!(!with(&["predict"]).may_administer());
        assert!(!with(&[]).may_administer());
    }
}
