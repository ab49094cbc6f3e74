//! HTTPS over a real socket: a self-signed certificate made with the `openssl` command (no
//! certificate-generating crate to build), a client that trusts only that certificate, and a
//! plain-HTTP request to the TLS port that gets no HTTP answer.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lakeforge_serve::ServeOptions;
use lakeforge_serve::tls::TlsConfig;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use crate::{Fixture, expected};

/// `cert.pem` and `key.pem` for `localhost` and 127.0.0.1 in `dir`.
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .arg("ec_paramgen_curve:prime256v1")
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        // webpki refuses a CA certificate as the server's own.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("running `openssl`\nhint: install OpenSSL's command line tool (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// One HTTP/1.1 request over TLS to `addr`, trusting only `cert`; the whole response.
async fn https(addr: std::net::SocketAddr, cert: &Path, request: &str) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(cert).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake with the server");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    // The server closes after `Connection: close` without a close_notify alert at times;
    // what was read until then is the whole response.
    let _ = tls.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn serves_https_and_refuses_plain_http_on_the_tls_port() {
    let f = Fixture::new().await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let tls = TlsConfig::from_pem_files(&cert, &key).unwrap();
    let state = f.state(ServeOptions::default()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        lakeforge_serve::serve_tls(listener, state, &tls, async {
            let _ = stopped.await;
        })
        .await
    });

    let health = https(
        addr,
        &cert,
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("\r\n\r\nok"), "{health}");

    let body = r#"{"rows": [{"x": 1.5, "plan": "pro"}]}"#;
    let request = format!(
        "POST /v1/models/m/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let response = https(addr, &cert, &request).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let json: Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(
        json["predictions"][0].as_f64().unwrap(),
        expected(&f, 20, 1.5, "pro")
    );

    // Plain HTTP to the TLS port: the handshake fails, no HTTP response comes back.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut answer)).await;
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP got an HTTP answer: {}",
        String::from_utf8_lossy(&answer)
    );

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
}

#[test]
fn a_key_that_does_not_match_the_certificate_names_both_files() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (cert, _) = self_signed(a.path());
    let (_, other_key) = self_signed(b.path());
    let e = TlsConfig::from_pem_files(&cert, &other_key)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&cert.display().to_string())
            && e.contains(&other_key.display().to_string())
            && e.contains("hint:"),
        "{e}"
    );
}
