//! `lakeforge deps`: install the project's dbt packages (lakeforge-deps does the work) and say
//! what happens: why packages are resolved (or that the lock is used), a line per package with
//! its version and where it comes from, warnings, updates available, and a summary.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use lakeforge_deps::{DepsOptions, Event, Plan};

#[derive(Args, Clone, Debug)]
pub struct DepsArgs {
    /// The project folder (the one holding dbt_project.yml).
    #[arg(long, default_value = ".", env = "LAKEFORGE_PROJECT_DIR")]
    pub project_dir: PathBuf,
    /// The dbt package hub (or a mirror serving its api/v1/*.json files).
    #[arg(long, env = "DBT_PACKAGE_HUB_URL", default_value = lakeforge_deps::DEFAULT_HUB_URL)]
    pub hub_url: String,
    /// Resolve every package again, even when package-lock.yml matches the declaration.
    #[arg(long)]
    pub upgrade: bool,
    /// Resolve and write package-lock.yml without installing anything.
    #[arg(long)]
    pub lock: bool,
    /// Also consider hub versions whose `require_dbt_version` excludes dbt 1.10.
    #[arg(long)]
    pub no_version_check: bool,
}

pub async fn run(args: DepsArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let options = DepsOptions {
        project_dir: args.project_dir.clone(),
        hub_url: args.hub_url.clone(),
        upgrade: args.upgrade,
        lock_only: args.lock,
        version_check: !args.no_version_check,
    };
    let root = args
        .project_dir
        .canonicalize()
        .unwrap_or_else(|_| args.project_dir.clone());
    let shown = |p: &Path| p.strip_prefix(&root).unwrap_or(p).display().to_string();
    let summary = lakeforge_deps::run(&options, &mut |event| match event {
        Event::NoPackages { file } => println!(
            "No packages declared in {} (nothing to install)",
            shown(&file)
        ),
        Event::Plan {
            plan,
            declared,
            file,
        } => {
            let packages = format!(
                "{declared} declared package{}",
                if declared == 1 { "" } else { "s" }
            );
            match plan {
                Plan::FromLock => println!("Installing the versions package-lock.yml pins"),
                Plan::NoLock => println!("Resolving {packages} (no package-lock.yml yet)"),
                Plan::DeclarationChanged => println!(
                    "Resolving {packages} ({} changed since package-lock.yml was written)",
                    shown(&file)
                ),
                Plan::Upgrade => println!("Resolving {packages} again (--upgrade)"),
            }
        }
        Event::Installing {
            name,
            version,
            from,
        } => println!("Installing {name}@{version} from {from}"),
        Event::Warning(w) => eprintln!("warning: {w}"),
        Event::UpdateAvailable {
            package,
            installed,
            latest,
        } => println!("  update available: {package} {installed} -> {latest}"),
        Event::LockWritten { path } => println!("Wrote {}", shown(&path)),
        Event::LockUpToDate { path } => println!("{} is up to date", shown(&path)),
    })
    .await?;
    if !summary.installed.is_empty() {
        println!(
            "Installed {} package{} into {} in {:.1}s",
            summary.installed.len(),
            if summary.installed.len() == 1 {
                ""
            } else {
                "s"
            },
            shown(&summary.install_path),
            started.elapsed().as_secs_f64()
        );
    }
    if !summary.updates.is_empty() {
        println!(
            "Updates available for: {}\nhint: widen `version:` in the packages file if needed, then run `lakeforge deps --upgrade`",
            summary.updates.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
