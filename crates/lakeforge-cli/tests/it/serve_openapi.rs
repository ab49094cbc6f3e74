//! `lakeforge serve` checked against its own OpenAPI document by a tool that did not write
//! either: Schemathesis (from the test venv, `scripts/setup-test-env`) reads `/openapi.json`
//! from the running server and sends generated requests, valid and invalid, to every
//! operation, failing on a 5xx, a status code or content type the document does not list, a
//! body that does not match its schema, or a route the document secures that answers without
//! a token. The server runs the `mlproj` fixture's trained model
//! with tokens required; Schemathesis holds an admin token, so the alias routes are exercised
//! too (it may move or remove aliases as it goes: every answer must still conform).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Project, free_port};

fn schemathesis() -> PathBuf {
    let venv = crate::common::test_venv();
    let bin = venv.join("bin/schemathesis");
    assert!(
        bin.is_file(),
        "no Schemathesis in the test venv at {}\nhint: run scripts/setup-test-env first (the README's test command does)",
        venv.display()
    );
    bin
}

/// The server process, killed on drop so a failing test leaves nothing behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET /healthz` answered 200.
fn healthy(port: u16) -> bool {
    let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let mut response = String::new();
    conn.write_all(request.as_bytes()).is_ok()
        && conn.read_to_string(&mut response).is_ok()
        && response.starts_with("HTTP/1.1 200")
}

#[test]
fn the_server_conforms_to_its_openapi_document() {
    let schemathesis = schemathesis();
    let p = Project::fixture("mlproj");
    p.run(&["build"]).ok();
    let token = p
        .run(&["tokens", "create", "schemathesis", "--scope", "admin"])
        .ok()
        .stdout
        .trim()
        .to_string();

    let port = free_port();
    let log = p.path().join("serve.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut command = p.command(&[
        "serve",
        "--port",
        &port.to_string(),
        "--require-token",
        "--workers",
        "2",
    ]);
    command
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    let mut server = Server(command.spawn().unwrap());
    let started = Instant::now();
    while !healthy(port) {
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!(
                "lakeforge serve exited ({status}):\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "lakeforge serve did not answer /healthz within 30s:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // A fixed seed keeps CI deterministic; the budget (examples per operation, one worker)
    // keeps the run well under a minute.
    let junit = p.path().join("schemathesis.xml");
    let out = Command::new(&schemathesis)
        .arg("run")
        .arg(format!("http://127.0.0.1:{port}/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,ignored_auth",
        ])
        .args(["--max-examples", "25", "--seed", "1", "--workers", "1"])
        .args(["--request-timeout", "10"])
        .args(["--report", "junit", "--report-junit-path"])
        .arg(&junit)
        .current_dir(p.path())
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found the server and its OpenAPI document disagree ({}):\n{stdout}\n{stderr}\nserver log:\n{}",
        out.status,
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // It did test every operation of the document (but /openapi.json, its own source).
    let report = std::fs::read_to_string(&junit).unwrap();
    for operation in [
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "GET /v1/models",
        "GET /v1/models/{name}",
        "POST /v1/models/{name}/predict",
        "POST /v1/models/{name}/versions/{version}/predict",
        "PUT /v1/models/{name}/aliases/{alias}",
        "DELETE /v1/models/{name}/aliases/{alias}",
    ] {
        assert!(
            report.contains(&format!("name=\"{operation}\"")),
            "{operation} was not tested:\n{report}\n{stdout}"
        );
    }
}
