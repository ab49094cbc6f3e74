//! Who may use the UI: with tokens required, every route but the login form, its two
//! static files and logging out needs a token of the store (bearer header or the login cookie); pages
//! redirect to the login form, the API answers 401. Open, the UI answers only to loopback
//! host names. Cross-site form posts are refused in both modes.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use lakeforge_ui::UiOptions;

use crate::{Fixture, content_type, get, send, text};

fn with_tokens(f: &Fixture) -> std::sync::Arc<lakeforge_ui::UiState> {
    f.state(UiOptions {
        require_tokens: true,
        title: "shop".into(),
        ..UiOptions::default()
    })
}

/// A GET of `uri` with one header more (the host `ui.example:8765` unless it is `host`).
fn get_with(uri: &str, name: &str, value: &str) -> Request<Body> {
    let mut r = Request::get(uri);
    if name != "host" {
        r = r.header(header::HOST, "ui.example:8765");
    }
    r.header(name, value).body(Body::empty()).unwrap()
}

fn login_post(token: &str, next: &str, origin: Option<&str>) -> Request<Body> {
    let mut r = Request::post("/login")
        .header(header::HOST, "ui.example:8765")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(o) = origin {
        r = r.header(header::ORIGIN, o);
    }
    r.body(Body::from(format!("token={token}&next={next}")))
        .unwrap()
}

#[tokio::test]
async fn without_a_token_pages_redirect_to_login_and_the_api_is_401() {
    let f = Fixture::new().await;
    let state = with_tokens(&f);
    for (uri, next) in [
        ("/", "/"),
        ("/runs?status=error", "/runs%3Fstatus%3Derror"),
        ("/runs/r-err", "/runs/r-err"),
    ] {
        let response = send(&state, get(uri)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{uri}");
        assert_eq!(
            response.headers()[header::LOCATION],
            format!("/login?next={next}").as_str()
        );
    }
    for uri in [
        "/api/overview",
        "/api/runs",
        "/api/runs/r-err",
        "/assets/run.js",
    ] {
        let response = send(&state, get(uri)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(content_type(&response), "application/json");
    }
    let bad = send(
        &state,
        get_with("/api/runs", "authorization", "Bearer lf_not_a_token"),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    // The login form and what it loads are public; it says where to go after.
    for uri in [
        "/login?next=/runs/r-err",
        "/assets/style.css",
        "/assets/favicon.svg",
    ] {
        assert_eq!(
            send(&state, get(uri)).await.status(),
            StatusCode::OK,
            "{uri}"
        );
    }
    let form = text(send(&state, get("/login?next=/runs/r-err")).await).await;
    assert!(
        form.contains("name=\"next\" value=\"/runs/r-err\""),
        "{form}"
    );
    assert!(!form.contains("/logout"), "no logout on the login form");
    let token = f.token("predict").await;
    let page = send(
        &state,
        get_with("/runs", "authorization", &format!("Bearer {token}")),
    )
    .await;
    assert!(
        text(page).await.contains("action=\"/logout\""),
        "a logout form in token mode"
    );
}

#[tokio::test]
async fn a_bearer_token_or_the_login_cookie_opens_every_route() {
    let f = Fixture::new().await;
    let token = f.token("predict").await;
    let state = with_tokens(&f);
    let bearer = format!("Bearer {token}");
    let cookie = format!("theme=dark; lakeforge_ui_token={token}");
    for uri in [
        "/",
        "/runs",
        "/runs/r-err",
        "/api/overview",
        "/api/runs?status=error",
        "/assets/run.js",
    ] {
        let response = send(&state, get_with(uri, "authorization", &bearer)).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri} with the header");
        let response = send(&state, get_with(uri, "cookie", &cookie)).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri} with the cookie");
    }
    // A revoked token is refused.
    let revoked = f.token("admin").await;
    // `Fixture::token` names tokens t0, t1... in order.
    assert_eq!(f.store.revoke_token("t1").await.unwrap(), 1);
    let response = send(
        &state,
        get_with("/api/runs", "authorization", &format!("Bearer {revoked}")),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logging_in_sets_an_http_only_strict_cookie() {
    let f = Fixture::new().await;
    let token = f.token("admin").await;
    let state = with_tokens(&f);
    let response = send(
        &state,
        login_post(&token, "/runs/r-err", Some("http://ui.example:8765")),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/runs/r-err");
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    assert_eq!(
        cookie,
        format!("lakeforge_ui_token={token}; Path=/; HttpOnly; SameSite=Strict")
    );
    // Never onward to another site.
    let response = send(&state, login_post(&token, "//evil.example/", None)).await;
    assert_eq!(response.headers()[header::LOCATION], "/");

    let response = send(&state, login_post("lf_wrong", "/", None)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    assert!(
        text(response)
            .await
            .contains("That token is unknown or revoked.")
    );

    let out = send(
        &state,
        Request::post("/logout")
            .header(header::HOST, "ui.example:8765")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        out.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
}

#[tokio::test]
async fn failed_logins_are_limited_per_client() {
    let f = Fixture::new().await;
    let state = f.state(UiOptions {
        require_tokens: true,
        auth: lakeforge_meta::AuthLimits {
            failure_burst: 2,
            failures_per_second: 0.0,
            ..lakeforge_meta::AuthLimits::default()
        },
        ..UiOptions::default()
    });
    for i in 0..2 {
        let response = send(&state, login_post(&format!("lf_guess{i}"), "/", None)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = send(&state, login_post("lf_guess3", "/", None)).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let response = send(
        &state,
        get_with("/api/runs", "authorization", "Bearer lf_guess4"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let f = Fixture::new().await;
    let token = f.token("predict").await;
    let state = with_tokens(&f);
    let response = send(
        &state,
        login_post(&token, "/", Some("https://evil.example")),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    let open = f.open();
    let response = send(
        &open,
        Request::post("/logout")
            .header(header::HOST, "127.0.0.1:8765")
            .header("sec-fetch-site", "cross-site")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn open_it_answers_only_to_loopback_host_names() {
    let f = Fixture::new().await;
    let state = f.open();
    for host in ["127.0.0.1:8765", "localhost:8765", "[::1]:8765"] {
        let response = send(&state, get_with("/api/runs", "host", host)).await;
        assert_eq!(response.status(), StatusCode::OK, "{host}");
    }
    // A name that resolves to loopback only through DNS (rebinding) is refused.
    let response = send(
        &state,
        get_with("/api/runs", "host", "attacker.example:8765"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(text(response).await.contains("localhost"));
}
