//! A registered version's report data: the held-out labels and predictions its training node
//! stored beside the artifact (lakeforge-ml's [`Evaluation`], `evaluation.json`) made into
//! [`ReportData`] with the registry's metrics, parameters and provenance. The one place this
//! is decided, for every reader of the registry that draws: `lakeforge models show --report`
//! (the whole page) and the web UI (one figure at a time).

use std::collections::BTreeMap;

use lakeforge_meta::{ModelVersion, TrialRecord};
use lakeforge_ml::report::Evaluation;
pub use lakeforge_ml::report::evaluation_path;
use lakeforge_ml::{MlError, ReportData, ReportOptions, Task};

/// Why a stored evaluation could not be made into report data; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum StoredReportError {
    #[error("{path} is not an evaluation Lakeforge wrote")]
    NotAnEvaluation {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: unknown task `{task}`")]
    UnknownTask { path: String, task: String },
    #[error("{path}: the held-out predictions do not fit the model's task")]
    Predictions {
        path: String,
        #[source]
        source: MlError,
    },
}

/// The report of version `v` from the text of its evaluation file (read from `path`, which
/// messages name) and its tuning `trials`.
pub fn report_data(
    v: &ModelVersion,
    trials: &[TrialRecord],
    evaluation: &str,
    path: &str,
) -> Result<ReportData, StoredReportError> {
    let eval: Evaluation =
        serde_json::from_str(evaluation).map_err(|source| StoredReportError::NotAnEvaluation {
            path: path.to_string(),
            source,
        })?;
    let (task, _) = Task::parse(&eval.task).ok_or_else(|| StoredReportError::UnknownTask {
        path: path.to_string(),
        task: eval.task.clone(),
    })?;
    let mut report = if task == Task::Clustering {
        ReportData {
            task: eval.task.clone(),
            ..ReportData::default()
        }
    } else {
        ReportData::from_predictions(
            task,
            &eval.classes,
            &eval.labels,
            &eval.predictions,
            &ReportOptions::default(),
        )
        .map_err(|source| StoredReportError::Predictions {
            path: path.to_string(),
            source,
        })?
    }
    .named(&v.name, v.version.to_string());
    // The registry's numbers are the ones `models show` prints; keep the report in step.
    report.metrics = v.trained.metrics.clone();
    report.confusion = eval.confusion.or(report.confusion);
    report.feature_importance = eval.importance;
    let params: BTreeMap<String, String> =
        serde_json::from_str(&v.trained.params_json).unwrap_or_default();
    report.params = params.into_iter().collect();
    report.training_info = training_info(v, trials);
    Ok(report)
}

/// The provenance lines: what the version learned from, when and by which run, its gate,
/// aliases, artifact and tuning.
fn training_info(v: &ModelVersion, trials: &[TrialRecord]) -> Vec<String> {
    let t = &v.trained;
    let mut info = vec![
        format!(
            "trained on {}{} ({} rows; {} held out for these metrics)",
            t.training_relation,
            t.training_version
                .map(|x| format!(" at Delta version {x}"))
                .unwrap_or_default(),
            t.train_rows,
            t.test_rows
        ),
        format!(
            "trained {} by run {}",
            v.created_at,
            t.run_id.as_deref().unwrap_or("-")
        ),
        format!(
            "quality gate: {}{}",
            t.status,
            t.gate_message
                .as_ref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ),
        format!(
            "aliases: {}",
            if v.aliases.is_empty() {
                "none".to_string()
            } else {
                v.aliases.join(", ")
            }
        ),
        format!(
            "artifact {} (sha256 {})",
            t.artifact_path, t.artifact_sha256
        ),
    ];
    if !trials.is_empty() {
        info.push(format!("tuned over {} trials", trials.len()));
    }
    info
}

#[cfg(test)]
mod tests {
    use lakeforge_meta::{ModelStatus, TrainingRecord};

    use super::*;
    use crate::charts::Figure;

    fn version(task: &str) -> ModelVersion {
        ModelVersion {
            name: "churn".into(),
            version: 2,
            created_at: "2026-01-01T00:00:00.000000Z".into(),
            trained: TrainingRecord {
                status: ModelStatus::Passed,
                task: task.into(),
                params_json: r#"{"num_leaves":"31"}"#.into(),
                metrics: vec![("auc".into(), 0.75)],
                training_relation: "main.features".into(),
                training_version: Some(4),
                train_rows: 80,
                test_rows: 6,
                ..TrainingRecord::default()
            },
            aliases: vec!["production".into()],
        }
    }

    fn binary_evaluation() -> String {
        serde_json::to_string(&Evaluation {
            task: "binary".into(),
            classes: vec!["no".into(), "yes".into()],
            labels: vec![0.0, 0.0, 1.0, 1.0, 1.0, 0.0],
            predictions: vec![0.1, 0.4, 0.35, 0.8, 0.9, 0.7],
            metrics: vec![("auc".into(), 0.7)],
            importance: vec![("tenure".into(), 3.0)],
            confusion: None,
        })
        .unwrap()
    }

    #[test]
    fn a_binary_evaluation_has_curves_and_the_registry_s_metrics() {
        let r = report_data(&version("binary"), &[], &binary_evaluation(), "e.json").unwrap();
        assert_eq!((r.model_name.as_str(), r.version.as_str()), ("churn", "2"));
        assert_eq!(r.metrics, vec![("auc".to_string(), 0.75)]);
        assert_eq!(r.params, vec![("num_leaves".to_string(), "31".to_string())]);
        assert!(r.training_info[0].contains("main.features at Delta version 4"));
        assert!(r.training_info[3].contains("production"));
        assert!(r.confusion.is_some());
        for f in Figure::for_task(&r.task) {
            assert!(f.draw(&r).is_some(), "{f:?}");
        }
    }

    #[test]
    fn what_is_not_an_evaluation_names_the_file() {
        let v = version("binary");
        let e = report_data(&v, &[], "{", "lake/e.json").unwrap_err();
        assert_eq!(
            e.to_string(),
            "lake/e.json is not an evaluation Lakeforge wrote"
        );
        let unknown = binary_evaluation().replace("\"binary\"", "\"ranking\"");
        let e = report_data(&v, &[], &unknown, "e.json").unwrap_err();
        assert_eq!(e.to_string(), "e.json: unknown task `ranking`");
        let short = binary_evaluation().replace("[0.1,0.4,", "[");
        assert!(matches!(
            report_data(&v, &[], &short, "e.json"),
            Err(StoredReportError::Predictions { .. })
        ));
    }

    #[test]
    fn clustering_has_no_figures() {
        let eval = r#"{"task":"clustering","classes":[],"labels":[],"predictions":[],"metrics":[],"importance":[],"confusion":null}"#;
        let r = report_data(&version("clustering"), &[], eval, "e.json").unwrap();
        assert!(Figure::for_task(&r.task).is_empty());
        assert!(r.roc.is_none());
    }
}
