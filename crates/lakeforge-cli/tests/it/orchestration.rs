//! Unattended runs: retries with exponential backoff, timeouts, Ctrl-C, and `lakeforge retry`.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::Project;

/// (attempt, status) of every recorded execution of `unique_id` in the last run.
fn attempts(p: &Project, unique_id: &str) -> Vec<(i64, String)> {
    let out = p
        .run(&["runs", "show", "last", "--format", "json"])
        .ok()
        .stdout;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut a: Vec<(i64, String)> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["unique_id"] == unique_id)
        .map(|n| {
            (
                n["attempt"].as_i64().unwrap(),
                n["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    a.sort();
    a
}

#[test]
fn a_node_that_errors_twice_then_succeeds_is_retried_and_recorded() {
    let p = Project::fixture("orchestration");
    p.run(&["seed"]).ok();
    let mut child = p
        .command(&["run", "-s", "late_events", "--threads", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut retries = 0;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.starts_with("RETRY") {
            retries += 1;
            if retries == 2 {
                // The source table lands while the run waits for its third attempt.
                std::fs::create_dir_all(p.path().join("lake/raw")).unwrap();
                std::fs::rename(
                    p.path().join("lake/main/events_src"),
                    p.path().join("lake/raw/events"),
                )
                .unwrap();
            }
        }
        lines.push(line);
    }
    let status = child.wait().unwrap();
    let out = lines.join("\n");
    assert!(status.success(), "{out}");
    assert_eq!(retries, 2, "{out}");
    assert!(
        out.contains("RETRY table main.late_events after attempt 1 of 4 errored, in 1s: "),
        "{out}"
    );
    // Exponential backoff: the second wait is twice the first.
    assert!(
        out.contains("RETRY table main.late_events after attempt 2 of 4 errored, in 2s: "),
        "{out}"
    );
    let r = p.run_result("model.orch.late_events");
    assert_eq!(
        (r["status"].as_str(), r["attempts"].as_i64()),
        (Some("success"), Some(3))
    );
    assert_eq!(
        attempts(&p, "model.orch.late_events"),
        vec![
            (1, "error".to_string()),
            (2, "error".to_string()),
            (3, "success".to_string())
        ]
    );
    assert_eq!(
        p.sql("select count(*) as n from main.late_events"),
        "n\n3\n"
    );
}

#[test]
fn a_node_past_its_timeout_errors_and_writes_nothing() {
    let p = Project::fixture("orchestration");
    let started = Instant::now();
    let run = p
        .command(&["run", "-s", "timed"])
        .env("LF_SLOW", "1")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the timeout stopped the query"
    );
    assert!(
        out.contains("timed out after 0.5s (config `timeout`); nothing was written"),
        "{out}"
    );
    assert!(!p.path().join("lake/main/timed/_delta_log").exists());
}

/// Start `run -s slow+` with the slow model taking many seconds; returns once it is half a
/// second into the slow query.
fn start_slow_run(p: &Project) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let mut child = p
        .command(&["run", "-s", "slow+", "--threads", "1"])
        .env("LF_SLOW", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert_eq!(first.trim(), "Running 2 nodes");
    std::thread::sleep(Duration::from_millis(500));
    (child, reader)
}

#[test]
fn ctrl_c_cancels_cleanly_and_retry_finishes_the_run() {
    let p = Project::fixture("orchestration");
    let (mut child, mut reader) = start_slow_run(&p);
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("cancelled while running"), "{rest}");

    let text = std::fs::read_to_string(p.path().join("target/run_results.json")).unwrap();
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(results["status"], "cancelled");
    assert_eq!(p.run_result("model.orch.slow")["status"], "error");
    let after = p.run_result("model.orch.after_slow");
    assert_eq!(after["status"], "skipped");
    assert_eq!(after["message"], "cancelled before it started");
    let runs = p.run(&["runs", "--format", "json"]).ok().stdout;
    assert!(runs.contains("\"cancelled\""), "{runs}");
    assert!(!p.path().join("lake/main/slow/_delta_log").exists());

    // Without LF_SLOW the model is quick; retry runs exactly what the cancelled run left.
    let retry = p.run(&["retry"]).ok();
    assert!(
        retry.stdout.starts_with("Retrying 2 nodes of `run` run "),
        "{}",
        retry.stdout
    );
    assert_eq!(p.sql("select m from main.after_slow"), "m\n11\n");
    let again = p.run(&["retry"]).ok();
    assert!(
        again.stdout.starts_with("Nothing to retry"),
        "{}",
        again.stdout
    );
}

#[test]
fn a_killed_run_leaves_the_store_consistent_and_retry_finishes_it() {
    let p = Project::fixture("orchestration");
    let (mut child, _reader) = start_slow_run(&p);
    child.kill().unwrap(); // SIGKILL: no chance to record anything more
    child.wait().unwrap();

    let runs = p.run(&["runs", "--format", "json"]).ok().stdout;
    let runs: serde_json::Value = serde_json::from_str(&runs).unwrap();
    assert_eq!(runs[0]["status"], "running", "{runs}");
    assert!(!p.path().join("lake/main/slow/_delta_log").exists());

    let retry = p.run(&["retry"]).ok();
    assert!(
        retry
            .stdout
            .contains("ended without finishing (its process is gone); recorded it as error"),
        "{}",
        retry.stdout
    );
    assert!(
        retry.stdout.contains("Retrying 2 nodes of `run` run "),
        "{}",
        retry.stdout
    );
    assert_eq!(p.sql("select m from main.after_slow"), "m\n11\n");
    let runs = p.run(&["runs", "--format", "json"]).ok().stdout;
    let runs: serde_json::Value = serde_json::from_str(&runs).unwrap();
    assert_eq!(runs[0]["status"], "success", "{runs}");
    assert_eq!(runs[1]["status"], "error", "{runs}");
}

/// unique id → message of every node_finished event of a `--log-format json` run.
fn messages(p: &Project, args: &[&str]) -> std::collections::BTreeMap<String, String> {
    let mut a = args.to_vec();
    a.extend(["--log-format", "json", "--threads", "1"]);
    let out = p.run(&a).ok().stdout;
    let mut m = std::collections::BTreeMap::new();
    let mut events = Vec::new();
    for line in out.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["ts"].is_string(), "{line}");
        events.push(v["event"].as_str().unwrap().to_string());
        if v["event"] == "node_finished" {
            m.insert(
                v["unique_id"].as_str().unwrap().to_string(),
                v["message"].as_str().unwrap().to_string(),
            );
        }
    }
    assert_eq!(events.first().map(String::as_str), Some("run_started"));
    assert_eq!(events.last().map(String::as_str), Some("run_finished"));
    m
}

#[test]
fn changed_skips_nodes_whose_sql_config_and_inputs_are_unchanged() {
    let p = Project::fixture("unit");
    let build = ["build", "--exclude", "test_type:unit"];
    p.run(&build).ok();
    let mut changed = build.to_vec();
    changed.push("--changed");

    let m = messages(&p, &changed);
    assert_eq!(m["seed.unit.raw_orders"], "up to date");
    assert_eq!(m["seed.unit.raw_customers"], "up to date");
    assert_eq!(m["model.unit.stg_orders"], "up to date");
    assert_eq!(m["model.unit.customer_totals"], "up to date");
    // Its SQL differs now that the table exists (is_incremental() is true): it runs once more.
    assert_ne!(m["model.unit.orders_log"], "up to date");
    let m = messages(&p, &changed);
    assert!(m.values().all(|v| v == "up to date"), "{m:?}");

    // A new customer: the seed reloads and only what reads it rebuilds.
    let seed = p.path().join("seeds/raw_customers.csv");
    let mut csv = std::fs::read_to_string(&seed).unwrap();
    csv.push_str("12,Linus\n");
    std::fs::write(&seed, csv).unwrap();
    let m = messages(&p, &changed);
    assert_ne!(m["seed.unit.raw_customers"], "up to date");
    assert_ne!(m["model.unit.customer_totals"], "up to date");
    assert_eq!(m["model.unit.stg_orders"], "up to date");
    assert_eq!(m["model.unit.orders_log"], "up to date");
    assert_eq!(
        p.sql("select count(*) as n from main.customer_totals"),
        "n\n3\n"
    );
    // A config change rebuilds even when the SQL is the same.
    p.write(
        "models/props.yml",
        "version: 2\nmodels:\n  - name: stg_orders\n    config:\n      tags: [nightly]\n",
    );
    let m = messages(&p, &changed);
    assert_ne!(m["model.unit.stg_orders"], "up to date");
    // Without --changed everything runs.
    let m = messages(&p, &build);
    assert!(m.values().all(|v| v != "up to date"), "{m:?}");
}

/// A one-thread HTTP server that keeps the bodies POSTed to it.
fn lineage_server() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/lineage", listener.local_addr().unwrap());
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut s = stream.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head, then as many body bytes as Content-Length says.
            let (head_end, len) = loop {
                let n = s.read(&mut chunk).unwrap();
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map(|v| v.trim().parse::<usize>().unwrap())
                        .unwrap_or(0);
                    break (i + 4, len);
                }
            };
            while buf.len() < head_end + len {
                let n = s.read(&mut chunk).unwrap();
                buf.extend_from_slice(&chunk[..n]);
            }
            let body: serde_json::Value =
                serde_json::from_slice(&buf[head_end..head_end + len]).unwrap();
            keep.lock().unwrap().push(body);
            s.write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .unwrap();
        }
    });
    (url, got)
}

#[test]
fn openlineage_events_name_inputs_and_outputs_with_their_versions() {
    let (url, posted) = lineage_server();
    let p = Project::fixture("unit");
    p.write(
        "lakeforge.yml",
        &format!(
            "openlineage:\n  file: target/openlineage.jsonl\n  url: {url}\n  namespace: shop\n"
        ),
    );
    p.run(&["build", "--exclude", "test_type:unit", "--threads", "1"])
        .ok();
    let text = std::fs::read_to_string(p.path().join("target/openlineage.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The same events went over HTTP, in the same order.
    assert_eq!(*posted.lock().unwrap(), events);
    // A parent run for the command, then START and COMPLETE for each node.
    assert_eq!(events[0]["eventType"], "START");
    assert_eq!(events[0]["job"]["name"], "unit.build");
    assert_eq!(events.last().unwrap()["eventType"], "COMPLETE");
    for e in &events {
        assert_eq!(
            e["schemaURL"],
            "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
        );
        assert_eq!(e["job"]["namespace"], "shop");
    }
    let complete = events
        .iter()
        .find(|e| e["eventType"] == "COMPLETE" && e["job"]["name"] == "model.unit.customer_totals")
        .unwrap();
    let inputs: Vec<(&str, &str)> = complete["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["name"].as_str().unwrap(),
                d["facets"]["version"]["datasetVersion"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        inputs,
        vec![("main.raw_customers", "0"), ("main.stg_orders", "0")]
    );
    assert_eq!(complete["outputs"][0]["name"], "main.customer_totals");
    assert_eq!(
        complete["outputs"][0]["facets"]["version"]["datasetVersion"],
        "0"
    );
    let parent = &complete["run"]["facets"]["parent"]["run"]["runId"];
    assert_eq!(parent, &events[0]["run"]["runId"]);
    let starts = events.iter().filter(|e| e["eventType"] == "START").count();
    let ends = events
        .iter()
        .filter(|e| e["eventType"] == "COMPLETE")
        .count();
    assert_eq!(starts, ends);
}
