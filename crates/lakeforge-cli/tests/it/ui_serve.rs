//! The web UI beyond `lakeforge ui` over a built project: `lakeforge serve --ui` answering the
//! UI's pages and the prediction server's API on one listener, each with its own routes
//! (an unknown `/v1/` path is still the server's JSON 404), and `lakeforge ui` on a project
//! where nothing has run yet, which starts with an empty history.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common::{Background, Project, free_port};

/// The status line, headers and body of one request to 127.0.0.1:`port`.
fn call(port: u16, method: &str, path: &str, body: Option<&str>) -> (String, String, String) {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = body.unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_string(), headers.to_lowercase(), body.to_string())
}

#[test]
fn serve_with_ui_answers_pages_and_predictions_on_one_listener() {
    let p = Project::fixture("mlproj");
    p.run(&["build"]).ok();
    let port = free_port();
    let mut server = Background::spawn(&p, &["serve", "--port", &port.to_string(), "--ui"]);
    server.wait_for(1, Duration::from_secs(60), |l| {
        l.contains(&format!("on http://127.0.0.1:{port}"))
    });
    server.wait_for(1, Duration::from_secs(5), |l| {
        l.contains("Lakeforge UI on the same address (open to this machine)")
    });

    // A prediction, as without --ui.
    let rows = r#"{"rows": [{"tenure_months": 21, "plan": "basic", "monthly_spend": 85.02, "support_tickets": 0}]}"#;
    let (status, _, body) = call(port, "POST", "/v1/models/churn/predict", Some(rows));
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let predicted: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(predicted["version"], 1, "{body}");
    let (status, _, body) = call(port, "GET", "/healthz", None);
    assert_eq!((status.as_str(), body.as_str()), ("HTTP/1.1 200 OK", "ok"));
    let (status, headers, body) = call(port, "GET", "/v1/no/such/route", None);
    assert_eq!(status, "HTTP/1.1 404 Not Found", "{body}");
    assert!(
        headers.contains("content-type: application/json"),
        "{headers}"
    );

    // The UI's pages and API, with the UI's own headers.
    let (status, headers, page) = call(port, "GET", "/models/churn", None);
    assert_eq!(status, "HTTP/1.1 200 OK", "{page}");
    assert!(page.contains("/assets/model.js"), "{page}");
    assert!(headers.contains("content-security-policy:"), "{headers}");
    let (status, _, body) = call(port, "GET", "/api/models", None);
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert!(body.contains("\"name\":\"churn\""), "{body}");
    let (status, _, body) = call(port, "GET", "/no/such/page", None);
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert!(body.contains("<h1>Not found</h1>"), "{body}");

    server.signal("TERM");
    assert_eq!(
        server.wait(Duration::from_secs(30)),
        0,
        "{}",
        server.output()
    );
}

#[test]
fn ui_starts_on_a_project_where_nothing_has_run() {
    let p = Project::fixture("proj");
    let port = free_port();
    let mut ui = Background::spawn(&p, &["ui", "--port", &port.to_string()]);
    ui.wait_for(1, Duration::from_secs(30), |l| {
        l.contains(&format!("Lakeforge UI on http://127.0.0.1:{port}/"))
    });
    let (status, _, body) = call(port, "GET", "/api/overview", None);
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let overview: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(overview["runs"], serde_json::json!([]), "{body}");
    assert_eq!(overview["latest_run"], serde_json::Value::Null);
    let (status, _, page) = call(port, "GET", "/", None);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        page.contains("Nothing has run in this project yet"),
        "{page}"
    );
    // The project's graph needs no run.
    let (status, _, body) = call(port, "GET", "/api/lineage", None);
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert!(body.contains("\"unique_id\":\"model."), "{body}");
    ui.signal("TERM");
    assert_eq!(ui.wait(Duration::from_secs(30)), 0, "{}", ui.output());
}
