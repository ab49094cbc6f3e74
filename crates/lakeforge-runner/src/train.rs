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

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use lakeforge_engine::{Engine, LoadedModel, read_relation};
use lakeforge_meta::{MetaStore, ModelVersion, NewModelVersion, TrialRecord};
use lakeforge_ml::{
    Algorithm, FitSpec, ImportanceType, Metric, Model, SearchSpace, SplitStrategy, Task,
    TuneOptions, TuneStrategy,
};
use lakeforge_project::ml_model::{parse_model_ref, predict_references};
use lakeforge_project::{MlModelSpec, Node, SplitSpec};
use serde::{Deserialize, Serialize};
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

/// Held-out labels and predictions, kept beside the artifact for reports.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Evaluation {
    pub task: String,
    pub classes: Vec<String>,
    pub labels: Vec<f64>,
    pub predictions: Vec<f64>,
    pub metrics: Vec<(String, f64)>,
    pub importance: Vec<(String, f64)>,
    pub confusion: Option<(Vec<String>, Vec<Vec<usize>>)>,
}

/// Where a declaration goes wrong, named for the user.
fn at(node_name: &str, path: &str, message: impl std::fmt::Display) -> String {
    format!("{path}: ml model `{node_name}`: {message}")
}

/// Check the declaration against the training relation's columns, before any work.
fn check_columns(
    spec: &MlModelSpec,
    schema: &SchemaRef,
    name: &str,
    path: &str,
) -> Result<(), String> {
    let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let missing = |what: &str, c: &str| {
        at(
            name,
            path,
            format!(
                "{what} `{c}` is not a column of {} (its columns: {})\nhint: fix the name in the ml model's YAML, or add the column to the training model",
                spec.training,
                columns.join(", ")
            ),
        )
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
fn fit_spec(spec: &MlModelSpec) -> Result<FitSpec, String> {
    let (task, implied) =
        Task::parse(&spec.task).ok_or_else(|| format!("unknown task `{}`", spec.task))?;
    let algorithm = Algorithm::parse(&spec.algorithm)
        .ok_or_else(|| format!("unknown algorithm `{}`", spec.algorithm))?;
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
    name: &str,
    path: &str,
) -> Result<Trained, String> {
    let err = |m: String| at(name, path, m);
    check_columns(spec, schema, name, path)?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if rows < 2 {
        return Err(err(format!(
            "{} has {rows} row{}; at least 2 are needed to train and hold out a test split",
            spec.training,
            if rows == 1 { "" } else { "s" }
        )));
    }
    let mut fit = fit_spec(spec).map_err(&err)?;
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
                return Err(err("`split: {strategy: stratified}` needs `target:`".into()));
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
    let (train, test) =
        lakeforge_ml::split_batches(batches, &split).map_err(|e| err(e.to_string()))?;

    let mut trials = Vec::new();
    if let Some(t) = &spec.tuning {
        let decls: Vec<String> = t.space.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let space = SearchSpace::parse(&decls).map_err(|e| err(format!("tuning.space: {e}")))?;
        let metric = match &t.metric {
            Some(m) => Some(Metric::parse(m).ok_or_else(|| {
                err(format!(
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
            .map_err(|e| err(format!("tuning: {e}")))?;
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

    let model = lakeforge_ml::fit(std::slice::from_ref(&train), None, &fit)
        .map_err(|e| err(e.to_string()))?;
    let report = model
        .evaluate(std::slice::from_ref(&test))
        .map_err(|e| err(format!("evaluating on the held-out rows: {e}")))?;
    let (labels, predictions) = if model.meta.task == Task::Clustering {
        (Vec::new(), Vec::new())
    } else {
        model
            .scored_labels(std::slice::from_ref(&test))
            .map_err(|e| err(e.to_string()))?
    };
    let bytes = model.to_bytes().map_err(|e| err(e.to_string()))?;
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
pub fn check_gate(spec: &MlModelSpec, metrics: &[(String, f64)]) -> Result<(bool, String), String> {
    let mut parts = Vec::new();
    let mut passed = true;
    for g in &spec.gate {
        let Some(value) = metrics
            .iter()
            .find(|(n, _)| *n == g.metric)
            .map(|(_, v)| *v)
        else {
            return Err(format!(
                "gate `{g}` names metric `{}`, which this model does not report (it reports: {})",
                g.metric,
                metrics
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
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
) -> Result<TrainOutcome, String> {
    let spec = node
        .ml_model
        .as_deref()
        .ok_or_else(|| format!("{}: not an ml model", node.unique_id))?;
    let meta = meta.ok_or_else(|| {
        at(
            &node.name,
            &node.path,
            "training needs the metadata store, which holds the model registry",
        )
    })?;
    let data = read_relation(engine, &spec.training, None)
        .await
        .map_err(|e| {
            at(
                &node.name,
                &node.path,
                format!("reading {}: {e}", spec.training),
            )
        })?;
    let (spec_owned, name, path) = (spec.clone(), node.name.clone(), node.path.clone());
    let schema = data.schema.clone();
    let batches = data.batches;
    let trained = tokio::task::spawn_blocking(move || {
        fit_from_spec(&spec_owned, &schema, &batches, &name, &path)
    })
    .await
    .map_err(|e| format!("training {}: {e}", node.name))??;
    let (passed, verdict) =
        check_gate(spec, &trained.metrics).map_err(|m| at(&node.name, &node.path, m))?;

    let versions = meta
        .model_versions(&node.name)
        .await
        .map_err(|e| e.to_string())?;
    // The same bytes (a rebuild that changed nothing the model sees) are the version already
    // recorded, not a new one; that version still names the table version it learned from,
    // which time travel keeps readable.
    if let Some(same) = versions
        .iter()
        .rev()
        .find(|v| v.artifact_sha256 == trained.sha256)
    {
        let mut message = format!("unchanged: same model as version {}", same.version);
        if passed && same.status == "passed" && !same.aliases.contains(&spec.promote_to) {
            meta.set_alias(&node.name, &spec.promote_to, Some(same.version), run_id)
                .await
                .map_err(|e| e.to_string())?;
            message.push_str(&format!(", now {}", spec.promote_to));
        }
        return Ok(TrainOutcome {
            version: same.version,
            passed: same.status == "passed",
            message,
            train_rows: trained.train_rows,
            training_version: data.version,
        });
    }

    // Both files are whole when they appear (a rename on disk, one PUT in object storage).
    let dir = artifact_dir(&node.name, &trained.sha256);
    let lake = engine.lake();
    lake.put_file(&format!("{dir}/model.lfm"), trained.bytes.clone())
        .await
        .map_err(|e| e.to_string())?;
    let evaluation = serde_json::to_vec(&trained.evaluation).unwrap_or_default();
    lake.put_file(&format!("{dir}/evaluation.json"), evaluation)
        .await
        .map_err(|e| e.to_string())?;

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
    let version = meta
        .register_model_version(&NewModelVersion {
            name: node.name.clone(),
            run_id: Some(run_id.to_string()),
            passed,
            gate_message: (!verdict.is_empty()).then(|| verdict.clone()),
            task: spec.task.clone(),
            algorithm: spec.algorithm.clone(),
            spec_json: serde_json::to_string(spec).unwrap_or_default(),
            params_json: serde_json::to_string(&trained.params).unwrap_or_default(),
            metrics: trained.metrics.clone(),
            feature_schema_json: serde_json::to_string(&feature_schema).unwrap_or_default(),
            artifact_path: format!("{dir}/model.lfm"),
            artifact_sha256: trained.sha256.clone(),
            training_relation: spec.training.to_string(),
            training_version: data.version,
            train_rows: trained.train_rows as i64,
            test_rows: trained.test_rows as i64,
            trials: trained.trials.clone(),
        })
        .await
        .map_err(|e| e.to_string())?;
    let shown: Vec<String> = trained
        .metrics
        .iter()
        .filter(|(n, _)| spec.metrics.is_empty() || spec.metrics.contains(n))
        .map(|(n, v)| format!("{n} {v:.4}"))
        .collect();
    let message = if passed {
        meta.set_alias(&node.name, &spec.promote_to, Some(version), run_id)
            .await
            .map_err(|e| e.to_string())?;
        format!(
            "version {version} → {} ({})",
            spec.promote_to,
            if verdict.is_empty() {
                shown.join(", ")
            } else {
                verdict
            }
        )
    } else {
        let current = meta
            .resolve_alias(&node.name, &spec.promote_to)
            .await
            .map_err(|e| e.to_string())?;
        format!(
            "version {version} not promoted: gate failed ({verdict}); {} {}",
            spec.promote_to,
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
) -> Result<Reproduction, String> {
    let v = meta
        .model_version(name, version)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!("model `{name}` has no version {version}\nhint: `lakeforge models show {name}` lists its versions")
        })?;
    let spec: MlModelSpec = serde_json::from_str(&v.spec_json).map_err(|e| {
        format!("the recorded declaration of {name} version {version} cannot be read: {e}")
    })?;
    let Some(at_version) = v.training_version else {
        return Err(format!(
            "{name} version {version} was trained on {}, which was not a Delta table, so its rows cannot be read again as they were",
            v.training_relation
        ));
    };
    let data = read_relation(engine, &spec.training, Some(at_version))
        .await
        .map_err(|e| format!("reading {} at version {at_version}: {e}", spec.training))?;
    let (n, schema, batches) = (name.to_string(), data.schema.clone(), data.batches);
    let trained = tokio::task::spawn_blocking(move || {
        fit_from_spec(&spec, &schema, &batches, &n, "registry")
    })
    .await
    .map_err(|e| e.to_string())??;
    let file_sha256 = engine
        .lake()
        .get_file(&v.artifact_path)
        .await
        .ok()
        .flatten()
        .map(|b| format!("{:x}", Sha256::digest(&b)));
    let identical = trained.sha256 == v.artifact_sha256
        && file_sha256.as_deref() == Some(v.artifact_sha256.as_str());
    Ok(Reproduction {
        recorded_sha256: v.artifact_sha256.clone(),
        file_sha256,
        reproduced_sha256: trained.sha256,
        identical,
        version: v,
    })
}

/// Resolve a model reference (`name`, `name@alias`, `name@3`) to a recorded version.
pub async fn resolve_model(meta: &MetaStore, reference: &str) -> Result<ModelVersion, String> {
    let (name, selector) = parse_model_ref(reference);
    let selector = selector.unwrap_or("production");
    let version = match selector.parse::<i64>() {
        Ok(v) => v,
        Err(_) => meta
            .resolve_alias(name, selector)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!(
                    "model `{name}` has no `{selector}` alias\nhint: train it with `lakeforge build -s {name}`, or point the alias at a version with `lakeforge models promote {name} VERSION --alias {selector}`"
                )
            })?,
    };
    meta.model_version(name, version)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!("model `{name}` has no version {version}\nhint: `lakeforge models show {name}` lists its versions")
        })
}

/// Load into the engine every model `sql` scores with (`predict('ref', ...)`), resolving
/// aliases now; returns (reference, name, version) for each, for lineage.
pub async fn load_scoring_models(
    engine: &Engine,
    meta: Option<&MetaStore>,
    sql: &str,
) -> Result<Vec<(String, String, i64)>, String> {
    let references = predict_references(sql);
    if references.is_empty() {
        return Ok(Vec::new());
    }
    let meta = meta.ok_or("predict() needs the metadata store, which holds the model registry")?;
    let mut loaded = Vec::new();
    for reference in references {
        let v = resolve_model(meta, &reference).await?;
        let cached = engine.scoring_models().get(&reference);
        if cached.as_ref().is_none_or(|c| c.version != v.version) {
            let location = engine.lake().file_location(&v.artifact_path);
            let bytes = engine
                .lake()
                .get_file(&v.artifact_path)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| {
                    format!(
                        "model `{}` version {}: its file {location} is missing\nhint: retrain it with `lakeforge build -s {}`",
                        v.name, v.version, v.name
                    )
                })?;
            let model = Model::from_bytes(&bytes).map_err(|e| {
                format!(
                    "loading model `{}` version {} from {location}: {e}",
                    v.name, v.version
                )
            })?;
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

/// `predict('name', ...)` → `predict('name@alias', ...)` wherever the reference names no
/// alias or version of its own.
pub fn pin_predict_alias(sql: &str, alias: &str) -> String {
    static UNPINNED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"(?i)(\bpredict\s*\(\s*')([^'@]+)'"#).expect("valid regex")
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
