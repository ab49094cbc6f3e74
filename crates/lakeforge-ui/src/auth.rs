//! Who may use the UI. Two modes, chosen by [`UiOptions::require_tokens`](crate::UiOptions):
//!
//! - **Open** (the CLI's default on loopback): no token. So that a web page elsewhere cannot
//!   reach it through DNS rebinding (its host name resolving to 127.0.0.1), only requests
//!   addressed to a loopback host (`localhost`, `127.x.x.x`, `[::1]`) are answered.
//! - **Tokens** (always when listening beyond loopback): every route but the login form, the
//!   two static files it uses and logging out needs an API token of the store (`lakeforge tokens
//!   create`), any scope, checked by lakeforge-meta's [`TokenChecker`](lakeforge_meta::TokenChecker)
//!   as the prediction server checks its own: an `Authorization: Bearer` header, or the
//!   HttpOnly, `SameSite=Strict` cookie the login form sets. A page asked for without one
//!   redirects to the login form; the API answers 401.
//!
//! In both modes a form post from another site is refused (`Origin` / `Sec-Fetch-Site`), so
//! the login and logout forms cannot be submitted cross-site, and every other write needs the
//! session's CSRF token (`session`). Reading needs any live token; changing the registry
//! needs the `admin` scope, which the write's handler checks (`admin`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Form, FromRequest, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use lakeforge_meta::{bearer_token, token_digest};
use serde::Deserialize;

use crate::UiState;
use crate::error::UiError;
use crate::pages;
use crate::session::Session;

/// The cookie holding the token a login gave.
pub const COOKIE: &str = "lakeforge_ui_token";

/// Paths answered without a token: the login form, what it loads, and logging out (which
/// only clears the cookie, and must work with a revoked one).
const PUBLIC: &[&str] = &[
    "/login",
    "/logout",
    "/assets/style.css",
    "/assets/favicon.svg",
];

/// The middleware in front of every route: refuses cross-site writes, establishes the
/// [`Session`] (put into the request for handlers) and checks the CSRF token of every write
/// but the login and logout forms (which have no session to bind one to; `Origin` guards them).
pub async fn guard(
    State(state): State<Arc<UiState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let writes = is_state_changing(request.method());
    if writes && is_cross_site(headers) {
        return UiError::Forbidden("form posts from other sites are refused").into_response();
    }
    let path = request.uri().path();
    let public = PUBLIC.contains(&path);
    let session = if !state.options.require_tokens {
        if !addressed_to_loopback(headers) {
            return UiError::Forbidden(
                "this UI runs without tokens, so it answers only to localhost, 127.0.0.1 or [::1]",
            )
            .into_response();
        }
        Session::Loopback
    } else {
        if public {
            return next.run(request).await;
        }
        let client = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let token = presented_token(headers).map(str::to_string);
        match state
            .tokens
            .check(&state.store, token.as_deref(), client)
            .await
        {
            // Reading needs any live token; writes check their scope in their handlers.
            Ok(scopes) => Session::Token {
                scopes,
                digest: token_digest(token.as_deref().unwrap_or_default()),
            },
            Err(rejection) => {
                let error = UiError::from(rejection);
                let wants_page = request.method() == Method::GET
                    && !path.starts_with("/api/")
                    && !path.starts_with("/assets/");
                if wants_page && matches!(error, UiError::Unauthorized) {
                    let next_path = request.uri().path_and_query().map_or("/", |p| p.as_str());
                    return Redirect::to(&format!("/login?next={}", percent_encode(next_path)))
                        .into_response();
                }
                return error.into_response();
            }
        }
    };
    if writes && !public && !state.csrf.verify(&session, request.headers()) {
        return UiError::Csrf.into_response();
    }
    request.extensions_mut().insert(session);
    next.run(request).await
}

fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the browser says this request comes from another site: `Sec-Fetch-Site:
/// cross-site`, or an `Origin` whose host is not the `Host` asked for.
fn is_cross_site(headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if text(header::HeaderName::from_static("sec-fetch-site")) == Some("cross-site") {
        return true;
    }
    match text(header::ORIGIN) {
        None => false,
        Some(origin) => {
            let origin_host = origin
                .split_once("://")
                .map_or(origin, |(_, rest)| rest)
                .trim_end_matches('/');
            text(header::HOST) != Some(origin_host)
        }
    }
}

/// Whether the `Host` header names a loopback host (a request without one, from inside the
/// process, counts as loopback).
fn addressed_to_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST) else {
        return true;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The token a request presents: its bearer header, else the login cookie.
fn presented_token(headers: &HeaderMap) -> Option<&str> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(token) = bearer_token(authorization) {
        return Some(token);
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|t| !t.is_empty())
}

/// Where to go after logging in: a path of this site only, never another host.
fn local_path(next: Option<&str>) -> &str {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && !p.chars().any(|c| c.is_control()) =>
        {
            p
        }
        _ => "/",
    }
}

/// Percent-encoding for a query value: unreserved characters and `/` as they are.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

pub async fn login_form(
    State(state): State<Arc<UiState>>,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Response {
    let next = query.ok().and_then(|Query(q)| q.next);
    pages::login(&state, local_path(next.as_deref()), None, StatusCode::OK)
}

pub async fn login(State(state): State<Arc<UiState>>, request: Request) -> Response {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let Ok(Form(form)) = Form::<LoginForm>::from_request(request, &()).await else {
        return pages::login(
            &state,
            "/",
            Some("The form was not sent as a login form."),
            StatusCode::BAD_REQUEST,
        );
    };
    let next = local_path(form.next.as_deref());
    let token = form.token.trim();
    if !state.options.require_tokens {
        return Redirect::to(next).into_response();
    }
    let checked = state
        .tokens
        .check(&state.store, Some(token).filter(|t| !t.is_empty()), client)
        .await;
    match checked.map_err(UiError::from) {
        Ok(_) => {
            // Tokens are `lf_` and hex; anything else cannot have resolved, but a header
            // must never carry what the client typed unchecked.
            let Ok(cookie) = HeaderValue::from_str(&format!(
                "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
            )) else {
                return pages::login(
                    &state,
                    next,
                    Some("That token cannot be used."),
                    StatusCode::UNAUTHORIZED,
                );
            };
            let mut response = Redirect::to(next).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(UiError::Unauthorized) => pages::login(
            &state,
            next,
            Some("That token is unknown or revoked."),
            StatusCode::UNAUTHORIZED,
        ),
        Err(UiError::TooManyFailures { retry_after_secs }) => pages::login(
            &state,
            next,
            Some(&format!(
                "Too many failed logins from this address; try again in {retry_after_secs} s."
            )),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(other) => other.into_response(),
    }
}

pub async fn logout() -> Response {
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "lakeforge_ui_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn only_loopback_host_names_count_as_loopback() {
        for host in [
            "localhost:8765",
            "LOCALHOST",
            "127.0.0.1:8765",
            "127.3.4.5",
            "[::1]:8765",
            "[::1]",
        ] {
            assert!(addressed_to_loopback(&headers(&[("host", host)])), "{host}");
        }
        for host in [
            "evil.example:8765",
            "10.0.0.1:8765",
            "[2001:db8::1]:80",
            "localhost.evil.example",
        ] {
            assert!(
                !addressed_to_loopback(&headers(&[("host", host)])),
                "{host}"
            );
        }
        assert!(addressed_to_loopback(&HeaderMap::new()));
    }

    #[test]
    fn posts_from_other_sites_are_told_apart() {
        assert!(!is_cross_site(&headers(&[("host", "127.0.0.1:8765")])));
        assert!(!is_cross_site(&headers(&[
            ("host", "127.0.0.1:8765"),
            ("origin", "http://127.0.0.1:8765"),
        ])));
        assert!(is_cross_site(&headers(&[
            ("host", "127.0.0.1:8765"),
            ("origin", "http://evil.example"),
        ])));
        assert!(is_cross_site(&headers(&[
            ("host", "127.0.0.1:8765"),
            ("sec-fetch-site", "cross-site"),
        ])));
        // What browsers send when a referrer policy hides where a post comes from.
        assert!(is_cross_site(&headers(&[
            ("host", "127.0.0.1:8765"),
            ("origin", "null"),
        ])));
    }

    #[test]
    fn the_token_comes_from_the_header_or_the_cookie() {
        let h = headers(&[
            ("authorization", "Bearer lf_abc"),
            ("cookie", "lakeforge_ui_token=lf_def"),
        ]);
        assert_eq!(presented_token(&h), Some("lf_abc"));
        let h = headers(&[("cookie", "theme=dark; lakeforge_ui_token=lf_def; x=y")]);
        assert_eq!(presented_token(&h), Some("lf_def"));
        assert_eq!(
            presented_token(&headers(&[("cookie", "lakeforge_ui_token=")])),
            None
        );
        assert_eq!(presented_token(&HeaderMap::new()), None);
    }

    #[test]
    fn after_login_only_local_paths() {
        assert_eq!(local_path(Some("/runs?status=error")), "/runs?status=error");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "runs",
            "/a\nb",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
        assert_eq!(local_path(None), "/");
        assert_eq!(
            percent_encode("/runs?status=error&x=é"),
            "/runs%3Fstatus%3Derror%26x%3D%C3%A9"
        );
    }
}
