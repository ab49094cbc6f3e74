//! `lakeforge models …`: the model registry the training nodes fill (lakeforge-meta's
//! `registry`). `list` the models, `show` one (its versions, or one version's metrics,
//! parameters, features, trials and lineage, optionally as an HTML report with curves),
//! `compare` versions side by side, `promote` a version to an alias (every change is kept:
//! `history` shows them, `--at` says what an alias pointed at on a date), and `reproduce` a
//! version by training it again from the recorded data version and seed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use comfy_table::{CellAlignment, Table, presets};
use lakeforge_meta::{DEFAULT_ALIAS, MetaError, MetaStore, ModelVersion};
use lakeforge_ml::report::evaluation_path;

use super::runs::{open_store, time};
use crate::ProjectArgs;

#[derive(Args, Clone, Debug)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub command: ModelsCommand,
}

#[derive(Subcommand, Clone, Debug)]
pub enum ModelsCommand {
    /// Every registered model: versions, latest, aliases.
    List {
        #[command(flatten)]
        project: ProjectArgs,
        #[arg(long)]
        json: bool,
    },
    /// A model's versions, or one version in detail (metrics, params, features, trials,
    /// lineage); `--report out.html` writes curves and feature importance.
    Show {
        #[command(flatten)]
        project: ProjectArgs,
        name: String,
        /// A version number or an alias (default: all versions).
        version: Option<String>,
        /// Write an HTML report of the version (ROC/PR curves or residuals, importance).
        #[arg(long, value_name = "PATH")]
        report: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Metrics and parameters of several versions side by side.
    Compare {
        #[command(flatten)]
        project: ProjectArgs,
        name: String,
        /// Versions (numbers or aliases); default: every version.
        versions: Vec<String>,
    },
    /// Point an alias (production, staging, ...) at a version; `--remove` deletes the alias.
    Promote {
        #[command(flatten)]
        project: ProjectArgs,
        name: String,
        version: Option<i64>,
        #[arg(long, default_value = DEFAULT_ALIAS)]
        alias: String,
        #[arg(long, conflicts_with = "version")]
        remove: bool,
        /// Promote even a version whose quality gate failed.
        #[arg(long)]
        force: bool,
    },
    /// Every change of the model's aliases; `--at` gives what each alias pointed at then.
    History {
        #[command(flatten)]
        project: ProjectArgs,
        name: String,
        /// A moment (RFC 3339, or YYYY-MM-DD meaning the end of that day, UTC).
        #[arg(long)]
        at: Option<String>,
    },
    /// Register a model trained elsewhere as a version: a LightGBM text model
    /// (`Booster.save_model("model.txt")`) or an XGBoost JSON model (`save_model("model.json")`).
    Import {
        #[command(flatten)]
        project: ProjectArgs,
        name: String,
        file: PathBuf,
        /// lightgbm or xgboost (default: told from the file's content).
        #[arg(long)]
        format: Option<String>,
        /// The alias the new version takes.
        #[arg(long, default_value = DEFAULT_ALIAS)]
        alias: String,
    },
    /// Write a version as a LightGBM text model (GBDT models), with the mapping from input
    /// columns to its features in `<output stem>.features.json` beside it.
    Export {
        #[command(flatten)]
        project: ProjectArgs,
        name: String,
        /// A version number or an alias.
        version: String,
        #[arg(long, default_value = "lightgbm")]
        format: String,
        #[arg(long, short = 'o')]
        output: PathBuf,
    },
    /// Train a version again from its recorded data version, declaration and seed, and check
    /// that the model is byte-identical.
    Reproduce {
        #[command(flatten)]
        project: ProjectArgs,
        name: String,
        version: String,
    },
}

pub async fn run(args: ModelsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ModelsCommand::List { project, json } => list(&project, json).await,
        ModelsCommand::Show {
            project,
            name,
            version,
            report,
            json,
        } => show(&project, &name, version.as_deref(), report, json).await,
        ModelsCommand::Compare {
            project,
            name,
            versions,
        } => compare(&project, &name, &versions).await,
        ModelsCommand::Promote {
            project,
            name,
            version,
            alias,
            remove,
            force,
        } => promote(&project, &name, version, &alias, remove, force).await,
        ModelsCommand::History { project, name, at } => history(&project, &name, at).await,
        ModelsCommand::Reproduce {
            project,
            name,
            version,
        } => reproduce(&project, &name, &version).await,
        ModelsCommand::Export {
            project,
            name,
            version,
            format,
            output,
        } => super::models_foreign::export(&project, &name, &version, &format, &output).await,
        ModelsCommand::Import {
            project,
            name,
            file,
            format,
            alias,
        } => super::models_foreign::import(&project, &name, &file, format.as_deref(), &alias).await,
    }
}

pub(super) async fn store(project: &ProjectArgs) -> anyhow::Result<MetaStore> {
    open_store(project).await?.context(
        "nothing has run in this project yet, so no model is registered\nhint: declare `ml_models:` in a properties YAML file and run `lakeforge build`",
    )
}

/// Every version of `name`, or an error that says how to get one.
pub(super) async fn versions_of(
    store: &MetaStore,
    name: &str,
) -> anyhow::Result<Vec<ModelVersion>> {
    let versions = store.model_versions(name).await?;
    if versions.is_empty() {
        let known: Vec<String> = store
            .model_summaries()
            .await?
            .into_iter()
            .map(|m| m.name)
            .collect();
        bail!(
            "no model `{name}` in the registry{}\nhint: `lakeforge build -s {name}` trains it",
            if known.is_empty() {
                String::new()
            } else {
                format!(" (registered: {})", known.join(", "))
            }
        );
    }
    Ok(versions)
}

/// A version given as a number or an alias.
pub(super) fn pick<'a>(
    versions: &'a [ModelVersion],
    spec: &str,
) -> anyhow::Result<&'a ModelVersion> {
    let found = match spec.parse::<i64>() {
        Ok(n) => versions.iter().find(|v| v.version == n),
        Err(_) => versions
            .iter()
            .find(|v| v.aliases.iter().any(|a| a == spec)),
    };
    found.with_context(|| {
        format!(
            "model `{}` has no version or alias `{spec}` (versions 1–{})",
            versions[0].name,
            versions.last().map_or(0, |v| v.version)
        )
    })
}

fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(presets::ASCII_FULL_CONDENSED);
    t
}

async fn list(project: &ProjectArgs, json: bool) -> anyhow::Result<ExitCode> {
    let models = match open_store(project).await? {
        Some(s) => s.model_summaries().await?,
        None => Vec::new(),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&models)?);
        return Ok(ExitCode::SUCCESS);
    }
    if models.is_empty() {
        println!("No models registered yet.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = table();
    t.set_header(vec![
        "model",
        "versions",
        "latest",
        "trained (UTC)",
        "aliases",
    ]);
    for m in &models {
        let aliases: Vec<String> = m
            .aliases
            .iter()
            .map(|(a, v)| format!("{a} → {v}"))
            .collect();
        t.add_row(vec![
            m.name.clone(),
            m.versions.to_string(),
            m.latest.to_string(),
            time(&m.latest_created_at),
            aliases.join(", "),
        ]);
    }
    println!("{t}");
    Ok(ExitCode::SUCCESS)
}

fn metric_text(v: &ModelVersion, n: usize) -> String {
    v.trained
        .metrics
        .iter()
        .take(n)
        .map(|(k, x)| format!("{k} {x:.4}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn show(
    project: &ProjectArgs,
    name: &str,
    version: Option<&str>,
    report: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let store = store(project).await?;
    let versions = versions_of(&store, name).await?;
    let Some(spec) = version else {
        if report.is_some() {
            bail!(
                "--report needs a version\nhint: lakeforge models show {name} production --report {name}.html"
            );
        }
        if json {
            println!("{}", serde_json::to_string_pretty(&versions)?);
            return Ok(ExitCode::SUCCESS);
        }
        let mut t = table();
        t.set_header(vec![
            "version",
            "trained (UTC)",
            "gate",
            "aliases",
            "trained on",
            "rows",
            "metrics",
        ]);
        for v in &versions {
            t.add_row(vec![
                v.version.to_string(),
                time(&v.created_at),
                v.trained.status.to_string(),
                v.aliases.join(", "),
                v.trained.trained_on(),
                v.trained.train_rows.to_string(),
                metric_text(v, 3),
            ]);
        }
        println!("{t}");
        return Ok(ExitCode::SUCCESS);
    };
    let v = pick(&versions, spec)?;
    let trials = store.model_trials(name, v.version).await?;
    if json {
        let out = serde_json::json!({
            "version": v,
            "params": serde_json::from_str::<serde_json::Value>(&v.trained.params_json).unwrap_or_default(),
            "features": serde_json::from_str::<serde_json::Value>(&v.trained.feature_schema_json).unwrap_or_default(),
            "trials": trials,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("Model {} version {}", v.name, v.version);
        println!(
            "  trained    {} UTC (run {})",
            time(&v.created_at),
            v.trained.run_id.as_deref().unwrap_or("-")
        );
        println!("  task       {} ({})", v.trained.task, v.trained.algorithm);
        println!(
            "  gate       {}{}",
            v.trained.status,
            v.trained
                .gate_message
                .as_ref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        );
        println!(
            "  aliases    {}",
            if v.aliases.is_empty() {
                "-".to_string()
            } else {
                v.aliases.join(", ")
            }
        );
        println!(
            "  trained on {}{} ({} rows, {} held out)",
            v.trained.training_relation,
            v.trained
                .training_version
                .map(|x| format!(" at Delta version {x}"))
                .unwrap_or_default(),
            v.trained.train_rows,
            v.trained.test_rows
        );
        println!(
            "  artifact   {} (sha256 {})",
            v.trained.artifact_path,
            // A short hash (a store edited by hand) is shown whole, not sliced past its end.
            v.trained
                .artifact_sha256
                .get(..16)
                .unwrap_or(&v.trained.artifact_sha256)
        );
        let mut t = table();
        t.set_header(vec!["metric (held-out rows)", "value"]);
        for (k, x) in &v.trained.metrics {
            t.add_row(vec![k.clone(), format!("{x:.6}")]);
        }
        right_align(&mut t, 1);
        println!("{t}");
        let params: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&v.trained.params_json).unwrap_or_default();
        if !params.is_empty() {
            let mut t = table();
            t.set_header(vec!["param", "value"]);
            for (k, x) in &params {
                t.add_row(vec![k.clone(), x.clone()]);
            }
            println!("{t}");
        }
        let features: Vec<serde_json::Value> =
            serde_json::from_str(&v.trained.feature_schema_json).unwrap_or_default();
        let mut t = table();
        t.set_header(vec!["#", "input column", "type"]);
        for (i, f) in features.iter().enumerate() {
            t.add_row(vec![
                (i + 1).to_string(),
                f["name"].as_str().unwrap_or_default().to_string(),
                f["type"].as_str().unwrap_or_default().to_string(),
            ]);
        }
        println!("{t}");
        if !trials.is_empty() {
            let mut t = table();
            t.set_header(vec!["trial", "score", "rounds", "params"]);
            for tr in &trials {
                let p: std::collections::BTreeMap<String, String> =
                    serde_json::from_str(&tr.params_json).unwrap_or_default();
                t.add_row(vec![
                    tr.trial.to_string(),
                    format!("{:.6}", tr.score),
                    if tr.iterations > 0 {
                        tr.iterations.to_string()
                    } else {
                        "-".into()
                    },
                    p.iter()
                        .map(|(k, x)| format!("{k}={x}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                ]);
            }
            println!("{t}");
        }
    }
    if let Some(path) = report {
        let project = super::load_project(project)?;
        let lake = lakeforge_engine::Lake::open_target(&project.target).await?;
        let file = evaluation_path(&v.trained.artifact_path);
        let location = lake.file_location(&file);
        let text = lake.get_file(&file).await?.with_context(|| {
            format!(
                "{location} (the held-out predictions of {} version {}) is missing",
                v.name, v.version
            )
        })?;
        let text = String::from_utf8(text)
            .with_context(|| format!("{location} is not an evaluation Lakeforge wrote"))?;
        let html = super::model_report::render(v, &trials, &text, &location)?;
        std::fs::write(&path, html).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn right_align(t: &mut Table, col: usize) {
    if let Some(c) = t.column_mut(col) {
        c.set_cell_alignment(CellAlignment::Right);
    }
}

async fn compare(project: &ProjectArgs, name: &str, specs: &[String]) -> anyhow::Result<ExitCode> {
    let store = store(project).await?;
    let versions = versions_of(&store, name).await?;
    let chosen: Vec<&ModelVersion> = if specs.is_empty() {
        versions.iter().collect()
    } else {
        specs
            .iter()
            .map(|s| pick(&versions, s))
            .collect::<anyhow::Result<_>>()?
    };
    let mut t = table();
    let mut header = vec![String::new()];
    header.extend(chosen.iter().map(|v| {
        if v.aliases.is_empty() {
            format!("v{}", v.version)
        } else {
            format!("v{} ({})", v.version, v.aliases.join(", "))
        }
    }));
    t.set_header(header);
    let mut row = |label: &str, f: &dyn Fn(&ModelVersion) -> String| {
        let mut r = vec![label.to_string()];
        r.extend(chosen.iter().map(|v| f(v)));
        t.add_row(r);
    };
    row("gate", &|v| v.trained.status.to_string());
    row("trained on", &|v| v.trained.trained_on());
    row("train rows", &|v| v.trained.train_rows.to_string());
    let mut metric_names: Vec<String> = Vec::new();
    for v in &chosen {
        for (k, _) in &v.trained.metrics {
            if !metric_names.contains(k) {
                metric_names.push(k.clone());
            }
        }
    }
    for m in &metric_names {
        row(m, &|v| {
            v.trained
                .metric(m)
                .map(|x| format!("{x:.6}"))
                .unwrap_or_else(|| "-".into())
        });
    }
    let params: Vec<std::collections::BTreeMap<String, String>> = chosen
        .iter()
        .map(|v| serde_json::from_str(&v.trained.params_json).unwrap_or_default())
        .collect();
    let mut names: Vec<&String> = params.iter().flat_map(|p| p.keys()).collect();
    names.sort();
    names.dedup();
    for p in names {
        let values: Vec<String> = params
            .iter()
            .map(|m| m.get(p).cloned().unwrap_or_else(|| "-".into()))
            .collect();
        // Only parameters that differ say something in a comparison.
        if values.windows(2).all(|w| w[0] == w[1]) && chosen.len() > 1 {
            continue;
        }
        let mut r = vec![format!("param {p}")];
        r.extend(values);
        t.add_row(r);
    }
    println!("{t}");
    Ok(ExitCode::SUCCESS)
}

async fn promote(
    project: &ProjectArgs,
    name: &str,
    version: Option<i64>,
    alias: &str,
    remove: bool,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let store = store(project).await?;
    let versions = versions_of(&store, name).await?;
    if remove {
        let previous = store.set_alias(name, alias, None, "cli").await?;
        match previous {
            Some(p) => println!("{name}: removed alias {alias} (was version {p})"),
            None => println!("{name}: no alias {alias} to remove"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(version) = version else {
        bail!(
            "give the version to promote\nhint: lakeforge models promote {name} VERSION --alias {alias}"
        );
    };
    pick(&versions, &version.to_string())?;
    // The registry's rules (a valid alias name, no gate-rejected version without force) are
    // the store's, shared with the server's admin route; the hint is this command's own.
    let previous = match store.promote(name, version, alias, force, "cli").await {
        Err(e @ MetaError::GateRejected { .. }) => {
            bail!("{e}\nhint: add --force to promote it anyway")
        }
        other => other?,
    };
    match previous {
        Some(p) if p == version => println!("{name}: {alias} already points at version {version}"),
        Some(p) => println!("{name}: {alias} → version {version} (was version {p})"),
        None => println!("{name}: {alias} → version {version}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `YYYY-MM-DD` (the end of that day, UTC) or RFC 3339.
fn parse_moment(text: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        // The last microsecond of that day: the start of the next one, less one microsecond.
        let end = d.and_time(chrono::NaiveTime::MIN) + chrono::TimeDelta::days(1)
            - chrono::TimeDelta::microseconds(1);
        return Ok(end.and_utc());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .with_context(|| format!("`{text}` is not a date (YYYY-MM-DD) or an RFC 3339 time"))
}

async fn history(
    project: &ProjectArgs,
    name: &str,
    at: Option<String>,
) -> anyhow::Result<ExitCode> {
    let store = store(project).await?;
    versions_of(&store, name).await?;
    let changes = store.alias_history(name).await?;
    if let Some(at) = at {
        let moment = parse_moment(&at)?;
        let mut aliases: Vec<&str> = changes.iter().map(|c| c.alias.as_str()).collect();
        aliases.sort();
        aliases.dedup();
        if aliases.is_empty() {
            println!("{name} has never had an alias.");
        }
        for a in aliases {
            match store.alias_at(name, a, moment).await? {
                Some(v) => println!("{name}@{a} at {}: version {v}", moment.to_rfc3339()),
                None => println!("{name}@{a} at {}: no version", moment.to_rfc3339()),
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = table();
    t.set_header(vec!["when (UTC)", "alias", "version", "was", "by"]);
    for c in &changes {
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
        t.add_row(vec![
            time(&c.set_at),
            c.alias.clone(),
            opt(c.version),
            opt(c.previous),
            c.set_by.clone(),
        ]);
    }
    println!("{t}");
    Ok(ExitCode::SUCCESS)
}

async fn reproduce(project_args: &ProjectArgs, name: &str, spec: &str) -> anyhow::Result<ExitCode> {
    let store = store(project_args).await?;
    let versions = versions_of(&store, name).await?;
    let v = pick(&versions, spec)?;
    let project = super::load_project(project_args)?;
    let engine = super::open_engine(&project, super::default_threads()).await?;
    eprintln!(
        "Training {name} version {} again from {} at Delta version {}...",
        v.version,
        v.trained.training_relation,
        v.trained
            .training_version
            .map_or("-".into(), |x| x.to_string())
    );
    let r = lakeforge_runner::train::reproduce(&engine, &store, name, v.version).await?;
    println!("recorded   sha256 {}", r.recorded_sha256);
    println!(
        "on disk    sha256 {}",
        r.file_sha256.as_deref().unwrap_or("(artifact missing)")
    );
    println!("reproduced sha256 {}", r.reproduced_sha256);
    if r.identical {
        println!("{name} version {}: reproduced byte for byte", v.version);
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{name} version {}: NOT reproduced", v.version);
        Ok(ExitCode::from(1))
    }
}
