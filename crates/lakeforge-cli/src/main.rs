//! The `lakeforge` binary: parses the command line and hands each subcommand to
//! `commands/<name>.rs`. It holds no logic of its own beyond printing.

mod commands;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "lakeforge",
    version,
    about = "Data engineering and machine learning on an embedded lakehouse: dbt-format projects, Delta Lake tables, one binary."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new project: an example online shop with generated seed data, models and tests.
    Init(commands::init::InitArgs),
    /// Install the dbt packages of packages.yml / dependencies.yml (hub, git, local, tarball)
    /// into dbt_packages/, and write package-lock.yml.
    Deps(commands::deps::DepsArgs),
    /// Load seeds, build models and run their tests, in dependency order.
    Build(RunArgs),
    /// Build models.
    Run(RunArgs),
    /// Load seed CSV files into the lake.
    Seed(RunArgs),
    /// Run data tests.
    Test(RunArgs),
    /// Write the compiled SQL of every selected node under target/compiled.
    Compile(RunArgs),
    /// Train the selected ML models (`ml_models:`), registering a version of each.
    Train(RunArgs),
    /// Run the selected snapshots (type-2 history tables of `snapshot-paths` and `snapshots:`).
    Snapshot(RunArgs),
    /// The model registry: list, show (with --report), compare, promote, history, reproduce.
    Models(commands::models::ModelsArgs),
    /// Serve predictions of the registered models over HTTP.
    Serve(commands::serve::ServeArgs),
    /// API tokens of `lakeforge serve` and `lakeforge ui`: create, list, revoke.
    Tokens(commands::tokens::TokensArgs),
    /// The web UI on 127.0.0.1:8765: recent runs, failing tests, registered models, and each
    /// run's timeline of nodes.
    Ui(commands::ui::UiArgs),
    /// Run again the nodes that errored, failed or were skipped in the last run, with the same
    /// command, selection, vars and flags.
    Retry(commands::retry::RetryArgs),
    /// List the project's nodes.
    Ls(commands::ls::LsArgs),
    /// Preview the rows a model (or inline SQL) returns, without writing anything.
    Show(commands::show::ShowArgs),
    /// Source checks: `source freshness` compares each source's newest row with its policy.
    Source(commands::source::SourceArgs),
    /// Run a SQL query against the lake.
    Sql(commands::sql::SqlArgs),
    /// Call a macro (`name` or `package.name`) with --args, its queries running against the
    /// lake, as dbt's run-operation.
    RunOperation(commands::run_operation::RunOperationArgs),
    /// Where a table's data comes from and what reads it: upstream and downstream tables, and
    /// column-level lineage derived from the models' query plans.
    Lineage(commands::lineage::LineageArgs),
    /// List recorded runs, newest first; `runs show RUN_ID` shows one run's node executions.
    Runs(commands::runs::RunsArgs),
    /// Run the `schedules:` of lakeforge.yml on their cron ticks: one active scheduler per
    /// metadata store, others stand by; `--once` runs what is due and exits.
    Scheduler(commands::scheduler::SchedulerArgs),
    /// Run a selection once per date from --start to --end, the date in a var (`ds`).
    Backfill(commands::backfill::BackfillArgs),
    /// Train, evaluate and apply models on Parquet or CSV files (like LightGBM's CLI).
    Ml {
        #[command(subcommand)]
        command: commands::ml::MlCommand,
    },
}

/// Options shared by every command that reads a project.
#[derive(Args, Clone, Debug)]
pub struct ProjectArgs {
    /// The project folder (the one holding dbt_project.yml).
    #[arg(long, default_value = ".", env = "LAKEFORGE_PROJECT_DIR")]
    pub project_dir: PathBuf,
    /// Target from profiles.yml.
    #[arg(long, short = 't')]
    pub target: Option<String>,
    #[command(flatten)]
    pub profiles: ProfileArgs,
    /// Variables as YAML, overriding dbt_project.yml: --vars '{start: 2024-01-01}'.
    #[arg(long)]
    pub vars: Option<String>,
}

impl ProjectArgs {
    /// `--profiles-dir`, `--profile` and `--target`, for reading profiles.yml.
    pub fn profile_flags(&self) -> lakeforge_project::ProfileFlags {
        self.profiles.flags(self.target.as_deref())
    }
}

/// Which profiles.yml and which profile, as dbt's flags say.
#[derive(Args, Clone, Debug, Default)]
pub struct ProfileArgs {
    /// The folder holding profiles.yml (default: $DBT_PROFILES_DIR, else the project folder,
    /// else ~/.dbt).
    #[arg(long, value_name = "DIR")]
    pub profiles_dir: Option<PathBuf>,
    /// The profile of profiles.yml to use (default: `profile:` of dbt_project.yml).
    #[arg(long)]
    pub profile: Option<String>,
}

impl ProfileArgs {
    pub fn flags(&self, target: Option<&str>) -> lakeforge_project::ProfileFlags {
        lakeforge_project::ProfileFlags {
            profiles_dir: self.profiles_dir.clone(),
            profile: self.profile.clone(),
            target: target.map(str::to_string),
        }
    }
}

/// Options of run, build, seed, test and compile.
#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Nodes to run: names, +name, name+, tag:x, path:models/x, ... (space = union, comma = intersection).
    #[arg(long, short = 's', num_args = 1.., alias = "models", short_alias = 'm')]
    pub select: Vec<String>,
    /// Nodes to leave out, in the same syntax as --select.
    #[arg(long, num_args = 1..)]
    pub exclude: Vec<String>,
    /// Nodes run at once (default: the number of cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Rebuild incremental models from scratch.
    #[arg(long)]
    pub full_refresh: bool,
    /// Also write the results as JUnit XML (for Jenkins, GitLab and other CI servers).
    #[arg(long, value_name = "PATH")]
    pub junit_xml: Option<PathBuf>,
    /// The target folder of an earlier run (its manifest.json), for `--select state:modified+`.
    #[arg(long, value_name = "DIR", env = "LAKEFORGE_STATE")]
    pub state: Option<PathBuf>,
    /// Skip nodes whose compiled SQL, config and upstream table versions are unchanged since
    /// their last success (their output is still what that run wrote).
    #[arg(long)]
    pub changed: bool,
    /// `text` for people, `json` for one JSON object per event on stdout (log collectors).
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

impl RunArgs {
    /// The options of a run started by another command (retry, scheduler, backfill): text
    /// output, no JUnit file, no state comparison; callers set what differs.
    pub fn started_by_lakeforge(
        project: ProjectArgs,
        select: Vec<String>,
        exclude: Vec<String>,
    ) -> RunArgs {
        RunArgs {
            project,
            select,
            exclude,
            threads: None,
            full_refresh: false,
            junit_xml: None,
            changed: false,
            log_format: LogFormat::Text,
            state: None,
        }
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(a) => commands::init::run(a),
        Command::Deps(a) => commands::deps::run(a).await,
        Command::Build(a) => commands::execute::run(lakeforge_runner::Command::Build, a).await,
        Command::Run(a) => commands::execute::run(lakeforge_runner::Command::Run, a).await,
        Command::Seed(a) => commands::execute::run(lakeforge_runner::Command::Seed, a).await,
        Command::Test(a) => commands::execute::run(lakeforge_runner::Command::Test, a).await,
        Command::Compile(a) => commands::execute::run(lakeforge_runner::Command::Compile, a).await,
        Command::Train(a) => commands::execute::run(lakeforge_runner::Command::Train, a).await,
        Command::Snapshot(a) => {
            commands::execute::run(lakeforge_runner::Command::Snapshot, a).await
        }
        Command::Models(a) => commands::models::run(a).await,
        Command::Serve(a) => tokio::task::block_in_place(|| commands::serve::run(a)),
        Command::Tokens(a) => commands::tokens::run(a).await,
        Command::Ui(a) => commands::ui::run(a).await,
        Command::Retry(a) => commands::retry::run(a).await,
        Command::Ls(a) => commands::ls::run(a),
        Command::Show(a) => commands::show::run(a).await,
        Command::Source(a) => commands::source::run(a).await,
        Command::Sql(a) => commands::sql::run(a).await,
        Command::RunOperation(a) => commands::run_operation::run(a).await,
        Command::Lineage(a) => commands::lineage::run(a).await,
        Command::Runs(a) => commands::runs::run(a).await,
        Command::Scheduler(a) => commands::scheduler::run(a).await,
        Command::Backfill(a) => commands::backfill::run(a).await,
        Command::Ml { command } => commands::ml::run(command).await.map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", lakeforge_project::error_text(e.as_ref()));
            ExitCode::from(2)
        }
    }
}
