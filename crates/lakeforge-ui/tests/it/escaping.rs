//! Project text is user input: a run id, a node's error or the project's title holding
//! markup must reach every server-rendered page escaped, and the API must hand it over as
//! JSON data (which the scripts put into the page as text).

use axum::http::StatusCode;
use lakeforge_ui::UiOptions;

use crate::{Fixture, get, get_json, node, send, text};

const RUN: &str = "r\"><script>alert(1)</script>";
const ERROR: &str = "</pre><script>alert(2)</script><img src=x onerror=alert(3)>";
const TITLE: &str = "<script>alert(4)</script>";

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn assert_inert(uri: &str, page: &str) {
    for raw in ["<script>alert", "<img src=x", "\"><script"] {
        assert!(
            !page.contains(raw),
            "{uri} holds `{raw}` unescaped:\n{page}"
        );
    }
}

#[tokio::test]
async fn markup_in_run_ids_errors_and_titles_is_escaped_in_every_page() {
    let f = Fixture::new().await;
    f.store
        .start_run(
            RUN,
            "build",
            r#"{"select":["<script>alert(5)</script>"]}"#,
            "2026-01-04T00:00:00.000Z",
        )
        .await
        .unwrap();
    for n in [
        node(
            "model.shop.<script>alert(6)</script>",
            "error",
            "2026-01-04T00:00:00.100Z",
            0.1,
            Some(ERROR),
        ),
        node(
            "test.shop.evil",
            "fail",
            "2026-01-04T00:00:00.200Z",
            0.1,
            Some(ERROR),
        ),
    ] {
        f.store.record_node(RUN, &n).await.unwrap();
    }
    f.store
        .finish_run(RUN, "error", "2026-01-04T00:00:01.000Z", 1.0)
        .await
        .unwrap();
    let state = f.state(UiOptions {
        title: TITLE.into(),
        ..UiOptions::default()
    });
    let run_page = format!("/runs/{}", percent_encode(RUN));
    let login = format!("/login?next={}", percent_encode(&format!("/runs/{RUN}")));
    for uri in [
        "/",
        "/runs",
        "/runs?status=error",
        run_page.as_str(),
        "/missing",
        login.as_str(),
    ] {
        let response = send(&state, get(uri)).await;
        assert!(
            matches!(response.status(), StatusCode::OK | StatusCode::NOT_FOUND),
            "{uri}: {}",
            response.status()
        );
        assert_inert(uri, &text(response).await);
    }
    let page = text(send(&state, get(&run_page)).await).await;
    assert!(
        page.contains("data-run-id=\"r&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""),
        "{page}"
    );
    assert!(
        page.contains("&lt;script&gt;alert(4)&lt;/script&gt;"),
        "{page}"
    );

    // The API carries the text as data, for the scripts to show as text.
    let (status, body) = get_json(&state, &format!("/api/runs/{}", percent_encode(RUN))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["run"]["run_id"], RUN);
    assert_eq!(body["nodes"][0]["error"], ERROR);
    assert_eq!(body["nodes"][0]["name"], "<script>alert(6)</script>");
    let (_, overview) = get_json(&state, "/api/overview").await;
    assert_eq!(overview["failing_tests"][0]["error"], ERROR);
}
