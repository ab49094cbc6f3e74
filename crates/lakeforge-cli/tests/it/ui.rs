//! `lakeforge ui` as users start it: refused where there is nothing to show or no token to
//! require, and on loopback serving the runs a real `build` recorded until SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::common::{Background, Project, free_port};

/// The status line and body of `GET path` on 127.0.0.1:`port`.
fn get(port: u16, path: &str) -> (String, String) {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    conn.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

#[test]
fn ui_is_refused_without_history_or_without_tokens_beyond_loopback() {
    let p = Project::fixture("proj");
    let none = p.run(&["ui"]);
    assert_eq!(none.code, 2);
    assert!(
        none.stderr.contains("nothing has run in this project yet"),
        "{}",
        none.stderr
    );
    assert!(
        none.stderr.contains("hint: `lakeforge build`"),
        "{}",
        none.stderr
    );

    p.run(&["build", "--threads", "1"]).ok();
    // Refused before it listens: no token exists to require.
    let open = p.run(&["ui", "--host", "0.0.0.0", "--port", "1"]);
    assert_eq!(open.code, 2);
    assert!(
        open.stderr.contains("requires API tokens, and none exists"),
        "{}",
        open.stderr
    );
    assert!(
        open.stderr.contains("lakeforge tokens create"),
        "{}",
        open.stderr
    );
    let bad = p.run(&["ui", "--host", "not-an-address"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("`not-an-address` is not an IP address"),
        "{}",
        bad.stderr
    );
}

#[test]
fn ui_serves_the_recorded_runs_and_stops_on_sigterm() {
    let p = Project::fixture("proj");
    p.run(&["build", "--threads", "1"]).ok();
    let port = free_port();
    let mut ui = Background::spawn(&p, &["ui", "--port", &port.to_string()]);
    let url = format!("Lakeforge UI on http://127.0.0.1:{port}/");
    ui.wait_for(1, Duration::from_secs(30), |l| l.contains(&url));

    let (status, body) = get(port, "/api/runs?command=build");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let runs: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(runs["total"], 1, "{body}");
    let run_id = runs["runs"][0]["run_id"].as_str().unwrap().to_string();
    assert_eq!(runs["runs"][0]["status"], "success");

    let (status, body) = get(port, &format!("/api/runs/{run_id}"));
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let run: serde_json::Value = serde_json::from_str(&body).unwrap();
    let nodes = run["nodes"].as_array().unwrap();
    assert!(!nodes.is_empty(), "{body}");
    assert!(
        nodes
            .iter()
            .any(|n| n["resource_type"] == "model" && n["delta_version"].is_i64()),
        "{body}"
    );

    let (status, page) = get(port, &format!("/runs/{run_id}"));
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(page.contains("/assets/run.js"), "{page}");

    ui.signal("TERM");
    assert_eq!(ui.wait(Duration::from_secs(30)), 0, "{}", ui.output());
    assert!(ui.output().contains("Stopped."), "{}", ui.output());
}
