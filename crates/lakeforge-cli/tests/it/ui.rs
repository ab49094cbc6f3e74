//! `lakeforge ui` as users start it: refused where there is no token to require (a project
//! where nothing ran is `ui_serve.rs`'s), and on loopback serving the runs a real `build` recorded until SIGTERM; and its
//! pages in a real browser (tests/browser/ui.mjs: headless Chromium driven by playwright-core,
//! both installed by scripts/setup-test-env).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{Background, Project, free_port, lakeforge};

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
fn ui_is_refused_without_tokens_beyond_loopback() {
    let p = Project::fixture("proj");
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

/// The checkout's root (the browser script and its node_modules are under `tests/browser/`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The browser script, once node, Chromium and playwright-core are all there; otherwise the
/// test fails saying how to get them (CI runs scripts/setup-test-env first: never a skip).
fn browser_script() -> PathBuf {
    let hint = "hint: run scripts/setup-test-env (it installs Debian's `chromium` and \
                tests/browser's playwright-core)";
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "the browser tests need `node` (20 or later) on PATH: {node:?}\n{hint}"
    );
    assert!(
        Path::new("/usr/bin/chromium").is_file(),
        "the browser tests need /usr/bin/chromium\n{hint}"
    );
    let browser = repo_root().join("tests/browser");
    assert!(
        browser
            .join("node_modules/playwright-core/package.json")
            .is_file(),
        "the browser tests need playwright-core in {}\n{hint}",
        browser.join("node_modules").display()
    );
    browser.join("ui.mjs")
}

/// Where a test's screenshots go: `<target folder>/ui-screenshots/<test>/`, beside the
/// binary's `debug/` (the target folder is `$CARGO_TARGET_DIR` or `./target`), emptied first.
fn screenshots_dir(test: &str) -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_lakeforge"));
    let target = bin.parent().and_then(Path::parent).unwrap();
    let dir = target.join("ui-screenshots").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Start `lakeforge ui` with `args` on a free port; its base URL once it listens.
fn start_ui(p: &Project, args: &[&str]) -> (Background, String) {
    let port = free_port().to_string();
    let mut all = vec!["ui", "--port", port.as_str()];
    all.extend_from_slice(args);
    let ui = Background::spawn(p, &all);
    let url = format!("http://127.0.0.1:{port}");
    let listening = format!("Lakeforge UI on {url}/");
    ui.wait_for(1, Duration::from_secs(30), |l| l.contains(&listening));
    (ui, url)
}

/// Every page of the UI in headless Chromium, open and in token mode, over a real build of
/// the `init` demo with two failing tests: one fails its rows (stored with `store_failures`,
/// which its quality page shows), one errors and carries markup
/// in its name (a file named `<img src=x onerror=alert(1)>.sql`) and in its error text. What
/// the script checks is listed at the top of tests/browser/ui.mjs; its screenshots are in
/// `<target folder>/ui-screenshots/ui_pages_work_in_a_real_browser/{open,token}/`.
#[test]
fn ui_pages_work_in_a_real_browser() {
    let script = browser_script();
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let demo = tmp.path().join("demo");
    let init = lakeforge()
        .args(["init", demo.to_str().unwrap(), "--orders", "500"])
        .output()
        .unwrap();
    assert!(init.status.success(), "{init:?}");
    let p = Project::copy_of(&demo);
    p.write(
        "tests/assert_no_scores.sql",
        "-- Fails on purpose: every customer has a score.\n\
         {{ config(store_failures=true) }}\n\
         select customer_id from {{ ref('customer_value_scores') }}\n",
    );
    p.write(
        "tests/<img src=x onerror=alert(1)>.sql",
        "select \"<script>alert(2)</script>\" from {{ ref('customer_value_scores') }}\n",
    );
    // Two runs, so that the runs list has something to filter: a seed that succeeds, then a
    // build whose two tests fail after every model (and the ML model) is built.
    p.run(&["seed"]).ok();
    // The build loads raw_customers again with customer 1 renamed: its version 1 has the new
    // name and version 0 the old, for the tables page's time travel.
    let seed = p.path().join("seeds/raw_customers.csv");
    let csv = std::fs::read_to_string(&seed).unwrap();
    let renamed: Vec<String> = csv
        .lines()
        .map(|l| match l.split_once(',') {
            Some(("1", rest)) => format!("1,Timetravel,{}", rest.split_once(',').unwrap().1),
            _ => l.to_string(),
        })
        .collect();
    std::fs::write(&seed, renamed.join("\n") + "\n").unwrap();
    let build = p.run(&["build"]);
    assert_eq!(build.code, 1, "{}\n{}", build.stdout, build.stderr);
    assert!(build.stdout.contains("ERROR=2 SKIP=0"), "{}", build.stdout);
    let token = p.run(&["tokens", "create", "browser"]).ok().stdout;
    let token = token.trim();
    let admin = p
        .run(&["tokens", "create", "browser-admin", "--scope", "admin"])
        .ok()
        .stdout;
    let admin = admin.trim();

    let expect = serde_json::json!({
        "nodes": [
            "raw_customers", "raw_orders", "raw_payments", "stg_customers", "stg_orders",
            "stg_payments", "orders", "customers", "daily_revenue", "customer_value",
            "customer_value_scores", "assert_no_scores", "<img src=x onerror=alert(1)>",
        ],
        "failing_tests": [
            { "name": "assert_no_scores", "error": "Got 50 results, configured to fail if != 0" },
            {
                "name": "<img src=x onerror=alert(1)>",
                "error": "No field named \"<script>alert(2)</script>\"",
            },
        ],
        "markup": ["<img src=x onerror=alert(1)>", "<script>alert(2)</script>"],
        "models": [{ "name": "customer_value", "production": 1 }],
        "failing_rows": { "test": "assert_no_scores", "column": "customer_id" },
        "lineage": { "node": "customers", "column": "email", "upstream": "raw_customers.email" },
        "table": { "name": "raw_customers", "renamed": "Timetravel", "old_version": 0 },
    });
    let expect_file = p.path().join("browser-expect.json");
    std::fs::write(&expect_file, expect.to_string()).unwrap();
    let shots = screenshots_dir("ui_pages_work_in_a_real_browser");
    eprintln!("screenshots: {}", shots.display());

    let (mut open, open_url) = start_ui(&p, &[]);
    let (mut guarded, guarded_url) = start_ui(&p, &["--require-token"]);
    for (mode, url, token) in [
        ("open", &open_url, None),
        ("token", &guarded_url, Some(token)),
    ] {
        let mut node = Command::new("node");
        node.arg(&script)
            .args(["--base-url", url.as_str()])
            .arg("--out")
            .arg(shots.join(mode))
            .arg("--expect")
            .arg(&expect_file);
        if let Some(token) = token {
            node.args(["--token", token, "--admin-token", admin]);
        }
        let out = node.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "the browser checks failed ({mode}):\n{stdout}\n{stderr}"
        );
        assert!(stdout.contains("all steps passed"), "{stdout}");
        eprintln!("{mode}:\n{stdout}");
    }
    for (name, expected) in [
        (
            "open",
            &[
                "overview",
                "runs",
                "runs-filtered",
                "run",
                "run-sql",
                "quality",
                "quality-test",
                "lineage",
                "lineage-columns",
                "model",
            ][..],
        ),
        (
            "token",
            &[
                "login",
                "login-refused",
                "overview",
                "runs",
                "runs-filtered",
                "run",
                "run-sql",
                "quality",
                "quality-test",
                "lineage",
                "lineage-columns",
                "model",
                "admin-refused",
                "admin",
            ][..],
        ),
    ] {
        for shot in expected {
            let file = shots.join(name).join(format!("{shot}.png"));
            assert!(file.is_file(), "no screenshot {}", file.display());
        }
    }

    // The tables step's, in both modes.
    for mode in ["open", "token"] {
        for shot in ["tables", "table", "table-old-version"] {
            let file = shots.join(mode).join(format!("{shot}.png"));
            assert!(file.is_file(), "no screenshot {}", file.display());
        }
    }

    for ui in [&mut open, &mut guarded] {
        ui.signal("TERM");
        assert_eq!(ui.wait(Duration::from_secs(30)), 0, "{}", ui.output());
    }
    eprintln!("browser test took {:?}", started.elapsed());
}
