//! Pages and assets: served from the binary with their content types and security headers;
//! an unknown run or path is a 404 page, an unknown asset a 404.

use axum::http::{StatusCode, header};

use crate::{Fixture, content_type, get, send, text};

#[tokio::test]
async fn pages_are_html_with_a_strict_content_security_policy() {
    let f = Fixture::new().await;
    let state = f.open();
    for (uri, script) in [
        ("/", "/assets/overview.js"),
        ("/runs", "/assets/runs.js"),
        ("/runs?status=error&page=2", "/assets/runs.js"),
        ("/runs/r-err", "/assets/run.js"),
    ] {
        let response = send(&state, get(uri)).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        assert_eq!(content_type(&response), "text/html; charset=utf-8", "{uri}");
        let h = response.headers();
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
            "{csp}"
        );
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        // Not `no-referrer`, under which browsers send the UI's own form posts with
        // `Origin: null`, refused as cross-site (the browser test's login caught it).
        assert_eq!(h[header::REFERRER_POLICY], "same-origin");
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        let page = text(response).await;
        assert!(page.starts_with("<!doctype html>"), "{uri}");
        assert!(page.contains(script), "{uri} loads {script}");
        assert!(page.contains("/assets/common.js"), "{uri}");
        assert!(
            page.contains("<span class=\"project\">shop</span>"),
            "{uri}"
        );
        // Open on loopback: no logout form.
        assert!(!page.contains("/logout"), "{uri}");
        // Nothing from elsewhere.
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "{uri}"
        );
    }
    let run = text(send(&state, get("/runs/r-err")).await).await;
    assert!(run.contains("<body data-run-id=\"r-err\">"), "{run}");
    assert!(
        run.contains("<title>Run r-err · shop · Lakeforge</title>"),
        "{run}"
    );
}

#[tokio::test]
async fn assets_are_served_with_their_content_types() {
    let f = Fixture::new().await;
    let state = f.open();
    for (name, expected, starts) in [
        ("style.css", "text/css; charset=utf-8", "/*"),
        ("common.js", "text/javascript; charset=utf-8", "//"),
        ("overview.js", "text/javascript; charset=utf-8", "//"),
        ("runs.js", "text/javascript; charset=utf-8", "//"),
        ("run.js", "text/javascript; charset=utf-8", "//"),
        ("favicon.svg", "image/svg+xml", "<svg"),
    ] {
        let response = send(&state, get(&format!("/assets/{name}"))).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        assert_eq!(content_type(&response), expected, "{name}");
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "no-cache",
            "{name}"
        );
        assert!(text(response).await.starts_with(starts), "{name}");
    }
    for name in ["nope.js", "..%2Fsrc%2Flib.rs", "layout.html"] {
        let response = send(&state, get(&format!("/assets/{name}"))).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{name}");
        assert_eq!(content_type(&response), "application/json", "{name}");
    }
}

#[tokio::test]
async fn unknown_runs_and_paths_are_404_pages() {
    let f = Fixture::new().await;
    let state = f.open();
    for (uri, says) in [
        ("/runs/nope", "No run `nope` here."),
        ("/runs/%FF", "No run with that id here."),
        ("/nothing/here", "No page here."),
    ] {
        let response = send(&state, get(uri)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(content_type(&response), "text/html; charset=utf-8", "{uri}");
        let page = text(response).await;
        assert!(page.contains(says), "{uri}: {page}");
        assert!(!page.contains("/assets/run.js"), "{uri}");
    }
}
