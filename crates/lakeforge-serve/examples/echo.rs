//! A trivial JSON echo server: the floor for `bench/serve/serve_vs_mlflow.sh`. Every POST, on
//! any path, has its body parsed as JSON and written back; nothing else happens. It runs the
//! way `lakeforge serve` does (axum over a multi-threaded tokio runtime, `--workers` threads,
//! defaulting to the number of cores, TCP_NODELAY on accepted connections), so the distance
//! between the two is what serving a model costs: routing, auth, metrics, input checks and
//! the trees themselves.
//!
//!   cargo run --release -p lakeforge-serve --example echo -- --port 8090 [--workers N]

use axum::Json;
use axum::Router;
use axum::serve::ListenerExt;
use serde_json::Value;

fn main() -> std::io::Result<()> {
    let mut port: u16 = 8090;
    let mut workers: Option<usize> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        let parsed = match (arg.as_str(), value.as_deref()) {
            ("--port", Some(v)) => v.parse().map(|p| port = p).is_ok(),
            ("--workers", Some(v)) => v.parse().map(|w| workers = Some(w)).is_ok(),
            _ => false,
        };
        if !parsed {
            eprintln!("usage: echo [--port PORT] [--workers N]");
            std::process::exit(2);
        }
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(w) = workers {
        builder.worker_threads(w.max(1));
    }
    builder.enable_all().build()?.block_on(async move {
        let app = Router::new().fallback(axum::routing::post(|Json(body): Json<Value>| async {
            Json(body)
        }));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await?
            .tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
        eprintln!("echo on http://127.0.0.1:{port}");
        axum::serve(listener, app).await
    })
}
