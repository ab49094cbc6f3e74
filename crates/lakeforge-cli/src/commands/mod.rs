//! One module per subcommand, plus the few steps they share: loading the project and opening
//! the engine and the metadata store.

pub mod backfill;
pub mod deps;
pub mod execute;
pub mod init;
pub mod lineage;
pub mod ls;
pub mod ml;
pub mod model_report;
pub mod models;
pub mod models_foreign;
pub mod retry;
pub mod run_operation;
pub mod runs;
pub mod scheduler;
pub mod serve;
pub mod show;
pub mod source;
pub mod sql;
pub mod tokens;
pub mod ui;

use std::sync::Arc;

use anyhow::Context;
use lakeforge_engine::{Engine, Lake};
use lakeforge_project::{LoadOptions, Project};

use crate::ProjectArgs;

pub fn load_project(args: &ProjectArgs) -> anyhow::Result<Arc<Project>> {
    load_project_with_state(args, None)
}

/// Load the project; with `state` (`--state DIR`), also the earlier manifest that `state:`
/// selection compares with.
pub fn load_project_with_state(
    args: &ProjectArgs,
    state: Option<&std::path::Path>,
) -> anyhow::Result<Arc<Project>> {
    let mut project = Project::load(
        &args.project_dir,
        &LoadOptions {
            vars: args.vars.clone(),
            target: args.target.clone(),
            profiles_dir: args.profiles.profiles_dir.clone(),
            profile: args.profiles.profile.clone(),
        },
    )?;
    if let Some(dir) = state {
        project.state = Some(lakeforge_project::state::StateManifest::read(dir)?);
    }
    Ok(Arc::new(project))
}

/// Resolve `--select`/`--exclude`, warning on stderr (as dbt does) about each selection
/// criterion that matches no node, so a typo is not mistaken for "nothing to do".
pub fn select_nodes(
    project: &Project,
    select: &[String],
    exclude: &[String],
) -> anyhow::Result<std::collections::BTreeSet<String>> {
    for criterion in lakeforge_project::selector::unmatched(project, select)? {
        eprintln!(
            "warning: the selection criterion `{criterion}` does not match any enabled node{}",
            match lakeforge_project::error::suggest(
                &criterion,
                project.nodes.values().map(|n| n.name.as_str())
            ) {
                Some(s) => format!("\nhint: did you mean `{s}`?"),
                None => "\nhint: `lakeforge ls` lists the project's nodes".to_string(),
            }
        );
    }
    Ok(lakeforge_project::select(project, select, exclude)?)
}

/// The value of the flag `flag` as a duration: a positive number of seconds, no larger than a
/// `Duration` holds (a huge or negative value would panic in `Duration::from_secs_f64`).
pub fn seconds_arg(flag: &str, secs: f64) -> anyhow::Result<std::time::Duration> {
    match std::time::Duration::try_from_secs_f64(secs) {
        Ok(d) if secs > 0.0 => Ok(d),
        _ => anyhow::bail!(
            "{flag} {secs} is not a usable number of seconds\nhint: give a positive number, e.g. {flag} 30"
        ),
    }
}

/// Warnings and errors the long-running servers (`serve`, `ui`) log while they answer
/// requests (a failed registry refresh, a panicking handler, a store error behind a 500) go to
/// stderr; `RUST_LOG` (e.g. `RUST_LOG=lakeforge_serve=debug`) chooses others. One-shot
/// commands report through their own output and install nothing.
pub fn log_server_events() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Err only if a subscriber is already installed, which keeps the first one.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

pub async fn open_engine(project: &Project, threads: usize) -> anyhow::Result<Arc<Engine>> {
    let lake = Lake::open_target(&project.target)
        .await
        .with_context(|| format!("opening the lake of project `{}`", project.name))?;
    let engine = Engine::new(lake, &project.target.schema, threads)?;
    engine.register_sources(project);
    Ok(Arc::new(engine))
}

/// Load the models an ad-hoc statement scores with (`predict('name', ...)`) from the
/// registry; a statement without predict() does not open the store.
pub async fn load_scoring_models(
    project: &ProjectArgs,
    engine: &Engine,
    sql: &str,
) -> anyhow::Result<()> {
    if !sql.to_ascii_lowercase().contains("predict") {
        return Ok(());
    }
    let store = runs::open_store(project).await?;
    lakeforge_runner::train::load_scoring_models(engine, store.as_ref(), sql).await?;
    Ok(())
}
