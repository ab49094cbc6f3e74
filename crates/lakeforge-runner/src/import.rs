//! `lakeforge models import NAME FILE`: a model trained elsewhere (a LightGBM text model, an
//! XGBoost JSON model) read by lakeforge-ml's importers into a native model and registered
//! as a version of `NAME`, beside the versions training nodes record. From there it is like
//! any version: the same artifact file in the lake, aliases and their history, `lakeforge
//! serve`, SQL `predict()`, the model pages.
//!
//! The artifact is written as training writes it ([`crate::train::store_artifact`]), content
//! addressed, so importing the same file twice is the version already recorded. An import
//! has no held-out data and no gate, so it takes its alias at once, as a training node without
//! a gate does.

use std::path::Path;

use lakeforge_engine::Engine;
use lakeforge_meta::{MetaStore, ModelStatus, NewModelVersion, TrainingRecord, check_alias_name};
use lakeforge_ml::pipeline::ColumnEncoding;
use lakeforge_ml::{Model, import};
use sha2::{Digest, Sha256};

use crate::train::{ModelAt, TrainError, store_artifact};

/// The file formats `models import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForeignFormat {
    /// `Booster.save_model("model.txt")`.
    LightGbm,
    /// `Booster.save_model("model.json")`.
    XgBoost,
}

impl ForeignFormat {
    pub const NAMES: &'static str = "lightgbm, xgboost";

    pub fn parse(name: &str) -> Option<ForeignFormat> {
        match name.trim().to_ascii_lowercase().as_str() {
            "lightgbm" | "lgb" | "lgbm" => Some(ForeignFormat::LightGbm),
            "xgboost" | "xgb" => Some(ForeignFormat::XgBoost),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ForeignFormat::LightGbm => "lightgbm",
            ForeignFormat::XgBoost => "xgboost",
        }
    }

    /// The format a file's first bytes show: LightGBM's text models open with `tree`, XGBoost's
    /// JSON models with `{`.
    pub fn detect(bytes: &[u8]) -> Option<ForeignFormat> {
        let start = bytes
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map_or(&[][..], |i| &bytes[i..]);
        if start.starts_with(b"tree\n") || start.starts_with(b"tree\r\n") {
            Some(ForeignFormat::LightGbm)
        } else if start.starts_with(b"{") {
            Some(ForeignFormat::XgBoost)
        } else {
            None
        }
    }
}

/// What an import recorded.
pub struct ImportOutcome {
    pub version: i64,
    /// False when the file was imported before: `version` is that version.
    pub new_version: bool,
    pub format: ForeignFormat,
    pub model: Model,
}

/// Read `file` (in `format`, or the one its content shows), register it as a version of
/// `name`, and point `alias` at it.
pub async fn import_model(
    engine: &Engine,
    meta: &MetaStore,
    name: &str,
    file: &Path,
    format: Option<ForeignFormat>,
    alias: &str,
) -> Result<ImportOutcome, TrainError> {
    let shown = file.display().to_string();
    let at = ModelAt::new(name, &shown);
    check_alias_name(alias).map_err(|source| TrainError::Alias {
        at: at.clone(),
        source,
    })?;
    let bytes = std::fs::read(file).map_err(|e| at.problem(format!("reading the file: {e}")))?;
    let format = match format.or_else(|| ForeignFormat::detect(&bytes)) {
        Some(f) => f,
        None => {
            return Err(at.problem(format!(
                "cannot tell the file's format from its content\nhint: name it with --format ({})",
                ForeignFormat::NAMES
            )));
        }
    };
    let text = String::from_utf8(bytes).map_err(|_| {
        at.problem(format!(
            "a {} model file is text, and this one is not UTF-8",
            format.name()
        ))
    })?;
    let model = match format {
        ForeignFormat::LightGbm => import::read_lightgbm(&text, &shown),
        ForeignFormat::XgBoost => import::read_xgboost(&text, &shown),
    }
    .map_err(at.ml(""))?;
    let artifact = model
        .to_bytes()
        .map_err(at.ml("writing the model file: "))?;
    let sha256 = format!("{:x}", Sha256::digest(&artifact));

    let versions = meta.model_versions(name).await?;
    if let Some(same) = versions
        .iter()
        .rev()
        .find(|v| v.trained.artifact_sha256 == sha256)
    {
        if !same.aliases.iter().any(|a| a == alias) {
            meta.set_alias(name, alias, Some(same.version), "models import")
                .await?;
        }
        return Ok(ImportOutcome {
            version: same.version,
            new_version: false,
            format,
            model,
        });
    }

    let artifact_path = store_artifact(engine, name, &sha256, artifact, None).await?;
    let feature_schema: Vec<serde_json::Value> = model
        .pipeline
        .columns
        .iter()
        .map(|c| {
            let t = match c.encoding {
                ColumnEncoding::Categorical { .. } => "Utf8",
                _ => "Float64",
            };
            serde_json::json!({"name": c.name, "type": t})
        })
        .collect();
    let spec = serde_json::json!({
        "source": format.name(),
        "file": shown,
    });
    let version = meta
        .register_model_version(&NewModelVersion {
            name: name.to_string(),
            trained: TrainingRecord {
                run_id: None,
                status: ModelStatus::from_gate(true),
                gate_message: None,
                task: model.meta.task.name().to_string(),
                algorithm: model.meta.algorithm.name().to_string(),
                spec_json: spec.to_string(),
                params_json: serde_json::to_string(&model.meta.params).unwrap_or_default(),
                metrics: Vec::new(),
                feature_schema_json: serde_json::to_string(&feature_schema).unwrap_or_default(),
                artifact_path,
                artifact_sha256: sha256,
                training_relation: format!("{} file {shown}", format.name()),
                training_version: None,
                train_rows: 0,
                test_rows: 0,
            },
            trials: Vec::new(),
        })
        .await?;
    meta.set_alias(name, alias, Some(version), "models import")
        .await?;
    Ok(ImportOutcome {
        version,
        new_version: true,
        format,
        model,
    })
}
