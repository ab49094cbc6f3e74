//! Training nodes: an ML model of `ml_models:` trained as a node of the DAG, after the table it
//! learns from. The node reads its training relation (noting the Delta version it read), holds
//! out a test split, tunes when asked, fits, evaluates on the held-out rows, checks the quality
//! gate, writes the artifact into the lake (`_models/<name>/<sha256 prefix>/model.lfm`, content
//! addressed, so a version's file never changes) and records the version in the registry. A
//! version that passes its gate takes the model's `promote_to` alias; one that fails is
//! recorded and left unpromoted, and the node ends in `warn`.
//!
//! [`fit_from_spec`] is the pure part (rows in, model bytes out); `lakeforge models
//! reproduce` runs it again on the training table at the recorded version and compares bytes.
//! This module also loads the models a SQL statement scores with ([`load_scoring_models`]).
//!
//! The registry's rules (a version's status, the default alias, valid alias names) are
//! lakeforge-meta's; failures are [`TrainError`]s, whose messages name the model's file.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use lakeforge_engine::{Engine, EngineError, LoadedModel, read_relation};
use lakeforge_meta::{
    DEFAULT_ALIAS, MetaError, MetaStore, ModelStatus, ModelVersion, NewModelVersion,
    TrainingRecord, TrialRecord, check_alias_name,
};
use lakeforge_ml::report::EVALUATION_FILE;
use lakeforge_ml::{
    Algorithm, FitSpec, ImportanceType, Metric, MlError, Model, SearchSpace, SplitStrategy, Task,
    TuneOptions, TuneStrategy,
};
use lakeforge_project::ml_model::{parse_model_ref, predict_references};
use lakeforge_project::{MlModelSpec, Node, SplitSpec};
use sha2::{Digest, Sha256};

/// What a training produced, before anything is written.
pub struct Trained {
    pub model: Model,
    pub bytes: Vec<u8>,
    pub sha256: String,
    /// Metrics on the held-out rows.
    pub metrics: Vec<(String, f64)>,
    /// The parameters the model was trained with (after tuning).
    pub params: BTreeMap<String, String>,
    pub trials: Vec<TrialRecord>,
    pub train_rows: usize,
    pub test_rows: usize,
    /// What the evaluation report draws: held-out labels and predictions.
    pub evaluation: Evaluation,
}

/// Held-out labels and predictions, kept beside the artifact for reports (lakeforge-ml's, so
/// the report's readers need not link the runner).
pub use lakeforge_ml::report::Evaluation;

/// The ML model a message is about, as messages name it: `models/ml.yml: ml model `churn``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelAt {
    pub name: String,
    /// The file declaring it (`registry` when it is read back from the registry).
    pub path: String,
}

impl ModelAt {
    pub fn new(name: impl Into<String>, path: impl Into<String>) -> ModelAt {
        ModelAt {
            name: name.into(),
            path: path.into(),
        }
    }

    fn of(node: &Node) -> ModelAt {
        ModelAt::new(&node.name, &node.path)
    }

    /// A problem with this model, said in words.
    pub(crate) fn problem(&self, message: impl Into<String>) -> TrainError {
        TrainError::Model {
            at: self.clone(),
            message: message.into(),
        }
    }

    /// A step of the ML engine failed; `step` says which (with its `: `), empty for fitting.
    pub(crate) fn ml(&self, step: &'static str) -> impl FnOnce(MlError) -> TrainError + '_ {
        move |source| TrainError::Ml {
            at: self.clone(),
            step,
            source: Box::new(source),
        }
    }
}

impl fmt::Display for ModelAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ml model `{}`", self.path, self.name)
    }
}

/// Why training, reproducing or loading an ML model failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The model's declaration does not fit its data or what training needs (a missing
    /// column, too few rows, a gate naming a metric the model lacks, no metadata store).
    #[error("{at}: {message}")]
    Model { at: ModelAt, message: String },
    /// The ML engine failed a step: splitting, tuning, fitting, evaluating, encoding.
    #[error("{at}: {step}{source}")]
    Ml {
        at: ModelAt,
        /// What was being done, with its `: `; empty for the fit itself and steps whose
        /// error says enough.
        step: &'static str,
        #[source]
        source: Box<MlError>,
    },
    #[error("{at}: reading {relation}: {source}")]
    ReadTraining {
        at: ModelAt,
        relation: String,
        #[source]
        source: Box<EngineError>,
    },
    /// `promote_to:` names an alias the registry refuses.
    #[error("{at}: {source}")]
    Alias {
        at: ModelAt,
        #[source]
        source: MetaError,
    },
    #[error("{unique_id}: not an ml model")]
    NotAnMlModel { unique_id: String },
    /// The blocking task that trains panicked or was cancelled.
    #[error("training {name}: {source}")]
    Panicked {
        name: String,
        #[source]
        source: tokio::task::JoinError,
    },
    #[error("the recorded declaration of {name} version {version} cannot be read: {source}")]
    RecordedSpec {
        name: String,
        version: i64,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{name} version {version} was trained on {relation}, which was not a Delta table, so its rows cannot be read again as they were"
    )]
    NotDelta {
        name: String,
        version: i64,
        relation: String,
    },
    #[error("reading {relation} at version {version}: {source}")]
    ReadAtVersion {
        relation: String,
        version: i64,
        #[source]
        source: Box<EngineError>,
    },
    #[error(
        "model `{name}` has no `{alias}` alias\nhint: train it with `lakeforge build -s {name}`, or point the alias at a version with `lakeforge models promote {name} VERSION --alias {alias}`"
    )]
    NoAlias { name: String, alias: String },
    #[error("predict() needs the metadata store, which holds the model registry")]
    PredictNeedsStore,
    #[error(
        "model `{name}` version {version}: its file {location} is missing\nhint: retrain it with `lakeforge build -s {name}`"
    )]
    MissingFile {
        name: String,
        version: i64,
        location: String,
    },
    #[error("loading model `{name}` version {version} from {location}: {source}")]
    LoadModel {
        name: String,
        version: i64,
        location: String,
        #[source]
        source: Box<MlError>,
    },
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Check the declaration against the training relation's columns, before any work.
fn check_columns(spec: &MlModelSpec, schema: &SchemaRef, at: &ModelAt) -> Result<(), TrainError> {
    let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let missing = |what: &str, c: &str| {
        at.problem(format!(
            "{what} `{c}` is not a column of {} (its columns: {})\nhint: fix the name in the ml model's YAML, or add the column to the training model",
            spec.training,
            columns.join(", ")
        ))
    };
    if let Some(t) = &spec.target
        && !columns.contains(&t.as_str())
    {
        return Err(missing("target column", t));
    }
    for c in spec.features.iter().flatten() {
        if !columns.contains(&c.as_str()) {
            return Err(missing("feature column", c));
        }
    }
    for c in &spec.categorical {
        if !columns.contains(&c.as_str()) {
            return Err(missing("categorical column", c));
        }
    }
    if let SplitSpec::Time { column, .. } = &spec.split
        && !columns.contains(&column.as_str())
    {
        return Err(missing("split column", column));
    }
    Ok(())
}

/// The `FitSpec` a declaration stands for (params as given, before tuning).
fn fit_spec(spec: &MlModelSpec, at: &ModelAt) -> Result<FitSpec, TrainError> {
    let (task, implied) = Task::parse(&spec.task)
        .ok_or_else(|| at.problem(format!("unknown task `{}`", spec.task)))?;
    let algorithm = Algorithm::parse(&spec.algorithm)
        .ok_or_else(|| at.problem(format!("unknown algorithm `{}`", spec.algorithm)))?;
    let mut fit = FitSpec::new(task, spec.target.as_deref()).with_algorithm(algorithm);
    fit.params = spec.params.clone();
    if let Some(obj) = implied
        && algorithm == Algorithm::Gbdt
        && !fit.params.contains_key("objective")
    {
        fit.params.insert("objective".into(), obj.name().into());
    }
    let has_seed = ["seed", "random_seed", "random_state"]
        .iter()
        .any(|k| fit.params.contains_key(*k));
    if !has_seed {
        fit.params.insert("seed".into(), spec.seed.to_string());
    }
    fit.features = spec.features.clone();
    fit.exclude = spec.exclude.clone();
    // The time column orders the split; it is a feature only when listed as one.
    if let SplitSpec::Time { column, .. } = &spec.split
        && spec.features.is_none()
        && !fit.exclude.contains(column)
    {
        fit.exclude.push(column.clone());
    }
    fit.categorical = spec.categorical.clone();
    Ok(fit)
}

/// Split, tune (when asked), fit and evaluate: the same rows (in any order: the split puts
/// them in canonical order first) and the same declaration give the same bytes.
pub fn fit_from_spec(
    spec: &MlModelSpec,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    at: &ModelAt,
) -> Result<Trained, TrainError> {
    check_columns(spec, schema, at)?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if rows < 2 {
        return Err(at.problem(format!(
            "{} has {rows} row{}; at least 2 are needed to train and hold out a test split",
            spec.training,
            if rows == 1 { "" } else { "s" }
        )));
    }
    let mut fit = fit_spec(spec, at)?;
    let split = match &spec.split {
        SplitSpec::Random { test_fraction } => SplitStrategy::Random {
            test_fraction: *test_fraction,
            seed: spec.seed,
        },
        SplitSpec::Stratified { test_fraction } => match &spec.target {
            Some(t) => SplitStrategy::Stratified {
                column: t.clone(),
                test_fraction: *test_fraction,
                seed: spec.seed,
            },
            None => {
                return Err(at.problem("`split: {strategy: stratified}` needs `target:`"));
            }
        },
        SplitSpec::Time {
            column,
            test_fraction,
        } => SplitStrategy::TimeOrdered {
            column: column.clone(),
            test_fraction: *test_fraction,
        },
    };
    let (train, test) = lakeforge_ml::split_batches(batches, &split).map_err(at.ml(""))?;

    let mut trials = Vec::new();
    if let Some(t) = &spec.tuning {
        let decls: Vec<String> = t.space.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let space = SearchSpace::parse(&decls).map_err(at.ml("tuning.space: "))?;
        let metric = match &t.metric {
            Some(m) => Some(Metric::parse(m).ok_or_else(|| {
                at.problem(format!(
                    "`tuning.metric: {m}` is not a metric Lakeforge knows"
                ))
            })?),
            None => None,
        };
        let opts = TuneOptions {
            strategy: match t.strategy.as_str() {
                "halving" => TuneStrategy::SuccessiveHalving {
                    n_trials: t.trials,
                    min_iterations: 10,
                    eta: 3,
                },
                _ => TuneStrategy::Random { n_trials: t.trials },
            },
            folds: t.folds,
            holdout_fraction: 0.2,
            metric,
            seed: spec.seed,
            num_threads: 0,
        };
        let tuned = lakeforge_ml::tune(std::slice::from_ref(&train), &fit, &space, &opts)
            .map_err(at.ml("tuning: "))?;
        trials = tuned
            .trials
            .iter()
            .map(|t| TrialRecord {
                trial: t.id as i64,
                params_json: serde_json::to_string(&t.params).unwrap_or_default(),
                score: t.score,
                iterations: t.budget.unwrap_or(0) as i64,
            })
            .collect();
        fit.params = tuned.best_params;
    }

    let model = lakeforge_ml::fit(std::slice::from_ref(&train), None, &fit).map_err(at.ml(""))?;
    let report = model
        .evaluate(std::slice::from_ref(&test))
        .map_err(at.ml("evaluating on the held-out rows: "))?;
    let (labels, predictions) = if model.meta.task == Task::Clustering {
        (Vec::new(), Vec::new())
    } else {
        model
            .scored_labels(std::slice::from_ref(&test))
            .map_err(at.ml(""))?
    };
    let bytes = model.to_bytes().map_err(at.ml(""))?;
    let sha256 = format!("{:x}", Sha256::digest(&bytes));
    let importance = model.feature_importance(ImportanceType::Gain);
    Ok(Trained {
        evaluation: Evaluation {
            task: model.meta.task.name().to_string(),
            classes: model.meta.classes.clone(),
            labels,
            predictions,
            metrics: report.metrics.clone(),
            importance,
            confusion: report.confusion.clone(),
        },
        params: fit.params.clone(),
        metrics: report.metrics,
        trials,
        train_rows: train.num_rows(),
        test_rows: test.num_rows(),
        bytes,
        sha256,
        model,
    })
}

/// The gate's verdict: whether every condition holds, and a sentence saying so.
pub fn check_gate(
    spec: &MlModelSpec,
    metrics: &[(String, f64)],
    at: &ModelAt,
) -> Result<(bool, String), TrainError> {
    let mut parts = Vec::new();
    let mut passed = true;
    for g in &spec.gate {
        let Some(value) = metrics
            .iter()
            .find(|(n, _)| *n == g.metric)
            .map(|(_, v)| *v)
        else {
            return Err(at.problem(format!(
                "gate `{g}` names metric `{}`, which this model does not report (it reports: {})",
                g.metric,
                metrics
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let holds = g.holds(value);
        passed &= holds;
        parts.push(format!(
            "{} {value:.4} {} {}",
            g.metric,
            if holds {
                g.op.clone()
            } else {
                format!("fails {}", g.op)
            },
            g.value
        ));
    }
    Ok((passed, parts.join(", ")))
}

/// The artifact folder of a model file with this hash, relative to the lake's root.
pub fn artifact_dir(name: &str, sha256: &str) -> String {
    format!("_models/{name}/{}", &sha256[..16])
}

/// Write a version's model file (and the evaluation its report draws, when there is one)
/// into the lake under its content address; returns the model file's path in the lake.
/// Both files are whole when they appear (a rename on disk, one PUT in object storage).
pub(crate) async fn store_artifact(
    engine: &Engine,
    name: &str,
    sha256: &str,
    bytes: Vec<u8>,
    evaluation: Option<&Evaluation>,
) -> Result<String, TrainError> {
    let dir = artifact_dir(name, sha256);
    let lake = engine.lake();
    let path = format!("{dir}/model.lfm");
    lake.put_file(&path, bytes).await?;
    if let Some(evaluation) = evaluation {
        let evaluation = serde_json::to_vec(evaluation).unwrap_or_default();
        lake.put_file(&format!("{dir}/{EVALUATION_FILE}"), evaluation)
            .await?;
    }
    Ok(path)
}

/// What a training node did.
pub(crate) struct TrainOutcome {
    pub version: i64,
    pub passed: bool,
    pub message: String,
    pub train_rows: usize,
    /// The training relation's Delta version read.
    pub training_version: Option<i64>,
}

/// Train `node`'s model and record it (see the module doc).
pub(crate) async fn train_node(
    engine: &Engine,
    meta: Option<&MetaStore>,
    run_id: &str,
    node: &Node,
) -> Result<TrainOutcome, TrainError> {
    let spec = node
        .ml_model
        .as_deref()
        .ok_or_else(|| TrainError::NotAnMlModel {
            unique_id: node.unique_id.clone(),
        })?;
    let at = ModelAt::of(node);
    let meta = meta.ok_or_else(|| {
        at.problem("training needs the metadata store, which holds the model registry")
    })?;
    // Before any work: an alias the registry would refuse fails now, not after the fit.
    let alias = spec.promote_to.as_deref().unwrap_or(DEFAULT_ALIAS);
    check_alias_name(alias).map_err(|source| TrainError::Alias {
        at: at.clone(),
        source,
    })?;
    let data = read_relation(engine, &spec.training, None)
        .await
        .map_err(|source| TrainError::ReadTraining {
            at: at.clone(),
            relation: spec.training.to_string(),
            source: Box::new(source),
        })?;
    let (spec_owned, at_owned) = (spec.clone(), at.clone());
    let schema = data.schema.clone();
    let batches = data.batches;
    let trained = tokio::task::spawn_blocking(move || {
        fit_from_spec(&spec_owned, &schema, &batches, &at_owned)
    })
    .await
    .map_err(|source| TrainError::Panicked {
        name: node.name.clone(),
        source,
    })??;
    let (passed, verdict) = check_gate(spec, &trained.metrics, &at)?;

    let versions = meta.model_versions(&node.name).await?;
    // The same bytes (a rebuild that changed nothing the model sees) are the version already
    // recorded, not a new one; that version still names the table version it learned from,
    // which time travel keeps readable.
    if let Some(same) = versions
        .iter()
        .rev()
        .find(|v| v.trained.artifact_sha256 == trained.sha256)
    {
        let mut message = format!("unchanged: same model as version {}", same.version);
        let same_passed = same.trained.status.passed();
        if passed && same_passed && !same.aliases.iter().any(|a| a == alias) {
            meta.set_alias(&node.name, alias, Some(same.version), run_id)
                .await?;
            message.push_str(&format!(", now {alias}"));
        }
        return Ok(TrainOutcome {
            version: same.version,
            passed: same_passed,
            message,
            train_rows: trained.train_rows,
            training_version: data.version,
        });
    }

    let artifact_path = store_artifact(
        engine,
        &node.name,
        &trained.sha256,
        trained.bytes.clone(),
        Some(&trained.evaluation),
    )
    .await?;

    let feature_schema: Vec<serde_json::Value> = trained
        .model
        .pipeline
        .input_columns()
        .iter()
        .map(|c| {
            let t = data
                .schema
                .field_with_name(c)
                .map(|f| f.data_type().to_string())
                .unwrap_or_default();
            serde_json::json!({"name": c, "type": t})
        })
        .collect();
    // The declaration as recorded names the alias it promoted to, the default included.
    let recorded = MlModelSpec {
        promote_to: Some(alias.to_string()),
        ..spec.clone()
    };
    let version = meta
        .register_model_version(&NewModelVersion {
            name: node.name.clone(),
            trained: TrainingRecord {
                run_id: Some(run_id.to_string()),
                status: ModelStatus::from_gate(passed),
                gate_message: (!verdict.is_empty()).then(|| verdict.clone()),
                task: spec.task.clone(),
                algorithm: spec.algorithm.clone(),
                spec_json: serde_json::to_string(&recorded).unwrap_or_default(),
                params_json: serde_json::to_string(&trained.params).unwrap_or_default(),
                metrics: trained.metrics.clone(),
                feature_schema_json: serde_json::to_string(&feature_schema).unwrap_or_default(),
                artifact_path,
                artifact_sha256: trained.sha256.clone(),
                training_relation: spec.training.to_string(),
                training_version: data.version,
                train_rows: trained.train_rows as i64,
                test_rows: trained.test_rows as i64,
            },
            trials: trained.trials.clone(),
        })
        .await?;
    let shown: Vec<String> = trained
        .metrics
        .iter()
        .filter(|(n, _)| spec.metrics.is_empty() || spec.metrics.contains(n))
        .map(|(n, v)| format!("{n} {v:.4}"))
        .collect();
    let message = if passed {
        meta.set_alias(&node.name, alias, Some(version), run_id)
            .await?;
        format!(
            "version {version} → {alias} ({})",
            if verdict.is_empty() {
                shown.join(", ")
            } else {
                verdict
            }
        )
    } else {
        let current = meta.resolve_alias(&node.name, alias).await?;
        format!(
            "version {version} not promoted: gate failed ({verdict}); {alias} {}",
            match current {
                Some(v) => format!("stays at version {v}"),
                None => "has no version".into(),
            }
        )
    };
    Ok(TrainOutcome {
        version,
        passed,
        message,
        train_rows: trained.train_rows,
        training_version: data.version,
    })
}

/// The outcome of `lakeforge models reproduce`.
pub struct Reproduction {
    pub version: ModelVersion,
    pub recorded_sha256: String,
    pub file_sha256: Option<String>,
    pub reproduced_sha256: String,
    pub identical: bool,
}

/// Train version `version` of `name` again from its recorded declaration and the training
/// table at its recorded Delta version, and compare the bytes with the recorded artifact.
pub async fn reproduce(
    engine: &Engine,
    meta: &MetaStore,
    name: &str,
    version: i64,
) -> Result<Reproduction, TrainError> {
    let v = meta.require_version(name, version).await?;
    let spec: MlModelSpec =
        serde_json::from_str(&v.trained.spec_json).map_err(|source| TrainError::RecordedSpec {
            name: name.into(),
            version,
            source,
        })?;
    let Some(at_version) = v.trained.training_version else {
        return Err(TrainError::NotDelta {
            name: name.into(),
            version,
            relation: v.trained.training_relation.clone(),
        });
    };
    let data = read_relation(engine, &spec.training, Some(at_version))
        .await
        .map_err(|source| TrainError::ReadAtVersion {
            relation: spec.training.to_string(),
            version: at_version,
            source: Box::new(source),
        })?;
    let (at, schema, batches) = (
        ModelAt::new(name, "registry"),
        data.schema.clone(),
        data.batches,
    );
    let trained = tokio::task::spawn_blocking(move || fit_from_spec(&spec, &schema, &batches, &at))
        .await
        .map_err(|source| TrainError::Panicked {
            name: name.into(),
            source,
        })??;
    let recorded = &v.trained.artifact_sha256;
    let file_sha256 = engine
        .lake()
        .get_file(&v.trained.artifact_path)
        .await
        .ok()
        .flatten()
        .map(|b| format!("{:x}", Sha256::digest(&b)));
    let identical =
        trained.sha256 == *recorded && file_sha256.as_deref() == Some(recorded.as_str());
    Ok(Reproduction {
        recorded_sha256: recorded.clone(),
        file_sha256,
        reproduced_sha256: trained.sha256,
        identical,
        version: v,
    })
}

/// Resolve a model reference (`name`, `name@alias`, `name@3`) to a recorded version.
pub async fn resolve_model(meta: &MetaStore, reference: &str) -> Result<ModelVersion, TrainError> {
    let (name, selector) = parse_model_ref(reference);
    let selector = selector.unwrap_or(DEFAULT_ALIAS);
    let version = match selector.parse::<i64>() {
        Ok(v) => v,
        Err(_) => meta
            .resolve_alias(name, selector)
            .await?
            .ok_or_else(|| TrainError::NoAlias {
                name: name.into(),
                alias: selector.into(),
            })?,
    };
    Ok(meta.require_version(name, version).await?)
}

/// Load into the engine every model `sql` scores with (`predict('ref', ...)`), resolving
/// aliases now; returns (reference, name, version) for each, for lineage.
pub async fn load_scoring_models(
    engine: &Engine,
    meta: Option<&MetaStore>,
    sql: &str,
) -> Result<Vec<(String, String, i64)>, TrainError> {
    let references = predict_references(sql);
    if references.is_empty() {
        return Ok(Vec::new());
    }
    let meta = meta.ok_or(TrainError::PredictNeedsStore)?;
    let mut loaded = Vec::new();
    for reference in references {
        let v = resolve_model(meta, &reference).await?;
        let cached = engine.scoring_models().get(&reference);
        if cached.as_ref().is_none_or(|c| c.version != v.version) {
            let model = load_version(engine, &v).await?;
            engine.scoring_models().insert(
                &reference,
                Arc::new(LoadedModel {
                    name: v.name.clone(),
                    version: v.version,
                    model,
                }),
            );
        }
        loaded.push((reference, v.name.clone(), v.version));
    }
    Ok(loaded)
}

/// The model file of a registered version, read from the lake.
pub async fn load_version(engine: &Engine, v: &ModelVersion) -> Result<Model, TrainError> {
    let path = &v.trained.artifact_path;
    let location = engine.lake().file_location(path);
    let Some(bytes) = engine.lake().get_file(path).await? else {
        return Err(TrainError::MissingFile {
            name: v.name.clone(),
            version: v.version,
            location,
        });
    };
    Model::from_bytes(&bytes).map_err(|source| TrainError::LoadModel {
        name: v.name.clone(),
        version: v.version,
        location,
        source: Box::new(source),
    })
}

/// `predict('name', ...)` → `predict('name@alias', ...)` wherever the reference names no
/// alias or version of its own.
pub fn pin_predict_alias(sql: &str, alias: &str) -> String {
    static UNPINNED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        lakeforge_project::literal_regex(r#"(?i)(\bpredict\s*\(\s*')([^'@]+)'"#)
    });
    UNPINNED
        .replace_all(sql, |c: &regex::Captures| {
            format!("{}{}@{alias}'", &c[1], &c[2])
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_model_and_its_file() {
        let at = ModelAt::new("churn", "models/ml.yml");
        assert_eq!(
            at.problem("`split: {strategy: stratified}` needs `target:`")
                .to_string(),
            "models/ml.yml: ml model `churn`: `split: {strategy: stratified}` needs `target:`"
        );
        // `promote_to: "7"` would be read back as version 7: refused before any training.
        let refused = TrainError::Alias {
            at,
            source: check_alias_name("7").unwrap_err(),
        };
        assert_eq!(
            refused.to_string(),
            "models/ml.yml: ml model `churn`: alias `7` is not a valid alias name (it is a number, and `model@7` reads as version 7, never as an alias)"
        );
    }

    #[test]
    fn pins_the_alias_of_unpinned_references_only() {
        let sql =
            "select predict('churn', a), PREDICT( 'churn@3', a), predict('value@prod', b) from t";
        assert_eq!(
            pin_predict_alias(sql, "staging"),
            "select predict('churn@staging', a), PREDICT( 'churn@3', a), predict('value@prod', b) from t"
        );
        assert_eq!(
            predict_references(&pin_predict_alias(sql, "staging")),
            vec!["churn@staging", "churn@3", "value@prod"]
        );
    }
}
