//! Models in other frameworks' formats. `lakeforge models import NAME FILE` registers a model
//! trained elsewhere (a LightGBM text model or an XGBoost JSON model) as a version of NAME;
//! `lakeforge models export NAME VERSION --output FILE` writes a version as a LightGBM text
//! model with its feature mapping beside it. The reading, writing and registering are
//! lakeforge-runner's (`import.rs`) and lakeforge-ml's (`import/`, `export/`); this prints
//! what was done and how to use it.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use lakeforge_meta::MetaStore;
use lakeforge_runner::import::{ForeignFormat, import_model};

use super::{default_threads, load_project, open_engine};
use crate::ProjectArgs;

pub async fn import(
    project: &ProjectArgs,
    name: &str,
    file: &Path,
    format: Option<&str>,
    alias: &str,
) -> anyhow::Result<ExitCode> {
    let format = match format {
        None => None,
        Some(f) => match ForeignFormat::parse(f) {
            Some(f) => Some(f),
            None => bail!(
                "--format {f} is not a format this build imports\nhint: one of {}",
                ForeignFormat::NAMES
            ),
        },
    };
    let loaded = load_project(project)?;
    let engine = open_engine(&loaded, default_threads()).await?;
    // The registry is created here if nothing has run yet, as a first build would.
    let store = MetaStore::open(&loaded.target.metadata).await?;
    let outcome = import_model(&engine, &store, name, file, format, alias).await?;
    let model = &outcome.model;
    if outcome.new_version {
        println!(
            "Imported {} as {name} version {} → {alias}: {} with {} inputs ({})",
            file.display(),
            outcome.version,
            model.meta.task.name(),
            model.meta.input_columns.len(),
            model.meta.input_columns.join(", ")
        );
    } else {
        println!(
            "{} is {name} version {} already (the same model); {alias} points at it",
            file.display(),
            outcome.version
        );
    }
    println!(
        "hint: score it in SQL with predict('{name}', {}), or serve it with `lakeforge serve`",
        model.meta.input_columns.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn export(
    project: &ProjectArgs,
    name: &str,
    version: &str,
    format: &str,
    output: &Path,
) -> anyhow::Result<ExitCode> {
    if !matches!(
        format.to_ascii_lowercase().as_str(),
        "lightgbm" | "lgb" | "lgbm"
    ) {
        bail!("--format {format}: models export to lightgbm only in this build");
    }
    let store = super::models::store(project).await?;
    let versions = super::models::versions_of(&store, name).await?;
    let v = super::models::pick(&versions, version)?;
    let loaded = load_project(project)?;
    let engine = open_engine(&loaded, default_threads()).await?;
    let model = lakeforge_runner::train::load_version(&engine, v).await?;
    let text = lakeforge_ml::export::write_lightgbm(&model)
        .with_context(|| format!("{name} version {}", v.version))?;
    let mapping = features_path(output);
    std::fs::write(output, &text.model).with_context(|| format!("writing {}", output.display()))?;
    std::fs::write(&mapping, serde_json::to_string_pretty(&text.features)?)
        .with_context(|| format!("writing {}", mapping.display()))?;
    println!(
        "Wrote {name} version {} as a LightGBM model to {}, its features' mapping from the input columns to {}",
        v.version,
        output.display(),
        mapping.display()
    );
    println!(
        "hint: lightgbm.Booster(model_file=\"{}\").predict(X) takes X's columns as the mapping lists them (categories as their codes)",
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `model.txt` → `model.features.json`, beside it.
fn features_path(output: &Path) -> std::path::PathBuf {
    output.with_extension("features.json")
}
