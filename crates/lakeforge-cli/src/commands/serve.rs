//! `lakeforge serve`: the prediction server (lakeforge-serve) over the project's model
//! registry. Listening beyond loopback requires API tokens (`lakeforge tokens create`) unless
//! told otherwise; SIGTERM or Ctrl-C stops accepting connections and lets requests in flight
//! finish. `--tls-cert`/`--tls-key` serve HTTPS. `--ui` serves the web UI on the same
//! listener: lakeforge-serve keeps its own routes ([`lakeforge_serve::owns_path`]) and hands
//! every other path to lakeforge-ui's router, each with its own authentication.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use lakeforge_serve::{ServeOptions, ServeState};

use super::runs::open_store;
use crate::ProjectArgs;

#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Address to listen on; anything but loopback requires tokens.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Require an API token even on loopback.
    #[arg(long)]
    pub require_token: bool,
    /// Serve beyond loopback without tokens (a trusted network only).
    #[arg(long, conflicts_with = "require_token")]
    pub no_token: bool,
    /// Rows one request may hold.
    #[arg(long, default_value_t = 100_000)]
    pub max_rows: usize,
    /// Largest request body, in MiB.
    #[arg(long, default_value_t = 16)]
    pub max_body_mb: usize,
    /// Seconds one prediction request may take.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// Seconds between reads of the registry (promotions are picked up then).
    #[arg(long, default_value_t = 2.0)]
    pub refresh: f64,
    /// Worker threads of the server (default: the number of cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Print one JSON line per request (method, path, status, milliseconds).
    #[arg(long)]
    pub access_log: bool,
    /// Serve HTTPS with this certificate chain (PEM, the server's certificate first).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM, unencrypted).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve the web UI (`lakeforge ui`) on the same listener, at every path that is not the
    /// server's. Its pages need a token beyond loopback even with --no-token.
    #[arg(long)]
    pub ui: bool,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    super::log_server_events();
    // The server gets a runtime of its own so --workers sizes it.
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(w) = args.workers {
        builder.worker_threads(w.max(1));
    }
    builder.enable_all().build()?.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let addr = listen_addr(&args.host, args.port)?;
    let require_tokens = args.require_token || (!addr.ip().is_loopback() && !args.no_token);
    // Read before anything else, so a wrong file fails at once.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(lakeforge_serve::tls::TlsConfig::from_pem_files(cert, key)?)
        }
        _ => None,
    };
    let store = open_store(&args.project).await?.context(
        "nothing has run in this project yet, so there is no model to serve\nhint: declare `ml_models:` and run `lakeforge build`",
    )?;
    if require_tokens && !super::tokens::has_live_token(&store).await? {
        bail!(
            "serving on {addr} requires API tokens, and none exists\nhint: `lakeforge tokens create NAME --scope predict`, or listen on 127.0.0.1"
        );
    }
    let project = super::load_project(&args.project)?;
    let options = ServeOptions {
        require_tokens,
        max_body_bytes: args.max_body_mb.saturating_mul(1 << 20),
        max_rows: args.max_rows,
        request_timeout: super::seconds_arg("--timeout", args.timeout)?,
        refresh_interval: super::seconds_arg("--refresh", args.refresh)?
            .max(Duration::from_millis(100)),
        access_log: args.access_log,
    };
    let lake = lakeforge_engine::Lake::open_target(&project.target).await?;
    // The UI is never open beyond loopback, whatever --no-token says of the server's routes.
    let ui_tokens = args.require_token || !addr.ip().is_loopback();
    let ui = if args.ui {
        let graph = lakeforge_ui::ProjectGraph::Loaded(project.clone());
        Some(super::ui::ui_state(&args.project, store.clone(), graph, ui_tokens).await)
    } else {
        None
    };
    let state = ServeState::new(store, model_files(lake), options);
    state
        .refresh()
        .await
        .map_err(|e| anyhow::anyhow!("reading the model registry: {e}"))?;
    lakeforge_serve::spawn_refresh(state.clone());
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let models = state.models.snapshot().versions.len();
    eprintln!(
        "Serving {models} model{} on {}://{addr} ({}); Ctrl-C stops",
        if models == 1 { "" } else { "s" },
        if tls.is_some() { "https" } else { "http" },
        if require_tokens {
            "tokens required"
        } else {
            "no tokens"
        }
    );
    let app = match ui {
        Some(ui) => {
            eprintln!(
                "Lakeforge UI on the same address ({})",
                if ui_tokens {
                    "API token required"
                } else {
                    "open to this machine"
                }
            );
            lakeforge_serve::router_beside(state, lakeforge_ui::router(ui))
        }
        None => lakeforge_serve::router(state),
    };
    match &tls {
        Some(tls) => lakeforge_serve::serve_app_tls(listener, app, tls, shutdown()).await?,
        None => lakeforge_serve::serve_app(listener, app, shutdown()).await?,
    }
    eprintln!("Stopped.");
    Ok(ExitCode::SUCCESS)
}

/// `--host` and `--port` as an address to listen on (an IPv6 host with or without brackets).
pub(crate) fn listen_addr(host: &str, port: u16) -> anyhow::Result<SocketAddr> {
    format!("{host}:{port}")
        .parse()
        .or_else(|_| format!("[{host}]:{port}").parse())
        .with_context(|| format!("`{host}` is not an IP address to listen on"))
}

/// Resolves at the first SIGTERM or Ctrl-C.
pub(crate) async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The model files of `lake`: its folder, or reads from its object store.
fn model_files(lake: lakeforge_engine::Lake) -> lakeforge_serve::models::ModelFiles {
    use lakeforge_serve::models::ModelFiles;
    if let Some(root) = lake.local_root() {
        return ModelFiles::Folder(root.to_path_buf());
    }
    ModelFiles::Reader {
        location: lake.location(),
        read: lake_reader(lake),
    }
}

/// Reads files of `lake` (paths relative to its root); a missing one is `NotFound`. The
/// prediction server's model files and the web UI's evaluations are read through it.
pub(crate) fn lake_reader(lake: lakeforge_engine::Lake) -> lakeforge_serve::models::ReadFile {
    std::sync::Arc::new(move |path: String| {
        let lake = lake.clone();
        Box::pin(async move {
            lake.get_file(&path)
                .await
                .map_err(std::io::Error::other)?
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
        })
    })
}
