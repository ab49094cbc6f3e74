//! HTTPS: the server's certificate and key read from PEM files, and a listener that hands
//! axum connections whose TLS handshake has finished.
//!
//! Handshakes run in tasks of their own, not in the accept loop, so a client that opens a
//! connection and never speaks cannot hold up everyone else's; a handshake that has not
//! finished after [`HANDSHAKE_TIMEOUT`] is dropped. Because the listener plugs into
//! `axum::serve`, graceful shutdown is axum's: stop accepting, let requests in flight finish.
//!
//! The crypto provider is `ring`, named explicitly: the workspace also builds rustls with
//! `aws-lc-rs` (for object storage clients), and with two providers compiled in rustls
//! cannot pick a default by itself.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

/// How long a client may take to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the certificate or the key cannot be used; each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    // `error`, not `source`: the I/O error is part of the message, before the hint, and is
    // not repeated after it by error-chain printers.
    #[error("cannot read the TLS {what} {}: {error}\nhint: check the path given to --tls-{what}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        error: io::Error,
    },
    #[error(
        "no certificate in {}: {detail}\nhint: --tls-cert takes a PEM file with `-----BEGIN CERTIFICATE-----` blocks (the server's certificate first, then its chain)",
        path.display()
    )]
    NoCertificate { path: PathBuf, detail: String },
    #[error(
        "no private key in {}: {detail}\nhint: --tls-key takes a PEM file with one `-----BEGIN PRIVATE KEY-----` (PKCS#8), `RSA PRIVATE KEY` or `EC PRIVATE KEY` block, unencrypted",
        path.display()
    )]
    NoKey { path: PathBuf, detail: String },
    #[error(
        "the certificate {} and the key {} cannot be used together: {detail}\nhint: check that the key is the one the certificate was issued for",
        cert.display(),
        key.display()
    )]
    Config {
        cert: PathBuf,
        key: PathBuf,
        detail: String,
    },
}

/// A server certificate chain and its key, ready to accept connections.
#[derive(Clone)]
pub struct TlsConfig {
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConfig")
    }
}

impl TlsConfig {
    /// Read a PEM certificate chain and a PEM private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<TlsConfig, TlsError> {
        let read = |what: &'static str, path: &Path| {
            std::fs::read(path).map_err(|error| TlsError::Read {
                what,
                path: path.to_path_buf(),
                error,
            })
        };
        let cert_pem = read("cert", cert)?;
        let key_pem = read("key", key)?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| TlsError::NoCertificate {
                path: cert.to_path_buf(),
                detail: e.to_string(),
            })?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate {
                path: cert.to_path_buf(),
                detail: "the file holds no CERTIFICATE block".into(),
            });
        }
        let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::NoKey {
            path: key.to_path_buf(),
            detail: match e {
                rustls::pki_types::pem::Error::NoItemsFound => {
                    "the file holds no private key block".into()
                }
                e => e.to_string(),
            },
        })?;
        let config_error = |e: rustls::Error| TlsError::Config {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            detail: e.to_string(),
        };
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(config_error)?
        .with_no_client_auth()
        // Checks that the key belongs to the certificate, so a mismatch fails at startup
        // rather than at every client's handshake.
        .with_single_cert(chain, private_key)
        .map_err(config_error)?;
        // The server speaks HTTP/1.1 only (axum's http1 feature).
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}

/// A listener for `axum::serve` whose connections are TLS streams with the handshake done.
pub struct TlsListener {
    incoming: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Start accepting on `listener`; must be called inside a tokio runtime. Accepting stops
    /// when this value is dropped (axum drops it when shutdown begins).
    pub fn new(listener: TcpListener, tls: &TlsConfig) -> io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let (tx, incoming) = mpsc::channel(64);
        let acceptor = tls.acceptor.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = tx.closed() => return,
                    accepted = listener.accept() => accepted,
                };
                let (tcp, addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        accept_error(e).await;
                        continue;
                    }
                };
                // Latency over throughput: a response is written at once, not held back
                // for the client's ACK.
                let _ = tcp.set_nodelay(true);
                let tx = tx.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {addr} failed: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {addr} timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { incoming, local })
    }
}

/// As axum's own TCP listener does: errors of one connection are skipped; others (too many
/// open files) are logged and retried after a pause rather than spinning.
async fn accept_error(e: io::Error) {
    use io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!("accepting a connection failed: {e}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(connection) => connection,
            // The accept task only ends once this receiver is gone, so this is unreachable
            // in practice; never returning is what axum expects of a listener with nothing.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_and_invalid_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a pem file\n").unwrap();
        let e = TlsConfig::from_pem_files(&missing, &junk)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("TLS cert") && e.contains("missing.pem") && e.contains("hint:"),
            "{e}"
        );
        let e = TlsConfig::from_pem_files(&junk, &missing)
            .unwrap_err()
            .to_string();
        assert!(e.contains("TLS key") && e.contains("missing.pem"), "{e}");
        let e = TlsConfig::from_pem_files(&junk, &junk)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("no certificate in") && e.contains("junk.pem"),
            "{e}"
        );
    }
}
