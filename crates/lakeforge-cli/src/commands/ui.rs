//! `lakeforge ui`: the web UI (lakeforge-ui) over the project's metadata store, the project as
//! loaded here (its graph, for the lineage page; a project that does not load leaves the other
//! pages working, and the lineage page shows why) and a query session over its lake (tables,
//! column lineage, the model charts' files), on 127.0.0.1:8765 unless told otherwise. On loopback it is open; listening anywhere else
//! requires API tokens (`lakeforge tokens create`), as `lakeforge serve` does. A project where
//! nothing has run yet gets an empty store, so its graph can be looked at before any run. SIGTERM or
//! Ctrl-C stops accepting connections and lets requests in flight finish.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use lakeforge_meta::MetaStore;
use lakeforge_project::settings::read_target;
use lakeforge_ui::{LakeFiles, ProjectGraph, UiOptions, UiState};

use super::default_threads;
use super::runs::open_store;
use super::serve::{lake_reader, listen_addr, shutdown};
use super::tokens::has_live_token;
use crate::ProjectArgs;

#[derive(Args, Clone, Debug)]
pub struct UiArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Address to listen on; anything but loopback requires API tokens.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, default_value_t = 8765)]
    pub port: u16,
    /// Require an API token even on loopback.
    #[arg(long)]
    pub require_token: bool,
}

/// The project's store; where nothing has run yet, created as a build creates it (the schema
/// only), so the lineage, tables and docs pages work on a fresh project and the overview says
/// that nothing has run. The UI itself only reads it, bar alias changes.
pub(crate) async fn ui_store(project: &ProjectArgs) -> anyhow::Result<MetaStore> {
    if let Some(store) = open_store(project).await? {
        return Ok(store);
    }
    let target = read_target(&project.project_dir, &project.profile_flags())?;
    Ok(MetaStore::open(&target.metadata).await?)
}

pub async fn run(args: UiArgs) -> anyhow::Result<ExitCode> {
    super::log_server_events();
    let addr = listen_addr(&args.host, args.port)?;
    let require_tokens = args.require_token || !addr.ip().is_loopback();
    let store = ui_store(&args.project).await?;
    if require_tokens && !has_live_token(&store).await? {
        bail!(
            "the UI on {addr} requires API tokens, and none exists\nhint: `lakeforge tokens create NAME` makes one (any scope may read the UI; changing aliases needs `--scope admin`), or listen on 127.0.0.1"
        );
    }
    let project = match super::load_project(&args.project) {
        Ok(project) => ProjectGraph::Loaded(project),
        Err(e) => {
            let message = lakeforge_project::error_text(e.as_ref());
            eprintln!("warning: the lineage page is unavailable: {message}");
            ProjectGraph::Failed(message)
        }
    };
    let state = ui_state(&args.project, store, project, require_tokens).await;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    eprintln!(
        "Lakeforge UI on http://{addr}/ ({}); Ctrl-C stops",
        if require_tokens {
            "API token required"
        } else {
            "open to this machine"
        }
    );
    lakeforge_ui::serve(listener, state, shutdown()).await?;
    eprintln!("Stopped.");
    Ok(ExitCode::SUCCESS)
}

/// The UI over `store` and `project` (loaded, or why not), with a query session over the
/// project's lake when it opens: what `lakeforge ui` and `lakeforge serve --ui` serve.
pub(crate) async fn ui_state(
    args: &ProjectArgs,
    store: MetaStore,
    project: ProjectGraph,
    require_tokens: bool,
) -> Arc<UiState> {
    let title = args
        .project_dir
        .canonicalize()
        .ok()
        .and_then(|dir| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    // One session over the lake serves the table pages and the model charts' files.
    let engine = match &project {
        ProjectGraph::Loaded(project) => match super::open_engine(project, default_threads()).await
        {
            Ok(engine) => Some(engine),
            Err(e) => {
                eprintln!(
                    "warning: the lake's tables and model charts are unavailable: {}",
                    lakeforge_project::error_text(e.as_ref())
                );
                None
            }
        },
        _ => {
            eprintln!(
                "warning: the lake's tables and model charts are unavailable: the project did not load"
            );
            None
        }
    };
    let files = engine.as_ref().map(|engine| LakeFiles {
        location: engine.lake().location(),
        read: lake_reader(engine.lake().clone()),
    });
    UiState::with_project(
        store,
        UiOptions {
            require_tokens,
            title,
            ..UiOptions::default()
        },
        files,
        project,
        engine,
    )
}
